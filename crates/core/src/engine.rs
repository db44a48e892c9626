//! The reduction engine shared by every reduction kernel.
//!
//! The elements of each output lane are taken in C order of the reduced axes and cut into fixed
//! blocks of [`BLOCK`] elements. Each block is reduced to a state; the states of each run of
//! [`CHUNK`] blocks are merged in a fixed binary tree, and the chunk states of a lane likewise.
//! Neither the blocks nor the trees depend on the number of threads or on the order in which
//! blocks are visited, so the result is bit-for-bit the same on 1 thread or 64; threads only
//! decide who computes which block.

use ndarray::{ArrayView1, ArrayView2, ArrayViewD, Axis, Ix1, Ix2, Slice, s};
use rayon::prelude::*;

use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::Result;
use crate::{columns, mem, pool};

/// Elements per block: a block of the widest type fills 16 KiB, well inside L1.
pub(crate) const BLOCK: usize = 2048;
/// Blocks per chunk: block states are merged per chunk, then chunk states per lane, so the
/// states held at once number `len / (BLOCK * CHUNK)`, not `len / BLOCK`.
const CHUNK: usize = 64;
/// Below this many bytes of input, a reduction runs on the calling thread by default (see
/// [`Reducer::SERIAL_BYTES`]): waking the pool's threads costs 50-100 µs on the (virtualized)
/// machines measured, the time to sum about half a million cached float64 on one thread.
pub(crate) const SERIAL_BYTES: usize = 4 << 20;
/// [`Reducer::SERIAL_BYTES`] of the one-pass kernels that stream contiguous lanes at memory
/// speed (sums, extremes and their positions): data that fits in the last-level cache is read
/// about as fast by one core as by two. Measured on the 2-core EPYC (32 MiB L3), one thread
/// against two: min/sum of 2^21 float64 (16 MiB) 202/314 µs against 297/688, two threads
/// 1.3-1.8x faster from 32 MiB.
pub(crate) const STREAM_SERIAL_BYTES: usize = 24 << 20;
/// Contiguous lanes shorter than this are not read at memory speed (the per-lane costs
/// dominate; arg-extremes of rows of 32 run at 3-4 GB/s on one thread), so they keep the
/// default threshold, not the kernel's streaming one.
const MIN_STREAM_LANE: usize = 256;
/// Up to this many long lanes are shared out chunk by chunk, all lanes at once.
const MAX_SHARED_LANES: usize = 1024;
/// Elements one parallel task should at least cover.
const TASK_ELEMENTS: usize = 1 << 16;
/// Lanes transposed together when the lanes are adjacent columns of a table.
const TILE_LANES: usize = 32;
/// Distance in elements between the lanes' rows in the transposition buffer: a block and a
/// little more, so that the rows do not all fall into the same cache sets.
const TILE_ROW: usize = BLOCK + 16;

/// Lanes side by side are read row by row from this many on; fewer are transposed in tiles
/// or gathered, which measured faster for so few.
const MIN_SIDE_BY_SIDE: usize = 4;

/// The output shape of a reduction and one value per lane.
pub(crate) type LaneValues<O> = (Vec<usize>, Vec<O>);

/// A reduction written as "reduce one block, merge two states".
pub(crate) trait Reducer<T>: Sync {
    /// The partial result of a block or of a run of blocks.
    type State: Copy + Send + Sync;
    /// Reduces one block; `start` is the lane index of `xs[0]`.
    fn block(&self, xs: &[T], start: usize) -> Self::State;
    /// Merges the state of a run with the state of the run right after it.
    fn merge(&self, a: Self::State, b: Self::State) -> Self::State;
    /// Below this many bytes of input in all, the reduction runs on the calling thread.
    const SERIAL_BYTES: usize = SERIAL_BYTES;
    /// Whether a run's state is the same however the run is cut into blocks and merged (the
    /// position of an extreme: the first of the best values, wherever the cuts fall). A
    /// contiguous run of a chunk of blocks is then handed to [`Reducer::block`] whole, which
    /// may skip work a block at a time would repeat.
    const ANY_CUT: bool = false;
    /// Whether [`Reducer::columns`] has a kernel of its own: lanes that lie side by side in
    /// memory are then read row by row ([`by_rows`]).
    const COLUMNS: bool = false;
    /// Lanes side by side handed together to [`Reducer::columns`] (as many as it takes).
    fn group(&self) -> usize {
        columns::WIDTH
    }
    /// `Some(shortest)` when a run's state is the same in whatever order and cuts its elements
    /// are reduced (integer sums, which wrap; integer extremes): a lane's runs in memory of at
    /// least `shortest` elements are then reduced where they lie, in either direction, not
    /// copied into order first.
    fn order_free(&self) -> Option<usize> {
        None
    }
    /// [`Reducer::SERIAL_BYTES`] for lanes read side by side.
    fn columns_serial_bytes(&self) -> usize {
        SERIAL_BYTES
    }
    /// Pushes to `out` the state of one block of each of `rows.ncols()` lanes: row `r` of
    /// `rows` (contiguous) holds element `start + r` of every lane. The same states as
    /// [`Reducer::block`] of each column (here: the columns copied out, one by one).
    fn columns(&self, rows: &ArrayView2<'_, T>, start: usize, out: &mut Vec<Self::State>)
    where
        T: Element,
    {
        let mut buf = [T::default(); BLOCK];
        for c in 0..rows.ncols() {
            out.push(self.block(columns::column(rows, c, &mut buf), start));
        }
    }
}

/// The lanes of a reduction: one per output element, each a view over the reduced axes.
pub(crate) struct Lanes<'a, T> {
    /// The input with its kept axes first and its reduced axes last (at least one).
    view: ArrayViewD<'a, T>,
    /// The lengths of the kept axes: the output shape without `keepdims`.
    pub(crate) out_shape: Vec<usize>,
    /// Elements in one lane.
    pub(crate) lane_len: usize,
    /// The lengths of the view's kept axes (the kept axes with runs merged).
    kept_shape: Vec<usize>,
    /// The same view as a table when one axis is kept and one reduced: lane `j` is row `j`,
    /// found without walking the axes, and a block of every lane is one two-dimensional slice.
    table: Option<ArrayView2<'a, T>>,
}

