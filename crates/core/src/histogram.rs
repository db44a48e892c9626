//! Histogram counts over given bin edges, as `numpy.histogram` counts them.
//!
//! Bin `i` holds the values `edges[i] <= x < edges[i + 1]`, the last bin also its right edge;
//! NaN and values outside the edges are not counted. Comparisons are made in `f64`, where the
//! values of every element type and the edges NumPy computes (float32 or float64) are exact, so
//! they decide as NumPy's comparisons in the bins' type do. Evenly spaced edges find a value's
//! bin by arithmetic, then check it against the edges themselves (NumPy's method, which puts a
//! value lying exactly on an edge where the edges say); other edges by binary search.
//!
//! The values are cut into fixed pieces, each counted into its own bins, and the pieces' bins
//! are added in a fixed tree: counts are exact, and weighted sums (added in `f64`) the same bits
//! on any number of threads, within rounding of NumPy's (which adds block by block).

use ndarray::ArrayViewD;

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::{engine, mem, pool, simd};

/// Elements per parallel task.
const TASK: usize = 1 << 16;
/// Below this many elements, one thread counts everything.
const SERIAL_BELOW: usize = 1 << 17;

/// Finds the bin of a value.
struct Bins<'e> {
    /// Evenly spaced edges: find by arithmetic, then check.
    uniform: bool,
    /// The edges, the outer ones, and the arithmetic's scale and last bin (for any edges; used
    /// only when `uniform`).
    even: simd::EvenBins<'e>,
}

impl<'e> Bins<'e> {
    fn new(edges: &'e [f64], uniform: bool) -> Result<Self> {
        if edges.len() < 2 {
            return Err(Error::Invalid("a histogram needs at least two bin edges".into()));
        }
        if edges.iter().any(|e| e.is_nan()) || edges.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::Invalid("`bins` must increase monotonically, when an array".into()));
        }
        let (lo, hi) = (edges[0], edges[edges.len() - 1]);
        #[allow(clippy::cast_precision_loss)]
        let scale = (edges.len() - 1) as f64 / (hi - lo);
        let uniform = uniform && scale.is_finite() && scale > 0.0 && edges.len() <= 1 << 31;
        #[allow(clippy::cast_precision_loss)]
        let top = (edges.len() - 2) as f64;
        Ok(Bins { uniform, even: simd::EvenBins { edges, lo, hi, scale, top } })
    }

    fn len(&self) -> usize {
        self.even.edges.len() - 1
    }

    /// The bin of `x`, if it has one.
    #[inline]
    fn find(&self, x: f64) -> Option<usize> {
        if !self.uniform {
            return self.search(x);
        }
        let bin = self.step(self.guess(x), x);
        (bin < self.len()).then_some(bin)
    }

    /// For evenly spaced edges: NumPy's estimate of `x`'s bin, `(x - lo) * bins / (hi - lo)`
    /// clamped to the bins (NaN to the last; [`Bins::step`] then finds it outside), without
    /// branches so that a loop of them vectorizes. It is off by less than one bin (its rounding
    /// error is below `bins × 2⁻⁵⁰`, and [`Bins::new`] sends more than 2³¹ bins to the search),
    /// so one [`Bins::step`] settles it.
    #[inline(always)]
    #[allow(clippy::inline_always, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn guess(&self, x: f64) -> usize {
        let f = (x - self.even.lo) * self.even.scale;
        let f = if f < self.even.top { f } else { self.even.top };
        let f = if f > 0.0 { f } else { 0.0 };
        f as u32 as usize
    }

    /// The bin of `x` from its estimate `i` ([`Bins::guess`]), one step down or up as the
    /// edges say (NumPy's correction; both edges are read at once), or the bin past the last
    /// when `x` is outside the edges.
    #[inline(always)]
    #[allow(clippy::inline_always, clippy::needless_bitwise_bool)]
    fn step(&self, i: usize, x: f64) -> usize {
        let e = self.even.edges;
        let last = e.len() - 2;
        let valid = (x >= self.even.lo) & (x <= self.even.hi);
        let (below, above) = (e[i], e[i + 1]);
        let down = usize::from((x < below) & (i > 0));
        let up = usize::from((x >= above) & (i < last));
        if valid { i - down + up } else { last + 1 }
    }

    /// The bin of `x` by binary search over the edges.
    fn search(&self, x: f64) -> Option<usize> {
        if !(x >= self.even.lo && x <= self.even.hi) {
            return None;
        }
        // Edges at or below x; x >= lo, so at least 1.
        Some((self.even.edges.partition_point(|&e| e <= x) - 1).min(self.len() - 1))
    }
}

