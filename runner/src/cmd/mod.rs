//! Subcommand implementations.

pub mod wave;
pub mod wave_util;
