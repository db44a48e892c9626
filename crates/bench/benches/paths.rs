//! `sum` and `describe` reached three ways: a zero-copy view of existing memory, the copying
//! path (what `copy=True` or a byte-swapped input costs), and `.npy` bytes through the gate.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nocopy_bench::{as_bytes, f64_array, f64_layout, from_npy, npy_bytes};
use nocopy_core::gate::{CopyPolicy, view_or_copy_bytes};
use nocopy_core::{NEVER, Reduce, Source, describe, dispatch, sum};

fn kernels(c: &mut Criterion) {
    for (name, kernel) in [("sum", run_sum as fn(&Source<'_>) -> f64), ("describe", run_describe)] {
        let mut group = c.benchmark_group(name);
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(20);
        for n in [1_000, 100_000, 10_000_000] {
            let array = f64_array(n);
            let bytes = as_bytes(&array);
            let layout = f64_layout(n);
            let npy = npy_bytes(&array);
            group.throughput(Throughput::Bytes((n * 8) as u64));
            group.bench_with_input(BenchmarkId::new("zero-copy view", n), &n, |b, _| {
                b.iter(|| {
                    let src =
                        view_or_copy_bytes(bytes, 0, &layout, CopyPolicy::Never, &NEVER).unwrap();
                    black_box(kernel(&src))
                });
            });
            group.bench_with_input(BenchmarkId::new("copying path", n), &n, |b, _| {
                b.iter(|| {
                    let src =
                        view_or_copy_bytes(bytes, 0, &layout, CopyPolicy::Always, &NEVER).unwrap();
                    black_box(kernel(&src))
                });
            });
            group.bench_with_input(BenchmarkId::new("serialization path", n), &n, |b, _| {
                b.iter(|| black_box(kernel(&from_npy(&npy).unwrap())));
            });
        }
        group.finish();
    }
}

// One body for every dtype: the result only has to reach `black_box`.
#[allow(clippy::cast_lossless)]
fn run_sum(src: &Source<'_>) -> f64 {
    dispatch!(src.view(), v => sum(&v, &Reduce::all(), &NEVER).unwrap().values.sum() as f64)
}

#[allow(clippy::cast_lossless)]
fn run_describe(src: &Source<'_>) -> f64 {
    dispatch!(src.view(), v => {
        let s = describe(&v, &Reduce::all(), &NEVER).unwrap();
        s.std.sum() as f64
    })
}

criterion_group!(benches, kernels);
criterion_main!(benches);
