//! The first position of the least (greatest) value of a run, found in one pass: each lane of
//! a few registers keeps its best value and where it first saw it (a strict compare and two
//! blends per register), then the lanes are folded, the lowest position kept among equal
//! values. A run too short for the registers, or holding a NaN, is left to the caller: `None`.
//!
//! This replaces a pass for the extreme and a second for its position on lanes short enough
//! for the second pass to cost as much as the first (rows of 100 took 91 ns, NumPy's 34).

use std::arch::x86_64::{
    __m256i, _CMP_EQ_OQ, _CMP_GT_OQ, _CMP_LT_OQ, _CMP_UNORD_Q, _mm256_add_epi32, _mm256_add_epi64,
    _mm256_and_si256, _mm256_blendv_epi8, _mm256_castpd_si256, _mm256_castps_si256,
    _mm256_castsi256_pd, _mm256_castsi256_ps, _mm256_cmp_pd, _mm256_cmp_ps, _mm256_cmpeq_epi32,
    _mm256_cmpeq_epi64, _mm256_cmpgt_epi32, _mm256_cmpgt_epi64, _mm256_loadu_si256,
    _mm256_movemask_epi8, _mm256_or_si256, _mm256_permute2x128_si256, _mm256_set1_epi32,
    _mm256_set1_epi64x, _mm256_setr_epi32, _mm256_setr_epi64x, _mm256_setzero_si256,
    _mm256_shuffle_epi32, _mm256_storeu_si256,
};

use crate::dtype::{Element, Native};

/// Registers of running bests: enough independent blends to keep the loads busy.
const REGS: usize = 4;
const _: () = assert!(REGS.is_multiple_of(2), "NaN is looked for in pairs of registers");

/// Positions held in lanes of 64 or 32 bits, as wide as the elements beside them.
trait Positions {
    /// Positions `k..k + lanes`, one a lane.
    fn starting(k: usize) -> __m256i;
    /// `k` in every lane.
    fn splat(k: usize) -> __m256i;
    /// Lane by lane sums.
    fn add(a: __m256i, b: __m256i) -> __m256i;
    /// All ones in the lanes where position `a` is before position `b`.
    fn earlier(a: __m256i, b: __m256i) -> __m256i;
    /// The lanes' positions (the first `lanes` of the eight).
    fn spill(at: __m256i) -> [usize; 8];
}

/// Positions in 64-bit lanes.
struct P64;
/// Positions in 32-bit lanes.
struct P32;

// Positions fit the lanes: runs are at most `MAX_RUN` long, and never negative.
// SAFETY (every intrinsic in the two impls): AVX2 is enabled in every caller.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, clippy::cast_sign_loss)]
impl Positions for P64 {
    #[inline(always)]
    fn starting(k: usize) -> __m256i {
        let k = k as i64;
        unsafe { _mm256_setr_epi64x(k, k + 1, k + 2, k + 3) }
    }
    #[inline(always)]
    fn splat(k: usize) -> __m256i {
        unsafe { _mm256_set1_epi64x(k as i64) }
    }
    #[inline(always)]
    fn add(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi64(a, b) }
    }
    #[inline(always)]
    fn earlier(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_cmpgt_epi64(b, a) }
    }
    #[inline(always)]
    fn spill(at: __m256i) -> [usize; 8] {
        let mut v = [0i64; 4];
        unsafe { _mm256_storeu_si256(v.as_mut_ptr().cast(), at) };
        std::array::from_fn(|k| v.get(k).map_or(0, |&p| p as usize))
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, clippy::cast_sign_loss)]
impl Positions for P32 {
    #[inline(always)]
    fn starting(k: usize) -> __m256i {
        let k = k as i32;
        unsafe { _mm256_setr_epi32(k, k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7) }
    }
    #[inline(always)]
    fn splat(k: usize) -> __m256i {
        unsafe { _mm256_set1_epi32(k as i32) }
    }
    #[inline(always)]
    fn add(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn earlier(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_cmpgt_epi32(b, a) }
    }
    #[inline(always)]
    fn spill(at: __m256i) -> [usize; 8] {
        let mut v = [0i32; 8];
        unsafe { _mm256_storeu_si256(v.as_mut_ptr().cast(), at) };
        v.map(|p| p as usize)
    }
}

