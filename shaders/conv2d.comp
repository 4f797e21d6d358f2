#version 450
// 2-D convolution (3x3 "same" or 1x1) on padded planar tensors: the GLSL twin of
// core/src/nn/conv.rs, whose module docs hold the arithmetic contract repeated here.
//
// Layout (core/src/nn/geometry.rs): a tensor is `channels` planes of
// (height + 2) x (width + 2) values, the outer ring zero; batch items one after the other.
// Weights are out x in x k x k (the core's f16 weights widened to f32 exactly), biases
// batch x out.
//
// One invocation computes one value of the output: plane cell p (x), output channel o (y),
// batch item b (z); the harness dispatches ceil(plane / 64) x out_channels x batch groups.
// Ring cells are written +0.0 (the core zeroes them after its flattened strips). For an
// interior cell:
//   acc = bias[b][o]
//   for i in 0..in_channels      (source 0's channels, then source 1's)
//       for ky, kx (row-major)   acc = acc + weight[o][i][ky][kx] * input[b][i][p + (ky - r)*stride + (kx - r)]
//   out = acc, or (acc + residual[b][o][p]) * residual_scale
// Every product and sum is its own `precise` operation (no fma, no reassociation). The taps
// read the input cells as they are (ring included), as the core does.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Source0 {
    float src0[];
};
// Second source (a 1-value dummy when there is none: channels1 = 0).
layout(std430, set = 0, binding = 1) readonly buffer Source1 {
    float src1[];
};
layout(std430, set = 0, binding = 2) readonly buffer Weights {
    float weight[];
};
layout(std430, set = 0, binding = 3) readonly buffer Biases {
    float bias[];
};
// Residual, shaped like the output (a 1-value dummy when has_residual = 0).
layout(std430, set = 0, binding = 4) readonly buffer Residual {
    float residual[];
};
layout(std430, set = 0, binding = 5) writeonly buffer Output {
    float dst[];
};

layout(push_constant) uniform Shape {
    uint height;        // interior rows
    uint width;         // interior columns
    uint batch;         // batch items
    uint kernel;        // 1 or 3
    uint out_channels;  // output channels
    uint channels0;     // channels of source 0
    uint channels1;     // channels of source 1 (0: one source)
    uint has_residual;  // 1: out = (acc + residual) * residual_scale
    float residual_scale;
} shape;

// Whether every buffer holds what the shape needs.
bool buffers_fit(uint plane) {
    uint in_channels = shape.channels0 + shape.channels1;
    uint k2 = shape.kernel * shape.kernel;
    uint out_len = shape.batch * shape.out_channels * plane;
    return uint(src0.length()) >= shape.batch * shape.channels0 * plane
        && uint(src1.length()) >= shape.batch * shape.channels1 * plane
        && uint(weight.length()) >= shape.out_channels * in_channels * k2
        && uint(bias.length()) >= shape.batch * shape.out_channels
        && (shape.has_residual == 0u || uint(residual.length()) >= out_len)
        && uint(dst.length()) >= out_len
        && (shape.kernel == 1u || shape.kernel == 3u);
}

void main() {
    uint p = gl_GlobalInvocationID.x;
    uint o = gl_GlobalInvocationID.y;
    uint b = gl_GlobalInvocationID.z;
    uint stride = shape.width + 2u;
    uint plane = (shape.height + 2u) * stride;
    if (p >= plane || o >= shape.out_channels || b >= shape.batch || !buffers_fit(plane)) {
        return;
    }
    uint out_index = (b * shape.out_channels + o) * plane + p;
    uint y = p / stride;
    uint x = p - y * stride;
    if (y == 0u || y > shape.height || x == 0u || x > shape.width) {
        dst[out_index] = 0.0;
        return;
    }
    uint k = shape.kernel;
    // Offset of tap (0, 0) from the pixel: r rows up and r columns left, r = k / 2; an
    // interior pixel is at least one row and one column from the plane's start.
    uint back = (k / 2u) * (stride + 1u);
    // Weights of (o, i = 0); consecutive taps and input channels follow one another.
    uint w = o * (shape.channels0 + shape.channels1) * k * k;
    precise float acc = bias[b * shape.out_channels + o];
    for (uint i = 0u; i < shape.channels0; i++) {
        uint origin = (b * shape.channels0 + i) * plane + p - back;
        for (uint ky = 0u; ky < k; ky++) {
            for (uint kx = 0u; kx < k; kx++) {
                precise float product = weight[w] * src0[origin + ky * stride + kx];
                acc = acc + product;
                w++;
            }
        }
    }
    for (uint i = 0u; i < shape.channels1; i++) {
        uint origin = (b * shape.channels1 + i) * plane + p - back;
        for (uint ky = 0u; ky < k; ky++) {
            for (uint kx = 0u; kx < k; kx++) {
                precise float product = weight[w] * src1[origin + ky * stride + kx];
                acc = acc + product;
                w++;
            }
        }
    }
    if (shape.has_residual != 0u) {
        precise float with_residual = acc + residual[out_index];
        precise float scaled = with_residual * shape.residual_scale;
        dst[out_index] = scaled;
    } else {
        dst[out_index] = acc;
    }
}
