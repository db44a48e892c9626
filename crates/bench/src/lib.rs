//! Inputs for nocopy's criterion benchmarks: the same values reached by the three roads into the
//! kernels — a zero-copy view of existing memory, the copying path, and `.npy` bytes.

// A benchmark's inputs are its own to size.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use ndarray::{ArrayD, IxDyn};
use nocopy_core::gate::{self, CopyPolicy, RawLayout, c_strides};
use nocopy_core::{ByteOrder, DType, Source};

/// `n` float64 values of mixed scale, native and C-contiguous, as bytes.
#[must_use]
pub fn f64_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 8);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = (state >> 11) as f64 / (1u64 << 53) as f64;
        out.extend_from_slice(&(x * 1e3 + (i % 7) as f64).to_ne_bytes());
    }
    out
}

/// The layout of `n` native float64 values in a row.
#[must_use]
pub fn f64_layout(n: usize) -> RawLayout {
    RawLayout {
        dtype: DType::F64,
        byte_order: ByteOrder::NATIVE,
        shape: vec![n],
        strides: c_strides(&[n], 8),
        writeable: false,
    }
}

/// An owned, 8-byte-aligned float64 array of `n` values (the memory a view borrows).
///
/// # Panics
/// Never: the values are made to fit the shape.
#[must_use]
pub fn f64_array(n: usize) -> ArrayD<f64> {
    let bytes = f64_bytes(n);
    let values =
        bytes.chunks_exact(8).map(|c| f64::from_ne_bytes(c.try_into().expect("8 bytes"))).collect();
    ArrayD::from_shape_vec(IxDyn(&[n]), values).expect("shape matches")
}

/// `.npy` file bytes holding `array`.
///
/// # Panics
/// When the bytes cannot be allocated.
#[must_use]
pub fn npy_bytes(array: &ArrayD<f64>) -> Vec<u8> {
    nocopy_core::npy::to_bytes(&array.view()).expect("memory for the bytes")
}

/// The serialization road: parse `.npy` bytes and pass them through the gate.
pub fn from_npy(bytes: &[u8]) -> nocopy_core::Result<Source<'_>> {
    let header = nocopy_core::npy::parse_header(bytes)?;
    nocopy_core::npy::check_complete(&header, bytes.len())?;
    gate::view_or_copy_bytes(
        bytes,
        header.data_offset,
        &header.layout,
        CopyPolicy::IfNeeded,
        &nocopy_core::NEVER,
    )
}

/// The bytes of an array's memory, for the gate's byte-slice road (no copy).
///
/// # Panics
/// If `array` is not contiguous (those [`f64_array`] makes always are).
#[must_use]
pub fn as_bytes(array: &ArrayD<f64>) -> &[u8] {
    bytemuck::cast_slice(array.as_slice().expect("an owned array is contiguous"))
}
