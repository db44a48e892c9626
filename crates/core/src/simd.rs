//! Block kernels compiled for several instruction sets and chosen at run time.
//!
//! Every kernel is written once, as plain Rust over fixed arrays of `LANES` independent
//! accumulators, and compiled three times on x86-64 (the baseline, AVX2 + FMA, AVX-512) by
//! `multilevel!`. For `float32`/`float64` the AVX2 and AVX-512 copies take hand-written AVX2
//! loops instead (the compiler's own vectorization of the widening and of the accumulator
//! arrays measured 2-3x slower): the same accumulators in the same order, four leaves in flight
//! to hide the latency of the additions. The accumulators are combined in a fixed order whatever
//! the level, so every level gives the same bits (the tests force each level and compare). One
//! portable build: no `-C target-cpu` anywhere. Dispatch is the standard library's
//! `is_x86_feature_detected!` and `#[target_feature]`, which needs no crate.

#![allow(unsafe_code)]
// Inlining is how each kernel body is compiled into each instruction-set copy.
#![allow(clippy::inline_always)]

use std::sync::atomic::{AtomicU8, Ordering};

use crate::dtype::Element;
use crate::error::{Error, Result};

/// Independent accumulators per leaf, as NumPy's pairwise sum has (measured faster than 16 here,
/// float32 most: its widening vectorizes cleanly into eight lanes).
pub(crate) const LANES: usize = 8;
/// Independent running extremes in min/max (more than sums: a select chain is longer).
pub(crate) const EXT_LANES: usize = 16;
/// Elements per leaf of the pairwise sum; each accumulator takes `LEAF / LANES` of them.
pub(crate) const LEAF: usize = 128;

/// An instruction-set level the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Level {
    /// The target's baseline: SSE2 on x86-64, NEON on aarch64.
    Baseline = 0,
    /// AVX2 with FMA (x86-64-v3).
    Avx2 = 1,
    /// AVX-512 F/BW/DQ/VL (x86-64-v4).
    Avx512 = 2,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    /// The level's name (`"baseline"`, `"avx2"`, `"avx512"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the level.
    #[must_use]
    pub fn supported(self) -> bool {
        match self {
            Level::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Avx512,
            1 => Level::Avx2,
            _ => Level::Baseline,
        }
    }
}

/// Environment variable that picks the level (`baseline`, `avx2`, `avx512`) at start-up; a level
/// this CPU lacks is lowered to the best it has.
pub const ENV_SIMD: &str = "NOCOPY_SIMD";

const UNSET: u8 = u8::MAX;
static CHOSEN: AtomicU8 = AtomicU8::new(UNSET);

/// The best level this CPU supports.
#[must_use]
pub fn detected() -> Level {
    Level::ALL.into_iter().rev().find(|l| l.supported()).unwrap_or(Level::Baseline)
}

/// The level the kernels use: `NOCOPY_SIMD` or [`set_level`] if given, else AVX2 where the CPU
/// has it.
///
/// AVX-512 is not the default: on the Xeon this was measured on, its copy of the squared
/// deviation pass ran 2.3x slower than the AVX2 one (the compiler splits it into 128-bit pieces)
/// and no kernel ran faster; `NOCOPY_SIMD=avx512` selects it.
#[must_use]
#[inline]
pub fn level() -> Level {
    let v = CHOSEN.load(Ordering::Relaxed);
    if v != UNSET {
        return Level::from_u8(v);
    }
    let best = detected();
    let wanted = std::env::var(ENV_SIMD)
        .ok()
        .and_then(|name| {
            Level::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(name.trim()))
        })
        .unwrap_or(Level::Avx2);
    let chosen = if (wanted as u8) < (best as u8) { wanted } else { best };
    CHOSEN.store(chosen as u8, Ordering::Relaxed);
    chosen
}

/// Makes the kernels use `level` from now on (for tests and measurements).
pub fn set_level(level: Level) -> Result<()> {
    if !level.supported() {
        return Err(Error::Invalid(format!("this CPU cannot run the {} kernels", level.name())));
    }
    CHOSEN.store(level as u8, Ordering::Relaxed);
    Ok(())
}

/// Asks for the cache line holding `p` ahead of its use (any address: a prefetch never faults,
/// and reads nothing). A no-op where the target has no prefetch instruction in its baseline.
///
/// Measured on 10^7 elements from memory: the hardware prefetcher alone kept one thread's
/// min/max at 6.4 GB/s, where asking a few lines ahead reaches 8.9; float32 sums on two threads
/// went from 2.8 to 1.5 ms.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is in the x86-64 baseline; a prefetch neither faults nor reads memory.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Defines `pub(crate) fn $name<T: Element>(args) -> R` that runs `$body` compiled for the
/// chosen [`Level`]. `$body` must be `#[inline(always)]` so that it is compiled into each copy;
/// it takes the level as a const parameter (`Level as u8`), for the hand-written loops only the
/// higher levels may take.
macro_rules! multilevel {
    ($(#[$doc:meta])* fn $name:ident<T>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:ident;) => {
        $(#[$doc])*
        #[inline]
        // Only the dispatch below: the bodies are compiled (and checked) where they are written.
        #[allow(unsafe_code)]
        pub(crate) fn $name<T: $crate::dtype::Element>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2<T: $crate::dtype::Element>($($arg: $ty),*) -> $ret {
                    $body::<T, { $crate::simd::Level::Avx2 as u8 }>($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512<T: $crate::dtype::Element>($($arg: $ty),*) -> $ret {
                    $body::<T, { $crate::simd::Level::Avx512 as u8 }>($($arg),*)
                }
                match $crate::simd::level() {
                    // SAFETY: `level()` only returns a level whose features this CPU has.
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            $body::<T, { $crate::simd::Level::Baseline as u8 }>($($arg),*)
        }
    };
}
pub(crate) use multilevel;

/// What a pairwise pass adds up per element: the value, or its squared deviation from a mean;
/// NaN elements count as zero when `skipna` is set.
#[derive(Clone, Copy)]
struct Term {
    /// `Some(mean)` for squared deviations.
    mean: Option<f64>,
    skipna: bool,
}

impl Term {
    #[inline(always)]
    fn of<T: Element>(self, x: T) -> f64 {
        let v = x.to_f64();
        let t = match self.mean {
            Some(m) => (v - m) * (v - m),
            None => v,
        };
        if self.skipna && x.is_nan() { 0.0 } else { t }
    }
}

/// Sum of the accumulators in a fixed tree, neighbours first.
#[inline(always)]
fn tree_lanes(mut a: [f64; LANES]) -> f64 {
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for k in 0..n {
            a[k] = a[2 * k] + a[2 * k + 1];
        }
    }
    a[0]
}

/// Sums the terms over at most one leaf: element `i` goes to accumulator `i % LANES`.
#[inline(always)]
fn leaf<T: Element>(xs: &[T], term: Term) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            acc[k] += term.of(c[k]);
        }
    }
    for (a, &x) in acc.iter_mut().zip(tail) {
        *a += term.of(x);
    }
    tree_lanes(acc)
}

