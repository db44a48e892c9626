//! nocopy's Python extension module, `nocopy._native`: converts, releases the GIL, calls core.
//!
//! Everything here is thin: arrays enter through [`convert`] (the zero-copy gate), kernels run
//! through [`run::run`] (GIL released, Ctrl-C honoured), and core errors become Python
//! exceptions in one place, [`error`].

mod convert;
mod distance;
mod error;
mod histogram;
mod kmeans;
mod layout;
mod moving;
mod quantile;
mod reductions;
mod run;
mod scale;

use pyo3::prelude::*;

/// Fast, multi-threaded NumPy-compatible kernels, reading NumPy arrays in place.
#[pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::distance::{_cdist, _knn, _pdist};
    #[pymodule_export]
    use crate::histogram::{_extremes, _histogram};
    #[pymodule_export]
    use crate::kmeans::{_assign, _lloyd, _plusplus, _tolerance};
    #[pymodule_export]
    use crate::layout::{Layout, fma_probe, get_num_threads, inspect, read_probe, set_num_threads};
    #[pymodule_export]
    use crate::moving::{
        move_argmax, move_argmin, move_max, move_mean, move_median, move_min, move_rank, move_std,
        move_sum, move_var,
    };
    #[pymodule_export]
    use crate::quantile::_select;
    #[pymodule_export]
    use crate::reductions::{
        Summary, allnan, anynan, argmax, argmin, describe, max, mean, min, nanargmax, nanargmin,
        nanmax, nanmean, nanmin, nanstd, nansum, nanvar, ss, stddev, sum, var,
    };
    #[pymodule_export]
    use crate::scale::_scale;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("CopyRequiredError", m.py().get_type::<crate::error::CopyRequiredError>())
    }
}
