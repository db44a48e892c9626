//! Pairwise distances (scipy's `cdist`/`pdist` metrics), in cache-sized tiles.
//!
//! Rows are converted tile by tile into the working type (`f32` for `float32` input, else `f64`),
//! centred on the second set's mean for the Euclidean metrics, and compared through a matrix
//! product (ndarray's `general_mat_mul`, i.e. `matrixmultiply`) where the metric allows:
//! `|x - y|² = |x|² + |y|² - 2 x·y`. That form loses the digits a small distance between large
//! vectors needs, so any pair whose product-form distance is small against `|x|² + |y|²`
//! is computed again directly from the two rows: identical rows give exactly 0, squared
//! distances are never negative, and the relative error stays near the working precision's.
//! The only memory of the size of the output is the output.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, LinalgScalar, s};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::pool;

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
pub trait Real: Element + LinalgScalar {
    /// Product-form squared distances below this share of `|x|² + |y|²` are recomputed
    /// directly: the relative error left is at most about `k ε / RECOMPUTE` for `k` features.
    const RECOMPUTE: f64;
}

impl Real for f64 {
    const RECOMPUTE: f64 = 1e-3;
}

impl Real for f32 {
    const RECOMPUTE: f64 = 0.05;
}

/// Rows of the first set per task.
const ROWS: usize = 128;
/// Rows of the second set per tile.
const COLS: usize = 512;

/// A tile of rows converted to the working type (and centred), with their squared norms.
struct Tile<R> {
    rows: Array2<R>,
    norms: Vec<f64>,
}

impl<R: Real> Tile<R> {
    fn new() -> Self {
        Tile { rows: Array2::from_elem((0, 0), R::default()), norms: Vec::new() }
    }

    fn fill<T: Element>(&mut self, src: &ArrayView2<'_, T>, centre: Option<&[f64]>) {
        let (n, k) = src.dim();
        if self.rows.dim() != (n, k) {
            self.rows = Array2::from_elem((n, k), R::default());
        }
        self.norms.clear();
        for (mut dst, row) in self.rows.rows_mut().into_iter().zip(src.rows()) {
            let mut norm = 0.0;
            for (j, (d, x)) in dst.iter_mut().zip(row.iter()).enumerate() {
                let v = x.to_f64() - centre.map_or(0.0, |c| c[j]);
                *d = R::from_f64(v);
                let r = d.to_f64();
                norm += r * r;
            }
            self.norms.push(norm);
        }
    }
}

