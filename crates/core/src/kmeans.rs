//! k-means clustering with scikit-learn's semantics: its greedy k-means++, Lloyd's iterations
//! with its convergence rules and its relocation of empty clusters.
//!
//! The points are rows of a table in any layout, read tile by tile and moved by a centre (any
//! point near them, as scikit-learn subtracts the mean) without a copy of the table. Each pass
//! splits the rows into blocks fixed by the table's size alone, so the result is the same on any
//! number of threads: every block keeps its own sums and they are added in block order.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::distance::{Real, Tile, direct_sq};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::lloyd::{Centres, add_rows, inertia, sq_distance, sq_distances};
use crate::{mem, pool};

/// Rows per tile of a pass (scikit-learn's chunk).
const CHUNK: usize = 4096;

/// The points to cluster: the rows of `x` less `centre`, each with its weight.
#[derive(Clone, Debug)]
pub struct Points<'a, T> {
    /// The table, one point per row.
    pub x: ArrayView2<'a, T>,
    /// What is subtracted from every row before any arithmetic (scikit-learn: the mean).
    pub centre: Vec<f64>,
    /// One non-negative weight per row.
    pub weights: Vec<f64>,
}

impl<'a, T: Element> Points<'a, T> {
    /// Unit weights and the column means (rounded to the working type `R`) as the centre.
    pub fn unweighted<R: Real>(x: &ArrayView2<'a, T>) -> Result<Self> {
        let n = x.nrows().max(1) as f64;
        let mut centre = mem::filled(x.ncols(), 0.0)?;
        for row in x.rows() {
            for (s, v) in centre.iter_mut().zip(row.iter()) {
                *s += v.to_f64();
            }
        }
        for s in &mut centre {
            *s = R::from_f64(*s / n).to_f64();
        }
        Ok(Points { weights: mem::filled(x.nrows(), 1.0)?, x: *x, centre })
    }

    /// Refuses points scikit-learn refuses: NaN or infinity, negative weights, fewer rows
    /// than clusters; and measures them for the passes.
    fn check(&self, k: usize, cancel: &Cancel) -> Result<Checked> {
        if self.weights.len() != self.x.nrows() {
            return Err(Error::Invalid(format!(
                "sample_weight.shape == ({},), expected ({},)!",
                self.weights.len(),
                self.x.nrows()
            )));
        }
        if self.x.ncols() == 0 {
            return Err(Error::Invalid(format!(
                "Found array with 0 feature(s) (shape=({}, 0)) while a minimum of 1 is required.",
                self.x.nrows()
            )));
        }
        if k == 0 || self.x.nrows() < k {
            return Err(Error::Invalid(format!(
                "n_samples={} should be >= n_clusters={k}.",
                self.x.nrows()
            )));
        }
        if self.weights.iter().any(|&w| w.is_nan() || w < 0.0) {
            return Err(Error::Invalid("Negative values in data passed to sample_weight".into()));
        }
        let (spread, farthest) = self.measure(cancel)?;
        if !spread.is_finite() {
            return Err(Error::Invalid("Input X contains NaN or infinity.".into()));
        }
        let offset: f64 = self.centre.iter().map(|c| c * c).sum();
        let raw = offset * self.x.nrows() as f64 <= spread;
        // Rows are read unmoved (`raw`) or moved by the centre and rounded to the working type.
        let reach = if raw { farthest.sqrt() + offset.sqrt() } else { farthest.sqrt() * 1.001 };
        Ok(Checked { raw, spread, reach })
    }

    /// The sum over the points (unweighted) of the squared distance to the centre: the number
    /// of points times the sum of the columns' variances when the centre is the mean. NaN or
    /// infinite when a value is.
    pub fn spread(&self, cancel: &Cancel) -> Result<f64> {
        Ok(self.measure(cancel)?.0)
    }