impl<'a, T: Element> Lanes<'a, T> {
    /// Splits `a` into lanes over the axes where `reduced` is true.
    pub(crate) fn new(a: &ArrayViewD<'a, T>, reduced: &[bool]) -> Self {
        let kept: Vec<usize> = (0..a.ndim()).filter(|&i| !reduced[i]).collect();
        let red: Vec<usize> = (0..a.ndim()).filter(|&i| reduced[i]).collect();
        let out_shape = kept.iter().map(|&i| a.len_of(Axis(i))).collect();
        let lane_len = red.iter().map(|&i| a.len_of(Axis(i))).product();
        let mut order = kept.clone();
        order.extend(&red);
        let mut view = a.clone().permuted_axes(order);
        if red.is_empty() {
            // Reducing over no axis: every lane holds one element.
            view.insert_axis_inplace(Axis(view.ndim()));
        }
        // Neighbouring kept axes that are one run in memory become one axis, and so do the
        // reduced ones (C order is kept, so lane `j` and each lane's element order stay): a
        // cube reduced over its last axis is a table of rows, one reduced over all its axes a
        // single run.
        let kept_axes = merge_runs(&mut view, 0, kept.len());
        let ndim = view.ndim();
        let red_axes = merge_runs(&mut view, kept_axes, ndim);
        let kept_shape = view.shape()[..kept_axes].to_vec();
        let table = if kept_axes == 1 && red_axes == 1 {
            view.clone().into_dimensionality::<Ix2>().ok()
        } else {
            None
        };
        Lanes { view, out_shape, lane_len, kept_shape, table }
    }

    fn n_out(&self) -> usize {
        self.out_shape.iter().product()
    }

    /// The lanes as tables side by side in memory, when one axis is reduced and the innermost
    /// kept axes merge into one of stride ±1 (axis 0 of a C table, the outer axes of a C cube,
    /// axis 1 of a Fortran table): the view with those axes merged, and that axis's length.
    fn side_by_side(&self) -> Option<(ArrayViewD<'a, T>, usize)> {
        let kept = self.kept_shape.len();
        if kept == 0 || self.view.ndim() != kept + 1 || self.lane_len == 0 {
            return None;
        }
        let mut v = self.view.clone();
        let inner = Axis(kept - 1);
        for i in (0..kept - 1).rev() {
            if !v.merge_axes(Axis(i), inner) {
                break;
            }
        }
        let narrow = v.len_of(inner) < MIN_SIDE_BY_SIDE;
        (v.stride_of(inner).unsigned_abs() == 1 && !narrow).then(|| {
            let n = v.len_of(inner);
            (v, n)
        })
    }

    /// Whether each lane is one run forward in memory.
    fn contiguous(&self) -> bool {
        let n = self.view.ndim();
        n == self.kept_shape.len() + 1 && (self.lane_len < 2 || self.view.strides()[n - 1] == 1)
    }

    /// The view of lane `j` (C order over the kept axes); at least one-dimensional.
    pub(crate) fn lane(&self, j: usize) -> ArrayViewD<'a, T> {
        if let Some(t) = self.table {
            return t.index_axis_move(Axis(0), j).into_dyn();
        }
        let mut v = self.view.clone();
        let mut below: usize = self.kept_shape.iter().product();
        for &n in &self.kept_shape {
            below /= n;
            v.index_axis_inplace(Axis(0), (j / below) % n);
        }
        v
    }
}

/// Merges the runs among axes `from..to` of `view` (an axis whose stride is its inner
/// neighbour's times that one's length is one with it) and removes the axes merged away;
/// returns how many axes are left of that range (at least one if there was one).
fn merge_runs<T>(view: &mut ArrayViewD<'_, T>, from: usize, to: usize) -> usize {
    let mut to = to;
    let mut i = to;
    while i > from + 1 {
        i -= 1;
        // Axis i - 1 into axis i: only when both are longer than one (ndarray also merges
        // length-one axes, changing the stride of the survivor; those are left as they are).
        let (outer, inner) = (Axis(i - 1), Axis(i));
        if view.len_of(outer) > 1 && view.len_of(inner) > 1 && view.merge_axes(outer, inner) {
            view.index_axis_inplace(outer, 0);
            to -= 1;
        }
    }
    to - from
}

