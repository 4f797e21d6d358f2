#version 450
// 2x2 average pooling on padded planar tensors: the GLSL twin of `avg_pool2` in
// core/src/nn/resample.rs, whose module docs hold the arithmetic repeated here.
//
// Layout (core/src/nn/geometry.rs): planes of (height + 2) x (width + 2) values with a zero
// ring. The input planes are the fine geometry (even height and width), the output
// planes the coarse one (half height and width).
//
// One invocation computes one cell p (x) of output plane q (y); the harness dispatches
// ceil(coarse plane / 64) x planes groups. Ring cells are written +0.0 (the core fills the
// plane with zeros first). Interior cell (y, x) of the coarse plane:
//   a = in(2y, 2x), b = in(2y, 2x+1), c = in(2y+1, 2x), d = in(2y+1, 2x+1)
//   out(y, x) = ((a + b) + (c + d)) * 0.25
// each sum and the product its own `precise` operation. The input's ring is never read.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input {
    float src[];
};
layout(std430, set = 0, binding = 1) writeonly buffer Output {
    float dst[];
};

layout(push_constant) uniform Shape {
    uint height;  // interior rows of the coarse (output) geometry
    uint width;   // interior columns of the coarse (output) geometry
    uint planes;  // planes (batch items x channels)
} shape;

void main() {
    uint p = gl_GlobalInvocationID.x;
    uint q = gl_GlobalInvocationID.y;
    uint stride = shape.width + 2u;
    uint plane = (shape.height + 2u) * stride;
    uint fine_stride = 2u * shape.width + 2u;
    uint fine_plane = (2u * shape.height + 2u) * fine_stride;
    if (p >= plane || q >= shape.planes
        || uint(src.length()) < shape.planes * fine_plane
        || uint(dst.length()) < shape.planes * plane) {
        return;
    }
    uint out_index = q * plane + p;
    uint y = p / stride;
    uint x = p - y * stride;
    if (y == 0u || y > shape.height || x == 0u || x > shape.width) {
        dst[out_index] = 0.0;
        return;
    }
    // Interior (y - 1, x - 1) of the coarse plane reads fine rows 2y - 1 and 2y, columns
    // 2x - 1 and 2x of the padded fine plane.
    uint r0 = q * fine_plane + (2u * y - 1u) * fine_stride + 2u * x - 1u;
    uint r1 = r0 + fine_stride;
    float a = src[r0];
    float b = src[r0 + 1u];
    float c = src[r1];
    float d = src[r1 + 1u];
    precise float ab = a + b;
    precise float cd = c + d;
    precise float sum = ab + cd;
    precise float mean = sum * 0.25;
    dst[out_index] = mean;
}
