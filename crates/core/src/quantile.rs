//! Quantiles and medians by selection, as NumPy's `quantile` family and `median`.
//!
//! Each lane's values are copied into one buffer per thread (NaN left out when they are skipped)
//! and the few order statistics a result needs are selected there, never a full sort. A long
//! lane is not copied at all: a sample of it brackets each wanted rank between two values, one
//! parallel pass counts the values below each bracket and keeps those inside, and the ranks are
//! selected among the kept few. When a bracket misses (the sample misled), the lane is copied
//! and selected whole, so the sample only decides the speed, never the result.
//!
//! The arithmetic after selection is NumPy's, operation for operation (its index formulas, its
//! `lerp` that interpolates from the nearer end, its median as a mean of the middle values), in
//! `float32` when NumPy's result is `float32`; results are NumPy's to the bit.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::{DType, Element};
use crate::engine::Lanes;
use crate::error::{Error, Result};
use crate::reduce::Axes;
use crate::{mem, pool};

/// How a quantile between two order statistics is found (NumPy's `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Linear interpolation at `(n - 1) q` (NumPy's default).
    Linear,
    /// The order statistic at `floor((n - 1) q)`.
    Lower,
    /// The order statistic at `ceil((n - 1) q)`.
    Higher,
    /// The order statistic nearest to `(n - 1) q`, ties to even.
    Nearest,
    /// The mean of `lower` and `higher`.
    Midpoint,
}

impl Method {
    /// The method NumPy names `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "linear" => Method::Linear,
            "lower" => Method::Lower,
            "higher" => Method::Higher,
            "nearest" => Method::Nearest,
            "midpoint" => Method::Midpoint,
            _ => return None,
        })
    }

    /// Whether results are order statistics themselves, of the input's type.
    #[must_use]
    pub fn is_discrete(self) -> bool {
        matches!(self, Method::Lower | Method::Higher | Method::Nearest)
    }
}

/// What to compute on each lane.
#[derive(Clone, Copy, Debug)]
pub enum Stat<'q> {
    /// The quantiles `q` (each in `0..=1`).
    Quantiles(&'q [f64], Method),
    /// The median, as `numpy.median`: the middle value, or the mean of the two middle values.
    Median,
}

/// A quantile computation.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'q> {
    /// The statistic.
    pub stat: Stat<'q>,
    /// Skip NaN (`nanquantile`, `nanmedian`); otherwise a lane with a NaN gives NaN.
    pub skipna: bool,
    /// Do the arithmetic after selection in `float32` (when NumPy's result is `float32`).
    pub single: bool,
}

/// Results, shaped `(number of quantiles, kept axes...)`; the median has no leading axis.
#[derive(Debug)]
pub enum Quantiled<T> {
    /// Order statistics themselves (`lower`, `higher`, `nearest`), of the input's type.
    Same(ArrayD<T>),
    /// Interpolated values (and medians), as `f64` holding the exact result of the arithmetic
    /// (already rounded to `float32` when [`Spec::single`]).
    Float(ArrayD<f64>),
}

/// Results and what NumPy would warn about.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The values.
    pub values: Quantiled<T>,
    /// Some lane had no value to take a statistic of (all NaN, or empty).
    pub empty_lane: bool,
}

/// Lanes at least this long are bracketed from a sample instead of copied.
const LONG: usize = 1 << 18;
/// Values in the sample of a long lane.
const SAMPLE: usize = 1 << 16;
/// Sample positions added on each side of a wanted rank's estimate: five standard deviations
/// of a sampled rank (at most `sqrt(SAMPLE) / 2`), so that a bracket misses once in millions.
const MARGIN: usize = 5 * 128;
/// A bracketed pass is not tried when the brackets would keep more than this share of a lane.
const MAX_KEPT: f64 = 0.25;
/// Elements per task of a parallel pass.
const TASK: usize = 1 << 14;

/// One result of a lane, in terms of ranks among its `n` values.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// The value of this rank.
    Take(usize),
    /// NumPy's `lerp(v[lo], v[hi], t)`.
    Lerp { lo: usize, hi: usize, t: f64 },
    /// The mean of the values at the two ranks (equal for an odd count).
    Mean(usize, usize),
}

impl Pick {
    fn ranks(self) -> [usize; 2] {
        match self {
            Pick::Take(r) => [r, r],
            Pick::Lerp { lo, hi, .. } | Pick::Mean(lo, hi) => [lo, hi],
        }
    }
}

