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
    Ok(gate::view_or_copy_bytes(
        array.bytes(),
        h.data_offset,
        &h.layout,
        CopyPolicy::IfNeeded,
        &NEVER,
    )?)
}

/// Writes `a` as the `.npy` file `path`, streaming (the array is not copied to bytes first).
fn save<T: Element>(path: &std::path::Path, a: &ndarray::ArrayViewD<'_, T>) -> Result<()> {
    let write = || -> nocopy_core::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        nocopy_core::npy::write(&mut w, a)?;
        std::io::Write::flush(&mut w)?;
        Ok(())
    };
    write().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Writes `v` to stdout as pretty JSON, streaming (no copy of it as text).
fn print_json(v: &Value) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// Numbers as a JSON array, allocated fallibly (`null` for NaN and infinities).
fn json_array(xs: impl ExactSizeIterator<Item = f64>) -> nocopy_core::Result<Value> {
    Ok(Value::Array(nocopy_core::mem::collect(xs.len(), xs.map(json_num))?))
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
        print_json(&v)?;
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

fn table<T: Element>(s: &Summary<T>) -> nocopy_core::Result<Table>
where
    T::Float: Element,
{
    fn col<E: Element>(a: &ArrayD<E>) -> nocopy_core::Result<Vec<Value>> {
        nocopy_core::mem::collect(a.len(), a.iter().map(|&x| cell(x)))
    }
    Ok(Table {
        shape: s.mean.shape().to_vec(),
        columns: Vec::from([
            ("count", nocopy_core::mem::collect(s.count.len(), s.count.iter().map(|&c| json!(c)))?),
            ("mean", col(&s.mean)?),
            ("std", col(&s.std)?),
            ("min", col(&s.min)?),
            ("max", col(&s.max)?),
            ("var", col(&s.var)?),
        ]),
    })
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
    let t = dispatch!(src.view(), v => nocopy_core::describe(&v, &opts, &NEVER).and_then(|s| table(&s)))?;
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
        print_json(&v)?;
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
    let mut idx: Vec<usize> = std::iter::repeat_n(0, shape.len()).collect();
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
    dispatch!(src.view(), v => save(output, &nocopy_core::moving(&v, op, w, &NEVER)?.view()))
}

/// The one value of a 0-d result, as `f64`.
fn first<T: Element>(a: &ArrayD<T>) -> f64 {
    a.first().map_or(f64::NAN, |x| x.to_f64())
}

/// NumPy's `linspace(lo, hi, n + 1)`: `i * step + lo`, the last edge exactly `hi`, with every
/// operation rounded by `r` (the identity for float64; to float32 for NumPy's float32 linspace,
/// which one rounding of the exact float64 result reproduces for `+ - * /`).
#[allow(clippy::cast_precision_loss)]
fn linspace(lo: f64, hi: f64, n: usize, r: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
    let (lo, hi, count) = (r(lo), r(hi), r(n as f64));
    let delta = r(hi - lo);
    let step = r(delta / count);
    let mut e: Vec<f64> = if step == 0.0 {
        nocopy_core::mem::collect(
            n + 1,
            (0..=n).map(|i| r(r(r(r(i as f64) / count) * delta) + lo)),
        )?
    } else {
        nocopy_core::mem::collect(n + 1, (0..=n).map(|i| r(r(r(i as f64) * step) + lo)))?
    };
    e[n] = hi;
    Ok(e)
}

/// The most bins `nocopy hist` draws as bars (one line each).
const MAX_BARS: usize = 10_000;

/// `nocopy hist`: NumPy's edges (float32 for float32 data) and counts, as bars or JSON.
pub(crate) fn hist(
    file: &str,
    array: &NpyArray,
    bins: usize,
    range: Option<(f64, f64)>,
    as_json: bool,
) -> Result<()> {
    anyhow::ensure!(
        as_json || bins <= MAX_BARS,
        "cannot draw {bins} bins as bars (at most {MAX_BARS}): use --json for more"
    );
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
        (true, None) => linspace(lo, hi, bins, to_f32)?,
        (true, Some(_)) => {
            let mut e = linspace(lo, hi, bins, |x| x)?;
            for x in &mut e {
                *x = to_f32(*x);
            }
            e
        }
        (false, _) => linspace(lo, hi, bins, |x| x)?,
    };
    anyhow::ensure!(
        edges.windows(2).all(|w| w[0] < w[1]),
        "Too many bins for data range. Cannot create {bins} finite-sized bins."
    );
    let counts =
        dispatch!(src.view(), v => nocopy_core::histogram::counts(&v, &edges, true, &NEVER))?;
    if as_json {
        #[allow(clippy::cast_precision_loss)]
        let counts = Value::Array(nocopy_core::mem::collect(
            counts.len(),
            counts.iter().map(|&c| json!(c)),
        )?);
        let v = json!({ "file": file, "bins": bins, "edges": json_array(edges.iter().copied())?, "counts": counts });
        print_json(&v)?;
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
    let labels: Vec<String> = nocopy_core::mem::collect(
        bins,
        (0..bins).map(|i| {
            let close = if i + 1 == bins { "]" } else { ")" };
            format!("[{}, {}{close}", num(edges[i]), num(edges[i + 1]))
        }),
    )?;
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
        let o = nocopy_core::quantile::quantile(&v, &axes, &spec, &NEVER)?;
        let (shape, Value::Array(values)) = (match o.values {
            Quantiled::Same(x) => (x.shape().to_vec(), json_array(x.iter().map(|e| e.to_f64()))?),
            Quantiled::Float(x) => (x.shape().to_vec(), json_array(x.iter().copied())?),
        }) else {
            unreachable!("json_array gives an array")
        };
        Ok::<_, nocopy_core::Error>((shape, values))
    })?;
    let per_q = values.len() / qs.len().max(1);
    if as_json {
        let result: Vec<Value> = if axis.is_none() {
            values
        } else {
            let mut rows = nocopy_core::mem::with_capacity(qs.len())?;
            for c in values.chunks(per_q.max(1)) {
                rows.push(Value::Array(nocopy_core::mem::collect(c.len(), c.iter().cloned())?));
            }
            rows
        };
        let v = json!({
            "file": file, "q": qs, "axis": axis, "skipna": skipna,
            "result_shape": shape, "quantiles": result,
        });
        print_json(&v)?;
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
    use ndarray::Ix2;
    fn go<T: Element, F: Element>(
        v: &ndarray::ArrayViewD<'_, T>,
        how: &nocopy_core::scale::Scaling,
        axis: usize,
        output: &std::path::Path,
    ) -> Result<()> {
        let shape = v.shape().to_vec();
        let table = match v.ndim() {
            1 => v.view().insert_axis(ndarray::Axis(1)).into_dimensionality::<Ix2>()?,
            2 => v.view().into_dimensionality::<Ix2>()?,
            n => anyhow::bail!("scale needs a 1-d or 2-d array, not {n}-d"),
        };
        anyhow::ensure!(axis < 2 && (axis == 0 || v.ndim() == 2), "axis {axis} is out of bounds");
        // The output in C order of the input's shape, written through the table's view of it.
        let mut out = nocopy_core::mem::array(ndarray::IxDyn(&shape), F::default())?;
        {
            let o = out.view_mut();
            let mut o = match v.ndim() {
                1 => o.insert_axis(ndarray::Axis(1)).into_dimensionality::<Ix2>()?,
                _ => o.into_dimensionality::<Ix2>()?,
            };
            if axis == 1 {
                o.swap_axes(0, 1);
            }
            let table = if axis == 1 { table.reversed_axes() } else { table };
            nocopy_core::scale::scale_into(&table, how, &mut o, &NEVER)?;
        }
        save(output, &out.view())
    }
    let src = source(array)?;
    if matches!(src.view().dtype(), DType::F32 | DType::F16) {
        dispatch!(src.view(), v => go::<_, f32>(&v, how, axis, output))
    } else {
        dispatch!(src.view(), v => go::<_, f64>(&v, how, axis, output))
    }
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
        output: &std::path::Path,
    ) -> Result<()> {
        let vb =
            T::from_any(vb).ok_or_else(|| anyhow::anyhow!("the two tables must have one dtype"))?;
        let err = |_| anyhow::anyhow!("cdist needs 2-d tables");
        let va = va.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let vb = vb.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let mut out = nocopy_core::mem::array((va.nrows(), vb.nrows()), R::default())?;
        cdist_into(&va, &vb, metric, &mut out.view_mut(), &NEVER)?;
        save(output, &out.into_dyn().view())
    }
    let (sa, sb) = (source(a)?, source(b)?);
    let single = sa.view().dtype() == DType::F32 && sb.view().dtype() == DType::F32;
    if single {
        dispatch!(sa.view(), va => go::<_, f32>(va, sb.view(), metric, output))
    } else {
        dispatch!(sa.view(), va => go::<_, f64>(va, sb.view(), metric, output))
    }
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
        output: &std::path::Path,
    ) -> Result<()> {
        let vq =
            T::from_any(vq).ok_or_else(|| anyhow::anyhow!("the two tables must have one dtype"))?;
        let err = |_| anyhow::anyhow!("knn needs 2-d tables");
        let vb = vb.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        let vq = vq.into_dimensionality::<ndarray::Ix2>().map_err(err)?;
        anyhow::ensure!(
            (1..=vb.nrows()).contains(&k),
            "k must be between 1 and the number of base rows ({}), not {k}",
            vb.nrows()
        );
        let nq = vq.nrows();
        let mut dist = nocopy_core::mem::array((nq, k), R::default())?;
        let mut idx = nocopy_core::mem::array((nq, k), 0i64)?;
        let start = std::time::Instant::now();
        let mut shown = false;
        for q0 in (0..nq).step_by(KNN_BATCH) {
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
        let write = || -> Result<()> {
            let file = std::io::BufWriter::new(std::fs::File::create(output)?);
            let mut zip = zip::ZipWriter::new(file);
            let bytes = dist.len().saturating_mul(8).saturating_add(4096);
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(bytes > u32::MAX as usize / 2);
            zip.start_file("distances.npy", stored)?;
            nocopy_core::npy::write(&mut zip, &dist.view().into_dyn())?;
            zip.start_file("indices.npy", stored)?;
            nocopy_core::npy::write(&mut zip, &idx.view().into_dyn())?;
            zip.finish()?;
            Ok(())
        };
        write().map_err(|e| anyhow::anyhow!("cannot write {}: {e:#}", output.display()))
    }
    let (sb, sq) = (source(base)?, source(queries)?);
    let single = sb.view().dtype() == DType::F32 && sq.view().dtype() == DType::F32;
    if single {
        dispatch!(sb.view(), vb => go::<_, f32>(vb, sq.view(), k, metric, output))
    } else {
        dispatch!(sb.view(), vb => go::<_, f64>(vb, sq.view(), k, metric, output))
    }
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
        output: &std::path::Path,
        labels: Option<&std::path::Path>,
    ) -> Result<(f64, usize)> {
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
        save(output, &fit.centers.view().into_dyn())?;
        if let Some(path) = labels {
            save(path, &ndarray::ArrayView1::from(&fit.labels).into_dyn())?;
        }
        Ok((fit.inertia, fit.n_iter))
    }
    let src = source(array)?;
    let start = std::time::Instant::now();
    let (inertia, n_iter) = if src.view().dtype() == DType::F32 {
        dispatch!(src.view(), v => go::<_, f32>(v, k, settings, seed, output, labels))?
    } else {
        dispatch!(src.view(), v => go::<_, f64>(v, k, settings, seed, output, labels))?
    };
    println!(
        "kmeans: {k} clusters of {} rows, best of {} run(s): inertia {inertia}, {n_iter} iterations, {:.2} s",
        array.header.layout.shape.first().copied().unwrap_or(0),
        settings.n_init,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
