#version 450
// Group normalisation, optionally followed by SiLU, on padded planar tensors: the GLSL
// twin of core/src/nn/norm.rs, whose module docs hold the arithmetic contract repeated
// here.
//
// Layout (core/src/nn/geometry.rs): planes of (height + 2) x (width + 2) values with a zero
// ring; the input channels are source 0's followed by source 1's.
//
// One work group of 64 invocations normalises group g (x) of batch item b (y); the harness
// dispatches groups x batch work groups. With cpg = channels / groups and the group's
// n = cpg * height * width interior values e_k in order channel, row, column:
//   sum8(v): invocation j < 8 accumulates s_j = sum of v_k over k = j mod 8 in increasing k
//            (exactly the core's interleaved partial sums), then invocation 0 combines
//            ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
//   inv_n   = dm_recip(n as f32)  (see main: the conversion rounds as Rust's)
//   mean    = sum8(e) * inv_n
//   var     = sum8((e - mean) * (e - mean)) * inv_n
//   inv_std = dm_rsqrt(var + eps)
//   scale_c = gamma[c] * inv_std,  shift_c = beta[c] - mean * scale_c
//   out     = dm_silu_affine(e, scale_c, shift_c)  (silu(e * scale_c + shift_c)),
//             or e * scale_c + shift_c without the activation
// All 64 invocations then write the group's planes; ring cells are written +0.0 (the core
// zeroes them after its flattened rows). Every float result is `precise`.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).
#extension GL_GOOGLE_include_directive : require
#include "detmath.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Source0 {
    float src0[];
};
// Second source (a 1-value dummy when there is none: channels1 = 0).
layout(std430, set = 0, binding = 1) readonly buffer Source1 {
    float src1[];
};
layout(std430, set = 0, binding = 2) readonly buffer Gamma {
    float gamma[];
};
layout(std430, set = 0, binding = 3) readonly buffer Beta {
    float beta[];
};
layout(std430, set = 0, binding = 4) writeonly buffer Output {
    float dst[];
};

layout(push_constant) uniform Shape {
    uint height;     // interior rows
    uint width;      // interior columns
    uint batch;      // batch items
    uint channels0;  // channels of source 0
    uint channels1;  // channels of source 1 (0: one source)
    uint groups;     // groups; divides channels0 + channels1
    uint silu;       // 1: SiLU follows
    float eps;       // added to the variance
} shape;

// Partial sums of the group's statistics, then mean (0) and inv_std (1).
shared float partial[8];
shared float stats[2];

// Whether every buffer holds what the shape needs.
bool buffers_fit(uint plane) {
    uint channels = shape.channels0 + shape.channels1;
    return shape.groups != 0u
        && channels % shape.groups == 0u
        && uint(src0.length()) >= shape.batch * shape.channels0 * plane
        && uint(src1.length()) >= shape.batch * shape.channels1 * plane
        && uint(gamma.length()) >= channels
        && uint(beta.length()) >= channels
        && uint(dst.length()) >= shape.batch * channels * plane;
}

// Cell `index` of the plane of concatenated channel c of batch item b.
float value(uint b, uint c, uint index, uint plane) {
    if (c < shape.channels0) {
        return src0[(b * shape.channels0 + c) * plane + index];
    }
    return src1[(b * shape.channels1 + (c - shape.channels0)) * plane + index];
}

// Interior value k (order channel, row, column) of the group starting at channel c0.
float element(uint b, uint c0, uint k, uint stride, uint plane) {
    uint pixels = shape.height * shape.width;
    uint c = k / pixels;
    uint rest = k - c * pixels;
    uint y = rest / shape.width;
    uint x = rest - y * shape.width;
    return value(b, c0 + c, (y + 1u) * stride + x + 1u, plane);
}

// ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) of the shared partial sums.
float combined_partials() {
    precise float s01 = partial[0] + partial[1];
    precise float s23 = partial[2] + partial[3];
    precise float s45 = partial[4] + partial[5];
    precise float s67 = partial[6] + partial[7];
    precise float low = s01 + s23;
    precise float high = s45 + s67;
    precise float total = low + high;
    return total;
}

void main() {
    uint lane = gl_LocalInvocationID.x;
    uint g = gl_WorkGroupID.x;
    uint b = gl_WorkGroupID.y;
    uint stride = shape.width + 2u;
    uint plane = (shape.height + 2u) * stride;
    // Uniform across the work group, so the barriers below stay in uniform control flow.
    if (b >= shape.batch || !buffers_fit(plane) || g >= shape.groups) {
        return;
    }
    uint cpg = (shape.channels0 + shape.channels1) / shape.groups;
    uint c0 = g * cpg;
    uint n = cpg * shape.height * shape.width;
    // float(n) rounded to nearest even as Rust's `n as f32`: Vulkan leaves the rounding of
    // an inexact integer-to-float conversion to the implementation, so the conversion is
    // made of two exact ones (each half below 2^16) and one correctly rounded addition.
    precise float n_high = float(n >> 16u) * 65536.0;
    precise float n_float = n_high + float(n & 0xFFFFu);
    precise float inv_n = dm_recip(n_float);

    if (lane < 8u) {
        precise float s = 0.0;
        for (uint k = lane; k < n; k += 8u) {
            s = s + element(b, c0, k, stride, plane);
        }
        partial[lane] = s;
    }
    memoryBarrierShared();
    barrier();
    if (lane == 0u) {
        precise float mean = combined_partials() * inv_n;
        stats[0] = mean;
    }
    memoryBarrierShared();
    barrier();
    float mean = stats[0];

    if (lane < 8u) {
        precise float s = 0.0;
        for (uint k = lane; k < n; k += 8u) {
            precise float d = element(b, c0, k, stride, plane) - mean;
            precise float d2 = d * d;
            s = s + d2;
        }
        partial[lane] = s;
    }
    memoryBarrierShared();
    barrier();
    if (lane == 0u) {
        precise float var = combined_partials() * inv_n;
        precise float var_eps = var + shape.eps;
        stats[1] = dm_rsqrt(var_eps);
    }
    memoryBarrierShared();
    barrier();
    float inv_std = stats[1];

    uint channels = shape.channels0 + shape.channels1;
    for (uint q = lane; q < cpg * plane; q += 64u) {
        uint c = c0 + q / plane;
        uint index = q - (q / plane) * plane;
        uint out_index = (b * channels + c) * plane + index;
        uint y = index / stride;
        uint x = index - y * stride;
        if (y == 0u || y > shape.height || x == 0u || x > shape.width) {
            dst[out_index] = 0.0;
            continue;
        }
        precise float scale = gamma[c] * inv_std;
        precise float mean_scaled = mean * scale;
        precise float shift = beta[c] - mean_scaled;
        float e = value(b, c, index, plane);
        if (shape.silu != 0u) {
            dst[out_index] = dm_silu_affine(e, scale, shift);
        } else {
            precise float scaled = e * scale;
            precise float shifted = scaled + shift;
            dst[out_index] = shifted;
        }
    }
}
