//! Pairwise distances (scipy's `cdist`/`pdist` metrics), in cache-sized tiles.
//!
//! Rows are converted tile by tile into the working type (`f32` for `float32` input, else `f64`),
//! centred on the second set's (sampled) mean for the Euclidean metrics, and compared through a matrix
//! product (ndarray's `general_mat_mul`, i.e. `matrixmultiply`) where the metric allows:
//! `|x - y|² = |x|² + |y|² - 2 x·y`. That form loses the digits a small distance between large
//! vectors needs, so any pair whose product-form distance is small against `|x|² + |y|²`
//! is computed again directly from the two rows: identical rows give exactly 0, squared
//! distances are never negative, and the relative error stays near the working precision's.
//! The only memory of the size of the output is the output.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, LinalgScalar, s};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::{Element, Native};
use crate::error::{Error, Result};
use crate::{mem, pool};

/// A distance between two rows, by scipy's name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// `sqrt(sum((x - y)²))`.
    Euclidean,
    /// `sum((x - y)²)`.
    SqEuclidean,
    /// `1 - x·y / (|x| |y|)`.
    Cosine,
    /// `sum(|x - y|)`.
    Cityblock,
    /// `max(|x - y|)`.
    Chebyshev,
    /// `sum(|x - y|^p)^(1/p)`.
    Minkowski(f64),
    /// `-x·y`: nearest is the largest inner product ([`knn`]'s `ip`, as faiss's `IndexFlatIP`).
    NegInnerProduct,
}

impl Metric {
    /// The metric scipy calls `name` (`p` is Minkowski's order).
    pub fn from_name(name: &str, p: f64) -> Result<Metric> {
        Ok(match name {
            "euclidean" => Metric::Euclidean,
            "sqeuclidean" => Metric::SqEuclidean,
            "cosine" => Metric::Cosine,
            "cityblock" => Metric::Cityblock,
            "chebyshev" => Metric::Chebyshev,
            "minkowski" => {
                if p.is_nan() || p <= 0.0 {
                    return Err(Error::Invalid("p must be greater than 0".into()));
                }
                if p == f64::INFINITY { Metric::Chebyshev } else { Metric::Minkowski(p) }
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "Unknown Distance Metric: {name} (nocopy has euclidean, sqeuclidean, cosine, \
                     cityblock, chebyshev, minkowski)"
                )));
            }
        })
    }

    fn uses_product(self) -> bool {
        matches!(
            self,
            Metric::Euclidean | Metric::SqEuclidean | Metric::Cosine | Metric::NegInnerProduct
        )
    }
}

/// The working float type: `f32` or `f64`.
pub trait Real: Element + LinalgScalar + PartialOrd {
    /// Product-form squared distances below this share of `|x|² + |y|²` are recomputed
    /// directly: the relative error left is at most about `k ε / RECOMPUTE` for `k` features.
    const RECOMPUTE: f64;
    /// The type's machine epsilon, as `f64`.
    const EPSILON: f64;
    /// The slice, if its elements are of this type.
    fn of(xs: Native<'_>) -> Option<&[Self]>;
}

impl Real for f64 {
    const RECOMPUTE: f64 = 1e-3;
    const EPSILON: f64 = f64::EPSILON;
    fn of(xs: Native<'_>) -> Option<&[f64]> {
        if let Native::F64(v) = xs { Some(v) } else { None }
    }
}

impl Real for f32 {
    const RECOMPUTE: f64 = 0.05;
    const EPSILON: f64 = f32::EPSILON as f64;
    fn of(xs: Native<'_>) -> Option<&[f32]> {
        if let Native::F32(v) = xs { Some(v) } else { None }
    }
}

/// Rows of the first set per task.
const ROWS: usize = 128;
/// Rows of the second set per tile.
const COLS: usize = 512;
/// Multiply-adds a tile may take at most (a few milliseconds): rows of very many features
/// are taken fewer to a tile, so that Ctrl-C, looked for between tiles, is heard promptly.
const TILE_WORK: usize = 1 << 26;

/// Rows of the second set per tile against `rows` rows of `d` features.
fn cols_for(rows: usize, d: usize) -> usize {
    (TILE_WORK / rows.saturating_mul(d).max(1)).clamp(16, COLS)
}

/// A tile of rows converted to the working type (and centred), with their squared norms (also
/// rounded to the working type) and the largest norm.
pub(crate) struct Tile<R> {
    pub(crate) rows: Array2<R>,
    pub(crate) norms: Vec<f64>,
    rounded: Vec<R>,
    max_norm: f64,
}

impl<R: Real> Tile<R> {
    pub(crate) fn new() -> Self {
        Tile {
            rows: Array2::default((0, 0)),
            norms: Vec::new(),
            rounded: Vec::new(),
            max_norm: 0.0,
        }
    }

