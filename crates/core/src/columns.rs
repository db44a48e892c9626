//! Block kernels over many lanes at once, read row by row: for lanes that are neighbouring
//! columns in memory (axis 0 of a C-ordered table, the outer axes of a C-ordered cube, axis 1
//! of a Fortran table), where reading one lane at a time would gather a strided element per
//! load.
//!
//! Each kernel takes up to [`WIDTH`] columns ([`SUM_WIDTH`] for float sums, [`row_group`] for
//! kernels that fold rows whole) of up to a block of rows, every row contiguous,
//! and gives each column the state the lane kernel would give it, in the same order of
//! operations: the sums below are [`crate::simd`]'s pairwise sums column by column (element
//! `i` of each leaf into accumulator `i % LANES`, the accumulators in their fixed tree, leaves
//! merged neighbours first), so a column reduced here has the same bits as the same values in
//! a contiguous lane. Extremes and their positions have one answer in any order; only the sign
//! of a zero extreme (`min` of `0.0` and `-0.0`) may be the other of the two here: the first
//! of equal values in row order is kept.

// Only through `multilevel!`: each compiled copy is called on a CPU that has its features.
#![allow(unsafe_code)]
// The kernels are compiled into each level's copy ([`crate::simd`]'s rule).
#![allow(clippy::inline_always)]

use ndarray::ArrayView2;

use crate::dtype::Element;
use crate::engine::BLOCK;
use crate::simd::{LANES, LEAF, Level};

/// Columns taken together: their accumulators stay in L1.
pub(crate) const WIDTH: usize = 64;
/// Columns of float sums taken together ([`sums`] accepts this many): row by row, each row's
/// part one long contiguous read into eight rows of accumulators (64 KiB, in L2), as NumPy
/// adds rows. Against 64 columns (strips of four down each leaf, in registers): `sum` of
/// (1000, 1000) `float64` axis 0 0.38-0.61× NumPy -> 0.95-1.2×, (32, 10⁵) 0.47-0.53× ->
/// 1.15×, `float32` (10⁵, 32) Fortran axis 1 0.19-0.24× -> 0.54× (the adds are `f64`); 256
/// columns read 2 KiB of a row at a time, which the hardware followed worse. (Leaves of a
/// few rows still go down the strips in registers, the group's whole width: [`REGISTER_ROWS`].)
pub(crate) const SUM_WIDTH: usize = 1024;
/// Integer sums and all extremes take this many bytes of each row together: each row's part is
/// folded whole into the results, a long contiguous read (integer sums in any order, extremes
/// in each column's order; in strips of [`STRIP`] down the rows they missed in cache: 2.3 ms
/// for (32, 10⁵) `int64` axis 0 against NumPy's 1.0, `max` of (300, 30000) `float64` 10.7
/// ms against 5.4). Measured against 4 and 64 KiB: `sum` of (1000, 1000) `int64` axis 0
/// 0.89× NumPy at 4 KiB, 1.8× at 16; `min` 0.63× and 0.85×; at 64 KiB `max` of (3000, 3000)
/// `float64` 0.86×, 1.2× at 16. At 8 KiB the running extremes and the buffer they are folded
/// into (two rows of the group) stay in L1 beside the rows read: `max` of (100, 100, 100)
/// axis 0 `float64` 0.62-0.73× -> 0.82×, `int64` 0.65-0.75× -> 1.06×, (32, 10⁵) `float32`
/// 0.51-0.74× -> 0.93×, the rest within noise.
const ROW_GROUP_BYTES: usize = 8 << 10;
/// The most columns [`row_group`] gives (narrow integers take fewer bytes a row; the
/// kernels' buffers are this long, on the stack).
pub(crate) const ROW_GROUP: usize = 4096;

/// Columns of `T` taken together by the kernels that fold rows whole.
pub(crate) const fn row_group<T>() -> usize {
    let n = ROW_GROUP_BYTES / size_of::<T>();
    if n < ROW_GROUP { n } else { ROW_GROUP }
}

/// The contiguous row `r` of `rows`.
#[inline(always)]
fn row<'a, T>(rows: &ArrayView2<'a, T>, r: usize) -> &'a [T] {
    (*rows)
        .index_axis_move(ndarray::Axis(0), r)
        .to_slice()
        .expect("the rows of a column block are contiguous")
}

