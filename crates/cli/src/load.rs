//! Opening `.npy` files (memory-mapped) and `.npz` members (read into aligned memory).

#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;

use anyhow::{Context, Result, bail};
use memmap2::Mmap;
use nocopy_core::npy::{self, Header};

/// Where an array's bytes live.
enum Storage {
    /// A memory-mapped `.npy` file.
    Mapped(Mmap),
    /// An `.npz` member, read into 8-byte-aligned memory.
    Read(Vec<u64>, usize),
}

/// An array file: its parsed header and its bytes.
pub(crate) struct NpyArray {
    pub(crate) header: Header,
    pub(crate) mapped: bool,
    storage: Storage,
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Read(words, len) => &bytemuck::cast_slice(words)[..*len],
        }
    }
}

impl NpyArray {
    /// The whole file's bytes (header, then data at `header.data_offset`).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    fn new(storage: Storage, mapped: bool) -> Result<Self> {
        let bytes = storage.bytes();
        let header = npy::parse_header(bytes)?;
        npy::check_complete(&header, bytes.len())?;
        Ok(NpyArray { header, mapped, storage })
    }
}

/// Opens `FILE.npy` (memory-mapped) or `NAME.npz:ARRAY`.
pub(crate) fn open(spec: &str) -> Result<NpyArray> {
    if let Some((archive, member)) = spec.rsplit_once(':').filter(|(a, _)| is_npz(a)) {
        return open_npz(archive, member);
    }
    if is_npz(spec) {
        bail!("{spec}: name the array too, as {spec}:ARRAY");
    }
    let file = File::open(spec).with_context(|| format!("cannot open {spec}"))?;
    let len = file.metadata().with_context(|| format!("cannot read {spec}"))?.len();
    if len < 10 {
        bail!("{spec}: not a valid .npy file: only {len} bytes");
    }
    // SAFETY: the map is read-only and lives inside the returned array. Another process
    // truncating or rewriting the file meanwhile could change what is read, the one hazard every
    // memory-mapped reader (NumPy's np.load(mmap_mode='r') too) accepts.
    let map = unsafe { Mmap::map(&file) }.with_context(|| format!("cannot memory-map {spec}"))?;
    NpyArray::new(Storage::Mapped(map), true).with_context(|| spec.to_string())
}

fn is_npz(path: &str) -> bool {
    std::path::Path::new(path).extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

fn open_npz(archive: &str, member: &str) -> Result<NpyArray> {
    let file = File::open(archive).with_context(|| format!("cannot open {archive}"))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{archive}: not a valid .npz archive"))?;
    let name = format!("{member}.npy");
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok()?.strip_suffix(".npy").map(ToString::to_string))
        .collect();
    let mut entry = match zip.by_name(&name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => {
            bail!("{archive} has no array {member:?}; it holds: {}", names.join(", "))
        }
        Err(e) => return Err(e).with_context(|| format!("{archive}: cannot read {member:?}")),
    };
    let mut raw = Vec::new();
    entry.read_to_end(&mut raw).with_context(|| format!("{archive}: cannot read {member:?}"))?;
    let mut words = vec![0u64; raw.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..raw.len()].copy_from_slice(&raw);
    NpyArray::new(Storage::Read(words, raw.len()), false)
        .with_context(|| format!("{archive}:{member}"))
}