/// The picks for a lane of `n >= 1` values, as NumPy's `_quantile` finds its indexes.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn plan(stat: Stat<'_>, n: usize, picks: &mut Vec<Pick>) {
    picks.clear();
    let last = n - 1;
    let Stat::Quantiles(qs, method) = stat else {
        picks.push(Pick::Mean((n - 1) / 2, n / 2));
        return;
    };
    let index = |v: f64| (v as usize).min(last);
    for &q in qs {
        let v = last as f64 * q;
        picks.push(match method {
            Method::Lower => Pick::Take(index(v.floor())),
            Method::Higher => Pick::Take(index(v.ceil())),
            Method::Nearest => Pick::Take(index(v.round_ties_even())),
            Method::Linear | Method::Midpoint => {
                let v = if method == Method::Midpoint { 0.5 * (v.floor() + v.ceil()) } else { v };
                // NumPy: both indexes become -1 (the last value) at or above the last index,
                // and gamma is taken against that -1.
                let (lo, prev) =
                    if v >= last as f64 { (last, -1.0) } else { (index(v), v.floor()) };
                let hi = if v >= last as f64 { last } else { lo + 1 };
                let t = match method {
                    Method::Midpoint if v % 1.0 == 0.0 => 0.0,
                    Method::Midpoint => 0.5,
                    _ => v - prev,
                };
                Pick::Lerp { lo, hi, t }
            }
        });
    }
}

/// NumPy's arithmetic for a pick, given the values at its ranks.
struct Arith {
    /// The input is `float32`: differences of two values are rounded to it.
    input_single: bool,
    /// The result is `float32`.
    single: bool,
    /// How many values of the whole lane each value read stands for: the product of the
    /// lane's zero-stride axes (a broadcast), which are read once.
    repeats: usize,
}

impl Arith {
    /// The picks for a lane of `n` values read (each standing for [`Arith::repeats`]): those
    /// of the whole lane, their ranks divided by the repeats. Sorted, the whole lane is each
    /// value read, repeated, so rank `r` holds the value of rank `r / repeats` among those read.
    fn plan(&self, stat: Stat<'_>, n: usize, picks: &mut Vec<Pick>) {
        plan(stat, n * self.repeats, picks);
        if self.repeats > 1 {
            let k = self.repeats;
            for p in picks.iter_mut() {
                *p = match *p {
                    Pick::Take(r) => Pick::Take(r / k),
                    Pick::Lerp { lo, hi, t } => Pick::Lerp { lo: lo / k, hi: hi / k, t },
                    Pick::Mean(lo, hi) => Pick::Mean(lo / k, hi / k),
                };
            }
        }
    }

    #[allow(clippy::cast_possible_truncation)]
    fn r(&self, x: f64) -> f64 {
        if self.single { f64::from(x as f32) } else { x }
    }

    #[allow(clippy::cast_possible_truncation)]
    fn value(&self, pick: Pick, at: impl Fn(usize) -> f64) -> f64 {
        match pick {
            Pick::Take(r) => self.r(at(r)),
            Pick::Mean(lo, hi) if lo == hi => self.r(at(lo)),
            Pick::Mean(lo, hi) => self.r(self.r(at(lo) + at(hi)) / 2.0),
            Pick::Lerp { lo, hi, t } => {
                let (a, b) = (at(lo), at(hi));
                let diff = if self.input_single { f64::from((b - a) as f32) } else { b - a };
                let diff = if self.single { f64::from(diff as f32) } else { diff };
                // The difference in the input's type, times the weight in the result's type,
                // added to the nearer end (NumPy's `_lerp`).
                if t >= 0.5 {
                    self.r(b - self.r(diff * self.r(1.0 - t)))
                } else {
                    self.r(a + self.r(diff * self.r(t)))
                }
            }
        }
    }
}