/// A type the pass reads, a register of lanes at a time. The compares take registers as
/// loaded (`__m256i`, whatever the type).
trait Lane: Copy + PartialOrd {
    /// Elements in a register.
    const PER: usize;
    /// Whether the type has a NaN to look for.
    const FLOAT: bool;
    /// Where its positions are held.
    type At: Positions;
    /// All ones in the lanes where `x` is strictly better than `b` (less; greater with `MAX`).
    fn better<const MAX: bool>(x: __m256i, b: __m256i) -> __m256i;
    /// All ones in the lanes where `x` or `y` holds a NaN.
    fn unordered(x: __m256i, y: __m256i) -> __m256i;
    /// All ones in the lanes where `x` equals `b`.
    fn equal(x: __m256i, b: __m256i) -> __m256i;
}

/// [`Lane`] for a float type: ordered compares (false with a NaN), in the type's own width.
macro_rules! float_lane {
    ($t:ty, $per:literal, $at:ty, $to:ident, $from:ident, $cmp:ident) => {
        // SAFETY (every intrinsic): AVX2 is enabled in every caller.
        impl Lane for $t {
            const PER: usize = $per;
            const FLOAT: bool = true;
            type At = $at;
            #[inline(always)]
            fn better<const MAX: bool>(x: __m256i, b: __m256i) -> __m256i {
                unsafe {
                    let (x, b) = ($to(x), $to(b));
                    $from(if MAX { $cmp::<_CMP_GT_OQ>(x, b) } else { $cmp::<_CMP_LT_OQ>(x, b) })
                }
            }
            #[inline(always)]
            fn unordered(x: __m256i, y: __m256i) -> __m256i {
                unsafe { $from($cmp::<_CMP_UNORD_Q>($to(x), $to(y))) }
            }
            #[inline(always)]
            fn equal(x: __m256i, b: __m256i) -> __m256i {
                unsafe { $from($cmp::<_CMP_EQ_OQ>($to(x), $to(b))) }
            }
        }
    };
}

float_lane!(f64, 4, P64, _mm256_castsi256_pd, _mm256_castpd_si256, _mm256_cmp_pd);
float_lane!(f32, 8, P32, _mm256_castsi256_ps, _mm256_castps_si256, _mm256_cmp_ps);

/// [`Lane`] for an integer type: signed compares, no NaN.
macro_rules! int_lane {
    ($t:ty, $per:literal, $at:ty, $gt:ident, $eq:ident) => {
        // SAFETY (every intrinsic): AVX2 is enabled in every caller.
        impl Lane for $t {
            const PER: usize = $per;
            const FLOAT: bool = false;
            type At = $at;
            #[inline(always)]
            fn better<const MAX: bool>(x: __m256i, b: __m256i) -> __m256i {
                unsafe { if MAX { $gt(x, b) } else { $gt(b, x) } }
            }
            #[inline(always)]
            fn unordered(_: __m256i, _: __m256i) -> __m256i {
                unsafe { _mm256_setzero_si256() }
            }
            #[inline(always)]
            fn equal(x: __m256i, b: __m256i) -> __m256i {
                unsafe { $eq(x, b) }
            }
        }
    };
}

int_lane!(i64, 4, P64, _mm256_cmpgt_epi64, _mm256_cmpeq_epi64);
int_lane!(i32, 8, P32, _mm256_cmpgt_epi32, _mm256_cmpeq_epi32);

/// The longest run taken: positions must fit 32-bit lanes.
pub(super) const MAX_RUN: usize = 1 << 30;

