//! Feature scaling as scikit-learn does it: one pass for each feature's statistics, one pass to
//! transform, into a new array, a given one, or in place.
//!
//! Tables are seen as samples × features (the caller transposes for `axis=1`). NaN is ignored
//! by the statistics and stays NaN, as in scikit-learn's scalers. Statistics are accumulated in
//! `f64` over fixed blocks of rows merged in a fixed order (Chan's update of mean and squared
//! deviations, each block's deviations taken from its own mean), so results do not depend on
//! the number of threads and large offsets cost no precision.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::pool;

/// How features are scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scaling {
    /// `(x - mean) / std` (scikit-learn's `StandardScaler`, `scale`); a constant feature is
    /// only centred, never divided by zero.
    Standard {
        /// Delta degrees of freedom of the standard deviation.
        ddof: f64,
        /// Subtract the mean.
        with_mean: bool,
        /// Divide by the standard deviation.
        with_std: bool,
    },
    /// `x * scale + min` mapping each feature's range onto `lo..=hi` (scikit-learn's
    /// `minmax_scale`); a constant feature maps to `lo`.
    MinMax {
        /// Lower end of the target range.
        lo: f64,
        /// Upper end of the target range.
        hi: f64,
    },
}

/// Rows whose deviations are taken from their own mean before merging: a block of the widest
/// table stays in L1.
const BLOCK_ROWS: usize = 64;
/// Elements a parallel task of the statistics pass covers at least.
const TASK: usize = 1 << 16;
/// Below this many elements, one thread does everything.
const SERIAL_BELOW: usize = 1 << 16;

/// One feature's statistics so far.
#[derive(Clone, Copy, Debug)]
struct Stat {
    n: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Stat {
    const EMPTY: Stat = Stat { n: 0.0, mean: 0.0, m2: 0.0, min: f64::NAN, max: f64::NAN };

    /// Chan's merge of two disjoint parts.
    fn merge(self, b: Stat) -> Stat {
        if b.n == 0.0 {
            return self;
        }
        if self.n == 0.0 {
            return b;
        }
        let n = self.n + b.n;
        let delta = b.mean - self.mean;
        Stat {
            n,
            mean: self.mean + delta * (b.n / n),
            m2: self.m2 + b.m2 + delta * delta * (self.n * b.n / n),
            min: self.min.min(b.min),
            max: self.max.max(b.max),
        }
    }
}

/// Statistics of rows `rows` (samples × features) merged into `acc`.
fn block_stats<T: Element>(rows: &ArrayView2<'_, T>, acc: &mut [Stat]) {
    let m = rows.ncols();
    let mut n = vec![0.0; m];
    let mut sum = vec![0.0; m];
    let mut lo = vec![f64::INFINITY; m];
    let mut hi = vec![f64::NEG_INFINITY; m];
    let mut row_buf = vec![0.0; m];
    // A row as f64 values: converted in place when contiguous, gathered otherwise.
    let as_f64 = |row: ArrayView1<'_, T>, buf: &mut [f64]| match row.as_slice() {
        Some(xs) => buf.iter_mut().zip(xs).for_each(|(b, x)| *b = x.to_f64()),
        None => buf.iter_mut().zip(row.iter()).for_each(|(b, x)| *b = x.to_f64()),
    };
    for row in rows.rows() {
        as_f64(row, &mut row_buf);
        let lanes = n.iter_mut().zip(&mut sum).zip(lo.iter_mut().zip(&mut hi));
        for (((n, s), (l, h)), &x) in lanes.zip(&row_buf) {
            let ok = !x.is_nan();
            *n += f64::from(u8::from(ok));
            *s += if ok { x } else { 0.0 };
            *l = if x < *l { x } else { *l };
            *h = if x > *h { x } else { *h };
        }
    }
    let mean: Vec<f64> =
        sum.iter().zip(&n).map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 }).collect();
    let mut m2 = vec![0.0; m];
    for row in rows.rows() {
        as_f64(row, &mut row_buf);
        for ((q, mu), &x) in m2.iter_mut().zip(&mean).zip(&row_buf) {
            let d = if x.is_nan() { 0.0 } else { x - mu };
            *q += d * d;
        }
    }
    for j in 0..m {
        let b = if n[j] > 0.0 {
            Stat { n: n[j], mean: mean[j], m2: m2[j], min: lo[j], max: hi[j] }
        } else {
            Stat::EMPTY
        };
        acc[j] = acc[j].merge(b);
    }
}

