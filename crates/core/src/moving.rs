//! Moving-window statistics along one axis, as bottleneck's `move_*` functions.
//!
//! Output `i` of a lane covers the window `max(0, i - window + 1)..=i`; NaN are skipped, and a
//! window with fewer than `min_count` other values gives NaN. Each lane is cut into segments
//! of a fixed length (depending only on the window), and every segment starts from its own
//! window, recomputed, so that rounding errors of the running sums never travel further than
//! one segment, segments can run on any thread, and results are the same for any thread count.
//!
//! Sums run on values shifted by the first value of their segment's window and count infinite
//! values apart, so that a large offset does not cost precision and one infinity does not
//! poison the rest of the series (bottleneck's running sums give NaN there). Minima and maxima
//! use a monotone deque (linear time); on ties the newest value wins, as in bottleneck.

// Inlining is how the table sums are compiled into each instruction-set copy (`multilevel!`).
#![allow(clippy::inline_always)]

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use ndarray::{
    ArrayD, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMut1, ArrayViewMut2, ArrayViewMutD, Axis,
    Ix2, Zip, s,
};
use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::{mem, pool};

/// A moving-window statistic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MoveOp {
    /// Sum of the values.
    Sum,
    /// Mean of the values.
    Mean,
    /// Variance with divisor `count - ddof`.
    Var(f64),
    /// Standard deviation with divisor `count - ddof`.
    Std(f64),
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Distance of the minimum from the window's right end (0 = newest).
    ArgMin,
    /// Distance of the maximum from the window's right end.
    ArgMax,
    /// Median (the mean of the two middle values for an even count).
    Median,
    /// Rank of the newest value among the window's, scaled to -1 (least) ... 1 (greatest),
    /// ties sharing their mean rank; NaN when the newest value is NaN.
    Rank,
}

/// The window and where it slides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Values in the window (at least 1, at most the axis length).
    /// (Signed, so that a negative one is refused with bottleneck's message.)
    pub window: i64,
    /// Fewest non-NaN values that give a result; `None` for `window`.
    pub min_count: Option<i64>,
    /// The axis; negative counts from the end.
    pub axis: isize,
}

/// Outputs per segment at least; a segment also spans four windows, so that recomputing its
/// first window costs at most a quarter more.
const SEGMENT: usize = 1 << 14;
/// Median and rank keep windows up to this many values in a sorted array.
const SORTED_UP_TO: usize = 512;
/// Below this many elements in all, one thread does everything.
const SERIAL_BELOW: usize = 1 << 16;

/// The moving statistic `op` of `a` along `w.axis`: same shape, `float32` for `float32`
/// input, `float64` otherwise (bottleneck's dtypes).
///
/// ```
/// use ndarray::array;
/// use nocopy_core::{moving, MoveOp, Window, NEVER};
/// let a = array![1.0, 2.0, f64::NAN, 4.0].into_dyn();
/// let w = Window { window: 2, min_count: Some(1), axis: -1 };
/// let s = moving(&a.view(), MoveOp::Sum, &w, &NEVER).unwrap();
/// assert_eq!(s.into_raw_vec_and_offset().0, vec![1.0, 3.0, 2.0, 4.0]);
/// ```
pub fn moving<T: Element>(
    a: &ArrayViewD<'_, T>,
    op: MoveOp,
    w: &Window,
    cancel: &Cancel,
) -> Result<ArrayD<T::Float>> {
    let mut out = mem::array(a.raw_dim(), T::float_from_f64(f64::NAN))?;
    moving_into(a, op, w, &mut out.view_mut(), cancel)?;
    Ok(out)
}

/// [`moving`] into `out`, of `a`'s shape and any layout. Every element of `out` is written (so
/// it may start uninitialized, as a fresh NumPy array), and by the thread that computes it.
pub fn moving_into<T: Element>(
    a: &ArrayViewD<'_, T>,
    op: MoveOp,
    w: &Window,
    out: &mut ArrayViewMutD<'_, T::Float>,
    cancel: &Cancel,
) -> Result<()> {
    if out.shape() != a.shape() {
        return Err(Error::Invalid(format!(
            "out has shape {:?}, the input {:?}",
            out.shape(),
            a.shape()
        )));
    }
    if a.ndim() == 0 {
        return Err(Error::Invalid("moving window functions require ndim > 0".into()));
    }
    let axis = crate::reduce::normalize_axis(w.axis, a.ndim())?;
    let n = a.len_of(Axis(axis));
    let window = match usize::try_from(w.window) {
        Ok(window) if (1..=n).contains(&window) => window,
        _ => {
            return Err(Error::Invalid(format!(
                "Moving window (={}) must between 1 and {n}, inclusive",
                w.window
            )));
        }
    };
    let min_count = w.min_count.unwrap_or(w.window);
    if min_count < 1 {
        return Err(Error::Invalid("`min_count` must be greater than zero.".into()));
    }
    if min_count > w.window {
        return Err(Error::Invalid(format!(
            "min_count ({min_count}) cannot be greater than window ({window})"
        )));
    }
    let job = Job { op, window, min_count: min_count.unsigned_abs() as usize };
    let serial = a.len() < SERIAL_BELOW || pool::threads_here() == 1;
    let lanes = a.len() / n;
    if lanes > 1
        && let Some((tables, dst)) = tables(a, axis, out)?
    {
        return job.tables_into(&tables, dst, n, serial, cancel);
    }
    if lanes >= MIN_BLOCK
        && n <= TABLE_ELEMENTS / MIN_BLOCK
        && job.tables_of_lanes(n)
        && let Some((x, mut o)) = lane_rows(a, axis).zip(lane_rows_mut(out, axis))
    {
        return job.lane_blocks_into(&x, &mut o, serial, cancel);
    }
    let seg = job.segment();
    if lanes == 1 && !serial {
        // One long series: its segments are shared out.
        let (Some(x), Some(mut o)) =
            (a.lanes(Axis(axis)).into_iter().next(), out.lanes_mut(Axis(axis)).into_iter().next())
        else {
            return Ok(());
        };
        return pool::install(|| {
            o.axis_chunks_iter_mut(Axis(0), seg).into_par_iter().enumerate().try_for_each_init(
                || (Vec::new(), Vec::new()),
                |(tin, tout), (k, d)| {
                    cancel.check()?;
                    job.segment_of(&x, k * seg, d, tin, tout)
                },
            )
        });
    }
    let failed = Mutex::new(None);
    // Set with the first error: the lanes after it are skipped at the cost of a look at it.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let one = |x: ArrayView1<'_, T>, mut o: ArrayViewMut1<'_, T::Float>| {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (mut tin, mut tout) = (Vec::new(), Vec::new());
        for (k, d) in o.axis_chunks_iter_mut(Axis(0), seg).enumerate() {
            // Polled per segment: a lane may be long.
            if let Err(e) =
                cancel.check().and_then(|()| job.segment_of(&x, k * seg, d, &mut tin, &mut tout))
            {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
                return;
            }
        }
    };
    let zip = Zip::from(a.lanes(Axis(axis))).and(out.lanes_mut(Axis(axis)));
    if serial {
        zip.for_each(one);
    } else {
        pool::install(|| zip.par_for_each(one));
    }
    match failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The lanes of a moving window along `axis` as tables side by side, when they are columns
/// of contiguous rows and `out` is one C-order slice: a two-dimensional input reduced down
/// axis 0 with contiguous rows (any row stride), or a C-order array down any axis but the
/// last (one table of `n` rows per index of the axes before). With the tables, `out` as one
/// slice, table after table.
#[allow(clippy::type_complexity)]
fn tables<'a, 'b, T: Element>(
    a: &ArrayViewD<'a, T>,
    axis: usize,
    out: &'b mut ArrayViewMutD<'_, T::Float>,
) -> Result<Option<(Vec<ArrayView2<'a, T>>, &'b mut [T::Float])>> {
    if axis + 1 >= a.ndim() {
        return Ok(None);
    }
    let n = a.len_of(Axis(axis));
    let tables = if let Ok(table) = a.clone().into_dimensionality::<Ix2>() {
        if table.strides()[1] != 1 {
            return Ok(None);
        }
        mem::collect(1, [table])?
    } else {
        let shape = a.shape();
        let (outer, inner) =
            (shape[..axis].iter().product::<usize>(), shape[axis + 1..].iter().product());
        let Some(flat) = a.clone().to_slice() else {
            return Ok(None);
        };
        // Tables of a few columns cost more each than their lanes one by one.
        if inner < MIN_TABLE_WIDTH {
            return Ok(None);
        }
        let tables = flat
            .chunks_exact(n * inner)
            .take(outer)
            .map(|c| ArrayView2::from_shape((n, inner), c).expect("a C-order table of the slab"));
        mem::collect(outer, tables)?
    };
    Ok(out.as_slice_mut().map(|dst| (tables, dst)))
}

