//! Any bytes, read as a `.npy` file and as an `.npz` archive, then viewed or copied through the
//! gate and summarized: never a panic, an abort or a hang.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nocopy_cli::read_anything(data));
