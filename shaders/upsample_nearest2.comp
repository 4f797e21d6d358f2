#version 450
// Nearest-neighbour up-sampling by 2 on padded planar tensors: the GLSL twin of
// `upsample_nearest2` in core/src/nn/resample.rs.
//
// Layout (core/src/nn/geometry.rs): planes of (height + 2) x (width + 2) values with a zero
// ring. The input planes are the coarse geometry, the output planes the fine one (double
// height and width).
//
// One invocation writes one cell p (x) of output plane q (y); the harness dispatches
// ceil(fine plane / 64) x planes groups. Ring cells are written +0.0 (the core fills the
// plane with zeros first); interior cell (y, x) of the fine plane is a copy of coarse
// interior cell (y / 2, x / 2). The copy is of the bits (the buffers are read as uint),
// as Rust's copy is: no float operation that could canonicalise a NaN or flush a
// subnormal. The input's ring is never read.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input {
    uint src[];
};
layout(std430, set = 0, binding = 1) writeonly buffer Output {
    uint dst[];
};

layout(push_constant) uniform Shape {
    uint height;  // interior rows of the coarse (input) geometry
    uint width;   // interior columns of the coarse (input) geometry
    uint planes;  // planes (batch items x channels)
} shape;

void main() {
    uint p = gl_GlobalInvocationID.x;
    uint q = gl_GlobalInvocationID.y;
    uint coarse_stride = shape.width + 2u;
    uint coarse_plane = (shape.height + 2u) * coarse_stride;
    uint fine_height = 2u * shape.height;
    uint fine_width = 2u * shape.width;
    uint stride = fine_width + 2u;
    uint plane = (fine_height + 2u) * stride;
    if (p >= plane || q >= shape.planes
        || uint(src.length()) < shape.planes * coarse_plane
        || uint(dst.length()) < shape.planes * plane) {
        return;
    }
    uint out_index = q * plane + p;
    uint y = p / stride;
    uint x = p - y * stride;
    if (y == 0u || y > fine_height || x == 0u || x > fine_width) {
        dst[out_index] = 0u;  // +0.0
        return;
    }
    // Padded fine (y, x) is interior (y - 1, x - 1); its source is coarse interior
    // ((y - 1) / 2, (x - 1) / 2), padded ((y - 1) / 2 + 1, (x - 1) / 2 + 1).
    uint cy = (y - 1u) / 2u + 1u;
    uint cx = (x - 1u) / 2u + 1u;
    dst[out_index] = src[q * coarse_plane + cy * coarse_stride + cx];
}