    /// [`Points::spread`], and the largest squared distance of a point to the centre.
    fn measure(&self, cancel: &Cancel) -> Result<(f64, f64)> {
        // One (zero-sized) item per row: no memory.
        let mut rows: Vec<()> = std::iter::repeat_n((), self.x.nrows()).collect();
        let spreads = self.blocks(1, &mut rows, |first, rows| {
            let (mut total, mut farthest) = (0.0, 0.0f64);
            let mut row_of = mem::with_capacity(self.x.ncols())?;
            let block = self.x.slice(s![first..first + rows.len(), ..]);
            for (i, row) in block.rows().into_iter().enumerate() {
                if i % CHUNK == 0 {
                    cancel.check()?;
                }
                let xs = row.as_slice().unwrap_or_else(|| {
                    row_of.clear();
                    row_of.extend(row.iter().copied());
                    &row_of
                });
                let d2 = sq_distance(xs, &self.centre);
                total += d2;
                farthest = farthest.max(d2);
            }
            Ok((total, farthest))
        })?;
        Ok((spreads.iter().map(|s| s.0).sum(), spreads.iter().map(|s| s.1).fold(0.0, f64::max)))
    }

    /// Rows per block of a pass: a function of the table and `k` only, never of the threads.
    fn block_rows(&self, k: usize) -> usize {
        let (n, d) = self.x.dim();
        // At most 64 blocks, and at most 32 MB of per-block sums.
        let blocks = (n / 2048).clamp(1, 64).min(((1 << 22) / (k * d).max(1)).max(1));
        n.div_ceil(blocks).max(1)
    }

    /// Runs `work(first_row, items_of_the_block)` over the blocks (in parallel when worth it),
    /// `items` holding one entry per row, and returns the results in block order.
    fn blocks<S: Send, P: Send>(
        &self,
        k: usize,
        labels: &mut [S],
        work: impl Fn(usize, &mut [S]) -> Result<P> + Sync,
    ) -> Result<Vec<P>> {
        let per = self.block_rows(k);
        let work = |(b, chunk): (usize, &mut [S])| work(b * per, chunk);
        if labels.len() * k * self.x.ncols() < 1 << 16 || pool::threads_here() == 1 {
            labels.chunks_mut(per).enumerate().map(work).collect()
        } else {
            pool::install(|| labels.par_chunks_mut(per).enumerate().map(work).collect())
        }
    }

    /// The rows `r0..r1` moved by the centre, in the working type (`cancel` polled per row).
    fn tile<R: Real>(
        &self,
        tile: &mut Tile<R>,
        r0: usize,
        r1: usize,
        cancel: &Cancel,
    ) -> Result<()> {
        tile.fill(&self.x.slice(s![r0..r1, ..]), Some(&self.centre), cancel)
    }
}

/// What [`Points::check`] finds of the points.
#[derive(Clone, Copy, Debug)]
struct Checked {
    /// The centre is near the origin against the points' spread: the rows can be multiplied
    /// where they lie, unmoved (see [`pass`]).
    raw: bool,
    /// [`Points::spread`].
    spread: f64,
    /// A bound of the norms of the rows as the passes read them.
    reach: f64,
}

/// What a fit reports as it goes: scikit-learn's verbose lines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Iteration `iter` assigned the points; `inertia` is against the centres it started from.
    Iteration {
        /// From 0.
        iter: usize,
        /// Weighted sum of squared distances.
        inertia: f64,
    },
    /// The labels stopped changing at iteration `iter`.
    Strict {
        /// From 0.
        iter: usize,
    },
    /// At iteration `iter` the centres moved `shift` (sum of squares), within `tol`.
    Shift {
        /// From 0.
        iter: usize,
        /// Sum over the centres of the squared distance each moved.
        shift: f64,
        /// The absolute tolerance.
        tol: f64,
    },
}

/// A clustering.
#[derive(Clone, Debug)]
pub struct Fit<R> {
    /// `k × d` centres, in the frame of the points (moved by their centre).
    pub centers: Array2<R>,
    /// The centre each point belongs to.
    pub labels: Vec<i32>,
    /// Weighted sum of squared distances of the points to their centres.
    pub inertia: f64,
    /// Iterations run.
    pub n_iter: usize,
}

/// What a block of a pass adds up.
struct Partial {
    sums: Vec<f64>,
    weights: Vec<f64>,
    changed: usize,
    inertia: f64,
}

