//! The reduction engine shared by every reduction kernel.
//!
//! The elements of each output lane are taken in C order of the reduced axes and cut into fixed
//! blocks of [`BLOCK`] elements. Each block is reduced to a state; the states of each run of
//! [`CHUNK`] blocks are merged in a fixed binary tree, and the chunk states of a lane likewise.
//! Neither the blocks nor the trees depend on the number of threads or on the order in which
//! blocks are visited, so the result is bit-for-bit the same on 1 thread or 64; threads only
//! decide who computes which block.

use ndarray::{ArrayView1, ArrayViewD, Axis, Ix1, Slice};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::Result;
use crate::pool;

/// Elements per block: a block of the widest type fills 16 KiB, well inside L1.
pub(crate) const BLOCK: usize = 2048;
/// Blocks per chunk: block states are merged per chunk, then chunk states per lane, so the
/// states held at once number `len / (BLOCK * CHUNK)`, not `len / BLOCK`.
const CHUNK: usize = 64;
/// Below this many elements in all, a reduction runs on the calling thread: waking the pool's
/// threads costs 50-100 µs on the (virtualized) machines measured, the time to sum about half a
/// million cached elements on one thread.
const SERIAL_BELOW: usize = 1 << 19;
/// Up to this many long lanes are shared out chunk by chunk, all lanes at once.
const MAX_SHARED_LANES: usize = 1024;
/// Elements one parallel task should at least cover.
const TASK_ELEMENTS: usize = 1 << 16;

/// The output shape of a reduction and one state per lane (`None` for an empty lane).
pub(crate) type LaneStates<S> = (Vec<usize>, Vec<Option<S>>);

/// A reduction written as "reduce one block, merge two states".
pub(crate) trait Reducer<T>: Sync {
    /// The partial result of a block or of a run of blocks.
    type State: Copy + Send + Sync;
    /// Reduces one block; `start` is the lane index of `xs[0]`.
    fn block(&self, xs: &[T], start: usize) -> Self::State;
    /// Merges the state of a run with the state of the run right after it.
    fn merge(&self, a: Self::State, b: Self::State) -> Self::State;
}

/// The lanes of a reduction: one per output element, each a view over the reduced axes.
pub(crate) struct Lanes<'a, T> {
    /// The input with its kept axes first and its reduced axes last (at least one).
    view: ArrayViewD<'a, T>,
    /// The lengths of the kept axes: the output shape without `keepdims`.
    pub(crate) out_shape: Vec<usize>,
    /// Elements in one lane.
    pub(crate) lane_len: usize,
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
        Lanes { view, out_shape, lane_len }
    }

    fn n_out(&self) -> usize {
        self.out_shape.iter().product()
    }

    /// The view of lane `j` (C order over the kept axes); at least one-dimensional.
    fn lane(&self, j: usize) -> ArrayViewD<'a, T> {
        let mut v = self.view.clone();
        let mut below: usize = self.out_shape.iter().product();
        for &n in &self.out_shape {
            below /= n;
            v.index_axis_inplace(Axis(0), (j / below) % n);
        }
        v
    }
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

