//! The gate: the one way memory reaches a kernel.
//!
//! A [`RawLayout`] describes memory as NumPy or a `.npy` header does (dtype, byte order, shape,
//! byte strides). [`view_bytes`] turns it into a typed [`ndarray::ArrayViewD`] over a byte slice
//! when that is safe, and otherwise says why not ([`CopyReason`]); [`copy_bytes`] always succeeds
//! for a well-formed layout and returns an owned, native, aligned, C-contiguous array. The `*_ptr`
//! variants do the same for memory whose bounds the caller vouches for (a live NumPy array).

#![allow(unsafe_code)]

use std::fmt;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder};

use crate::cancel::Cancel;
use crate::dtype::{Bool, ByteOrder, DType, Element};
use crate::error::{Error, Result};
use crate::mem;

/// A raw description of strided memory, as NumPy's array interface gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLayout {
    /// Element type.
    pub dtype: DType,
    /// Byte order of the stored elements (ignored for one-byte types).
    pub byte_order: ByteOrder,
    /// Length of each axis.
    pub shape: Vec<usize>,
    /// Distance in bytes between neighbours along each axis (may be zero or negative).
    pub strides: Vec<isize>,
    /// Whether the memory may be written.
    pub writeable: bool,
}

/// Why a layout cannot be viewed in place and must be copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyReason {
    /// The dtype is read by converting it (float16 to float32).
    Convert(DType),
    /// Elements are stored in the other byte order.
    ByteOrder(ByteOrder),
    /// The data pointer is not a multiple of the item size.
    Misaligned {
        /// Data address modulo the item size.
        offset: usize,
        /// Required alignment in bytes.
        align: usize,
    },
    /// A stride is not a multiple of the item size (a field of a structured array, say).
    Stride {
        /// The axis whose stride does not fit.
        axis: usize,
        /// That stride in bytes.
        stride: isize,
        /// The item size in bytes.
        itemsize: usize,
    },
    /// The caller asked for a copy (`copy=True`).
    Requested,
}

impl fmt::Display for CopyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyReason::Convert(dt) => write!(f, "dtype {dt} is converted to float32"),
            CopyReason::ByteOrder(order) => {
                let name = if *order == ByteOrder::Big { "big" } else { "little" };
                write!(f, "non-native byte order ({name}-endian) is byte-swapped")
            }
            CopyReason::Misaligned { offset, align } => write!(
                f,
                "data pointer is misaligned (address mod {align} = {offset}); reading it in place \
                 would be undefined behaviour"
            ),
            CopyReason::Stride { axis, stride, itemsize } => write!(
                f,
                "stride {stride} of axis {axis} is not a multiple of the item size {itemsize}"
            ),
            CopyReason::Requested => f.write_str("a copy was requested (copy=True)"),
        }
    }
}

/// The extent of a layout: byte offsets, relative to the first element, of the lowest byte and
/// one past the highest byte it touches. `None` for an array with no elements.
fn extent(layout: &RawLayout) -> Result<Option<(isize, isize)>> {
    if layout.shape.len() != layout.strides.len() {
        return Err(Error::Layout(format!(
            "{} axes but {} strides",
            layout.shape.len(),
            layout.strides.len()
        )));
    }
    let mut count: usize = 1;
    for &n in &layout.shape {
        count = count
            .checked_mul(n)
            .filter(|&c| isize::try_from(c).is_ok())
            .ok_or_else(|| Error::Layout(format!("shape {:?} overflows", layout.shape)))?;
    }
    if count == 0 {
        return Ok(None);
    }
    let overflow = || {
        Error::Layout(format!("shape {:?} × strides {:?} overflows", layout.shape, layout.strides))
    };
    let (mut low, mut high) = (0isize, 0isize);
    for (&n, &s) in layout.shape.iter().zip(&layout.strides) {
        let span =
            isize::try_from(n - 1).ok().and_then(|m| m.checked_mul(s)).ok_or_else(overflow)?;
        if span < 0 {
            low = low.checked_add(span).ok_or_else(overflow)?;
        } else {
            high = high.checked_add(span).ok_or_else(overflow)?;
        }
    }
    let item = layout.dtype.itemsize() as isize;
    let high = high.checked_add(item).ok_or_else(overflow)?;
    high.checked_sub(low).ok_or_else(overflow)?;
    Ok(Some((low, high)))
}

