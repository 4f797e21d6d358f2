//! Neural-network layers on padded planar tensors: the fast kernels (generic over SIMD
//! width, bit-identical to the scalar order written in each module) and their plain
//! reference versions ([`reference`](mod@reference)).

pub mod conv;
pub mod geometry;
pub mod linear;
pub mod norm;
pub mod reference;
pub mod resample;
pub mod simd;
pub mod winograd;

#[cfg(test)]
mod tests;
