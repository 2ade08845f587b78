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
}
