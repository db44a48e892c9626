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
    /// Number of data bytes the header promises (checked not to overflow when parsed).
    #[must_use]
    pub fn data_len(&self) -> usize {
        self.layout.shape.iter().product::<usize>() * self.layout.dtype.itemsize()
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Format(format!("not a valid .npy file: {}", msg.into()))
}

/// Parses a dtype string such as `"<f8"` or `"|b1"`: an optional byte order (`<`, `>`, `|`,
/// `=`), a kind (`b`, `i`, `u`, `f`) and a size in bytes, nothing else. NumPy reads more
/// spellings (`"float64"`, `"<d"`, `"<f08"`); those are refused rather than guessed at.
pub fn parse_descr(descr: &str) -> Result<(DType, ByteOrder)> {
    let bytes = descr.as_bytes();
    let (order, rest) = match bytes.first() {
        Some(b'<') => (ByteOrder::Little, &bytes[1..]),
        Some(b'>') => (ByteOrder::Big, &bytes[1..]),
        Some(b'|' | b'=') => (ByteOrder::NATIVE, &bytes[1..]),
        _ => (ByteOrder::NATIVE, bytes),
    };
    // The size: decimal digits without a leading zero or a sign.
    let found = match rest {
        [kind, size @ ..]
            if size.first().is_some_and(|c| (b'1'..=b'9').contains(c))
                && size.iter().all(u8::is_ascii_digit) =>
        {
            std::str::from_utf8(size)
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| DType::from_kind(char::from(*kind), n))
        }
        _ => None,
    };
    found.map(|dt| (dt, order)).ok_or_else(|| Error::unsupported(descr))
}

/// Headers longer than this are refused, as NumPy's `np.load` refuses them by default
/// (`max_header_size`).
pub const MAX_HEADER: usize = 10_000;
/// NumPy's limit on the number of axes.
const MAX_DIMS: usize = 64;

/// A value of a header dict, as Python's `ast.literal_eval` would read it (the subset `.npy`
/// headers use; anything else is refused).
#[derive(Debug, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    /// A tuple of non-negative integers.
    Ints(Vec<usize>),
    /// A list (a structured dtype's `descr`): not computed on.
    List,
}