impl Partial {
    /// Nothing yet, for `k` centres of `d` features (the sums only when wanted).
    fn new(k: usize, d: usize, want: Want) -> Result<Self> {
        let sums = mem::filled(if want.sums { k.saturating_mul(d) } else { 0 }, 0.0)?;
        Ok(Partial { sums, weights: mem::filled(k, 0.0)?, changed: 0, inertia: 0.0 })
    }
}

/// What a pass does.
#[derive(Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // four independent switches, set by name
struct Want {
    relabel: bool,
    sums: bool,
    inertia: bool,
    /// Rows may be read where they lie, unmoved (the centre is near the origin).
    raw: bool,
    /// A bound of the norms of the rows as read ([`Checked::reach`]).
    reach: f64,
}

/// One pass over the points: each point's nearest centre into `labels` (ties to the lower
/// centre, by scikit-learn's `|c|² - 2 x·c` in the working type) when `relabel`, then the
/// weighted sums of the points of each centre and the inertia against `centers`, as wanted.
fn pass<T: Element, R: Real>(
    p: &Points<'_, T>,
    centers: &Array2<R>,
    labels: &mut [i32],
    want: Want,
    cancel: &Cancel,
) -> Result<Partial> {
    let (k, d) = centers.dim();
    // Rows unmoved, in place: `|c - x|² = |c|² + 2 m·c - 2 x·c + ...` for centres `c` in the
    // frame moved by `m`; only for a C-ordered table of the working type.
    let raw = want.raw
        && p.x.as_slice().is_some_and(|xs| R::of(T::native(&xs[..xs.len().min(1)])).is_some());
    let shift = if raw { p.centre.as_slice() } else { &[][..] };
    let norms: Vec<R> = mem::collect(
        k,
        centers.rows().into_iter().map(|c| {
            let n: f64 = c.iter().map(|v| v.to_f64() * v.to_f64()).sum();
            let m: f64 = c.iter().zip(shift).map(|(v, m)| v.to_f64() * m).sum();
            R::from_f64(n + 2.0 * m)
        }),
    )?;
    let packed = want.relabel.then(|| Centres::new(centers, &norms, want.reach)).transpose()?;
    // The centres as the user sees them (in the frame of `x`), to decide close calls from.
    let user: Vec<f64> = if want.relabel {
        mem::collect(
            centers.len(),
            centers.indexed_iter().map(|((_, j), v)| v.to_f64() + p.centre[j]),
        )?
    } else {
        Vec::new()
    };
    // The centres in the frame of the rows read, for the inertia.
    let targets: Vec<f64> = if want.inertia {
        let shift = |j: usize| shift.get(j).copied().unwrap_or(0.0);
        mem::collect(
            centers.len(),
            centers.indexed_iter().map(|((_, j), v)| v.to_f64() + shift(j)),
        )?
    } else {
        Vec::new()
    };
    let parts = p.blocks(k, labels, |first, labels| {
        let mut part = Partial::new(k, d, want)?;
        let mut tile = Tile::<R>::new();
        let mut close = Vec::new();
        for c0 in (0..labels.len()).step_by(CHUNK) {
            cancel.check()?;
            let c1 = (c0 + CHUNK).min(labels.len());
            let (r0, r1) = (first + c0, first + c1);
            let rows = match p.x.as_slice().map(|xs| R::of(T::native(&xs[r0 * d..r1 * d]))) {
                Some(Some(xs)) if raw => xs,
                _ => {
                    p.tile(&mut tile, r0, r1, cancel)?;
                    tile.rows.as_slice().expect("tiles are C-ordered")
                }
            };
            if let Some(centres) = &packed {
                // In groups of about 2²² multiply-adds, between which Ctrl-C is looked for
                // (each row's centre is its own: the groups change nothing else).
                let group = ((1 << 22) / (k * d).max(1)).clamp(1, CHUNK);
                for g0 in (0..c1 - c0).step_by(group) {
                    cancel.check()?;
                    let g1 = (g0 + group).min(c1 - c0);
                    let (rows, labels) = (&rows[g0 * d..g1 * d], &mut labels[c0 + g0..c0 + g1]);
                    part.changed += centres.nearest(rows, labels, &mut close);
                    for &(i, old) in &close {
                        let label = nearest_exactly(&p.x.row(r0 + g0 + i), &user, d);
                        labels[i] = label;
                        part.changed += usize::from(label != old);
                    }
                }
            }
            let (labels, weights) = (&labels[c0..c1], &p.weights[r0..r1]);
            if want.sums {
                add_rows(rows, d, labels, weights, &mut part.sums, &mut part.weights);
            } else {
                for (&label, &w) in labels.iter().zip(weights) {
                    part.weights[label as usize] += w;
                }
            }
            if want.inertia {
                part.inertia += inertia(rows, d, labels, weights, &targets);
            }
        }
        Ok(part)
    })?;
    let mut total = Partial::new(k, d, want)?;
    for part in parts {
        for (t, s) in total.sums.iter_mut().zip(&part.sums) {
            *t += s;
        }
        for (t, w) in total.weights.iter_mut().zip(&part.weights) {
            *t += w;
        }
        total.changed += part.changed;
        total.inertia += part.inertia;
    }
    // Sums of unmoved rows, moved: `Σ w (x - m) = Σ w x - m Σ w`.
    for (j, sums) in total.sums.chunks_mut(d.max(1)).enumerate() {
        for (s, m) in sums.iter_mut().zip(shift) {
            *s -= total.weights[j] * m;
        }
    }
    Ok(total)
}

