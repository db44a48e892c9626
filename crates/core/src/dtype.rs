//! Element types: the dtypes nocopy understands and the trait its kernels are generic over.

use std::fmt;

/// An array element type as NumPy names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `bool` (one byte, zero is false).
    Bool,
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint8`.
    U8,
    /// `uint16`.
    U16,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `float16`: readable, converted to `float32` on the copying path.
    F16,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

/// Byte order of the stored elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

impl ByteOrder {
    /// The byte order of this machine.
    pub const NATIVE: ByteOrder =
        if cfg!(target_endian = "little") { ByteOrder::Little } else { ByteOrder::Big };
}

impl DType {
    /// Every dtype, in NumPy's order.
    pub const ALL: [DType; 12] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::F32,
        DType::F64,
    ];

    /// Size of one element in bytes.
    #[must_use]
    pub const fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// NumPy's name for the dtype (`"float64"`, `"bool"`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Whether the kernels read this dtype in place (everything but `float16`).
    #[must_use]
    pub const fn is_viewable(self) -> bool {
        !matches!(self, DType::F16)
    }

    /// Whether the dtype is a floating-point type (may hold NaN).
    #[must_use]
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::F32 | DType::F64)
    }

    /// Parses NumPy's kind character (`b`, `i`, `u`, `f`) and item size.
    #[must_use]
    pub fn from_kind(kind: char, itemsize: usize) -> Option<DType> {
        Some(match (kind, itemsize) {
            ('b', 1) => DType::Bool,
            ('i', 1) => DType::I8,
            ('i', 2) => DType::I16,
            ('i', 4) => DType::I32,
            ('i', 8) => DType::I64,
            ('u', 1) => DType::U8,
            ('u', 2) => DType::U16,
            ('u', 4) => DType::U32,
            ('u', 8) => DType::U64,
            ('f', 2) => DType::F16,
            ('f', 4) => DType::F32,
            ('f', 8) => DType::F64,
            _ => return None,
        })
    }

    /// NumPy's type string (`"<f8"`, `"|b1"`) for this dtype in the given byte order.
    #[must_use]
    pub fn descr(self, order: ByteOrder) -> String {
        let kind = match self {
            DType::Bool => 'b',
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => 'i',
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => 'u',
            DType::F16 | DType::F32 | DType::F64 => 'f',
        };
        let sign = match (self.itemsize(), order) {
            (1, _) => '|',
            (_, ByteOrder::Little) => '<',
            (_, ByteOrder::Big) => '>',
        };
        format!("{sign}{kind}{}", self.itemsize())
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// NumPy's `bool` element: one byte read as "not zero".
///
/// A byte array viewed as `bool` may hold any value, and a Rust `bool` holding anything but 0 or 1
/// is undefined behaviour, so the gate views NumPy booleans as this byte wrapper instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Bool(pub u8);

impl Bool {
    /// The truth value of the byte.
    #[must_use]
    pub const fn get(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for Bool {
    fn from(value: bool) -> Self {
        Bool(u8::from(value))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An element type the kernels read in place.
///
/// Implemented for [`Bool`], `i8`–`i64`, `u8`–`u64`, `f32` and `f64`; sealed.
pub trait Element:
    Copy + Default + Send + Sync + PartialEq + fmt::Debug + 'static + sealed::Sealed
{
    /// The dtype this element type reads.
    const DTYPE: DType;
    /// Output type of `sum` (NumPy's: `int64` for bool and signed, `uint64` for unsigned).
    type Sum: Copy + Default + Send + Sync + PartialEq + fmt::Debug + 'static;
    /// Output type of `mean`, `var`, `std` (`float32` for `float32`, else `float64`).
    type Float: Copy + Default + Send + Sync + PartialEq + fmt::Debug + 'static;

    /// The value as `f64` (exact for all but 64-bit integers beyond 2⁵³).
    fn to_f64(self) -> f64;
    /// Whether the value is NaN (never, for integers and bool).
    fn is_nan(self) -> bool;
    /// Strict ordering used by min/max (NaN handled by the caller).
    fn less(self, other: Self) -> bool;
    /// The greater (`max`) or lesser of two values, `self` of equal ones (NaN left to the
    /// caller). Integers, whose equal values cannot be told apart, say it as `Ord::max`/`min`
    /// (one instruction where the CPU has one).
    #[inline]
    #[must_use]
    fn pick(self, other: Self, max: bool) -> Self {
        let better = if max { self.less(other) } else { other.less(self) };
        if better { other } else { self }
    }
    /// Whether two values are the same value (`==`, but for booleans held in other bytes
    /// than 0 and 1, which are the same truth).
    #[inline]
    fn same(self, other: Self) -> bool {
        self == other
    }
    /// Wrapping integer sum, or `None` for floats, whose sum is taken in `f64`.
    fn int_sum(xs: &[Self]) -> Option<Self::Sum>;
    /// Wrapping addition of two partial integer sums.
    fn sum_merge(a: Self::Sum, b: Self::Sum) -> Self::Sum;
    /// Rounds an `f64` sum to the output type (only called for floats).
    fn sum_from_f64(x: f64) -> Self::Sum;
    /// Rounds an `f64` statistic to the output float type.
    fn float_from_f64(x: f64) -> Self::Float;
    /// Reads one element from native-endian bytes.
    fn from_ne_bytes(bytes: &[u8]) -> Self;
    /// NaN for floats; zero for types without NaN (which never need it).
    fn nan() -> Self;
    /// Appends the element's native-endian bytes.
    fn write_ne_bytes(self, out: &mut Vec<u8>);
    /// The value nearest to `x` (exact for values of this type widened to `f64`).
    #[doc(hidden)]
    fn from_f64(x: f64) -> Self;
    /// The value in its one spelling: a `bool` byte other than 0 is 1 (NumPy's extremes of
    /// `bool` give 0 or 1, whichever true byte came first); every other value as it is.
    #[inline]
    #[must_use]
    fn canonical(self) -> Self {
        self
    }
    /// `self * self` in the element's own type, wrapping for integers (NumPy's `a * a`).
    #[doc(hidden)]
    #[must_use]
    fn square(self) -> Self;
    /// The slice as one of the types the hand-written SIMD loops read, if it is one.
    #[doc(hidden)]
    #[inline]
    #[must_use]
    fn native(_: &[Self]) -> Native<'_> {
        Native::Other
    }
}

/// A slice seen as a type the hand-written SIMD loops read ([`Element::native`]).
#[doc(hidden)]
pub enum Native<'a> {
    /// `float32` elements.
    F32(&'a [f32]),
    /// `float64` elements.
    F64(&'a [f64]),
    /// `int32` elements.
    I32(&'a [i32]),
    /// `int64` elements.
    I64(&'a [i64]),
    /// Any other type.
    Other,
}

impl Native<'_> {
    /// [`Native::Other`] for any slice (the integer types without loops of their own).
    fn other<T>(_: &[T]) -> Native<'_> {
        Native::Other
    }
}

macro_rules! int_element {
    ($($t:ty => $dt:ident, $sum:ty, $native:path);* $(;)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            type Sum = $sum;
            type Float = f64;
            #[inline]
            // One body for every integer width; 64-bit ones round, as NumPy's do.
            #[allow(clippy::cast_lossless)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline]
            fn is_nan(self) -> bool { false }
            #[inline]
            fn less(self, other: Self) -> bool { self < other }
            #[inline]
            fn pick(self, other: Self, max: bool) -> Self {
                if max { Ord::max(self, other) } else { Ord::min(self, other) }
            }
            #[inline]
            fn int_sum(xs: &[Self]) -> Option<$sum> {
                Some(xs.iter().fold(0 as $sum, |acc, &x| acc.wrapping_add(x as $sum)))
            }
            #[inline]
            fn sum_merge(a: $sum, b: $sum) -> $sum { a.wrapping_add(b) }
            #[inline]
            fn sum_from_f64(x: f64) -> $sum { x as $sum }
            #[inline]
            fn float_from_f64(x: f64) -> f64 { x }
            #[inline]
            fn from_ne_bytes(bytes: &[u8]) -> Self {
                <$t>::from_ne_bytes(bytes.try_into().expect("element width"))
            }
            #[inline]
            fn nan() -> Self { 0 }
            #[inline]
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            fn from_f64(x: f64) -> Self { x as $t }
            #[inline]
            fn square(self) -> Self { self.wrapping_mul(self) }
            #[inline]
            fn write_ne_bytes(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_ne_bytes()); }
            #[inline]
            fn native(xs: &[Self]) -> Native<'_> { $native(xs) }
        }
    )*};
}

int_element! {
    i8 => I8, i64, Native::other; i16 => I16, i64, Native::other;
    i32 => I32, i64, Native::I32; i64 => I64, i64, Native::I64;
    u8 => U8, u64, Native::other; u16 => U16, u64, Native::other;
    u32 => U32, u64, Native::other; u64 => U64, u64, Native::other;
}

macro_rules! float_element {
    ($($t:ty => $dt:ident);* $(;)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            type Sum = $t;
            type Float = $t;
            #[inline]
            fn to_f64(self) -> f64 { f64::from(self) }
            #[inline]
            fn is_nan(self) -> bool { self.is_nan() }
            #[inline]
            fn less(self, other: Self) -> bool { self < other }
            #[inline]
            fn int_sum(_: &[Self]) -> Option<$t> { None }
            #[inline]
            fn sum_merge(a: $t, b: $t) -> $t { a + b }
            #[inline]
            fn sum_from_f64(x: f64) -> $t { x as $t }
            #[inline]
            fn float_from_f64(x: f64) -> $t { x as $t }
            #[inline]
            fn from_ne_bytes(bytes: &[u8]) -> Self {
                <$t>::from_ne_bytes(bytes.try_into().expect("element width"))
            }
            #[inline]
            fn nan() -> Self { <$t>::NAN }
            #[inline]
            #[allow(clippy::cast_possible_truncation)]
            fn square(self) -> Self { self * self }
            #[inline]
            fn from_f64(x: f64) -> Self { x as $t }
            #[inline]
            fn write_ne_bytes(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_ne_bytes()); }
            #[inline]
            fn native(xs: &[Self]) -> Native<'_> { Native::$dt(xs) }
        }
    )*};
}

float_element! { f32 => F32; f64 => F64 }

impl sealed::Sealed for Bool {}
impl Element for Bool {
    const DTYPE: DType = DType::Bool;
    type Sum = i64;
    type Float = f64;
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self.get()))
    }
    #[inline]
    fn is_nan(self) -> bool {
        false
    }
    #[inline]
    fn less(self, other: Self) -> bool {
        !self.get() && other.get()
    }
    #[inline]
    fn same(self, other: Self) -> bool {
        self.get() == other.get()
    }
    #[inline]
    fn int_sum(xs: &[Self]) -> Option<i64> {
        Some(xs.iter().map(|b| i64::from(b.get())).sum())
    }
    #[inline]
    fn sum_merge(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    #[inline]
    fn sum_from_f64(x: f64) -> i64 {
        x as i64
    }
    #[inline]
    fn float_from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn from_ne_bytes(bytes: &[u8]) -> Self {
        Bool(bytes[0])
    }
    #[inline]
    fn nan() -> Self {
        Bool(0)
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        Bool(u8::from(x != 0.0))
    }
    #[inline]
    fn canonical(self) -> Self {
        Bool(u8::from(self.get()))
    }
    #[inline]
    fn square(self) -> Self {
        self
    }
    #[inline]
    fn write_ne_bytes(self, out: &mut Vec<u8>) {
        out.push(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descr_round_trips_through_kind_and_size() {
        for dt in DType::ALL {
            let d = dt.descr(ByteOrder::Little);
            let kind = d.chars().nth(1).unwrap();
            let size: usize = d[2..].parse().unwrap();
            assert_eq!(DType::from_kind(kind, size), Some(dt), "{d}");
            assert_eq!(size, dt.itemsize());
        }
    }

    #[test]
    fn bool_reads_any_nonzero_byte_as_true() {
        assert!(Bool(2).get());
        assert_eq!(Bool(60).canonical(), Bool(1));
        assert_eq!(Bool(0).canonical(), Bool(0));
        assert_eq!(Bool(7).to_f64(), 1.0);
        assert!(Bool(0).less(Bool(9)));
        assert_eq!(Bool::int_sum(&[Bool(0), Bool(3), Bool(255)]), Some(2));
    }

    #[test]
    fn integer_sums_wrap_like_numpy() {
        assert_eq!(i64::int_sum(&[i64::MAX, 1]), Some(i64::MIN));
        assert_eq!(u8::int_sum(&[255, 255]), Some(510));
        assert_eq!(f64::int_sum(&[1.0]), None);
    }
}
