//! The readers behind the `nocopy` command, as a library for its fuzz targets: `.npy` files and
//! `.npz` members read as NumPy's `np.load` reads them, or refused.

pub mod load;

/// Reads `data` as a `.npy` file, then as an `.npz` archive (its member `a`), and when either
/// opens, reads the array through the gate and summarizes it: the path every command takes.
/// Never panics, aborts or hangs on any input: the property the fuzz targets check.
pub fn read_anything(data: &[u8]) {
    if let Ok(array) = load::NpyArray::from_bytes(data) {
        summarize(&array);
    }
    if let Ok(array) = load::npz_member(std::io::Cursor::new(data), "a") {
        summarize(&array);
    }
}

/// Views or copies the array's data as the commands do, and describes it (every element).
fn summarize(array: &load::NpyArray) {
    use nocopy_core::gate::{CopyPolicy, view_or_copy_bytes};
    let h = &array.header;
    let Ok(source) = view_or_copy_bytes(
        array.bytes(),
        h.data_offset,
        &h.layout,
        CopyPolicy::IfNeeded,
        &nocopy_core::NEVER,
    ) else {
        return;
    };
    let all = nocopy_core::Reduce::all();
    let _ = nocopy_core::dispatch!(source.view(), v => nocopy_core::describe(&v, &all, &nocopy_core::NEVER).map(|_| ()));
}