/// Writes the sums of the leaves of `xs` (the last one maybe part of a leaf) to `sums` and
/// returns how many: [`leaf`] of each, taken with hand-written AVX2 loops where the level allows.
#[inline(always)]
fn leaf_sums<T: Element, const L: u8>(xs: &[T], term: Term, sums: &mut [f64]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if L >= Level::Avx2 as u8 {
        // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
        unsafe {
            match T::native(xs) {
                crate::dtype::Native::F32(v) => return x86::leaf_sums_f32(v, term, sums),
                crate::dtype::Native::F64(v) => return x86::leaf_sums_f64(v, term, sums),
                _ => {}
            }
        }
    }
    let leaves = xs.chunks(LEAF);
    let n = leaves.len();
    for (s, chunk) in sums.iter_mut().zip(leaves) {
        *s = leaf(chunk, term);
    }
    n
}

/// Pairwise sum of the terms: leaves of [`LEAF`] elements, their sums merged pairwise,
/// neighbours first, in rounds (a fixed tree for a given length).
#[inline(always)]
fn pairwise<T: Element, const L: u8>(xs: &[T], term: Term) -> f64 {
    const MAX_LEAVES: usize = crate::engine::BLOCK / LEAF;
    if xs.len() > crate::engine::BLOCK {
        // Longer slices (only through the public `Moments::of`) go block by block.
        let mut sums = xs.chunks(crate::engine::BLOCK).map(|b| pairwise::<T, L>(b, term));
        let first = sums.next().unwrap_or(0.0);
        return sums.fold(first, |a, b| a + b);
    }
    let mut s = [0.0f64; MAX_LEAVES];
    let mut n = leaf_sums::<T, L>(xs, term, &mut s);
    while n > 1 {
        for i in 0..n / 2 {
            s[i] = s[2 * i] + s[2 * i + 1];
        }
        if n % 2 == 1 {
            s[n / 2] = s[n - 1];
        }
        n = n.div_ceil(2);
    }
    s[0]
}

/// Evenly spaced histogram bins as [`crate::histogram`] finds them: NumPy's estimate
/// `(x - lo) * scale` clamped to `0..=top`, then one step down or up as the edges say, and
/// `top + 2` (past the last bin) for a value outside `lo..=hi` or NaN.
pub(crate) struct EvenBins<'e> {
    pub(crate) edges: &'e [f64],
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) scale: f64,
    /// The last bin's index, as a float (below 2³¹).
    pub(crate) top: f64,
}

/// Writes the bin of `vals[i]` to `at[i]` for the first whole fours of `vals` where the level
/// allows AVX2 (each value's two edges one 128-bit load, the steps as masks: the same
/// arithmetic and comparisons as the scalar finder, so the same bins), and returns how many it
/// did: 0 at the baseline level, and the caller finds the rest.
pub(crate) fn even_bins(vals: &[f64], at: &mut [usize], bins: &EvenBins<'_>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if level() as u8 >= Level::Avx2 as u8 {
        // SAFETY: `level()` is AVX2 or above only on a CPU that has AVX2.
        #[allow(unsafe_code)]
        return unsafe { x86::even_bins(vals, at, bins) };
    }
    let _ = (vals, at, bins);
    0
}

#[cfg(target_arch = "x86_64")]
mod arg;

/// Hand-written AVX2 loops for float leaves: the same accumulators, in the same order, as
/// [`leaf`] (accumulators `0..4` and `4..8` are one register each), a leaf after another.
#[cfg(target_arch = "x86_64")]
mod x86 {

    use std::arch::x86_64::{
        __m256, __m256d, __m512, _CMP_ORD_Q, _CMP_UNORD_Q, _mm256_add_pd, _mm256_and_pd,
        _mm256_blendv_epi8, _mm256_castps256_ps128, _mm256_cmp_pd, _mm256_cmp_ps,
        _mm256_cmpgt_epi64, _mm256_cvtps_pd, _mm256_extractf128_ps, _mm256_fmadd_ps,
        _mm256_loadu_pd, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_max_epi32, _mm256_max_pd,
        _mm256_max_ps, _mm256_min_epi32, _mm256_min_pd, _mm256_min_ps, _mm256_movemask_pd,
        _mm256_movemask_ps, _mm256_mul_pd, _mm256_or_pd, _mm256_or_ps, _mm256_set1_epi32,
        _mm256_set1_epi64x, _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd, _mm256_setzero_ps,
        _mm256_storeu_pd, _mm256_storeu_ps, _mm256_storeu_si256, _mm256_sub_pd, _mm512_fmadd_ps,
        _mm512_reduce_add_ps, _mm512_set1_ps,
    };

    use super::{EXT_LANES, LANES, LEAF, ONE_LANES, Term, prefetch, tree_lanes};

    /// Per-lane minima and maxima as `f64`, whether a NaN was seen, and elements covered.
    type Extremes = ([f64; EXT_LANES], [f64; EXT_LANES], bool, usize);

