//! The kernels of k-means over a group of rows: the nearest of `k` centres to each row, as
//! scikit-learn's k-means finds it (the least `|c|² - 2 x·c`, ties to the lower centre); the
//! weighted sums of the rows of each centre; the inertia; and the squared distances to a few
//! candidates that k-means++ weighs.
//!
//! A general matrix product followed by a scan of its rows spends as long packing the rows and
//! writing the `n × k` products as multiplying. Here the centres alone are packed, once per pass,
//! transposed and scaled by -2 in blocks of one or two registers' width; each group of rows is
//! read where it lies, every element broadcast against a block and accumulated with fused
//! multiply-adds, and the least of each row found in the registers (a lane minimum, a compare and
//! a bit scan). The -2 scaling is exact, so every dot product is the general product's up to the
//! order of its additions; a block is only taken over the one before when strictly less, which
//! keeps ties on the lower centre.
//!
//! `|c|² - 2 x·c` is not exact: two centres whose values differ by less than its rounding
//! bound ([`Centres::slack`], from the norms of rows and centres) may be ranked the wrong way.
//! The kernel counts, per row, the centres within that bound of the least; a row with two or
//! more is a close call, handed back to the caller to be decided from the distances computed
//! directly (as `cdist` recomputes its small distances).
//!
//! The nearest-centre kernel is written once over a small trait of register operations and
//! compiled for AVX2 + FMA and for AVX-512 (on the Xeon measured, no faster than AVX2,
//! although its FMA peak is twice as high: the compiler computes sixteen rows' addresses in a
//! chain of additions that the broadcasts wait on); the baseline (and any other target) runs the same sums in plain Rust,
//! products rounded before they are added. The other kernels are plain Rust compiled per level
//! by `multilevel!`, or hand-written AVX2 where the compiler's vectorization fell short.

#![allow(unsafe_code)]
// Inlining is how each kernel body is compiled into each instruction-set copy.
#![allow(clippy::inline_always)]

use ndarray::Array2;

use crate::distance::Real;
use crate::dtype::Element;
use crate::dtype::Native;
use crate::error::Result;
use crate::mem;
use crate::simd::{Level, level, multilevel};

/// Centres packed for [`Centres::nearest`].
pub(crate) struct Centres<R> {
    /// Block `b`, feature `j`, lane `l` at `(b * d + j) * width + l`: `-2 c[b width + l][j]`,
    /// zero past the last centre.
    packed: Vec<R>,
    /// Per centre `|c|²` (or what stands for it), `+∞` past the last.
    norms: Vec<R>,
    d: usize,
    /// Centres per block.
    width: usize,
    /// The level the blocks were laid out for.
    level: Level,
    /// Values of two centres closer than this may be in the wrong order: twice the rounding
    /// bound of `|c|² - 2 x·c` for the rows' norms.
    slack: R,
}

impl<R: Real> Centres<R> {
    /// Packs `k × d` centres with the value `norms[j]` each stands for in `norms[j] - 2 x·c_j`,
    /// for rows whose norms are at most `reach`.
    pub(crate) fn new(centers: &Array2<R>, norms: &[R], reach: f64) -> Result<Self> {
        Self::for_level(centers, norms, reach, level())
    }

    /// [`Centres::new`] for the kernels of `level` (which this CPU must have).
    fn for_level(centers: &Array2<R>, norms: &[R], reach: f64, level: Level) -> Result<Self> {
        let (k, d) = centers.dim();
        // The value `n + Σ (-2 c_i) x_i` is summed by `d` fused multiply-adds and one addition,
        // from `n` rounded once: its error is at most `u (2 |n| + 2 (d + 1) |c| |x|)` (and a
        // hair), `u` the unit roundoff. The difference of two values, twice that, with a margin.
        let n_max = norms[..k].iter().map(|n| n.to_f64().abs()).fold(0.0, f64::max);
        let c_max = centers
            .rows()
            .into_iter()
            .map(|c| c.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>().sqrt())
            .fold(0.0, f64::max);
        let slack = 4.1 * R::EPSILON * (n_max + (d + 1) as f64 * c_max * reach);
        let slack = R::from_f64(if slack.is_finite() { slack } else { f64::INFINITY });
        let bytes = match level {
            Level::Avx512 => 64,
            Level::Avx2 => 32,
            Level::Baseline => 8 * size_of::<R>(),
        };
        let lanes = bytes / size_of::<R>();
        let width = if k > lanes { 2 * lanes } else { lanes };
        let blocks = k.div_ceil(width).max(1);
        let mut packed = mem::filled(blocks * d * width, R::zero())?;
        let two = R::from_f64(-2.0);
        for (i, c) in centers.rows().into_iter().enumerate() {
            let (b, l) = (i / width, i % width);
            for (j, &v) in c.iter().enumerate() {
                packed[(b * d + j) * width + l] = two * v;
            }
        }
        let mut padded = mem::filled(blocks * width, R::from_f64(f64::INFINITY))?;
        padded[..k].copy_from_slice(&norms[..k]);
        Ok(Centres { packed, norms: padded, d, width, level, slack })
    }