/// Whether an array with this layout, whose first element is at `data_addr`, can be read in
/// place; `Ok(Some(reason))` when it must be copied, `Err` when the layout is corrupt.
pub fn assess(layout: &RawLayout, data_addr: usize) -> Result<Option<CopyReason>> {
    let Some(_) = extent(layout)? else {
        // No element is ever read: any pointer and strides are safe.
        return Ok((!layout.dtype.is_viewable()).then_some(CopyReason::Convert(layout.dtype)));
    };
    let item = layout.dtype.itemsize();
    if !layout.dtype.is_viewable() {
        return Ok(Some(CopyReason::Convert(layout.dtype)));
    }
    if item > 1 && layout.byte_order != ByteOrder::NATIVE {
        return Ok(Some(CopyReason::ByteOrder(layout.byte_order)));
    }
    if !data_addr.is_multiple_of(item) {
        return Ok(Some(CopyReason::Misaligned { offset: data_addr % item, align: item }));
    }
    for (axis, (&n, &stride)) in layout.shape.iter().zip(&layout.strides).enumerate() {
        // A stride is only ever applied along an axis with at least two elements.
        if n > 1 && stride % item as isize != 0 {
            return Ok(Some(CopyReason::Stride { axis, stride, itemsize: item }));
        }
    }
    Ok(None)
}

/// Checks that every element of `layout`, its first at `bytes[offset]`, lies inside `bytes`.
fn check_bounds(bytes: &[u8], offset: usize, layout: &RawLayout) -> Result<()> {
    if let Some((low, high)) = extent(layout)? {
        let start = isize::try_from(offset).ok().and_then(|o| o.checked_add(low));
        let end = isize::try_from(offset).ok().and_then(|o| o.checked_add(high));
        match (start, end) {
            (Some(s), Some(e)) if s >= 0 && e as usize <= bytes.len() => {}
            _ => {
                return Err(Error::Layout(format!(
                    "shape {:?} with strides {:?} at offset {offset} reaches outside a buffer of {} \
                     bytes",
                    layout.shape,
                    layout.strides,
                    bytes.len()
                )));
            }
        }
    } else if offset > bytes.len() {
        return Err(Error::Layout(format!(
            "offset {offset} is past the end of {} bytes",
            bytes.len()
        )));
    }
    Ok(())
}