    /// The rows of `src` (moved by `centre`) in the working type; fails when a tile of them
    /// cannot be allocated (rows of very many features) or on `cancel`, polled per row.
    pub(crate) fn fill<T: Element>(
        &mut self,
        src: &ArrayView2<'_, T>,
        centre: Option<&[f64]>,
        cancel: &Cancel,
    ) -> Result<()> {
        let (n, k) = src.dim();
        // Each value written once, row by row (no zeroed tile first: for rows of very many
        // features that alone would be a long wait between polls).
        let mut values = std::mem::take(&mut self.rows).into_raw_vec_and_offset().0;
        values.clear();
        mem::reserve(&mut values, mem::elements(&[n, k], size_of::<R>())?)?;
        self.norms.clear();
        mem::reserve(&mut self.norms, n)?;
        for row in src.rows() {
            cancel.check()?;
            let from = values.len();
            match (centre, row.as_slice()) {
                (Some(c), Some(xs)) => {
                    values.extend(xs.iter().zip(c).map(|(x, c)| R::from_f64(x.to_f64() - c)));
                }
                (Some(c), None) => {
                    values.extend(row.iter().zip(c).map(|(x, c)| R::from_f64(x.to_f64() - c)));
                }
                (None, _) => values.extend(row.iter().map(|x| R::from_f64(x.to_f64()))),
            }
            self.norms.push(squared_norm(&values[from..]));
        }
        self.rows = mem::shaped((n, k), values)?;
        self.rounded.clear();
        mem::reserve(&mut self.rounded, n)?;
        self.rounded.extend(self.norms.iter().map(|&n| R::from_f64(n)));
        self.max_norm = self.norms.iter().copied().fold(0.0, f64::max);
        Ok(())
    }
}

/// Features per matrix product: a product of long rows is taken in pieces of this many
/// features, between which `cancel` is polled. Fixed (not sized by the tile), so that a
/// distance's rounding does not depend on how rows were tiled, and so on the thread count.
const FEATURES_PER_PRODUCT: usize = 4096;

/// `dots = a · bᵀ` (resized to `a.len × b.len`), in pieces of [`FEATURES_PER_PRODUCT`]
/// features.
pub(crate) fn products<R: Real>(
    a: &Tile<R>,
    b: &Tile<R>,
    dots: &mut Array2<R>,
    cancel: &Cancel,
) -> Result<()> {
    let (na, nb, d) = (a.rows.nrows(), b.rows.nrows(), a.rows.ncols());
    if dots.dim() != (na, nb) {
        *dots = mem::array((na, nb), R::default())?;
    }
    if d == 0 {
        dots.fill(R::zero());
    }
    for k0 in (0..d).step_by(FEATURES_PER_PRODUCT) {
        cancel.check()?;
        let k1 = (k0 + FEATURES_PER_PRODUCT).min(d);
        let beta = if k0 == 0 { R::zero() } else { R::one() };
        let (x, y) = (a.rows.slice(s![.., k0..k1]), b.rows.slice(s![.., k0..k1]));
        general_mat_mul(R::one(), &x, &y.t(), beta, dots);
    }
    Ok(())
}

/// Distances of tile rows `a` against tile rows `b` into `out` (a.len × b.len, row-major),
/// using `dots` (the matrix product) where the metric allows; `cancel` is polled per row (a
/// row of a tile of long rows is milliseconds of work).
pub(crate) fn tile_distances<R: Real>(
    metric: Metric,
    a: &Tile<R>,
    b: &Tile<R>,
    dots: &mut Array2<R>,
    out: &mut [f64],
    cancel: &Cancel,
) -> Result<()> {
    let (na, nb) = (a.rows.nrows(), b.rows.nrows());
    if metric.uses_product() {
        products(a, b, dots, cancel)?;
    }
    for i in 0..na {
        cancel.check()?;
        let x = a.rows.row(i);
        let xs = x.as_slice().expect("tiles are C-ordered");
        let o = &mut out[i * nb..(i + 1) * nb];
        match metric {
            Metric::Euclidean | Metric::SqEuclidean => {
                let row = dots.row(i);
                let dot = row.as_slice().expect("tiles are C-ordered");
                let an = a.norms[i];
                // The product form for the whole row (a loop that vectorizes), then the few
                // pairs it cannot resolve again, directly.
                for ((d, &bn), &p) in o.iter_mut().zip(&b.norms).zip(dot) {
                    *d = (an + bn) - 2.0 * p.to_f64();
                }
                for (j, (d, &bn)) in o.iter_mut().zip(&b.norms).enumerate() {
                    // NaN (from an infinite coordinate) is recomputed too.
                    if d.is_nan() || *d < R::RECOMPUTE * (an + bn) {
                        let ys = b.rows.row(j);
                        *d = direct_sq(xs, ys.as_slice().expect("tiles are C-ordered"));
                    }
                }
                if metric == Metric::Euclidean {
                    for d in o.iter_mut() {
                        *d = d.sqrt();
                    }
                }
            }
            Metric::NegInnerProduct => {
                for (j, d) in o.iter_mut().enumerate() {
                    *d = -dots[[i, j]].to_f64();
                }
            }
            Metric::Cosine => {
                for (j, d) in o.iter_mut().enumerate() {
                    let c = 1.0 - dots[[i, j]].to_f64() / (a.norms[i] * b.norms[j]).sqrt();
                    *d = c.clamp(0.0, 2.0);
                }
            }
            Metric::Cityblock | Metric::Chebyshev | Metric::Minkowski(_) => {
                for (j, d) in o.iter_mut().enumerate() {
                    let ys = b.rows.row(j);
                    *d = direct(metric, xs, ys.as_slice().expect("tiles are C-ordered"));
                }
            }
        }
    }
    Ok(())
}

/// `sum(x²)` in `f64`, in eight lanes.
fn squared_norm<R: Real>(xs: &[R]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|x| x.to_f64() * x.to_f64()).sum();
    for a in chunks {
        for l in 0..8 {
            acc[l] += a[l].to_f64() * a[l].to_f64();
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `sum((x - y)²)` in `f64`, in eight lanes.
pub(crate) fn direct_sq<R: Real>(xs: &[R], ys: &[R]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (cx, cy) = (xs.chunks_exact(8), ys.chunks_exact(8));
    let (rx, ry) = (cx.remainder(), cy.remainder());
    for (a, b) in cx.zip(cy) {
        for l in 0..8 {
            let d = a[l].to_f64() - b[l].to_f64();
            acc[l] += d * d;
        }
    }
    let tail: f64 = rx.iter().zip(ry).map(|(a, b)| (a.to_f64() - b.to_f64()).powi(2)).sum();
    acc.iter().sum::<f64>() + tail
}

/// The metrics without a product form, directly, in eight lanes.
fn direct<R: Real>(metric: Metric, xs: &[R], ys: &[R]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (cx, cy) = (xs.chunks_exact(8), ys.chunks_exact(8));
    let (rx, ry) = (cx.remainder(), cy.remainder());
    let term = |a: R, b: R| (a.to_f64() - b.to_f64()).abs();
    match metric {
        Metric::Chebyshev => {
            for (a, b) in cx.zip(cy) {
                for l in 0..8 {
                    let d = term(a[l], b[l]);
                    acc[l] = if d > acc[l] { d } else { acc[l] };
                }
            }
            let tail = rx.iter().zip(ry).map(|(&a, &b)| term(a, b)).fold(0.0, f64::max);
            acc.iter().copied().fold(tail, f64::max)
        }
        Metric::Minkowski(p) => {
            for (a, b) in cx.zip(cy) {
                for l in 0..8 {
                    acc[l] += term(a[l], b[l]).powf(p);
                }
            }
            let tail: f64 = rx.iter().zip(ry).map(|(&a, &b)| term(a, b).powf(p)).sum();
            (acc.iter().sum::<f64>() + tail).powf(1.0 / p)
        }
        _ => {
            for (a, b) in cx.zip(cy) {
                for l in 0..8 {
                    acc[l] += term(a[l], b[l]);
                }
            }
            let tail: f64 = rx.iter().zip(ry).map(|(&a, &b)| term(a, b)).sum();
            acc.iter().sum::<f64>() + tail
        }
    }
}

/// Rows whose mean is the centre: any point near the data serves.
const CENTRE_SAMPLE: usize = 4096;

/// The centre rows are moved to before a Euclidean product form: the second set's (sampled) mean, for
/// floats. Integers are not moved: their products and norms are then exact in `f64` (up to
/// 2⁵³), so equal distances stay equal and ties go to the lower index.
fn centring<T: Element>(
    metric: Metric,
    x: &ArrayView2<'_, T>,
    cancel: &Cancel,
) -> Result<Option<Vec<f64>>> {
    let euclidean = matches!(metric, Metric::Euclidean | Metric::SqEuclidean);
    (euclidean && T::DTYPE.is_float()).then(|| column_means(x, cancel)).transpose()
}

/// Column means of up to [`CENTRE_SAMPLE`] evenly spaced rows of `x` (0 where not finite).
fn column_means<T: Element>(x: &ArrayView2<'_, T>, cancel: &Cancel) -> Result<Vec<f64>> {
    let mut sums = mem::filled(x.ncols(), 0.0)?;
    let step = x.nrows().div_ceil(CENTRE_SAMPLE).max(1);
    let sample = x.slice(s![..;step, ..]);
    for row in sample.rows() {
        cancel.check()?;
        for (s, v) in sums.iter_mut().zip(row.iter()) {
            *s += v.to_f64();
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = sample.nrows().max(1) as f64;
    // Any centre serves; a column with NaN or infinities is left where it is.
    for s in &mut sums {
        *s = if s.is_finite() { *s / n } else { 0.0 };
    }
    Ok(sums)
}

/// Writes `(first_row, first_col, distances, width)`, a row-major tile of distances, where a
/// task's writer `W` puts them.
type Emit<'e, W> = dyn Fn(&mut W, usize, usize, &[f64], usize) + Sync + 'e;

/// Computes the distances of `xa`'s rows against `xb`'s, row blocks of `rows_per_task` in
/// parallel, and hands each tile to `emit` with the block's own writer (`writers` yields one
/// per block, in order); `skip(first)` is the first column a block needs.
#[allow(clippy::too_many_arguments)]
fn blocks<T: Element, R: Real, W: Send, I>(
    xa: &ArrayView2<'_, T>,
    xb: &ArrayView2<'_, T>,
    metric: Metric,
    cancel: &Cancel,
    emit: &Emit<'_, W>,
    rows_per_task: usize,
    skip: &(dyn Fn(usize) -> usize + Sync),
    writers: I,
) -> Result<()>
where
    I: IntoIterator<Item = W> + IntoParallelIterator<Item = W> + Send,
    <I as IntoParallelIterator>::Iter: IndexedParallelIterator,
{
    if xa.ncols() != xb.ncols() {
        return Err(Error::Invalid(
            "XA and XB must have the same number of columns (i.e. feature dimension.)".into(),
        ));
    }
    let centre = centring(metric, xb, cancel)?;
    let centre = centre.as_deref();
    let m = xa.nrows();
    let n = xb.nrows();
    let task = |(t, mut w): (usize, W)| {
        let first = t * rows_per_task;
        let rows = xa.slice(s![first..(first + rows_per_task).min(m), ..]);
        let mut a = Tile::<R>::new();
        a.fill(&rows, centre, cancel)?;
        let mut b = Tile::<R>::new();
        let mut dots = Array2::default((0, 0));
        let mut tile = Vec::new();
        let cols = cols_for(rows.nrows(), xa.ncols());
        for c0 in (skip(first) / cols * cols..n).step_by(cols) {
            cancel.check()?;
            let c1 = (c0 + cols).min(n);
            b.fill(&xb.slice(s![c0..c1, ..]), centre, cancel)?;
            mem::resize(&mut tile, rows.nrows() * (c1 - c0), 0.0)?;
            tile_distances(metric, &a, &b, &mut dots, &mut tile, cancel)?;
            emit(&mut w, first, c0, &tile, c1 - c0);
        }
        Ok::<_, Error>(())
    };
    if m.saturating_mul(n) < 1 << 14 || pool::threads_here() == 1 {
        writers.into_iter().enumerate().try_for_each(task)
    } else {
        pool::install(|| writers.into_par_iter().enumerate().try_for_each(task))
    }
}

/// scipy's `cdist(xa, xb, metric)` into `out` (`xa.nrows() × xb.nrows()`, any layout).
///
/// ```
/// use ndarray::{array, Array2};
/// use nocopy_core::{distance::{cdist_into, Metric}, NEVER};
/// let a = array![[0.0, 0.0], [3.0, 4.0]];
/// let mut d = Array2::<f64>::zeros((2, 2));
/// cdist_into(&a.view(), &a.view(), Metric::Euclidean, &mut d.view_mut(), &NEVER).unwrap();
/// assert_eq!(d, array![[0.0, 5.0], [5.0, 0.0]]);
/// ```
pub fn cdist_into<T: Element, R: Real>(
    xa: &ArrayView2<'_, T>,
    xb: &ArrayView2<'_, T>,
    metric: Metric,
    out: &mut ArrayViewMut2<'_, R>,
    cancel: &Cancel,
) -> Result<()> {
    if out.dim() != (xa.nrows(), xb.nrows()) {
        return Err(Error::Invalid(format!(
            "out has shape {:?}; the distances have shape ({}, {})",
            out.shape(),
            xa.nrows(),
            xb.nrows()
        )));
    }
    if xb.nrows() == 0 || xa.nrows() == 0 {
        return Ok(());
    }
    // Each task writes its own block of rows of the output.
    let emit = |block: &mut ArrayViewMut2<'_, R>, _first: usize, c0: usize, tile: &[f64], width| {
        for (mut row, values) in block.rows_mut().into_iter().zip(tile.chunks(width)) {
            let dst = row.slice_mut(s![c0..c0 + width]);
            dst.into_iter().zip(values).for_each(|(o, &v)| *o = R::from_f64(v));
        }
    };
    let writers = out.axis_chunks_iter_mut(Axis(0), ROWS);
    blocks::<T, R, _, _>(xa, xb, metric, cancel, &emit, ROWS, &|_| 0, writers)
}

/// scipy's `pdist(x, metric)`: the condensed distances (`i < j`, row by row) into `out`.
pub fn pdist_into<T: Element, R: Real>(
    x: &ArrayView2<'_, T>,
    metric: Metric,
    out: &mut [R],
    cancel: &Cancel,
) -> Result<()> {
    let n = x.nrows();
    if out.len() != n * n.saturating_sub(1) / 2 {
        return Err(Error::Invalid(format!(
            "out has {} elements; the condensed distances of {n} rows have {}",
            out.len(),
            n * n.saturating_sub(1) / 2
        )));
    }
    let start = |i: usize| i * n - i * (i + 1) / 2;
    if n < 2 {
        return Ok(());
    }
    // Tiles left of a row block's diagonal are not computed.
    let per_task = ROWS / 2;
    // The condensed rows of a block of rows are one run of `out`: each task writes its own.
    let tasks = n.div_ceil(per_task);
    let mut runs: Vec<&mut [R]> = mem::with_capacity(tasks)?;
    let mut rest = out;
    for t in 0..tasks {
        let (a, b) = (start(t * per_task), start(((t + 1) * per_task).min(n)));
        let (run, tail) = rest.split_at_mut(b - a);
        runs.push(run);
        rest = tail;
    }
    #[allow(clippy::mut_mut)] // each task's writer is its run of `out`
    let emit = |run: &mut &mut [R], first: usize, c0: usize, tile: &[f64], width: usize| {
        for (r, values) in tile.chunks(width).enumerate() {
            // Row i keeps the columns j > i of this tile.
            let i = first + r;
            let from = (i + 1).max(c0);
            if from >= c0 + width {
                continue;
            }
            let at = start(i) + (from - i - 1) - start(first);
            let dst = &mut run[at..at + (c0 + width - from)];
            dst.iter_mut().zip(&values[from - c0..]).for_each(|(o, &v)| *o = R::from_f64(v));
        }
    };
    blocks::<T, R, _, _>(x, x, metric, cancel, &emit, per_task, &|first| first + 1, runs)
}

/// Queries per packed block of [`knn`].
const QUERY_BLOCK: usize = 256;
/// Candidates screened together in [`screen`].
const SCREEN: usize = 64;

/// The `k` best `(distance, index)` of each query so far, ascending.
struct Best {
    k: usize,
    lists: Vec<Vec<(f64, i64)>>,
}

impl Best {
    fn new(queries: usize, k: usize) -> Result<Self> {
        let mut lists = mem::with_capacity(queries)?;
        for _ in 0..queries {
            lists.push(mem::with_capacity(k.saturating_add(1))?);
        }
        Ok(Best { k, lists })
    }

    /// The distance a candidate must not exceed to enter query `q`'s list.
    #[inline]
    fn bar(&self, q: usize) -> f64 {
        let list = &self.lists[q];
        if list.len() < self.k { f64::INFINITY } else { list[self.k - 1].0 }
    }

    /// Offers base row `j` at distance `d` to query `q` (rows come in increasing order within
    /// a task, so an equal distance never displaces a lower index; NaN is never listed).
    #[inline]
    fn offer(&mut self, q: usize, d: f64, j: usize) {
        let j = i64::try_from(j).unwrap_or(i64::MAX);
        let list = &mut self.lists[q];
        if list.len() == self.k {
            let worst = list[self.k - 1];
            if !(d < worst.0 || (d == worst.0 && j < worst.1)) {
                return;
            }
            list.pop();
        }
        let at = list.partition_point(|&(e, i)| e < d || (e == d && i < j));
        list.insert(at, (d, j));
    }

    /// The union's `k` best, ties to the lower index.
    fn merge(mut self, other: Best) -> Result<Best> {
        for (mine, mut theirs) in self.lists.iter_mut().zip(other.lists) {
            mem::reserve(&mut theirs, mine.len())?;
            theirs.append(mine);
            theirs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            theirs.truncate(self.k);
            *mine = theirs;
        }
        Ok(self)
    }
}

/// Offers the pairs of query tile `a` (queries from `q0`) and base tile `b` (rows from `b0`) to
/// `best` by the squared Euclidean distance or the negated inner product, from their products
/// `dots`.
///
/// A pass in the working type, which vectorizes, screens [`SCREEN`] candidates at a time
/// against the query's bar, widened by more than that pass's rounding (and, for squared
/// distances, never below the zone [`tile_distances`] recomputes). Only the candidates it lets
/// through are computed in `f64` exactly as [`tile_distances`] computes them, so the lists are
/// those the full distances would give; most tiles never leave the screening pass.
fn screen<R: Real>(
    metric: Metric,
    a: &Tile<R>,
    q0: usize,
    b: &Tile<R>,
    b0: usize,
    dots: &Array2<R>,
    best: &mut Best,
) {
    let squared = metric == Metric::SqEuclidean;
    // At most one tile's rows.
    #[allow(clippy::disallowed_macros)]
    let zeros = vec![R::zero(); if squared { 0 } else { b.rows.nrows() }];
    // A candidate's screening value is `w + scale · x·y`: `|y|² - 2 x·y`, or `-x·y`.
    let (weights, scale) =
        if squared { (&b.rounded, R::from_f64(-2.0)) } else { (&zeros, R::from_f64(-1.0)) };
    for (i, dot) in dots.rows().into_iter().enumerate() {
        let q = q0 + i;
        let dot = dot.to_slice().expect("tiles are C-ordered");
        let an = if squared { a.norms[i] } else { 0.0 };
        let xs = a.rows.row(i);
        let xs = xs.as_slice().expect("tiles are C-ordered");
        let mut bar = best.bar(q);
        for (c, (ps, ws)) in dot.chunks(SCREEN).zip(weights.chunks(SCREEN)).enumerate() {
            let floor = if squared { bar.max(R::RECOMPUTE * (an + b.max_norm)) } else { bar };
            // The rounding of `w + scale · x·y` and of the threshold: below 2ε(|x|² + |y|²)
            // and ε|threshold|.
            let margin = 4.0 * R::EPSILON * (an + b.max_norm + floor.abs());
            let threshold = R::from_f64(floor - an + margin);
            // Not `<=`: NaN goes through, to be recomputed or refused below (one comparison,
            // which vectorizes).
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let hits: u32 =
                ps.iter().zip(ws).map(|(&p, &w)| u32::from(!(w + scale * p > threshold))).sum();
            if hits == 0 {
                continue;
            }
            for (j, &p) in ps.iter().enumerate() {
                let j = c * SCREEN + j;
                let d = if squared {
                    let bn = b.norms[j];
                    let d = (an + bn) - 2.0 * p.to_f64();
                    if d.is_nan() || d < R::RECOMPUTE * (an + bn) {
                        let ys = b.rows.row(j);
                        direct_sq(xs, ys.as_slice().expect("tiles are C-ordered"))
                    } else {
                        d
                    }
                } else {
                    -p.to_f64()
                };
                if d <= bar {
                    best.offer(q, d, b0 + j);
                    bar = best.bar(q);
                }
            }
        }
    }
}

/// [`knn`] of rows of no features: all at distance 0 (NaN for cosine, 0/0), so the first `k`
/// of each, at once, rather than every pair of a million rows compared.
fn featureless<R: Real>(
    metric: Metric,
    mut dist: Array2<R>,
    mut idx: Array2<i64>,
) -> (Array2<R>, Array2<i64>) {
    let d = if metric == Metric::Cosine { f64::NAN } else { 0.0 };
    dist.fill(R::from_f64(d));
    for mut row in idx.rows_mut() {
        row.iter_mut().enumerate().for_each(|(j, i)| *i = j as i64);
    }
    (dist, idx)
}

/// Offers every distance of a row-major tile (`b0` its first base row) to `best`, query rows
/// from `q0`.
fn offer_all(tile: &[f64], width: usize, q0: usize, b0: usize, best: &mut Best) {
    for (r, row) in tile.chunks(width).enumerate() {
        let q = q0 + r;
        // Most candidates lose to the current k-th: one comparison each.
        let mut bar = best.bar(q);
        for (j, &d) in row.iter().enumerate() {
            if d <= bar {
                best.offer(q, d, b0 + j);
                bar = best.bar(q);
            }
        }
    }
}

/// The `k` nearest rows of `base` to each row of `queries` by `metric` (squared Euclidean,
/// Euclidean, cosine, cityblock, or the negated inner product): distances ascending (for the
/// inner product, the products descending) and base row indices, ties to the lower index.
/// NaN distances rank after all others (as in a stable sort), in index order.
///
/// Exact: every pair is compared, in tiles; the memory used is the packed queries, their
/// lists and a few tiles per thread, whatever the size of `base`, which is read once, split
/// between the threads.
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{distance::{knn, Metric}, NEVER};
/// let base = array![[0.0], [10.0], [1.0], [3.0]];
/// let (d, i) = knn::<f64, f64>(&base.view(), &array![[0.9]].view(), 2, Metric::SqEuclidean, &NEVER).unwrap();
/// assert_eq!(i.row(0).to_vec(), vec![2, 0]);
/// ```
#[allow(clippy::type_complexity)]
pub fn knn<T: Element, R: Real>(
    base: &ArrayView2<'_, T>,
    queries: &ArrayView2<'_, T>,
    k: usize,
    metric: Metric,
    cancel: &Cancel,
) -> Result<(Array2<R>, Array2<i64>)> {
    if base.ncols() != queries.ncols() {
        return Err(Error::Invalid(format!(
            "base and queries must have the same number of columns, not {} and {}",
            base.ncols(),
            queries.ncols()
        )));
    }
    if k == 0 || k > base.nrows() {
        return Err(Error::Invalid(format!(
            "k must be between 1 and the number of base rows ({}), not {k}",
            base.nrows()
        )));
    }
    if matches!(metric, Metric::Chebyshev | Metric::Minkowski(_)) {
        return Err(Error::Invalid(
            "knn metrics are sqeuclidean, euclidean, cosine, cityblock and ip".into(),
        ));
    }
    let nq = queries.nrows();
    let n = base.nrows();
    // The results first: a shape the machine cannot hold fails before any work.
    let mut dist = mem::array((nq, k), R::from_f64(f64::NAN))?;
    let mut idx = mem::array((nq, k), 0i64)?;
    if base.ncols() == 0 {
        return Ok(featureless(metric, dist, idx));
    }
    // Centred on the base (a sample of it), so that a query's neighbours do not depend on
    // the other queries.
    let centre = centring(metric, base, cancel)?;
    let centre = centre.as_deref();
    // Squared distances order as distances do: the square root is taken at the end.
    let inner = if metric == Metric::Euclidean { Metric::SqEuclidean } else { metric };
    let mut packed: Vec<Tile<R>> = mem::with_capacity(nq.div_ceil(QUERY_BLOCK))?;
    for q0 in (0..nq).step_by(QUERY_BLOCK) {
        let mut t = Tile::<R>::new();
        t.fill(&queries.slice(s![q0..(q0 + QUERY_BLOCK).min(nq), ..]), centre, cancel)?;
        packed.push(t);
    }
    // The base rows `rows` against every query.
    let part = |rows: std::ops::Range<usize>| {
        let mut best = Best::new(nq, k)?;
        let mut b = Tile::<R>::new();
        let mut dots = Array2::default((0, 0));
        let mut tile = Vec::new();
        let cols = cols_for(QUERY_BLOCK, base.ncols());
        for b0 in rows.clone().step_by(cols) {
            cancel.check()?;
            let b1 = (b0 + cols).min(rows.end);
            b.fill(&base.slice(s![b0..b1, ..]), centre, cancel)?;
            for (qi, a) in packed.iter().enumerate() {
                // Polled per query block too: many queries against one tile take long.
                cancel.check()?;
                let q0 = qi * QUERY_BLOCK;
                if matches!(inner, Metric::SqEuclidean | Metric::NegInnerProduct) {
                    products(a, &b, &mut dots, cancel)?;
                    screen(inner, a, q0, &b, b0, &dots, &mut best);
                } else {
                    mem::resize(&mut tile, a.rows.nrows() * (b1 - b0), 0.0)?;
                    tile_distances(inner, a, &b, &mut dots, &mut tile, cancel)?;
                    offer_all(&tile, b1 - b0, q0, b0, &mut best);
                }
            }
        }
        Ok::<_, Error>(best)
    };
    let best = if n.saturating_mul(nq) < 1 << 14 || pool::threads_here() == 1 {
        part(0..n)?
    } else {
        // One run of base rows per thread, all of them against the same packed queries.
        let parts = pool::threads_here().min(n.div_ceil(COLS));
        pool::install(|| {
            (0..parts)
                .into_par_iter()
                .map(|t| part(t * n / parts..(t + 1) * n / parts))
                .try_reduce_with(Best::merge)
                .unwrap_or_else(|| Best::new(nq, k))
        })?
    };
    let mut listed: Vec<i64> = Vec::new();
    for (q, list) in best.lists.iter().enumerate() {
        for (r, &(d, j)) in list.iter().enumerate() {
            let d = match metric {
                Metric::Euclidean => d.sqrt(),
                Metric::NegInnerProduct => -d,
                _ => d,
            };
            dist[[q, r]] = R::from_f64(d);
            idx[[q, r]] = j;
        }
        // Fewer than k numbers: the rest are NaN, the lowest indices not listed.
        if list.len() < k {
            listed.clear();
            mem::reserve(&mut listed, list.len())?;
            listed.extend(list.iter().map(|&(_, l)| l));
            listed.sort_unstable();
            let mut free = (0i64..).filter(|j| listed.binary_search(j).is_err());
            for r in list.len()..k {
                idx[[q, r]] = free.next().unwrap_or_default();
            }
        }
    }
    Ok((dist, idx))
}
