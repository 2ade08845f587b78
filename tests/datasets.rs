#![cfg(feature = "train")]
//! The dataset loaders: the real sources give the shapes, values and splits the trainer relies on, and the
//! generic loaders read small files written here, with every error case typed and naming its cause.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bevy_bfn::train::dataset::{DataError, DataSpec, Dataset, Examples, Layout};
use bevy_bfn::train::datasets::{crop_origins, load};

/// A fresh, empty folder under the system's temp dir, unique to this test and this process.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_bfn_datasets_{}_{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn values(data: &Dataset) -> &[f32] {
    match &data.examples {
        Examples::Values(v) => v,
        Examples::Classes(_) => panic!("expected values"),
    }
}

fn classes(data: &Dataset) -> &[u32] {
    match &data.examples {
        Examples::Classes(c) => c,
        Examples::Values(_) => panic!("expected classes"),
    }
}

/// The bin centre of level k of K.
fn centre(k: u32, bins: u32) -> f32 {
    ((2 * k + 1) as f64 / bins as f64 - 1.0) as f32
}

/// Checks the conventions every dataset follows: the size of the examples, a test split that leaves a training
/// split, and classes below the legend's length or values in [−1, 1] (on bin centres when discretised).
fn check_conventions(data: &Dataset) {
    let expected = data.count * data.layout.variables();
    assert!(
        data.test_count >= 1 && data.test_count < data.count,
        "split {} of {}",
        data.test_count,
        data.count
    );
    match &data.examples {
        Examples::Classes(c) => {
            assert_eq!(c.len(), expected);
            assert!(data.legend.len() >= 2);
            assert!(c.iter().all(|&k| (k as usize) < data.legend.len()));
        }
        Examples::Values(v) => {
            assert_eq!(v.len(), expected);
            assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)));
            if let Some(bins) = data.bins {
                let levels: Vec<f32> = (0..bins).map(|k| centre(k, bins)).collect();
                assert!(
                    v.iter()
                        .all(|x| levels.iter().any(|l| (l - x).abs() < 1e-6)),
                    "not on bin centres"
                );
            }
        }
    }
    assert!(data.provenance.contains("kept"), "{}", data.provenance);
}