    /// The nearest centre of each row of the C-ordered `rows` (`labels.len()` rows of `d`) into
    /// `labels`, except for rows whose nearest centre is a close call: those (indices into
    /// `labels`, with their labels before) go to `close`, for the caller to decide from direct
    /// distances. Returns how many of the others' labels changed.
    pub(crate) fn nearest(
        &self,
        rows: &[R],
        labels: &mut [i32],
        close: &mut Vec<(usize, i32)>,
    ) -> usize {
        assert_eq!(rows.len(), labels.len() * self.d, "one row per label");
        #[allow(clippy::disallowed_macros)] // one group of rows
        let (mut best, mut near) = (vec![-1i32; labels.len()], vec![0u32; labels.len()]);
        self.find(rows, &mut best, &mut near);
        close.clear();
        // Close calls are rare: groups of rows are tested at once (a loop that vectorizes).
        for (g, nears) in near.chunks(32).enumerate() {
            if nears.iter().fold(0, |a, &n| a | n) != 0 {
                for (i, &n) in nears.iter().enumerate() {
                    if n != 0 {
                        close.push((g * 32 + i, labels[g * 32 + i]));
                    }
                }
            }
        }
        let mut changed = 0;
        for (label, &b) in labels.iter_mut().zip(&best) {
            // No centre strictly below +∞ (or all NaN): the first, as scikit-learn's scan.
            let b = b.max(0);
            changed += usize::from(*label != b);
            *label = b;
        }
        // The close calls' changes are the caller's to count.
        for &(i, old) in close.iter() {
            changed -= usize::from(labels[i] != old);
        }
        changed
    }

    /// The nearest centre below +∞ of each row into `best` (left alone where none is), and
    /// into `near` whether another centre may be as near (see [`Centres::slack`]).
    fn find(&self, rows: &[R], best: &mut [i32], near: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if self.level != Level::Baseline && self.d > 0 {
            match (R::native(rows), R::native(&self.packed), R::native(&self.norms)) {
                (Native::F32(x), Native::F32(c), Native::F32(n)) => {
                    let slack = self.slack.to_f64() as f32;
                    return x86::nearest(
                        x, self.d, c, n, self.width, self.level, slack, best, near,
                    );
                }
                (Native::F64(x), Native::F64(c), Native::F64(n)) => {
                    let slack = self.slack.to_f64();
                    return x86::nearest(
                        x, self.d, c, n, self.width, self.level, slack, best, near,
                    );
                }
                _ => {}
            }
        }
        self.scalar(rows, best, near);
    }

    /// [`Centres::find`] in plain Rust: the same sums in the same order, each product rounded,
    /// the same counting of close values.
    fn scalar(&self, rows: &[R], best: &mut [i32], near: &mut [u32]) {
        let (d, w) = (self.d, self.width);
        #[allow(clippy::disallowed_macros)] // one block of centres
        let mut acc = vec![R::zero(); w];
        for ((x, best), near) in rows.chunks_exact(d.max(1)).zip(best).zip(near) {
            let mut least = R::from_f64(f64::INFINITY);
            for (b, (pc, norms)) in
                self.packed.chunks_exact((d * w).max(1)).zip(self.norms.chunks_exact(w)).enumerate()
            {
                acc.fill(R::zero());
                for (&v, pc) in x.iter().zip(pc.chunks_exact(w)) {
                    for (a, &c) in acc.iter_mut().zip(pc) {
                        *a = *a + v * c;
                    }
                }
                let dists = acc.iter().zip(norms).map(|(&a, &n)| n + a);
                let value = dists
                    .clone()
                    .fold(R::from_f64(f64::INFINITY), |m, v| if v < m { v } else { m });
                if value > least + self.slack {
                    continue;
                }
                // As the vector kernels decide: the block's values within the slack of its
                // least; two or more, or the least before within it, make a close call.
                let several = dists.clone().filter(|&v| v <= value + self.slack).count() > 1;
                if value < least {
                    *near = u32::from(several || value + self.slack >= least);
                    least = value;
                    // Past the last centre the value is +∞, never strictly below `least`.
                    *best = (b * w + dists.clone().position(|v| v == value).unwrap_or(0)) as i32;
                } else {
                    *near = 1;
                }
            }
        }
    }
}

multilevel! {
    /// Adds each row of the C-ordered `rows` (`d` features), times its weight, to the sums of
    /// its centre (`sums[label * d..][..d]`, in `f64`) and its weight to the centre's total.
    fn add_rows<T>(
        rows: &[T],
        d: usize,
        labels: &[i32],
        weights: &[f64],
        sums: &mut [f64],
        totals: &mut [f64],
    ) -> () = add_rows_body;
}