fn order<T: Element>(a: &T, b: &T) -> Ordering {
    if a.less(*b) {
        Ordering::Less
    } else if b.less(*a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Puts the values of `ranks` (sorted, distinct, each `< xs.len()`) at their places in `xs`.
fn select<T: Element>(xs: &mut [T], ranks: &[usize]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let r = ranks[mid];
    let (left, _, right) = xs.select_nth_unstable_by(r, order);
    select(left, &ranks[..mid]);
    let above: Vec<usize> = ranks[mid + 1..].iter().map(|&k| k - r - 1).collect();
    select(right, &above);
}

/// The sorted distinct ranks `picks` need.
fn ranks_of(picks: &[Pick], ranks: &mut Vec<usize>) {
    ranks.clear();
    ranks.extend(picks.iter().flat_map(|p| p.ranks()));
    ranks.sort_unstable();
    ranks.dedup();
}

/// What one lane yields, written by [`Sink::put`] into the lane's slots.
trait Sink<T>: Copy + Send + Sync + 'static {
    /// The lane had a NaN (not skipped) or no value: every slot is NaN.
    fn nan() -> Self;
    fn put(pick: Pick, arith: &Arith, at: &dyn Fn(usize) -> T) -> Self;
}

impl<T: Element> Sink<T> for f64 {
    fn nan() -> f64 {
        f64::NAN
    }
    fn put(pick: Pick, arith: &Arith, at: &dyn Fn(usize) -> T) -> f64 {
        arith.value(pick, |r| at(r).to_f64())
    }
}

/// An order statistic itself.
#[derive(Clone, Copy)]
struct Own<T>(T);

impl<T: Element> Sink<T> for Own<T> {
    fn nan() -> Self {
        Own(T::nan())
    }
    fn put(pick: Pick, _: &Arith, at: &dyn Fn(usize) -> T) -> Self {
        let [r, _] = pick.ranks();
        Own(at(r))
    }
}

/// The quantiles (or the median) of `a` over `axes`, as NumPy computes them.
///
/// A lane holding NaN gives NaN unless `spec.skipna`; an empty or all-NaN lane gives NaN and
/// sets [`Outcome::empty_lane`].
///
/// ```
/// use ndarray::array;
/// use nocopy_core::quantile::{quantile, Method, Quantiled, Spec, Stat};
/// use nocopy_core::{Axes, NEVER};
/// let a = array![3.0, 1.0, 4.0, 1.0, 5.0].into_dyn();
/// let spec = Spec { stat: Stat::Quantiles(&[0.5, 0.9], Method::Linear), skipna: false, single: false };
/// let Quantiled::Float(q) = quantile(&a.view(), &Axes::All, &spec, &NEVER).unwrap().values else {
///     unreachable!()
/// };
/// assert_eq!(q.into_raw_vec_and_offset().0, vec![3.0, 4.6]);
/// ```
pub fn quantile<T: Element>(
    a: &ArrayViewD<'_, T>,
    axes: &Axes,
    spec: &Spec<'_>,
    cancel: &Cancel,
) -> Result<Outcome<T>> {
    if let Stat::Quantiles(qs, _) = spec.stat
        && qs.iter().any(|q| !(0.0..=1.0).contains(q))
    {
        return Err(Error::Invalid("Quantiles must be in the range [0, 1]".into()));
    }
    let mut reduced = axes.mask(a.ndim())?;
    // A reduced axis of stride zero repeats every value along it: it is read once, and its
    // length counted in the ranks (a median of 2⁴⁰ broadcast zeros reads one zero).
    let mut view = a.clone();
    let mut repeats = 1usize;
    for i in (0..view.ndim()).rev() {
        if reduced[i] && view.len_of(Axis(i)) > 1 && view.strides()[i] == 0 {
            repeats *= view.len_of(Axis(i));
            view.index_axis_inplace(Axis(i), 0);
            reduced.remove(i);
        }
    }
    let lanes = Lanes::new(&view, &reduced);
    let discrete = matches!(spec.stat, Stat::Quantiles(_, m) if m.is_discrete());
    if discrete {
        let (shape, values, empty) = run::<T, Own<T>>(&lanes, spec, repeats, cancel)?;
        let values = mem::collect(values.len(), values.into_iter().map(|o| o.0))?;
        return Ok(Outcome { values: Quantiled::Same(shaped(&shape, values)?), empty_lane: empty });
    }
    let (shape, values, empty) = run::<T, f64>(&lanes, spec, repeats, cancel)?;
    Ok(Outcome { values: Quantiled::Float(shaped(&shape, values)?), empty_lane: empty })
}

fn shaped<O>(shape: &[usize], values: Vec<O>) -> Result<ArrayD<O>> {
    mem::shaped(IxDyn(shape), values)
}

/// Results in output order (quantile-major), their shape, and whether a lane was empty.
fn run<T: Element, O: Sink<T>>(
    lanes: &Lanes<'_, T>,
    spec: &Spec<'_>,
    repeats: usize,
    cancel: &Cancel,
) -> Result<(Vec<usize>, Vec<O>, bool)> {
    let n_lanes: usize = lanes.out_shape.iter().product();
    let per_lane = match spec.stat {
        Stat::Quantiles(qs, _) => qs.len(),
        Stat::Median => 1,
    };
    let arith = Arith { input_single: T::DTYPE == DType::F32, single: spec.single, repeats };
    // Lane-major while computing: each lane's results are adjacent.
    let total = n_lanes.checked_mul(per_lane).ok_or_else(|| Error::TooBig {
        shape: [per_lane].iter().chain(&lanes.out_shape).copied().collect(),
    })?;
    let mut by_lane = mem::filled(total, O::nan())?;
    let mut empty = false;
    if per_lane > 0 && n_lanes > 0 {
        if lanes.lane_len >= LONG {
            for (j, slots) in by_lane.chunks_mut(per_lane).enumerate() {
                empty |= long_lane(&lanes.lane(j), spec, &arith, slots, cancel)?;
            }
        } else {
            let lanes_per_task = (TASK / lanes.lane_len.max(1)).max(1);
            let task = |(k, chunk): (usize, &mut [O]), st: &mut State<T>| {
                cancel.check()?;
                let mut empty = false;
                for (i, slots) in chunk.chunks_mut(per_lane).enumerate() {
                    let lane = lanes.lane(k * lanes_per_task + i);
                    st.buf.clear();
                    let has_nan = copy_lane(&lane, spec.skipna, &mut st.buf, cancel)?;
                    empty |= short_lane(st, spec, &arith, has_nan, slots);
                }
                Ok::<_, Error>(empty)
            };
            let chunks = by_lane.chunks_mut(lanes_per_task * per_lane).enumerate();
            let serial = lanes.lane_len * n_lanes < 1 << 15 || pool::threads_here() == 1;
            empty = if serial {
                let mut st = State::default();
                chunks.map(|c| task(c, &mut st)).try_fold(false, |e, r| r.map(|x| e | x))?
            } else {
                pool::install(|| {
                    by_lane
                        .par_chunks_mut(lanes_per_task * per_lane)
                        .enumerate()
                        .map_init(State::default, |st, c| task(c, st))
                        .try_reduce(|| false, |x, y| Ok(x | y))
                })?
            };
        }
    }
    let mut shape = Vec::new();
    if matches!(spec.stat, Stat::Quantiles(..)) {
        shape.push(per_lane);
    }
    shape.extend(&lanes.out_shape);
    // Quantile-major, as NumPy prepends the quantiles' axis.
    let mut values = mem::with_capacity(by_lane.len())?;
    for i in 0..per_lane {
        values.extend(by_lane.iter().skip(i).step_by(per_lane.max(1)));
    }
    Ok((shape, values, empty))
}

/// A thread's buffers.
struct State<T> {
    buf: Vec<T>,
    picks: Vec<Pick>,
    ranks: Vec<usize>,
}

impl<T> Default for State<T> {
    fn default() -> Self {
        State { buf: Vec::new(), picks: Vec::new(), ranks: Vec::new() }
    }
}

/// Appends the lane's values to `buf` (without NaN when `skipna`), [`TASK`] at a time with a
/// look at `cancel` between; whether a NaN was seen.
fn copy_lane<T: Element>(
    lane: &ArrayViewD<'_, T>,
    skipna: bool,
    buf: &mut Vec<T>,
    cancel: &Cancel,
) -> Result<bool> {
    mem::reserve(buf, lane.len())?;
    let flat = lane.as_slice_memory_order();
    let mut piece = [T::default(); 256];
    let mut has_nan = false;
    for start in (0..lane.len()).step_by(TASK) {
        cancel.check()?;
        let end = (start + TASK).min(lane.len());
        for s in (start..end).step_by(piece.len()) {
            let e = (s + piece.len()).min(end);
            let xs = if let Some(xs) = flat {
                &xs[s..e]
            } else {
                crate::engine::gather(lane, s, &mut piece[..e - s]);
                &piece[..e - s]
            };
            let nan = xs.iter().any(|x| x.is_nan());
            has_nan |= nan;
            if nan && skipna {
                buf.extend(xs.iter().copied().filter(|x| !x.is_nan()));
            } else {
                buf.extend_from_slice(xs);
            }
        }
    }
    Ok(has_nan)
}

/// Results of a lane copied into `st.buf`; whether it had no value.
fn short_lane<T: Element, O: Sink<T>>(
    st: &mut State<T>,
    spec: &Spec<'_>,
    arith: &Arith,
    has_nan: bool,
    slots: &mut [O],
) -> bool {
    if (has_nan && !spec.skipna) || st.buf.is_empty() {
        slots.fill(O::nan());
        return st.buf.is_empty();
    }
    arith.plan(spec.stat, st.buf.len(), &mut st.picks);
    ranks_of(&st.picks, &mut st.ranks);
    select(&mut st.buf, &st.ranks);
    let buf = &st.buf;
    for (slot, &pick) in slots.iter_mut().zip(&st.picks) {
        *slot = O::put(pick, arith, &|r| buf[r]);
    }
    false
}

/// A range of sample positions whose values bracket some wanted ranks.
#[derive(Clone, Copy, Debug)]
struct Bracket {
    /// Sample positions (into the sorted sample); `None` at the ends means unbounded.
    lo: Option<usize>,
    hi: Option<usize>,
}

/// What a bracketed pass found in (part of) a lane.
///
/// Per bracket `lo..=hi`: the values below it, the values equal to either end (counted, not
/// kept: a lane of one repeated value keeps nothing), and the values strictly inside (kept,
/// up to a shared budget; past it the pass is abandoned and the lane copied whole).
struct Tally<T> {
    nan: usize,
    below: Vec<usize>,
    at_lo: Vec<usize>,
    at_hi: Vec<usize>,
    inside: Vec<Vec<T>>,
}

/// Values kept so far by every tally of a pass, against its budget.
struct Budget {
    kept: AtomicUsize,
    limit: usize,
}

impl<T: Element> Tally<T> {
    fn new(k: usize) -> Self {
        Tally {
            nan: 0,
            below: std::iter::repeat_n(0, k).collect(),
            at_lo: std::iter::repeat_n(0, k).collect(),
            at_hi: std::iter::repeat_n(0, k).collect(),
            inside: std::iter::repeat_with(Vec::new).take(k).collect(),
        }
    }

    /// Counts and keeps the values of `xs` for brackets `ends` (unbounded ends as infinities,
    /// or the integer type's extremes). Groups of values are tested without branches; only a
    /// group with a value strictly inside a bracket (a few percent) is looked at one by one.
    /// Fails when the budget is spent (or its memory cannot be had).
    #[inline]
    fn add(&mut self, ends: &[(T, T)], xs: &[T], budget: &Budget) -> Result<()> {
        const GROUP: usize = 8;
        self.nan += xs.iter().filter(|x| x.is_nan()).count();
        for (k, &(lo, hi)) in ends.iter().enumerate() {
            let one_value = !lo.less(hi);
            // NaN compares as neither below nor above anything: it is kept out by `is_nan`.
            let inside = |x: T| lo.less(x) & x.less(hi);
            let equal = |x: T, e: T| !x.less(e) & !e.less(x) & !x.is_nan();
            let (mut below, mut at_lo, mut at_hi, mut kept) = (0, 0, 0, 0);
            let inside_k = &mut self.inside[k];
            let mut keep = |c: &[T]| -> Result<()> {
                let mut tmp = [lo; GROUP];
                let mut n = 0;
                for &x in c {
                    tmp[n] = x;
                    n += usize::from(inside(x));
                }
                kept += n;
                mem::reserve(inside_k, n)?;
                inside_k.extend_from_slice(&tmp[..n]);
                Ok(())
            };
            let groups = xs.chunks_exact(GROUP);
            let rest = groups.remainder();
            for c in groups.chain(std::iter::once(rest)) {
                let (mut b, mut l, mut h, mut n) = (0usize, 0usize, 0usize, 0usize);
                for &x in c {
                    b += usize::from(x.less(lo));
                    l += usize::from(equal(x, lo));
                    h += usize::from(equal(x, hi));
                    n += usize::from(inside(x));
                }
                below += b;
                at_lo += l;
                at_hi += h;
                if n > 0 {
                    keep(c)?;
                }
            }
            self.below[k] += below;
            self.at_lo[k] += at_lo;
            // A bracket of one value counts its values once.
            self.at_hi[k] += if one_value { 0 } else { at_hi };
            if budget.kept.fetch_add(kept, AtomicOrdering::Relaxed) + kept > budget.limit {
                return Err(Error::Invalid("bracket budget spent".into()));
            }
        }
        Ok(())
    }

    fn merge(mut self, mut other: Self) -> Result<Self> {
        self.nan += other.nan;
        for k in 0..self.below.len() {
            self.below[k] += other.below[k];
            self.at_lo[k] += other.at_lo[k];
            self.at_hi[k] += other.at_hi[k];
            mem::reserve(&mut self.inside[k], other.inside[k].len())?;
            self.inside[k].append(&mut other.inside[k]);
        }
        Ok(self)
    }
}

/// The element at flat position `i` of `lane` (in memory order when `flat` is its memory).
fn element<T: Element>(lane: &ArrayViewD<'_, T>, flat: Option<&[T]>, i: usize) -> T {
    if let Some(xs) = flat {
        return xs[i];
    }
    let mut one = [T::default()];
    crate::engine::gather(lane, i, &mut one);
    one[0]
}

/// Results of one long lane, with parallel passes over it; whether it had no value.
#[allow(clippy::cast_precision_loss)]
fn long_lane<T: Element, O: Sink<T>>(
    lane: &ArrayViewD<'_, T>,
    spec: &Spec<'_>,
    arith: &Arith,
    slots: &mut [O],
    cancel: &Cancel,
) -> Result<bool> {
    let n_all = lane.len();
    if T::DTYPE == DType::Bool {
        // No pair of values bounds everything for booleans (see the ends below).
        return whole_lane(lane, spec, arith, slots, cancel);
    }
    // The order of the values does not matter here: memory order, when the lane has one.
    let flat = lane.as_slice_memory_order();
    let step = n_all / SAMPLE;
    let mut sample: Vec<T> = mem::collect(
        n_all.div_ceil(step),
        (0..n_all).step_by(step).map(|i| element(lane, flat, i)).filter(|x| !x.is_nan()),
    )?;
    let m = sample.len();
    let brackets = if m < 2 { None } else { brackets(spec.stat, m) };
    let kept: usize =
        brackets.iter().flatten().map(|b| b.hi.unwrap_or(m - 1) - b.lo.unwrap_or(0) + 1).sum();
    let Some(brackets) = brackets.filter(|_| (kept as f64) < MAX_KEPT * m as f64) else {
        return whole_lane(lane, spec, arith, slots, cancel);
    };
    let mut at: Vec<usize> = brackets.iter().flat_map(|b| [b.lo, b.hi]).flatten().collect();
    at.sort_unstable();
    at.dedup();
    select(&mut sample, &at);
    // Unbounded ends become the lowest and highest values of the type: -inf and inf for
    // floats, the extremes for integers (`from_f64` saturates).
    let (lowest, highest) = (T::from_f64(f64::NEG_INFINITY), T::from_f64(f64::INFINITY));
    let ends: Vec<(T, T)> = brackets
        .iter()
        .map(|b| (b.lo.map_or(lowest, |i| sample[i]), b.hi.map_or(highest, |i| sample[i])))
        .collect();
    let k = ends.len();
    // Four times the values the sample says lie strictly inside the brackets: past that, the
    // sample misled, and the lane is copied whole.
    let budget = Budget {
        kept: AtomicUsize::new(0),
        limit: (4.0 * kept as f64 / m as f64 * n_all as f64) as usize + TASK,
    };
    let piece = |p: usize| -> Result<Tally<T>> {
        cancel.check()?;
        let (start, end) = (p * TASK, ((p + 1) * TASK).min(n_all));
        let mut t = Tally::new(k);
        if let Some(xs) = flat {
            t.add(&ends, &xs[start..end], &budget)?;
        } else {
            let mut buf = mem::filled(end - start, T::default())?;
            crate::engine::gather(lane, start, &mut buf);
            t.add(&ends, &buf, &budget)?;
        }
        Ok(t)
    };
    let tally = pool::install(|| {
        (0..n_all.div_ceil(TASK))
            .into_par_iter()
            .map(piece)
            .try_reduce(|| Tally::new(k), Tally::merge)
    });
    let tally = match tally {
        Ok(t) => t,
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        // The budget was spent, or its memory could not be had: the lane whole.
        Err(_) => return whole_lane(lane, spec, arith, slots, cancel),
    };
    if tally.nan > 0 && !spec.skipna || tally.nan == n_all {
        slots.fill(O::nan());
        return Ok(tally.nan == n_all);
    }
    let mut picks = Vec::new();
    arith.plan(spec.stat, n_all - tally.nan, &mut picks);
    let mut ranks = Vec::new();
    ranks_of(&picks, &mut ranks);
    // Each wanted rank must fall inside a bracket: `below <= r < below + at_lo + inside +
    // at_hi`, the values in that order.
    let mut inside = tally.inside;
    let mut found: Vec<(usize, T)> = Vec::new();
    for (kk, vals) in inside.iter_mut().enumerate() {
        let (lo, hi) = ends[kk];
        let (below, at_lo, at_hi) = (tally.below[kk], tally.at_lo[kk], tally.at_hi[kk]);
        let span = at_lo + vals.len() + at_hi;
        let mine: Vec<usize> =
            ranks.iter().filter(|&&r| r >= below && r < below + span).map(|&r| r - below).collect();
        let local: Vec<usize> = mine
            .iter()
            .filter(|&&r| r >= at_lo && r < at_lo + vals.len())
            .map(|&r| r - at_lo)
            .collect();
        select(vals, &local);
        found.extend(mine.iter().map(|&r| {
            let v = if r < at_lo {
                lo
            } else if r < at_lo + vals.len() {
                vals[r - at_lo]
            } else {
                hi
            };
            (r + below, v)
        }));
    }
    found.sort_unstable_by_key(|f| f.0);
    found.dedup_by_key(|f| f.0);
    if found.len() != ranks.len() {
        return whole_lane(lane, spec, arith, slots, cancel);
    }
    let value = |r: usize| found[found.partition_point(|f| f.0 < r)].1;
    for (slot, &pick) in slots.iter_mut().zip(&picks) {
        *slot = O::put(pick, arith, &value);
    }
    Ok(false)
}

/// Sample brackets around the ranks `stat` wants in a lane whose `m`-value sample is sorted;
/// overlapping brackets merged. `None` when there is nothing to bracket.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn brackets(stat: Stat<'_>, m: usize) -> Option<Vec<Bracket>> {
    let qs: &[f64] = match stat {
        Stat::Quantiles(qs, _) => qs,
        Stat::Median => &[0.5],
    };
    let mut spans: Vec<(usize, usize)> = qs
        .iter()
        .map(|&q| {
            let p = (m - 1) as f64 * q;
            let lo = (p.floor() as usize).saturating_sub(MARGIN);
            let hi = (p.ceil() as usize + MARGIN).min(m - 1);
            (lo, hi)
        })
        .collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in spans {
        match merged.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Some(
        merged
            .into_iter()
            .map(|(lo, hi)| Bracket { lo: (lo > 0).then_some(lo), hi: (hi < m - 1).then_some(hi) })
            .collect(),
    )
}

/// Results of a lane copied whole into one buffer (when brackets do not pay or missed).
fn whole_lane<T: Element, O: Sink<T>>(
    lane: &ArrayViewD<'_, T>,
    spec: &Spec<'_>,
    arith: &Arith,
    slots: &mut [O],
    cancel: &Cancel,
) -> Result<bool> {
    cancel.check()?;
    let mut st = State::default();
    let has_nan = copy_lane(lane, spec.skipna, &mut st.buf, cancel)?;
    Ok(short_lane(&mut st, spec, arith, has_nan, slots))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NEVER;
    use ndarray::Array1;

    /// The same statistic from a fully sorted copy.
    fn by_sorting(xs: &[f64], stat: Stat<'_>, skipna: bool) -> Vec<f64> {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| !(skipna && x.is_nan())).collect();
        if v.iter().any(|x| x.is_nan()) || v.is_empty() {
            let k = if let Stat::Quantiles(qs, _) = stat { qs.len() } else { 1 };
            return vec![f64::NAN; k];
        }
        v.sort_by(f64::total_cmp);
        let mut picks = Vec::new();
        plan(stat, v.len(), &mut picks);
        let arith = Arith { input_single: false, single: false, repeats: 1 };
        picks.iter().map(|&p| arith.value(p, |r| v[r])).collect()
    }

    fn check(xs: &[f64], stat: Stat<'_>, skipna: bool) {
        let a = Array1::from_vec(xs.to_vec()).into_dyn();
        let spec = Spec { stat, skipna, single: false };
        let got = match quantile(&a.view(), &Axes::All, &spec, &NEVER).unwrap().values {
            Quantiled::Float(v) | Quantiled::Same(v) => v.into_raw_vec_and_offset().0,
        };
        let want = by_sorting(xs, stat, skipna);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{g} != {w}");
        }
    }

    #[test]
    fn long_lanes_match_a_sort() {
        let qs = [0.0, 0.01, 0.5, 0.9, 0.99, 1.0];
        let n = LONG + 12_345;
        let mut xs = crate::noise(n, 7);
        for m in [Method::Linear, Method::Lower, Method::Higher, Method::Nearest, Method::Midpoint]
        {
            check(&xs, Stat::Quantiles(&qs, m), false);
        }
        check(&xs, Stat::Median, false);
        // Sorted, reversed, few distinct values, a misleading periodic pattern, NaN.
        xs.sort_by(f64::total_cmp);
        check(&xs, Stat::Quantiles(&qs, Method::Linear), false);
        xs.reverse();
        check(&xs, Stat::Median, false);
        let few: Vec<f64> = (0..n).map(|i| f64::from(u8::try_from(i % 3).unwrap())).collect();
        check(&few, Stat::Quantiles(&qs, Method::Linear), false);
        let step = n / SAMPLE;
        let periodic: Vec<f64> = (0..u32::try_from(n).unwrap())
            .map(|i| if (i as usize).is_multiple_of(step) { 0.0 } else { f64::from(i) })
            .collect();
        check(&periodic, Stat::Quantiles(&qs, Method::Linear), false);
        let mut with_nan = crate::noise(n, 3);
        with_nan[777] = f64::NAN;
        check(&with_nan, Stat::Quantiles(&qs, Method::Linear), false);
        check(&with_nan, Stat::Quantiles(&qs, Method::Linear), true);
        check(&with_nan, Stat::Median, true);
    }

    #[test]
    fn broadcast_axes_are_read_once_and_counted() {
        // (3, 4) distinct values broadcast along a middle axis of 5 (stride zero): the same
        // bits as the materialized array, over every choice of axes, short and long lanes.
        let base = ndarray::Array2::from_shape_fn((3, 4), |(i, j)| ((i * 7 + j * 5) % 11) as f64);
        let wide = base.view().insert_axis(Axis(1));
        let view = wide.broadcast((3, 5, 4)).unwrap().into_dyn();
        let copy = view.to_owned();
        let qs = [0.0, 0.13, 0.5, 0.77, 1.0];
        for axes in [Axes::All, Axes::from(1), Axes::These(vec![1, 2]), Axes::These(vec![0, 1])] {
            for m in [Method::Linear, Method::Nearest, Method::Midpoint] {
                let spec = Spec { stat: Stat::Quantiles(&qs, m), skipna: false, single: false };
                let get = |a: &ArrayViewD<'_, f64>| match quantile(a, &axes, &spec, &NEVER)
                    .unwrap()
                    .values
                {
                    Quantiled::Float(v) | Quantiled::Same(v) => v,
                };
                assert_eq!(get(&view), get(&copy.view()), "{axes:?} {m:?}");
            }
        }
        let zeros = ndarray::Array1::from_elem(1, 0.0);
        let huge = zeros.broadcast(1usize << 40).unwrap().into_dyn();
        let spec = Spec { stat: Stat::Median, skipna: false, single: false };
        let Quantiled::Float(m) = quantile(&huge, &Axes::All, &spec, &NEVER).unwrap().values else {
            unreachable!()
        };
        assert_eq!(m[[]], 0.0);
    }

    #[test]
    fn short_lanes_match_a_sort() {
        for n in [1, 2, 3, 10, 101] {
            let xs = crate::noise(n, n as u64);
            check(&xs, Stat::Quantiles(&[0.0, 0.3, 0.5, 1.0], Method::Linear), false);
            check(&xs, Stat::Quantiles(&[0.25, 0.75], Method::Midpoint), false);
            check(&xs, Stat::Median, false);
        }
        check(&[f64::NAN, f64::NAN], Stat::Median, true);
    }
}
