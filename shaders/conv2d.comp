#version 450
// 2-D convolution (3x3 "same" or 1x1) on padded planar tensors: the GLSL twin of
// core/src/nn/conv.rs, whose module docs hold the arithmetic contract repeated here.
//
// Layout (core/src/nn/geometry.rs): a tensor is `channels` planes of
// (height + 2) x (width + 2) values, the outer ring zero; batch items one after the other.
// Weights are out x in x k x k (the core's f16 weights widened to f32 exactly), biases
// batch x out.
//
// One invocation computes the values of OUT_BLOCK consecutive output channels at one plane
// cell: plane cell p (x), output channels 4o .. 4o + 3 (y), batch item b (z); the harness
// dispatches ceil(plane / 64) x ceil(out_channels / 4) x batch groups. Each input value
// is loaded once for the four channels; each channel keeps its own accumulator, so the
// order of every value's sum is the scalar order below, whatever the blocking.
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

// Output channels per invocation.
const uint OUT_BLOCK = 4u;

// Adds source SRC's CHANNELS channels (the concatenated input's channels FIRST ..) to the
// four accumulators, taps row-major; TAPS is the literal 9 or 1 so the tap loop unrolls
// and tap t sits at (t / 3) rows and (t % 3) columns from tap (0, 0).
#define ACCUMULATE(SRC, CHANNELS, FIRST, TAPS)                                  \
    for (uint i = 0u; i < CHANNELS; i++) {                                      \
        uint origin = (b * CHANNELS + i) * plane + p - back;                    \
        uint wi = ((FIRST) + i) * TAPS;                                         \
        for (uint t = 0u; t < TAPS; t++) {                                      \
            float v = SRC[origin + (t / 3u) * stride + (t % 3u)];               \
            precise float p0 = weight[w0 + wi + t] * v;                         \
            acc0 = acc0 + p0;                                                   \
            precise float p1 = weight[w1 + wi + t] * v;                         \
            acc1 = acc1 + p1;                                                   \
            precise float p2 = weight[w2 + wi + t] * v;                         \
            acc2 = acc2 + p2;                                                   \
            precise float p3 = weight[w3 + wi + t] * v;                         \
            acc3 = acc3 + p3;                                                   \
        }                                                                       \
    }

// Writes accumulator ACC of output channel O (skipped past the last channel).
#define STORE(ACC, O)                                                           \
    if (O < shape.out_channels) {                                               \
        uint index = (b * shape.out_channels + O) * plane + p;                  \
        if (shape.has_residual != 0u) {                                        \
            precise float with_residual = ACC + residual[index];                \
            precise float scaled = with_residual * shape.residual_scale;        \
            dst[index] = scaled;                                                \
        } else {                                                                \
            dst[index] = ACC;                                                   \
        }                                                                       \
    }

void main() {
    uint p = gl_GlobalInvocationID.x;
    uint o = gl_GlobalInvocationID.y * OUT_BLOCK;
    uint b = gl_GlobalInvocationID.z;
    uint stride = shape.width + 2u;
    uint plane = (shape.height + 2u) * stride;
    if (p >= plane || o >= shape.out_channels || b >= shape.batch || !buffers_fit(plane)) {
        return;
    }
    uint y = p / stride;
    uint x = p - y * stride;
    if (y == 0u || y > shape.height || x == 0u || x > shape.width) {
        for (uint j = o; j < min(o + OUT_BLOCK, shape.out_channels); j++) {
            dst[(b * shape.out_channels + j) * plane + p] = 0.0;
        }
        return;
    }
    uint k = shape.kernel;
    // Offset of tap (0, 0) from the pixel: r rows up and r columns left, r = k / 2; an
    // interior pixel is at least one row and one column from the plane's start.
    uint back = (k / 2u) * (stride + 1u);
    // Weights of (o + j, input channel 0) for the four channels; channels past the last
    // one repeat the last one's (computed, never stored).
    uint last = shape.out_channels - 1u;
    uint row = (shape.channels0 + shape.channels1) * k * k;
    uint w0 = min(o, last) * row;
    uint w1 = min(o + 1u, last) * row;
    uint w2 = min(o + 2u, last) * row;
    uint w3 = min(o + 3u, last) * row;
    uint bias_row = b * shape.out_channels;
    precise float acc0 = bias[bias_row + min(o, last)];
    precise float acc1 = bias[bias_row + min(o + 1u, last)];
    precise float acc2 = bias[bias_row + min(o + 2u, last)];
    precise float acc3 = bias[bias_row + min(o + 3u, last)];
    if (k == 3u) {
        ACCUMULATE(src0, shape.channels0, 0u, 9u)
        ACCUMULATE(src1, shape.channels1, shape.channels0, 9u)
    } else {
        ACCUMULATE(src0, shape.channels0, 0u, 1u)
        ACCUMULATE(src1, shape.channels1, shape.channels0, 1u)
    }
    STORE(acc0, o)
    STORE(acc1, o + 1u)
    STORE(acc2, o + 2u)
    STORE(acc3, o + 3u)
}