/// Views `bytes` as the array `layout` describes, its first element at `bytes[offset]`.
///
/// Fails with [`Error::CopyRequired`] when the layout is safe but cannot be read in place, and
/// with [`Error::Layout`] when it reaches outside `bytes`.
///
/// ```
/// use nocopy_core::gate::{view_bytes, RawLayout};
/// use nocopy_core::{ByteOrder, DType};
/// let data: Vec<u8> = [1.0f64, 2.0, 3.0].iter().flat_map(|x| x.to_ne_bytes()).collect();
/// let layout = RawLayout { dtype: DType::F64, byte_order: ByteOrder::NATIVE, shape: vec![3],
///                          strides: vec![8], writeable: false };
/// let view = view_bytes::<f64>(&data, 0, &layout).unwrap();
/// assert_eq!(view.sum(), 6.0);
/// ```
pub fn view_bytes<'a, T: Element>(
    bytes: &'a [u8],
    offset: usize,
    layout: &RawLayout,
) -> Result<ArrayViewD<'a, T>> {
    if layout.dtype != T::DTYPE {
        return Err(Error::Invalid(format!(
            "a {} layout cannot be viewed as {}",
            layout.dtype,
            T::DTYPE
        )));
    }
    check_bounds(bytes, offset, layout)?;
    let data = bytes.as_ptr().wrapping_add(offset);
    if let Some(reason) = assess(layout, data as usize)? {
        return Err(Error::CopyRequired(reason));
    }
    let item = T::DTYPE.itemsize() as isize;
    if extent(layout)?.is_none() {
        // Strides of 0 keep every pointer offset of an empty view at zero.
        let zeros: Vec<usize> = std::iter::repeat_n(0, layout.shape.len()).collect();
        let empty = ArrayViewD::from_shape(IxDyn(&layout.shape).strides(IxDyn(&zeros)), &[])
            .map_err(|e| Error::Layout(e.to_string()))?;
        return Ok(empty);
    }
    let mut low = 0isize;
    let mut elem_strides: Vec<usize> = Vec::new();
    for (&n, &s) in layout.shape.iter().zip(&layout.strides) {
        let s = if n > 1 { s / item } else { 0 };
        if s < 0 {
            low += (n as isize - 1) * s;
        }
        elem_strides.push(s.unsigned_abs());
    }
    // SAFETY: `check_bounds` put every element inside `bytes`, which lives for 'a and is shared;
    // `assess` found the dtype native, the data pointer aligned and every used stride a whole
    // number of elements, so every element is an aligned, initialised `T` (any bit pattern is a
    // valid `T` for the sealed element types, `Bool` being a byte). `low` is the offset of the
    // lowest element, so the view starts there with non-negative strides, as ndarray requires,
    // and the negative axes are then inverted.
    let mut view = unsafe {
        let lowest = data.offset(low * item).cast::<T>();
        ArrayViewD::from_shape_ptr(IxDyn(&layout.shape).strides(IxDyn(&elem_strides)), lowest)
    };
    for (axis, (&n, &s)) in layout.shape.iter().zip(&layout.strides).enumerate() {
        if n > 1 && s < 0 {
            view.invert_axis(Axis(axis));
        }
    }
    Ok(view)
}

/// The bytes a live array occupies, and the offset of its first element in them.
///
/// # Safety
/// `data` must point to the first element of an array with this layout whose every element is
/// readable for `'a` (true of a NumPy array kept alive meanwhile).
unsafe fn bytes_of<'a>(data: *const u8, layout: &RawLayout) -> Result<(&'a [u8], usize)> {
    match extent(layout)? {
        None => Ok((&[], 0)),
        Some((low, high)) => {
            // SAFETY: the caller vouches that [data + low, data + high) is readable for 'a.
            let bytes =
                unsafe { std::slice::from_raw_parts(data.offset(low), (high - low) as usize) };
            Ok((bytes, low.unsigned_abs()))
        }
    }
}

/// Views a live array in place; [`view_bytes`] for memory whose bounds the caller vouches for.
///
/// # Safety
/// `data` must point to the first element of an array with this layout whose every element is
/// readable, and not written, for `'a` (true of a NumPy array kept alive meanwhile).
pub unsafe fn view_ptr<'a, T: Element>(
    data: *const u8,
    layout: &RawLayout,
) -> Result<ArrayViewD<'a, T>> {
    // SAFETY: forwarded from the caller.
    let (bytes, offset) = unsafe { bytes_of(data, layout)? };
    view_bytes(bytes, offset, layout)
}