/// Decodes class sequences back to strings through the legend, padding cut.
fn decode(data: &Dataset) -> Vec<String> {
    classes(data)
        .chunks(data.layout.variables())
        .map(|e| {
            e.iter()
                .map(|&k| data.legend[k as usize].as_str())
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect()
}

fn expect_missing(spec: DataSpec, package: &str) {
    match load(&spec) {
        Err(e @ DataError::Missing { .. }) => assert!(e.to_string().contains(package), "{e}"),
        other => panic!("expected Missing, got {other:?}"),
    }
}

fn expect_setting(spec: DataSpec, setting: &str) {
    match load(&spec) {
        Err(DataError::Setting { setting: s, .. }) => assert_eq!(s, setting),
        other => panic!("expected a Setting error on {setting}, got {other:?}"),
    }
}

#[test]
fn digits_are_the_scikit_learn_file_in_file_order() {
    let data = load(&DataSpec::Digits).unwrap();
    assert_eq!(data.count, 1797);
    assert_eq!(
        data.layout,
        Layout {
            height: 8,
            width: 8,
            channels: 1
        }
    );
    assert_eq!(data.bins, Some(17));
    assert_eq!(data.test_count, 297);
    check_conventions(&data);

    let first = &values(&data)[..8];
    let expected: Vec<f32> = [0, 0, 5, 13, 9, 1, 0, 0]
        .iter()
        .map(|&k| centre(k, 17))
        .collect();
    assert_eq!(first, &expected[..]);

    // Every row, the held-out ones included, is the file's row in the file's order.
    let mut csv = String::new();
    flate2::read::GzDecoder::new(fs::File::open("assets/data/digits.csv.gz").unwrap())
        .read_to_string(&mut csv)
        .unwrap();
    for (row, example) in csv.lines().zip(values(&data).chunks(64)) {
        let pixels: Vec<f32> = row
            .split(',')
            .take(64)
            .map(|v| centre(v.parse().unwrap(), 17))
            .collect();
        assert_eq!(example, &pixels[..]);
    }
}

#[test]
fn names_are_lower_case_census_names() {
    let data = load(&DataSpec::Names {
        length: 8,
        dir: None,
    })
    .unwrap();
    check_conventions(&data);
    assert_eq!(data.legend.len(), 27);
    assert_eq!(data.legend[0], " ");
    assert_eq!(data.legend[1], "a");
    assert_eq!(
        data.layout,
        Layout {
            height: 1,
            width: 8,
            channels: 1
        }
    );

    let dir = std::process::Command::new("python3")
        .args([
            "-c",
            "import names, os; print(os.path.dirname(names.__file__))",
        ])
        .output()
        .unwrap();
    let dir = PathBuf::from(String::from_utf8(dir.stdout).unwrap().trim());
    let mut census = HashSet::new();
    for file in ["dist.male.first", "dist.female.first"] {
        for line in fs::read_to_string(dir.join(file)).unwrap().lines() {
            census.insert(line.split_whitespace().next().unwrap_or("").to_lowercase());
        }
    }
    let decoded = decode(&data);
    assert!(
        decoded.iter().all(|n| census.contains(n) && !n.is_empty()),
        "a name not in the census"
    );
    assert_eq!(
        decoded.iter().collect::<HashSet<_>>().len(),
        decoded.len(),
        "a name twice"
    );
    assert!(decoded.iter().any(|n| n == "mary") && decoded.iter().any(|n| n == "james"));
}

#[test]
fn words_are_lower_case_dictionary_words() {
    let data = load(&DataSpec::Words {
        length: 8,
        path: None,
    })
    .unwrap();
    check_conventions(&data);
    assert_eq!(data.legend.len(), 27);
    let dictionary: HashSet<String> = fs::read_to_string("/usr/share/dict/american-english")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let decoded = decode(&data);
    assert!(decoded.iter().all(|w| dictionary.contains(w)
        && w.len() <= 8
        && w.bytes().all(|b| b.is_ascii_lowercase())));
    assert!(decoded.iter().any(|w| w == "house"));
    assert!(
        !decoded.iter().any(|w| w == "aaron"),
        "proper nouns are left out"
    );

    expect_missing(
        DataSpec::Words {
            length: 8,
            path: Some("/nonexistent/words".into()),
        },
        "wamerican",
    );
}

#[test]
fn text_lines_use_the_characters_that_occur() {
    let dir = temp_dir("text");
    let path = dir.join("lines.txt");
    fs::write(
        &path,
        "hello\nworld\n\nthis line is far too long\nno-go!\nbye\n",
    )
    .unwrap();
    let spec = |length, test_fraction| DataSpec::TextLines {
        path: path.clone(),
        length,
        test_fraction,
    };

    let data = load(&spec(6, Some(0.25))).unwrap();
    check_conventions(&data);
    assert_eq!(data.count, 4);
    assert_eq!(data.test_count, 1);
    let legend: String = data.legend.concat();
    assert_eq!(legend, " !-bdeghlnorwy");
    let mut decoded = decode(&data);
    decoded.sort();
    assert_eq!(decoded, ["bye", "hello", "no-go!", "world"]);
    assert!(data.provenance.contains("2 skipped"), "{}", data.provenance);

    expect_setting(spec(0, None), "length");
    expect_setting(spec(6, Some(1.0)), "test_fraction");
    assert!(matches!(load(&spec(2, None)), Err(DataError::Empty { .. })));
    let missing = DataSpec::TextLines {
        path: dir.join("absent.txt"),
        length: 6,
        test_fraction: None,
    };
    assert!(matches!(load(&missing), Err(DataError::Missing { .. })));
}

#[test]
fn ascii_maps_are_centred_and_padded() {
    let dir = temp_dir("ascii");
    fs::write(dir.join("a.txt"), "##\n#.#\n").unwrap();
    fs::write(dir.join("b.txt"), "~~~~\n....\n~~~~\n....\n").unwrap();
    fs::write(dir.join("c.txt"), "#####\n").unwrap();
    fs::write(dir.join("notes.md"), "not a map").unwrap();
    let legend: Vec<String> = [" ", "#", ".", "~"].map(str::to_owned).to_vec();
    let spec = |legend: Vec<String>| DataSpec::AsciiMaps {
        path: dir.clone(),
        size: [4, 4],
        legend,
        test_fraction: None,
    };

    let data = load(&spec(legend.clone())).unwrap();
    check_conventions(&data);
    assert_eq!(data.count, 2, "the 5-wide map is skipped");
    assert_eq!(data.legend, legend);
    // "##" / "#.#" (ragged) is 2 × 3: one row of padding above, one below, one column on the right.
    #[rustfmt::skip]
    let a: [u32; 16] = [
        0, 0, 0, 0,
        1, 1, 0, 0,
        1, 2, 1, 0,
        0, 0, 0, 0,
    ];
    assert!(
        classes(&data).chunks(16).any(|e| e == a),
        "{:?}",
        classes(&data)
    );

    fs::write(dir.join("d.txt"), "##\n#@\n").unwrap();
    match load(&spec(legend.clone())) {
        Err(e @ DataError::Format { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("'@'")
                    && message.contains("d.txt")
                    && message.contains("line 2, column 2"),
                "{message}"
            );
        }
        other => panic!("expected a Format error, got {other:?}"),
    }
    fs::remove_file(dir.join("d.txt")).unwrap();

    expect_setting(spec(vec![" #".to_owned()]), "legend");
    expect_setting(
        spec(vec![" ".to_owned(), "#.".to_owned(), ".~".to_owned()]),
        "legend",
    );
    let too_small = DataSpec::AsciiMaps {
        path: dir.clone(),
        size: [1, 1],
        legend: legend.clone(),
        test_fraction: None,
    };
    assert!(matches!(load(&too_small), Err(DataError::Empty { .. })));
    let missing = DataSpec::AsciiMaps {
        path: dir.join("absent"),
        size: [4, 4],
        legend,
        test_fraction: None,
    };
    assert!(matches!(load(&missing), Err(DataError::Missing { .. })));
}

/// Writes an 8-bit PNG of `color` with `samples` (row-major, interleaved).
fn write_png(path: &Path, width: u32, height: u32, color: png::ColorType, samples: &[u8]) {
    let mut encoder = png::Encoder::new(fs::File::create(path).unwrap(), width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(samples).unwrap();
    writer.finish().unwrap();
}

#[test]
fn png_folder_keeps_images_of_the_size_asked() {
    let dir = temp_dir("png");
    // A 2 × 2 RGBA image, a 2 × 2 grey one, and a 3 × 3 RGB one that is the wrong size.
    let rgba = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 40];
    write_png(&dir.join("a.png"), 2, 2, png::ColorType::Rgba, &rgba);
    write_png(
        &dir.join("b.png"),
        2,
        2,
        png::ColorType::Grayscale,
        &[0, 85, 170, 255],
    );
    write_png(&dir.join("c.png"), 3, 3, png::ColorType::Rgb, &[7; 27]);
    let spec = |channels, bins, path: &Path| DataSpec::PngFolder {
        path: path.to_owned(),
        size: [2, 2],
        channels,
        bins,
        test_fraction: None,
    };

    let data = load(&spec(4, 256, &dir)).unwrap();
    check_conventions(&data);
    assert_eq!(data.count, 2);
    assert_eq!(
        data.layout,
        Layout {
            height: 2,
            width: 2,
            channels: 4
        }
    );
    assert!(data.provenance.contains("1 skipped"), "{}", data.provenance);
    let expected: Vec<f32> = rgba.iter().map(|&v| centre(u32::from(v), 256)).collect();
    assert!(values(&data).chunks(16).any(|e| e == expected));
    let grey: Vec<f32> = [0u32, 85, 170, 255]
        .iter()
        .flat_map(|&g| [g, g, g, 255])
        .map(|v| centre(v, 256))
        .collect();
    assert!(values(&data).chunks(16).any(|e| e == grey));

    // One channel on 4 levels: grey files keep their grey level, colour ones take the luminance.
    let data = load(&spec(1, 4, &dir)).unwrap();
    check_conventions(&data);
    let grey: Vec<f32> = [0, 1, 2, 3].map(|k| centre(k, 4)).to_vec();
    assert!(values(&data).chunks(4).any(|e| e == grey));
    // Luminances 76.2, 149.7, 29.1, 18.1 of 255 fall on levels 1, 2, 0, 0.
    let colour: Vec<f32> = [1, 2, 0, 0].map(|k| centre(k, 4)).to_vec();
    assert!(
        values(&data).chunks(4).any(|e| e == colour),
        "{:?}",
        values(&data)
    );

    expect_setting(spec(4, 1, &dir), "bins");
    expect_setting(spec(2, 16, &dir), "channels");
    expect_setting(
        DataSpec::PngFolder {
            path: dir.clone(),
            size: [0, 2],
            channels: 3,
            bins: 16,
            test_fraction: None,
        },
        "size",
    );
    assert!(matches!(
        load(&spec(3, 16, &dir.join("absent"))),
        Err(DataError::Missing { .. })
    ));

    let wrong = temp_dir("png_wrong_size");
    write_png(&wrong.join("big.png"), 3, 3, png::ColorType::Rgb, &[7; 27]);
    assert!(matches!(
        load(&spec(3, 16, &wrong)),
        Err(DataError::Empty { .. })
    ));
    fs::write(wrong.join("broken.png"), b"not a png").unwrap();
    match load(&spec(3, 16, &wrong)) {
        Err(e @ DataError::Format { .. }) => assert!(e.to_string().contains("broken.png"), "{e}"),
        other => panic!("expected a Format error, got {other:?}"),
    }
}

#[test]
fn crawl_maps_are_collapsed_vaults() {
    let small = load(&DataSpec::CrawlMaps {
        size: 16,
        dir: None,
        crops: false,
    })
    .unwrap();
    check_conventions(&small);
    assert_eq!(
        small.layout,
        Layout {
            height: 16,
            width: 16,
            channels: 1
        }
    );
    assert_eq!(small.legend.len(), 9);
    assert!(small.count > 1000, "{}", small.provenance);
    // Every map has something in it, and the padding is outside.
    assert!(
        classes(&small)
            .chunks(256)
            .all(|m| m.iter().any(|&k| k != 0))
    );
    // Every class occurs.
    let occurring: HashSet<u32> = classes(&small).iter().copied().collect();
    assert_eq!(occurring.len(), 9);

    let large = load(&DataSpec::CrawlMaps {
        size: 24,
        dir: None,
        crops: false,
    })
    .unwrap();
    assert!(large.count > small.count);
    assert_eq!(
        load(&DataSpec::CrawlMaps {
            size: 16,
            dir: None,
            crops: false,
        })
        .unwrap(),
        small,
        "not deterministic"
    );

    expect_missing(
        DataSpec::CrawlMaps {
            size: 16,
            dir: Some("/nonexistent/des".into()),
            crops: false,
        },
        "apt-get install crawl-common",
    );
    expect_setting(
        DataSpec::CrawlMaps {
            size: 0,
            dir: None,
            crops: false,
        },
        "size",
    );
}

/// With `crops`, the vaults larger than the map become crop sources, held out by vault: the maps and their
/// held-out split are exactly those without crops (a model's held-out score stays comparable), every source is
/// at least the map's size, and no held-out source is a training one.
#[test]
fn crawl_maps_with_crops_keep_the_split_and_add_the_larger_vaults() {
    let spec = |crops| DataSpec::CrawlMaps {
        size: 16,
        dir: None,
        crops,
    };
    let plain = load(&spec(false)).unwrap();
    let cropped = load(&spec(true)).unwrap();
    assert_eq!(cropped.examples, plain.examples, "the maps and their order");
    assert_eq!(cropped.test_count, plain.test_count);
    assert!(plain.crops.is_empty());
    // 2,105 vaults are larger than 16 × 16; a tenth of them held out.
    let sources = cropped.crops.len();
    assert!((1800..2000).contains(&sources), "{}", cropped.provenance);
    assert!(
        cropped.provenance.contains("held out"),
        "{}",
        cropped.provenance
    );
    for source in &cropped.crops {
        assert!(source.height >= 16 && source.width >= 16);
        let Examples::Classes(cells) = &source.cells else {
            panic!("crawl maps are classes")
        };
        assert_eq!(cells.len(), source.height * source.width);
        assert!(cells.iter().all(|&c| c < 9));
    }
    assert_eq!(cropped.train_draws(), cropped.train_count() + sources);
    // A window is the source's cells at its offset, row by row.
    let source = &cropped.crops[0];
    let Examples::Classes(cells) = &source.cells else {
        unreachable!()
    };
    let pixels = Layout {
        height: 16,
        width: 16,
        channels: 1,
    };
    let (y, x) = (source.height - 16, source.width - 16);
    let window = source.window(cells, pixels, (y, x));
    assert_eq!(window[0], cells[y * source.width + x]);
    assert_eq!(window[255], cells[(y + 15) * source.width + x + 15]);
    assert_eq!(load(&spec(true)).unwrap(), cropped, "not deterministic");
}

#[test]
fn crawl_tiles_are_discretised_rgba_sprites() {
    let data = load(&DataSpec::CrawlTiles {
        size: 16,
        bins: 16,
        dir: None,
    })
    .unwrap();
    check_conventions(&data);
    assert_eq!(
        data.layout,
        Layout {
            height: 16,
            width: 16,
            channels: 4
        }
    );
    assert_eq!(data.bins, Some(16));
    assert!(data.count > 500, "{}", data.provenance);
    // No tile is fully transparent (alpha at its lowest level everywhere).
    let transparent = centre(0, 16);
    assert!(
        values(&data)
            .chunks(1024)
            .all(|t| t.chunks(4).any(|p| p[3] != transparent))
    );

    expect_missing(
        DataSpec::CrawlTiles {
            size: 16,
            bins: 16,
            dir: Some("/nonexistent/tiles".into()),
        },
        "crawl-tiles-data",
    );
    expect_setting(
        DataSpec::CrawlTiles {
            size: 12,
            bins: 16,
            dir: None,
        },
        "size",
    );
    expect_setting(
        DataSpec::CrawlTiles {
            size: 16,
            bins: 1,
            dir: None,
        },
        "bins",
    );
}

#[test]
fn terrain_test_crops_are_disjoint_from_training_crops() {
    let data = load(&DataSpec::Terrain {
        size: 16,
        stride: 4,
        path: None,
    })
    .unwrap();
    check_conventions(&data);
    assert_eq!(
        data.layout,
        Layout {
            height: 16,
            width: 16,
            channels: 1
        }
    );
    assert_eq!(data.bins, None);

    let origins = crop_origins(344, 403, 16, 4).unwrap();
    assert_eq!(data.count, origins.train.len() + origins.test.len());
    assert_eq!(data.test_count, origins.test.len());
    assert!(
        origins
            .train
            .iter()
            .all(|&[r, c]| c + 16 <= origins.test_from && r + 16 <= 344)
    );
    assert!(
        origins
            .test
            .iter()
            .all(|&[r, c]| c >= origins.test_from && c + 16 <= 403 && r + 16 <= 344)
    );
    let share = (403 - origins.test_from) as f64 / 403.0;
    assert!((0.14..0.2).contains(&share), "{share}");

    // The whole model's extremes map to −1 and 1, and the normalisation maps back to whole metres; the first
    // crop starts at the array's first height, 483 m.
    let v = values(&data);
    assert!(v.contains(&-1.0) && v.contains(&1.0));
    let norm = data.normalisation.unwrap();
    let metres = |x: f32| x * norm.scale + norm.offset;
    assert!((metres(v[0]) - 483.0).abs() < 1e-3, "{}", metres(v[0]));
    assert!(
        v.iter()
            .take(4096)
            .all(|&x| (metres(x) - metres(x).round()).abs() < 1e-2)
    );

    expect_missing(
        DataSpec::Terrain {
            size: 16,
            stride: 4,
            path: Some("/nonexistent/dem.npz".into()),
        },
        "python-matplotlib-data",
    );
    expect_setting(
        DataSpec::Terrain {
            size: 16,
            stride: 0,
            path: None,
        },
        "stride",
    );
    expect_setting(
        DataSpec::Terrain {
            size: 300,
            stride: 4,
            path: None,
        },
        "size",
    );
}

/// Writes an `.npz` holding one scalar and one array with the given `.npy` header fields and data.
fn write_npz(path: &Path, descr: &str, fortran: bool, shape: (usize, usize), data: &[u8]) {
    let npy = |header: String, data: &[u8]| {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    };
    let python = |b: bool| if b { "True" } else { "False" };
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("dx.npy", options).unwrap();
    zip.write_all(&npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n".to_owned(),
        &1.0f64.to_le_bytes(),
    ))
    .unwrap();
    zip.start_file("heights.npy", options).unwrap();
    let header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}), }}\n",
        python(fortran),
        shape.0,
        shape.1
    );
    zip.write_all(&npy(header, data)).unwrap();
    zip.finish().unwrap();
}

