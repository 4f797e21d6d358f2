//! The committed C header `include/powerpost.h` is what cbindgen generates from the
//! crate's sources now (so a changed signature cannot ship with a stale header).
//!
//! `POWERPOST_UPDATE_HEADER=1 cargo test -p powerpost-capi --test header` rewrites it.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("capi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = crate_dir.join("include/powerpost.h");
    if std::env::var_os("POWERPOST_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/powerpost.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                committed.lines().count().min(generated.lines().count()),
                |i| i,
            )
            + 1;
        panic!(
            "{} is stale (first difference at line {line}); regenerate it with\n  \
             POWERPOST_UPDATE_HEADER=1 cargo test -p powerpost-capi --test header",
            path.display()
        );
    }
}