    /// Steps of eight elements per leaf.
    const STEPS: usize = LEAF / LANES;

    /// The eight accumulators held in two registers.
    #[inline(always)]
    fn spill(lo: __m256d, hi: __m256d) -> [f64; LANES] {
        let mut acc = [0.0f64; LANES];
        // SAFETY: `acc` holds eight doubles; AVX is enabled in every caller.
        unsafe {
            _mm256_storeu_pd(acc.as_mut_ptr(), lo);
            _mm256_storeu_pd(acc.as_mut_ptr().add(4), hi);
        }
        acc
    }

    /// The leaf sum from the two accumulator registers, combined as [`tree_lanes`] does.
    #[inline(always)]
    fn finish(lo: __m256d, hi: __m256d) -> f64 {
        tree_lanes(spill(lo, hi))
    }

    /// Sums of the leaves of `n` elements into `sums`, and how many leaves (with `pairs`, two
    /// whole leaves at a time, each summed exactly as alone): `load(i)` gives
    /// elements `8i..8i+8` as two registers of doubles, `f` turns values into terms, `one(i)` is
    /// the term of element `i` (for the last few, added to the accumulators one by one as
    /// [`super::leaf`] does).
    #[inline(always)]
    fn run(
        n: usize,
        sums: &mut [f64],
        load: impl Fn(usize) -> (__m256d, __m256d),
        f: impl Fn(__m256d) -> __m256d,
        one: impl Fn(usize) -> f64,
        ahead: impl Fn(usize),
        pairs: bool,
    ) -> usize {
        // SAFETY (every intrinsic below): AVX2 is enabled in every caller.
        // Leaf after leaf (unless `pairs`): memory is read in order. Four leaves side by side
        // (eight chains, reads 1 KiB apart) read 10^7 float64 from memory at 13.6-16 GB/s on
        // one thread, leaf after leaf at 17-22.
        let leaves = n / LEAF;
        let mut first = 0;
        if pairs {
            // Two leaves side by side: four chains of additions, each leaf's own as above.
            for (p, two) in sums[..leaves / 2 * 2].chunks_exact_mut(2).enumerate() {
                let l = 2 * p;
                let z = unsafe { _mm256_setzero_pd() };
                let (mut lo0, mut hi0, mut lo1, mut hi1) = (z, z, z, z);
                for i in 0..STEPS {
                    ahead(l * LEAF + i * LANES);
                    ahead((l + 1) * LEAF + i * LANES);
                    let (a, b) = load(l * STEPS + i);
                    let (c, d) = load((l + 1) * STEPS + i);
                    lo0 = unsafe { _mm256_add_pd(lo0, f(a)) };
                    hi0 = unsafe { _mm256_add_pd(hi0, f(b)) };
                    lo1 = unsafe { _mm256_add_pd(lo1, f(c)) };
                    hi1 = unsafe { _mm256_add_pd(hi1, f(d)) };
                }
                two[0] = finish(lo0, hi0);
                two[1] = finish(lo1, hi1);
            }
            first = leaves / 2 * 2;
        }
        for (l, sum) in sums[..leaves].iter_mut().enumerate().skip(first) {
            let (mut lo, mut hi) = unsafe { (_mm256_setzero_pd(), _mm256_setzero_pd()) };
            for i in 0..STEPS {
                ahead(l * LEAF + i * LANES);
                let (a, b) = load(l * STEPS + i);
                lo = unsafe { _mm256_add_pd(lo, f(a)) };
                hi = unsafe { _mm256_add_pd(hi, f(b)) };
            }
            *sum = finish(lo, hi);
        }
        let rest = n - leaves * LEAF;
        if rest == 0 {
            return leaves;
        }
        let (mut lo, mut hi) = unsafe { (_mm256_setzero_pd(), _mm256_setzero_pd()) };
        for i in 0..rest / LANES {
            let (a, b) = load(leaves * STEPS + i);
            lo = unsafe { _mm256_add_pd(lo, f(a)) };
            hi = unsafe { _mm256_add_pd(hi, f(b)) };
        }
        let mut acc = spill(lo, hi);
        for (k, a) in acc.iter_mut().enumerate().take(rest % LANES) {
            *a += one(n - rest % LANES + k);
        }
        sums[leaves] = tree_lanes(acc);
        leaves + 1
    }

    /// Runs `run` with the term function for `term`, each variant its own loop.
    #[inline(always)]
    fn with_term(
        n: usize,
        term: Term,
        sums: &mut [f64],
        load: impl Fn(usize) -> (__m256d, __m256d) + Copy,
        one: impl Fn(usize) -> f64 + Copy,
        ahead: impl Fn(usize) + Copy,
        pairs: bool,
    ) -> usize {
        // SAFETY (every intrinsic below): AVX2 is enabled in every caller.
        let skip =
            |v: __m256d, t: __m256d| unsafe { _mm256_and_pd(t, _mm256_cmp_pd::<_CMP_ORD_Q>(v, v)) };
        match (term.mean, term.skipna) {
            (None, false) => run(n, sums, load, |v| v, one, ahead, pairs),
            (None, true) => run(n, sums, load, |v| skip(v, v), one, ahead, pairs),
            (Some(m), skipna) => {
                let m = unsafe { _mm256_set1_pd(m) };
                let sq = move |v: __m256d| unsafe {
                    let d = _mm256_sub_pd(v, m);
                    _mm256_mul_pd(d, d)
                };
                if skipna {
                    run(n, sums, load, |v| skip(v, sq(v)), one, ahead, pairs)
                } else {
                    run(n, sums, load, sq, one, ahead, pairs)
                }
            }
        }
    }

