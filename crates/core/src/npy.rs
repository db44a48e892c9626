//! The `.npy` format: reading a header into a [`RawLayout`], writing arrays.
//!
//! Reading stops at the layout: the data is then viewed or copied through the [`crate::gate`],
//! so a memory-mapped file is read in place whenever the gate allows it.

use ndarray::ArrayViewD;

use crate::dtype::{ByteOrder, DType, Element};
use crate::error::{Error, Result};
use crate::gate::{RawLayout, c_strides, f_strides};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version (major, minor).
    pub version: (u8, u8),
    /// The dtype string as written (`"<f8"`).
    pub descr: String,
    /// Whether the data is stored in Fortran order.
    pub fortran_order: bool,
    /// The layout of the data, its first element at `data_offset`.
    pub layout: RawLayout,
    /// Byte offset of the data from the start of the file.
    pub data_offset: usize,
}

impl Header {
    /// Number of data bytes the header promises.
    #[must_use]
    pub fn data_len(&self) -> usize {
        self.layout.shape.iter().product::<usize>() * self.layout.dtype.itemsize()
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Format(format!("not a valid .npy file: {}", msg.into()))
}

/// Parses a dtype string such as `"<f8"` or `"|b1"`.
pub fn parse_descr(descr: &str) -> Result<(DType, ByteOrder)> {
    let mut chars = descr.chars();
    let (order, kind) = match chars.next() {
        Some('<') => (ByteOrder::Little, chars.next()),
        Some('>') => (ByteOrder::Big, chars.next()),
        Some('=' | '|') => (ByteOrder::NATIVE, chars.next()),
        first => (ByteOrder::NATIVE, first),
    };
    let size: Option<usize> = chars.as_str().parse().ok();
    match (kind, size) {
        (Some(k), Some(n)) => {
            DType::from_kind(k, n).map(|dt| (dt, order)).ok_or_else(|| Error::unsupported(descr))
        }
        _ => Err(Error::unsupported(descr)),
    }
}

/// Finds `'key':` in a header dict and returns the text after it.
fn after_key<'h>(dict: &'h str, key: &str) -> Result<&'h str> {
    let pat = format!("'{key}'");
    let at = dict.find(&pat).ok_or_else(|| bad(format!("header has no '{key}'")))?;
    let rest = dict[at + pat.len()..].trim_start();
    rest.strip_prefix(':').map(str::trim_start).ok_or_else(|| bad(format!("no ':' after '{key}'")))
}

