//! The fuzz target's corpus and every input it ever crashed on, read again on each `cargo test`:
//! no panic, abort or hang (an abort or a hang stops this test run).

use std::path::Path;

fn read_all(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        nocopy_cli::read_anything(&data);
        n += 1;
    }
    n
}

#[test]
fn the_fuzz_corpus_and_past_crashes_read_cleanly() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let corpus = read_all(&fuzz.join("corpus/read"));
    let regressions = read_all(&fuzz.join("regressions/read"));
    assert!(corpus > 100, "the corpus is missing ({corpus} inputs)");
    assert!(regressions >= 2, "the past crashes are missing ({regressions} inputs)");
}