/// Copies the array `layout` describes into an owned, native, C-contiguous array, byte-swapping
/// and converting (float16 to float32) where needed. The copy is allocated before it is filled
/// ([`Error::Memory`] when it cannot be), and stops with [`Error::Cancelled`] once `cancel` is
/// set.
pub fn copy_bytes(
    bytes: &[u8],
    offset: usize,
    layout: &RawLayout,
    cancel: &Cancel,
) -> Result<AnyArray> {
    check_bounds(bytes, offset, layout)?;
    macro_rules! read {
        ($variant:ident, $t:ty) => {
            AnyArray::$variant(read_elements(
                bytes,
                offset,
                layout,
                <$t as Element>::from_ne_bytes,
                cancel,
            )?)
        };
    }
    Ok(match layout.dtype {
        DType::Bool => read!(Bool, Bool),
        DType::I8 => read!(I8, i8),
        DType::I16 => read!(I16, i16),
        DType::I32 => read!(I32, i32),
        DType::I64 => read!(I64, i64),
        DType::U8 => read!(U8, u8),
        DType::U16 => read!(U16, u16),
        DType::U32 => read!(U32, u32),
        DType::U64 => read!(U64, u64),
        DType::F16 => AnyArray::F32(read_elements(
            bytes,
            offset,
            layout,
            |b| half::f16::from_bits(u16::from_ne_bytes([b[0], b[1]])).to_f32(),
            cancel,
        )?),
        DType::F32 => read!(F32, f32),
        DType::F64 => read!(F64, f64),
    })
}

/// Copies a live array; [`copy_bytes`] for memory whose bounds the caller vouches for.
///
/// # Safety
/// As [`view_ptr`].
pub unsafe fn copy_ptr(data: *const u8, layout: &RawLayout, cancel: &Cancel) -> Result<AnyArray> {
    // SAFETY: forwarded from the caller.
    let (bytes, offset) = unsafe { bytes_of(data, layout)? };
    copy_bytes(bytes, offset, layout, cancel)
}

/// Elements copied between two looks at the cancellation flag.
const COPY_PIECE: usize = 1 << 16;

/// Reads every element in C order, one unaligned, byte-order-corrected read each; rows along
/// the last axis are read in a tight loop, in pieces between which `cancel` is polled. The
/// bounds were checked by the caller.
fn read_elements<T>(
    bytes: &[u8],
    offset: usize,
    layout: &RawLayout,
    decode: impl Fn(&[u8]) -> T,
    cancel: &Cancel,
) -> Result<ArrayD<T>> {
    let item = layout.dtype.itemsize();
    let swap = item > 1 && layout.byte_order != ByteOrder::NATIVE;
    let count = mem::elements(&layout.shape, size_of::<T>())?;
    let mut out = mem::with_capacity(count)?;
    let read = |src: &[u8]| {
        if swap {
            let mut scratch = [0u8; 8];
            for (d, s) in scratch[..item].iter_mut().zip(src.iter().rev()) {
                *d = *s;
            }
            decode(&scratch[..item])
        } else {
            decode(src)
        }
    };
    if count > 0 {
        let ndim = layout.shape.len();
        let (inner, step) = match ndim {
            0 => (1, 0),
            _ => (layout.shape[ndim - 1], layout.strides[ndim - 1]),
        };
        let outer = ndim.saturating_sub(1);
        let mut index: Vec<usize> = std::iter::repeat_n(0, outer).collect();
        let mut pos = offset as isize;
        for _ in 0..count / inner {
            for k0 in (0..inner).step_by(COPY_PIECE) {
                cancel.check()?;
                let k1 = (k0 + COPY_PIECE).min(inner);
                if step == item as isize {
                    let start = pos as usize + k0 * item;
                    out.extend(bytes[start..start + (k1 - k0) * item].chunks_exact(item).map(read));
                } else {
                    out.extend((k0 as isize..k1 as isize).map(|k| {
                        let p = (pos + k * step) as usize;
                        read(&bytes[p..p + item])
                    }));
                }
            }
            // Odometer step over the outer axes, the last of them fastest.
            for axis in (0..outer).rev() {
                index[axis] += 1;
                pos += layout.strides[axis];
                if index[axis] < layout.shape[axis] {
                    break;
                }
                pos -= layout.strides[axis] * layout.shape[axis] as isize;
                index[axis] = 0;
            }
        }
    }
    mem::shaped(IxDyn(&layout.shape), out)
}