/// Copies `buf.len()` elements of `lane`, from its flat C-order index `start` on, into `buf`.
fn gather<T: Element>(lane: &ArrayViewD<'_, T>, start: usize, buf: &mut [T]) {
    let inner = lane.len_of(Axis(lane.ndim() - 1));
    let mut pos = start;
    let mut filled = 0;
    while filled < buf.len() {
        let (r, c) = (pos / inner, pos % inner);
        let take = (inner - c).min(buf.len() - filled);
        let seg = row(lane, r).slice_axis_move(Axis(0), Slice::from(c..c + take));
        for (d, &x) in buf[filled..filled + take].iter_mut().zip(seg.iter()) {
            *d = x;
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
    gather(lane, start, &mut buf[..n]);
    r.block(&buf[..n], start)
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
    lanes: &[ArrayViewD<'_, T>],
    len: usize,
    c: usize,
    r: &R,
    cancel: &Cancel,
    buf: &mut [T],
) -> Result<Vec<R::State>> {
    let first = c * CHUNK;
    let last = (first + CHUNK).min(len.div_ceil(BLOCK));
    let mut per_lane: Vec<Vec<R::State>> = vec![Vec::with_capacity(last - first); lanes.len()];
    for b in first..last {
        cancel.check()?;
        for (states, lane) in per_lane.iter_mut().zip(lanes) {
            states.push(block_state(lane, len, b, r, buf));
        }
    }
    Ok(per_lane.iter().map(|states| tree(states, &|x, y| r.merge(x, y))).collect())
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
    match len.div_ceil(BLOCK * CHUNK) {
        1 => chunk_state(lane, len, 0, r, cancel, buf).map(Some),
        chunks => {
            let states = (0..chunks)
                .map(|c| chunk_state(lane, len, c, r, cancel, buf))
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(tree(&states, &|x, y| r.merge(x, y))))
        }
    }
}

/// Scratch for gathering one block of a strided lane.
fn scratch<T: Element>(len: usize) -> Vec<T> {
    vec![T::default(); len.min(BLOCK)]
}

/// Reduces every lane of `a` over the `reduced` axes: one state per output element in C order
/// (`None` for an empty lane), and the output shape without the reduced axes.
pub(crate) fn reduce<T: Element, R: Reducer<T>>(
    a: &ArrayViewD<'_, T>,
    reduced: &[bool],
    r: &R,
    cancel: &Cancel,
) -> Result<LaneStates<R::State>> {
    let lanes = Lanes::new(a, reduced);
    let (n_out, len) = (lanes.n_out(), lanes.lane_len);
    let total = n_out.saturating_mul(len);
    // One thread in all: handing the work to it and waiting costs 50-250 µs on the machines
    // measured (wake-ups, the work moving away from the caller's cache) and gains nothing.
    if total < SERIAL_BELOW || pool::threads_here() == 1 {
        let mut buf = scratch(len);
        let states = (0..n_out)
            .map(|j| lane_serial(&lanes.lane(j), len, r, cancel, &mut buf))
            .collect::<Result<_>>()?;
        return Ok((lanes.out_shape, states));
    }
    let states = pool::install(|| -> Result<Vec<Option<R::State>>> {
        if len < 2 * BLOCK * CHUNK || n_out > MAX_SHARED_LANES {
            // Many or short lanes: each task takes whole lanes.
            (0..n_out)
                .into_par_iter()
                .with_min_len((TASK_ELEMENTS / len.max(1)).max(1))
                .map_init(
                    || scratch(len),
                    |buf, j| lane_serial(&lanes.lane(j), len, r, cancel, buf),
                )
                .collect()
        } else {
            // Long lanes: chunks are shared out. Contiguous lanes (the columns of a Fortran
            // table) are read one stream at a time; strided ones block by block across the
            // lanes, so lanes that interleave in memory (the columns of a C table) read each
            // cache line once between them instead of once each. Same states either way.
            let all: Vec<ArrayViewD<'_, T>> = (0..n_out).map(|j| lanes.lane(j)).collect();
            let streams = all.iter().all(|lane| lane.as_slice().is_some());
            let by_chunk = (0..len.div_ceil(BLOCK * CHUNK))
                .into_par_iter()
                .map_init(
                    || scratch(len),
                    |buf, c| {
                        if streams {
                            all.iter()
                                .map(|lane| chunk_state(lane, len, c, r, cancel, buf))
                                .collect::<Result<Vec<_>>>()
                        } else {
                            chunk_states_across(&all, len, c, r, cancel, buf)
                        }
                    },
                )
                .collect::<Result<Vec<_>>>()?;
            Ok((0..n_out)
                .map(|j| {
                    let states: Vec<R::State> = by_chunk.iter().map(|row| row[j]).collect();
                    Some(tree(&states, &|x, y| r.merge(x, y)))
                })
                .collect())
        }
    })?;
    Ok((lanes.out_shape, states))
}

#[cfg(test)]
mod tests {
    use super::*;
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
                results.push(
                    p.install(|| reduce(&view, &mask, &Trace, &crate::cancel::NEVER).unwrap()),
                );
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
        let a = ArrayD::from_shape_fn(IxDyn(&[n, 3]), |i| (i[0] * 3 + i[1]) as f64 * 0.25);
        let col = a.slice(s![.., 1]).into_dyn();
        let owned = col.to_owned();
        let p = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let strided = p.install(|| reduce(&col, &[true], &Trace, &crate::cancel::NEVER).unwrap());
        let contiguous = reduce(&owned.view(), &[true], &Trace, &crate::cancel::NEVER).unwrap();
        assert_eq!(strided.1[0].unwrap().0.to_bits(), contiguous.1[0].unwrap().0.to_bits());
        assert_eq!(strided.1[0].unwrap().1, n);
        // All columns at once (block by block across lanes) against each column copied.
        let across =
            p.install(|| reduce(&a.view(), &[true, false], &Trace, &crate::cancel::NEVER).unwrap());
        for j in 0..3 {
            let copy = a.slice(s![.., j]).to_owned().into_dyn();
            let one =
                p.install(|| reduce(&copy.view(), &[true], &Trace, &crate::cancel::NEVER).unwrap());
            assert_eq!(
                across.1[j].unwrap().0.to_bits(),
                one.1[0].unwrap().0.to_bits(),
                "column {j}"
            );
        }
    }

    #[test]
    fn cancelled_reductions_stop_with_an_error() {
        let a = ArrayD::<f64>::zeros(IxDyn(&[1 << 18]));
        let c = Cancel::new();
        c.cancel();
        assert!(matches!(reduce(&a.view(), &[true], &Trace, &c), Err(crate::Error::Cancelled)));
    }
}
