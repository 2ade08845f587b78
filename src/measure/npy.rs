//! NumPy's `.npy` format, version 1.0: one array a file, which NumPy, and every tool built on it, reads without
//! anything of ours — the form measurements outside the crate take samples and data in.

/// An element type the files hold, named by NumPy's type string.
pub trait Element: Copy {
    /// NumPy's `descr`: always little-endian, so that a file reads the same on every machine.
    const DESCR: &'static str;

    /// Appends the element's little-endian bytes.
    fn push_le(self, bytes: &mut Vec<u8>);
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";

    fn push_le(self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for u32 {
    const DESCR: &'static str = "<u4";

    fn push_le(self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.to_le_bytes());
    }
}

const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

/// The headers are padded so that the data start on this boundary, as NumPy pads them (aligned loads, memory maps).
const ALIGN: usize = 64;

/// The digits NumPy leaves room for in the first axis, so that appending examples can rewrite the header in place:
/// matching it makes our files byte for byte the ones `numpy.save` writes.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// `values`, in C order, as the bytes of a `.npy` file of `shape`.
///
/// # Panics
///
/// If `values` does not hold exactly the elements `shape` has, or the shape has so many axes (thousands) that its
/// header outgrows version 1.0's 64 KiB.
pub fn npy_bytes<T: Element>(shape: &[usize], values: &[T]) -> Vec<u8> {
    assert_eq!(
        values.len(),
        shape.iter().product::<usize>(),
        "{shape:?} does not hold {} values",
        values.len()
    );
    let axes: Vec<String> = shape.iter().map(usize::to_string).collect();
    // Python's tuple syntax: a one-element tuple keeps its comma.
    let tuple = match axes.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", axes.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {tuple}, }}",
        T::DESCR
    );
    if let Some(first) = axes.first() {
        header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.len())));
    }
    // NumPy pads with at least one space, so an already aligned header gains a whole block.
    let unpadded = MAGIC.len() + 2 + header.len() + 1;
    header.push_str(&" ".repeat(ALIGN - unpadded % ALIGN));
    header.push('\n');
    let length = u16::try_from(header.len()).expect("a header of a few axes fits in 64 KiB");
    let mut bytes = Vec::with_capacity(MAGIC.len() + 2 + header.len() + 4 * values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for &value in values {
        value.push_le(&mut bytes);
    }
    bytes
}

/// An array read from a `.npy` file: its shape and its elements in C order, widened to `f64` (exact for the
/// classes, levels and heights the files hold: every `i4`, `u4` and `f4` is, and `i8` up to 2⁵³).
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The axes.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub values: Vec<f64>,
}

/// A `.npy` file that cannot be read, and why.
#[derive(Debug, thiserror::Error)]
#[error("not a .npy file this reader takes: {0}")]
pub struct NpyError(String);