/// Pairwise sums, column by column, of each value (`mean` `None`) or of its squared deviation
/// from its column's mean; NaN counts as zero with `skipna`. Equal, bit for bit, to
/// `simd::pairwise` of each column. `then` is shown the rows of each leaf once they are
/// summed, while they are in L1.
#[inline(always)]
fn pairwise_body<T: Element, const L: u8>(
    rows: &ArrayView2<'_, T>,
    mean: Option<&[f64]>,
    skipna: bool,
    out: &mut [f64],
    then: &mut dyn FnMut(std::ops::Range<usize>),
) {
    let (n, w) = rows.dim();
    assert!(w <= SUM_WIDTH && n <= BLOCK && out.len() >= w);
    let leaves = n.div_ceil(LEAF);
    // Rows of accumulators a line longer than the columns, so that they do not alias; on the
    // stack for narrow tables, on the heap (at most 72 KiB) for wide ones.
    let stride = w + 8;
    let mut small = [0.0f64; LANES * (WIDTH + 8)];
    let mut large;
    let acc: &mut [f64] = if leaves == 1 && in_registers::<T, L>(mean, skipna, w, n) {
        // No accumulators in memory to clear.
        &mut []
    } else if w <= WIDTH {
        &mut small[..LANES * stride]
    } else {
        #[allow(clippy::disallowed_macros)] // bounded by SUM_WIDTH, not by the input
        let buf = vec![0.0f64; LANES * stride];
        large = buf;
        &mut large
    };
    if leaves == 1 {
        // Short lanes: one leaf, no tree of leaves (and no room for one to clear).
        leaf::<T, L>(rows, 0..n, mean, skipna, acc, stride, out);
        then(0..n);
        return;
    }
    // The sum of each leaf, a row of `w` each (at most 128 KiB).
    #[allow(clippy::disallowed_macros)] // bounded by SUM_WIDTH and BLOCK, not by the input
    let mut sums = vec![0.0f64; leaves * w];
    for (l, sum) in sums.chunks_exact_mut(w).enumerate() {
        let rows_of_leaf = l * LEAF..((l + 1) * LEAF).min(n);
        leaf::<T, L>(rows, rows_of_leaf.clone(), mean, skipna, acc, stride, sum);
        then(rows_of_leaf);
    }
    // The leaves' tree, neighbours first, an odd one carried up.
    let mut live = leaves;
    while live > 1 {
        for i in 0..live / 2 {
            for c in 0..w {
                sums[i * w + c] = sums[2 * i * w + c] + sums[(2 * i + 1) * w + c];
            }
        }
        if live % 2 == 1 {
            sums.copy_within((live - 1) * w..live * w, live / 2 * w);
        }
        live = live.div_ceil(2);
    }
    out[..w].copy_from_slice(&sums[..w]);
}

/// Rows of a leaf up to which plain float sums of a wide group are taken in registers (the
/// hand-written strips of four columns), not folded row by row into accumulators in memory:
/// as many rows as that are streams the hardware follows, and the strips spare every
/// accumulator a load and a store. Measured (min of 5 runs of 9, in L3) on groups of 1024
/// columns, folded against in registers: `sum(axis=0)` of `float32` (32, 25000) 0.43× NumPy
/// against 0.62×, (64, 12500) 0.55× against 0.62×, (32, 10⁵) 0.45× against 0.77×; `float64`
/// (32, 25000) 0.77× against 1.10×, (64, 12500) 0.81× against 1.15×; at 96 rows folding
/// is faster (1.02× against 0.90×).
const REGISTER_ROWS: usize = 64;

/// Whether [`leaf`] takes `rows` rows of `w` columns in registers ([`x86::leaf_sums`]):
/// plain sums of `float64` or `float32` on a level with AVX2, of narrow groups or of few rows
/// ([`REGISTER_ROWS`]).
#[inline(always)]
fn in_registers<T: Element, const L: u8>(
    mean: Option<&[f64]>,
    skipna: bool,
    w: usize,
    rows: usize,
) -> bool {
    cfg!(target_arch = "x86_64")
        && L >= Level::Avx2 as u8
        && mean.is_none()
        && !skipna
        && (w <= WIDTH || rows <= REGISTER_ROWS)
        && matches!(T::native(&[]), crate::dtype::Native::F32(_) | crate::dtype::Native::F64(_))
}