/// Views `bytes` in place when the gate allows it, else copies; the copy's reason is returned.
pub fn view_or_copy_bytes<'a>(
    bytes: &'a [u8],
    offset: usize,
    layout: &RawLayout,
    policy: CopyPolicy,
    cancel: &Cancel,
) -> Result<Source<'a>> {
    // The view checks bounds and layout once; only its verdict decides whether to copy.
    let reason = match policy {
        CopyPolicy::Always => CopyReason::Requested,
        _ => match view_any_bytes(bytes, offset, layout) {
            Ok(view) => return Ok(Source::View(view)),
            Err(Error::CopyRequired(reason)) if policy == CopyPolicy::IfNeeded => reason,
            Err(e) => return Err(e),
        },
    };
    Ok(Source::Copied(copy_bytes(bytes, offset, layout, cancel)?, reason))
}

/// [`view_or_copy_bytes`] for a live array whose bounds the caller vouches for.
///
/// # Safety
/// As [`view_ptr`].
pub unsafe fn view_or_copy_ptr<'a>(
    data: *const u8,
    layout: &RawLayout,
    policy: CopyPolicy,
    cancel: &Cancel,
) -> Result<Source<'a>> {
    // SAFETY: forwarded from the caller. `bytes_of` shifts the slice so that the first element
    // keeps its address, which is what the alignment check reads.
    let (bytes, offset) = unsafe { bytes_of(data, layout)? };
    view_or_copy_bytes(bytes, offset, layout, policy, cancel)
}

/// The copy policy of NumPy 2's `asarray(copy=...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CopyPolicy {
    /// `copy=None`: copy only when the layout cannot be read in place.
    #[default]
    IfNeeded,
    /// `copy=False`: never copy; fail with [`Error::CopyRequired`] instead.
    Never,
    /// `copy=True`: always take the copying path.
    Always,
}

/// An array as a kernel receives it: viewed in place, or copied for a stated reason.
#[derive(Debug)]
pub enum Source<'a> {
    /// Read in place.
    View(AnyView<'a>),
    /// Copied; the reason says why.
    Copied(AnyArray, CopyReason),
}

impl Source<'_> {
    /// The typed view a kernel reads.
    #[must_use]
    pub fn view(&self) -> AnyView<'_> {
        match self {
            Source::View(v) => v.reborrow(),
            Source::Copied(a, _) => a.view(),
        }
    }

    /// Why the data was copied, `None` when it is read in place.
    #[must_use]
    pub fn copy_reason(&self) -> Option<&CopyReason> {
        match self {
            Source::View(_) => None,
            Source::Copied(_, r) => Some(r),
        }
    }
}