/// Reads a `.npy` file of versions 1 to 3 holding little-endian `u4`, `i4`, `i8`, `f4` or `f8` in C order: the
/// types `numpy.save` writes for classes and values (and `sample --out` writes). Anything else — another type, big
/// endian, Fortran order, a truncated file — is an error that says which, not a guess.
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    fn fail<T>(message: String) -> Result<T, NpyError> {
        Err(NpyError(message))
    }
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return fail("it does not start with NumPy's magic string".into());
    }
    let (length, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        version => return fail(format!("format version {version}")),
    };
    let Some(header) = bytes.get(start..start + length) else {
        return fail("its header is cut short".into());
    };
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        Some(header[at..].trim_start().strip_prefix(':')?.trim_start())
    };
    let Some(descr) = field("descr")
        .and_then(|d| d.strip_prefix('\''))
        .and_then(|d| d.split('\'').next())
    else {
        return fail("its header names no type".into());
    };
    if field("fortran_order").is_none_or(|f| !f.starts_with("False")) {
        return fail("it is not in C order (numpy.ascontiguousarray before saving)".into());
    }
    let Some(shape) = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
    else {
        return fail("its header has no shape".into());
    };
    let shape = shape
        .split(',')
        .map(str::trim)
        .filter(|axis| !axis.is_empty())
        .map(|axis| axis.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .or_else(|_| fail(format!("shape ({shape}) is not a tuple of sizes")))?;
    let data = &bytes[start + length..];
    let count: usize = shape.iter().product();
    let width = match descr {
        "<u4" | "<i4" | "<f4" => 4,
        "<i8" | "<f8" => 8,
        other => {
            return fail(format!(
                "element type {other:?}; use little-endian u4, i4, i8, f4 or f8"
            ));
        }
    };
    if data.len() != count * width {
        return fail(format!(
            "shape {shape:?} of {descr} needs {} bytes of data, the file has {}",
            count * width,
            data.len()
        ));
    }
    let values = data
        .chunks_exact(width)
        .map(|b| match descr {
            "<u4" => f64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
            "<i4" => f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
            "<f4" => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
            "<i8" => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
            _ => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        })
        .collect();
    Ok(NpyArray { shape, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header `numpy.save` (NumPy 2.4) writes, and the bytes after it.
    fn expected(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
        bytes.extend_from_slice(dict.as_bytes());
        bytes.resize(127, b' ');
        bytes.push(b'\n');
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn a_small_float_array_is_written_as_numpy_writes_it() {
        let values = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
        let data =
            b"\x00\x00\x00\x00\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@\x00\x00\xa0@";
        assert_eq!(
            npy_bytes(&[2, 3], &values),
            expected(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                data
            )
        );
    }

    #[test]
    fn a_vector_of_classes_keeps_the_tuple_comma() {
        let bytes = npy_bytes(&[2], &[7u32, 65536]);
        assert_eq!(
            bytes,
            expected(
                "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }",
                &[7, 0, 0, 0, 0, 0, 1, 0]
            )
        );
    }

    #[test]
    fn headers_stay_aligned_whatever_the_shape() {
        for shape in [
            &[0usize][..],
            &[1, 1],
            &[5, 64, 64, 4],
            &[123_456_789, 0],
            &[1; 40],
        ] {
            let count = shape.iter().product::<usize>();
            let bytes = npy_bytes(shape, &vec![0u32; count]);
            let header = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
            assert_eq!(header % ALIGN, 0, "{shape:?}");
            assert_eq!(bytes[header - 1], b'\n', "{shape:?}");
            assert_eq!(bytes.len(), header + 4 * count, "{shape:?}");
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let array = read_npy(&npy_bytes(
            &[2, 3],
            &[0.5f32, -1.0, 2.0, 3.0, f32::NAN, 5.0],
        ))
        .unwrap();
        assert_eq!(array.shape, [2, 3]);
        assert_eq!(array.values[..4], [0.5, -1.0, 2.0, 3.0]);
        assert!(array.values[4].is_nan());
        let classes = read_npy(&npy_bytes(&[2], &[7u32, 65536])).unwrap();
        assert_eq!(
            (classes.shape, classes.values),
            (vec![2], vec![7.0, 65536.0])
        );
    }

    /// `numpy.save(f, numpy.array([[-1, 3]], dtype="<i8"))`: a header as ours, with the type NumPy gives it.
    #[test]
    fn signed_integers_and_scalars_are_read() {
        let mut bytes = npy_bytes(&[1, 2], &[0u32; 2]);
        let header = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let text = String::from_utf8(bytes[10..header].to_vec())
            .unwrap()
            .replace("<u4", "<i8");
        bytes.truncate(10);
        bytes.extend_from_slice(text.as_bytes());
        for v in [-1i64, 3] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(read_npy(&bytes).unwrap().values, [-1.0, 3.0]);
        let scalar = read_npy(&npy_bytes(&[], &[4u32])).unwrap();
        assert_eq!((scalar.shape.len(), scalar.values), (0, vec![4.0]));
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        let error = |bytes: &[u8]| read_npy(bytes).unwrap_err().to_string();
        assert!(error(b"PK\x03\x04 not numpy").contains("magic"));
        let good = npy_bytes(&[2, 2], &[1u32, 2, 3, 4]);
        assert!(error(&good[..good.len() - 1]).contains("needs 16 bytes"));
        let text = |from: &str, to: &str| {
            let mut bytes = good.clone();
            let at = bytes
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .unwrap();
            bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
            error(&bytes)
        };
        assert!(text("<u4", ">u4").contains("\">u4\""));
        assert!(text("<u4", "|b1").contains("\"|b1\""));
        assert!(text("False", "True ").contains("C order"));
        assert!(text("(2, 2)", "(2, x)").contains("not a tuple"));
    }
}