/// [`add_rows`], compiled into each level's copy (products and sums rounded separately, so
/// every level gives the same bits).
#[inline(always)]
fn add_rows_body<T: Element, const L: u8>(
    rows: &[T],
    d: usize,
    labels: &[i32],
    weights: &[f64],
    sums: &mut [f64],
    totals: &mut [f64],
) {
    for ((x, &label), &w) in rows.chunks_exact(d.max(1)).zip(labels).zip(weights) {
        let j = label as usize;
        totals[j] += w;
        for (s, &v) in sums[j * d..(j + 1) * d].iter_mut().zip(x) {
            *s += w * v.to_f64();
        }
    }
}

multilevel! {
    /// `Σ w |x - t|²` over the C-ordered `rows` (`d` features), `t` the row of `targets` (in
    /// `f64`, `d` to a row) that each row's label names.
    fn inertia<T>(rows: &[T], d: usize, labels: &[i32], weights: &[f64], targets: &[f64]) -> f64
        = inertia_body;
}

/// [`inertia`], compiled into each level's copy: each [`sq_distance`], weighted, in row order.
#[inline(always)]
fn inertia_body<T: Element, const L: u8>(
    rows: &[T],
    d: usize,
    labels: &[i32],
    weights: &[f64],
    targets: &[f64],
) -> f64 {
    let mut total = 0.0;
    for ((x, &label), &w) in rows.chunks_exact(d.max(1)).zip(labels).zip(weights) {
        total += w * sq_distance(x, &targets[label as usize * d..][..d]);
    }
    total
}

/// `|x - t|²` in `f64`, in eight lanes added in a fixed order (a single running sum would wait
/// on every addition).
#[inline(always)]
pub(crate) fn sq_distance<T: Element>(x: &[T], t: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (xs, ts) = (x.chunks_exact(8), t.chunks_exact(8));
    let mut tail = 0.0;
    for (a, b) in xs.remainder().iter().zip(ts.remainder()) {
        tail += (a.to_f64() - b) * (a.to_f64() - b);
    }
    for (a, b) in xs.zip(ts) {
        for ((l, a), b) in lanes.iter_mut().zip(a).zip(b) {
            *l += (a.to_f64() - b) * (a.to_f64() - b);
        }
    }
    let [a, b, c, e, f, g, h, i] = lanes;
    (((a + f) + (b + g)) + ((c + h) + (e + i))) + tail
}