macro_rules! any_types {
    ($($variant:ident($t:ty)),* $(,)?) => {
        /// A typed view of any viewable dtype.
        #[derive(Debug, Clone)]
        pub enum AnyView<'a> {
            $(
                #[doc = concat!("A `", stringify!($t), "` view.")]
                $variant(ArrayViewD<'a, $t>),
            )*
        }

        /// An owned array of any viewable dtype.
        #[derive(Debug, Clone)]
        pub enum AnyArray {
            $(
                #[doc = concat!("A `", stringify!($t), "` array.")]
                $variant(ArrayD<$t>),
            )*
        }

        impl AnyView<'_> {
            /// The same view with a shorter lifetime.
            #[must_use]
            pub fn reborrow(&self) -> AnyView<'_> {
                match self { $(AnyView::$variant(v) => AnyView::$variant(v.view()),)* }
            }
            /// The element type.
            #[must_use]
            pub fn dtype(&self) -> DType {
                match self { $(AnyView::$variant(_) => <$t as Element>::DTYPE,)* }
            }
            /// The shape.
            #[must_use]
            pub fn shape(&self) -> &[usize] {
                match self { $(AnyView::$variant(v) => v.shape(),)* }
            }
        }

        impl AnyArray {
            /// A view of the whole array.
            #[must_use]
            pub fn view(&self) -> AnyView<'_> {
                match self { $(AnyArray::$variant(a) => AnyView::$variant(a.view()),)* }
            }
        }

        $(
            impl<'a> From<ArrayViewD<'a, $t>> for AnyView<'a> {
                fn from(v: ArrayViewD<'a, $t>) -> Self { AnyView::$variant(v) }
            }
            impl From<ArrayD<$t>> for AnyArray {
                fn from(a: ArrayD<$t>) -> Self { AnyArray::$variant(a) }
            }
            impl FromAny for $t {
                fn from_any(v: AnyView<'_>) -> Option<ArrayViewD<'_, $t>> {
                    match v { AnyView::$variant(x) => Some(x), _ => None }
                }
            }
        )*

        /// Runs `$body` with `$v` bound to the typed view inside an [`AnyView`]: the one place a
        /// dtype is dispatched.
        #[macro_export]
        macro_rules! dispatch {
            ($any:expr, $v:ident => $body:expr) => {
                match $any {
                    $($crate::gate::AnyView::$variant($v) => $body,)*
                }
            };
        }
    };
}

/// The typed view inside an [`AnyView`], for a second array that must share the first's type
/// (the first one dispatched with [`dispatch!`]).
pub trait FromAny: Sized {
    /// The view, if `v` holds this element type.
    fn from_any(v: AnyView<'_>) -> Option<ArrayViewD<'_, Self>>;
}

any_types!(
    Bool(Bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
);

/// Views bytes as whichever typed view the layout's dtype calls for.
pub fn view_any_bytes<'a>(
    bytes: &'a [u8],
    offset: usize,
    layout: &RawLayout,
) -> Result<AnyView<'a>> {
    Ok(match layout.dtype {
        DType::Bool => view_bytes::<Bool>(bytes, offset, layout)?.into(),
        DType::I8 => view_bytes::<i8>(bytes, offset, layout)?.into(),
        DType::I16 => view_bytes::<i16>(bytes, offset, layout)?.into(),
        DType::I32 => view_bytes::<i32>(bytes, offset, layout)?.into(),
        DType::I64 => view_bytes::<i64>(bytes, offset, layout)?.into(),
        DType::U8 => view_bytes::<u8>(bytes, offset, layout)?.into(),
        DType::U16 => view_bytes::<u16>(bytes, offset, layout)?.into(),
        DType::U32 => view_bytes::<u32>(bytes, offset, layout)?.into(),
        DType::U64 => view_bytes::<u64>(bytes, offset, layout)?.into(),
        DType::F16 => {
            // A corrupt layout is reported as such before any reason to copy, as `view_bytes`
            // does for the other types.
            check_bounds(bytes, offset, layout)?;
            return Err(Error::CopyRequired(CopyReason::Convert(DType::F16)));
        }
        DType::F32 => view_bytes::<f32>(bytes, offset, layout)?.into(),
        DType::F64 => view_bytes::<f64>(bytes, offset, layout)?.into(),
    })
}

/// What [`inspect`] reports about a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // NumPy's own flags, one field each
pub struct Inspection {
    /// Whether the layout is C-contiguous (NumPy's flag).
    pub c_contiguous: bool,
    /// Whether the layout is Fortran-contiguous (NumPy's flag).
    pub f_contiguous: bool,
    /// Whether every element is aligned to the item size (NumPy's flag: pointer and strides).
    pub aligned: bool,
    /// Whether the byte order is this machine's.
    pub native_byteorder: bool,
    /// Why the layout must be copied, `None` when it is read in place.
    pub reason: Option<CopyReason>,
}

