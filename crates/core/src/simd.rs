//! Block kernels compiled for several instruction sets and chosen at run time.
//!
//! Every kernel is written once, as plain Rust over fixed arrays of [`LANES`] independent
//! accumulators, and compiled three times on x86-64 (the baseline, AVX2 + FMA, AVX-512) by
//! [`multilevel!`]; the compiler vectorizes each copy for its instruction set. The accumulators
//! are combined in a fixed order whatever the level, so every level gives the same bits (the
//! tests force each level and compare). One portable build: no `-C target-cpu` anywhere.

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

/// Defines `pub(crate) fn $name<T: Element>(args) -> R` that runs `$body` compiled for the
/// chosen [`Level`]. `$body` must be `#[inline(always)]` so that it is compiled into each copy.
macro_rules! multilevel {
    ($(#[$doc:meta])* fn $name:ident<T>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:path;) => {
        $(#[$doc])*
        #[inline]
        pub(crate) fn $name<T: Element>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2<T: Element>($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512<T: Element>($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                match level() {
                    // SAFETY: `level()` only returns a level whose features this CPU has.
                    Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Level::Avx2 => return unsafe { avx2($($arg),*) },
                    Level::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
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

/// Sums `f(x)` over at most one leaf: element `i` goes to accumulator `i % LANES`.
#[inline(always)]
fn leaf<T: Copy>(xs: &[T], f: &impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            acc[k] += f(c[k]);
        }
    }
    for (a, &x) in acc.iter_mut().zip(tail) {
        *a += f(x);
    }
    tree_lanes(acc)
}

/// Pairwise sum of `f(x)`: leaves of [`LEAF`] elements, their sums merged pairwise, neighbours
/// first, in rounds (a fixed tree for a given length).
#[inline(always)]
fn pairwise<T: Copy>(xs: &[T], f: &impl Fn(T) -> f64) -> f64 {
    const MAX_LEAVES: usize = crate::engine::BLOCK / LEAF;
    if xs.len() > crate::engine::BLOCK {
        // Longer slices (only through the public `Moments::of`) go block by block.
        let mut sums = xs.chunks(crate::engine::BLOCK).map(|b| pairwise(b, f));
        let first = sums.next().unwrap_or(0.0);
        return sums.fold(first, |a, b| a + b);
    }
    let mut s = [0.0f64; MAX_LEAVES];
    let mut n = 0;
    for chunk in xs.chunks(LEAF) {
        s[n] = leaf(chunk, f);
        n += 1;
    }
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

#[inline(always)]
fn sum_body<T: Element>(xs: &[T], skipna: bool) -> (u64, f64) {
    if skipna {
        let count = xs.iter().filter(|x| !x.is_nan()).count() as u64;
        (count, pairwise(xs, &|x: T| if x.is_nan() { 0.0 } else { x.to_f64() }))
    } else {
        (xs.len() as u64, pairwise(xs, &|x: T| x.to_f64()))
    }
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
fn m2_body<T: Element>(xs: &[T], mean: f64, skipna: bool) -> f64 {
    if skipna {
        pairwise(xs, &move |x: T| {
            let d = x.to_f64() - mean;
            if x.is_nan() { 0.0 } else { d * d }
        })
    } else {
        pairwise(xs, &move |x: T| {
            let d = x.to_f64() - mean;
            d * d
        })
    }
}

multilevel! {
    /// Sum of squared deviations from `mean` over a block (NaN skipped or not).
    fn m2_block<T>(xs: &[T], mean: f64, skipna: bool) -> f64 = m2_body;
}

/// Minimum and maximum of a non-empty slice, and whether it holds a NaN; element `i` of each
/// leaf goes to running extreme `i % EXT_LANES`.
#[inline(always)]
fn min_max_body<T: Element>(xs: &[T]) -> (T, T, bool) {
    let mut ext = Extremes::new(xs[0]);
    for leaf in xs.chunks(LEAF) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_level_gives_the_baseline_bits() {
        let xs: Vec<f64> =
            (0..5000).map(|i| f64::from((i * 7919) % 1013) * 1e-3 - 0.4 + 1e6).collect();
        let mut ys = xs.clone();
        ys[77] = f64::NAN;
        let ints: Vec<i32> = (0..3001).map(|i| (i * 31) % 997 - 400).collect();
        let run = || {
            let mut out = Vec::new();
            for block in xs.chunks(crate::engine::BLOCK).chain(ys.chunks(crate::engine::BLOCK)) {
                for skipna in [false, true] {
                    let (n, s) = sum_block(block, skipna);
                    out.push((n as f64).to_bits());
                    out.push(s.to_bits());
                    out.push(m2_block(block, s / n as f64, skipna).to_bits());
                }
                let (lo, hi, nan) = min_max(block);
                out.extend([lo.to_bits(), hi.to_bits(), u64::from(nan)]);
            }
            for block in ints.chunks(crate::engine::BLOCK) {
                out.push(sum_block(block, false).1.to_bits());
                let (lo, hi, _) = min_max(block);
                out.extend([lo as u64, hi as u64]);
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
