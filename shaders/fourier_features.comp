#version 450
// Fourier features of the noise level: the GLSL twin of `fourier_features` in
// core/src/nn/linear.rs, whose module docs hold the arithmetic repeated here.
//
// The frequencies are the core's `FREQUENCIES`, uploaded by the harness as f32 bits (so
// they are the same constants, not a second rounding of 2^(i/4)). One invocation handles
// frequency i (x) of the `half` frequencies; the harness dispatches one group:
//   a = c_noise * frequency[i]
//   out[i] = dm_cos(a),  out[half + i] = dm_sin(a)
// as the core calls detmath::cos and detmath::sin (two calls, as there). The product is
// `precise`; dm_cos / dm_sin are the twins in detmath.glsl.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).
#extension GL_GOOGLE_include_directive : require
#include "detmath.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Frequencies {
    float frequency[];
};
layout(std430, set = 0, binding = 1) writeonly buffer Output {
    float dst[];
};

layout(push_constant) uniform Shape {
    uint half_len;  // frequencies; the output holds 2 * half_len values
    float c_noise;  // the noise-level input
} shape;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= shape.half_len
        || uint(frequency.length()) < shape.half_len
        || uint(dst.length()) < 2u * shape.half_len) {
        return;
    }
    precise float a = shape.c_noise * frequency[i];
    dst[i] = dm_cos(a);
    dst[shape.half_len + i] = dm_sin(a);
}
