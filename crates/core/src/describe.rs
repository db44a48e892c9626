//! `describe`: count, mean, variance, standard deviation, min and max in one pass.

use ndarray::{ArrayD, ArrayView2, ArrayViewD, s};

use crate::cancel::Cancel;
use crate::columns::{self, WIDTH};
use crate::dtype::Element;
use crate::engine::Reducer;
use crate::error::{Error, Result};
use crate::mem;
use crate::reduce::{
    Moments, Reduce, Warning, column_moments, extreme_exact, merge_extreme, run, shaped,
    with_nan_apart,
};
use crate::simd;

/// The mergeable state behind [`describe`]: [`Moments`] plus the extremes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Partial<T> {
    /// Count, sum and squared deviations.
    pub moments: Moments,
    /// The minimum so far (`None` before any non-NaN value).
    pub min: Option<T>,
    /// The maximum so far.
    pub max: Option<T>,
}

impl<T: Element> Partial<T> {
    /// The state of one slice of values, NaN skipped or propagated.
    #[must_use]
    pub fn of(xs: &[T], skipna: bool) -> Self {
        if xs.is_empty() {
            return Partial { moments: Moments::default(), min: None, max: None };
        }
        // Three passes over a block in L1 (sum, extremes, squared deviations) measured faster
        // than fusing the first two, whose loop the compiler vectorizes poorly.
        let (min, max) = extremes_of(xs, skipna);
        Partial { moments: Moments::of(xs, skipna), min, max }
    }

    /// The state of `self`'s values followed by `other`'s.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        Partial {
            moments: self.moments.merge(other.moments),
            min: merge_extreme(false, self.min, other.min),
            max: merge_extreme(true, self.max, other.max),
        }
    }
}

/// The least and greatest of a non-empty slice, NaN skipped or propagated.
fn extremes_of<T: Element>(xs: &[T], skipna: bool) -> (Option<T>, Option<T>) {
    let (lo, hi, nan) = simd::min_max(xs);
    if nan {
        // NaN present: the exact scan applies the NaN rule (`min_max` has run already).
        (extreme_exact(xs, false, skipna), extreme_exact(xs, true, skipna))
    } else {
        (Some(lo), Some(hi))
    }
}

struct DescribeR {
    skipna: bool,
    /// Whether to keep the moments; without them only the extremes are found (the range of a
    /// histogram), in a third of the time of a block. Only [`extremes`] clears it, over all
    /// axes: one lane, never read side by side, so [`Reducer::columns`] always keeps them.
    moments: bool,
}

impl<T: Element> Reducer<T> for DescribeR {
    type State = Partial<T>;
    fn block(&self, xs: &[T], _: usize) -> Partial<T> {
        if self.moments {
            return Partial::of(xs, self.skipna);
        }
        let (min, max) = extremes_of(xs, self.skipna);
        Partial { moments: Moments::default(), min, max }
    }
    fn merge(&self, a: Partial<T>, b: Partial<T>) -> Partial<T> {
        a.merge(b)
    }

    const COLUMNS: bool = true;
    fn columns(&self, rows: &ArrayView2<'_, T>, _: usize, out: &mut Vec<Partial<T>>) {
        // Partial::of, column by column: the moments, then both extremes in one pass. A column
        // holds NaN only if its sum is NaN (or, NaN skipped, its count short): those are taken
        // apart for the NaN rules.
        let (n, w) = rows.dim();
        let (lo, hi) = (&mut [T::default(); WIDTH][..w], &mut [T::default(); WIDTH][..w]);
        lo.copy_from_slice(rows.row(0).as_slice().expect("contiguous rows"));
        hi.copy_from_slice(lo);
        let mut moments = [Moments::default(); WIDTH];
        column_moments(rows, self.skipna, &mut moments, &mut |leaf| {
            columns::min_max(&rows.slice(s![leaf, ..]), lo, hi);
        });
        let mut nan = [false; WIDTH];
        for (flag, m) in nan.iter_mut().zip(&moments[..w]) {
            *flag = m.sum.is_nan() || m.count < n as u64;
        }
        let fast = |c: usize| Partial { moments: moments[c], min: Some(lo[c]), max: Some(hi[c]) };
        with_nan_apart(rows, &nan, out, fast, |xs| Partial::of(xs, self.skipna));
    }
}