/// Each feature's statistics: blocks of rows, merged in order within fixed chunks of rows,
/// then chunk by chunk in order.
fn stats<T: Element>(a: &ArrayView2<'_, T>, cancel: &Cancel) -> Result<Vec<Stat>> {
    let (rows, m) = a.dim();
    let chunk_rows = (TASK / m.max(1)).max(1).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
    let chunk = |k: usize| {
        cancel.check()?;
        let mut acc = vec![Stat::EMPTY; m];
        let end = ((k + 1) * chunk_rows).min(rows);
        let mut r = k * chunk_rows;
        while r < end {
            let stop = (r + BLOCK_ROWS).min(end);
            block_stats(&a.slice(ndarray::s![r..stop, ..]), &mut acc);
            r = stop;
        }
        Ok::<_, Error>(acc)
    };
    let chunks = rows.div_ceil(chunk_rows);
    let parts: Vec<Vec<Stat>> = if a.len() < SERIAL_BELOW || pool::threads_here() == 1 {
        (0..chunks).map(chunk).collect::<Result<_>>()?
    } else {
        pool::install(|| (0..chunks).into_par_iter().map(chunk).collect::<Result<_>>())?
    };
    let mut total = vec![Stat::EMPTY; m];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t = t.merge(p);
        }
    }
    Ok(total)
}

/// The transform of each feature, written as scikit-learn computes it.
enum Map {
    /// `(x - center) / scale`.
    Standard { center: Vec<f64>, scale: Vec<f64> },
    /// `x * scale + shift`.
    MinMax { scale: Vec<f64>, shift: Vec<f64> },
}

/// scikit-learn's `_is_constant_feature`: a variance within rounding of zero.
#[allow(clippy::suspicious_operation_groupings)]
fn is_constant(var: f64, mean: f64, n: f64) -> bool {
    let eps = f64::EPSILON;
    let bound = n * eps * var + (n * mean * eps).powi(2);
    var <= bound
}

fn map(stats: &[Stat], how: &Scaling) -> Result<Map> {
    Ok(match *how {
        Scaling::Standard { ddof, with_mean, with_std } => {
            let center = stats.iter().map(|s| if with_mean { s.mean } else { 0.0 }).collect();
            let scale = stats
                .iter()
                .map(|s| {
                    if !with_std {
                        return 1.0;
                    }
                    let var0 = s.m2 / s.n;
                    let sd = (s.m2 / (s.n - ddof)).sqrt();
                    // scikit-learn's two guards: a constant feature, and a scale below 10 eps.
                    if is_constant(var0, s.mean, s.n) || sd < 10.0 * f64::EPSILON {
                        1.0
                    } else {
                        sd
                    }
                })
                .collect();
            Map::Standard { center, scale }
        }
        Scaling::MinMax { lo, hi } => {
            if lo >= hi {
                return Err(Error::Invalid(format!(
                    "Minimum of desired feature range must be smaller than maximum. Got ({lo}, {hi})."
                )));
            }
            let scale: Vec<f64> = stats
                .iter()
                .map(|s| {
                    let range = s.max - s.min;
                    (hi - lo) / if range < 10.0 * f64::EPSILON { 1.0 } else { range }
                })
                .collect();
            let shift = stats.iter().zip(&scale).map(|(s, k)| lo - s.min * k).collect();
            Map::MinMax { scale, shift }
        }
    })
}

/// Scales the features (columns) of `a` into `out` (same shape, any layout).
///
/// ```
/// use ndarray::{array, Array2};
/// use nocopy_core::{scale::{scale_into, Scaling}, NEVER};
/// let a = array![[1.0, 5.0], [3.0, 5.0]];
/// let mut out = Array2::<f64>::zeros((2, 2));
/// let how = Scaling::Standard { ddof: 0.0, with_mean: true, with_std: true };
/// scale_into(&a.view(), &how, &mut out.view_mut(), &NEVER).unwrap();
/// assert_eq!(out, array![[-1.0, 0.0], [1.0, 0.0]]);
/// ```
pub fn scale_into<T: Element, F: Element>(
    a: &ArrayView2<'_, T>,
    how: &Scaling,
    out: &mut ArrayViewMut2<'_, F>,
    cancel: &Cancel,
) -> Result<()> {
    if a.shape() != out.shape() {
        return Err(Error::Invalid(format!(
            "out has shape {:?}, the input {:?}",
            out.shape(),
            a.shape()
        )));
    }
    let f = map(&stats(a, cancel)?, how)?;
    cancel.check()?;
    transform(out, Some(a), &f);
    Ok(())
}

/// Scales the features (columns) of `x` in place.
pub fn scale_in_place<F: Element>(
    x: &mut ArrayViewMut2<'_, F>,
    how: &Scaling,
    cancel: &Cancel,
) -> Result<()> {
    let f = map(&stats(&x.view(), cancel)?, how)?;
    cancel.check()?;
    transform::<F, F>(x, None, &f);
    Ok(())
}

