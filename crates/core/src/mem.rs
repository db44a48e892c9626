//! Fallible allocation: every buffer whose size comes from the input is asked for here.
//!
//! A size the machine cannot give becomes [`Error::Memory`] (Python's `MemoryError`, a one-line
//! error in the CLI) before anything is written, never an abort; a size whose bytes overflow
//! `isize` is refused as NumPy refuses it ([`Error::TooBig`]). The workspace's clippy
//! configuration forbids the infallible constructors (`vec!`, `Vec::with_capacity`,
//! `Array::from_elem`, ...) outside this module, so a new input-sized allocation cannot slip
//! past it unseen; the few of fixed size say why where they opt out.

#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use ndarray::{Array, Dimension, IntoDimension};

use crate::error::{Error, Result};

/// The number of elements of `shape` holding `itemsize`-byte values, refused when the bytes of
/// its non-zero lengths overflow `isize` (NumPy's "array is too big").
pub fn elements(shape: &[usize], itemsize: usize) -> Result<usize> {
    let too_big = || Error::TooBig { shape: shape.to_vec() };
    let mut bytes = itemsize.max(1);
    let mut count = 1usize;
    for &n in shape {
        count = count.saturating_mul(n);
        if n > 0 {
            bytes =
                bytes.checked_mul(n).filter(|&b| isize::try_from(b).is_ok()).ok_or_else(too_big)?;
        }
    }
    Ok(count)
}

/// Why room for `count` values of `T` was refused: too many bytes to address, or too many for
/// the machine.
fn refused<T>(count: usize) -> Error {
    match count.checked_mul(size_of::<T>()).map(isize::try_from) {
        Some(Ok(_)) => Error::Memory { count, itemsize: size_of::<T>() },
        _ => Error::TooBig { shape: vec![count] },
    }
}

/// An empty vector with room for `n` values.
pub fn with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    reserve(&mut v, n)?;
    Ok(v)
}

/// Room for `additional` more values in `v`.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize) -> Result<()> {
    v.try_reserve_exact(additional).map_err(|_| refused::<T>(v.len().saturating_add(additional)))
}

/// `n` copies of `value`.
pub fn filled<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    v.resize(n, value);
    Ok(v)
}

/// `v` grown (or shrunk) to `n` values, new ones `value`.
pub fn resize<T: Clone>(v: &mut Vec<T>, n: usize, value: T) -> Result<()> {
    if n > v.len() {
        reserve(v, n - v.len())?;
    }
    v.resize(n, value);
    Ok(())
}

/// The values of `iter`, which yields at most `n` of them (more would reallocate, infallibly).
pub fn collect<T>(n: usize, iter: impl IntoIterator<Item = T>) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    v.extend(iter);
    Ok(v)
}

/// The values of `iter`, which yields at most `n` results, or its first error.
pub fn try_collect<T>(n: usize, iter: impl IntoIterator<Item = Result<T>>) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    for x in iter {
        v.push(x?);
    }
    Ok(v)
}

/// An array of `shape` filled with `value`.
pub fn array<T: Clone, D: Dimension>(
    shape: impl IntoDimension<Dim = D>,
    value: T,
) -> Result<Array<T, D>> {
    let dim = shape.into_dimension();
    let n = elements(dim.slice(), size_of::<T>())?;
    shaped(dim, filled(n, value)?)
}

/// `values` (one per element, in C order) as an array of `shape`.
pub fn shaped<T, D: Dimension>(
    shape: impl IntoDimension<Dim = D>,
    values: Vec<T>,
) -> Result<Array<T, D>> {
    let dim = shape.into_dimension();
    let shape = dim.slice().to_vec();
    Array::from_shape_vec(dim, values).map_err(|e| match e.kind() {
        ndarray::ErrorKind::Overflow => Error::TooBig { shape },
        _ => Error::Invalid(format!("internal error: values do not fill shape {shape:?}: {e}")),
    })
}

/// A C-ordered copy of `a`.
pub fn owned<T: Clone, D: Dimension>(a: &ndarray::ArrayView<'_, T, D>) -> Result<Array<T, D>> {
    let values = collect(a.len(), a.iter().cloned())?;
    shaped(a.raw_dim(), values)
}

/// NumPy's way of writing a number of bytes: `8.00 TiB`.
#[must_use]
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut unit = 0;
    let mut scaled = bytes as f64;
    while scaled >= 1023.995 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{scaled:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_the_machine_cannot_give_are_errors_not_aborts() {
        assert!(matches!(filled(1usize << 60, 0u8), Err(Error::Memory { .. })));
        assert!(matches!(with_capacity::<f64>(1 << 61), Err(Error::TooBig { .. })));
        assert!(matches!(array([1usize << 40, 1 << 30], 0.0f64), Err(Error::TooBig { .. })));
        let msg = filled(1usize << 50, 0.0f64).unwrap_err().to_string();
        assert_eq!(msg, "Unable to allocate 8.00 PiB for 1125899906842624 values of 8 bytes");
    }

    #[test]
    fn empty_shapes_are_checked_on_their_other_lengths() {
        assert_eq!(elements(&[0, 1 << 40], 8).unwrap(), 0);
        assert!(matches!(elements(&[0, 1 << 62, 4], 8), Err(Error::TooBig { .. })));
        assert_eq!(array([0, 1 << 40], 0.0f64).unwrap().len(), 0);
    }

    #[test]
    fn byte_counts_read_as_numpy_writes_them() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(8 << 40), "8.00 TiB");
        assert_eq!(human_bytes(1_500_000_000), "1.40 GiB");
    }
}