/// The squared distance of every row of `rows` to every row of `cands` (`d` features each, both
/// C-ordered) into `out`, row after row, in `f64`; returns the stride of `out` (the candidates
/// rounded up to a group of four: candidate `t` of row `i` is at `i * stride + t`). For each row
/// and candidate, `(x - c)²` summed feature by feature, products and sums rounded separately
/// (the same bits at every level).
pub(crate) fn sq_distances<T: Element>(
    rows: &[T],
    cands: &[f64],
    d: usize,
    out: &mut Vec<f64>,
) -> Result<usize> {
    let (n, m) = (rows.len() / d.max(1), cands.len() / d.max(1));
    let stride = m.div_ceil(GROUP) * GROUP;
    out.clear();
    mem::resize(out, n * stride, 0.0)?;
    if d == 0 {
        return Ok(stride);
    }
    assert!(rows.len() == n * d && cands.len() == m * d);
    // The candidates four to a group, feature by feature: `packed[(g d + j) 4 + l]`.
    let mut packed = mem::filled(stride * d, 0.0)?;
    for (t, c) in cands.chunks_exact(d).enumerate() {
        for (j, &v) in c.iter().enumerate() {
            packed[((t / GROUP) * d + j) * GROUP + t % GROUP] = v;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if level() != Level::Baseline {
        // SAFETY: `level()` is above the baseline only where this CPU has AVX2 and FMA; the
        // lengths are as laid out above.
        unsafe { x86::sq_distances(rows, d, &packed, out) };
        return Ok(stride);
    }
    sq_distances_scalar(rows, d, &packed, out);
    Ok(stride)
}

/// Candidates per group of [`sq_distances`] (one AVX2 register of `f64`).
const GROUP: usize = 4;

/// [`sq_distances`] in plain Rust: for every row, every group, every feature in order.
fn sq_distances_scalar<T: Element>(rows: &[T], d: usize, packed: &[f64], sums: &mut [f64]) {
    let w = packed.len() / d;
    for (x, sums) in rows.chunks_exact(d).zip(sums.chunks_exact_mut(w)) {
        for (c, sums) in packed.chunks_exact(d * GROUP).zip(sums.chunks_exact_mut(GROUP)) {
            let mut acc = [0.0f64; GROUP];
            for (&v, c) in x.iter().zip(c.chunks_exact(GROUP)) {
                for (a, &c) in acc.iter_mut().zip(c) {
                    let diff = v.to_f64() - c;
                    *a += diff * diff;
                }
            }
            sums.copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, __m256d, __m512, __m512d, _CMP_EQ_OQ, _CMP_LE_OQ, _mm_cvtsd_f64, _mm_cvtss_f32,
        _mm256_add_pd, _mm256_add_ps, _mm256_broadcast_sd, _mm256_broadcast_ss,
        _mm256_castpd256_pd128, _mm256_castps256_ps128, _mm256_cmp_pd, _mm256_cmp_ps,
        _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_min_pd,
        _mm256_min_ps, _mm256_movemask_pd, _mm256_movemask_ps, _mm256_mul_pd, _mm256_permute_pd,
        _mm256_permute_ps, _mm256_permute2f128_pd, _mm256_permute2f128_ps, _mm256_set1_pd,
        _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd, _mm256_sub_pd, _mm512_add_pd,
        _mm512_add_ps, _mm512_cmp_pd_mask, _mm512_cmp_ps_mask, _mm512_fmadd_pd, _mm512_fmadd_ps,
        _mm512_loadu_pd, _mm512_loadu_ps, _mm512_min_pd, _mm512_min_ps, _mm512_reduce_min_pd,
        _mm512_reduce_min_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd, _mm512_setzero_ps,
    };

    use crate::dtype::Element;

    use crate::simd::Level;

    /// The register operations the kernel needs, for one element type at one width.
    ///
    /// Every method needs the CPU features of its register width (enabled in the
    /// `#[target_feature]` functions the kernel is inlined into), and `load` and `splat` a
    /// pointer valid for `LANES` elements and one element.
    pub(super) trait Reg: Copy {
        type E: Copy + PartialOrd + std::ops::Add<Output = Self::E>;
        const LANES: usize;
        unsafe fn zero() -> Self;
        unsafe fn load(p: *const Self::E) -> Self;
        unsafe fn splat(p: *const Self::E) -> Self;
        /// `a * b + c`, rounded once.
        unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
        unsafe fn add(a: Self, b: Self) -> Self;
        unsafe fn min(a: Self, b: Self) -> Self;
        /// The least lane, as a scalar and in every lane.
        unsafe fn least(a: Self) -> (Self::E, Self);
        /// Bit `l` set where lane `l` of `a` equals that of `b`.
        unsafe fn equal(a: Self, b: Self) -> u32;
        /// Bit `l` set where lane `l` of `a` is at most that of `b` (never for NaN).
        unsafe fn at_most(a: Self, b: Self) -> u32;
    }

    /// Defines [`Reg`] for one register type from the functions doing each operation.
    macro_rules! reg {
        ($v:ty, $e:ty, $lanes:literal, $zero:ident, $load:ident, $splat:ident, $fma:ident,
         $add:ident, $min:ident, $least:ident, $equal:ident, $at_most:ident) => {
            impl Reg for $v {
                type E = $e;
                const LANES: usize = $lanes;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    // SAFETY: the caller has the register's features (as in every method).
                    unsafe { $zero() }
                }
                #[inline(always)]
                unsafe fn load(p: *const $e) -> Self {
                    // SAFETY: the caller's `p` is valid for `LANES` elements.
                    unsafe { $load(p) }
                }
                #[inline(always)]
                unsafe fn splat(p: *const $e) -> Self {
                    // SAFETY: the caller's `p` is valid for one element.
                    unsafe { $splat(p) }
                }
                #[inline(always)]
                unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                    // SAFETY: register arithmetic.
                    unsafe { $fma(a, b, c) }
                }
                #[inline(always)]
                unsafe fn add(a: Self, b: Self) -> Self {
                    // SAFETY: register arithmetic.
                    unsafe { $add(a, b) }
                }
                #[inline(always)]
                unsafe fn min(a: Self, b: Self) -> Self {
                    // SAFETY: register arithmetic.
                    unsafe { $min(a, b) }
                }
                #[inline(always)]
                unsafe fn least(a: Self) -> ($e, Self) {
                    // SAFETY: register arithmetic.
                    unsafe { $least(a) }
                }
                #[inline(always)]
                unsafe fn equal(a: Self, b: Self) -> u32 {
                    // SAFETY: register arithmetic.
                    unsafe { $equal(a, b) }
                }
                #[inline(always)]
                unsafe fn at_most(a: Self, b: Self) -> u32 {
                    // SAFETY: register arithmetic.
                    unsafe { $at_most(a, b) }
                }
            }
        };
    }

    reg!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        splat8,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_min_ps,
        least8,
        equal8,
        at_most8
    );
    reg!(
        __m256d,
        f64,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        splat4,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        _mm256_min_pd,
        least4,
        equal4,
        at_most4
    );
    reg!(
        __m512,
        f32,
        16,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        splat16,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        _mm512_min_ps,
        least16,
        equal16,
        at_most16
    );
    reg!(
        __m512d,
        f64,
        8,
        _mm512_setzero_pd,
        _mm512_loadu_pd,
        splat8d,
        _mm512_fmadd_pd,
        _mm512_add_pd,
        _mm512_min_pd,
        least8d,
        equal8d,
        at_most8d
    );

    #[inline(always)]
    unsafe fn splat8(p: *const f32) -> __m256 {
        // SAFETY: the caller's `p` is valid and aligned for one element, and it has AVX.
        unsafe { _mm256_broadcast_ss(&*p) }
    }

    #[inline(always)]
    unsafe fn splat4(p: *const f64) -> __m256d {
        // SAFETY: as in `splat8`.
        unsafe { _mm256_broadcast_sd(&*p) }
    }

    #[inline(always)]
    unsafe fn splat16(p: *const f32) -> __m512 {
        // SAFETY: as in `splat8`, with AVX-512F.
        unsafe { _mm512_set1_ps(*p) }
    }

    #[inline(always)]
    unsafe fn splat8d(p: *const f64) -> __m512d {
        // SAFETY: as in `splat16`.
        unsafe { _mm512_set1_pd(*p) }
    }

    #[inline(always)]
    unsafe fn least8(a: __m256) -> (f32, __m256) {
        // SAFETY: register arithmetic; the caller has AVX.
        unsafe {
            let m = _mm256_min_ps(a, _mm256_permute2f128_ps::<1>(a, a));
            let m = _mm256_min_ps(m, _mm256_permute_ps::<0b0100_1110>(m));
            let m = _mm256_min_ps(m, _mm256_permute_ps::<0b1011_0001>(m));
            (_mm_cvtss_f32(_mm256_castps256_ps128(m)), m)
        }
    }

    #[inline(always)]
    unsafe fn least4(a: __m256d) -> (f64, __m256d) {
        // SAFETY: as in `least8`.
        unsafe {
            let m = _mm256_min_pd(a, _mm256_permute2f128_pd::<1>(a, a));
            let m = _mm256_min_pd(m, _mm256_permute_pd::<0b0101>(m));
            (_mm_cvtsd_f64(_mm256_castpd256_pd128(m)), m)
        }
    }

    #[inline(always)]
    unsafe fn least16(a: __m512) -> (f32, __m512) {
        // SAFETY: register arithmetic; the caller has AVX-512F.
        unsafe {
            let m = _mm512_reduce_min_ps(a);
            (m, _mm512_set1_ps(m))
        }
    }

    #[inline(always)]
    unsafe fn least8d(a: __m512d) -> (f64, __m512d) {
        // SAFETY: as in `least16`.
        unsafe {
            let m = _mm512_reduce_min_pd(a);
            (m, _mm512_set1_pd(m))
        }
    }

    #[inline(always)]
    unsafe fn equal8(a: __m256, b: __m256) -> u32 {
        // SAFETY: register arithmetic; the caller has AVX.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, b)).cast_unsigned() }
    }

    #[inline(always)]
    unsafe fn equal4(a: __m256d, b: __m256d) -> u32 {
        // SAFETY: as in `equal8`.
        unsafe { _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(a, b)).cast_unsigned() }
    }

    #[inline(always)]
    unsafe fn equal16(a: __m512, b: __m512) -> u32 {
        // SAFETY: register arithmetic; the caller has AVX-512F.
        unsafe { u32::from(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b)) }
    }

    #[inline(always)]
    unsafe fn equal8d(a: __m512d, b: __m512d) -> u32 {
        // SAFETY: as in `equal16`.
        unsafe { u32::from(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(a, b)) }
    }

    #[inline(always)]
    unsafe fn at_most8(a: __m256, b: __m256) -> u32 {
        // SAFETY: as in `equal8`.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(a, b)).cast_unsigned() }
    }

    #[inline(always)]
    unsafe fn at_most4(a: __m256d, b: __m256d) -> u32 {
        // SAFETY: as in `equal8`.
        unsafe { _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(a, b)).cast_unsigned() }
    }

    #[inline(always)]
    unsafe fn at_most16(a: __m512, b: __m512) -> u32 {
        // SAFETY: as in `equal16`.
        unsafe { u32::from(_mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b)) }
    }

    #[inline(always)]
    unsafe fn at_most8d(a: __m512d, b: __m512d) -> u32 {
        // SAFETY: as in `equal16`.
        unsafe { u32::from(_mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, b)) }
    }

    /// [`super::sq_distances`] with AVX2: eight rows at a time (eight chains of additions in
    /// flight), each feature converted to `f64`, broadcast, less the group's four candidates,
    /// squared and added (no fused multiply-add: the baseline's bits).
    ///
    /// # Safety
    /// The CPU has AVX2; `rows` holds whole rows of `d`, `packed` whole groups of `d × 4`, and
    /// `sums` four per group per row.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sq_distances<T: Element>(
        rows: &[T],
        d: usize,
        packed: &[f64],
        sums: &mut [f64],
    ) {
        const MR: usize = 8;
        let w = packed.len() / d;
        let n = rows.len() / d;
        let (x, s) = (rows.as_ptr(), sums.as_mut_ptr());
        for (g, c) in packed.chunks_exact(d * 4).enumerate() {
            let c = c.as_ptr();
            let mut i = 0;
            while i < n {
                let rs = MR.min(n - i);
                // SAFETY: rows `i..i + rs` are in `rows`, `c` holds `d` registers and `sums`
                // has `w` per row.
                unsafe {
                    let mut acc = [_mm256_setzero_pd(); MR];
                    if rs == MR {
                        for j in 0..d {
                            let cj = _mm256_loadu_pd(c.add(j * 4));
                            for (r, a) in acc.iter_mut().enumerate() {
                                let v = _mm256_set1_pd((*x.add((i + r) * d + j)).to_f64());
                                let diff = _mm256_sub_pd(v, cj);
                                *a = _mm256_add_pd(*a, _mm256_mul_pd(diff, diff));
                            }
                        }
                    } else {
                        for j in 0..d {
                            let cj = _mm256_loadu_pd(c.add(j * 4));
                            for (r, a) in acc.iter_mut().enumerate().take(rs) {
                                let v = _mm256_set1_pd((*x.add((i + r) * d + j)).to_f64());
                                let diff = _mm256_sub_pd(v, cj);
                                *a = _mm256_add_pd(*a, _mm256_mul_pd(diff, diff));
                            }
                        }
                    }
                    for (r, a) in acc.iter().enumerate().take(rs) {
                        _mm256_storeu_pd(s.add((i + r) * w + g * 4), *a);
                    }
                }
                i += rs;
            }
        }
    }

    /// The element types, with their registers at each width.
    pub(super) trait Elem: Copy + PartialOrd + std::ops::Add<Output = Self> {
        const INFINITY: Self;
        type Avx2: Reg<E = Self>;
        type Avx512: Reg<E = Self>;
    }

    impl Elem for f32 {
        const INFINITY: f32 = f32::INFINITY;
        type Avx2 = __m256;
        type Avx512 = __m512;
    }

    impl Elem for f64 {
        const INFINITY: f64 = f64::INFINITY;
        type Avx2 = __m256d;
        type Avx512 = __m512d;
    }

    /// The nearest centre of each row of `x` (`best.len()` rows of `d`) into `best` (-1 where
    /// none is below +∞), and into `near` whether another centre is within `slack` of it, for
    /// centres packed `width` to a block for `level` (see [`super::Centres`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nearest<E: Elem>(
        x: &[E],
        d: usize,
        packed: &[E],
        norms: &[E],
        width: usize,
        level: Level,
        slack: E,
        best: &mut [i32],
        near: &mut [u32],
    ) {
        let blocks = norms.len() / width;
        assert!(
            x.len() == best.len() * d
                && packed.len() == blocks * d * width
                && d > 0
                && near.len() == best.len(),
            "rows and centres as packed"
        );
        match level {
            // SAFETY: the centres were packed for `level`, which `simd::level()` only returns
            // when this CPU has its features; the lengths were checked above.
            Level::Avx512 => unsafe { avx512(x, d, packed, norms, width, slack, best, near) },
            // SAFETY: as above.
            _ => unsafe { avx2(x, d, packed, norms, width, slack, best, near) },
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn avx2<E: Elem>(
        x: &[E],
        d: usize,
        packed: &[E],
        norms: &[E],
        width: usize,
        slack: E,
        best: &mut [i32],
        near: &mut [u32],
    ) {
        // Twelve accumulators (one register a row) or six rows of two, each FMA's four cycles of
        // latency covered twice over, in sixteen registers.
        sweep::<E::Avx2, 12, 6>(x, d, packed, norms, width, slack, best, near);
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn avx512<E: Elem>(
        x: &[E],
        d: usize,
        packed: &[E],
        norms: &[E],
        width: usize,
        slack: E,
        best: &mut [i32],
        near: &mut [u32],
    ) {
        sweep::<E::Avx512, 16, 8>(x, d, packed, norms, width, slack, best, near);
    }

    /// Every block of centres against every row, `ONE` rows at a time for blocks of one
    /// register, `TWO` for blocks of two; the rows left over one by one.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn sweep<V: Reg, const ONE: usize, const TWO: usize>(
        x: &[V::E],
        d: usize,
        packed: &[V::E],
        norms: &[V::E],
        width: usize,
        slack: V::E,
        best: &mut [i32],
        near: &mut [u32],
    ) where
        V::E: Elem,
    {
        let n = best.len();
        #[allow(clippy::disallowed_macros)] // one group of rows
        let mut least = vec![<V::E as Elem>::INFINITY; n];
        for (b, (pc, nb)) in
            packed.chunks_exact(d * width).zip(norms.chunks_exact(width)).enumerate()
        {
            let (pc, nb, base) = (pc.as_ptr(), nb.as_ptr(), b * width);
            // SAFETY: every row of `x` is in it, `pc` holds `d` blocks of `width` and `nb` one,
            // and `least`, `best`, `near` have a place per row.
            unsafe {
                let (xp, lp, bp) = (x.as_ptr(), least.as_mut_ptr(), best.as_mut_ptr());
                let out = Out { least: lp, best: bp, near: near.as_mut_ptr(), slack };
                if width == V::LANES {
                    rows::<V, 1, ONE>(xp, n, d, pc, nb, base, out);
                } else {
                    debug_assert_eq!(width, 2 * V::LANES);
                    rows::<V, 2, TWO>(xp, n, d, pc, nb, base, out);
                }
            }
        }
    }

    /// Where a block's findings go, per row from the first: the least value so far, its
    /// centre, and whether another centre is within `slack` of it.
    #[derive(Clone, Copy)]
    struct Out<E> {
        least: *mut E,
        best: *mut i32,
        near: *mut u32,
        slack: E,
    }

    impl<E> Out<E> {
        /// The same, from row `i` on.
        ///
        /// # Safety
        /// Row `i` has a place in each array.
        #[inline(always)]
        unsafe fn from(self, i: usize) -> Self {
            // SAFETY: forwarded from the caller.
            unsafe {
                Out {
                    least: self.least.add(i),
                    best: self.best.add(i),
                    near: self.near.add(i),
                    slack: self.slack,
                }
            }
        }
    }

    /// Every row of `x` (`n` of `d`) against one block of `NV` registers of centres, `MR` rows
    /// at a time, then the rows left over one by one.
    #[inline(always)]
    unsafe fn rows<V: Reg, const NV: usize, const MR: usize>(
        x: *const V::E,
        n: usize,
        d: usize,
        pc: *const V::E,
        nb: *const V::E,
        base: usize,
        out: Out<V::E>,
    ) {
        let mut i = 0;
        // SAFETY: rows `i..i + MR` (or `i`) are in `x`, and `out` has room from `i`.
        unsafe {
            while i + MR <= n {
                block::<V, NV, MR>(x.add(i * d), d, pc, nb, base, out.from(i));
                i += MR;
            }
            while i < n {
                block::<V, NV, 1>(x.add(i * d), d, pc, nb, base, out.from(i));
                i += 1;
            }
        }
    }

    /// `MR` rows from `x` against one block of `NV` registers of centres: for every feature
    /// each row's element is broadcast and multiplied into its accumulators, then the least of
    /// `norm + acc` replaces the row's best so far when strictly below it, and the values
    /// within the slack of the least are counted (anew when the least drops by more).
    #[inline(always)]
    unsafe fn block<V: Reg, const NV: usize, const MR: usize>(
        x: *const V::E,
        d: usize,
        pc: *const V::E,
        nb: *const V::E,
        base: usize,
        out: Out<V::E>,
    ) {
        let Out { least, best, near, slack } = out;
        // SAFETY: register arithmetic on a value the caller owns.
        let slack_v = unsafe { V::splat(&raw const slack) };
        // SAFETY: the caller's pointers are valid as `sweep` states.
        unsafe {
            let mut acc = [[V::zero(); NV]; MR];
            for j in 0..d {
                let mut c = [V::zero(); NV];
                for (v, c) in c.iter_mut().enumerate() {
                    *c = V::load(pc.add((j * NV + v) * V::LANES));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let s = V::splat(x.add(r * d + j));
                    for (a, &c) in acc.iter_mut().zip(&c) {
                        *a = V::fma(s, c, *a);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let mut dist = [V::zero(); NV];
                for (v, (dist, &a)) in dist.iter_mut().zip(acc).enumerate() {
                    *dist = V::add(V::load(nb.add(v * V::LANES)), a);
                }
                let mut m = dist[0];
                for &dv in &dist[1..] {
                    m = V::min(m, dv);
                }
                let (value, all) = V::least(m);
                let old = *least.add(r);
                if value > old + slack {
                    // Nothing in this block comes near the row's least (the common case).
                    continue;
                }
                // The block's values within the slack of its least: one is the least; two or
                // more make a close call.
                let limit = V::add(all, slack_v);
                let mut within = 0u32;
                for (v, &dv) in dist.iter().enumerate() {
                    within |= V::at_most(dv, limit) << (v * V::LANES);
                }
                let several = within & within.wrapping_sub(1) != 0;
                if value < old {
                    if within != 0 {
                        let lane = if several {
                            let mut mask = 0u32;
                            for (v, &dv) in dist.iter().enumerate() {
                                mask |= V::equal(dv, all) << (v * V::LANES);
                            }
                            mask.trailing_zeros()
                        } else {
                            within.trailing_zeros()
                        };
                        *least.add(r) = value;
                        *best.add(r) = (base + lane as usize) as i32;
                    }
                    // Close too when the least before is within the slack of this one.
                    *near.add(r) = u32::from(several || value + slack >= old);
                } else {
                    // A value of this block within the slack of the least before.
                    *near.add(r) = 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-1, 1)`.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        crate::noise(n, seed).into_iter().map(|v| 2.0 * v - 1.0).collect()
    }

    /// Checks every level's nearest centres against the `f64` distances: each label's distance
    /// is the least up to rounding, and an exact tie goes to the lower centre.
    fn nearest_matches<R: Real>() {
        for (n, k, d) in [(1, 1, 1), (50, 3, 5), (37, 8, 32), (61, 9, 7), (45, 16, 32), (13, 33, 3)]
        {
            let x: Vec<R> = values(n * d, 1).into_iter().map(R::from_f64).collect();
            let mut c = Array2::from_shape_vec((k, d), values(k * d, 2)).unwrap().mapv(R::from_f64);
            if k > 2 {
                let first = c.row(0).to_owned();
                c.row_mut(k - 1).assign(&first); // an exact tie with centre 0
            }
            let norms: Vec<R> = c
                .rows()
                .into_iter()
                .map(|c| R::from_f64(c.iter().map(|v| v.to_f64().powi(2)).sum()))
                .collect();
            let dist = |i: usize, j: usize| -> f64 {
                (0..d).map(|f| (x[i * d + f].to_f64() - c[[j, f]].to_f64()).powi(2)).sum()
            };
            for level in Level::ALL.into_iter().filter(|l| l.supported()) {
                let reach = (0..n)
                    .map(|i| (0..d).map(|f| x[i * d + f].to_f64().powi(2)).sum::<f64>().sqrt())
                    .fold(0.0, f64::max);
                let centres = Centres::for_level(&c, &norms, reach, level).unwrap();
                let mut labels = vec![-1; n];
                let mut close = Vec::new();
                let changed = centres.nearest(&x, &mut labels, &mut close);
                // Close calls are counted apart; a row nearest to the duplicated centre is one.
                assert_eq!(changed + close.len(), n);
                for (i, &l) in labels.iter().enumerate() {
                    let tied = k > 2 && l == 0;
                    assert!(!tied || close.iter().any(|&(c, _)| c == i), "{level:?} row {i}");
                }
                for (i, &l) in labels.iter().enumerate() {
                    let l = usize::try_from(l).unwrap();
                    let least = (0..k).map(|j| dist(i, j)).fold(f64::INFINITY, f64::min);
                    let slack = 1e3 * R::EPSILON * (1.0 + d as f64);
                    assert!(dist(i, l) <= least + slack, "{level:?} n={n} k={k} d={d} row {i}");
                    assert!(l != k - 1 || k <= 2, "a tie goes to the lower centre");
                }
                assert_eq!(
                    centres.nearest(&x, &mut labels, &mut close),
                    0,
                    "unchanged labels are not counted"
                );
            }
        }
    }

    #[test]
    fn nearest_centres_at_every_level() {
        nearest_matches::<f32>();
        nearest_matches::<f64>();
    }

    #[test]
    fn squared_distances_and_sums_are_exact_sums() {
        let (n, m, d) = (19, 6, 11);
        let x: Vec<f32> = values(n * d, 3).into_iter().map(|v| v as f32).collect();
        let c = values(m * d, 4);
        let mut out = Vec::new();
        let stride = sq_distances(&x, &c, d, &mut out).unwrap();
        assert_eq!((stride, out.len()), (8, 8 * n));
        for (t, i) in (0..m).flat_map(|t| (0..n).map(move |i| (t, i))) {
            let want: f64 = (0..d).map(|f| (f64::from(x[i * d + f]) - c[t * d + f]).powi(2)).sum();
            assert!((out[i * stride + t] - want).abs() <= 1e-12 * want.max(1.0));
        }
        let labels: Vec<i32> = (0..n).map(|i| (i % 3) as i32).collect();
        let weights = values(n, 5);
        let (mut sums, mut totals) = (vec![0.0; 3 * d], vec![0.0; 3]);
        add_rows(&x, d, &labels, &weights, &mut sums, &mut totals);
        for j in 0..3 {
            let rows = (0..n).filter(|i| i % 3 == j);
            assert_eq!(totals[j], rows.clone().map(|i| weights[i]).sum::<f64>());
            for f in 0..d {
                let want: f64 = rows.clone().map(|i| weights[i] * f64::from(x[i * d + f])).sum();
                assert_eq!(sums[j * d + f], want);
            }
        }
    }
}