/// Reports a layout's contiguity, alignment and byte order, and whether it is read in place.
pub fn inspect(layout: &RawLayout, data_addr: usize) -> Result<Inspection> {
    let reason = assess(layout, data_addr)?;
    let item = layout.dtype.itemsize();
    Ok(Inspection {
        c_contiguous: is_contiguous(layout, false),
        f_contiguous: is_contiguous(layout, true),
        aligned: data_addr.is_multiple_of(item)
            && layout
                .shape
                .iter()
                .zip(&layout.strides)
                .all(|(&n, &s)| n <= 1 || s % item as isize == 0),
        native_byteorder: item == 1 || layout.byte_order == ByteOrder::NATIVE,
        reason,
    })
}

/// NumPy's contiguity rule: axes of length one are ignored, an empty array is contiguous.
fn is_contiguous(layout: &RawLayout, fortran: bool) -> bool {
    if layout.shape.contains(&0) {
        return true;
    }
    let mut expected = layout.dtype.itemsize() as isize;
    let axes: Vec<usize> = if fortran {
        (0..layout.shape.len()).collect()
    } else {
        (0..layout.shape.len()).rev().collect()
    };
    for axis in axes {
        let n = layout.shape[axis];
        if n != 1 {
            if layout.strides[axis] != expected {
                return false;
            }
            expected *= n as isize;
        }
    }
    true
}

/// The C-order strides in bytes of a shape.
#[must_use]
pub fn c_strides(shape: &[usize], itemsize: usize) -> Vec<isize> {
    let mut strides: Vec<isize> = std::iter::repeat_n(0, shape.len()).collect();
    let mut step = itemsize as isize;
    for (s, &n) in strides.iter_mut().zip(shape).rev() {
        *s = step;
        step *= n.max(1) as isize;
    }
    strides
}