    /// Leaf sums of `float32` elements, widened to `float64`. Inlined into the AVX2 copy of
    /// its callers: called, its `Term` went through the stack, and reading the `bool` back as
    /// part of a word stalled each call (a fifth of `sum(axis=2)` of (100, 100, 100)).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn leaf_sums_f32(xs: &[f32], term: Term, sums: &mut [f64]) -> usize {
        let n = xs.len();
        let p = xs.as_ptr();
        let load = move |i: usize| {
            assert!(i * LANES + LANES <= n);
            // SAFETY: the eight elements from `8i` are inside `xs` (asserted above).
            unsafe {
                let v = _mm256_loadu_ps(p.add(i * LANES));
                (
                    _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
                )
            }
        };
        // A line every other step, four leaves (2 KiB) ahead: 10^7 float32 from memory at
        // 14.5 GB/s on one thread, 12-14 without.
        let ahead = move |i: usize| {
            if i.is_multiple_of(16) {
                prefetch(p.wrapping_add(i + 4 * LEAF));
            }
        };
        // Two leaves side by side: widening makes these sums compute-bound, and one leaf's two
        // chains of additions leave the adders idle (the scheduler does not reach into the next
        // leaf). Min of 3 runs of 9: `sum` of 10⁵ float32 19.7 -> 13.0 µs, 10⁶ 193 -> 120,
        // `var` 10⁶ 349 -> 257, `sum(axis=1)` of (1000, 1000) 187 -> 141; 10⁷ from memory
        // within noise.
        with_term(n, term, sums, load, |i: usize| term.of(xs[i]), ahead, true)
    }

    /// Running extremes of the whole leaves at the start of `xs`, as [`super::Extremes`] keeps
    /// them (element `i` in lane `i % 16`, first element as the start; `_mm256_min_*(x, lo)` is
    /// `if x < lo { x } else { lo }`, exactly its select), widened to `f64` (exact), whether a NaN
    /// was seen, and how many elements that covers; `None` if there is no whole leaf.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extremes_f32(xs: &[f32]) -> Option<Extremes> {
        const AHEAD: usize = 512;
        let whole = xs.len() / LEAF * LEAF;
        if whole == 0 {
            return None;
        }
        // Two registers of eight lanes each.
        let first = _mm256_set1_ps(xs[0]);
        let (mut lo, mut hi, mut nan) = ([first; 2], [first; 2], [_mm256_setzero_ps(); 2]);
        for c in xs[..whole].chunks_exact(EXT_LANES) {
            prefetch(c.as_ptr().wrapping_add(AHEAD));
            for r in 0..2 {
                // SAFETY: `c` holds sixteen elements.
                let x = unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * r)) };
                lo[r] = _mm256_min_ps(x, lo[r]);
                hi[r] = _mm256_max_ps(x, hi[r]);
                nan[r] = _mm256_or_ps(nan[r], _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            }
        }
        let (mut l, mut h) = ([0.0f32; EXT_LANES], [0.0f32; EXT_LANES]);
        for r in 0..2 {
            // SAFETY: each array holds sixteen floats.
            unsafe {
                _mm256_storeu_ps(l.as_mut_ptr().add(8 * r), lo[r]);
                _mm256_storeu_ps(h.as_mut_ptr().add(8 * r), hi[r]);
            }
        }
        let seen = _mm256_movemask_ps(_mm256_or_ps(nan[0], nan[1])) != 0;
        Some((l.map(f64::from), h.map(f64::from), seen, whole))
    }

    /// [`extremes_f32`] for `float64` elements.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extremes_f64(xs: &[f64]) -> Option<Extremes> {
        const AHEAD: usize = 256;
        let whole = xs.len() / LEAF * LEAF;
        if whole == 0 {
            return None;
        }
        // Four registers of four lanes each.
        let first = _mm256_set1_pd(xs[0]);
        let (mut lo, mut hi, mut nan) = ([first; 4], [first; 4], [_mm256_setzero_pd(); 4]);
        for c in xs[..whole].chunks_exact(EXT_LANES) {
            prefetch(c.as_ptr().wrapping_add(AHEAD));
            for r in 0..4 {
                // SAFETY: `c` holds sixteen elements.
                let x = unsafe { _mm256_loadu_pd(c.as_ptr().add(4 * r)) };
                lo[r] = _mm256_min_pd(x, lo[r]);
                hi[r] = _mm256_max_pd(x, hi[r]);
                nan[r] = _mm256_or_pd(nan[r], _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x));
            }
        }
        let (mut l, mut h) = ([0.0f64; EXT_LANES], [0.0f64; EXT_LANES]);
        for r in 0..4 {
            // SAFETY: each array holds sixteen doubles.
            unsafe {
                _mm256_storeu_pd(l.as_mut_ptr().add(4 * r), lo[r]);
                _mm256_storeu_pd(h.as_mut_ptr().add(4 * r), hi[r]);
            }
        }
        let any = _mm256_or_pd(_mm256_or_pd(nan[0], nan[1]), _mm256_or_pd(nan[2], nan[3]));
        Some((l, h, _mm256_movemask_pd(any) != 0, whole))
    }

    /// Running extremes of the whole runs of [`ONE_LANES`] at the start of `xs` as
    /// [`super::extreme_one`] keeps them (element `i` in lane `i % 32`, the first element as the
    /// start; `_mm256_min_pd(x, b)` is `if x < b { x } else { b }`, exactly its select, and
    /// `_mm256_max_pd(x, b)` likewise), whether a NaN was seen, and how many elements that covers.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extreme_one_f64<const MAX: bool>(xs: &[f64]) -> ([f64; ONE_LANES], bool, usize) {
        let whole = xs.len() / ONE_LANES * ONE_LANES;
        let mut best = [_mm256_set1_pd(xs[0]); 8];
        let mut nan = [_mm256_setzero_pd(); 2];
        for c in xs[..whole].chunks_exact(ONE_LANES) {
            // SAFETY: `c` holds 32 elements, eight registers of four.
            let x: [__m256d; 8] =
                std::array::from_fn(|r| unsafe { _mm256_loadu_pd(c.as_ptr().add(4 * r)) });
            for r in 0..8 {
                best[r] =
                    if MAX { _mm256_max_pd(x[r], best[r]) } else { _mm256_min_pd(x[r], best[r]) };
            }
            // Unordered pairs: a NaN in either register of a pair shows.
            for h in 0..2 {
                let a = _mm256_cmp_pd::<_CMP_UNORD_Q>(x[4 * h], x[4 * h + 1]);
                let b = _mm256_cmp_pd::<_CMP_UNORD_Q>(x[4 * h + 2], x[4 * h + 3]);
                nan[h] = _mm256_or_pd(nan[h], _mm256_or_pd(a, b));
            }
        }
        let mut lanes = [0.0f64; ONE_LANES];
        for (r, b) in best.iter().enumerate() {
            // SAFETY: `lanes` holds 32 doubles.
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr().add(4 * r), *b) };
        }
        (lanes, _mm256_movemask_pd(_mm256_or_pd(nan[0], nan[1])) != 0, whole)
    }

    /// [`extreme_one_f64`] for `int64` elements (no NaN): `b` becomes `x` where `x < b`
    /// (`x > b` with `MAX`), by a compare and a blend, as the select does.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extreme_one_i64<const MAX: bool>(xs: &[i64]) -> ([i64; ONE_LANES], usize) {
        let whole = xs.len() / ONE_LANES * ONE_LANES;
        let mut best = [_mm256_set1_epi64x(xs[0]); 8];
        for c in xs[..whole].chunks_exact(ONE_LANES) {
            for (r, b) in best.iter_mut().enumerate() {
                // SAFETY: `c` holds 32 elements, eight registers of four.
                let x = unsafe { _mm256_loadu_si256(c.as_ptr().add(4 * r).cast()) };
                let take = if MAX { _mm256_cmpgt_epi64(x, *b) } else { _mm256_cmpgt_epi64(*b, x) };
                *b = _mm256_blendv_epi8(*b, x, take);
            }
        }
        let mut lanes = [0i64; ONE_LANES];
        for (r, b) in best.iter().enumerate() {
            // SAFETY: `lanes` holds 32 words.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().add(4 * r).cast(), *b) };
        }
        (lanes, whole)
    }

    /// [`extreme_one_f64`] for `float32` elements: the same 32 lanes, four registers of eight
    /// (`_mm256_min_ps(x, b)` is the select too).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extreme_one_f32<const MAX: bool>(xs: &[f32]) -> ([f32; ONE_LANES], bool, usize) {
        let whole = xs.len() / ONE_LANES * ONE_LANES;
        let mut best = [_mm256_set1_ps(xs[0]); 4];
        let mut nan = _mm256_setzero_ps();
        for c in xs[..whole].chunks_exact(ONE_LANES) {
            // SAFETY: `c` holds 32 elements, four registers of eight.
            let x: [__m256; 4] =
                std::array::from_fn(|r| unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * r)) });
            for r in 0..4 {
                best[r] =
                    if MAX { _mm256_max_ps(x[r], best[r]) } else { _mm256_min_ps(x[r], best[r]) };
            }
            let a = _mm256_cmp_ps::<_CMP_UNORD_Q>(x[0], x[1]);
            let b = _mm256_cmp_ps::<_CMP_UNORD_Q>(x[2], x[3]);
            nan = _mm256_or_ps(nan, _mm256_or_ps(a, b));
        }
        let mut lanes = [0.0f32; ONE_LANES];
        for (r, b) in best.iter().enumerate() {
            // SAFETY: `lanes` holds 32 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * r), *b) };
        }
        (lanes, _mm256_movemask_ps(nan) != 0, whole)
    }

    /// [`extreme_one_i64`] for `int32` elements, four registers of eight.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn extreme_one_i32<const MAX: bool>(xs: &[i32]) -> ([i32; ONE_LANES], usize) {
        let whole = xs.len() / ONE_LANES * ONE_LANES;
        let mut best = [_mm256_set1_epi32(xs[0]); 4];
        for c in xs[..whole].chunks_exact(ONE_LANES) {
            for (r, b) in best.iter_mut().enumerate() {
                // SAFETY: `c` holds 32 elements, four registers of eight.
                let x = unsafe { _mm256_loadu_si256(c.as_ptr().add(8 * r).cast()) };
                *b = if MAX { _mm256_max_epi32(x, *b) } else { _mm256_min_epi32(x, *b) };
            }
        }
        let mut lanes = [0i32; ONE_LANES];
        for (r, b) in best.iter().enumerate() {
            // SAFETY: `lanes` holds 32 words.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().add(8 * r).cast(), *b) };
        }
        (lanes, whole)
    }

    /// [`super::even_bins`] on a CPU with AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn even_bins(vals: &[f64], at: &mut [usize], b: &super::EvenBins<'_>) -> usize {
        use std::arch::x86_64::{
            _CMP_GE_OQ, _CMP_LE_OQ, _CMP_LT_OQ, _mm_loadu_pd, _mm_storeu_si128, _mm256_add_epi64,
            _mm256_blendv_pd, _mm256_castpd_si256, _mm256_castsi256_pd, _mm256_cvtepi32_epi64,
            _mm256_cvttpd_epi32, _mm256_set_m128d, _mm256_set1_epi64x, _mm256_setzero_si256,
            _mm256_sub_epi64, _mm256_unpackhi_pd, _mm256_unpacklo_pd,
        };
        let n = vals.len().min(at.len()) / 4 * 4;
        let e = b.edges;
        // The loads read `edges[i]` and `edges[i + 1]` for `i <= top`: inside `edges`.
        assert!(e.len() >= 2 && b.top + 2.0 <= e.len() as f64 && b.top < 2_147_483_648.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let last = b.top as i64;
        let (lo, hi) = (_mm256_set1_pd(b.lo), _mm256_set1_pd(b.hi));
        let (scale, top, zero) =
            (_mm256_set1_pd(b.scale), _mm256_set1_pd(b.top), _mm256_setzero_pd());
        let (first, last_i, past) =
            (_mm256_setzero_si256(), _mm256_set1_epi64x(last), _mm256_set1_epi64x(last + 1));
        for k in (0..n).step_by(4) {
            // SAFETY: `k + 4 <= n <= vals.len(), at.len()`; the gathered indices are in
            // `0..=top` (clamped below), so `i` and `i + 1` are edges.
            unsafe {
                let x = _mm256_loadu_pd(vals.as_ptr().add(k));
                // `min_pd(f, top)` is `f < top ? f : top` and `max_pd(f, 0)` is `f > 0 ? f : 0`,
                // the scalar clamps exactly (NaN goes to `top`, then is out of range).
                let f = _mm256_max_pd(
                    _mm256_min_pd(_mm256_mul_pd(_mm256_sub_pd(x, lo), scale), top),
                    zero,
                );
                let i32s = _mm256_cvttpd_epi32(f);
                // Each value's two edges are neighbours, one 128-bit load: four loads and two
                // unpacks in place of two gathers (which took 60 % of the time).
                let mut ix = [0i32; 4];
                _mm_storeu_si128(ix.as_mut_ptr().cast(), i32s);
                #[allow(clippy::cast_sign_loss)]
                let pair = |j: usize| _mm_loadu_pd(e.as_ptr().add(ix[j] as usize));
                let (p02, p13) =
                    (_mm256_set_m128d(pair(2), pair(0)), _mm256_set_m128d(pair(3), pair(1)));
                let (below, above) = (_mm256_unpacklo_pd(p02, p13), _mm256_unpackhi_pd(p02, p13));
                let i = _mm256_cvtepi32_epi64(i32s);
                let valid = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(x, lo),
                    _mm256_cmp_pd::<_CMP_LE_OQ>(x, hi),
                );
                let down = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_LT_OQ>(x, below),
                    _mm256_castsi256_pd(_mm256_cmpgt_epi64(i, first)),
                );
                let up = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(x, above),
                    _mm256_castsi256_pd(_mm256_cmpgt_epi64(last_i, i)),
                );
                // The masks are -1 where set: `i - down + up` is `i + down_mask - up_mask`.
                let stepped = _mm256_sub_epi64(
                    _mm256_add_epi64(i, _mm256_castpd_si256(down)),
                    _mm256_castpd_si256(up),
                );
                let bin = _mm256_blendv_pd(
                    _mm256_castsi256_pd(past),
                    _mm256_castsi256_pd(stepped),
                    valid,
                );
                _mm256_storeu_si256(at.as_mut_ptr().add(k).cast(), _mm256_castpd_si256(bin));
            }
        }
        n
    }

    /// Leaf sums of `float64` elements (inlined as [`leaf_sums_f32`] is).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn leaf_sums_f64(xs: &[f64], term: Term, sums: &mut [f64]) -> usize {
        let n = xs.len();
        let p = xs.as_ptr();
        let load = move |i: usize| {
            assert!(i * LANES + LANES <= n);
            // SAFETY: the eight elements from `8i` are inside `xs` (asserted above).
            unsafe { (_mm256_loadu_pd(p.add(i * LANES)), _mm256_loadu_pd(p.add(i * LANES + 4))) }
        };
        // Asking ahead here gained nothing (the hardware's own prefetch keeps up).
        // Leaf after leaf: two leaves side by side read 10⁷ float64 from memory 10-20 % slower
        // (3.39 ms against 2.86), and in cache these sums run near the cache's speed anyway.
        with_term(n, term, sums, load, |i: usize| term.of(xs[i]), |_| {}, false)
    }

    /// Ten chains of 256-bit fused multiply-adds, `rounds` long; their sum.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn fma256(rounds: u64) -> f32 {
        let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc: [__m256; 10] = [_mm256_set1_ps(1.0); 10];
        for _ in 0..rounds {
            for a in &mut acc {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let mut out = [0.0f32; 8];
        let mut sum = 0.0;
        for a in acc {
            // SAFETY: `out` holds eight floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), a) };
            sum += out.iter().sum::<f32>();
        }
        sum
    }

    /// Ten chains of 512-bit fused multiply-adds, `rounds` long; their sum.
    #[target_feature(enable = "avx512f")]
    pub(super) fn fma512(rounds: u64) -> f32 {
        let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc: [__m512; 10] = [_mm512_set1_ps(1.0); 10];
        for _ in 0..rounds {
            for a in &mut acc {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }
}

#[inline(always)]
fn sum_body<T: Element, const L: u8>(xs: &[T], skipna: bool) -> (u64, f64) {
    let count =
        if skipna { xs.iter().filter(|x| !x.is_nan()).count() as u64 } else { xs.len() as u64 };
    (count, pairwise::<T, L>(xs, Term { mean: None, skipna }))
}

/// Running extremes per lane; the NaN test is left to the caller.
struct Extremes<T> {
    lo: [T; EXT_LANES],
    hi: [T; EXT_LANES],
    /// One word per lane (not a bool: words match the lanes' width and vectorize cleanly).
    nan: [u64; EXT_LANES],
}

impl<T: Element> Extremes<T> {
    #[inline(always)]
    fn new(first: T) -> Self {
        Extremes { lo: [first; EXT_LANES], hi: [first; EXT_LANES], nan: [0; EXT_LANES] }
    }

    #[inline(always)]
    fn see(&mut self, k: usize, x: T) {
        self.lo[k] = if x.less(self.lo[k]) { x } else { self.lo[k] };
        self.hi[k] = if self.hi[k].less(x) { x } else { self.hi[k] };
        self.nan[k] |= u64::from(x.is_nan());
    }

    /// Minimum, maximum, and whether a NaN was seen.
    #[inline(always)]
    fn finish(&self) -> (T, T, bool) {
        let lo = self.lo[1..].iter().fold(self.lo[0], |b, &x| if x.less(b) { x } else { b });
        let hi = self.hi[1..].iter().fold(self.hi[0], |b, &x| if b.less(x) { x } else { b });
        (lo, hi, self.nan.iter().any(|&n| n != 0))
    }
}

multilevel! {
    /// Count and pairwise float sum of a block (NaN skipped or not).
    fn sum_block<T>(xs: &[T], skipna: bool) -> (u64, f64) = sum_body;
}

#[inline(always)]
fn m2_body<T: Element, const L: u8>(xs: &[T], mean: f64, skipna: bool) -> f64 {
    pairwise::<T, L>(xs, Term { mean: Some(mean), skipna })
}

/// [`sum_block`], then the squared deviations from the mean it gives, in one call (one copy
/// of the kernels chosen per block, not one per pass).
#[inline(always)]
#[allow(clippy::cast_precision_loss)]
fn moments_body<T: Element, const L: u8>(xs: &[T], skipna: bool) -> (u64, f64, f64) {
    let (count, sum) = sum_body::<T, L>(xs, skipna);
    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
    (count, sum, m2_body::<T, L>(xs, mean, skipna))
}

multilevel! {
    /// Count, sum and squared deviations from the mean of a block (NaN skipped or not).
    fn moments_block<T>(xs: &[T], skipna: bool) -> (u64, f64, f64) = moments_body;
}

/// Minimum and maximum of a non-empty slice, and whether it holds a NaN; element `i` of each
/// leaf goes to running extreme `i % EXT_LANES`.
#[inline(always)]
fn min_max_body<T: Element, const L: u8>(xs: &[T]) -> (T, T, bool) {
    let mut ext = Extremes::new(xs[0]);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if L >= Level::Avx2 as u8 {
        // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
        let whole = unsafe {
            match T::native(xs) {
                crate::dtype::Native::F32(v) => x86::extremes_f32(v),
                crate::dtype::Native::F64(v) => x86::extremes_f64(v),
                _ => None,
            }
        };
        if let Some((lo, hi, nan, n)) = whole {
            ext.lo = lo.map(T::from_f64);
            ext.hi = hi.map(T::from_f64);
            ext.nan = [u64::from(nan); EXT_LANES];
            done = n;
        }
    }
    for leaf in xs[done..].chunks(LEAF) {
        let chunks = leaf.chunks_exact(EXT_LANES);
        let tail = chunks.remainder();
        for c in chunks {
            let c: &[T; EXT_LANES] = c.try_into().expect("chunks_exact gives EXT_LANES elements");
            for (k, &x) in c.iter().enumerate() {
                ext.see(k, x);
            }
        }
        for (k, &x) in tail.iter().enumerate() {
            ext.see(k, x);
        }
    }
    ext.finish()
}

multilevel! {
    /// Minimum, maximum and "holds a NaN" of a non-empty block.
    fn min_max<T>(xs: &[T]) -> (T, T, bool) = min_max_body;

}

/// Running extremes side by side in [`extreme_one`].
const ONE_LANES: usize = 32;

/// The least (greatest with `MAX`) value of a non-empty slice, NaN passed over, and a NaN if
/// the slice holds one (its extreme is then the caller's to find again, by NaN's rules).
/// Element `i` of each run of [`ONE_LANES`] goes to running extreme `i % ONE_LANES`; the
/// running extremes are folded in a fixed tree, the lower lane's kept on ties. `float64`,
/// `int64`, `float32` and `int32` take hand-written AVX2 loops where the level allows (the
/// compiler's own kept the 32 extremes in memory, or compared `int64` one at a time: 3x slower
/// than NumPy's; for `float32`/`int32` it blended a NaN flag per element: `max` of (1000,
/// 1000) `int32` 0.75-0.85x NumPy).
#[inline(always)]
fn extreme_one_body<T: Element, const MAX: bool, const L: u8>(xs: &[T]) -> (T, Option<T>) {
    let mut best = [xs[0]; ONE_LANES];
    // A NaN seen in each lane (a select of the element's own width, which vectorizes).
    let mut nan = [T::default(); ONE_LANES];
    let mut seen = false;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if L >= Level::Avx2 as u8 {
        // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
        unsafe {
            match T::native(xs) {
                crate::dtype::Native::F64(v) => {
                    let (b, s, n) = x86::extreme_one_f64::<MAX>(v);
                    (best, seen, done) = (b.map(T::from_f64), s, n);
                }
                crate::dtype::Native::I64(v) => {
                    let (b, n) = x86::extreme_one_i64::<MAX>(v);
                    (best, done) = (b.map(|b| T::from_ne_bytes(&b.to_ne_bytes())), n);
                }
                crate::dtype::Native::F32(v) => {
                    let (b, s, n) = x86::extreme_one_f32::<MAX>(v);
                    (best, seen, done) = (b.map(|b| T::from_ne_bytes(&b.to_ne_bytes())), s, n);
                }
                crate::dtype::Native::I32(v) => {
                    let (b, n) = x86::extreme_one_i32::<MAX>(v);
                    (best, done) = (b.map(|b| T::from_ne_bytes(&b.to_ne_bytes())), n);
                }
                crate::dtype::Native::Other => {}
            }
        }
    }
    // `done` is a whole number of runs: element `done + i` still goes to lane `i % ONE_LANES`.
    let chunks = xs[done..].chunks_exact(ONE_LANES);
    let tail = chunks.remainder();
    let see = |b: &mut T, n: &mut T, x: T| {
        let better = if MAX { b.less(x) } else { x.less(*b) };
        *b = if better { x } else { *b };
        *n = if x.is_nan() { x } else { *n };
    };
    for c in chunks {
        let c: &[T; ONE_LANES] = c.try_into().expect("chunks_exact gives ONE_LANES elements");
        for k in 0..ONE_LANES {
            see(&mut best[k], &mut nan[k], c[k]);
        }
    }
    for (k, &x) in tail.iter().enumerate() {
        see(&mut best[k], &mut nan[k], x);
    }
    // Every lane looked at (no early exit), so that the test vectorizes.
    #[allow(clippy::needless_bitwise_bool)]
    let any_nan = nan.iter().fold(seen, |a, x| a | x.is_nan());
    // The running extremes folded in a tree, halves first (lane `k` against lane `k + h`, the
    // lower lane kept on ties), which vectorizes where a chain of 31 would not.
    let mut h = ONE_LANES / 2;
    while h > 0 {
        for k in 0..h {
            let (b, x) = (best[k], best[k + h]);
            let better = if MAX { b.less(x) } else { x.less(b) };
            best[k] = if better { x } else { b };
        }
        h /= 2;
    }
    (best[0], any_nan.then(T::nan))
}

#[inline(always)]
fn extreme_body<T: Element, const L: u8>(xs: &[T], max: bool) -> (T, Option<T>) {
    if max { extreme_one_body::<T, true, L>(xs) } else { extreme_one_body::<T, false, L>(xs) }
}

multilevel! {
    /// The least (or, with `max`, greatest) value of a non-empty slice when it holds no NaN,
    /// and a NaN when it holds one.
    fn extreme_one<T>(xs: &[T], max: bool) -> (T, Option<T>) = extreme_body;
}

#[inline(always)]
fn arg_body<T: Element, const L: u8>(xs: &[T], max: bool) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if L >= Level::Avx2 as u8 {
        // SAFETY: `L` is the level the calling copy was compiled for, so this CPU has AVX2.
        return unsafe { arg::first(xs, max) };
    }
    let _ = (xs, max);
    None
}

multilevel! {
    /// The first position of the least (greatest, with `max`) value of `xs` in one pass, where
    /// the level has a loop for the type, `xs` is long enough for it and holds no NaN.
    fn arg_one<T>(xs: &[T], max: bool) -> Option<usize> = arg_body;
}

/// The position of the first element of `xs` equal to `x` (a value of `xs`, not NaN), found
/// a run at a time.
#[inline(always)]
fn position_body<T: Element, const L: u8>(xs: &[T], x: T) -> usize {
    const RUN: usize = 32;
    let mut at = 0;
    for run in xs.chunks(RUN) {
        // Every element compared (no early exit), so that the test vectorizes.
        #[allow(clippy::needless_bitwise_bool)]
        if run.iter().fold(false, |hit, &y| hit | y.same(x)) {
            return at + run.iter().position(|&y| y.same(x)).unwrap_or(0);
        }
        at += run.len();
    }
    0
}

multilevel! {
    /// The position of the first element of `xs` equal to `x` (which `xs` holds).
    fn position<T>(xs: &[T], x: T) -> usize = position_body;
}

/// Runs `rounds` rounds of float32 fused multiply-adds, ten independent registers a round, on
/// every thread of the pool, in 256-bit (AVX2) or 512-bit (`wide`, AVX-512) registers: a probe of
/// the machine's arithmetic peak for `python -m nocopy.bench`. Returns the floating-point
/// operations done, 0 where the CPU lacks the instructions.
#[must_use]
pub fn fma_probe(rounds: u64, wide: bool) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use rayon::prelude::*;
        let has = if wide {
            is_x86_feature_detected!("avx512f")
        } else {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        };
        if !has {
            return 0;
        }
        let threads = crate::pool::threads_here();
        let sum: f32 = crate::pool::install(|| {
            (0..threads)
                .into_par_iter()
                // SAFETY: the features each loop needs were detected above.
                .map(|_| unsafe { if wide { x86::fma512(rounds) } else { x86::fma256(rounds) } })
                .sum()
        });
        // Used, so that the loops are not optimized away.
        let lanes: u64 = if wide { 16 } else { 8 };
        u64::from(sum.is_finite()) * rounds * 10 * lanes * 2 * threads as u64
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (rounds, wide);
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits of every kernel on every block of `xs` and of `xs` with a NaN.
    fn kernel_bits<T: Element>(xs: &[T]) -> Vec<u64> {
        let mut ys = xs.to_vec();
        ys[77] = T::nan();
        let mut out = Vec::new();
        for block in xs.chunks(crate::engine::BLOCK).chain(ys.chunks(crate::engine::BLOCK)) {
            for skipna in [false, true] {
                let (n, s) = sum_block(block, skipna);
                let (n2, s2, m2) = moments_block(block, skipna);
                assert_eq!((n, s.to_bits()), (n2, s2.to_bits()));
                out.extend([(n as f64).to_bits(), s.to_bits(), m2.to_bits()]);
            }
            let (lo, hi, nan) = min_max(block);
            out.extend([lo.to_f64().to_bits(), hi.to_f64().to_bits(), u64::from(nan)]);
        }
        out
    }

    #[test]
    fn every_supported_level_gives_the_baseline_bits() {
        // Blocks of 2048 and 904 elements: groups of four leaves, single leaves, a part leaf;
        // signed zeros, whose min and max depend on which lane sees them first.
        let f = |i: i32| {
            if i % 101 == 3 { -0.0 } else { f64::from((i * 7919) % 1013) * 1e-3 - 0.4 + 1e6 }
        };
        let f64s: Vec<f64> = (0..5000).map(f).collect();
        let f32s: Vec<f32> = (0..5000).map(|i| (f(i) - 1e6) as f32).collect();
        let ints: Vec<i32> = (0..3001).map(|i| (i * 31) % 997 - 400).collect();
        // Zeros of both signs as the minimum: which one wins depends on the lane order.
        let zeros: Vec<f64> = (0..3001)
            .map(|i| match (i * 7) % 11 {
                0 => -0.0,
                1 | 5 => 0.0,
                _ => f64::from(i),
            })
            .collect();
        let zeros32: Vec<f32> = zeros.iter().map(|&x| x as f32).collect();
        let run = || {
            let mut out = kernel_bits(&f64s);
            out.extend(kernel_bits(&f32s));
            out.extend(kernel_bits(&zeros));
            out.extend(kernel_bits(&zeros32));
            out.extend(kernel_bits(&ints));
            for len in [1, 127, 128, 129, 511, 640] {
                out.extend(kernel_bits(&f32s[..len.max(78)]));
            }
            out
        };
        let before = level();
        set_level(Level::Baseline).unwrap();
        let baseline = run();
        for l in Level::ALL {
            if l.supported() {
                set_level(l).unwrap();
                assert_eq!(run(), baseline, "level {}", l.name());
            }
        }
        set_level(before).unwrap();
    }
}