/// `out = f(src)`, or `out = f(out)` without `src`; along rows or down columns, whichever the
/// output has contiguous.
fn transform<T: Element, F: Element>(
    out: &mut ArrayViewMut2<'_, F>,
    src: Option<&ArrayView2<'_, T>>,
    f: &Map,
) {
    let serial = out.len() < SERIAL_BELOW || pool::threads_here() == 1;
    let down_columns = out.strides()[0].unsigned_abs() == 1 && out.nrows() > 1;
    let axis = if down_columns { Axis(1) } else { Axis(0) };
    // Lane `i` is feature `i` down a column, or sample `i` along a row (feature `j`).
    let lane = |i: usize, mut o: ArrayViewMut1<'_, F>, xs: Option<ArrayView1<'_, T>>| {
        let feature = |j: usize| if down_columns { i } else { j };
        match (f, xs) {
            (Map::Standard { center, scale }, Some(xs)) => {
                Zip::indexed(&mut o).and(&xs).for_each(|j, o, x| {
                    *o = F::from_f64((x.to_f64() - center[feature(j)]) / scale[feature(j)]);
                });
            }
            (Map::Standard { center, scale }, None) => Zip::indexed(&mut o).for_each(|j, o| {
                *o = F::from_f64((o.to_f64() - center[feature(j)]) / scale[feature(j)]);
            }),
            (Map::MinMax { scale, shift }, Some(xs)) => {
                Zip::indexed(&mut o).and(&xs).for_each(|j, o, x| {
                    *o = F::from_f64(x.to_f64() * scale[feature(j)] + shift[feature(j)]);
                });
            }
            (Map::MinMax { scale, shift }, None) => Zip::indexed(&mut o).for_each(|j, o| {
                *o = F::from_f64(o.to_f64() * scale[feature(j)] + shift[feature(j)]);
            }),
        }
    };
    match src {
        Some(s) if serial => {
            for (i, (o, x)) in out.axis_iter_mut(axis).zip(s.axis_iter(axis)).enumerate() {
                lane(i, o, Some(x));
            }
        }
        None if serial => {
            for (i, o) in out.axis_iter_mut(axis).enumerate() {
                lane(i, o, None);
            }
        }
        Some(s) => pool::install(|| {
            out.axis_iter_mut(axis)
                .into_par_iter()
                .zip(s.axis_iter(axis).into_par_iter())
                .enumerate()
                .with_min_len(64)
                .for_each(|(i, (o, x))| lane(i, o, Some(x)));
        }),
        None => pool::install(|| {
            out.axis_iter_mut(axis)
                .into_par_iter()
                .enumerate()
                .with_min_len(64)
                .for_each(|(i, o)| lane(i, o, None));
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NEVER;
    use ndarray::{Array2, array};

    #[test]
    fn standardizes_with_an_offset_and_a_constant_feature() {
        let a = Array2::from_shape_fn((1000, 3), |(i, j)| match j {
            0 => 1e9 + f64::from(u32::try_from(i % 7).unwrap()),
            1 => 4.25,
            _ => f64::from(u32::try_from(i).unwrap()),
        });
        let how = Scaling::Standard { ddof: 0.0, with_mean: true, with_std: true };
        let mut out = Array2::<f64>::zeros(a.dim());
        scale_into(&a.view(), &how, &mut out.view_mut(), &NEVER).unwrap();
        for j in [0, 2] {
            let c = out.column(j);
            let mean = c.sum() / 1000.0;
            let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 1000.0;
            // Values near 1e9 are spaced 1.2e-7 apart: that is the resolution at the offset.
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-6, "{j}: {mean} {var}");
        }
        assert!(out.column(1).iter().all(|&x| x == 0.0));
        let mut inplace = a.clone();
        scale_in_place(&mut inplace.view_mut(), &how, &NEVER).unwrap();
        assert_eq!(inplace, out);
        let mut f = Array2::<f64>::zeros(ndarray::ShapeBuilder::f(a.dim()));
        scale_into(&a.view(), &how, &mut f.view_mut(), &NEVER).unwrap();
        assert_eq!(f, out);
    }

    #[test]
    fn minmax_maps_onto_the_range_and_refuses_an_empty_one() {
        let a = array![[1.0, 2.0], [3.0, 2.0], [f64::NAN, 2.0], [2.0, 2.0]];
        let mut out = Array2::<f64>::zeros(a.dim());
        scale_into(&a.view(), &Scaling::MinMax { lo: -1.0, hi: 1.0 }, &mut out.view_mut(), &NEVER)
            .unwrap();
        assert_eq!(out.column(0).to_vec()[..2], [-1.0, 1.0]);
        assert!(out[[2, 0]].is_nan());
        assert_eq!(out.column(1).to_vec(), vec![-1.0; 4]);
        let bad = Scaling::MinMax { lo: 1.0, hi: 1.0 };
        assert!(scale_into(&a.view(), &bad, &mut out.view_mut(), &NEVER).is_err());
    }
}
