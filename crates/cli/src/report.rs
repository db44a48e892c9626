//! What the commands print: a table for people, or JSON.

use anyhow::Result;
use ndarray::ArrayD;
use nocopy_core::gate::{self, CopyPolicy};
use nocopy_core::{DType, Element, NEVER, Reduce, Source, Summary, dispatch};
use serde_json::{Value, json};

use crate::load::NpyArray;

/// The data of `array` through the gate: in place when safe, else copied with a reason.
fn source(array: &NpyArray) -> Result<Source<'_>> {
    let h = &array.header;
    Ok(gate::view_or_copy_bytes(array.bytes(), h.data_offset, &h.layout, CopyPolicy::IfNeeded)?)
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// `nocopy inspect`.
pub(crate) fn inspect(file: &str, array: &NpyArray, as_json: bool) -> Result<()> {
    let h = &array.header;
    let data_addr = array.bytes().as_ptr() as usize + h.data_offset;
    let report = gate::inspect(&h.layout, data_addr)?;
    let order = if h.fortran_order { "Fortran" } else { "C" };
    let reason = report.reason.as_ref().map(ToString::to_string);
    if as_json {
        let v = json!({
            "file": file,
            "version": format!("{}.{}", h.version.0, h.version.1),
            "header_bytes": h.data_offset,
            "descr": h.descr,
            "dtype": h.layout.dtype.name(),
            "shape": h.layout.shape,
            "order": order,
            "data_bytes": h.data_len(),
            "memory_mapped": array.mapped,
            "aligned": report.aligned,
            "native_byteorder": report.native_byteorder,
            "zero_copy": reason.is_none(),
            "reason": reason,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let read = if array.mapped { "memory-mapped" } else { "read from the archive" };
    println!("file       {file}");
    println!("format     .npy {}.{}, header {} bytes", h.version.0, h.version.1, h.data_offset);
    println!("dtype      {} ({})", h.layout.dtype, h.descr);
    println!("shape      {}", shape_text(&h.layout.shape));
    println!("order      {order}");
    println!("data       {} bytes, {read}", h.data_len());
    match reason {
        None => println!("zero-copy  yes: the kernels read the data in place"),
        Some(r) => println!("zero-copy  no: {r}"),
    }
    Ok(())
}

/// One value of a result as JSON: exact for integers, `null` for NaN and infinities.
fn cell<T: Element>(x: T) -> Value {
    match T::DTYPE {
        DType::Bool => Value::Bool(x.to_f64() != 0.0),
        DType::F32 | DType::F64 | DType::F16 => {
            serde_json::Number::from_f64(x.to_f64()).map_or(Value::Null, Value::Number)
        }
        // Integers print exactly in Debug; 64-bit ones would lose digits through f64.
        _ => serde_json::from_str(&format!("{x:?}")).unwrap_or(Value::Null),
    }
}

/// A float for people: six significant digits, scientific when very large or small.
fn num(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if x != 0.0 && (x.abs() >= 1e7 || x.abs() < 1e-4) {
        format!("{x:.6e}")
    } else {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// The statistics of `describe`, one list per statistic (C order over the remaining axes).
struct Table {
    shape: Vec<usize>,
    columns: Vec<(&'static str, Vec<Value>)>,
}

fn table<T: Element>(s: &Summary<T>) -> Table
where
    T::Float: Element,
{
    fn col<E: Element>(a: &ArrayD<E>) -> Vec<Value> {
        a.iter().map(|&x| cell(x)).collect()
    }
    Table {
        shape: s.mean.shape().to_vec(),
        columns: vec![
            ("count", s.count.iter().map(|&c| json!(c)).collect()),
            ("mean", col(&s.mean)),
            ("std", col(&s.std)),
            ("min", col(&s.min)),
            ("max", col(&s.max)),
            ("var", col(&s.var)),
        ],
    }
}

/// `nocopy describe`.
pub(crate) fn describe(
    file: &str,
    array: &NpyArray,
    axis: Option<isize>,
    ddof: f64,
    skipna: bool,
    as_json: bool,
) -> Result<()> {
    let src = source(array)?;
    let opts = Reduce::axis(axis).ddof(ddof).skipna(skipna);
    let t =
        dispatch!(src.view(), v => nocopy_core::describe(&v, &opts, &NEVER).map(|s| table(&s)))?;
    let h = &array.header;
    let reason = src.copy_reason().map(ToString::to_string);
    if as_json {
        let mut stats = serde_json::Map::new();
        for (name, values) in t.columns {
            let v = if t.shape.is_empty() {
                values.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(values)
            };
            stats.insert(name.into(), v);
        }
        let v = json!({
            "file": file,
            "dtype": h.layout.dtype.name(),
            "shape": h.layout.shape,
            "axis": axis,
            "ddof": ddof,
            "skipna": skipna,
            "zero_copy": reason.is_none(),
            "copy_reason": reason,
            "result_shape": t.shape,
            "stats": Value::Object(stats),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let how = match &reason {
        None => "read in place".to_string(),
        Some(r) => format!("copied: {r}"),
    };
    let over = axis.map_or_else(|| "all elements".to_string(), |a| format!("axis {a}"));
    println!("{file}: {} {}, {over}, {how}", h.layout.dtype, shape_text(&h.layout.shape));
    let rows = t.columns[0].1.len();
    let label_width =
        if t.shape.is_empty() { 3 } else { (rows.max(1).to_string().len() + 2).max(5) };
    print!("{:>label_width$}", if t.shape.is_empty() { "" } else { "index" });
    for (name, _) in &t.columns {
        print!("  {name:>14}");
    }
    println!();
    for r in 0..rows {
        let label = if t.shape.is_empty() { String::new() } else { index_label(&t.shape, r) };
        print!("{label:>label_width$}");
        for (_, values) in &t.columns {
            let text = match &values[r] {
                Value::Number(n) if n.is_f64() => num(n.as_f64().unwrap_or(f64::NAN)),
                Value::Null => "nan".into(),
                other => other.to_string(),
            };
            print!("  {text:>14}");
        }
        println!();
    }
    Ok(())
}

/// The multi-index of flat position `r` in `shape`, as "3" or "(1, 2)".
fn index_label(shape: &[usize], mut r: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (slot, &n) in idx.iter_mut().zip(shape).rev() {
        *slot = r % n;
        r /= n;
    }
    if idx.len() == 1 { idx[0].to_string() } else { shape_text(&idx).replace(",)", ")") }
}

/// `nocopy move`: the statistic written as a .npy file.
pub(crate) fn moving(
    array: &NpyArray,
    op: nocopy_core::MoveOp,
    w: &nocopy_core::Window,
    output: &std::path::Path,
) -> Result<()> {
    let src = source(array)?;
    let bytes = dispatch!(src.view(), v => nocopy_core::moving(&v, op, w, &NEVER)
        .map(|out| nocopy_core::npy::to_bytes(&out.view())))?;
    std::fs::write(output, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    Ok(())
}

/// The one value of a 0-d result, as `f64`.
fn first<T: Element>(a: &ArrayD<T>) -> f64 {
    a.first().map_or(f64::NAN, |x| x.to_f64())
}

/// NumPy's `linspace(lo, hi, n + 1)`: `i * step + lo`, the last edge exactly `hi`, with every
/// operation rounded by `r` (the identity for float64; to float32 for NumPy's float32 linspace,
/// which one rounding of the exact float64 result reproduces for `+ - * /`).
#[allow(clippy::cast_precision_loss)]
fn linspace(lo: f64, hi: f64, n: usize, r: impl Fn(f64) -> f64) -> Vec<f64> {
    let (lo, hi, count) = (r(lo), r(hi), r(n as f64));
    let delta = r(hi - lo);
    let step = r(delta / count);
    let mut e: Vec<f64> = if step == 0.0 {
        (0..=n).map(|i| r(r(r(r(i as f64) / count) * delta) + lo)).collect()
    } else {
        (0..=n).map(|i| r(r(r(i as f64) * step) + lo)).collect()
    };
    e[n] = hi;
    e
}

/// `nocopy hist`: NumPy's edges (float32 for float32 data) and counts, as bars or JSON.
pub(crate) fn hist(
    file: &str,
    array: &NpyArray,
    bins: usize,
    range: Option<(f64, f64)>,
    as_json: bool,
) -> Result<()> {
    let src = source(array)?;
    let (lo, hi) = match range {
        Some((lo, hi)) => {
            anyhow::ensure!(lo <= hi, "max must be larger than min in range parameter.");
            anyhow::ensure!(
                lo.is_finite() && hi.is_finite(),
                "supplied range of [{lo}, {hi}] is not finite"
            );
            (lo, hi)
        }
        None if array.header.layout.shape.contains(&0) => (0.0, 1.0),
        None => {
            let (lo, hi) = dispatch!(src.view(), v => nocopy_core::describe(&v, &Reduce::all(), &NEVER)
                .map(|s| (first(&s.min), first(&s.max))))?;
            anyhow::ensure!(
                lo.is_finite() && hi.is_finite(),
                "autodetected range of [{lo}, {hi}] is not finite"
            );
            (lo, hi)
        }
    };
    let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let single = matches!(src.view().dtype(), DType::F32 | DType::F16);
    // NumPy's edges take the data's float type; from the data's own extremes (float32
    // scalars) linspace even computes in it.
    #[allow(clippy::cast_possible_truncation)]
    let to_f32 = |x: f64| f64::from(x as f32);
    let edges: Vec<f64> = match (single, range) {
        (true, None) => linspace(lo, hi, bins, to_f32),
        (true, Some(_)) => linspace(lo, hi, bins, |x| x).into_iter().map(to_f32).collect(),
        (false, _) => linspace(lo, hi, bins, |x| x),
    };
    anyhow::ensure!(
        edges.windows(2).all(|w| w[0] < w[1]),
        "Too many bins for data range. Cannot create {bins} finite-sized bins."
    );
    let counts =
        dispatch!(src.view(), v => nocopy_core::histogram::counts(&v, &edges, true, &NEVER))?;
    if as_json {
        let v = json!({ "file": file, "bins": bins, "edges": edges, "counts": counts });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let h = &array.header;
    let total: u64 = counts.iter().sum();
    println!(
        "{file}: {} {}, {total} values in {bins} bins",
        h.layout.dtype,
        shape_text(&h.layout.shape)
    );
    let widest = counts.iter().copied().max().unwrap_or(0).max(1);
    let labels: Vec<String> = (0..bins)
        .map(|i| {
            let close = if i + 1 == bins { "]" } else { ")" };
            format!("[{}, {}{close}", num(edges[i]), num(edges[i + 1]))
        })
        .collect();
    let label_width = labels.iter().map(String::len).max().unwrap_or(0);
    let count_width = widest.to_string().len();
    for (label, &c) in labels.iter().zip(&counts) {
        // Bars of up to 50 cells, in eighths of a cell.
        let eighths = usize::try_from(c * 400 / widest).unwrap_or(400);
        let mut bar = "\u{2588}".repeat(eighths / 8);
        if eighths % 8 > 0 {
            bar.push(
                [
                    '\u{258f}', '\u{258e}', '\u{258d}', '\u{258c}', '\u{258b}', '\u{258a}',
                    '\u{2589}',
                ][eighths % 8 - 1],
            );
        }
        println!("{label:<label_width$}  {c:>count_width$}  {bar}");
    }
    Ok(())
}

/// `nocopy quantile`: NumPy's quantiles of every element or along an axis.
pub(crate) fn quantile(
    file: &str,
    array: &NpyArray,
    qs: &[f64],
    axis: Option<isize>,
    method: nocopy_core::quantile::Method,
    skipna: bool,
    as_json: bool,
) -> Result<()> {
    use nocopy_core::quantile::{Quantiled, Spec, Stat};
    let src = source(array)?;
    // Plain numbers for q: NumPy's weak promotion keeps float32 arithmetic for float32 data.
    let single = matches!(src.view().dtype(), DType::F32 | DType::F16);
    let spec = Spec { stat: Stat::Quantiles(qs, method), skipna, single };
    let axes = axis.map_or(nocopy_core::Axes::All, nocopy_core::Axes::from);
    let (shape, values): (Vec<usize>, Vec<Value>) = dispatch!(src.view(), v => {
        nocopy_core::quantile::quantile(&v, &axes, &spec, &NEVER).map(|o| match o.values {
            Quantiled::Same(x) => (x.shape().to_vec(), x.iter().map(|e| json_num(e.to_f64())).collect()),
            Quantiled::Float(x) => (x.shape().to_vec(), x.iter().map(|&e| json_num(e)).collect()),
        })
    })?;
    let per_q = values.len() / qs.len().max(1);
    if as_json {
        let rows: Vec<Value> =
            values.chunks(per_q.max(1)).map(|c| Value::Array(c.to_vec())).collect();
        let result: Vec<Value> = if axis.is_none() { values.clone() } else { rows };
        let v = json!({
            "file": file, "q": qs, "axis": axis, "skipna": skipna,
            "result_shape": shape, "quantiles": result,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let h = &array.header;
    let over = axis.map_or_else(|| "all elements".to_string(), |a| format!("axis {a}"));
    println!("{file}: {} {}, {over}", h.layout.dtype, shape_text(&h.layout.shape));
    let kept = &shape[1..];
    print!("{:>10}", "q");
    if kept.is_empty() {
        println!("  {:>14}", "value");
    } else {
        (0..per_q).for_each(|r| print!("  {:>14}", index_label(kept, r)));
        println!();
    }
    for (q, row) in qs.iter().zip(values.chunks(per_q.max(1))) {
        print!("{:>10}", num(*q));
        for v in row {
            let text = v.as_f64().map_or_else(|| "nan".to_string(), num);
            print!("  {text:>14}");
        }
        println!();
    }
    Ok(())
}

fn json_num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// `nocopy scale`: each feature standardized or min-max scaled, written as a .npy file.
pub(crate) fn scale(
    array: &NpyArray,
    how: &nocopy_core::scale::Scaling,
    axis: usize,
    output: &std::path::Path,
) -> Result<()> {
    use ndarray::{Array2, Ix2};
    fn go<T: Element, F: Element>(
        v: &ndarray::ArrayViewD<'_, T>,
        how: &nocopy_core::scale::Scaling,
        axis: usize,
    ) -> Result<Vec<u8>> {
        let shape = v.shape().to_vec();
        let table = match v.ndim() {
            1 => v.view().insert_axis(ndarray::Axis(1)).into_dimensionality::<Ix2>()?,
            2 => v.view().into_dimensionality::<Ix2>()?,
            n => anyhow::bail!("scale needs a 1-d or 2-d array, not {n}-d"),
        };
        anyhow::ensure!(axis < 2 && (axis == 0 || v.ndim() == 2), "axis {axis} is out of bounds");
        let table = if axis == 1 { table.reversed_axes() } else { table };
        let mut out = Array2::<F>::from_elem(table.raw_dim(), F::default());
        nocopy_core::scale::scale_into(&table, how, &mut out.view_mut(), &NEVER)?;
        let out = if axis == 1 { out.reversed_axes() } else { out };
        let out = out.as_standard_layout().into_owned().into_shape_with_order(shape)?;
        Ok(nocopy_core::npy::to_bytes(&out.view()))
    }
    let src = source(array)?;
    let bytes = if matches!(src.view().dtype(), DType::F32 | DType::F16) {
        dispatch!(src.view(), v => go::<_, f32>(&v, how, axis))?
    } else {
        dispatch!(src.view(), v => go::<_, f64>(&v, how, axis))?
    };
    std::fs::write(output, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    Ok(())
}

/// `nocopy cdist`: the distances written as a .npy file.
pub(crate) fn cdist(
    a: &NpyArray,
    b: &NpyArray,
    metric: nocopy_core::distance::Metric,
    output: &std::path::Path,
) -> Result<()> {
    use nocopy_core::distance::{Real, cdist_into};
    use nocopy_core::gate::FromAny;
    fn go<T: Element + FromAny, R: Real>(
        va: ndarray::ArrayViewD<'_, T>,
        vb: nocopy_core::AnyView<'_>,
        metric: nocopy_core::distance::Metric,
    ) -> Result<Vec<u8>> {
        let vb =
            T::from_any(vb).ok_or_else(|| anyhow::anyhow!("the two tables must have one dtype"))?;
        let err = |_| anyhow::anyhow!("cdist needs 2-d tables");
        let va = va.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let vb = vb.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let mut out = ndarray::Array2::<R>::from_elem((va.nrows(), vb.nrows()), R::default());
        cdist_into(&va, &vb, metric, &mut out.view_mut(), &NEVER)?;
        Ok(nocopy_core::npy::to_bytes(&out.into_dyn().view()))
    }
    let (sa, sb) = (source(a)?, source(b)?);
    let single = sa.view().dtype() == DType::F32 && sb.view().dtype() == DType::F32;
    let bytes = if single {
        dispatch!(sa.view(), va => go::<_, f32>(va, sb.view(), metric))?
    } else {
        dispatch!(sa.view(), va => go::<_, f64>(va, sb.view(), metric))?
    };
    std::fs::write(output, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    Ok(())
}

/// Queries per batch of `nocopy knn` (the progress bar moves per batch).
const KNN_BATCH: usize = 2048;

/// `nocopy knn`: distances and indices written as an .npz archive, batch by batch.
pub(crate) fn knn(
    base: &NpyArray,
    queries: &NpyArray,
    k: usize,
    metric: nocopy_core::distance::Metric,
    output: &std::path::Path,
) -> Result<()> {
    use nocopy_core::distance::Real;
    use nocopy_core::gate::FromAny;
    fn go<T: Element + FromAny, R: Real>(
        vb: ndarray::ArrayViewD<'_, T>,
        vq: nocopy_core::AnyView<'_>,
        k: usize,
        metric: nocopy_core::distance::Metric,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let vq =
            T::from_any(vq).ok_or_else(|| anyhow::anyhow!("the two tables must have one dtype"))?;
        let err = |_| anyhow::anyhow!("knn needs 2-d tables");
        let vb = vb.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let vq = vq.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let nq = vq.nrows();
        let mut dist = ndarray::Array2::<R>::from_elem((nq, k), R::default());
        let mut idx = ndarray::Array2::<i64>::zeros((nq, k));
        let start = std::time::Instant::now();
        let mut shown = false;
        for q0 in (0..nq.max(1)).step_by(KNN_BATCH) {
            let q1 = (q0 + KNN_BATCH).min(nq);
            let batch = vq.slice(ndarray::s![q0..q1, ..]);
            let (d, i) = nocopy_core::distance::knn::<T, R>(&vb, &batch, k, metric, &NEVER)?;
            dist.slice_mut(ndarray::s![q0..q1, ..]).assign(&d);
            idx.slice_mut(ndarray::s![q0..q1, ..]).assign(&i);
            if start.elapsed().as_secs_f64() > 1.0 || (shown && q1 == nq) {
                shown = true;
                let filled = q1 * 40 / nq.max(1);
                eprint!(
                    "\rknn [{}{}] {q1}/{nq} queries, {:.1} s",
                    "#".repeat(filled),
                    " ".repeat(40 - filled),
                    start.elapsed().as_secs_f64()
                );
            }
        }
        if shown {
            eprintln!();
        }
        Ok((
            nocopy_core::npy::to_bytes(&dist.into_dyn().view()),
            nocopy_core::npy::to_bytes(&idx.into_dyn().view()),
        ))
    }
    let (sb, sq) = (source(base)?, source(queries)?);
    let single = sb.view().dtype() == DType::F32 && sq.view().dtype() == DType::F32;
    let (d, i) = if single {
        dispatch!(sb.view(), vb => go::<_, f32>(vb, sq.view(), k, metric))?
    } else {
        dispatch!(sb.view(), vb => go::<_, f64>(vb, sq.view(), k, metric))?
    };
    let file = std::fs::File::create(output)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(d.len().max(i.len()) > u32::MAX as usize / 2);
    for (name, bytes) in [("distances.npy", d), ("indices.npy", i)] {
        zip.start_file(name, stored)?;
        std::io::Write::write_all(&mut zip, &bytes)?;
    }
    zip.finish()?;
    Ok(())
}

/// `nocopy kmeans`: the centres (and the labels) of k-means with k-means++ starts drawn from
/// `seed`; a progress line on stderr, a one-line summary on stdout.
pub(crate) fn kmeans(
    array: &NpyArray,
    k: usize,
    settings: &nocopy_core::kmeans::Settings,
    seed: u64,
    output: &std::path::Path,
    labels: Option<&std::path::Path>,
) -> Result<()> {
    use nocopy_core::distance::Real;
    use nocopy_core::kmeans::Event;
    use rand::{RngExt, SeedableRng};
    fn go<T: Element, R: Real>(
        v: ndarray::ArrayViewD<'_, T>,
        k: usize,
        settings: &nocopy_core::kmeans::Settings,
        seed: u64,
    ) -> Result<(Vec<u8>, Vec<u8>, f64, usize)> {
        let x = v
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|_| anyhow::anyhow!("kmeans needs a 2-d table"))?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let start = std::time::Instant::now();
        let runs = settings.n_init;
        let mut shown = std::time::Duration::ZERO;
        let mut report = |run: usize, e: Event| {
            // At most ten lines a second.
            if let Event::Iteration { iter, inertia } = e
                && (iter == 0 || start.elapsed() >= shown + std::time::Duration::from_millis(100))
            {
                shown = start.elapsed();
                eprint!(
                    "\rkmeans run {}/{runs}, iteration {:>4}/{}, inertia {inertia:<14.6e} {:.1} s ",
                    run + 1,
                    iter + 1,
                    settings.max_iter,
                    start.elapsed().as_secs_f64()
                );
            }
        };
        let fit = nocopy_core::kmeans::kmeans::<T, R>(
            &x,
            k,
            settings,
            &mut || rng.random::<f64>(),
            &NEVER,
            &mut report,
        )?;
        eprintln!();
        let labels = ndarray::Array1::from(fit.labels).into_dyn();
        Ok((
            nocopy_core::npy::to_bytes(&fit.centers.into_dyn().view()),
            nocopy_core::npy::to_bytes(&labels.view()),
            fit.inertia,
            fit.n_iter,
        ))
    }
    let src = source(array)?;
    let start = std::time::Instant::now();
    let (centres, labelled, inertia, n_iter) = if src.view().dtype() == DType::F32 {
        dispatch!(src.view(), v => go::<_, f32>(v, k, settings, seed))?
    } else {
        dispatch!(src.view(), v => go::<_, f64>(v, k, settings, seed))?
    };
    std::fs::write(output, centres)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    if let Some(path) = labels {
        std::fs::write(path, labelled)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    println!(
        "kmeans: {k} clusters of {} rows, best of {} run(s): inertia {inertia}, {n_iter} iterations, {:.2} s",
        array.header.layout.shape.first().copied().unwrap_or(0),
        settings.n_init,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