/// The index of the centre (rows of `d` in `centres`) nearest to `x`, from distances summed
/// directly in `f64` with compensation, the lower index on a tie: the decision of a close call.
fn nearest_exactly<T: Element>(x: &ndarray::ArrayView1<'_, T>, centres: &[f64], d: usize) -> i32 {
    let mut best = (f64::INFINITY, 0usize);
    for (j, c) in centres.chunks_exact(d.max(1)).enumerate() {
        // Neumaier's sum of the squared differences: exact ties stay ties.
        let (mut sum, mut comp) = (0.0f64, 0.0f64);
        for (v, &c) in x.iter().zip(c) {
            let diff = v.to_f64() - c;
            let term = diff * diff;
            let t = sum + term;
            comp += if sum.abs() >= term { (sum - t) + term } else { (term - t) + sum };
            sum = t;
        }
        let dist = sum + comp;
        if dist < best.0 {
            best = (dist, j);
        }
    }
    best.1 as i32
}

/// The new centres from a pass's sums (scikit-learn's `_relocate_empty_clusters_dense` then
/// `_average_centers`): each empty cluster takes the point farthest from its old centre, one
/// point per empty cluster, farthest first (ties to the lower row), moved out of its cluster's
/// sums; then each centre is its sums times the reciprocal of its weight.
fn new_centers<T: Element, R: Real>(
    p: &Points<'_, T>,
    old: &Array2<R>,
    labels: &mut [i32],
    mut part: Partial,
    cancel: &Cancel,
) -> Result<Array2<R>> {
    let (k, d) = old.dim();
    let empty: Vec<usize> = mem::collect(k, (0..k).filter(|&j| part.weights[j] == 0.0))?;
    if !empty.is_empty() {
        let far = farthest(p, old, labels, empty.len(), cancel)?;
        for (&new, &i) in empty.iter().zip(&far) {
            let w = p.weights[i];
            let from = labels[i] as usize;
            let row = p.x.row(i);
            for (f, (x, c)) in row.iter().zip(&p.centre).enumerate() {
                let v = w * R::from_f64(x.to_f64() - c).to_f64();
                part.sums[from * d + f] -= v;
                part.sums[new * d + f] = v;
            }
            part.weights[new] = w;
            part.weights[from] -= w;
        }
    }
    let mut centers = mem::array((k, d), R::zero())?;
    for (j, mut c) in centers.rows_mut().into_iter().enumerate() {
        let w = part.weights[j];
        let scale = if w > 0.0 { 1.0 / w } else { 1.0 };
        for (v, s) in c.iter_mut().zip(&part.sums[j * d..(j + 1) * d]) {
            *v = R::from_f64(s * scale);
        }
    }
    Ok(centers)
}

