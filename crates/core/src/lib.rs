//! nocopy-core: fast, multi-threaded NumPy-compatible kernels on `ndarray` views.
//!
//! Memory reaches the kernels through one gate ([`gate`]): a raw description of strided memory
//! becomes a typed view when that is safe, and is copied (or refused) with a stated reason when it
//! is not. The kernels are generic over [`Element`]; results are the same bit for bit for any
//! number of threads.
//!
//! ```
//! use ndarray::array;
//! use nocopy_core::{describe, sum, Reduce, NEVER};
//!
//! let x = array![[1.0, 2.0], [3.0, 5.0]].into_dyn();
//! let by_column = describe(&x.view(), &Reduce::axis(0), &NEVER).unwrap();
//! assert_eq!(by_column.mean.into_raw_vec_and_offset().0, vec![2.0, 3.5]);
//! assert_eq!(sum(&x.view(), &Reduce::all(), &NEVER).unwrap().item().unwrap(), 11.0);
//! ```

// Tests build what they need: the fallible-allocation rule is for what input sizes.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_macros))]

pub mod cancel;
mod columns;
pub mod describe;
pub mod distance;
pub mod dtype;
mod engine;
pub mod error;
pub mod gate;
pub mod histogram;
pub mod kmeans;
mod lloyd;
pub mod mem;
pub mod moving;
pub mod npy;
pub mod pool;
pub mod quantile;
pub mod reduce;
pub mod scale;
pub mod simd;

pub use cancel::{Cancel, NEVER};
pub use describe::{Partial, Summary, describe};
pub use dtype::{Bool, ByteOrder, DType, Element};
pub use error::{Error, Result};
pub use gate::{AnyArray, AnyView, CopyPolicy, CopyReason, RawLayout, Source};
pub use moving::{MoveOp, Window, moving, moving_into};
pub use reduce::{
    Axes, Moments, Reduce, Reduced, Warning, allnan, anynan, argmax, argmin, max, mean, min, std,
    sum, var,
};

/// Deterministic uniform draws in `[0, 1)` for the tests (a linear congruential generator).
#[cfg(test)]
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let x = (s >> 11) as f64 / (1u64 << 53) as f64;
            x
        })
        .collect()
}
