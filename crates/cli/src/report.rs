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