/// The `m` rows farthest from their centres, farthest first, ties to the lower row.
fn farthest<T: Element, R: Real>(
    p: &Points<'_, T>,
    centers: &Array2<R>,
    labels: &mut [i32],
    m: usize,
    cancel: &Cancel,
) -> Result<Vec<usize>> {
    let parts = p.blocks(centers.nrows(), labels, |first, labels| {
        let mut tile = Tile::<R>::new();
        let mut out = mem::with_capacity(labels.len())?;
        for c0 in (0..labels.len()).step_by(CHUNK) {
            cancel.check()?;
            let c1 = (c0 + CHUNK).min(labels.len());
            p.tile(&mut tile, first + c0, first + c1, cancel)?;
            for (xs, &label) in tile.rows.rows().into_iter().zip(&labels[c0..c1]) {
                let c = centers.row(label as usize);
                out.push(direct_sq(
                    xs.to_slice().expect("tiles are C-ordered"),
                    c.to_slice().expect("centres are C-ordered"),
                ));
            }
        }
        Ok(out)
    })?;
    let mut dist: Vec<f64> = mem::with_capacity(p.x.nrows())?;
    for part in parts {
        dist.extend(part);
    }
    let order = |a: &usize, b: &usize| dist[*b].total_cmp(&dist[*a]).then(a.cmp(b));
    let mut rows: Vec<usize> = mem::collect(dist.len(), 0..dist.len())?;
    let m = m.min(rows.len());
    if m < rows.len() {
        rows.select_nth_unstable_by(m, order);
    }
    rows.truncate(m);
    rows.sort_unstable_by(order);
    Ok(rows)
}

/// `a` in C order (a copy only when it is not).
fn standard<R: Real>(a: Array2<R>) -> Result<Array2<R>> {
    if a.is_standard_layout() {
        return Ok(a);
    }
    let mut copy = mem::array(a.raw_dim(), R::zero())?;
    copy.assign(&a);
    Ok(copy)
}

/// Lloyd's iterations from the centres `init` (in the points' frame), scikit-learn's
/// `_kmeans_single_lloyd`: at most `max_iter` iterations, stopping when no label changes
/// ("strict convergence") or when the centres move (sum of squares) at most `tol`; without
/// strict convergence the labels are assigned once more to the final centres. `on_event` hears
/// every iteration (with its inertia when `report_inertia`, else NaN) and the convergence.
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{kmeans::{lloyd, Points}, NEVER};
/// let x = array![[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]];
/// let p = Points { x: x.view(), centre: vec![0.0, 0.0], weights: vec![1.0; 4] };
/// let fit = lloyd(&p, array![[1.0, 0.0], [9.0, 0.0]], 300, 0.0, false, &NEVER, &mut |_| {}).unwrap();
/// assert_eq!(fit.labels, vec![0, 0, 1, 1]);
/// assert_eq!(fit.centers, array![[0.0, 0.5], [10.0, 0.5]]);
/// assert_eq!(fit.inertia, 1.0);
/// ```
///
/// # Errors
/// [`Error::Invalid`] for centres of the wrong shape or points [`Points::check`] refuses,
/// [`Error::Cancelled`] once `cancel` is set.
pub fn lloyd<T: Element, R: Real>(
    p: &Points<'_, T>,
    init: Array2<R>,
    max_iter: usize,
    tol: f64,
    report_inertia: bool,
    cancel: &Cancel,
    on_event: &mut dyn FnMut(Event),
) -> Result<Fit<R>> {
    let (k, d) = init.dim();
    if d != p.x.ncols() {
        return Err(Error::Invalid(format!(
            "The shape of the initial centers ({k}, {d}) does not match the number of features \
             of the data {}.",
            p.x.ncols()
        )));
    }
    let Checked { raw, reach, .. } = p.check(k, cancel)?;
    let mut centers = standard(init)?;
    let mut labels = mem::filled(p.x.nrows(), -1i32)?;
    let mut strict = false;
    let mut n_iter = 0;
    for iter in 0..max_iter.max(1) {
        n_iter = iter + 1;
        let want = Want { relabel: true, sums: true, inertia: report_inertia, raw, reach };
        let part = pass(p, &centers, &mut labels, want, cancel)?;
        let inertia = if report_inertia { part.inertia } else { f64::NAN };
        on_event(Event::Iteration { iter, inertia });
        let changed = part.changed;
        let new = new_centers(p, &centers, &mut labels, part, cancel)?;
        let shift: f64 = (&new - &centers).iter().map(|v| v.to_f64() * v.to_f64()).sum();
        centers = new;
        if changed == 0 {
            strict = true;
            on_event(Event::Strict { iter });
            break;
        }
        if shift <= tol {
            on_event(Event::Shift { iter, shift, tol });
            break;
        }
    }
    // Without strict convergence the labels are assigned once more to the final centres (in
    // the same pass as the inertia).
    let want = Want { relabel: !strict, sums: false, inertia: true, raw, reach };
    let inertia = pass(p, &centers, &mut labels, want, cancel)?.inertia;
    Ok(Fit { centers, labels, inertia, n_iter })
}