/// Counts `xs` into four sets of `bins.len()` bins (evenly spaced edges).
///
/// The bins of a block of values are found first, into a small buffer, and counted after: a
/// count's store whose address waits on a long computation would otherwise hold up the next
/// value's loads (the processor cannot tell that they do not overlap), which ran at a third of
/// the speed.
fn count_uniform<T: Element>(xs: &[T], bins: &Bins<'_>, c: &mut [u64]) {
    const STAGE: usize = 256;
    let n = bins.len();
    let mut at = [0usize; STAGE];
    let mut vals = [0.0f64; STAGE];
    let (c01, c23) = c.split_at_mut(2 * n);
    let (c0, c1) = c01.split_at_mut(n);
    let (c2, c3) = c23.split_at_mut(n);
    // Values outside the edges are given the bin past the last, which is not counted.
    for (b, block) in xs.chunks(STAGE).enumerate() {
        // Each value takes a few dozen instructions, so the processor's window holds less than
        // a cache line of them and the hardware does not run far enough ahead: ask for the
        // lines of the block after next now (3-4x faster from memory on the machines measured).
        if let Some(ahead) = xs.get((b + 2) * STAGE..((b + 3) * STAGE).min(xs.len())) {
            for line in ahead.chunks(64 / size_of::<T>().max(1)) {
                crate::simd::prefetch(line.as_ptr());
            }
        }
        // The values as `f64` (float64 read where they lie), their bins four at a time where
        // the level allows (a third of the time of the loops below, which the compiler keeps
        // scalar: they read the edges), the rest as estimates, then steps.
        let vals: &[f64] = if let crate::dtype::Native::F64(v) = T::native(block) {
            v
        } else {
            for (v, &x) in vals.iter_mut().zip(block) {
                *v = x.to_f64();
            }
            &vals[..block.len()]
        };
        let done = simd::even_bins(vals, &mut at, &bins.even);
        for (slot, &x) in at[done..].iter_mut().zip(&vals[done..]) {
            *slot = bins.step(bins.guess(x), x);
        }
        let staged = &at[..block.len()];
        let quads = staged.chunks_exact(4);
        let rest = quads.remainder();
        for q in quads {
            for (set, &i) in [&mut *c0, &mut *c1, &mut *c2, &mut *c3].into_iter().zip(q) {
                if let Some(v) = set.get_mut(i) {
                    *v += 1;
                }
            }
        }
        for &i in rest {
            if let Some(v) = c0.get_mut(i) {
                *v += 1;
            }
        }
    }
}

/// Up to this many bins, counts go to four sets of bins added at the end, so that runs of one
/// bin do not wait on their own increments; more bins are rarely hit twice in a row, and four
/// sets of them would cost more memory than the stalls they save.
const FOUR_SETS_UP_TO: usize = 1 << 14;

/// Elements per piece of work for `bins` bins: at least [`TASK`], and enough that clearing and
/// adding a piece's own bins costs little next to counting it. A function of the input only, so
/// the pieces (and the tree that adds their sums) are the same on any number of threads.
fn piece_len(bins: usize) -> usize {
    TASK.max(bins.saturating_mul(4))
}

/// `leaf(start, end)` of every piece `start..end` of `total` elements, the results merged in the
/// fixed tree of the engine (so the same for any thread count); `cancel` is polled per piece.
fn by_pieces<S: Send>(
    total: usize,
    piece: usize,
    cancel: &Cancel,
    leaf: &(impl Fn(usize, usize) -> Result<S> + Sync),
    merge: &(impl Fn(S, S) -> S + Sync),
) -> Result<S> {
    let pieces = total.div_ceil(piece).max(1);
    let one = |p: usize| {
        cancel.check()?;
        leaf(p * piece, ((p + 1) * piece).min(total))
    };
    if total < SERIAL_BELOW || pool::threads_here() == 1 {
        return engine::serial_tree(0, pieces, &mut |p| one(p), merge);
    }
    pool::install(|| engine::parallel_tree(0, pieces, &one, merge, cancel))
}

