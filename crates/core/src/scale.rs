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
use crate::{engine, mem, pool, simd};

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
pub(crate) struct Stat {
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

/// A row of `f64` values as the statistics read them: in place when it is a contiguous row of
/// `float64` and nothing is scaled first (no copy), else converted (and multiplied by `pre`)
/// into `buf`.
#[inline(always)]
#[allow(clippy::inline_always)]
fn values_of<'r, T: Element>(
    row: &ArrayView1<'r, T>,
    pre: &[f64],
    buf: &'r mut [f64],
) -> &'r [f64] {
    if pre.is_empty()
        && let Some(xs) = row.to_slice()
        && let crate::dtype::Native::F64(v) = T::native(xs)
    {
        return v;
    }
    match row.as_slice() {
        Some(xs) => buf.iter_mut().zip(xs).for_each(|(b, x)| *b = x.to_f64()),
        None => buf.iter_mut().zip(row.iter()).for_each(|(b, x)| *b = x.to_f64()),
    }
    if !pre.is_empty() {
        buf.iter_mut().zip(pre).for_each(|(b, p)| *b *= p);
    }
    buf
}

/// Statistics of rows `rows` (samples × features), each value first multiplied by its
/// feature's `pre` (none: as it is), merged into `acc`.
#[inline(always)]
#[allow(clippy::inline_always)]
fn block_stats_body<T: Element, const L: u8>(
    rows: &ArrayView2<'_, T>,
    pre: &[f64],
    acc: &mut [Stat],
) -> Result<()> {
    let m = rows.ncols();
    let mut n = mem::filled(m, 0.0)?;
    let mut sum = mem::filled(m, 0.0)?;
    let mut lo = mem::filled(m, f64::INFINITY)?;
    let mut hi = mem::filled(m, f64::NEG_INFINITY)?;
    let mut row_buf = mem::filled(m, 0.0)?;
    for row in rows.rows() {
        let xs = values_of(&row, pre, &mut row_buf);
        let lanes = n.iter_mut().zip(&mut sum).zip(lo.iter_mut().zip(&mut hi));
        for (((n, s), (l, h)), &x) in lanes.zip(xs) {
            let ok = !x.is_nan();
            *n += f64::from(u8::from(ok));
            *s += if ok { x } else { 0.0 };
            *l = if x < *l { x } else { *l };
            *h = if x > *h { x } else { *h };
        }
    }
    let mean: Vec<f64> =
        mem::collect(m, sum.iter().zip(&n).map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 }))?;
    let mut m2 = mem::filled(m, 0.0)?;
    for row in rows.rows() {
        let xs = values_of(&row, pre, &mut row_buf);
        for ((q, mu), &x) in m2.iter_mut().zip(&mean).zip(xs) {
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
    Ok(())
}

simd::multilevel! {
    /// [`block_stats_body`] compiled for the chosen level.
    fn block_stats<T>(rows: &ArrayView2<'_, T>, pre: &[f64], acc: &mut [Stat]) -> Result<()> = block_stats_body;
}

/// Each feature's statistics (values multiplied by `pre`, when given): blocks of rows merged in
/// order within fixed chunks of rows, then the chunks in the engine's fixed tree. Memory: a
/// few rows of statistics per thread, whatever the number of rows.
fn stats<T: Element>(a: &ArrayView2<'_, T>, pre: &[f64], cancel: &Cancel) -> Result<Vec<Stat>> {
    let (rows, m) = a.dim();
    let chunk_rows = (TASK / m.max(1)).max(1).div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
    let chunk = |k: usize| {
        cancel.check()?;
        let mut acc = mem::filled(m, Stat::EMPTY)?;
        let end = ((k + 1) * chunk_rows).min(rows);
        let mut r = k * chunk_rows;
        while r < end {
            let stop = (r + BLOCK_ROWS).min(end);
            block_stats(&a.slice(ndarray::s![r..stop, ..]), pre, &mut acc)?;
            r = stop;
        }
        Ok::<_, Error>(acc)
    };
    let merge = |mut x: Vec<Stat>, y: Vec<Stat>| {
        x.iter_mut().zip(y).for_each(|(t, p)| *t = t.merge(p));
        x
    };
    let chunks = rows.div_ceil(chunk_rows);
    if chunks == 0 {
        return mem::filled(m, Stat::EMPTY);
    }
    if a.len() < SERIAL_BELOW || pool::threads_here() == 1 {
        engine::serial_tree(0, chunks, &mut |k| chunk(k), &merge)
    } else {
        pool::install(|| engine::parallel_tree(0, chunks, &chunk, &merge, cancel))
    }
}

/// Magnitudes from which a feature's values are scaled down by a power of two before any
/// arithmetic: sums and squared deviations of up to 2⁶⁰ such values stay finite.
const HUGE: f64 = 3.1e144; // about 2^480

/// Each feature's statistics, and the power of two its values were multiplied by first (1
/// unless some value of the feature is beyond [`HUGE`]): a second pass, in that rare case, so
/// that no sum overflows where the scaled result is representable.
fn statistics<T: Element>(a: &ArrayView2<'_, T>, cancel: &Cancel) -> Result<(Vec<Stat>, Vec<f64>)> {
    let plain = stats(a, &[], cancel)?;
    let pre: Vec<f64> = mem::collect(
        plain.len(),
        plain.iter().map(|s| {
            let big = s.min.abs().max(s.max.abs());
            if big >= HUGE && big.is_finite() {
                2f64.powi(-(big.log2().floor() as i32))
            } else {
                1.0
            }
        }),
    )?;
    if pre.iter().all(|&p| p == 1.0) {
        return Ok((plain, pre));
    }
    Ok((stats(a, &pre, cancel)?, pre))
}

/// The transform of each feature, written as scikit-learn computes it, on values first
/// multiplied by `pre` (1, or a power of two for huge values) and results multiplied by `post`
/// (1, or the inverse of `pre` where the result has the data's units).
struct Map {
    pre: Vec<f64>,
    post: Vec<f64>,
    kind: MapKind,
}

enum MapKind {
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

fn map(stats: &[Stat], pre: Vec<f64>, how: &Scaling) -> Result<Map> {
    let m = stats.len();
    let ones = || mem::filled(m, 1.0);
    Ok(match *how {
        Scaling::Standard { ddof, with_mean, with_std } => {
            let center =
                mem::collect(m, stats.iter().map(|s| if with_mean { s.mean } else { 0.0 }))?;
            let mut divided: Vec<bool> = mem::filled(m, false)?;
            let scale = mem::collect(
                m,
                stats.iter().zip(&pre).zip(divided.iter_mut()).map(|((s, p), divided)| {
                    if !with_std {
                        return 1.0;
                    }
                    let var0 = s.m2 / s.n;
                    let sd = (s.m2 / (s.n - ddof)).sqrt();
                    // scikit-learn's two guards: a constant feature, and a scale below 10 eps
                    // (of the values as they are, not as scaled).
                    if is_constant(var0, s.mean, s.n) || sd / p < 10.0 * f64::EPSILON {
                        1.0
                    } else {
                        *divided = true;
                        sd
                    }
                }),
            )?;
            // A feature divided by its deviation has no units; otherwise scale the result back.
            let post = mem::collect(
                m,
                pre.iter().zip(&divided).map(|(p, &d)| if d { 1.0 } else { 1.0 / p }),
            )?;
            Map { pre, post, kind: MapKind::Standard { center, scale } }
        }
        Scaling::MinMax { lo, hi } => {
            if lo >= hi {
                return Err(Error::Invalid(format!(
                    "Minimum of desired feature range must be smaller than maximum. Got ({lo}, {hi})."
                )));
            }
            let scale: Vec<f64> = mem::collect(
                m,
                stats.iter().zip(&pre).map(|(s, p)| {
                    let range = s.max - s.min;
                    (hi - lo) / if range / p < 10.0 * f64::EPSILON { 1.0 } else { range }
                }),
            )?;
            let shift = mem::collect(m, stats.iter().zip(&scale).map(|(s, k)| lo - s.min * k))?;
            Map { pre, post: ones()?, kind: MapKind::MinMax { scale, shift } }
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
    if a.is_empty() {
        // Nothing to scale (and no walk down 2⁴⁰ empty rows); the range is still checked.
        return map(&[], Vec::new(), how).map(|_| ());
    }
    let (stats, pre) = statistics(a, cancel)?;
    let f = map(&stats, pre, how)?;
    transform(out, Some(a), &f, cancel)
}

/// Scales the features (columns) of `x` in place.
pub fn scale_in_place<F: Element>(
    x: &mut ArrayViewMut2<'_, F>,
    how: &Scaling,
    cancel: &Cancel,
) -> Result<()> {
    if x.is_empty() {
        return map(&[], Vec::new(), how).map(|_| ());
    }
    let (stats, pre) = statistics(&x.view(), cancel)?;
    let f = map(&stats, pre, how)?;
    transform::<F, F>(x, None, &f, cancel)
}

/// `out = f(src)`, or `out = f(out)` without `src`; along rows or down columns, whichever the
/// output has contiguous. `cancel` is polled per lane; a cancelled transform leaves `out` part
/// written (it is the caller's new array, or the input they asked to overwrite).
fn transform<T: Element, F: Element>(
    out: &mut ArrayViewMut2<'_, F>,
    src: Option<&ArrayView2<'_, T>>,
    f: &Map,
    cancel: &Cancel,
) -> Result<()> {
    let serial = out.len() < SERIAL_BELOW || pool::threads_here() == 1;
    let down_columns = out.strides()[0].unsigned_abs() == 1 && out.nrows() > 1;
    let axis = if down_columns { Axis(1) } else { Axis(0) };
    let (pre, post) = (&f.pre, &f.post);
    // Lane `i` is feature `i` down a column, or sample `i` along a row (feature `j`).
    // No value scaled down first (the rule): `x * 1.0` and `y * 1.0` are `x` and `y`, so
    // leaving the factors out changes no bit, and the loops below vectorize.
    let plain = pre.iter().chain(post).all(|&p| p == 1.0);
    let lane = |i: usize, mut o: ArrayViewMut1<'_, F>, xs: Option<ArrayView1<'_, T>>| {
        cancel.check()?;
        if plain
            && let Some(o) = o.as_slice_mut()
            && let Some(xs) = xs.as_ref().map_or(Some(None), |x| x.to_slice().map(Some))
        {
            let n = o.len();
            match &f.kind {
                MapKind::Standard { center, scale } if down_columns => {
                    let (c, s) = (center[i], scale[i]);
                    each(o, xs, |x, _| (x - c) / s);
                }
                MapKind::Standard { center, scale } => {
                    let (c, s) = (&center[..n], &scale[..n]);
                    each(o, xs, |x, j| (x - c[j]) / s[j]);
                }
                MapKind::MinMax { scale, shift } if down_columns => {
                    let (k, b) = (scale[i], shift[i]);
                    each(o, xs, |x, _| x * k + b);
                }
                MapKind::MinMax { scale, shift } => {
                    let (k, b) = (&scale[..n], &shift[..n]);
                    each(o, xs, |x, j| x * k[j] + b[j]);
                }
            }
            return Ok(());
        }
        let feature = |j: usize| if down_columns { i } else { j };
        match (&f.kind, xs) {
            (MapKind::Standard { center, scale }, Some(xs)) => {
                Zip::indexed(&mut o).and(&xs).for_each(|j, o, x| {
                    let k = feature(j);
                    *o = F::from_f64((x.to_f64() * pre[k] - center[k]) / scale[k] * post[k]);
                });
            }
            (MapKind::Standard { center, scale }, None) => Zip::indexed(&mut o).for_each(|j, o| {
                let k = feature(j);
                *o = F::from_f64((o.to_f64() * pre[k] - center[k]) / scale[k] * post[k]);
            }),
            (MapKind::MinMax { scale, shift }, Some(xs)) => {
                Zip::indexed(&mut o).and(&xs).for_each(|j, o, x| {
                    let k = feature(j);
                    *o = F::from_f64(x.to_f64() * pre[k] * scale[k] + shift[k]);
                });
            }
            (MapKind::MinMax { scale, shift }, None) => Zip::indexed(&mut o).for_each(|j, o| {
                let k = feature(j);
                *o = F::from_f64(o.to_f64() * pre[k] * scale[k] + shift[k]);
            }),
        }
        Ok::<_, Error>(())
    };
    match src {
        Some(s) if serial => {
            for (i, (o, x)) in out.axis_iter_mut(axis).zip(s.axis_iter(axis)).enumerate() {
                lane(i, o, Some(x))?;
            }
            Ok(())
        }
        None if serial => {
            for (i, o) in out.axis_iter_mut(axis).enumerate() {
                lane(i, o, None)?;
            }
            Ok(())
        }
        Some(s) => pool::install(|| {
            out.axis_iter_mut(axis)
                .into_par_iter()
                .zip(s.axis_iter(axis).into_par_iter())
                .enumerate()
                .with_min_len(64)
                .try_for_each(|(i, (o, x))| lane(i, o, Some(x)))
        }),
        None => pool::install(|| {
            out.axis_iter_mut(axis)
                .into_par_iter()
                .enumerate()
                .with_min_len(64)
                .try_for_each(|(i, o)| lane(i, o, None))
        }),
    }
}

/// `o[j] = op(x[j], j)` over a contiguous lane (`x` is `o` itself without `xs`), in a loop
/// that vectorizes (the division of a standardization, four at a time with AVX2, was half its
/// time one at a time).
#[inline(always)]
#[allow(clippy::inline_always)]
fn each_body<T: Element, F: Element>(
    o: &mut [F],
    xs: Option<&[T]>,
    op: impl Fn(f64, usize) -> f64,
) {
    match xs {
        Some(xs) => {
            for (j, (o, x)) in o.iter_mut().zip(xs).enumerate() {
                *o = F::from_f64(op(x.to_f64(), j));
            }
        }
        None => {
            for (j, o) in o.iter_mut().enumerate() {
                *o = F::from_f64(op(o.to_f64(), j));
            }
        }
    }
}

/// [`each_body`] compiled for AVX2 where the level allows (the same operations, so the same
/// bits: no contraction into fused multiply-adds happens in Rust).
#[allow(unsafe_code)]
fn each<T: Element, F: Element>(o: &mut [F], xs: Option<&[T]>, op: impl Fn(f64, usize) -> f64) {
    #[cfg(target_arch = "x86_64")]
    if simd::level() as u8 >= simd::Level::Avx2 as u8 {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<T: Element, F: Element>(
            o: &mut [F],
            xs: Option<&[T]>,
            op: impl Fn(f64, usize) -> f64,
        ) {
            each_body(o, xs, op);
        }
        // SAFETY: `level()` is AVX2 or above only on a CPU that has AVX2 and FMA.
        return unsafe { avx2(o, xs, op) };
    }
    each_body(o, xs, op);
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