/// The sum of each column over the rows `leaf` (one leaf) into `out`: row `r` into
/// accumulator `r % LANES` (counted from the leaf's start), the accumulators in their tree.
#[inline(always)]
fn leaf<T: Element, const L: u8>(
    rows: &ArrayView2<'_, T>,
    leaf: std::ops::Range<usize>,
    mean: Option<&[f64]>,
    skipna: bool,
    acc: &mut [f64],
    stride: usize,
    out: &mut [f64],
) {
    let w = rows.ncols();
    #[cfg(target_arch = "x86_64")]
    if in_registers::<T, L>(mean, skipna, w, leaf.len()) {
        // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
        let done = unsafe { x86::leaf_sums(rows, leaf.clone(), &mut out[..w]) };
        assert!(done, "in_registers takes float64 and float32 only");
        return;
    }
    match (mean, skipna) {
        (None, false) => fold_leaf(rows, leaf, w, acc, stride, |x: T, _| x.to_f64()),
        (None, true) => {
            fold_leaf(
                rows,
                leaf,
                w,
                acc,
                stride,
                |x: T, _| if x.is_nan() { 0.0 } else { x.to_f64() },
            );
        }
        (Some(m), _) => {
            let m = &m[..w];
            fold_leaf(rows, leaf, w, acc, stride, |x: T, c| {
                let d = x.to_f64() - m[c];
                if skipna && x.is_nan() { 0.0 } else { d * d }
            });
        }
    }
    // The accumulators' tree, neighbours first: ((0+1)+(2+3))+((4+5)+(6+7)).
    for (c, s) in out.iter_mut().enumerate().take(w) {
        let p = |k: usize| acc[k * stride + c];
        *s = ((p(0) + p(1)) + (p(2) + p(3))) + ((p(4) + p(5)) + (p(6) + p(7)));
    }
}

/// Row `i` of `leaf` added into accumulator `i % LANES` as `term(x, column)`, rows in order
/// down each accumulator: every row's part one contiguous read, each accumulator loaded and
/// stored once for four of its rows (for two, min of 3 runs of 9: `sum(axis=0)` of float32
/// (100, 100, 100) 196 µs against 169, (3000, 3000) 2.14 ms against 1.80; float64 (1000,
/// 1000) 177 against 158, `var` 712 against 584).
#[inline(always)]
fn fold_leaf<T: Element>(
    rows: &ArrayView2<'_, T>,
    leaf: std::ops::Range<usize>,
    w: usize,
    acc: &mut [f64],
    stride: usize,
    term: impl Fn(T, usize) -> f64,
) {
    let (first, n) = (leaf.start, leaf.len());
    let x = |i: usize| &row(rows, first + i)[..w];
    // The first row of each accumulator starts it (as added to zero).
    for (k, a) in acc.chunks_exact_mut(stride).enumerate() {
        let a = &mut a[..w];
        if k < n {
            let xs = x(k);
            for c in 0..w {
                a[c] = 0.0 + term(xs[c], c);
            }
        } else {
            a.fill(0.0);
        }
    }
    let mut i = LANES;
    while i < n {
        if i + 4 * LANES <= n {
            for (k, a) in acc.chunks_exact_mut(stride).enumerate() {
                let a = &mut a[..w];
                let (x0, x1) = (x(i + k), x(i + LANES + k));
                let (x2, x3) = (x(i + 2 * LANES + k), x(i + 3 * LANES + k));
                for c in 0..w {
                    let s = (a[c] + term(x0[c], c)) + term(x1[c], c);
                    a[c] = (s + term(x2[c], c)) + term(x3[c], c);
                }
            }
            i += 4 * LANES;
        } else if i + 2 * LANES <= n {
            for (k, a) in acc.chunks_exact_mut(stride).enumerate() {
                let (a, xs, ys) = (&mut a[..w], x(i + k), x(i + LANES + k));
                for c in 0..w {
                    a[c] = (a[c] + term(xs[c], c)) + term(ys[c], c);
                }
            }
            i += 2 * LANES;
        } else {
            for (k, a) in acc.chunks_exact_mut(stride).enumerate().take(n - i) {
                let (a, xs) = (&mut a[..w], x(i + k));
                for c in 0..w {
                    a[c] += term(xs[c], c);
                }
            }
            i += LANES;
        }
    }
}

const _: () = assert!(LANES == 8, "leaf writes the tree of eight accumulators out");