/// Each point's nearest centre (ties to the lower centre) and the inertia: scikit-learn's
/// `predict` and `-score`.
///
/// # Errors
/// As [`lloyd`].
pub fn assign<T: Element, R: Real>(
    p: &Points<'_, T>,
    centers: &ArrayView2<'_, R>,
    cancel: &Cancel,
) -> Result<(Vec<i32>, f64)> {
    if centers.ncols() != p.x.ncols() {
        return Err(Error::Invalid(format!(
            "X has {} features, but the centres have {}",
            p.x.ncols(),
            centers.ncols()
        )));
    }
    let Checked { raw, reach, .. } = p.check(1, cancel)?;
    let mut copy = mem::array(centers.raw_dim(), R::zero())?;
    copy.assign(centers);
    let centers = copy;
    let mut labels = mem::filled(p.x.nrows(), -1i32)?;
    let want = Want { relabel: true, sums: false, inertia: true, raw, reach };
    let part = pass(p, &centers, &mut labels, want, cancel)?;
    Ok((labels, part.inertia))
}

/// scikit-learn's greedy k-means++ (`_kmeans_plusplus`): the rows of `k` initial centres.
///
/// `first` is the first centre's row; row `c - 1` of `uniforms` holds the uniform draws in
/// `[0, 1)` for centre `c`, one per local trial (scikit-learn draws `2 + ⌊ln k⌋`). Each draw,
/// times the current potential, picks a candidate by the cumulative sum of weighted squared
/// distances to the nearest centre so far (summed in the working type, in row order, as NumPy's
/// `cumsum`); the candidate that lowers the potential most is kept. Distances are computed in
/// `f64` from the points moved to the working type and rounded to it, as scikit-learn's
/// upcast does for `float32`.
///
/// # Errors
/// As [`lloyd`].
pub fn plusplus<T: Element, R: Real>(
    p: &Points<'_, T>,
    k: usize,
    first: usize,
    uniforms: &ArrayView2<'_, f64>,
    cancel: &Cancel,
) -> Result<Vec<usize>> {
    p.check(k, cancel)?;
    let n = p.x.nrows();
    if first >= n || uniforms.nrows() + 1 < k || uniforms.ncols() == 0 {
        return Err(Error::Invalid("k-means++ needs a first row and draws per centre".into()));
    }
    let mut chosen = mem::with_capacity(k)?;
    chosen.push(first);
    let (pots, mut near) = candidates(p, &[first], None, cancel)?;
    let mut closest = near.swap_remove(0);
    let mut pot = R::from_f64(pots[0]).to_f64();
    let mut cumulative = mem::with_capacity(n)?;
    for c in 1..k {
        cumulative.clear();
        let mut acc = R::zero();
        for (&d, &w) in closest.iter().zip(&p.weights) {
            acc = acc + R::from_f64(w) * d;
            cumulative.push(acc.to_f64());
        }
        let ids: Vec<usize> = uniforms
            .row(c - 1)
            .iter()
            .map(|u| cumulative.partition_point(|&s| s < u * pot).min(n - 1))
            .collect();
        let (pots, mut near) = candidates(p, &ids, Some(&closest), cancel)?;
        let best = (0..pots.len()).fold(0, |b, i| if pots[i] < pots[b] { i } else { b });
        pot = R::from_f64(pots[best]).to_f64();
        closest = near.swap_remove(best);
        chosen.push(ids[best]);
    }
    Ok(chosen)
}