/// The lanes of `a` along `axis` as the rows of a two-dimensional view, without a copy: any
/// two-dimensional array, or one whose other axes merge into one.
fn lane_rows<'a, T>(a: &ArrayViewD<'a, T>, axis: usize) -> Option<ArrayView2<'a, T>> {
    let v = a.clone().permuted_axes(last_axis(a.ndim(), axis)?);
    let n = v.shape()[v.ndim() - 1];
    let lanes = v.len() / n.max(1);
    v.clone().into_dimensionality::<Ix2>().ok().or_else(|| v.into_shape_with_order((lanes, n)).ok())
}

/// [`lane_rows`] of an output.
fn lane_rows_mut<'a, T>(
    a: &'a mut ArrayViewMutD<'_, T>,
    axis: usize,
) -> Option<ArrayViewMut2<'a, T>> {
    let perm = last_axis(a.ndim(), axis)?;
    let v = a.view_mut().permuted_axes(perm);
    let n = v.shape()[v.ndim() - 1];
    let lanes = v.len() / n.max(1);
    if v.ndim() == 2 {
        return v.into_dimensionality::<Ix2>().ok();
    }
    v.into_shape_with_order((lanes, n)).ok()
}

/// The order of `ndim` axes that puts `axis` last (`None` for a scalar).
fn last_axis(ndim: usize, axis: usize) -> Option<ndarray::IxDyn> {
    if ndim == 0 {
        return None;
    }
    let mut perm = [0usize; 64];
    for (k, d) in (0..ndim).filter(|&d| d != axis).chain([axis]).enumerate() {
        *perm.get_mut(k)? = d;
    }
    Some(ndarray::IxDyn(perm.get(..ndim)?))
}

/// Elements of a table made of lanes one after another ([`Job::lanes_as_tables`]): few
/// enough to stay in L2, many enough that a table's setup is paid by its steps.
const TABLE_ELEMENTS: usize = 1 << 15;
/// Longest lanes whose sums and means go through tables (see [`Job::tables_of_lanes`]).
const SUMS_AS_TABLES: usize = 64;
/// Fewest lanes in such a table: the steps across its columns vectorize (the compiler's
/// loops take 16 columns at a time; fewer run one by one).
const MIN_BLOCK: usize = 32;

/// The lanes `x` (rows) as the columns of the C-order table `t`: eight lanes at a time, so
/// that each line of the table is written whole and each lane read in order.
fn gather<T: Copy>(x: &ArrayView2<'_, T>, t: &mut [T]) {
    let (b, h) = x.dim();
    let mut lanes: [&[T]; 8] = [&[]; 8];
    for j0 in (0..b).step_by(8) {
        let k = 8.min(b - j0);
        for (jj, lane) in lanes[..k].iter_mut().enumerate() {
            let Some(l) = x.row(j0 + jj).to_slice() else {
                // Strided lanes: element by element.
                let mut t = ArrayViewMut2::from_shape((h, b), t).expect("h rows of b");
                t.assign(&x.t());
                return;
            };
            *lane = l;
        }
        for (r, row) in t.chunks_exact_mut(b).enumerate() {
            for (d, lane) in row[j0..j0 + k].iter_mut().zip(&lanes[..k]) {
                *d = lane[r];
            }
        }
    }
}

/// The columns of the C-order table `t` into the lanes `o` (rows): [`gather`] reversed.
fn scatter<T: Copy>(t: &[T], o: &mut ArrayViewMut2<'_, T>) {
    let (b, h) = o.dim();
    if o.rows().into_iter().any(|l| l.as_slice().is_none()) {
        o.assign(&ArrayView2::from_shape((h, b), t).expect("h rows of b").t());
        return;
    }
    let mut rows = o.rows_mut().into_iter();
    for j0 in (0..b).step_by(8) {
        let k = 8.min(b - j0);
        let mut lanes: [&mut [T]; 8] = Default::default();
        for lane in &mut lanes[..k] {
            *lane = rows.next().and_then(ArrayViewMut1::into_slice).expect("contiguous lanes");
        }
        for (r, row) in t.chunks_exact(b).enumerate() {
            for (&v, lane) in row[j0..j0 + k].iter().zip(&mut lanes[..k]) {
                lane[r] = v;
            }
        }
    }
}

/// A row of a table, as a slice.
fn contiguous<'a, T>(r: &ArrayView1<'a, T>) -> &'a [T] {
    r.to_slice().expect("the table's rows are contiguous")
}

/// Fewest lanes in a table of [`tables`] cut from a C-order array.
const MIN_TABLE_WIDTH: usize = 8;
/// Columns of a table run together: their running sums and watch (six `f64` each) stay in
/// L1, where a whole row of a wide table's spilled to L2 at every step.
const TABLE_STRIP: usize = 256;

/// One moving statistic over lanes of a fixed window.
#[derive(Clone, Copy)]
pub(crate) struct Job {
    op: MoveOp,
    window: usize,
    min_count: usize,
}

impl Job {
    /// Outputs `start..start + d.len()` of lane `x` into `d`. Contiguous memory is used in
    /// place; a strided lane or output goes through `tin`/`tout`, a segment long (never a copy
    /// of the whole lane).
    fn segment_of<T: Element>(
        self,
        x: &ArrayView1<'_, T>,
        start: usize,
        mut d: ArrayViewMut1<'_, T::Float>,
        tin: &mut Vec<T>,
        tout: &mut Vec<T::Float>,
    ) -> Result<()> {
        let lo = start.saturating_sub(self.window);
        let part = x.slice(s![lo..start + d.len()]);
        let xs: &[T] = if let Some(xs) = part.to_slice() {
            xs
        } else {
            tin.clear();
            mem::reserve(tin, part.len())?;
            tin.extend(part.iter().copied());
            tin
        };
        if let Some(ds) = d.as_slice_mut() {
            self.run(xs, start - lo, ds)?;
        } else {
            mem::resize(tout, d.len(), T::float_from_f64(0.0))?;
            self.run(xs, start - lo, tout)?;
            d.iter_mut().zip(tout.iter()).for_each(|(o, &v)| *o = v);
        }
        Ok(())
    }