/// The elements `start..end` of `a` in C order: borrowed when `a` is C-contiguous, else
/// gathered into `buf`.
fn piece<'b, T: Element>(
    a: &'b ArrayViewD<'_, T>,
    start: usize,
    end: usize,
    buf: &'b mut Vec<T>,
) -> Result<&'b [T]> {
    if let Some(xs) = a.as_slice() {
        return Ok(&xs[start..end]);
    }
    mem::resize(buf, end - start, T::default())?;
    if a.ndim() == 0 {
        buf[0] = a.iter().copied().next().unwrap_or_default();
    } else {
        engine::gather(a, start, buf);
    }
    Ok(buf)
}

fn add<T: Copy + std::ops::AddAssign>(mut a: Vec<T>, b: &[T]) -> Vec<T> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += *y);
    a
}

/// Counts `xs` into `sets` sets of bins in `c`.
fn count_into<T: Element>(xs: &[T], bins: &Bins<'_>, sets: usize, c: &mut [u64]) {
    let n = bins.len();
    if sets == 1 {
        for &x in xs {
            if let Some(i) = bins.find(x.to_f64()) {
                c[i] += 1;
            }
        }
        return;
    }
    if bins.uniform {
        count_uniform(xs, bins, c);
    } else {
        for (k, q) in xs.chunks(4).enumerate() {
            let set = &mut c[(k % 4) * n..(k % 4 + 1) * n];
            for &x in q {
                if let Some(i) = bins.search(x.to_f64()) {
                    set[i] += 1;
                }
            }
        }
    }
}
/// Counts of `a`'s values in the bins between `edges` (`uniform`: evenly spaced, as NumPy
/// makes them from a number of bins).
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{histogram::counts, NEVER};
/// let a = array![0.0, 0.5, 1.0, 2.0, 2.5, f64::NAN].into_dyn();
/// assert_eq!(counts(&a.view(), &[0.0, 1.0, 2.0], false, &NEVER).unwrap(), vec![2, 2]);
/// ```
pub fn counts<T: Element>(
    a: &ArrayViewD<'_, T>,
    edges: &[f64],
    uniform: bool,
    cancel: &Cancel,
) -> Result<Vec<u64>> {
    let bins = Bins::new(edges, uniform)?;
    let n = bins.len();
    let sets = if n <= FOUR_SETS_UP_TO { 4 } else { 1 };
    let count = |xs: &[T]| -> Result<Vec<u64>> {
        let mut c = mem::filled(sets * n, 0u64)?;
        // A piece of many bins is long: the flag is looked at every TASK values in it too.
        for xs in xs.chunks(TASK) {
            cancel.check()?;
            count_into(xs, &bins, sets, &mut c);
        }
        if sets == 1 {
            return Ok(c);
        }
        let (c01, c23) = c.split_at(2 * n);
        mem::collect(n, (0..n).map(|i| c01[i] + c01[n + i] + c23[i] + c23[n + i]))
    };
    // Counts do not depend on the order values are met in: any memory order will do.
    let flat = a.as_slice_memory_order();
    let total = a.len();
    by_pieces(
        total,
        piece_len(n),
        cancel,
        &|start, end| match flat {
            Some(xs) => count(&xs[start..end]),
            None => count(piece(a, start, end, &mut Vec::new())?),
        },
        &|x, y| add(x, &y),
    )
}