/// Hand-written AVX2 leaves of plain float sums of narrow tables (up to [`WIDTH`] columns, too
/// short a read a row for [`fold_leaf`]) and of few rows ([`REGISTER_ROWS`]): a strip of four
/// columns at a time, its eight accumulators (`LANES`, row `r` of the leaf into `r % 8`) held
/// in eight registers down the leaf's rows, then their tree; the same additions in the same
/// order as [`fold_leaf`].
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256d, __m256i, _mm_loadu_ps, _mm256_add_epi64, _mm256_add_pd, _mm256_blendv_epi8,
        _mm256_cmpgt_epi64, _mm256_cvtps_pd, _mm256_loadu_pd, _mm256_loadu_si256,
        _mm256_set1_epi64x, _mm256_setzero_pd, _mm256_setzero_si256, _mm256_storeu_pd,
        _mm256_storeu_si256,
    };

    use ndarray::ArrayView2;

    use super::{LANES, STRIP, row};
    use crate::dtype::{Element, Native};

    /// [`super::leaf`] of plain sums for `float64` and `float32` rows; `false` (nothing
    /// written) for other types.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn leaf_sums<T: Element>(
        rows: &ArrayView2<'_, T>,
        leaf: std::ops::Range<usize>,
        out: &mut [f64],
    ) -> bool {
        let (w, n) = (out.len(), leaf.len());
        assert!(w <= rows.ncols() && leaf.end <= rows.nrows() && n > 0);
        let stride = rows.strides()[0];
        // Rows `i < n` of the leaf, columns `c..c + 4 <= w`, from the first row's address:
        // inside the view (asserted above; its rows are contiguous, as `row` checks).
        #[allow(clippy::cast_possible_wrap)] // i < n, an ndarray dimension
        let offset = move |i: usize, c: usize| i as isize * stride + c as isize;
        let done = match T::native(row(rows, leaf.start)) {
            Native::F64(first) => {
                let p = first.as_ptr();
                // SAFETY: see `offset`.
                let ahead = |i, c| crate::simd::prefetch(p.wrapping_offset(offset(i, c)));
                strips(n, w, out, 8, ahead, |i, c| unsafe {
                    _mm256_loadu_pd(p.offset(offset(i, c)))
                })
            }
            Native::F32(first) => {
                let p = first.as_ptr();
                // SAFETY: see `offset`.
                let ahead = |i, c| crate::simd::prefetch(p.wrapping_offset(offset(i, c)));
                strips(n, w, out, 16, ahead, |i, c| unsafe {
                    _mm256_cvtps_pd(_mm_loadu_ps(p.offset(offset(i, c))))
                })
            }
            _ => return false,
        };
        // The last few columns one by one, in the same order.
        for (c, o) in out.iter_mut().enumerate().skip(done) {
            let mut acc = [0.0f64; LANES];
            for (i, r) in leaf.clone().enumerate() {
                acc[i % LANES] += row(rows, r)[c].to_f64();
            }
            *o = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
        true
    }

    /// The sums of the columns of `n` rows four at a time into `out`, `load(i, c)` giving
    /// elements `c..c + 4` of row `i` widened; returns the columns done (all but `w % 4`).
    /// `ahead(i, c)` asks for the line of row `i` holding column `c` (`line` columns a line),
    /// two lines ahead of the one being read: the rows are too many streams for the hardware
    /// to follow, and the lines past the last column are the next group's.
    #[inline(always)]
    fn strips(
        n: usize,
        w: usize,
        out: &mut [f64],
        line: usize,
        ahead: impl Fn(usize, usize),
        load: impl Fn(usize, usize) -> __m256d,
    ) -> usize {
        assert!(out.len() >= w);
        let whole = n / LANES * LANES;
        let mut c = 0;
        // SAFETY (every intrinsic below): AVX2 is enabled in every caller.
        while c + 4 <= w {
            if c % line == 0 {
                for i in 0..n {
                    ahead(i, c + 2 * line);
                }
            }
            let mut acc = [unsafe { _mm256_setzero_pd() }; LANES];
            for g in (0..whole).step_by(LANES) {
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = unsafe { _mm256_add_pd(*a, load(g + k, c)) };
                }
            }
            for (k, a) in acc.iter_mut().enumerate().take(n - whole) {
                *a = unsafe { _mm256_add_pd(*a, load(whole + k, c)) };
            }
            let t = |i: usize, j: usize| unsafe { _mm256_add_pd(acc[i], acc[j]) };
            // The accumulators' tree, neighbours first, as `leaf` writes it.
            let (a, b, d, e) = (t(0, 1), t(2, 3), t(4, 5), t(6, 7));
            // SAFETY: `out` holds `w` values (asserted) and `c + 4 <= w`.
            unsafe {
                let sum = _mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(d, e));
                _mm256_storeu_pd(out.as_mut_ptr().add(c), sum);
            }
            c += 4;
        }
        c
    }

    /// [`super::best_of`] of the strip of [`STRIP`] `int64` columns from `c0`: the first
    /// strictly best value of each (`MAX` or min) and its row, found as the select there does
    /// (a compare and a blend per register, the positions alongside); `None` for other types.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn best_i64<T: Element, const MAX: bool, const AT: bool>(
        rows: &ArrayView2<'_, T>,
        c0: usize,
    ) -> Option<([i64; STRIP], [u32; STRIP])> {
        const REGS: usize = STRIP / 4;
        let (n, w) = rows.dim();
        assert!(c0 + STRIP <= w && n > 0 && n <= crate::engine::BLOCK);
        let Native::I64(first) = T::native(row(rows, 0)) else {
            return None;
        };
        let (p, stride) = (first.as_ptr(), rows.strides()[0]);
        // Row `r < n`, columns `c0 + 4k..c0 + 4k + 4` (`k < REGS`): inside the view (asserted
        // above; its rows are contiguous, as `row` checks).
        #[allow(clippy::cast_possible_wrap)] // r < n, c0 < w: ndarray dimensions
        let load = move |r: usize, k: usize| unsafe {
            _mm256_loadu_si256(p.offset(r as isize * stride + (c0 + 4 * k) as isize).cast())
        };
        let mut v: [__m256i; REGS] = std::array::from_fn(|k| load(0, k));
        let mut a = [_mm256_setzero_si256(); REGS];
        let (one, mut here) = (_mm256_set1_epi64x(1), _mm256_setzero_si256());
        for r in 1..n {
            // The next strip's two lines of this row, asked for ahead: the rows are too many
            // streams for the hardware to follow.
            #[allow(clippy::cast_possible_wrap)]
            crate::simd::prefetch(
                p.wrapping_offset(r as isize * stride + (c0 + 2 * STRIP) as isize),
            );
            here = _mm256_add_epi64(here, one);
            for (k, (v, a)) in v.iter_mut().zip(&mut a).enumerate() {
                let x = load(r, k);
                let take = if MAX { _mm256_cmpgt_epi64(x, *v) } else { _mm256_cmpgt_epi64(*v, x) };
                *v = _mm256_blendv_epi8(*v, x, take);
                if AT {
                    *a = _mm256_blendv_epi8(*a, here, take);
                }
            }
        }
        let (mut values, mut rows_at) = ([0i64; STRIP], [0i64; STRIP]);
        for k in 0..REGS {
            // SAFETY: each array holds STRIP = 4 * REGS words.
            unsafe {
                _mm256_storeu_si256(values.as_mut_ptr().add(4 * k).cast(), v[k]);
                _mm256_storeu_si256(rows_at.as_mut_ptr().add(4 * k).cast(), a[k]);
            }
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rows < BLOCK
        Some((values, rows_at.map(|r| r as u32)))
    }
}