#[test]
fn terrain_reads_npy_layouts_and_rejects_others() {
    let dir = temp_dir("npz");
    let (height, width) = (8, 20);
    // Height = 10·row + column, stored column by column (Fortran order) as little-endian f4.
    let mut data = Vec::new();
    for c in 0..width {
        for r in 0..height {
            data.extend(((10 * r + c) as f32).to_le_bytes());
        }
    }
    let path = dir.join("fortran.npz");
    write_npz(&path, "<f4", true, (height, width), &data);
    let loaded = load(&DataSpec::Terrain {
        size: 2,
        stride: 2,
        path: Some(path),
    })
    .unwrap();
    check_conventions(&loaded);
    let norm = loaded.normalisation.unwrap();
    let first: Vec<f32> = values(&loaded)[..4]
        .iter()
        .map(|&x| x * norm.scale + norm.offset)
        .collect();
    for (got, want) in first.iter().zip([0.0, 1.0, 10.0, 11.0]) {
        assert!((got - want).abs() < 1e-4, "{first:?}");
    }

    let path = dir.join("big_endian.npz");
    write_npz(
        &path,
        ">f8",
        false,
        (height, width),
        &vec![0; height * width * 8],
    );
    match load(&DataSpec::Terrain {
        size: 2,
        stride: 2,
        path: Some(path),
    }) {
        Err(e @ DataError::Format { .. }) => assert!(e.to_string().contains(">f8"), "{e}"),
        other => panic!("expected a Format error, got {other:?}"),
    }
    let path = dir.join("truncated.npz");
    write_npz(&path, "<i2", false, (height, width), &[0; 10]);
    assert!(matches!(
        load(&DataSpec::Terrain {
            size: 2,
            stride: 2,
            path: Some(path)
        }),
        Err(DataError::Format { .. })
    ));
}