/// Reads a header dict the way NumPy does (`ast.literal_eval`, the last of repeated keys
/// winning), for the subset of Python literals `.npy` writers produce: a dict of quoted string
/// keys to quoted strings (no escapes), `True`/`False`, tuples of decimal integers (Python 2's
/// `L` suffix for format versions 1 and 2, as NumPy's `_filter_header` allows), and lists
/// (structured dtypes, refused later). Whatever else Python would accept is refused, never
/// read differently.
struct Parser<'h> {
    text: &'h [u8],
    at: usize,
    long_ints: bool,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> Error {
        bad(format!("cannot parse the header ({what} at byte {})", self.at))
    }

    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.text.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) { Ok(()) } else { Err(self.fail(&format!("expected '{}'", char::from(c)))) }
    }

    fn string(&mut self) -> Result<String> {
        self.skip_space();
        let Some(&quote @ (b'\'' | b'"')) = self.text.get(self.at) else {
            return Err(self.fail("expected a string"));
        };
        let start = self.at + 1;
        let len = self.text[start..]
            .iter()
            .position(|&c| c == quote || c == b'\\' || c == b'\n')
            .ok_or_else(|| self.fail("unterminated string"))?;
        if self.text[start + len] != quote {
            return Err(self.fail("escape or line break in a string"));
        }
        self.at = start + len + 1;
        // A string right after a string is Python's implicit concatenation: not read here.
        if matches!(self.text.get(self.at), Some(b'\'' | b'"')) {
            return Err(self.fail("adjacent strings"));
        }
        let s = std::str::from_utf8(&self.text[start..start + len])
            .map_err(|_| self.fail("a string that is not text"))?;
        Ok(s.to_string())
    }

    fn int(&mut self) -> Result<usize> {
        self.skip_space();
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &self.text[start..self.at];
        // Python refuses leading zeros (and reads `00` as 0: refused here too).
        if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
            return Err(self.fail("expected a decimal integer"));
        }
        if self.long_ints && self.text.get(self.at) == Some(&b'L') {
            self.at += 1;
        }
        if self.text.get(self.at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            return Err(self.fail("a malformed integer"));
        }
        std::str::from_utf8(digits).ok().and_then(|d| d.parse::<usize>().ok()).ok_or_else(|| {
            bad(format!("shape entry {} is too large", String::from_utf8_lossy(digits)))
        })
    }

    fn word(&mut self, w: &str) -> bool {
        self.skip_space();
        let end = self.at + w.len();
        let follows = self.text.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if self.text.get(self.at..end) == Some(w.as_bytes()) && !follows {
            self.at = end;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Literal> {
        self.skip_space();
        match self.text.get(self.at) {
            Some(b'\'' | b'"') => self.string().map(Literal::Str),
            Some(b'(') => {
                self.at += 1;
                let mut ints = Vec::new();
                if self.eat(b')') {
                    return Ok(Literal::Ints(ints));
                }
                loop {
                    ints.push(self.int()?);
                    if ints.len() > MAX_DIMS {
                        return Err(bad(format!("more than {MAX_DIMS} axes")));
                    }
                    if self.eat(b')') {
                        // `(3)` is the integer 3 to Python, not a tuple.
                        if ints.len() == 1 {
                            return Err(bad("'shape' is not a tuple"));
                        }
                        return Ok(Literal::Ints(ints));
                    }
                    self.expect(b',')?;
                    if self.eat(b')') {
                        return Ok(Literal::Ints(ints));
                    }
                }
            }
            Some(b'[') => Ok(Literal::List),
            _ if self.word("True") => Ok(Literal::Bool(true)),
            _ if self.word("False") => Ok(Literal::Bool(false)),
            _ => Err(self.fail("a value that is not a string, bool or tuple of integers")),
        }
    }

    /// The dict's entries, later repeats replacing earlier ones; stops at a list value (whose
    /// end is not looked for: a structured dtype is refused whatever follows).
    fn dict(&mut self) -> Result<Vec<(String, Literal)>> {
        self.expect(b'{')?;
        let mut entries: Vec<(String, Literal)> = Vec::new();
        if self.eat(b'}') {
            return Ok(entries);
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.value()?;
            let list = value == Literal::List;
            entries.retain(|(k, _)| *k != key);
            entries.push((key, value));
            if list {
                return Ok(entries);
            }
            if self.eat(b'}') {
                break;
            }
            self.expect(b',')?;
            if self.eat(b'}') {
                break;
            }
        }
        self.skip_space();
        if self.at != self.text.len() {
            return Err(self.fail("text after the dict"));
        }
        Ok(entries)
    }
}

/// Parses the header at the start of a `.npy` file's bytes, as NumPy's `read_array_header`
/// does: format versions 1.0, 2.0 and 3.0, a dict with exactly the keys `descr`,
/// `fortran_order` and `shape` (the last of repeated keys winning), at most
/// [`MAX_HEADER`] bytes of it.
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic string"));
    }
    let version = (bytes[6], bytes[7]);
    let (len, start) = match version {
        (1, 0) => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        (2 | 3, 0) => {
            let b = bytes.get(8..12).ok_or_else(|| bad("truncated header"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        (major, minor) => {
            return Err(bad(format!(
                "format version {major}.{minor}: only 1.0, 2.0 and 3.0 are supported"
            )));
        }
    };
    if len > MAX_HEADER {
        return Err(bad(format!(
            "a header of {len} bytes (NumPy refuses more than {MAX_HEADER} by default)"
        )));
    }
    let data_offset = start + len;
    let raw = bytes.get(start..data_offset).ok_or_else(|| bad("truncated header"))?;
    if !raw.is_ascii() {
        return Err(bad("the header is not ASCII text"));
    }
    let mut parser = Parser { text: raw, at: 0, long_ints: version.0 <= 2 };
    // Python's `literal_eval` skips leading spaces and tabs only.
    while matches!(raw.get(parser.at), Some(b' ' | b'\t')) {
        parser.at += 1;
    }
    let entries = parser.dict()?;
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some(Literal::List) = get("descr") {
        return Err(Error::unsupported("a structured dtype"));
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys != ["descr", "fortran_order", "shape"] {
        return Err(bad(format!("the header does not contain the correct keys: {keys:?}")));
    }
    let Some(Literal::Str(descr)) = get("descr") else {
        return Err(bad("'descr' is not a dtype string"));
    };
    let (dtype, byte_order) = parse_descr(descr)?;
    let Some(&Literal::Bool(fortran_order)) = get("fortran_order") else {
        return Err(bad("'fortran_order' is neither True nor False"));
    };
    let Some(Literal::Ints(shape)) = get("shape") else {
        return Err(bad("'shape' is not a tuple of integers"));
    };
    let shape = shape.clone();
    crate::mem::elements(&shape, dtype.itemsize())
        .map_err(|_| bad(format!("shape {shape:?} overflows")))?;
    let strides = if fortran_order {
        f_strides(&shape, dtype.itemsize())
    } else {
        c_strides(&shape, dtype.itemsize())
    };
    Ok(Header {
        version,
        descr: descr.clone(),
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
    let mut out = MAGIC.to_vec();
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

/// Writes an array as a `.npy` file to `w` (native byte order, C order), element by element
/// through a small buffer: the data is never copied whole.
pub fn write<T: Element>(w: &mut impl std::io::Write, a: &ArrayViewD<'_, T>) -> Result<()> {
    const BUFFER: usize = 1 << 16;
    w.write_all(&header_bytes(T::DTYPE, a.shape()))?;
    #[allow(clippy::disallowed_methods)] // a fixed size
    let mut buf = Vec::with_capacity(BUFFER + 8);
    for &x in a {
        x.write_ne_bytes(&mut buf);
        if buf.len() >= BUFFER {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    Ok(())
}

/// An array as the bytes of a `.npy` file (native byte order, C order).
///
/// ```
/// use ndarray::array;
/// let a = array![[1i16, 2], [3, 4]].into_dyn();
/// let bytes = nocopy_core::npy::to_bytes(&a.view()).unwrap();
/// let header = nocopy_core::npy::parse_header(&bytes).unwrap();
/// assert_eq!(header.layout.shape, vec![2, 2]);
/// assert_eq!(bytes.len(), header.data_offset + 8);
/// ```
pub fn to_bytes<T: Element>(a: &ArrayViewD<'_, T>) -> Result<Vec<u8>> {
    let mut out = crate::mem::with_capacity(a.len().saturating_mul(T::DTYPE.itemsize()) + 128)?;
    write(&mut out, a)?;
    Ok(out)
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
        let bytes = to_bytes(&a.view()).unwrap();
        let h = parse_header(&bytes).unwrap();
        let v = crate::gate::view_bytes::<i64>(&bytes, h.data_offset, &h.layout);
        // The data offset is a multiple of 64, but the Vec may not be 8-aligned: copy if needed.
        let got: Vec<i64> = match v {
            Ok(v) => v.iter().copied().collect(),
            Err(_) => {
                match crate::gate::copy_bytes(&bytes, h.data_offset, &h.layout, &crate::NEVER)
                    .unwrap()
                {
                    crate::AnyArray::I64(a) => a.into_raw_vec_and_offset().0,
                    other => panic!("{other:?}"),
                }
            }
        };
        assert_eq!(got, vec![i64::MAX, i64::MIN + 1]);
    }
}