crate::simd::multilevel! {
    /// [`pairwise_body`] compiled for the chosen level.
    fn pairwise<T>(rows: &ArrayView2<'_, T>, mean: Option<&[f64]>, skipna: bool, out: &mut [f64], then: &mut dyn FnMut(std::ops::Range<usize>)) -> () = pairwise_body;
}

/// The count and float sum of each column (NaN skipped or not): `simd::sum_block` per column;
/// `then` as in [`pairwise_body`].
pub(crate) fn sums<T: Element>(
    rows: &ArrayView2<'_, T>,
    skipna: bool,
    counts: &mut [u64],
    out: &mut [f64],
    then: &mut dyn FnMut(std::ops::Range<usize>),
) {
    let w = rows.ncols();
    counts[..w].fill(rows.nrows() as u64);
    if !(skipna && T::DTYPE.is_float()) {
        pairwise(rows, None, skipna, out, then);
        return;
    }
    // The NaN of each leaf counted right after it is summed, while its rows are still in
    // cache (a block of wide groups is too big to read twice from memory).
    let mut missing = [0u64; SUM_WIDTH];
    pairwise(rows, None, skipna, out, &mut |leaf| {
        for r in leaf.clone() {
            for (m, x) in missing.iter_mut().zip(row(rows, r)) {
                *m += u64::from(x.is_nan());
            }
        }
        then(leaf);
    });
    for (c, m) in counts[..w].iter_mut().zip(missing) {
        *c -= m;
    }
}

/// The sum of squared deviations of each column from its `mean` (NaN skipped or not).
pub(crate) fn deviations<T: Element>(
    rows: &ArrayView2<'_, T>,
    mean: &[f64],
    skipna: bool,
    out: &mut [f64],
) {
    pairwise(rows, Some(mean), skipna, out, &mut |_| {});
}

/// The wrapping integer sum of each column, row by row (each row's part one contiguous read).
#[inline(always)]
fn int_sums_body<T: Element, const L: u8>(rows: &ArrayView2<'_, T>, out: &mut [T::Sum]) {
    let (n, w) = rows.dim();
    assert!(out.len() >= w);
    let all = Rows::new(rows);
    let out = &mut out[..w];
    out.fill(T::Sum::default());
    let widen = |x: &T| T::int_sum(std::slice::from_ref(x)).expect("integers sum");
    // Two rows a pass, two streams read at once (as the extremes).
    let mut r = 0;
    while r + 1 < n {
        for ((a, x), y) in out.iter_mut().zip(all.get(r)).zip(all.get(r + 1)) {
            *a = T::sum_merge(T::sum_merge(*a, widen(x)), widen(y));
        }
        r += 2;
    }
    if r < n {
        for (a, x) in out.iter_mut().zip(all.get(r)) {
            *a = T::sum_merge(*a, widen(x));
        }
    }
}

crate::simd::multilevel! {
    /// [`int_sums_body`] compiled for the chosen level.
    fn int_sums<T>(rows: &ArrayView2<'_, T>, out: &mut [T::Sum]) -> () = int_sums_body;
}

/// Whether each column holds a NaN (`out[c]`).
pub(crate) fn nans<T: Element>(rows: &ArrayView2<'_, T>, out: &mut [bool]) {
    let w = rows.ncols();
    let mut seen = [0u8; WIDTH];
    if T::DTYPE.is_float() {
        for r in 0..rows.nrows() {
            for (s, x) in seen.iter_mut().zip(row(rows, r)) {
                *s |= u8::from(x.is_nan());
            }
        }
    }
    for (o, s) in out[..w].iter_mut().zip(seen) {
        *o = s != 0;
    }
}

/// Columns followed together down the rows by the extreme kernels: their states stay in
/// registers.
const STRIP: usize = 16;

/// The contiguous rows of a column block, found by address: the kernels go down each strip
/// of columns, and finding a row through ndarray each time cost more than the work on it.
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    view: &'a ArrayView2<'a, T>,
    first: *const T,
    stride: isize,
}

impl<'a, T> Rows<'a, T> {
    #[inline(always)]
    fn new(rows: &'a ArrayView2<'a, T>) -> Self {
        assert!(
            rows.ncols() <= 1 || rows.strides()[1] == 1,
            "the rows of a column block are contiguous"
        );
        Rows { view: rows, first: rows.as_ptr(), stride: rows.strides()[0] }
    }

    /// Row `r` (`r` below the number of rows).
    #[inline(always)]
    fn get(&self, r: usize) -> &'a [T] {
        assert!(r < self.view.nrows());
        // SAFETY: `r` is a row of the view, whose rows are contiguous (checked in `new`):
        // its `ncols` elements from the address of its first live in the borrowed array.
        #[allow(clippy::cast_possible_wrap)] // r < nrows, an ndarray dimension
        unsafe {
            std::slice::from_raw_parts(
                self.first.offset(r as isize * self.stride),
                self.view.ncols(),
            )
        }
    }
}

