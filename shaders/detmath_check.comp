#version 450
// Bit-comparison check of detmath.glsl against core/src/detmath (see detmath.glsl).
//
// Input: n f32 bit patterns x_bits[0..n). Output: 17 blocks of n results,
// y_bits[f * n + i] = bits of function f at x = x_bits[i], in this order:
//   0 exp, 1 exp2, 2 ln, 3 log2, 4 sin, 5 cos, 6 recip, 7 rsqrt, 8 sqrt, 9 tanh,
//   10 silu, 11 sigmoid, 12 floor, 13 div(x, x2) with x2 = x_bits[n - 1 - i],
//   14 sin and 15 cos from dm_sin_cos, 16 silu_affine(x, 0.6, -0.125).
// The harness sizes the output buffer 17 * n and dispatches ceil(n / 64) groups.
#extension GL_GOOGLE_include_directive : require
#include "detmath.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Inputs {
    uint x_bits[];
};
layout(std430, set = 0, binding = 1) writeonly buffer Outputs {
    uint y_bits[];
};

// Arguments of the silu_affine check (f32 bits 0x3F490FDB and 0xBE000000).
const float AFFINE_SCALE = 0.6;
const float AFFINE_SHIFT = -0.125;

void main() {
    uint n = uint(x_bits.length());
    uint i = gl_GlobalInvocationID.x;
    if (i >= n) {
        return;
    }
    float x = uintBitsToFloat(x_bits[i]);
    float x2 = uintBitsToFloat(x_bits[n - 1u - i]);

    y_bits[0u * n + i] = floatBitsToUint(dm_exp(x));
    y_bits[1u * n + i] = floatBitsToUint(dm_exp2(x));
    y_bits[2u * n + i] = floatBitsToUint(dm_ln(x));
    y_bits[3u * n + i] = floatBitsToUint(dm_log2(x));
    y_bits[4u * n + i] = floatBitsToUint(dm_sin(x));
    y_bits[5u * n + i] = floatBitsToUint(dm_cos(x));
    y_bits[6u * n + i] = floatBitsToUint(dm_recip(x));
    y_bits[7u * n + i] = floatBitsToUint(dm_rsqrt(x));
    y_bits[8u * n + i] = floatBitsToUint(dm_sqrt(x));
    y_bits[9u * n + i] = floatBitsToUint(dm_tanh(x));
    y_bits[10u * n + i] = floatBitsToUint(dm_silu(x));
    y_bits[11u * n + i] = floatBitsToUint(dm_sigmoid(x));
    y_bits[12u * n + i] = floatBitsToUint(dm_floor(x));
    y_bits[13u * n + i] = floatBitsToUint(dm_div(x, x2));
    float s;
    float c;
    dm_sin_cos(x, s, c);
    y_bits[14u * n + i] = floatBitsToUint(s);
    y_bits[15u * n + i] = floatBitsToUint(c);
    y_bits[16u * n + i] = floatBitsToUint(dm_silu_affine(x, AFFINE_SCALE, AFFINE_SHIFT));
}