    /// The statistic down the columns of `tables` (each `n` rows) into `dst`, table after
    /// table: each table row by row, in strips of columns whose running sums stay in L1.
    fn tables_into<T: Element>(
        self,
        tables: &[ArrayView2<'_, T>],
        dst: &mut [T::Float],
        n: usize,
        serial: bool,
        cancel: &Cancel,
    ) -> Result<()> {
        let job = self;
        let lanes = tables.len() * tables[0].ncols();
        let (seg, width) = (job.segment(), tables[0].ncols());
        let per_table = n * width;
        let chunk = |(t, j0, mut d): (usize, usize, ArrayViewMut2<'_, T::Float>)| {
            cancel.check()?;
            let (k, cols) = (t % n.div_ceil(seg), d.ncols());
            let t = &tables[t / n.div_ceil(seg)];
            job.table_segment(&t.slice(s![.., j0..j0 + cols]), k * seg, &mut d)
        };
        // Chunks never straddle two tables: each table's output is cut on its own, into
        // segments of rows, and those into strips of columns.
        let chunks = dst.chunks_mut(per_table).flat_map(|d| d.chunks_mut(seg * width)).enumerate();
        let mut strips = chunks.flat_map(|(tk, d)| {
            let d = ArrayViewMut2::from_shape((d.len() / width, width), d)
                .expect("a segment holds whole rows of its table");
            let (mut rest, mut j0) = (Some(d), 0);
            std::iter::from_fn(move || {
                let d = rest.take()?;
                let j = j0;
                j0 += TABLE_STRIP;
                if d.ncols() <= TABLE_STRIP {
                    return Some((tk, j, d));
                }
                let (strip, after) = d.split_at(Axis(1), TABLE_STRIP);
                rest = Some(after);
                Some((tk, j, strip))
            })
        });
        if serial {
            strips.try_for_each(chunk)?;
        } else {
            let all = mem::collect(
                lanes * n / (seg * width).max(1) * width.div_ceil(TABLE_STRIP) + tables.len(),
                strips,
            )?;
            pool::install(|| all.into_par_iter().try_for_each(chunk))?;
        }
        Ok(())
    }

    /// The statistic along the rows of `x` (lanes one after another: the last axis of a
    /// C-order array, the first of a Fortran one, strided rows) into the rows of `o`: blocks
    /// of them turned into tables ([`Job::lanes_as_tables`]), so that the sums run across
    /// lanes rather than one chain down each.
    fn lane_blocks_into<T: Element>(
        self,
        x: &ArrayView2<'_, T>,
        o: &mut ArrayViewMut2<'_, T::Float>,
        serial: bool,
        cancel: &Cancel,
    ) -> Result<()> {
        let (job, n) = (self, x.ncols().max(1));
        let block = (TABLE_ELEMENTS / n).clamp(MIN_BLOCK, TABLE_STRIP).next_multiple_of(16);
        let (xs, os) = (x.axis_chunks_iter(Axis(0), block), o.axis_chunks_iter_mut(Axis(0), block));
        let one = |(tin, tout): &mut (Vec<T>, Vec<T::Float>), (x, mut o)| {
            cancel.check()?;
            job.lanes_as_tables(&x, &mut o, tin, tout)
        };
        if serial {
            let mut bufs = (Vec::new(), Vec::new());
            return xs.zip(os).try_for_each(|b| one(&mut bufs, b));
        }
        pool::install(|| {
            xs.into_par_iter()
                .zip(os.into_par_iter())
                .try_for_each_init(|| (Vec::new(), Vec::new()), one)
        })
    }

    /// Whether lanes `n` long, one after another, go through tables ([`Job::lane_blocks_into`]):
    /// variances up to [`TABLE_ELEMENTS`] / [`MIN_BLOCK`] long, sums and means up to
    /// [`SUMS_AS_TABLES`] (their loop of full windows runs lanes one by one as fast from 100 on:
    /// (1000, 1000) axis 1 w=100 `move_sum` 2.1-2.3 ms one thread against 3.5 through tables,
    /// (100, 100, 100) axis 2 4.0-5.7 against 5.9-6.2; `move_std` 6.6 against 4.4, and
    /// (10⁵, 32) w=3 `move_sum` 23 ms against 18.5).
    fn tables_of_lanes(self, n: usize) -> bool {
        match self.op {
            MoveOp::Var(_) | MoveOp::Std(_) => true,
            MoveOp::Sum | MoveOp::Mean => n <= SUMS_AS_TABLES,
            _ => false,
        }
    }

    /// The statistic along the rows of `x` (lanes one after another) into the rows of `o`,
    /// segment by segment: each segment's part of the lanes copied into a table as its columns
    /// (`tin`), run as lanes side by side ([`Job::table_segment`], the same bits as each lane
    /// alone), and its output (`tout`) copied back into the lanes.
    fn lanes_as_tables<T: Element>(
        self,
        x: &ArrayView2<'_, T>,
        o: &mut ArrayViewMut2<'_, T::Float>,
        tin: &mut Vec<T>,
        tout: &mut Vec<T::Float>,
    ) -> Result<()> {
        let (b, n) = x.dim();
        if b == 0 || n == 0 {
            return Ok(());
        }
        let seg = self.segment();
        for start in (0..n).step_by(seg) {
            let (lo, end) = (start.saturating_sub(self.window), (start + seg).min(n));
            let (h, rows) = (end - lo, end - start);
            tin.clear();
            mem::resize(tin, h * b, x[[0, 0]])?;
            gather(&x.slice(s![.., lo..end]), &mut tin[..h * b]);
            let table = ArrayView2::from_shape((h, b), &tin[..h * b]).expect("h rows of b");
            mem::resize(tout, rows * b, T::float_from_f64(0.0))?;
            let mut dst =
                ArrayViewMut2::from_shape((rows, b), &mut tout[..rows * b]).expect("rows of b");
            self.table_segment(&table, start - lo, &mut dst)?;
            scatter(&tout[..rows * b], &mut o.slice_mut(s![.., start..end]));
        }
        Ok(())
    }

    /// Outputs per segment.
    fn segment(self) -> usize {
        SEGMENT.max(4 * self.window)
    }

    /// Writes outputs `start..start + out.len()` of the lane `xs`.
    fn run<T: Element>(self, xs: &[T], start: usize, out: &mut [T::Float]) -> Result<()> {
        match self.op {
            MoveOp::Sum | MoveOp::Mean | MoveOp::Var(_) | MoveOp::Std(_) => {
                self.sums(xs, start, out);
                Ok(())
            }
            MoveOp::Min | MoveOp::ArgMin => self.extremes(xs, start, out, false),
            MoveOp::Max | MoveOp::ArgMax => self.extremes(xs, start, out, true),
            MoveOp::Median | MoveOp::Rank => self.order_statistics(xs, start, out),
        }
    }

    /// Median and rank. Windows up to [`SORTED_UP_TO`] values are kept sorted (a binary search
    /// and a short move a step); longer ones use [`Job::ranked_statistics`], O(log window) a
    /// step. Both order values as `f64::total_cmp` does, so they give the same bits.
    fn order_statistics<T: Element>(
        self,
        xs: &[T],
        start: usize,
        out: &mut [T::Float],
    ) -> Result<()> {
        if self.window > SORTED_UP_TO {
            return self.ranked_statistics(xs, start, out);
        }
        let w = self.window;
        // Values as integers in `total_cmp` order: branch-free comparisons in the searches.
        let key = |x: T| {
            let b = x.to_f64().to_bits().cast_signed();
            b ^ ((b >> 63).cast_unsigned() >> 1).cast_signed()
        };
        let value = |k: i64| {
            f64::from_bits((k ^ ((k >> 63).cast_unsigned() >> 1).cast_signed()).cast_unsigned())
        };
        #[allow(clippy::disallowed_methods)] // at most SORTED_UP_TO + 1
        let mut sorted: Vec<i64> = Vec::with_capacity(w + 1);
        let at = |sorted: &[i64], k: i64| sorted.partition_point(|&y| y < k);
        for &x in &xs[start.saturating_sub(w)..start] {
            if !x.is_nan() {
                let k = key(x);
                sorted.insert(at(&sorted, k), k);
            }
        }
        for (i, o) in (start..).zip(out.iter_mut()) {
            let (new, old) = (xs[i], if i >= w { Some(xs[i - w]) } else { None });
            match (new.is_nan(), old.filter(|x| !x.is_nan())) {
                (false, Some(old)) => {
                    // One move for both: the values between the old and the new place shift by one.
                    let (kn, ko) = (key(new), key(old));
                    let (pn, po) = (at(&sorted, kn), at(&sorted, ko));
                    if pn <= po {
                        sorted.copy_within(pn..po, pn + 1);
                        sorted[pn] = kn;
                    } else {
                        sorted.copy_within(po + 1..pn, po);
                        sorted[pn - 1] = kn;
                    }
                }
                (new_nan, old) => {
                    if let Some(old) = old {
                        sorted.remove(at(&sorted, key(old)));
                    }
                    if !new_nan {
                        let k = key(new);
                        sorted.insert(at(&sorted, k), k);
                    }
                }
            }
            let newest = || {
                let x = xs[i];
                (!x.is_nan()).then(|| {
                    let v = x.to_f64();
                    // Ties compare as `==` does: both zeros are equal.
                    let below = sorted.partition_point(|&y| value(y) < v);
                    (below, sorted.partition_point(|&y| value(y) <= v) - below)
                })
            };
            *o =
                T::float_from_f64(self.order_value(sorted.len(), |k| value(sorted[k - 1]), newest));
        }
        Ok(())
    }

    /// The median or rank output of a window of `count` values, from its `k`-th smallest value
    /// (1-based) and the values below and equal to the newest one (`None` when it is NaN).
    fn order_value(
        self,
        count: usize,
        kth: impl Fn(usize) -> f64,
        newest: impl FnOnce() -> Option<(usize, usize)>,
    ) -> f64 {
        if count < self.min_count {
            return f64::NAN;
        }
        if self.op == MoveOp::Median {
            let mid = kth(count.div_ceil(2));
            return if count.is_multiple_of(2) {
                f64::midpoint(mid, kth(count / 2 + 1))
            } else {
                mid
            };
        }
        match newest() {
            None => f64::NAN,
            Some(_) if count == 1 => 0.0,
            // The tied values' mean 0-based rank, scaled to -1 ... 1.
            Some((below, equal)) => {
                2.0 * (below as f64 + (equal as f64 - 1.0) / 2.0) / (count as f64 - 1.0) - 1.0
            }
        }
    }

    /// Median and rank from the values' ranks in the segment: its values are sorted once, and
    /// the window is a Fenwick tree of counts over them, so that each step (add one, drop one,
    /// find the middle or count the smaller) takes O(log n) for a segment of n values (at most
    /// four windows here, so O(log window)).
    fn ranked_statistics<T: Element>(
        self,
        xs: &[T],
        start: usize,
        out: &mut [T::Float],
    ) -> Result<()> {
        let w = self.window;
        let lo = start.saturating_sub(w);
        let part = &xs[lo..start + out.len()];
        if u32::try_from(part.len()).is_err() {
            return Err(Error::Invalid(format!(
                "move_median and move_rank take windows of at most {} values",
                u32::MAX / 5
            )));
        }
        let mut order: Vec<(f64, u32)> = mem::collect(
            part.len(),
            (0..part.len() as u32)
                .filter(|&i| !part[i as usize].is_nan())
                .map(|i| (part[i as usize].to_f64(), i)),
        )?;
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        // Identical values share a slot of the tree: `slot[i]` for element `i`, `value[k]` of slot
        // `k` (the two zeros keep two slots, as `total_cmp` orders them).
        let mut slot = mem::filled(part.len(), u32::MAX)?;
        let mut value: Vec<f64> = mem::with_capacity(order.len())?;
        for &(v, i) in &order {
            if value.last().map(|l| l.to_bits()) != Some(v.to_bits()) {
                value.push(v);
            }
            slot[i as usize] = (value.len() - 1) as u32;
        }
        let mut tree = Fenwick::new(value.len())?;
        let step = |tree: &mut Fenwick, i: usize, add: bool| {
            if slot[i] != u32::MAX {
                tree.add(slot[i] as usize, add);
            }
        };
        for i in 0..start - lo {
            step(&mut tree, i, true);
        }
        for (i, o) in (start - lo..part.len()).zip(out.iter_mut()) {
            step(&mut tree, i, true);
            if lo + i >= w {
                step(&mut tree, i - w, false);
            }
            let newest = || {
                let k = slot[i] as usize;
                (slot[i] != u32::MAX).then(|| {
                    // Equal values: this slot and a neighbouring zero of the other sign.
                    let v = value[k];
                    let first = if k > 0 && value[k - 1] == v { k - 1 } else { k };
                    let last = if k + 1 < value.len() && value[k + 1] == v { k + 1 } else { k };
                    let below = tree.prefix(first) as usize;
                    (below, tree.prefix(last + 1) as usize - below)
                })
            };
            *o = T::float_from_f64(self.order_value(tree.count, |k| value[tree.kth(k)], newest));
        }
        Ok(())
    }

    /// Sum, mean, variance and standard deviation from running shifted sums.
    ///
    /// Values so large that their squares or sums could overflow (beyond [`HUGE`]) are scaled
    /// by a power of two first, and the results scaled back (exactly): an intermediate never
    /// overflows where the result is representable (a mean of 1e308 and -1e308 is 0, not
    /// -inf), and overflows only where the result itself does (the sum of 1e308 and 1e308).
    fn sums<T: Element>(self, xs: &[T], start: usize, out: &mut [T::Float]) {
        let w = self.window;
        let (first, lo, end) =
            (start.saturating_sub(w - 1), start.saturating_sub(w), start + out.len());
        let stretch = &xs[lo..end];
        let (finite, largest) = magnitudes(stretch);
        let (scale, unscale) = if largest >= HUGE {
            let e = largest.log2().floor() as i32;
            (2f64.powi(-e), 2f64.powi(e))
        } else {
            (1.0, 1.0)
        };
        // The first finite value of the output windows; when every value is finite, simply the
        // first.
        let shift = if finite {
            xs[first].to_f64() * scale
        } else {
            xs[first..end].iter().map(|x| x.to_f64()).find(|v| v.is_finite()).unwrap_or(0.0) * scale
        };
        if finite {
            let (o, u) = (&mut *out, unscale);
            // Outliers: the sums watch their own rounding (a slower loop); else they need not.
            // Outliers (see `STRAY`), from a sample's median and spread: no value is farther
            // from the median than the largest magnitude and the median's together, and only
            // when that is not close enough are the distances looked at.
            // A short stretch is simply watched: the watch costs less there than the test.
            let careful = stretch.len() <= WATCH_SHORT || {
                let (centre, typical) = typical(&ArrayView1::from(stretch));
                largest + centre.abs() > STRAY * typical
                    && stretch.iter().any(|x| (x.to_f64() - centre).abs() > STRAY * typical)
            };
            // Values read as they are, or scaled: two loops, so the common one has no multiply.
            macro_rules! f {
                ($value:expr) => {
                    match (careful, scale == 1.0) {
                        (false, true) => self.finite_sums::<T, false>(
                            xs,
                            start,
                            o,
                            shift,
                            |x: T| x.to_f64(),
                            &$value,
                        ),
                        (false, false) => self.finite_sums::<T, false>(
                            xs,
                            start,
                            o,
                            shift,
                            |x: T| x.to_f64() * scale,
                            &$value,
                        ),
                        (true, _) => self.finite_sums::<T, true>(
                            xs,
                            start,
                            o,
                            shift,
                            |x: T| x.to_f64() * scale,
                            &$value,
                        ),
                    }
                };
            }
            match self.op {
                MoveOp::Sum => f!(|sh, n, s1, _| (sh * n + s1) * u),
                MoveOp::Mean => f!(|sh, n, s1, _| (sh + s1 / n) * u),
                MoveOp::Var(d) => f!(|_, n, s1, s2| variance(n, s1, s2, d) * u * u),
                MoveOp::Std(d) => f!(|_, n, s1, s2| variance(n, s1, s2, d).sqrt() * u),
                _ => unreachable!("only sums here"),
            }
            return;
        }
        let mut s = Sums { shift, scale, ..Sums::default() };
        for &x in &xs[lo..start] {
            s.add(x.to_f64());
        }
        for (i, o) in (start..).zip(out.iter_mut()) {
            s.add(xs[i].to_f64());
            if i >= w {
                s.remove(xs[i - w].to_f64());
            }
            if s.stale() {
                // As in `finite_sums`: again from the window, shifted by a finite value of it.
                let window = &xs[(i + 1).saturating_sub(w)..=i];
                let first = window.iter().map(|x| x.to_f64()).find(|v| v.is_finite());
                s = Sums { shift: first.unwrap_or(0.0) * scale, scale, ..Sums::default() };
                for x in window {
                    s.add(x.to_f64());
                }
            }
            let v = if s.count < self.min_count {
                f64::NAN
            } else {
                match self.op {
                    MoveOp::Sum => s.sum(),
                    MoveOp::Mean => s.mean(),
                    MoveOp::Var(ddof) => s.var(ddof),
                    MoveOp::Std(ddof) => s.var(ddof).sqrt(),
                    _ => unreachable!("only sums here"),
                }
            };
            *o = T::float_from_f64(v);
        }
    }

    /// Output rows `start..` (as many as `out` holds) of a table whose columns are the lanes:
    /// the same values, bit for bit, as each column reduced alone.
    fn table_segment<T: Element>(
        self,
        t: &ArrayView2<'_, T>,
        start: usize,
        out: &mut ArrayViewMut2<'_, T::Float>,
    ) -> Result<()> {
        let sums = matches!(self.op, MoveOp::Sum | MoveOp::Mean | MoveOp::Var(_) | MoveOp::Std(_));
        if sums && table_sums_of(self, t, start, out)? {
            return Ok(());
        }
        self.table_columns(t, start, out)
    }

    /// The window sums of a table's columns all at once, when [`Job::columns_kind`] lets them
    /// run together (`false` when it does not, with nothing written). The same operations in
    /// the same order on every instruction set (no contraction into FMA), so the same bits.
    #[inline(always)]
    fn table_sums_body<T: Element, const LEVEL: u8>(
        self,
        t: &ArrayView2<'_, T>,
        start: usize,
        out: &mut ArrayViewMut2<'_, T::Float>,
    ) -> Result<bool> {
        let w = self.window;
        let lo = start.saturating_sub(w);
        let part = t.slice(s![lo..start + out.nrows(), ..]);
        let Some(careful) = Self::columns_kind(&part)? else {
            return Ok(false);
        };
        let first = t.row(start.saturating_sub(w - 1));
        let shift: Vec<f64> = mem::collect(t.ncols(), first.iter().map(|x| x.to_f64()))?;
        let (first, o, sh) = (start - lo, &mut *out, &shift);
        macro_rules! f {
            ($value:expr) => {
                if careful {
                    self.table_sums::<T, true>(&part, first, o, sh, $value)
                } else {
                    self.table_sums::<T, false>(&part, first, o, sh, $value)
                }
            };
        }
        match self.op {
            MoveOp::Sum => f!(|c, n, s1, _| c * n + s1),
            MoveOp::Mean => f!(|c, n, s1, _| c + s1 / n),
            MoveOp::Var(d) => f!(|_, n, s1, s2| variance(n, s1, s2, d)),
            MoveOp::Std(d) => f!(|_, n, s1, s2| variance(n, s1, s2, d).sqrt()),
            _ => unreachable!("only sums here"),
        }?;
        Ok(true)
    }

    /// [`Job::table_segment`] column by column, each from a copy of its part of the table: for
    /// the statistics other than sums, and for sums over values not all finite or with outliers
    /// (whose sums then watch their rounding).
    fn table_columns<T: Element>(
        self,
        t: &ArrayView2<'_, T>,
        start: usize,
        out: &mut ArrayViewMut2<'_, T::Float>,
    ) -> Result<()> {
        let rows = out.nrows();
        let lo = start.saturating_sub(self.window);
        let part = t.slice(s![lo..start + rows, ..]);
        let mut xs = mem::with_capacity(part.nrows())?;
        let mut ys = mem::filled(rows, T::float_from_f64(0.0))?;
        for (col, mut o) in part.columns().into_iter().zip(out.columns_mut()) {
            xs.clear();
            xs.extend(col.iter().copied());
            self.run(&xs, start - lo, &mut ys)?;
            o.iter_mut().zip(&ys).for_each(|(o, &y)| *o = y);
        }
        Ok(())
    }

    /// How the columns of `part` can run together: `Some(false)` when every value is finite,
    /// below [`HUGE`] and no column has outliers (see [`STRAY`]): unwatched sums;
    /// `Some(true)` for short columns, finite and below [`HUGE`]: watched sums, as
    /// [`Job::sums`] watches a short stretch; `None` for column by column. One pass for the
    /// largest magnitude; the distances themselves only when that does not settle it.
    #[inline(always)]
    fn columns_kind<T: Element>(part: &ArrayView2<'_, T>) -> Result<Option<bool>> {
        // Row by row into lanes of running maxima, without branches: it vectorizes.
        let (mut big, mut bad) = ([0.0f64; 8], [0.0f64; 8]);
        for row in part.rows() {
            let row = row.to_slice().expect("the table's rows are contiguous");
            let (chunks, rest) = row.as_chunks::<8>();
            for c in chunks {
                for k in 0..8 {
                    let v = c[k].to_f64().abs();
                    big[k] = if v > big[k] { v } else { big[k] };
                    // Infinite, huge or NaN.
                    bad[k] = if v < HUGE { bad[k] } else { 1.0 };
                }
            }
            for (k, x) in rest.iter().enumerate() {
                let v = x.to_f64().abs();
                big[k] = if v > big[k] { v } else { big[k] };
                bad[k] = if v < HUGE { bad[k] } else { 1.0 };
            }
        }
        let largest = big.iter().fold(0.0f64, |m, &v| if v > m { v } else { m });
        if bad.iter().any(|&b| b != 0.0) {
            return Ok(None);
        }
        // Short columns are watched rather than tested (see `WATCH_SHORT`).
        if part.nrows() <= WATCH_SHORT {
            return Ok(Some(true));
        }
        let m = part.ncols();
        let mut centre = mem::filled(m, 0.0)?;
        let mut typ = mem::filled(m, 0.0)?;
        for (j, c) in part.columns().into_iter().enumerate() {
            (centre[j], typ[j]) = typical(&c);
        }
        if centre.iter().zip(&typ).all(|(&c, &t)| largest + c.abs() <= STRAY * t) {
            return Ok(Some(false));
        }
        let plain = part
            .columns()
            .into_iter()
            .zip(centre.iter().zip(&typ))
            .all(|(col, (&c, &t))| col.iter().all(|x| (x.to_f64() - c).abs() <= STRAY * t));
        Ok(plain.then_some(false))
    }

    /// [`Job::finite_sums`] on every column of `part` at once (rows `first..` are output; the
    /// rows before are the window before them), watched (`CAREFUL`) or not. Per column the
    /// same operations in the same order, so the same bits.
    #[inline(always)]
    fn table_sums<T: Element, const CAREFUL: bool>(
        self,
        part: &ArrayView2<'_, T>,
        first: usize,
        out: &mut ArrayViewMut2<'_, T::Float>,
        shift: &[f64],
        value: impl Fn(f64, f64, f64, f64) -> f64,
    ) -> Result<()> {
        let (w, m) = (self.window, part.ncols());
        let mut shift = mem::collect(m, shift.iter().copied())?;
        let (mut s1, mut s2) = (mem::filled(m, 0.0f64)?, mem::filled(m, 0.0f64)?);
        // The watch's magnitudes (see `finite_sums`), only when watched.
        let k = if CAREFUL { m } else { 0 };
        let (mut a1, mut t1, mut t2) =
            (mem::filled(k, 0.0)?, mem::filled(k, 0.0)?, mem::filled(k, 0.0)?);
        let row = |i: usize| part.row(i).to_slice().expect("the table's rows are contiguous");
        for i in 0..first {
            for (j, &x) in row(i).iter().enumerate() {
                let d = x.to_f64() - shift[j];
                s1[j] += d;
                s2[j] += d * d;
                if CAREFUL {
                    a1[j] += x.to_f64().abs();
                    t1[j] += d.abs();
                }
            }
        }
        for (t, s) in t2.iter_mut().zip(&s2) {
            *t += s;
        }
        // `i` counts from the start of `part`, which is `w` rows before `first` or the series'
        // start; either way a full window from `i >= w` on, as in `finite_sums`. One pass over
        // the columns a row: each column's step, watch and output (slices cut to one length, so
        // no index checks; it vectorizes across columns).
        let (s1, s2, shift) = (&mut s1[..m], &mut s2[..m], &mut shift[..m]);
        let (a1, t1, t2) = (&mut a1[..k], &mut t1[..k], &mut t2[..k]);
        let (mut new_rows, mut old_rows) =
            (part.rows().into_iter().skip(first), part.rows().into_iter());
        for (i, mut o) in (first..part.nrows()).zip(out.rows_mut()) {
            let o = &mut o.as_slice_mut().expect("a strip's rows are contiguous")[..m];
            let new_row = &contiguous(&new_rows.next().expect("a row per output row"))[..m];
            let n = if i >= w { w } else { i + 1 };
            let (nf, short) = (n as f64, n < self.min_count);
            let put = |sh, s1, s2| {
                T::float_from_f64(if short { f64::NAN } else { value(sh, nf, s1, s2) })
            };
            let mut any_stale = false;
            if i >= w {
                let old_row =
                    &contiguous(&old_rows.next().expect("the row leaving the window"))[..m];
                for j in 0..m {
                    let (x_new, x_old) = (new_row[j].to_f64(), old_row[j].to_f64());
                    let (new, old) = (x_new - shift[j], x_old - shift[j]);
                    s1[j] += new - old;
                    s2[j] += (new - old) * (new + old);
                    if CAREFUL {
                        a1[j] += x_new.abs() - x_old.abs();
                        t1[j] += new.abs() + old.abs();
                        t2[j] += new * new + old * old;
                        // Without branches (it vectorizes); rarely true.
                        any_stale |= stale(nf, s1[j], s2[j], a1[j], t1[j], t2[j]);
                    }
                    o[j] = put(shift[j], s1[j], s2[j]);
                }
            } else {
                for j in 0..m {
                    let x_new = new_row[j].to_f64();
                    let new = x_new - shift[j];
                    s1[j] += new;
                    s2[j] += new * new;
                    if CAREFUL {
                        a1[j] += x_new.abs();
                        t1[j] += new.abs();
                        t2[j] += new * new;
                        any_stale |= stale(nf, s1[j], s2[j], a1[j], t1[j], t2[j]);
                    }
                    o[j] = put(shift[j], s1[j], s2[j]);
                }
            }
            if any_stale {
                for j in 0..m {
                    if stale(nf, s1[j], s2[j], a1[j], t1[j], t2[j]) {
                        // Again from the window, shifted by its newest value.
                        shift[j] = new_row[j].to_f64();
                        (s1[j], s2[j], t1[j]) = (0.0, 0.0, 0.0);
                        for r in i + 1 - n..=i {
                            let d = row(r)[j].to_f64() - shift[j];
                            s1[j] += d;
                            s2[j] += d * d;
                            t1[j] += d.abs();
                        }
                        t2[j] = s2[j];
                        o[j] = put(shift[j], s1[j], s2[j]);
                    }
                }
            }
        }
        Ok(())
    }

    /// [`Job::sums`] for a stretch without NaN or infinity: every window past the first `window`
    /// outputs is full, and each step adds the difference of the new and the old value (one
    /// addition in each chain of dependent additions, the loop's speed limit).
    ///
    /// The sums' rounding grows with the magnitudes that have passed through them: an outlier
    /// that has left the window (or that the sums are shifted by) leaves its rounding behind
    /// (bottleneck's sums keep it: a mean of 1 and 13 after `i64::MIN` comes out as 0). Beside
    /// the sums run the magnitudes added since the start (`t1`, `t2`) and those of the window
    /// (`a1`, the sum of its values' magnitudes, and its spread); when the first outgrow the
    /// second by [`RESTART`] (see [`stale`]), the sums start again from the window, shifted by
    /// its newest value. Ordinary data never gets near that in a segment.
    ///
    /// The watch costs as much as the sums, so it is kept (`CAREFUL`) for stretches with values
    /// far from the rest ([`STRAY`]); without them, the rounding stays within `2⁻³⁰` of the
    /// stretch's typical distance from its first value.
    #[inline]
    fn finite_sums<T: Element, const CAREFUL: bool>(
        self,
        xs: &[T],
        start: usize,
        out: &mut [T::Float],
        shift: f64,
        read: impl Fn(T) -> f64,
        value: &impl Fn(f64, f64, f64, f64) -> f64,
    ) {
        let w = self.window;
        let mut shift = shift;
        let (mut s1, mut s2, mut a1, mut t1, mut t2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for &x in &xs[start.saturating_sub(w)..start] {
            let d = read(x) - shift;
            s1 += d;
            s2 += d * d;
            a1 += read(x).abs();
            t1 += d.abs();
        }
        t2 += s2;
        // The first `window` outputs of the lane: windows still filling.
        let filling = w.saturating_sub(start).min(out.len());
        let (early, full) = out.split_at_mut(filling);
        for (i, o) in (start..).zip(early.iter_mut()) {
            let (x_new, new) = (read(xs[i]), read(xs[i]) - shift);
            s1 += new;
            s2 += new * new;
            let n = i + 1;
            if CAREFUL {
                a1 += x_new.abs();
                t1 += new.abs();
                t2 += new * new;
                if stale(n as f64, s1, s2, a1, t1, t2) {
                    shift = x_new;
                    (s1, s2, t1) = (0.0, 0.0, 0.0);
                    for &x in &xs[..=i] {
                        let d = read(x) - shift;
                        s1 += d;
                        s2 += d * d;
                        t1 += d.abs();
                    }
                    t2 = s2;
                }
            }
            let v = if n < self.min_count { f64::NAN } else { value(shift, n as f64, s1, s2) };
            *o = T::float_from_f64(v);
        }
        // Full windows (`min_count <= window`, so every one has a value): the new and the old
        // value read side by side, no index checked, nothing but the sums carried.
        if full.is_empty() {
            return;
        }
        let first = start + filling;
        let n = w as f64;
        let news = &xs[first..first + full.len()];
        let olds = &xs[first - w..first - w + full.len()];
        for (k, ((o, &xn), &xo)) in full.iter_mut().zip(news).zip(olds).enumerate() {
            let (x_new, new) = (read(xn), read(xn) - shift);
            let (x_old, old) = (read(xo), read(xo) - shift);
            s1 += new - old;
            s2 += (new - old) * (new + old);
            if CAREFUL {
                a1 += x_new.abs() - x_old.abs();
                t1 += new.abs() + old.abs();
                t2 += new * new + old * old;
                if stale(n, s1, s2, a1, t1, t2) {
                    let i = first + k;
                    shift = x_new;
                    (s1, s2, t1) = (0.0, 0.0, 0.0);
                    for &x in &xs[i + 1 - w..=i] {
                        let d = read(x) - shift;
                        s1 += d;
                        s2 += d * d;
                        t1 += d.abs();
                    }
                    t2 = s2;
                }
            }
            *o = T::float_from_f64(value(shift, n, s1, s2));
        }
    }

    /// Minimum, maximum or their positions. The best value is kept until it leaves the window,
    /// and only then is the window scanned again: on most data the best lives long and this
    /// costs a comparison per step. Data that makes the scans too frequent (a steady trend)
    /// hand the rest of the segment to the monotone deque, linear whatever the data.
    fn extremes<T: Element>(
        self,
        xs: &[T],
        start: usize,
        out: &mut [T::Float],
        max: bool,
    ) -> Result<()> {
        let w = self.window;
        // `x` replaces a best it beats or ties (the newest wins ties, as in bottleneck).
        let beats = |x: T, y: T| if max { !x.less(y) } else { !y.less(x) };
        // The newest best of `xs[from..to]`: its value in one pass (branch-free, so it
        // vectorizes), then its last position in a second.
        let scan = |from: usize, to: usize| {
            let s = &xs[from..to];
            let first = s.iter().position(|x| !x.is_nan())?;
            let m = if max {
                s[first..].iter().fold(s[first], |m, &x| if m.less(x) { x } else { m })
            } else {
                s[first..].iter().fold(s[first], |m, &x| if x.less(m) { x } else { m })
            };
            s.iter().rposition(|&x| !x.is_nan() && !x.less(m) && !m.less(x)).map(|p| from + p)
        };
        let lo = start.saturating_sub(w);
        let mut best = scan(lo, start);
        let mut count = xs[lo..start].iter().filter(|x| !x.is_nan()).count();
        let mut scanned = 0usize;
        for (k, i) in (start..start + out.len()).enumerate() {
            if scanned > 4 * k + 2 * w {
                return self.deque_extremes(xs, i, &mut out[k..], max);
            }
            let x = xs[i];
            if !x.is_nan() {
                count += 1;
                if best.is_none_or(|b| beats(x, xs[b])) {
                    best = Some(i);
                }
            }
            if i >= w {
                let old = i - w;
                if !xs[old].is_nan() {
                    count -= 1;
                }
                if best == Some(old) {
                    best = scan(old + 1, i + 1);
                    scanned += w;
                }
            }
            out[k] = T::float_from_f64(self.extreme_value(xs, i, best, count));
        }
        Ok(())
    }

    /// What the output at `i` is, given the index of the window's best value.
    fn extreme_value<T: Element>(
        self,
        xs: &[T],
        i: usize,
        best: Option<usize>,
        count: usize,
    ) -> f64 {
        match best {
            Some(f) if count >= self.min_count => match self.op {
                MoveOp::ArgMin | MoveOp::ArgMax => (i - f) as f64,
                _ => xs[f].to_f64(),
            },
            _ => f64::NAN,
        }
    }

    /// [`Job::extremes`] from a monotone deque of indices.
    fn deque_extremes<T: Element>(
        self,
        xs: &[T],
        start: usize,
        out: &mut [T::Float],
        max: bool,
    ) -> Result<()> {
        let w = self.window;
        let beats = |x: T, y: T| if max { !x.less(y) } else { !y.less(x) };
        let mut deque: VecDeque<usize> = VecDeque::new();
        deque
            .try_reserve(w.min(out.len() + w))
            .map_err(|_| Error::Memory { count: w, itemsize: size_of::<usize>() })?;
        let mut count = 0usize;
        let push = |deque: &mut VecDeque<usize>, count: &mut usize, i: usize| {
            let x = xs[i];
            if x.is_nan() {
                return;
            }
            *count += 1;
            while deque.back().is_some_and(|&b| beats(x, xs[b])) {
                deque.pop_back();
            }
            deque.push_back(i);
        };
        for i in start.saturating_sub(w)..start {
            push(&mut deque, &mut count, i);
        }
        for (i, o) in (start..).zip(out.iter_mut()) {
            push(&mut deque, &mut count, i);
            if i >= w {
                let old = i - w;
                if !xs[old].is_nan() {
                    count -= 1;
                }
                if deque.front() == Some(&old) {
                    deque.pop_front();
                }
            }
            *o = T::float_from_f64(self.extreme_value(xs, i, deque.front().copied(), count));
        }
        Ok(())
    }
}

crate::simd::multilevel! {
    /// [`Job::table_sums_body`] compiled for the chosen level.
    fn table_sums_of<T>(job: Job, t: &ArrayView2<'_, T>, start: usize, out: &mut ArrayViewMut2<'_, T::Float>) -> Result<bool> = table_sums_level;
}

/// [`Job::table_sums_body`] as `multilevel!` calls it.
#[inline(always)]
fn table_sums_level<T: Element, const LEVEL: u8>(
    job: Job,
    t: &ArrayView2<'_, T>,
    start: usize,
    out: &mut ArrayViewMut2<'_, T::Float>,
) -> Result<bool> {
    job.table_sums_body::<T, LEVEL>(t, start, out)
}

/// Counts per slot with prefix sums and order statistics in O(log n) (a binary indexed tree).
struct Fenwick {
    /// 1-based partial sums.
    t: Vec<u32>,
    /// Counts in all.
    count: usize,
}

impl Fenwick {
    fn new(n: usize) -> Result<Self> {
        Ok(Fenwick { t: mem::filled(n + 1, 0)?, count: 0 })
    }

    /// Adds (or removes) one count at slot `k`.
    fn add(&mut self, k: usize, add: bool) {
        if add {
            self.count += 1;
        } else {
            self.count -= 1;
        }
        let mut i = k + 1;
        while i < self.t.len() {
            self.t[i] = if add { self.t[i] + 1 } else { self.t[i] - 1 };
            i += i & i.wrapping_neg();
        }
    }

    /// Counts in slots `0..k`.
    fn prefix(&self, k: usize) -> u32 {
        let (mut i, mut s) = (k, 0);
        while i > 0 {
            s += self.t[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// The slot holding the `k`-th count (1-based).
    fn kth(&self, mut k: usize) -> usize {
        let n = self.t.len() - 1;
        let (mut pos, mut step) = (0, n.next_power_of_two());
        while step > 0 {
            if pos + step <= n && (self.t[pos + step] as usize) < k {
                pos += step;
                k -= self.t[pos] as usize;
            }
            step /= 2;
        }
        pos
    }
}

/// Running sums of the finite values of a window, scaled by `scale` (a power of two) and
/// shifted by `shift`, and counts of the rest.
#[derive(Default)]
struct Sums {
    shift: f64,
    scale: f64,
    /// Values that are not NaN.
    count: usize,
    s1: f64,
    s2: f64,
    /// Sum of the magnitudes of the window's shifted values.
    a1: f64,
    /// Magnitudes (and squares) that passed through `s1` (`s2`) since the start.
    t1: f64,
    t2: f64,
    pos_inf: usize,
    neg_inf: usize,
}

impl Sums {
    #[inline]
    fn add(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.count += 1;
        if v.is_finite() {
            let d = v * self.scale - self.shift;
            self.s1 += d;
            self.s2 += d * d;
            self.a1 += (v * self.scale).abs();
            self.t1 += d.abs();
            self.t2 += d * d;
        } else if v > 0.0 {
            self.pos_inf += 1;
        } else {
            self.neg_inf += 1;
        }
    }

    #[inline]
    fn remove(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.count -= 1;
        if v.is_finite() {
            let d = v * self.scale - self.shift;
            self.s1 -= d;
            self.s2 -= d * d;
            self.a1 -= (v * self.scale).abs();
            self.t1 += d.abs();
            self.t2 += d * d;
        } else if v > 0.0 {
            self.pos_inf -= 1;
        } else {
            self.neg_inf -= 1;
        }
    }

    /// Whether the sums' rounding may have outgrown the window's values (see [`stale`]).
    fn stale(&self) -> bool {
        stale(self.finite() as f64, self.s1, self.s2, self.a1, self.t1, self.t2)
    }

    fn finite(&self) -> usize {
        self.count - self.pos_inf - self.neg_inf
    }

    fn infinite(&self) -> Option<f64> {
        match (self.pos_inf > 0, self.neg_inf > 0) {
            (true, true) => Some(f64::NAN),
            (true, false) => Some(f64::INFINITY),
            (false, true) => Some(f64::NEG_INFINITY),
            (false, false) => None,
        }
    }

    fn sum(&self) -> f64 {
        self.infinite()
            .unwrap_or_else(|| (self.shift * self.finite() as f64 + self.s1) / self.scale)
    }

    fn mean(&self) -> f64 {
        self.infinite().unwrap_or_else(|| (self.shift + self.s1 / self.count as f64) / self.scale)
    }

    fn var(&self, ddof: f64) -> f64 {
        if self.infinite().is_some() {
            return f64::NAN;
        }
        variance(self.count as f64, self.s1, self.s2, ddof) / self.scale / self.scale
    }
}

/// How far the magnitudes that passed through running sums may outgrow the window's own
/// before the sums start again (their rounding is then at most about 2⁻²⁶ of the window's).
const RESTART: f64 = 67_108_864.0; // 2^26

/// How far (against their typical distance from it) values may stray from the value running
/// sums are shifted by before the sums watch their own rounding: `2¹⁶`, so that without the
/// watch, over a segment of up to `2¹⁶` steps, the rounding stays near `2⁻²¹` of the typical
/// distance.
const STRAY: f64 = 65_536.0;

/// Stretches of up to this many values have their sums watched without the test for
/// outliers ([`typical`]), which on so few values costs more than the watch.
const WATCH_SHORT: usize = 256;

/// A typical value of `xs` and a typical distance from it: the median of 33 values spread
/// over it (all of them, when fewer), and their median distance from that.
fn typical<T: Element>(xs: &ArrayView1<'_, T>) -> (f64, f64) {
    let (n, count) = (xs.len(), xs.len().min(33));
    if count == 0 {
        return (0.0, 0.0);
    }
    let at = |k: usize| if count > 1 { k * (n - 1) / (count - 1) } else { 0 };
    let mut v = [0.0f64; 33];
    for (k, slot) in v[..count].iter_mut().enumerate() {
        *slot = xs[at(k)].to_f64();
    }
    let v = &mut v[..count];
    let mid = count / 2;
    let centre = *v.select_nth_unstable_by(mid, f64::total_cmp).1;
    for x in v.iter_mut() {
        *x = (*x - centre).abs();
    }
    (centre, *v.select_nth_unstable_by(mid, f64::total_cmp).1)
}

/// Whether every value of `xs` is finite, and the largest finite magnitude: from the extremes,
/// found by the hand-written loops of `simd` (a fold of one running maximum took 40% of a
/// `move_sum` of 10⁶ `float64`); a second pass only when some value is not finite.
#[inline]
fn magnitudes<T: Element>(xs: &[T]) -> (bool, f64) {
    if xs.is_empty() {
        return (true, 0.0);
    }
    let (lo, hi, nan) = crate::simd::min_max(xs);
    let (lo, hi) = (lo.to_f64(), hi.to_f64());
    if !nan && lo.is_finite() && hi.is_finite() {
        return (true, lo.abs().max(hi.abs()));
    }
    let finite = xs.iter().map(|x| x.to_f64().abs()).filter(|v| *v <= f64::MAX);
    (false, finite.fold(0.0, f64::max))
}

/// Whether running sums of `n` shifted values (`s1`, `s2`) may have lost the window's digits:
/// the magnitudes that passed through them (`t1`, `t2`) outgrow by [`RESTART`] the window's
/// values (`a1`, the sum of their magnitudes) or its spread (`n s2 - s1²`, over `n`).
#[inline]
fn stale(n: f64, s1: f64, s2: f64, a1: f64, t1: f64, t2: f64) -> bool {
    // Without branches: it runs every step (and vectorizes across columns).
    #[allow(clippy::needless_bitwise_bool)]
    let stale = (t1 > RESTART * a1) | (t2 * n > RESTART * (s2 * n - s1 * s1));
    stale
}

/// Magnitudes from which the running sums scale values down first: `window · (2·HUGE)²` stays
/// far below `f64::MAX` for any window that fits in memory.
const HUGE: f64 = 3.1e144; // about 2^480

/// The variance of `n` values from their shifted sum and sum of squares: never negative, NaN
/// where the sums are (never a finite number from sums that overflowed), infinite or NaN for
/// `n - ddof <= 0` as NumPy's, NaN for a NaN `ddof`.
#[inline]
fn variance(n: f64, s1: f64, s2: f64, ddof: f64) -> f64 {
    // One value has no spread: exactly, not the rounding left in the running sums.
    let m2 = if n == 1.0 { 0.0 } else { s2 - s1 * s1 / n };
    let dof = n - ddof;
    // Comparisons keep NaN where `max` would turn it into zero.
    (if m2 < 0.0 { 0.0 } else { m2 }) / (if dof < 0.0 { 0.0 } else { dof })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    /// The statistic of each window computed directly.
    fn direct(xs: &[f64], op: MoveOp, w: usize, min_count: usize) -> Vec<f64> {
        (0..xs.len())
            .map(|i| {
                let win = &xs[(i + 1).saturating_sub(w)..=i];
                let vals: Vec<(usize, f64)> =
                    win.iter().copied().enumerate().filter(|(_, v)| !v.is_nan()).collect();
                if vals.len() < min_count {
                    return f64::NAN;
                }
                let n = vals.len() as f64;
                let mean = vals.iter().map(|p| p.1).sum::<f64>() / n;
                let m2 = vals.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>();
                let pick = |max: bool| {
                    // Newest wins ties.
                    let mut best = vals[0];
                    for &p in &vals[1..] {
                        if (max && p.1 >= best.1) || (!max && p.1 <= best.1) {
                            best = p;
                        }
                    }
                    best
                };
                match op {
                    MoveOp::Sum => vals.iter().map(|p| p.1).sum(),
                    MoveOp::Mean => mean,
                    MoveOp::Var(d) => m2 / (n - d),
                    MoveOp::Std(d) => (m2 / (n - d)).sqrt(),
                    MoveOp::Min => pick(false).1,
                    MoveOp::Max => pick(true).1,
                    MoveOp::ArgMin => (win.len() - 1 - pick(false).0) as f64,
                    MoveOp::ArgMax => (win.len() - 1 - pick(true).0) as f64,
                    MoveOp::Median => {
                        let mut v: Vec<f64> = vals.iter().map(|p| p.1).collect();
                        v.sort_by(f64::total_cmp);
                        let c = v.len();
                        if c % 2 == 1 { v[c / 2] } else { f64::midpoint(v[c / 2 - 1], v[c / 2]) }
                    }
                    MoveOp::Rank => {
                        let x = xs[i];
                        if x.is_nan() {
                            return f64::NAN;
                        }
                        if vals.len() == 1 {
                            return 0.0;
                        }
                        let below = vals.iter().filter(|p| p.1 < x).count() as f64;
                        let equal = vals.iter().filter(|p| p.1 == x).count() as f64;
                        2.0 * (below + (equal - 1.0) / 2.0) / (n - 1.0) - 1.0
                    }
                }
            })
            .collect()
    }

    #[test]
    fn an_outlier_leaves_no_rounding_behind() {
        // i64::MIN, then small values: the sums start again once it has left the window.
        let xs: Vec<i64> = vec![i64::MIN, 1, 13, -12, -23, 7, 7];
        let a = ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs).unwrap();
        let w = Window { window: 2, min_count: None, axis: 0 };
        let m = moving(&a.view(), MoveOp::Mean, &w, &crate::cancel::NEVER).unwrap();
        assert_eq!(m.as_slice().unwrap()[2..], [7.0, 0.5, -17.5, -8.0, 7.0]);
        let v = moving(&a.view(), MoveOp::Var(0.0), &w, &crate::cancel::NEVER).unwrap();
        assert_eq!(v.as_slice().unwrap()[2..], [36.0, 156.25, 30.25, 225.0, 0.0]);
        // The same down the columns of a table, and with a NaN (the other paths).
        let t = ArrayD::from_shape_fn(IxDyn(&[7, 3]), |i| a[[i[0]]] as f64 + i[1] as f64);
        let m = moving(&t.view(), MoveOp::Mean, &w, &crate::cancel::NEVER).unwrap();
        assert_eq!(m[[2, 0]], 7.0);
        let mut n = t.clone();
        n[[5, 2]] = f64::NAN;
        let w1 = Window { window: 2, min_count: Some(1), axis: 0 };
        let m = moving(&n.view(), MoveOp::Mean, &w1, &crate::cancel::NEVER).unwrap();
        assert_eq!((m[[2, 2]], m[[6, 2]]), (9.0, 9.0));
    }

    #[test]
    fn every_statistic_matches_the_direct_computation_across_segments() {
        let n = 2 * SEGMENT + 77;
        let xs: Vec<f64> = (0..n)
            .map(|i| if i % 13 == 5 { f64::NAN } else { ((i * 7919) % 101) as f64 - 50.0 })
            .collect();
        let a = ArrayD::from_shape_vec(IxDyn(&[n]), xs.clone()).unwrap();
        for op in [
            MoveOp::Sum,
            MoveOp::Mean,
            MoveOp::Var(0.0),
            MoveOp::Std(1.0),
            MoveOp::Min,
            MoveOp::Max,
            MoveOp::ArgMin,
            MoveOp::ArgMax,
            MoveOp::Median,
            MoveOp::Rank,
        ] {
            for (w, mc) in [(1, 1), (5, 3), (40, 40)] {
                let win = Window { window: w as i64, min_count: Some(mc as i64), axis: 0 };
                let got = moving(&a.view(), op, &win, &crate::cancel::NEVER).unwrap();
                let want = direct(&xs, op, w, mc);
                for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                    let ok = (g.is_nan() && e.is_nan()) || (g - e).abs() <= 1e-9 * (1.0 + e.abs());
                    assert!(ok, "{op:?} window {w} at {i}: {g} against {e}");
                }
            }
        }
    }

    #[test]
    fn medians_and_ranks_of_long_windows_match_the_direct_computation() {
        // Past `SORTED_UP_TO` the Fenwick tree takes over; ties, NaN and both zeros included.
        let n = 3000;
        let xs: Vec<f64> = (0..n)
            .map(|i| match i % 17 {
                3 => f64::NAN,
                5 => -0.0,
                6 => 0.0,
                _ => ((i * 37) % 23) as f64 - 11.0,
            })
            .collect();
        let a = ArrayD::from_shape_vec(IxDyn(&[n]), xs.clone()).unwrap();
        for op in [MoveOp::Median, MoveOp::Rank] {
            for (w, mc) in [(SORTED_UP_TO + 88, 300), (SORTED_UP_TO, 1)] {
                let win = Window { window: w as i64, min_count: Some(mc as i64), axis: 0 };
                let got = moving(&a.view(), op, &win, &crate::cancel::NEVER).unwrap();
                let want = direct(&xs, op, w, mc);
                for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                    let ok = (g.is_nan() && e.is_nan()) || g == e;
                    assert!(ok, "{op:?} window {w} at {i}: {g} against {e}");
                }
            }
        }
    }

    #[test]
    fn extremes_of_a_trend_match_the_direct_computation() {
        // A rising series makes the minimum leave every window at once (the deque takes over
        // from rescanning); the maximum is the newest value each time.
        let n = SEGMENT + 500;
        let xs: Vec<f64> = (0..n)
            .map(|i| if i % 97 == 1 { f64::NAN } else { i as f64 * 0.5 + ((i * 31) % 7) as f64 })
            .collect();
        let a = ArrayD::from_shape_vec(IxDyn(&[n]), xs.clone()).unwrap();
        for op in [MoveOp::Min, MoveOp::Max, MoveOp::ArgMin, MoveOp::ArgMax] {
            let win = Window { window: 40, min_count: Some(30), axis: 0 };
            let got = moving(&a.view(), op, &win, &crate::cancel::NEVER).unwrap();
            let want = direct(&xs, op, 40, 30);
            for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                assert!(g.to_bits() == e.to_bits(), "{op:?} at {i}: {g} against {e}");
            }
        }
    }

    #[test]
    fn infinities_leave_later_windows_alone() {
        let xs = [1.0, f64::INFINITY, 2.0, 3.0, f64::NEG_INFINITY, 4.0, 5.0];
        let a = ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.to_vec()).unwrap();
        let w = Window { window: 2, min_count: None, axis: 0 };
        let s = moving(&a.view(), MoveOp::Sum, &w, &crate::cancel::NEVER).unwrap();
        let s = s.into_raw_vec_and_offset().0;
        assert!(s[0].is_nan());
        assert_eq!(
            &s[1..],
            &[f64::INFINITY, f64::INFINITY, 5.0, f64::NEG_INFINITY, f64::NEG_INFINITY, 9.0]
        );
    }

    #[test]
    fn bad_windows_are_refused() {
        let a = ArrayD::<f64>::zeros(IxDyn(&[4]));
        for (window, min_count) in
            [(0, None), (-1, None), (5, None), (3, Some(0)), (3, Some(-2)), (3, Some(4))]
        {
            let w = Window { window, min_count, axis: 0 };
            assert!(moving(&a.view(), MoveOp::Sum, &w, &crate::cancel::NEVER).is_err());
        }
    }
}