/// Whether `x` replaces `v` as the running maximum (`MAX`) or minimum: strictly better.
#[inline(always)]
fn better<T: Element, const MAX: bool>(v: T, x: T) -> bool {
    if MAX { v.less(x) } else { x.less(v) }
}

/// The first strictly best value of each column (`MAX` or min) and its row, right on
/// columns without NaN (NumPy's first occurrence), and in `nan` a NaN of each column that has
/// one (default elsewhere), noted in the same pass: the caller takes those columns apart.
/// `at` is `None` when only the values are wanted.
#[inline(always)]
fn best_of<T: Element, const MAX: bool, const AT: bool, const L: u8>(
    rows: &ArrayView2<'_, T>,
    value: &mut [T],
    at: &mut [u32],
    nan: &mut [T],
) {
    let (n, w) = rows.dim();
    let all = Rows::new(rows);
    value[..w].copy_from_slice(all.get(0));
    at[..w].fill(0);
    for (n, &x) in nan[..w].iter_mut().zip(all.get(0)) {
        *n = if x.is_nan() { x } else { T::default() };
    }
    let step = |v: &mut T, a: &mut u32, n: &mut T, x: T, r: u32| {
        let b = better::<T, MAX>(*v, x);
        *v = if b { x } else { *v };
        if AT {
            *a = if b { r } else { *a };
        }
        *n = if x.is_nan() { x } else { *n };
    };
    let mut c0 = 0;
    while c0 + STRIP <= w {
        let cs = c0..c0 + STRIP;
        #[cfg(target_arch = "x86_64")]
        if L >= Level::Avx2 as u8 {
            // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
            if let Some((v, a)) = unsafe { x86::best_i64::<T, MAX, AT>(rows, c0) } {
                for (o, v) in value[cs.clone()].iter_mut().zip(v) {
                    *o = T::from_ne_bytes(&v.to_ne_bytes());
                }
                at[cs].copy_from_slice(&a);
                c0 += STRIP;
                continue;
            }
        }
        let mut v: [T; STRIP] = value[cs.clone()].try_into().expect("a strip");
        let mut a = [0u32; STRIP];
        let mut m: [T; STRIP] = nan[cs.clone()].try_into().expect("a strip");
        for r in 1..n {
            let xs: &[T; STRIP] = all.get(r)[cs.clone()].try_into().expect("a strip");
            for j in 0..STRIP {
                #[allow(clippy::cast_possible_truncation)] // r < BLOCK
                step(&mut v[j], &mut a[j], &mut m[j], xs[j], r as u32);
            }
        }
        value[cs.clone()].copy_from_slice(&v);
        at[cs.clone()].copy_from_slice(&a);
        nan[cs].copy_from_slice(&m);
        c0 += STRIP;
    }
    for r in 1..n {
        let xs = &all.get(r)[c0..w];
        for (((v, a), m), &x) in
            value[c0..w].iter_mut().zip(&mut at[c0..w]).zip(&mut nan[c0..w]).zip(xs)
        {
            #[allow(clippy::cast_possible_truncation)] // r < BLOCK
            step(v, a, m, x, r as u32);
        }
    }
}

