//! NumPy arrays in (through the gate) and out.

#![allow(unsafe_code)]

use std::marker::PhantomData;

use ndarray::ArrayD;
use nocopy_core::gate::{self, Inspection};
use nocopy_core::{AnyArray, ByteOrder, CopyPolicy, DType, Error, RawLayout, Source};
use numpy::npyffi::flags::NPY_ARRAY_WRITEABLE;
use numpy::npyffi::{NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{PyArray, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use crate::error::{CoreError, CoreResult};

/// `numpy.asarray(obj)` unless `obj` already is an array.
pub(crate) fn asarray<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyUntypedArray>> {
    static ASARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Ok(a.clone());
    }
    let py = obj.py();
    let f = ASARRAY.import(py, "numpy", "asarray")?;
    Ok(f.call1((obj,))?.cast_into::<PyUntypedArray>()?)
}

/// The copy policy from NumPy 2's `copy=None | False | True`.
pub(crate) fn policy(copy: Option<bool>) -> CopyPolicy {
    match copy {
        None => CopyPolicy::IfNeeded,
        Some(false) => CopyPolicy::Never,
        Some(true) => CopyPolicy::Always,
    }
}

/// The memory of a live NumPy array, described for the gate; usable without the GIL.
///
/// Borrowing the array for `'a` keeps it, and so its buffer, alive while this exists.
pub(crate) struct Memory<'a> {
    pub(crate) layout: RawLayout,
    addr: usize,
    _array: PhantomData<&'a ()>,
}

impl<'a> Memory<'a> {
    /// Describes `array`, or fails with `TypeError` for a dtype nocopy does not compute on.
    pub(crate) fn of(array: &'a Bound<'_, PyUntypedArray>) -> CoreResult<Self> {
        let descr = array.dtype();
        let unsupported = || Error::unsupported(descr.to_string());
        if descr.has_fields() || descr.has_subarray() {
            return Err(unsupported().into());
        }
        let dtype =
            DType::from_kind(char::from(descr.kind()), descr.itemsize()).ok_or_else(unsupported)?;
        let byte_order = match descr.byteorder() {
            b'>' => ByteOrder::Big,
            b'<' => ByteOrder::Little,
            _ => ByteOrder::NATIVE,
        };
        let raw = array.as_array_ptr();
        // SAFETY: `raw` is the live PyArrayObject behind `array`; its fields are read while the
        // GIL is held (we hold `array`).
        let (data, flags) = unsafe { ((*raw).fields.data as usize, (*raw).fields.flags) };
        Ok(Memory {
            layout: RawLayout {
                dtype,
                byte_order,
                shape: array.shape().to_vec(),
                strides: array.strides().to_vec(),
                writeable: flags & NPY_ARRAY_WRITEABLE != 0,
            },
            addr: data,
            _array: PhantomData,
        })
    }

    /// An upper bound of the elements a kernel reads or writes for this input: the product of
    /// the axes' lengths, empty ones counted as one (a reduction of a `(0, n)` array still
    /// writes `n` values).
    pub(crate) fn work(&self) -> usize {
        self.layout.shape.iter().fold(1usize, |w, &n| w.saturating_mul(n.max(1)))
    }

    /// Whether the input is float16 (results of its dtype are cast back to it).
    pub(crate) fn is_half(&self) -> bool {
        self.layout.dtype == DType::F16
    }

    /// Views the array in place, or copies it (stopping once `cancel` is set), as the gate and
    /// `policy` decide.
    pub(crate) fn open(
        &self,
        policy: CopyPolicy,
        cancel: &nocopy_core::Cancel,
    ) -> nocopy_core::Result<Source<'a>> {
        // SAFETY: NumPy guarantees that every element of a live array lies inside its buffer;
        // the `'a` borrow keeps the array alive. Another Python thread could write to the buffer
        // while the GIL is released, which NumPy's own kernels tolerate as well.
        unsafe { gate::view_or_copy_ptr(self.addr as *const u8, &self.layout, policy, cancel) }
    }

    /// What the gate says of this layout.
    pub(crate) fn inspect(&self) -> nocopy_core::Result<Inspection> {
        gate::inspect(&self.layout, self.addr)
    }
}

/// A fresh C-order NumPy array of `shape` whose elements are not yet written, for a kernel that
/// writes every one of them (as `numpy.empty`; large ones get NumPy's huge pages, and each
/// page is first touched by the thread that writes it). A shape NumPy cannot allocate raises
/// NumPy's own `MemoryError` (or `ValueError` for one too big to address), never a panic.
pub(crate) fn empty<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: &[usize],
) -> PyResult<Bound<'py, numpy::PyArrayDyn<T>>> {
    nocopy_core::mem::elements(shape, size_of::<T>()).map_err(CoreError)?;
    let mut dims: Vec<npy_intp> = shape.iter().map(|&n| n as npy_intp).collect();
    // SAFETY: the descriptor reference is stolen by NumPy, as `PyArray_NewFromDescr` wants;
    // `dims` outlives the call, which copies it. Only plain numbers (f32/f64/integers) are
    // created so; no Rust code reads them before the kernel has written them, and on an error
    // the array is dropped unseen. A null result carries NumPy's exception.
    unsafe {
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            numpy::npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            T::get_dtype(py).into_dtype_ptr(),
            dims.len() as std::ffi::c_int,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked())
    }
}

/// A result array as NumPy returns it: a NumPy scalar when 0-d, cast to float16 when asked.
pub(crate) fn to_numpy(py: Python<'_>, values: AnyArray, half: bool) -> PyResult<Py<PyAny>> {
    let a = to_array(py, values, half)?;
    let ndim: usize = a.getattr(pyo3::intern!(py, "ndim"))?.extract()?;
    Ok(if ndim == 0 { a.get_item(PyTuple::empty(py))?.unbind() } else { a.unbind() })
}

/// A result as a NumPy array (also when 0-d), cast to float16 when asked.
pub(crate) fn to_array(py: Python<'_>, values: AnyArray, half: bool) -> PyResult<Bound<'_, PyAny>> {
    fn arr<T: numpy::Element>(py: Python<'_>, a: ArrayD<T>) -> Bound<'_, PyAny> {
        PyArray::from_owned_array(py, a).into_any()
    }
    let is_float = matches!(values, AnyArray::F32(_) | AnyArray::F64(_));
    let a = match values {
        AnyArray::Bool(a) => {
            let bools = nocopy_core::mem::collect(a.len(), a.iter().map(|b| b.get()))
                .and_then(|v| nocopy_core::mem::shaped(a.raw_dim(), v))
                .map_err(CoreError)?;
            arr(py, bools)
        }
        AnyArray::I8(a) => arr(py, a),
        AnyArray::I16(a) => arr(py, a),
        AnyArray::I32(a) => arr(py, a),
        AnyArray::I64(a) => arr(py, a),
        AnyArray::U8(a) => arr(py, a),
        AnyArray::U16(a) => arr(py, a),
        AnyArray::U32(a) => arr(py, a),
        AnyArray::U64(a) => arr(py, a),
        AnyArray::F32(a) => arr(py, a),
        AnyArray::F64(a) => arr(py, a),
    };
    Ok(if half && is_float {
        a.call_method1(pyo3::intern!(py, "astype"), ("float16",))?
    } else {
        a
    })
}
