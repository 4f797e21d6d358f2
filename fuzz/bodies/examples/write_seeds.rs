//! Writes the seed corpus, `powerpost_fuzz_bodies::seeds()`, to `fuzz/corpus/<target>/`
//! (run after changing a seed; the replay test checks that the committed files are
//! current). Other files in those directories are kept.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    for (target, name, bytes) in powerpost_fuzz_bodies::seeds() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&name), &bytes)?;
        println!("{target}/{name}: {} bytes", bytes.len());
    }
    Ok(())
}