/// Row `r` (C order over all but the last axis) of a view of at least one dimension.
fn row<'a, T>(lane: &ArrayViewD<'a, T>, r: usize) -> ArrayView1<'a, T> {
    let mut v = lane.clone();
    let outer = lane.ndim() - 1;
    let mut below: usize = lane.shape()[..outer].iter().product();
    for &n in &lane.shape()[..outer] {
        below /= n;
        v.index_axis_inplace(Axis(0), (r / below) % n);
    }
    v.into_dimensionality::<Ix1>().expect("one axis is left")
}

/// Copies `buf.len()` elements of `lane` (at least one-dimensional), from its flat C-order index
/// `start` on, into `buf`.
pub(crate) fn gather<T: Element>(lane: &ArrayViewD<'_, T>, start: usize, buf: &mut [T]) {
    // A lane of two axes (most: the runs of several reduced axes merge) finds its rows through
    // fixed-size dimensions, without walking axes a row at a time.
    if let Ok(table) = lane.view().into_dimensionality::<Ix2>() {
        return gather_rows(|r| table.row(r), table.ncols(), start, buf);
    }
    let inner = lane.len_of(Axis(lane.ndim() - 1));
    gather_rows(|r| row(lane, r), inner, start, buf);
}

/// [`gather`] from rows of `inner` elements, `row(r)` giving row `r`.
fn gather_rows<'a, T: Element + 'a>(
    row: impl Fn(usize) -> ArrayView1<'a, T>,
    inner: usize,
    start: usize,
    buf: &mut [T],
) {
    let mut pos = start;
    let mut filled = 0;
    while filled < buf.len() {
        let (r, c) = (pos / inner, pos % inner);
        let take = (inner - c).min(buf.len() - filled);
        let seg = row(r).slice_axis_move(Axis(0), Slice::from(c..c + take));
        let dst = &mut buf[filled..filled + take];
        // Runs forward or backward in memory are copied as slices (a reversed view's rows:
        // the copy vectorizes); other strides element by element.
        match (seg.strides(), seg.as_slice_memory_order()) {
            ([1], Some(xs)) => dst.copy_from_slice(xs),
            ([-1], Some(xs)) => {
                for (d, &x) in dst.iter_mut().zip(xs.iter().rev()) {
                    *d = x;
                }
            }
            _ => {
                for (d, &x) in dst.iter_mut().zip(seg.iter()) {
                    *d = x;
                }
            }
        }
        filled += take;
        pos += take;
    }
}

/// Merges states in the fixed binary tree: halves split at `len / 2`.
fn tree<S: Copy>(states: &[S], merge: &impl Fn(S, S) -> S) -> S {
    if let [one] = states {
        return *one;
    }
    let mid = states.len() / 2;
    merge(tree(&states[..mid], merge), tree(&states[mid..], merge))
}

/// State of block `b` of a lane; `buf` holds at least [`BLOCK`] elements of scratch.
fn block_state<T: Element, R: Reducer<T>>(
    lane: &ArrayViewD<'_, T>,
    len: usize,
    b: usize,
    r: &R,
    buf: &mut [T],
) -> R::State {
    let start = b * BLOCK;
    let n = BLOCK.min(len - start);
    if let Some(all) = lane.as_slice() {
        return r.block(&all[start..start + n], start);
    }
    if let Some(shortest) = r.order_free()
        && let Some(state) = runs_state(lane, start, n, shortest, r)
    {
        return state;
    }
    gather(lane, start, &mut buf[..n]);
    r.block(&buf[..n], start)
}

/// Shortest runs [`runs_state`] reduces where they lie.
const MIN_RUN: usize = 16;

/// The state of elements `start..start + n` of `lane` (flat C order) from its runs in memory,
/// each reduced where it lies, forward or backward, for a reducer free of order
/// ([`Reducer::order_free`]); `None` where the lane's rows are not runs, or are shorter than
/// `shortest`.
fn runs_state<T: Element, R: Reducer<T>>(
    lane: &ArrayViewD<'_, T>,
    start: usize,
    n: usize,
    shortest: usize,
    r: &R,
) -> Option<R::State> {
    let last = lane.ndim().checked_sub(1)?;
    let inner = lane.len_of(Axis(last));
    // Runs of a few elements cost a call each: copied, they are read a block at a time.
    if inner < shortest.max(MIN_RUN) || lane.strides()[last].unsigned_abs() != 1 {
        return None;
    }
    let table = lane.view().into_dimensionality::<Ix2>().ok();
    let mut state: Option<R::State> = None;
    let (mut pos, end) = (start, start + n);
    while pos < end {
        let (at, c) = (pos / inner, pos % inner);
        let take = (inner - c).min(end - pos);
        let whole = table.as_ref().map_or_else(|| row(lane, at), |t| t.row(at));
        let run = whole.slice_axis_move(Axis(0), Slice::from(c..c + take));
        let here = r.block(run.to_slice_memory_order()?, 0);
        state = Some(state.map_or(here, |s| r.merge(s, here)));
        pos += take;
    }
    state
}