/// The pass over `xs` (see the module's text). The last registers' worth is read from
/// `len - REGS * PER` on, overlapping what was read before: an element seen twice is seen at its
/// own position, so the answer is the same.
#[target_feature(enable = "avx2,fma")]
fn first_best<X: Lane, const MAX: bool>(xs: &[X]) -> Option<usize> {
    let step = REGS * X::PER;
    let n = xs.len();
    if n < step || n > MAX_RUN {
        return None;
    }
    let p = xs.as_ptr();
    // SAFETY: every load below reads `PER` elements from `at + r * PER` with `at + step <= n`.
    let load = |at: usize, r: usize| unsafe { _mm256_loadu_si256(p.add(at + r * X::PER).cast()) };
    let first: [__m256i; REGS] = std::array::from_fn(|r| load(0, r));
    let mut best = first;
    // Where each lane's best was seen, as the start of its step (lane `k` of register `r` is
    // at `start + r * PER + k`): one count for every register.
    let mut pos = [X::At::splat(0); REGS];
    let mut nan = _mm256_setzero_si256();
    let mut see = |x: &[__m256i; REGS], here: __m256i| {
        for r in 0..REGS {
            let take = X::better::<MAX>(x[r], best[r]);
            best[r] = _mm256_blendv_epi8(best[r], x[r], take);
            pos[r] = _mm256_blendv_epi8(pos[r], here, take);
        }
        if X::FLOAT {
            // A NaN in either register of a pair shows.
            for r in (0..REGS).step_by(2) {
                nan = _mm256_or_si256(nan, X::unordered(x[r], x[r + 1]));
            }
        }
    };
    see(&first, X::At::splat(0));
    let mut at = step;
    while at + step <= n {
        see(&std::array::from_fn(|r| load(at, r)), X::At::splat(at));
        at += step;
    }
    if at < n {
        let last = n - step;
        see(&std::array::from_fn(|r| load(last, r)), X::At::splat(last));
    }
    for (r, p) in pos.iter_mut().enumerate() {
        *p = X::At::add(*p, X::At::starting(r * X::PER));
    }
    if _mm256_movemask_epi8(nan) != 0 {
        return None;
    }
    // The lanes folded: the best value, the lowest position among lanes that hold it (one
    // answer whatever the order of the folds). The registers lane by lane first, then the
    // lanes of the one left against themselves swapped: halves, pairs of 64 bits, neighbours
    // of 32 — values and positions moved alike, so each lane keeps its own position.
    let pick = |(b, at): (__m256i, __m256i), (x, px): (__m256i, __m256i)| {
        let tie = _mm256_and_si256(X::equal(x, b), X::At::earlier(px, at));
        let take = _mm256_or_si256(X::better::<MAX>(x, b), tie);
        (_mm256_blendv_epi8(b, x, take), _mm256_blendv_epi8(at, px, take))
    };
    let mut won = (best[0], pos[0]);
    for r in 1..REGS {
        won = pick(won, (best[r], pos[r]));
    }
    let halves = |v: __m256i| _mm256_permute2x128_si256::<0x01>(v, v);
    won = pick(won, (halves(won.0), halves(won.1)));
    let pairs = |v: __m256i| _mm256_shuffle_epi32::<0x4E>(v);
    won = pick(won, (pairs(won.0), pairs(won.1)));
    if X::PER == 8 {
        let neighbours = |v: __m256i| _mm256_shuffle_epi32::<0xB1>(v);
        won = pick(won, (neighbours(won.0), neighbours(won.1)));
    }
    Some(X::At::spill(won.1)[0])
}

/// [`first_best`] for the types it reads; `None` for the others.
///
/// # Safety
/// The CPU must have AVX2.
#[inline(always)]
pub(super) unsafe fn first<T: Element>(xs: &[T], max: bool) -> Option<usize> {
    // SAFETY: the caller's promise.
    unsafe {
        match (T::native(xs), max) {
            (Native::F64(v), true) => first_best::<f64, true>(v),
            (Native::F64(v), false) => first_best::<f64, false>(v),
            (Native::F32(v), true) => first_best::<f32, true>(v),
            (Native::F32(v), false) => first_best::<f32, false>(v),
            (Native::I64(v), true) => first_best::<i64, true>(v),
            (Native::I64(v), false) => first_best::<i64, false>(v),
            (Native::I32(v), true) => first_best::<i32, true>(v),
            (Native::I32(v), false) => first_best::<i32, false>(v),
            (Native::Other, _) => None,
        }
    }
}
