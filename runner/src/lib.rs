//! The `powerpost` binary's modules, as a library: the command-line front end
//! (`src/main.rs`) calls [`cmd`]; the fuzz targets (`fuzz/`) reach the readers of the run
//! records (`sample.json`, `sweep.json`, `cell.json`) through it. Thin: files in and out,
//! threads, progress, figures; all numerics live in `powerpost-core`.

pub mod atomic;
pub mod cmd;
pub mod exec;
pub mod figures;
pub mod isa;
pub mod npy;
pub mod progress;
pub mod segy_io;