/// What [`describe`] returns: one array per statistic, over the axes not reduced.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary<T: Element> {
    /// Number of values (non-NaN ones with `skipna`).
    pub count: ArrayD<u64>,
    /// Mean; the same value `mean` gives.
    pub mean: ArrayD<T::Float>,
    /// Variance with divisor `count - ddof`.
    pub var: ArrayD<T::Float>,
    /// Standard deviation.
    pub std: ArrayD<T::Float>,
    /// Minimum.
    pub min: ArrayD<T>,
    /// Maximum.
    pub max: ArrayD<T>,
    /// The warning NumPy would give computing the same statistics one by one.
    pub warning: Option<Warning>,
}

/// Count, mean, variance, standard deviation, min and max over `opts.axis`, reading the data once.
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{describe, Reduce, NEVER};
/// let a = array![1.0, 2.0, 3.0, 4.0].into_dyn();
/// let s = describe(&a.view(), &Reduce::all(), &NEVER).unwrap();
/// assert_eq!(s.mean[[]], 2.5);
/// assert_eq!(s.var[[]], 1.25);
/// assert_eq!((s.min[[]], s.max[[]]), (1.0, 4.0));
/// ```
pub fn describe<T: Element>(
    a: &ArrayViewD<'_, T>,
    opts: &Reduce,
    cancel: &Cancel,
) -> Result<Summary<T>> {
    let (shape, states) = run(
        a,
        &opts.axis,
        opts.keepdims,
        &DescribeR { skipna: opts.skipna, moments: true },
        cancel,
        &|s| s,
    )?;
    let n = states.len();
    let (mut count, mut mean, mut var, mut std, mut min, mut max) = (
        mem::with_capacity(n)?,
        mem::with_capacity(n)?,
        mem::with_capacity(n)?,
        mem::with_capacity(n)?,
        mem::with_capacity(n)?,
        mem::with_capacity(n)?,
    );
    let mut warning = None;
    for state in states {
        let p = state.ok_or_else(|| {
            Error::EmptyReduction(
                "zero-size array to reduction operation describe which has no identity".into(),
            )
        })?;
        let m = p.moments;
        let (v, short) = m.variance(opts.ddof, opts.skipna && T::DTYPE.is_float());
        if m.count == 0 {
            warning = Some(Warning::AllNan);
        } else if short.is_some() {
            warning = warning.or(short);
        }
        count.push(m.count);
        mean.push(T::float_from_f64(m.mean()));
        var.push(T::float_from_f64(v));
        std.push(T::float_from_f64(v.sqrt()));
        min.push(p.min.map_or_else(T::nan, T::canonical));
        max.push(p.max.map_or_else(T::nan, T::canonical));
    }
    Ok(Summary {
        count: shaped(&shape, count)?,
        mean: shaped(&shape, mean)?,
        var: shaped(&shape, var)?,
        std: shaped(&shape, std)?,
        min: shaped(&shape, min)?,
        max: shaped(&shape, max)?,
        warning,
    })
}