/// The Fortran-order strides in bytes of a shape.
#[must_use]
pub fn f_strides(shape: &[usize], itemsize: usize) -> Vec<isize> {
    let mut strides: Vec<isize> = std::iter::repeat_n(0, shape.len()).collect();
    let mut step = itemsize as isize;
    for (s, &n) in strides.iter_mut().zip(shape) {
        *s = step;
        step *= n.max(1) as isize;
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::NEVER;

    fn layout(dtype: DType, shape: &[usize], strides: &[isize]) -> RawLayout {
        RawLayout {
            dtype,
            byte_order: ByteOrder::NATIVE,
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            writeable: true,
        }
    }

    fn f64_bytes(xs: &[f64]) -> Vec<u8> {
        xs.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn negative_strides_view_the_same_elements_as_numpy() {
        let data = f64_bytes(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // a[::-2] starting at the last element.
        let v = view_bytes::<f64>(&data, 40, &layout(DType::F64, &[3], &[-16])).unwrap();
        assert_eq!(v.iter().copied().collect::<Vec<_>>(), vec![5.0, 3.0, 1.0]);
        // A (2, 3) array read with its rows reversed.
        let v = view_bytes::<f64>(&data, 24, &layout(DType::F64, &[2, 3], &[-24, 8])).unwrap();
        assert_eq!(v.iter().copied().collect::<Vec<_>>(), vec![3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn zero_strides_broadcast() {
        let data = f64_bytes(&[7.0]);
        let v = view_bytes::<f64>(&data, 0, &layout(DType::F64, &[4, 2], &[0, 0])).unwrap();
        assert_eq!(v.sum(), 56.0);
    }

    #[test]
    fn out_of_bounds_and_overflow_are_errors_not_copies() {
        let data = f64_bytes(&[1.0, 2.0]);
        let err = view_bytes::<f64>(&data, 0, &layout(DType::F64, &[3], &[8])).unwrap_err();
        assert!(matches!(err, Error::Layout(_)), "{err}");
        let err = copy_bytes(&data, 8, &layout(DType::F64, &[2], &[-16]), &NEVER).unwrap_err();
        assert!(matches!(err, Error::Layout(_)), "{err}");
        let err = assess(&layout(DType::F64, &[usize::MAX / 2, 4], &[8, 8]), 0).unwrap_err();
        assert!(matches!(err, Error::Layout(_)), "{err}");
        let err = assess(&layout(DType::F64, &[3, 3], &[isize::MAX, 8]), 0).unwrap_err();
        assert!(matches!(err, Error::Layout(_)), "{err}");
    }

    #[test]
    fn unsafe_layouts_are_copied_with_their_reason() {
        let data = f64_bytes(&[1.0, 2.0, 3.0, 4.0]);
        // Misaligned: starts one byte in.
        let l = layout(DType::F64, &[2], &[8]);
        let err = view_bytes::<f64>(&data, 1, &l).unwrap_err();
        assert!(matches!(err, Error::CopyRequired(CopyReason::Misaligned { .. })), "{err}");
        // Stride not a multiple of the item size.
        let l = layout(DType::F64, &[2], &[12]);
        let err = view_bytes::<f64>(&data, 0, &l).unwrap_err();
        assert!(matches!(err, Error::CopyRequired(CopyReason::Stride { axis: 0, .. })), "{err}");
        // Foreign byte order.
        let mut l = layout(DType::F64, &[4], &[8]);
        l.byte_order =
            if ByteOrder::NATIVE == ByteOrder::Little { ByteOrder::Big } else { ByteOrder::Little };
        let swapped: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|x| {
                let mut b = x.to_ne_bytes();
                b.reverse();
                b
            })
            .collect();
        assert!(matches!(
            view_bytes::<f64>(&swapped, 0, &l),
            Err(Error::CopyRequired(CopyReason::ByteOrder(_)))
        ));
        let AnyArray::F64(copy) = copy_bytes(&swapped, 0, &l, &NEVER).unwrap() else {
            panic!("dtype")
        };
        assert_eq!(copy.into_raw_vec_and_offset().0, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn length_one_axes_may_have_any_stride() {
        let data = f64_bytes(&[1.0, 2.0]);
        let v = view_bytes::<f64>(&data, 8, &layout(DType::F64, &[1, 1], &[3, 1_000_000])).unwrap();
        assert_eq!(v.sum(), 2.0);
    }

    #[test]
    fn empty_arrays_view_anything() {
        let v = view_bytes::<f64>(&[], 0, &layout(DType::F64, &[0, 5], &[3, 1 << 40])).unwrap();
        assert_eq!(v.shape(), &[0, 5]);
    }

    #[test]
    fn float16_is_converted() {
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_bits().to_ne_bytes())
            .collect();
        let l = layout(DType::F16, &[2], &[2]);
        assert!(matches!(assess(&l, 0), Ok(Some(CopyReason::Convert(DType::F16)))));
        let AnyArray::F32(a) = copy_bytes(&data, 0, &l, &NEVER).unwrap() else { panic!("dtype") };
        assert_eq!(a.into_raw_vec_and_offset().0, vec![1.5, -2.0]);
    }

    #[test]
    fn contiguity_follows_numpy() {
        let c = layout(DType::F64, &[2, 3], &c_strides(&[2, 3], 8));
        let f = layout(DType::F64, &[2, 3], &f_strides(&[2, 3], 8));
        let i = inspect(&c, 0).unwrap();
        assert!(i.c_contiguous && !i.f_contiguous);
        let i = inspect(&f, 0).unwrap();
        assert!(!i.c_contiguous && i.f_contiguous);
        // NumPy ignores the stride of a length-one axis: one row is both C and F contiguous.
        let row = layout(DType::F64, &[1, 3], &[99, 8]);
        let i = inspect(&row, 0).unwrap();
        assert!(i.c_contiguous && i.f_contiguous);
        let strided = layout(DType::F64, &[3], &[16]);
        let i = inspect(&strided, 0).unwrap();
        assert!(!i.c_contiguous && !i.f_contiguous);
    }
}
