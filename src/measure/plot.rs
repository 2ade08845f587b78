//! A line plot as RGBA pixels, for `bfn-train quality`'s PNG: one line per sampler of a distance against the
//! steps, on a logarithmic step axis. Drawn by hand (grid, lines, dots) since the trainer has no plotting crate
//! and needs none but this; the lines take the colours of [`SERIES_COLOURS`] in order, which the table printed
//! beside the plot names.

/// Line colours, in series order: blue, orange, green, red, purple, brown.
pub const SERIES_COLOURS: [[u8; 4]; 6] = [
    [31, 119, 180, 255],
    [255, 127, 14, 255],
    [44, 160, 44, 255],
    [214, 39, 40, 255],
    [148, 103, 189, 255],
    [140, 86, 75, 255],
];

/// Width and height of the plot in pixels.
pub const PLOT_SIZE: (usize, usize) = (640, 400);
/// Empty pixels around the axes.
const MARGIN: usize = 24;

/// `series` of (steps, distance) points as a `PLOT_SIZE` RGBA image: x is ln(steps) from the fewest steps to the
/// most, y the distance from 0 to the largest; a grid line at each step count and each fifth of the y range.
pub fn line_plot(series: &[Vec<(u32, f64)>]) -> Vec<u8> {
    let (width, height) = PLOT_SIZE;
    let mut rgba = [255u8; 4].repeat(width * height);
    let points = series.iter().flatten();
    let finite = || points.clone().filter(|(_, y)| y.is_finite());
    let (Some(low), Some(high)) = (
        finite().map(|(x, _)| *x).min(),
        finite().map(|(x, _)| *x).max(),
    ) else {
        return rgba;
    };
    let top = finite().map(|(_, y)| *y).fold(f64::MIN_POSITIVE, f64::max);
    let span = (f64::from(high) / f64::from(low))
        .ln()
        .max(f64::MIN_POSITIVE);
    let (inner_w, inner_h) = ((width - 2 * MARGIN) as f64, (height - 2 * MARGIN) as f64);
    let at = |steps: u32, y: f64| -> (f64, f64) {
        let x = (f64::from(steps) / f64::from(low)).ln() / span;
        (
            MARGIN as f64 + x * inner_w,
            (height - MARGIN) as f64 - (y / top).clamp(0.0, 1.0) * inner_h,
        )
    };
    let mut put = |x: f64, y: f64, colour: [u8; 4]| {
        let (x, y) = (x.round(), y.round());
        if x >= 0.0 && y >= 0.0 && (x as usize) < width && (y as usize) < height {
            let i = (y as usize * width + x as usize) * 4;
            rgba[i..i + 4].copy_from_slice(&colour);
        }
    };
    let grey = [210, 210, 210, 255];
    for steps in finite().map(|(x, _)| *x) {
        let (x, _) = at(steps, 0.0);
        (MARGIN..height - MARGIN).for_each(|y| put(x, y as f64, grey));
    }
    for fifth in 0..=5 {
        let (_, y) = at(low, top * f64::from(fifth) / 5.0);
        (MARGIN..width - MARGIN).for_each(|x| put(x as f64, y, grey));
    }
    for (line, colour) in series.iter().zip(SERIES_COLOURS.iter().cycle()) {
        let line: Vec<(f64, f64)> = line
            .iter()
            .filter(|(_, y)| y.is_finite())
            .map(|&(x, y)| at(x, y))
            .collect();
        for pair in line.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let length = (x1 - x0).hypot(y1 - y0).ceil().max(1.0) as usize;
            for k in 0..=length {
                let f = k as f64 / length as f64;
                for (dx, dy) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0)] {
                    put(x0 + f * (x1 - x0) + dx, y0 + f * (y1 - y0) + dy, *colour);
                }
            }
        }
        for &(x, y) in &line {
            for dy in -3..=3 {
                for dx in -3..=3 {
                    put(x + f64::from(dx), y + f64::from(dy), *colour);
                }
            }
        }
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(rgba: &[u8], (x, y): (f64, f64)) -> [u8; 4] {
        let i = (y.round() as usize * PLOT_SIZE.0 + x.round() as usize) * 4;
        rgba[i..i + 4].try_into().unwrap()
    }

    #[test]
    fn points_land_where_the_axes_put_them() {
        let series = vec![vec![(10, 1.0), (100, 0.5)], vec![(10, 0.0), (100, 0.25)]];
        let rgba = line_plot(&series);
        assert_eq!(rgba.len(), PLOT_SIZE.0 * PLOT_SIZE.1 * 4);
        let (right, bottom) = ((PLOT_SIZE.0 - MARGIN) as f64, (PLOT_SIZE.1 - MARGIN) as f64);
        let inner_h = (PLOT_SIZE.1 - 2 * MARGIN) as f64;
        // The first series' first point is the top left, its second the middle right.
        assert_eq!(
            pixel(&rgba, (MARGIN as f64, MARGIN as f64)),
            SERIES_COLOURS[0]
        );
        assert_eq!(
            pixel(&rgba, (right, bottom - inner_h / 2.0)),
            SERIES_COLOURS[0]
        );
        // The second series' points are the bottom left and a quarter up on the right.
        assert_eq!(pixel(&rgba, (MARGIN as f64, bottom)), SERIES_COLOURS[1]);
        assert_eq!(
            pixel(&rgba, (right, bottom - inner_h / 4.0)),
            SERIES_COLOURS[1]
        );
        assert_eq!(pixel(&rgba, (2.0, 2.0)), [255; 4], "the margin stays white");
    }
}