/// Distances of tile rows `a` against tile rows `b` into `out` (a.len × b.len, row-major),
/// using `dots` (the matrix product) where the metric allows.
fn tile_distances<R: Real>(
    metric: Metric,
    a: &Tile<R>,
    b: &Tile<R>,
    dots: &mut Array2<R>,
    out: &mut [f64],
) {
    let (na, nb) = (a.rows.nrows(), b.rows.nrows());
    if metric.uses_product() {
        if dots.dim() != (na, nb) {
            *dots = Array2::from_elem((na, nb), R::default());
        }
        general_mat_mul(R::one(), &a.rows, &b.rows.t(), R::zero(), dots);
    }
    for i in 0..na {
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
                    if *d < R::RECOMPUTE * (an + bn) {
                        let ys = b.rows.row(j);
                        *d = direct_sq(xs, ys.as_slice().expect("tiles are C-ordered")).max(0.0);
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
}

/// `sum((x - y)²)` in `f64`, in eight lanes.
fn direct_sq<R: Real>(xs: &[R], ys: &[R]) -> f64 {
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

/// The centre rows are moved to before a Euclidean product form: the second set's mean, for
/// floats. Integers are not moved: their products and norms are then exact in `f64` (up to
/// 2⁵³), so equal distances stay equal and ties go to the lower index.
fn centring<T: Element>(metric: Metric, x: &ArrayView2<'_, T>) -> Option<Vec<f64>> {
    let euclidean = matches!(metric, Metric::Euclidean | Metric::SqEuclidean);
    (euclidean && T::DTYPE.is_float()).then(|| column_means(x))
}

/// Column means of `x`.
fn column_means<T: Element>(x: &ArrayView2<'_, T>) -> Vec<f64> {
    let mut sums = vec![0.0; x.ncols()];
    for row in x.rows() {
        for (s, v) in sums.iter_mut().zip(row.iter()) {
            *s += v.to_f64();
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = x.nrows().max(1) as f64;
    sums.iter().map(|s| s / n).collect()
}

/// Takes `(first_row, first_col, distances, width)`: a tile of distances, row-major.
type Emit<'e> = dyn Fn(usize, usize, &[f64], usize) + Sync + 'e;

/// Calls `emit(first_row, first_col, distances, width)` for every tile of the distances of
/// `xa`'s rows against `xb`'s, row blocks in parallel; `distances` is row-major, `width` wide.
fn blocks<T: Element, R: Real>(
    xa: &ArrayView2<'_, T>,
    xb: &ArrayView2<'_, T>,
    metric: Metric,
    cancel: &Cancel,
    emit: &Emit<'_>,
    rows_per_task: usize,
    skip: &(dyn Fn(usize) -> usize + Sync),
) -> Result<()> {
    if xa.ncols() != xb.ncols() {
        return Err(Error::Invalid(
            "XA and XB must have the same number of columns (i.e. feature dimension.)".into(),
        ));
    }
    let centre = centring(metric, xb);
    let centre = centre.as_deref();
    let m = xa.nrows();
    let n = xb.nrows();
    let task = |first: usize| {
        cancel.check()?;
        let rows = xa.slice(s![first..(first + rows_per_task).min(m), ..]);
        let mut a = Tile::<R>::new();
        a.fill(&rows, centre);
        let mut b = Tile::<R>::new();
        let mut dots = Array2::from_elem((0, 0), R::default());
        let mut tile = Vec::new();
        for c0 in (skip(first)..n).step_by(COLS) {
            let c1 = (c0 + COLS).min(n);
            b.fill(&xb.slice(s![c0..c1, ..]), centre);
            tile.resize(rows.nrows() * (c1 - c0), 0.0);
            tile_distances(metric, &a, &b, &mut dots, &mut tile);
            emit(first, c0, &tile, c1 - c0);
        }
        Ok::<_, Error>(())
    };
    let firsts: Vec<usize> = (0..m).step_by(rows_per_task.max(1)).collect();
    if m * n < 1 << 14 || pool::threads_here() == 1 {
        firsts.into_iter().try_for_each(task)
    } else {
        pool::install(|| firsts.into_par_iter().try_for_each(task))
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
    // Row blocks of the output, handed to the tasks that compute them.
    let rows: Vec<std::sync::Mutex<ArrayViewMut1<'_, R>>> =
        out.axis_iter_mut(Axis(0)).map(std::sync::Mutex::new).collect();
    let emit = |first: usize, c0: usize, tile: &[f64], width: usize| {
        for (i, values) in tile.chunks(width).enumerate() {
            let mut row = rows[first + i].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let dst = row.slice_mut(s![c0..c0 + width]);
            dst.into_iter().zip(values).for_each(|(o, &v)| *o = R::from_f64(v));
        }
    };
    if xb.nrows() == 0 {
        return Ok(());
    }
    blocks::<T, R>(xa, xb, metric, cancel, &emit, ROWS, &|_| 0)
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
    let out = std::sync::Mutex::new(out);
    let emit = |first: usize, c0: usize, tile: &[f64], width: usize| {
        let mut out = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (r, values) in tile.chunks(width).enumerate() {
            // Row i keeps the columns j > i of this tile.
            let i = first + r;
            let from = (i + 1).max(c0);
            if from >= c0 + width {
                continue;
            }
            let at = start(i) + (from - i - 1);
            let dst = &mut out[at..at + (c0 + width - from)];
            dst.iter_mut().zip(&values[from - c0..]).for_each(|(o, &v)| *o = R::from_f64(v));
        }
    };
    if n < 2 {
        return Ok(());
    }
    // Tiles left of a row block's diagonal are not computed.
    let per_task = ROWS / 2;
    blocks::<T, R>(x, x, metric, cancel, &emit, per_task, &|first| (first + 1) / COLS * COLS)
}

/// Queries packed per task of [`knn`].
const QUERY_BLOCK: usize = 256;
/// Base rows per parallel task of [`knn`].
const BASE_CHUNK: usize = 8192;

/// The `k` best `(distance, index)` of each query so far, ascending.
struct Best {
    k: usize,
    lists: Vec<Vec<(f64, i64)>>,
}

impl Best {
    fn new(queries: usize, k: usize) -> Self {
        Best { k, lists: vec![Vec::with_capacity(k + 1); queries] }
    }

    /// The distance a candidate must not exceed to enter query `q`'s list.
    #[inline]
    fn bar(&self, q: usize) -> f64 {
        let list = &self.lists[q];
        if list.len() < self.k { f64::INFINITY } else { list[self.k - 1].0 }
    }

    /// Offers base row `j` at distance `d` to query `q` (rows come in increasing order within
    /// a task, so an equal distance never displaces a lower index).
    #[inline]
    fn offer(&mut self, q: usize, d: f64, j: i64) {
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
    fn merge(mut self, other: Best) -> Best {
        for (mine, theirs) in self.lists.iter_mut().zip(other.lists) {
            let mut all: Vec<(f64, i64)> = mine.drain(..).chain(theirs).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            all.truncate(self.k);
            *mine = all;
        }
        self
    }
}

/// The `k` nearest rows of `base` to each row of `queries` by `metric` (squared Euclidean,
/// Euclidean, cosine, cityblock, or the negated inner product): distances ascending (for the
/// inner product, the products descending) and base row indices, ties to the lower index.
///
/// Exact: every pair is compared, in tiles; the memory used is the packed queries and a few
/// tiles per thread, whatever the size of `base`, which is read once.
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
    let centre = centring(metric, base);
    let centre = centre.as_deref();
    // Squared distances order as distances do: the square root is taken at the end.
    let inner = if metric == Metric::Euclidean { Metric::SqEuclidean } else { metric };
    let pack_queries = || {
        (0..nq)
            .step_by(QUERY_BLOCK)
            .map(|q0| {
                let mut t = Tile::<R>::new();
                t.fill(&queries.slice(s![q0..(q0 + QUERY_BLOCK).min(nq), ..]), centre);
                t
            })
            .collect::<Vec<_>>()
    };
    let chunk = |qs: &[Tile<R>], best: &mut Best, c: usize| {
        cancel.check()?;
        let mut b = Tile::<R>::new();
        let mut dots = Array2::from_elem((0, 0), R::default());
        let mut tile = Vec::new();
        let end = ((c + 1) * BASE_CHUNK).min(n);
        for b0 in (c * BASE_CHUNK..end).step_by(COLS) {
            let b1 = (b0 + COLS).min(end);
            b.fill(&base.slice(s![b0..b1, ..]), centre);
            for (qi, a) in qs.iter().enumerate() {
                let w = b1 - b0;
                tile.resize(a.rows.nrows() * w, 0.0);
                tile_distances(inner, a, &b, &mut dots, &mut tile);
                for (r, row) in tile.chunks(w).enumerate() {
                    let q = qi * QUERY_BLOCK + r;
                    // Most candidates lose to the current k-th: one comparison each.
                    let mut bar = best.bar(q);
                    for (j, &d) in row.iter().enumerate() {
                        if d <= bar {
                            best.offer(q, d, i64::try_from(b0 + j).unwrap_or(i64::MAX));
                            bar = best.bar(q);
                        }
                    }
                }
            }
        }
        Ok::<_, Error>(())
    };
    let chunks = n.div_ceil(BASE_CHUNK);
    let best = if n * nq < 1 << 14 || pool::threads_here() == 1 {
        let qs = pack_queries();
        let mut best = Best::new(nq, k);
        for c in 0..chunks {
            chunk(&qs, &mut best, c)?;
        }
        best
    } else {
        // One contiguous run of base chunks per thread, each with its own packed queries.
        let parts = pool::threads_here().min(chunks);
        pool::install(|| {
            (0..parts)
                .into_par_iter()
                .map(|t| {
                    let qs = pack_queries();
                    let mut best = Best::new(nq, k);
                    for c in t * chunks / parts..(t + 1) * chunks / parts {
                        chunk(&qs, &mut best, c)?;
                    }
                    Ok::<_, Error>(best)
                })
                .try_reduce(|| Best::new(nq, k), |a, b| Ok(a.merge(b)))
        })?
    };
    let mut dist = Array2::from_elem((nq, k), R::default());
    let mut idx = Array2::from_elem((nq, k), 0i64);
    for (q, list) in best.lists.iter().enumerate() {
        for (r, &(d, j)) in list.iter().enumerate() {
            let d = match metric {
                Metric::Euclidean => d.max(0.0).sqrt(),
                Metric::NegInnerProduct => -d,
                _ => d,
            };
            dist[[q, r]] = R::from_f64(d);
            idx[[q, r]] = j;
        }
    }
    Ok((dist, idx))
}