/// For each candidate row in `ids`, the lesser of `closest` (when given) and the squared
/// distance to the candidate, point by point, and the weighted sum of those. The candidates are
/// moved and rounded to the working type as scikit-learn's centres are; each distance is taken
/// in `f64` from the row as given, then rounded to the working type (scikit-learn upcasts
/// `float32` to `float64` for these distances; this takes them directly, not from norms).
fn candidates<T: Element, R: Real>(
    p: &Points<'_, T>,
    ids: &[usize],
    closest: Option<&[R]>,
    cancel: &Cancel,
) -> Result<(Vec<f64>, Vec<Vec<R>>)> {
    let d = p.x.ncols();
    // Each candidate in the frame of the rows as given: `m + round(c - m)`.
    let mut cands: Vec<f64> = mem::with_capacity(ids.len().saturating_mul(d))?;
    for &i in ids {
        cands.extend(
            p.x.row(i)
                .into_iter()
                .zip(&p.centre)
                .map(|(x, m)| m + R::from_f64(x.to_f64() - m).to_f64()),
        );
    }
    let m = ids.len();
    // One (zero-sized) item per row: no memory.
    let mut rows_of: Vec<()> = std::iter::repeat_n((), p.x.nrows()).collect();
    let parts = p.blocks(m, &mut rows_of, |first, block| {
        let mut sums = mem::filled(m, 0.0)?;
        let mut kept: Vec<Vec<R>> = mem::with_capacity(m)?;
        for _ in 0..m {
            kept.push(mem::with_capacity(block.len())?);
        }
        let (mut gathered, mut out) = (Vec::new(), Vec::new());
        for c0 in (0..block.len()).step_by(CHUNK) {
            cancel.check()?;
            let (r0, r1) = (first + c0, first + (c0 + CHUNK).min(block.len()));
            let rows = if let Some(xs) = p.x.as_slice() {
                &xs[r0 * d..r1 * d]
            } else {
                gathered.clear();
                mem::reserve(&mut gathered, (r1 - r0) * d)?;
                gathered.extend(p.x.slice(s![r0..r1, ..]).rows().into_iter().flatten());
                &gathered[..]
            };
            let width = sq_distances(rows, &cands, d, &mut out)?;
            let weights = &p.weights[r0..r1];
            for (t, (s, kept)) in sums.iter_mut().zip(&mut kept).enumerate() {
                let from = kept.len();
                kept.extend(out.chunks_exact(width).map(|row| R::from_f64(row[t])));
                let new = &mut kept[from..];
                if let Some(closest) = closest {
                    for (n, &c) in new.iter_mut().zip(&closest[r0..r1]) {
                        if c < *n {
                            *n = c;
                        }
                    }
                }
                *s += weighted_sum(new, weights);
            }
        }
        Ok((sums, kept))
    })?;
    let mut pots = mem::filled(m, 0.0)?;
    let mut all: Vec<Vec<R>> = mem::with_capacity(m)?;
    for _ in 0..m {
        all.push(mem::with_capacity(p.x.nrows())?);
    }
    for (sums, kept) in parts {
        for (t, s) in pots.iter_mut().zip(&sums) {
            *t += s;
        }
        for (all, kept) in all.iter_mut().zip(kept) {
            all.extend(kept);
        }
    }
    Ok((pots, all))
}