/// State of chunk `c` of a lane: its blocks merged in the fixed tree.
fn chunk_state<T: Element, R: Reducer<T>>(
    lane: &ArrayViewD<'_, T>,
    len: usize,
    c: usize,
    r: &R,
    cancel: &Cancel,
    buf: &mut [T],
) -> Result<R::State> {
    let first = c * CHUNK;
    let last = (first + CHUNK).min(len.div_ceil(BLOCK));
    if R::ANY_CUT
        && let Some(all) = lane.as_slice()
    {
        cancel.check()?;
        let start = first * BLOCK;
        return Ok(r.block(&all[start..(last * BLOCK).min(len)], start));
    }
    #[allow(clippy::disallowed_methods)] // at most CHUNK states
    let mut states = Vec::with_capacity(last - first);
    for b in first..last {
        cancel.check()?;
        states.push(block_state(lane, len, b, r, buf));
    }
    Ok(tree(&states, &|x, y| r.merge(x, y)))
}

/// States of chunk `c` of every lane, block by block across the lanes, so that lanes sharing
/// cache lines are read while those lines are in cache. Equal to [`chunk_state`] per lane.
fn chunk_states_across<T: Element, R: Reducer<T>>(
    lanes: &Lanes<'_, T>,
    all: &[ArrayViewD<'_, T>],
    c: usize,
    r: &R,
    cancel: &Cancel,
    buf: &mut Vec<T>,
) -> Result<Vec<R::State>> {
    let len = lanes.lane_len;
    let first = c * CHUNK;
    let last = (first + CHUNK).min(len.div_ceil(BLOCK));
    // At most MAX_SHARED_LANES lanes of CHUNK states each.
    #[allow(clippy::disallowed_macros, clippy::disallowed_methods)]
    let mut per_lane: Vec<Vec<R::State>> = vec![Vec::with_capacity(last - first); all.len()];
    // Lanes that are neighbouring columns of a table (a C-order table reduced down its
    // columns): read the table row by row, in memory order, into one buffer row per lane.
    let columns = lanes.table.filter(|t| t.strides()[0].unsigned_abs() == 1);
    if columns.is_some() && buf.len() < TILE_LANES * TILE_ROW {
        #[allow(clippy::disallowed_methods)] // a fixed size
        buf.resize(TILE_LANES * TILE_ROW, T::default());
    }
    for b in first..last {
        cancel.check()?;
        let start = b * BLOCK;
        let n = BLOCK.min(len - start);
        if let Some(t) = columns {
            for g in (0..all.len()).step_by(TILE_LANES) {
                let tile = t.slice(s![g..(g + TILE_LANES).min(all.len()), start..start + n]);
                transpose(&tile, buf);
                for (j, states) in per_lane[g..g + tile.nrows()].iter_mut().enumerate() {
                    states.push(r.block(&buf[j * TILE_ROW..j * TILE_ROW + n], start));
                }
            }
        } else {
            for (states, lane) in per_lane.iter_mut().zip(all) {
                states.push(block_state(lane, len, b, r, buf));
            }
        }
    }
    Ok(per_lane.iter().map(|states| tree(states, &|x, y| r.merge(x, y))).collect())
}

/// Copies row `j` of `tile` to `buf[j * TILE_ROW..]`, reading `tile` column by column (each
/// column is a run of neighbouring elements in memory).
fn transpose<T: Element>(tile: &ArrayView2<'_, T>, buf: &mut [T]) {
    let (w, n) = tile.dim();
    assert!(w <= TILE_LANES && n <= BLOCK && buf.len() >= TILE_LANES * TILE_ROW);
    for (i, col) in tile.t().rows().into_iter().enumerate() {
        match col.to_slice() {
            Some(xs) if w == TILE_LANES => {
                let xs: &[T; TILE_LANES] = xs.try_into().expect("a full tile column");
                for (j, &x) in xs.iter().enumerate() {
                    buf[j * TILE_ROW + i] = x;
                }
            }
            _ => {
                for (j, &x) in col.iter().enumerate() {
                    buf[j * TILE_ROW + i] = x;
                }
            }
        }
    }
}

/// One lane on the calling thread.
fn lane_serial<T: Element, R: Reducer<T>>(
    lane: &ArrayViewD<'_, T>,
    len: usize,
    r: &R,
    cancel: &Cancel,
    buf: &mut [T],
) -> Result<Option<R::State>> {
    if len == 0 {
        return Ok(None);
    }
    if len <= BLOCK {
        // One block: its state is the lane's (the common case of many short lanes).
        return Ok(Some(block_state(lane, len, 0, r, buf)));
    }
    let chunks = len.div_ceil(BLOCK * CHUNK);
    serial_tree(0, chunks, &mut |c| chunk_state(lane, len, c, r, cancel, buf), &|x, y| {
        r.merge(x, y)
    })
    .map(Some)
}

/// `leaf(lo)`, ..., `leaf(hi - 1)` (`lo < hi`) merged in the fixed binary tree of [`tree`]
/// (halves split in the middle), on this thread. Only the states on the path being merged are
/// held, never one per leaf: a lane of 2⁴⁰ elements needs no more memory than one of 2²⁰.
pub(crate) fn serial_tree<S>(
    lo: usize,
    hi: usize,
    leaf: &mut impl FnMut(usize) -> Result<S>,
    merge: &impl Fn(S, S) -> S,
) -> Result<S> {
    if hi - lo == 1 {
        return leaf(lo);
    }
    let mid = lo + (hi - lo) / 2;
    let a = serial_tree(lo, mid, leaf, merge)?;
    Ok(merge(a, serial_tree(mid, hi, leaf, merge)?))
}

/// [`serial_tree`] with the halves run in parallel: the same tree, so the same result. Once
/// `cancel` is set, every node not yet begun stops at once (a tree of 10⁸ leaves is not walked
/// to find each one cancelled).
pub(crate) fn parallel_tree<S: Send>(
    lo: usize,
    hi: usize,
    leaf: &(impl Fn(usize) -> Result<S> + Sync),
    merge: &(impl Fn(S, S) -> S + Sync),
    cancel: &Cancel,
) -> Result<S> {
    cancel.check()?;
    if hi - lo == 1 {
        return leaf(lo);
    }
    let mid = lo + (hi - lo) / 2;
    let (a, b) = rayon::join(
        || parallel_tree(lo, mid, leaf, merge, cancel),
        || parallel_tree(mid, hi, leaf, merge, cancel),
    );
    Ok(merge(a?, b?))
}

/// Scratch for gathering one block of a strided lane.
fn scratch<T: Element>(len: usize) -> Vec<T> {
    #[allow(clippy::disallowed_macros)] // at most one block
    let buf = vec![T::default(); len.min(BLOCK)];
    buf
}

/// Reduces every lane of `a` over the `reduced` axes: `finish` of each lane's state (`None` for
/// an empty lane), in C order, taken by the thread that reduced the lane, and the output shape
/// without the reduced axes. The output is allocated first (fallibly), so a shape the machine
/// cannot hold fails before any work.
pub(crate) fn reduce<T: Element, R: Reducer<T>, O: Send>(
    a: &ArrayViewD<'_, T>,
    reduced: &[bool],
    r: &R,
    cancel: &Cancel,
    finish: &(impl Fn(Option<R::State>) -> O + Sync),
) -> Result<LaneValues<O>> {
    let lanes = Lanes::new(a, reduced);
    let (n_out, len) = (lanes.n_out(), lanes.lane_len);
    let mut out = mem::with_capacity(n_out)?;
    if n_out == 0 {
        // No lane: nothing to read, however long the lanes would be (a (2²⁰, 2³³, 0) array).
        return Ok((lanes.out_shape, out));
    }
    // One thread in all: handing the work to it and waiting costs 50-250 µs on the machines
    // measured (wake-ups, the work moving away from the caller's cache) and gains nothing.
    // A kernel's own threshold holds where it streams through contiguous lanes; lanes gathered
    // or read side by side do more per byte, and share out from the default.
    let bytes = n_out.saturating_mul(len).saturating_mul(size_of::<T>());
    let serial = |below: usize| bytes < below || pool::threads_here() == 1;
    if R::COLUMNS
        && let Some((view, inner)) = lanes.side_by_side()
    {
        let serial = serial(r.columns_serial_bytes());
        by_rows(&view, inner, len, r, cancel, serial, finish, &mut out)?;
        return Ok((lanes.out_shape, out));
    }
    // Short lanes cost more per byte (a call and a fold per lane): they share out from the
    // default too.
    let streams = lanes.contiguous() && len >= MIN_STREAM_LANE;
    let serial = serial(if streams { R::SERIAL_BYTES } else { SERIAL_BYTES });
    if len < 2 * BLOCK * CHUNK || n_out > MAX_SHARED_LANES {
        whole_lanes(&lanes, r, cancel, serial, finish, &mut out)?;
    } else {
        out.extend(shared_chunks(&lanes, r, cancel, serial)?.into_iter().map(|s| finish(Some(s))));
    }
    Ok((lanes.out_shape, out))
}

/// Many or short lanes: each task takes whole lanes, written into `out` (with room for them).
fn whole_lanes<T: Element, R: Reducer<T>, O: Send>(
    lanes: &Lanes<'_, T>,
    r: &R,
    cancel: &Cancel,
    serial: bool,
    finish: &(impl Fn(Option<R::State>) -> O + Sync),
    out: &mut Vec<O>,
) -> Result<()> {
    let len = lanes.lane_len;
    let one = |buf: &mut Vec<T>, j: usize| {
        // Polled per lane, so that millions of short lanes stop as promptly as one long one.
        cancel.check()?;
        // A row of a table that fits in a block: straight to the kernel.
        if let Some(t) = &lanes.table
            && let Some(row) = t.row(j).to_slice()
            && (1..=BLOCK).contains(&row.len())
        {
            return Ok(finish(Some(r.block(row, 0))));
        }
        lane_serial(&lanes.lane(j), len, r, cancel, buf).map(finish)
    };
    if serial {
        let mut buf = scratch(len);
        for j in 0..lanes.n_out() {
            out.push(one(&mut buf, j)?);
        }
        return Ok(());
    }
    // The first error (a cancellation) is kept; the lanes after it are skipped, each at the
    // cost of a look at a flag (their places must still be filled).
    let failed = std::sync::Mutex::new(None);
    let stop = AtomicBool::new(false);
    pool::install(|| {
        (0..lanes.n_out())
            .into_par_iter()
            .with_min_len((TASK_ELEMENTS / len.max(1)).max(1))
            .map_init(
                || scratch(len),
                |buf, j| {
                    if stop.load(Ordering::Relaxed) {
                        return finish(None);
                    }
                    one(buf, j).unwrap_or_else(|e| {
                        stop.store(true, Ordering::Relaxed);
                        failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
                        finish(None)
                    })
                },
            )
            .collect_into_vec(out);
    });
    match failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Lanes side by side in memory (`view`: outer kept axes, the merged inner one of `inner`
/// lanes with stride ±1, the reduced axis of `len`): groups of [`Reducer::group`] neighbouring
/// lanes are read row by row, a block of rows at a time, through [`Reducer::columns`]; the
/// block states of each lane are merged in the same fixed trees as everywhere else. Groups are
/// shared out, and a group's chunks too when there are few groups.
#[allow(clippy::too_many_arguments)]
fn by_rows<T: Element, R: Reducer<T>, O: Send>(
    view: &ArrayViewD<'_, T>,
    inner: usize,
    len: usize,
    r: &R,
    cancel: &Cancel,
    serial: bool,
    finish: &(impl Fn(Option<R::State>) -> O + Sync),
    out: &mut Vec<O>,
) -> Result<()> {
    let kept = view.ndim() - 1;
    let outer: usize = view.shape()[..kept - 1].iter().product();
    // Groups of even widths (a multiple of 16), so that two wide groups of 3000 columns are
    // two halves, not 2048 and 952.
    let most = r.group();
    let chunks = len.div_ceil(BLOCK * CHUNK);
    // As few groups as the widest allow; when they and their chunks are all there is to share,
    // a whole number of them for each thread (three groups of (3000, 3000) on two threads left
    // one thread idle for a third of the time).
    let threads = pool::threads_here();
    let fewest = inner.div_ceil(most);
    let fewest = if serial || chunks > 1 || outer * fewest >= 4 * threads {
        fewest
    } else {
        (outer * fewest).next_multiple_of(threads).div_ceil(outer)
    };
    let width = inner.div_ceil(fewest).next_multiple_of(16).min(most);
    let groups = inner.div_ceil(width);
    let tasks = outer * groups;
    let merge = |a: Vec<R::State>, b: Vec<R::State>| -> Vec<R::State> {
        a.into_iter().zip(b).map(|(x, y)| r.merge(x, y)).collect()
    };
    // Few groups of long lanes: their chunks are shared out too.
    let split_chunks = !serial && tasks < 2 * pool::threads_here();
    // The lane values of group `t`, appended to `out`; `states` is scratch.
    let group = |t: usize, states: &mut Vec<R::State>, out: &mut Vec<O>| -> Result<()> {
        cancel.check()?;
        let (o, g) = (t / groups, t % groups);
        let mut table = view.clone();
        let mut below = outer;
        for &n in &view.shape()[..kept - 1] {
            below /= n;
            table.index_axis_inplace(Axis(0), (o / below) % n);
        }
        let table = table.into_dimensionality::<Ix2>().expect("one kept axis and one reduced");
        let c0 = g * width;
        let mut lanes = table.slice_move(s![c0..(c0 + width).min(inner), ..]);
        let reversed = lanes.stride_of(Axis(0)) < 0;
        if reversed {
            lanes.invert_axis(Axis(0));
        }
        states.clear();
        if len <= BLOCK {
            // One block: its states are the lanes' (a tree of one leaf is the leaf).
            r.columns(&lanes.view().reversed_axes(), 0, states);
        } else {
            let leaf = |c: usize| chunk_by_rows(&lanes, len, c, r, cancel);
            *states = if split_chunks {
                pool::install(|| parallel_tree(0, chunks, &leaf, &merge, cancel))?
            } else {
                serial_tree(0, chunks, &mut |c| leaf(c), &merge)?
            };
        }
        if reversed {
            states.reverse();
        }
        out.extend(states.drain(..).map(|s| finish(Some(s))));
        Ok(())
    };
    #[allow(clippy::disallowed_methods)] // the lanes of one group
    let scratch = || Vec::with_capacity(width);
    if serial {
        let mut states = scratch();
        for t in 0..tasks {
            group(t, &mut states, out)?;
        }
        return Ok(());
    }
    // Groups of short lanes are handed out in runs, each filling one vector of values.
    let run = (TASK_ELEMENTS / (width * len).max(1)).max(1);
    let mut parts: Vec<Result<Vec<O>>> = mem::with_capacity(tasks.div_ceil(run))?;
    pool::install(|| {
        (0..tasks.div_ceil(run))
            .into_par_iter()
            .map(|k| {
                let ts = k * run..((k + 1) * run).min(tasks);
                let mut values = mem::with_capacity(ts.len() * width)?;
                let mut states = scratch();
                for t in ts {
                    group(t, &mut states, &mut values)?;
                }
                Ok(values)
            })
            .collect_into_vec(&mut parts);
    });
    for part in parts {
        out.extend(part?);
    }
    Ok(())
}

/// The states of chunk `c` of the lanes `lanes` (rows: lanes, contiguous across; columns: the
/// lanes' elements): each block read row by row, then each lane's block states merged in the
/// fixed tree, as [`chunk_state`] merges a lane's.
fn chunk_by_rows<T: Element, R: Reducer<T>>(
    lanes: &ArrayView2<'_, T>,
    len: usize,
    c: usize,
    r: &R,
    cancel: &Cancel,
) -> Result<Vec<R::State>> {
    let w = lanes.nrows();
    let first = c * CHUNK;
    let last = (first + CHUNK).min(len.div_ceil(BLOCK));
    // At most CHUNK blocks of WIDTH lanes.
    #[allow(clippy::disallowed_methods)]
    let mut blocks: Vec<Vec<R::State>> = Vec::with_capacity(last - first);
    for b in first..last {
        cancel.check()?;
        let start = b * BLOCK;
        let rows = lanes.slice(s![.., start..(start + BLOCK).min(len)]).reversed_axes();
        #[allow(clippy::disallowed_methods)]
        let mut states = Vec::with_capacity(w);
        r.columns(&rows, start, &mut states);
        blocks.push(states);
    }
    #[allow(clippy::disallowed_methods)]
    let mut lane = Vec::with_capacity(blocks.len());
    Ok((0..w)
        .map(|j| {
            lane.clear();
            lane.extend(blocks.iter().map(|states| states[j]));
            tree(&lane, &|x, y| r.merge(x, y))
        })
        .collect())
}

/// Long lanes: chunks are shared out. Contiguous lanes (the columns of a Fortran table) are read
/// one stream at a time; strided ones block by block across the lanes, so lanes that interleave
/// in memory (the columns of a C table) read each cache line once between them instead of once
/// each. Same states either way. Chunk states are merged as they come, in the fixed tree.
fn shared_chunks<T: Element, R: Reducer<T>>(
    lanes: &Lanes<'_, T>,
    r: &R,
    cancel: &Cancel,
    serial: bool,
) -> Result<Vec<R::State>> {
    let len = lanes.lane_len;
    // At most MAX_SHARED_LANES lanes.
    let all: Vec<ArrayViewD<'_, T>> =
        mem::collect(lanes.n_out(), (0..lanes.n_out()).map(|j| lanes.lane(j)))?;
    let streams = all.iter().all(|lane| lane.as_slice().is_some());
    let chunk = |c: usize| {
        cancel.check()?;
        let mut buf = scratch(len);
        if streams {
            all.iter().map(|lane| chunk_state(lane, len, c, r, cancel, &mut buf)).collect()
        } else {
            chunk_states_across(lanes, &all, c, r, cancel, &mut buf)
        }
    };
    let merge = |a: Vec<R::State>, b: Vec<R::State>| {
        a.into_iter().zip(b).map(|(x, y)| r.merge(x, y)).collect()
    };
    let chunks = len.div_ceil(BLOCK * CHUNK);
    if serial {
        serial_tree(0, chunks, &mut |c| chunk(c), &merge)
    } else {
        pool::install(|| parallel_tree(0, chunks, &chunk, &merge, cancel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::NEVER;
    use ndarray::{ArrayD, IxDyn, s};

    /// Records the exact sequence of elements each lane saw, block by block.
    struct Trace;
    impl Reducer<f64> for Trace {
        type State = (f64, usize);
        fn block(&self, xs: &[f64], start: usize) -> (f64, usize) {
            // A position-weighted hash of the block: any reordering changes it.
            let h = xs
                .iter()
                .enumerate()
                .fold(0.0, |acc, (i, &x)| acc * 1.000_001 + x * (i + start + 1) as f64);
            (h, xs.len())
        }
        fn merge(&self, a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
            (a.0 * 0.5 + b.0, a.1 + b.1)
        }
    }

    #[test]
    fn thread_count_does_not_change_the_result() {
        let n = 3 * BLOCK * CHUNK + 17;
        let a = ArrayD::from_shape_fn(IxDyn(&[2, n]), |i| ((i[0] * 7 + i[1] * 13) % 101) as f64);
        let t = a.t();
        for (view, mask) in [
            (a.view(), vec![false, true]),
            (t.view(), vec![true, false]),
            (a.view(), vec![true, true]),
        ] {
            let mut results = Vec::new();
            for threads in [1, 2, 3, 8] {
                let p = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                results.push(p.install(|| {
                    reduce(&view, &mask, &Trace, &crate::cancel::NEVER, &|s| s).unwrap()
                }));
            }
            for r in &results[1..] {
                let same =
                    r.1.iter()
                        .zip(&results[0].1)
                        .all(|(x, y)| x.unwrap().0.to_bits() == y.unwrap().0.to_bits());
                assert!(same && r.0 == results[0].0);
            }
        }
    }

    #[test]
    fn strided_lanes_see_the_same_blocks_as_contiguous_ones() {
        let n = 2 * BLOCK * CHUNK + 5;
        // 35 columns: a full tile of 32 lanes transposed together and a part tile of 3.
        let cols = TILE_LANES + 3;
        let a = ArrayD::from_shape_fn(IxDyn(&[n, cols]), |i| (i[0] * cols + i[1]) as f64 * 0.25);
        let col = a.slice(s![.., 1]).into_dyn();
        let owned = col.to_owned();
        let p = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let strided =
            p.install(|| reduce(&col, &[true], &Trace, &crate::cancel::NEVER, &|s| s).unwrap());
        let contiguous =
            reduce(&owned.view(), &[true], &Trace, &crate::cancel::NEVER, &|s| s).unwrap();
        assert_eq!(strided.1[0].unwrap().0.to_bits(), contiguous.1[0].unwrap().0.to_bits());
        assert_eq!(strided.1[0].unwrap().1, n);
        // All columns at once (transposed tile by tile), and the columns reversed (a table
        // whose lanes are one element apart backwards), against each column copied.
        let reversed = a.slice(s![.., ..;-1]).into_dyn();
        for threads in [1, 2] {
            let p = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let across = p.install(|| {
                reduce(&a.view(), &[true, false], &Trace, &crate::cancel::NEVER, &|s| s).unwrap()
            });
            let backwards = p.install(|| {
                reduce(&reversed, &[true, false], &Trace, &crate::cancel::NEVER, &|s| s).unwrap()
            });
            for j in [0, 1, TILE_LANES - 1, TILE_LANES, cols - 1] {
                let copy = a.slice(s![.., j]).to_owned().into_dyn();
                let one = reduce(&copy.view(), &[true], &Trace, &crate::cancel::NEVER, &|s| s)
                    .unwrap()
                    .1[0]
                    .unwrap()
                    .0
                    .to_bits();
                assert_eq!(across.1[j].unwrap().0.to_bits(), one, "column {j}");
                assert_eq!(backwards.1[cols - 1 - j].unwrap().0.to_bits(), one, "reversed {j}");
            }
        }
    }

    /// [`Trace`] read row by row where lanes lie side by side (the columns copied out).
    struct TraceRows;
    impl Reducer<f64> for TraceRows {
        type State = (f64, usize);
        fn block(&self, xs: &[f64], start: usize) -> (f64, usize) {
            Trace.block(xs, start)
        }
        fn merge(&self, a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
            Trace.merge(a, b)
        }
        const COLUMNS: bool = true;
    }

    #[test]
    fn lanes_read_row_by_row_see_the_same_blocks() {
        // Long lanes (several chunks), short ones, a group and a part group of columns,
        // reversed columns, and a cube reduced over each axis.
        let long = 2 * BLOCK * CHUNK + 7;
        let width = columns::WIDTH + 5;
        let table =
            ArrayD::from_shape_fn(IxDyn(&[long, width]), |i| ((i[0] * 31 + i[1] * 7) % 97) as f64);
        let cube = ArrayD::from_shape_fn(IxDyn(&[9, 70, 11]), |i| {
            ((i[0] * 5 + i[1] * 11 + i[2] * 3) % 89) as f64
        });
        let cases = [
            (table.view(), vec![true, false]),
            (table.slice(s![.., ..;-1]).into_dyn(), vec![true, false]),
            (table.slice(s![..;3, 1..]).into_dyn(), vec![true, false]),
            (cube.view(), vec![true, false, false]),
            (cube.view(), vec![false, true, false]),
            (cube.slice(s![.., ..;-2, ..]).into_dyn(), vec![true, false, false]),
        ];
        for (view, mask) in cases {
            let copy = view.to_owned();
            for threads in [1, 2, 3] {
                let p = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let rows = p.install(|| reduce(&view, &mask, &TraceRows, &NEVER, &|s| s).unwrap());
                let lanes = p.install(|| reduce(&copy.view(), &mask, &Trace, &NEVER, &|s| s));
                let lanes = lanes.unwrap();
                assert_eq!(rows.0, lanes.0);
                for (a, b) in rows.1.iter().zip(&lanes.1) {
                    assert_eq!(a.unwrap().0.to_bits(), b.unwrap().0.to_bits(), "{mask:?}");
                    assert_eq!(a.unwrap().1, b.unwrap().1);
                }
            }
        }
    }

    #[test]
    fn cancelled_reductions_stop_with_an_error() {
        let a = ArrayD::<f64>::zeros(IxDyn(&[1 << 18]));
        let c = Cancel::new();
        c.cancel();
        assert!(matches!(
            reduce(&a.view(), &[true], &Trace, &c, &|s| s),
            Err(crate::Error::Cancelled)
        ));
    }
}
