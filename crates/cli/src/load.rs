//! Opening `.npy` files (memory-mapped) and `.npz` members (read into aligned memory), as
//! NumPy's `np.load` reads them or not at all.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Seek};

use anyhow::{Context, Result, bail};
use memmap2::Mmap;
use nocopy_core::npy::{self, Header};

/// Where an array's bytes live.
enum Storage {
    /// A memory-mapped `.npy` file.
    Mapped(Mmap),
    /// An `.npz` member (or bytes handed over), read into 8-byte-aligned memory.
    Read(Vec<u64>, usize),
}

/// An array file: its parsed header and its bytes.
pub struct NpyArray {
    /// The parsed header.
    pub header: Header,
    /// Whether the bytes are a memory-mapped file (else they were read).
    pub mapped: bool,
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
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    fn new(storage: Storage, mapped: bool) -> Result<Self> {
        let bytes = storage.bytes();
        let header = npy::parse_header(bytes)?;
        npy::check_complete(&header, bytes.len())?;
        Ok(NpyArray { header, mapped, storage })
    }

    /// The `.npy` file whose bytes these are (copied into aligned memory).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut words = aligned(bytes.len())?;
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        NpyArray::new(Storage::Read(words, bytes.len()), false)
    }
}

/// Zeroed 8-byte words holding at least `len` bytes, allocated fallibly.
fn aligned(len: usize) -> Result<Vec<u64>> {
    Ok(nocopy_core::mem::filled(len.div_ceil(8), 0u64)?)
}

/// Opens `FILE.npy` (memory-mapped) or `NAME.npz:ARRAY`.
pub fn open(spec: &str) -> Result<NpyArray> {
    if let Some((archive, member)) = spec.rsplit_once(':').filter(|(a, _)| is_npz(a)) {
        let file = File::open(archive).with_context(|| format!("cannot open {archive}"))?;
        return npz_member(file, member).with_context(|| format!("{archive}:{member}"));
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

/// The array `member` of an `.npz` archive, as NumPy's `np.load(archive)[member]` finds it:
/// the entry `member.npy`, the last one of that name when there are several (as Python's
/// `zipfile`). Its declared size is allocated up front (fallibly), exactly that many bytes are
/// read, and its checksum is verified.
pub fn npz_member(mut archive: impl Read + Seek, member: &str) -> Result<NpyArray> {
    let length = archive.seek(std::io::SeekFrom::End(0)).context("cannot read the archive")?;
    archive.rewind().context("cannot read the archive")?;
    let mut zip = zip::ZipArchive::new(archive).context("not a valid .npz archive")?;
    let name = format!("{member}.npy");
    if zip.index_for_name(&name).is_none() {
        let names: Vec<String> = zip
            .file_names()
            .filter_map(|n| n.ok()?.strip_suffix(".npy").map(ToString::to_string))
            .collect();
        bail!("the archive has no array {member:?}; it holds: {}", names.join(", "))
    }
    let mut entry = zip.by_name(&name).with_context(|| format!("cannot read {member:?}"))?;
    let size = usize::try_from(entry.size()).context("the member is too large")?;
    // A member holds at most the archive's bytes, which deflate expands at most 1032 times
    // (a stored member not at all): a size beyond that is a lie, refused before its memory is
    // asked for.
    let packed = entry.compressed_size().min(length);
    let most = match entry.compression() {
        zip::CompressionMethod::Stored => packed,
        _ => packed.saturating_mul(1032).saturating_add(1024),
    };
    if entry.size() > most {
        bail!("{member:?} claims {size} bytes, more than its {packed} compressed bytes can hold");
    }
    let mut words = aligned(size)?;
    let buf = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..size];
    entry.read_exact(buf).with_context(|| format!("cannot read {member:?}"))?;
    // Reading past the end checks the CRC, and that the member holds no more than it said.
    let mut more = [0u8; 1];
    if entry.read(&mut more).with_context(|| format!("cannot read {member:?}"))? != 0 {
        bail!("{member:?} holds more bytes than its declared size");
    }
    NpyArray::new(Storage::Read(words, size), false)
}