/// `Σ w x` in eight lanes, added in a fixed order.
fn weighted_sum<R: Real>(xs: &[R], weights: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (cx, cw) = (xs.chunks_exact(8), weights.chunks_exact(8));
    let tail: f64 = cx.remainder().iter().zip(cw.remainder()).map(|(x, w)| w * x.to_f64()).sum();
    for (x, w) in cx.zip(cw) {
        for ((l, x), w) in lanes.iter_mut().zip(x).zip(w) {
            *l += w * x.to_f64();
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Settings of [`kmeans`], scikit-learn's names and meanings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Runs from different k-means++ starts; the one of least inertia is kept.
    pub n_init: usize,
    /// Iterations per run.
    pub max_iter: usize,
    /// Relative tolerance: times the mean of the columns' variances.
    pub tol: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { n_init: 1, max_iter: 300, tol: 1e-4 }
    }
}

/// k-means of the rows of `x` into `k` clusters, scikit-learn's
/// `KMeans(k, init="k-means++")` with unit weights: `n_init` runs of [`lloyd`] from
/// [`plusplus`] starts, the points moved by their mean (rounded to the working type `R`). A
/// later run replaces the best so far only with a lower inertia and a different partition.
/// `uniform` supplies the draws in `[0, 1)`; `on_event(run, event)` hears every run's progress.
/// The centres are returned in the frame of `x`.
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{kmeans::{kmeans, Settings}, NEVER};
/// let x = array![[0.0f32, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]];
/// let mut draws = [0.1, 0.9, 0.5].into_iter().cycle();
/// let fit = kmeans::<f32, f32>(&x.view(), 2, &Settings::default(), &mut || draws.next().unwrap(), &NEVER, &mut |_, _| {}).unwrap();
/// assert_eq!(fit.inertia, 1.0);
/// assert_ne!(fit.labels[0], fit.labels[2]);
/// ```
///
/// # Errors
/// As [`lloyd`].
///
/// # Panics
/// Never: at least one run is made.
pub fn kmeans<T: Element, R: Real>(
    x: &ArrayView2<'_, T>,
    k: usize,
    settings: &Settings,
    uniform: &mut dyn FnMut() -> f64,
    cancel: &Cancel,
    on_event: &mut dyn FnMut(usize, Event),
) -> Result<Fit<R>> {
    if settings.tol.is_nan() || settings.tol < 0.0 {
        return Err(Error::Invalid(format!(
            "The 'tol' parameter of KMeans must be a float in the range [0.0, inf). Got {} \
             instead.",
            settings.tol
        )));
    }
    if x.ncols() == 0 {
        // Before the weights are made: a table of 2⁴⁰ empty rows is refused at once.
        return Err(Error::Invalid(format!(
            "Found array with 0 feature(s) (shape=({}, 0)) while a minimum of 1 is required.",
            x.nrows()
        )));
    }
    let p = Points::unweighted::<R>(x)?;
    let spread = p.check(k, cancel)?.spread;
    let n = x.nrows();
    // scikit-learn's tolerance: the mean of the columns' variances, times `tol`.
    let tol = settings.tol * spread / (n * x.ncols().max(1)) as f64;
    let trials = 2 + (k as f64).ln() as usize;
    let mut best: Option<Fit<R>> = None;
    for run in 0..settings.n_init.max(1) {
        let first = ((uniform() * n as f64) as usize).min(n - 1);
        let mut draws = mem::array((k - 1, trials), 0.0)?;
        draws.iter_mut().for_each(|u| *u = uniform());
        let rows = plusplus::<T, R>(&p, k, first, &draws.view(), cancel)?;
        let mut init = mem::array((k, x.ncols()), R::zero())?;
        for ((j, f), v) in init.indexed_iter_mut() {
            *v = R::from_f64(x[[rows[j], f]].to_f64() - p.centre[f]);
        }
        let fit = lloyd(&p, init, settings.max_iter, tol, true, cancel, &mut |e| on_event(run, e))?;
        let better = best
            .as_ref()
            .is_none_or(|b| fit.inertia < b.inertia && !same_partition(&fit.labels, &b.labels, k));
        if better {
            best = Some(fit);
        }
    }
    let mut fit = best.expect("at least one run");
    for mut c in fit.centers.rows_mut() {
        for (v, m) in c.iter_mut().zip(&p.centre) {
            *v = R::from_f64(v.to_f64() + m);
        }
    }
    Ok(fit)
}

/// Whether `a` and `b` are one partition up to a renaming of `a`'s labels (scikit-learn's
/// `_is_same_clustering`).
fn same_partition(a: &[i32], b: &[i32], k: usize) -> bool {
    #[allow(clippy::disallowed_macros)] // k, as the centres already held
    let mut map = vec![-1i32; k];
    a.iter().zip(b).all(|(&x, &y)| {
        let m = &mut map[x as usize];
        if *m == -1 {
            *m = y;
        }
        *m == y
    })
}