/// The least and greatest of all of `a`'s values in one pass (NaN if any is NaN, as `a.min()`
/// and `a.max()`), `None` when `a` is empty: [`describe`]'s extremes without its moments.
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{describe::extremes, NEVER};
/// let a = array![[3.0, -1.0], [2.5, 7.0]].into_dyn();
/// assert_eq!(extremes(&a.view(), &NEVER).unwrap(), Some((-1.0, 7.0)));
/// ```
pub fn extremes<T: Element>(a: &ArrayViewD<'_, T>, cancel: &Cancel) -> Result<Option<(T, T)>> {
    let r = DescribeR { skipna: false, moments: false };
    let (_, states) = run(a, &crate::reduce::Axes::All, false, &r, cancel, &|s| s)?;
    Ok(states.into_iter().next().flatten().map(|p| {
        (p.min.map_or_else(T::nan, T::canonical), p.max.map_or_else(T::nan, T::canonical))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::NEVER;
    use crate::reduce::{max, mean, min, var};
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn describe_agrees_with_the_single_reductions_bit_for_bit() {
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 50_001]), |i| {
            ((i[0] * 31 + i[1] * 17) % 997) as f64 * 1e-3 + 1e6
        });
        for opts in [Reduce::all(), Reduce::axis(1), Reduce::axis(0).ddof(1.0)] {
            let s = describe(&a.view(), &opts, &NEVER).unwrap();
            assert_eq!(s.mean, mean(&a.view(), &opts, &NEVER).unwrap().values);
            assert_eq!(s.var, var(&a.view(), &opts, &NEVER).unwrap().values);
            assert_eq!(s.min, min(&a.view(), &opts, &NEVER).unwrap().values);
            assert_eq!(s.max, max(&a.view(), &opts, &NEVER).unwrap().values);
        }
    }

    #[test]
    fn extremes_are_min_and_max_nan_included() {
        let mut a = ArrayD::from_shape_fn(IxDyn(&[7, 30_011]), |i| {
            ((i[0] * 7919 + i[1] * 31) % 100_003) as f64 - 5e4
        });
        let want = |a: &ArrayD<f64>| {
            let o = Reduce::all();
            (
                min(&a.view(), &o, &NEVER).unwrap().values[[]],
                max(&a.view(), &o, &NEVER).unwrap().values[[]],
            )
        };
        assert_eq!(extremes(&a.view(), &NEVER).unwrap(), Some(want(&a)));
        let t = a.t().to_owned();
        assert_eq!(extremes(&a.t(), &NEVER).unwrap(), Some(want(&t)));
        a[[3, 20_000]] = f64::NAN;
        let (lo, hi) = extremes(&a.view(), &NEVER).unwrap().unwrap();
        assert!(lo.is_nan() && hi.is_nan());
        let e = ArrayD::<f64>::zeros(IxDyn(&[3, 0]));
        assert_eq!(extremes(&e.view(), &NEVER).unwrap(), None);
    }

    #[test]
    fn partial_states_of_chunks_merge_to_the_one_pass_result() {
        let xs: Vec<f32> = (0..100_000).map(|i| ((i * 7919) % 1000) as f32 - 300.5).collect();
        let whole = Partial::of(&xs, false);
        for chunk in [1, 100, 2048, 33_333] {
            let merged =
                xs.chunks(chunk).map(|c| Partial::of(c, false)).reduce(Partial::merge).unwrap();
            assert_eq!(merged.moments.count, whole.moments.count);
            assert_eq!((merged.min, merged.max), (whole.min, whole.max));
            let (a, b) = (merged.moments.var(0.0), whole.moments.var(0.0));
            assert!((a - b).abs() <= 1e-12 * b, "{chunk}: {a} vs {b}");
            assert!((merged.moments.mean() - whole.moments.mean()).abs() <= 1e-12);
        }
    }

    #[test]
    fn empty_lanes_are_an_error_and_all_nan_lanes_warn() {
        let e = ArrayD::<f64>::zeros(IxDyn(&[2, 0]));
        assert!(describe(&e.view(), &Reduce::axis(1), &NEVER).is_err());
        let n = ArrayD::from_elem(IxDyn(&[4]), f64::NAN);
        let s = describe(&n.view(), &Reduce::all().skipna(true), &NEVER).unwrap();
        assert_eq!(s.count[[]], 0);
        assert!(s.mean[[]].is_nan() && s.min[[]].is_nan());
        assert_eq!(s.warning, Some(Warning::AllNan));
    }
}