/// Parses the header at the start of a `.npy` file's bytes.
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic string"));
    }
    let version = (bytes[6], bytes[7]);
    let (len, start) = match version.0 {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            let b = bytes.get(8..12).ok_or_else(|| bad("truncated header"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(bad(format!("unknown format version {v}.{}", version.1))),
    };
    let data_offset = start + len;
    let raw = bytes.get(start..data_offset).ok_or_else(|| bad("truncated header"))?;
    let dict = std::str::from_utf8(raw).map_err(|_| bad("header is not text"))?;

    let descr_text = after_key(dict, "descr")?;
    let quote = descr_text.chars().next().filter(|c| *c == '\'' || *c == '"').ok_or_else(|| {
        Error::unsupported(format!(
            "structured dtype {}",
            descr_text.split(", '").next().unwrap_or(descr_text)
        ))
    })?;
    let descr_body = &descr_text[1..];
    let end = descr_body.find(quote).ok_or_else(|| bad("unterminated 'descr'"))?;
    let descr = descr_body[..end].to_string();
    let (dtype, byte_order) = parse_descr(&descr)?;

    let fortran_text = after_key(dict, "fortran_order")?;
    let fortran_order = if fortran_text.starts_with("True") {
        true
    } else if fortran_text.starts_with("False") {
        false
    } else {
        return Err(bad("'fortran_order' is neither True nor False"));
    };

    let shape_text = after_key(dict, "shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.find(')').map(|e| &s[..e]))
        .ok_or_else(|| bad("'shape' is not a tuple"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| bad(format!("bad shape entry {s:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut count: usize = 1;
    for &n in &shape {
        count = count
            .checked_mul(n)
            .and_then(|c| c.checked_mul(dtype.itemsize()).map(|_| c))
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    }
    let strides = if fortran_order {
        f_strides(&shape, dtype.itemsize())
    } else {
        c_strides(&shape, dtype.itemsize())
    };
    Ok(Header {
        version,
        descr,
        fortran_order,
        layout: RawLayout { dtype, byte_order, shape, strides, writeable: false },
        data_offset,
    })
}

/// Checks that `file_len` bytes hold all the data `header` promises.
pub fn check_complete(header: &Header, file_len: usize) -> Result<()> {
    let need = header.data_offset.checked_add(header.data_len());
    match need {
        Some(n) if n <= file_len => Ok(()),
        _ => Err(Error::Format(format!(
            "truncated .npy file: the header promises {} data bytes, the file holds {}",
            header.data_len(),
            file_len.saturating_sub(header.data_offset)
        ))),
    }
}

/// The bytes of a `.npy` header for a native C-order array of this dtype and shape (version
/// 1.0, or 2.0 when the header outgrows 1.0's 64 KiB).
#[must_use]
pub fn header_bytes(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        dtype.descr(ByteOrder::NATIVE)
    );
    // Pad so that the data starts on a 64-byte boundary, ending in a newline.
    // Version 1.0 stores the padded length in 16 bits; padding adds at most 64 bytes.
    let prefix = if dict.len() + 64 <= 0xFFFF { 10 } else { 12 };
    let total = prefix + dict.len() + 1;
    dict.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    dict.push('\n');
    let mut out = Vec::with_capacity(prefix + dict.len());
    out.extend_from_slice(MAGIC);
    match u16::try_from(dict.len()) {
        Ok(len) if prefix == 10 => {
            out.extend_from_slice(&[1, 0]);
            out.extend_from_slice(&len.to_le_bytes());
        }
        _ => {
            out.extend_from_slice(&[2, 0]);
            out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes an array as `.npy` bytes (native byte order, C order).
///
/// ```
/// use ndarray::array;
/// let a = array![[1i16, 2], [3, 4]].into_dyn();
/// let bytes = nocopy_core::npy::to_bytes(&a.view());
/// let header = nocopy_core::npy::parse_header(&bytes).unwrap();
/// assert_eq!(header.layout.shape, vec![2, 2]);
/// assert_eq!(bytes.len(), header.data_offset + 8);
/// ```
#[must_use]
pub fn to_bytes<T: Element>(a: &ArrayViewD<'_, T>) -> Vec<u8> {
    let mut out = header_bytes(T::DTYPE, a.shape());
    out.reserve(a.len() * T::DTYPE.itemsize());
    for &x in a {
        x.write_ne_bytes(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1.0 file with this header dict and no data.
    fn npy_v1(dict: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&u16::try_from(dict.len()).unwrap().to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out
    }

    #[test]
    fn parses_numpy_headers() {
        let dict = "{'descr': '>i4', 'fortran_order': True, 'shape': (3, 2), }    \n";
        let header = parse_header(&npy_v1(dict)).unwrap();
        assert_eq!(header.layout.dtype, DType::I32);
        assert_eq!(header.layout.byte_order, ByteOrder::Big);
        assert!(header.fortran_order);
        assert_eq!(header.layout.strides, vec![4, 12]);
        assert_eq!(header.data_offset, 10 + dict.len());
        assert_eq!(header.data_len(), 24);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(matches!(parse_header(b"PK\x03\x04 not npy"), Err(Error::Format(_))));
        let complex = npy_v1("{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }\n");
        assert!(matches!(parse_header(&complex), Err(Error::UnsupportedDtype(_))));
        let record = npy_v1("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }\n");
        assert!(matches!(parse_header(&record), Err(Error::UnsupportedDtype(_))));
        assert!(matches!(
            parse_header(b"\x93NUMPY\x01\x00\xff\x00{'descr'"),
            Err(Error::Format(_))
        ));
        let h =
            parse_header(&npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n"))
                .unwrap();
        assert!(check_complete(&h, h.data_offset + 23).is_err());
        assert!(check_complete(&h, h.data_offset + 24).is_ok());
    }

    #[test]
    fn round_trips_every_dtype_header() {
        for dt in DType::ALL {
            for shape in [vec![], vec![0], vec![5], vec![2, 3, 4]] {
                let bytes = header_bytes(dt, &shape);
                assert_eq!(bytes.len() % 64, 0);
                let h = parse_header(&bytes).unwrap();
                assert_eq!((h.layout.dtype, h.layout.shape.clone()), (dt, shape));
            }
        }
    }

    #[test]
    fn writes_64_bit_integers_exactly() {
        let a = ndarray::array![i64::MAX, i64::MIN + 1].into_dyn();
        let bytes = to_bytes(&a.view());
        let h = parse_header(&bytes).unwrap();
        let v = crate::gate::view_bytes::<i64>(&bytes, h.data_offset, &h.layout);
        // The data offset is a multiple of 64, but the Vec may not be 8-aligned: copy if needed.
        let got: Vec<i64> = match v {
            Ok(v) => v.iter().copied().collect(),
            Err(_) => match crate::gate::copy_bytes(&bytes, h.data_offset, &h.layout).unwrap() {
                crate::AnyArray::I64(a) => a.into_raw_vec_and_offset().0,
                other => panic!("{other:?}"),
            },
        };
        assert_eq!(got, vec![i64::MAX, i64::MIN + 1]);
    }
}