/// Sums of `weights` (of `a`'s shape) over the bins their values of `a` fall in, added in
/// `f64` in C order within fixed pieces and across pieces in a fixed tree: the same bits on any
/// number of threads (within rounding of NumPy's, which adds block by block in order).
pub fn weighted<T: Element, W: Element>(
    a: &ArrayViewD<'_, T>,
    weights: &ArrayViewD<'_, W>,
    edges: &[f64],
    uniform: bool,
    cancel: &Cancel,
) -> Result<Vec<f64>> {
    if a.shape() != weights.shape() {
        return Err(Error::Invalid("weights should have the same shape as a.".into()));
    }
    let bins = Bins::new(edges, uniform)?;
    let n = bins.len();
    let leaf = |start: usize, end: usize| -> Result<Vec<f64>> {
        let (mut xbuf, mut wbuf) = (Vec::new(), Vec::new());
        let xs = piece(a, start, end, &mut xbuf)?;
        let ws = piece(weights, start, end, &mut wbuf)?;
        let mut c = mem::filled(n, 0.0f64)?;
        for (&x, &w) in xs.iter().zip(ws) {
            if let Some(i) = bins.find(x.to_f64()) {
                c[i] += w.to_f64();
            }
        }
        Ok(c)
    };
    by_pieces(a.len(), piece_len(n), cancel, &leaf, &|x, y| add(x, &y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NEVER;
    use ndarray::Array1;

    /// Counts by checking every bin.
    fn direct(xs: &[f64], edges: &[f64]) -> Vec<u64> {
        let n = edges.len() - 1;
        let mut c = vec![0; n];
        for &x in xs {
            for i in 0..n {
                let inside = edges[i] <= x && (x < edges[i + 1] || (i == n - 1 && x <= edges[n]));
                if inside {
                    c[i] += 1;
                    break;
                }
            }
        }
        c
    }

    /// Edges as `numpy.linspace` makes them: `lo + i * step`, the last set to `hi`.
    fn linspace(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
        #[allow(clippy::cast_precision_loss)]
        let step = (hi - lo) / bins as f64;
        #[allow(clippy::cast_precision_loss)]
        let mut e: Vec<f64> = (0..=bins).map(|i| lo + i as f64 * step).collect();
        e[bins] = hi;
        e
    }

    #[test]
    fn bins_found_four_at_a_time_are_the_bins_found_one_at_a_time() {
        for (lo, hi, n) in
            [(-3.7, 4.1, 100), (0.0, 1.0, 1), (1e-3, 1e-3 + 1e-12, 7), (-1e300, 1e300, 3)]
        {
            let edges = linspace(lo, hi, n);
            let bins = Bins::new(&edges, true).unwrap();
            assert!(bins.uniform);
            let mut vals = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, lo, hi];
            for &e in &edges {
                // Each edge, and its neighbours on either side.
                vals.extend([e, e.next_up(), e.next_down(), -e]);
            }
            vals.extend(
                (0..4001).map(|i| lo - (hi - lo) * 0.1 + (hi - lo) * 1.2 * f64::from(i) / 4000.0),
            );
            let mut at = vec![usize::MAX; vals.len()];
            let done = simd::even_bins(&vals, &mut at, &bins.even);
            if simd::level() as u8 >= simd::Level::Avx2 as u8 {
                assert_eq!(done, vals.len() / 4 * 4);
            }
            for (k, &x) in vals[..done].iter().enumerate() {
                assert_eq!(
                    at[k],
                    bins.step(bins.guess(x), x),
                    "value {x:e} of bins over {lo}..{hi}"
                );
            }
        }
    }

    #[test]
    fn edges_and_arithmetic_agree_with_checking_every_bin() {
        let edges: Vec<f64> = (0..=10).map(|i| f64::from(i) * 0.1).collect();
        let mut xs: Vec<f64> = (0..300_000).map(|i| f64::from(i % 1234) / 1100.0 - 0.05).collect();
        xs.extend(&edges);
        xs.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0]);
        let a = Array1::from_vec(xs.clone()).into_dyn();
        let want = direct(&xs, &edges);
        assert_eq!(counts(&a.view(), &edges, true, &NEVER).unwrap(), want);
        assert_eq!(counts(&a.view(), &edges, false, &NEVER).unwrap(), want);
        let strided = a.slice(ndarray::s![..;-3]).into_dyn();
        let picked: Vec<f64> = strided.iter().copied().collect();
        assert_eq!(counts(&strided, &edges, true, &NEVER).unwrap(), direct(&picked, &edges));
        let w = Array1::from_elem(xs.len(), 0.5).into_dyn();
        let sums = weighted(&a.view(), &w.view(), &edges, true, &NEVER).unwrap();
        #[allow(clippy::cast_precision_loss)]
        let halves: Vec<f64> = want.iter().map(|&c| c as f64 * 0.5).collect();
        assert_eq!(sums, halves);
    }

    #[test]
    fn repeated_edges_and_bad_edges() {
        let xs = [0.0, 1.0, 1.0, 2.0, 3.0];
        let a = Array1::from_vec(xs.to_vec()).into_dyn();
        let edges = [0.0, 1.0, 1.0, 3.0];
        assert_eq!(counts(&a.view(), &edges, false, &NEVER).unwrap(), direct(&xs, &edges));
        assert!(counts(&a.view(), &[1.0, 0.0], false, &NEVER).is_err());
        assert!(counts(&a.view(), &[1.0], false, &NEVER).is_err());
    }
}