#[inline(always)]
fn best_body<T: Element, const L: u8>(
    rows: &ArrayView2<'_, T>,
    max: bool,
    value: &mut [T],
    at: &mut [u32],
    nan: &mut [T],
) {
    if max {
        best_of::<T, true, true, L>(rows, value, at, nan);
    } else {
        best_of::<T, false, true, L>(rows, value, at, nan);
    }
}

crate::simd::multilevel! {
    /// [`best_of`] compiled for the chosen level.
    fn best<T>(rows: &ArrayView2<'_, T>, max: bool, value: &mut [T], at: &mut [u32], nan: &mut [T]) -> () = best_body;
}

/// [`best_of`] without the positions.
#[inline(always)]
fn extreme_body<T: Element, const L: u8>(
    rows: &ArrayView2<'_, T>,
    max: bool,
    value: &mut [T],
    nan: &mut [T],
) {
    let mut at = [0u32; WIDTH];
    if max {
        best_of::<T, true, false, L>(rows, value, &mut at, nan);
    } else {
        best_of::<T, false, false, L>(rows, value, &mut at, nan);
    }
}

crate::simd::multilevel! {
    /// [`extreme_body`] compiled for the chosen level.
    fn extremes<T>(rows: &ArrayView2<'_, T>, max: bool, value: &mut [T], nan: &mut [T]) -> () = extreme_body;
}

/// The least (greatest with `max`) value of each column, row by row (each row's part one
/// contiguous read, as [`int_sums_body`]), the first of equal values kept, or the last NaN
/// met: a column ends in NaN where it holds one.
#[inline(always)]
fn row_extremes_body<T: Element, const L: u8>(rows: &ArrayView2<'_, T>, max: bool, out: &mut [T]) {
    let (n, w) = rows.dim();
    assert!(out.len() >= w && n > 0);
    let all = Rows::new(rows);
    let out = &mut out[..w];
    out.copy_from_slice(all.get(0));
    if max { fold_rows::<T, true>(&all, out) } else { fold_rows::<T, false>(&all, out) }
}

/// Rows `1..` of `all` folded into `out` (`MAX` or min), a row at a time, from one buffer
/// into another: folded in place, the compiler stored the changed values under a mask (slow
/// on AMD: 1.1 ms for `min` of (1000, 1000) `int64` axis 0 against NumPy's 0.3).
#[inline(always)]
fn fold_rows<T: Element, const MAX: bool>(all: &Rows<'_, T>, out: &mut [T]) {
    let (w, n, mut spare) = (out.len(), all.view.nrows(), [T::default(); ROW_GROUP]);
    let (mut from, mut to) = (&mut *out, &mut spare[..w]);
    let step = |v: T, x: T| if x.is_nan() { x } else { v.pick(x, MAX) };
    // Two rows a pass, in order: two streams read at once (from memory, one row's part at a
    // time left the reads waiting: `max` of (3000, 3000) `float64` axis 0 read 8 GB/s on one
    // thread where the sums read 14).
    let (mut r, mut passes) = (1, 0);
    while r < n {
        if r + 1 < n {
            let (a, b) = (all.get(r), all.get(r + 1));
            for (((t, &f), &x), &y) in to.iter_mut().zip(from.iter()).zip(a).zip(b) {
                *t = step(step(f, x), y);
            }
            r += 2;
        } else {
            for ((t, &f), &x) in to.iter_mut().zip(from.iter()).zip(all.get(r)) {
                *t = step(f, x);
            }
            r += 1;
        }
        std::mem::swap(&mut from, &mut to);
        passes += 1;
    }
    if passes % 2 == 1 {
        out.copy_from_slice(&spare[..w]);
    }
}

crate::simd::multilevel! {
    /// [`row_extremes_body`] compiled for the chosen level.
    fn row_extremes<T>(rows: &ArrayView2<'_, T>, max: bool, out: &mut [T]) -> () = row_extremes_body;
}

/// The least and greatest value of each column, `lo` and `hi` holding those of the rows
/// before (the first row, to start), right on columns without NaN (the caller knows them from
/// their sums). The first of equal values is kept.
#[inline(always)]
fn min_max_body<T: Element, const L: u8>(rows: &ArrayView2<'_, T>, lo: &mut [T], hi: &mut [T]) {
    let (n, w) = rows.dim();
    let all = Rows::new(rows);
    let step = |l: &mut T, h: &mut T, x: T| {
        *l = if better::<T, false>(*l, x) { x } else { *l };
        *h = if better::<T, true>(*h, x) { x } else { *h };
    };
    let mut c0 = 0;
    while c0 + STRIP <= w {
        let cs = c0..c0 + STRIP;
        let mut l: [T; STRIP] = lo[cs.clone()].try_into().expect("a strip");
        let mut h: [T; STRIP] = hi[cs.clone()].try_into().expect("a strip");
        for r in 0..n {
            let xs: &[T; STRIP] = all.get(r)[cs.clone()].try_into().expect("a strip");
            for j in 0..STRIP {
                step(&mut l[j], &mut h[j], xs[j]);
            }
        }
        lo[cs.clone()].copy_from_slice(&l);
        hi[cs].copy_from_slice(&h);
        c0 += STRIP;
    }
    for r in 0..n {
        for ((l, h), &x) in lo[c0..w].iter_mut().zip(&mut hi[c0..w]).zip(&all.get(r)[c0..w]) {
            step(l, h, x);
        }
    }
}

crate::simd::multilevel! {
    /// [`min_max_body`] compiled for the chosen level.
    fn min_max<T>(rows: &ArrayView2<'_, T>, lo: &mut [T], hi: &mut [T]) -> () = min_max_body;
}

/// Column `c` of `rows` copied into `buf` (for the rare columns that need the lane kernel).
pub(crate) fn column<'b, T: Element>(
    rows: &ArrayView2<'_, T>,
    c: usize,
    buf: &'b mut [T],
) -> &'b [T] {
    let n = rows.nrows();
    for (b, x) in buf[..n].iter_mut().zip(rows.column(c)) {
        *b = *x;
    }
    &buf[..n]
}

/// The best value of each column ([`extremes`] when `at` is `None`, else with its row), and
/// in `nan` whether the column holds a NaN (its best is then the caller's to find again).
pub(crate) fn bests<T: Element>(
    rows: &ArrayView2<'_, T>,
    max: bool,
    value: &mut [T],
    at: Option<&mut [u32]>,
    nan: &mut [bool],
) {
    let mut seen = [T::default(); WIDTH];
    match at {
        Some(at) => best(rows, max, value, at, &mut seen),
        None => extremes(rows, max, value, &mut seen),
    }
    for (flag, x) in nan.iter_mut().zip(&seen[..rows.ncols()]) {
        *flag = x.is_nan();
    }
}
