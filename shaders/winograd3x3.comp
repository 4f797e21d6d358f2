#version 450
// 3x3 "same" convolution by Winograd's F(2x2, 3x3) on padded planar tensors: the GLSL twin
// of core/src/nn/winograd.rs, whose module docs hold the arithmetic contract repeated here.
//
// Layout (core/src/nn/geometry.rs): a tensor is `channels` planes of
// (height + 2) x (width + 2) values, the outer ring zero; batch items one after the other.
// The weights are the core's transformed weights U[xi][i][o] (transform_weights, computed
// on the host by the core itself), biases batch x out.
//
// One invocation computes one 2x2 output tile for OUT_BLOCK consecutive output channels:
// tile t = ty * tiles_wide + tx (x), output channels 4o .. 4o + 3 (y), batch item b (z).
// Per tile and output channel, exactly the core's sequence:
//   d[r][c] = input[2ty + r][2tx + c]            (padded cells as they are; past the plane 0)
//   h = rows of d mapped (d0 - d2, d1 + d2, d2 - d1, d1 - d3), then V = columns of h
//       mapped the same way (V[4r + c])
//   M[xi] = U[xi][0][o] * V_0[xi], then M[xi] = M[xi] + U[xi][i][o] * V_i[xi], i = 1, 2, ...
//   s0[c] = (M[c] + M[4 + c]) + M[8 + c],  s1[c] = (M[4 + c] - M[8 + c]) - M[12 + c]
//   y[.][0] = ((s[0] + s[1]) + s[2]) + bias,  y[.][1] = ((s[1] - s[2]) - s[3]) + bias
//   out = y, or (y + residual) * residual_scale
// Every product and sum is its own `precise` operation (no fma, no reassociation). The
// invocation also writes +0.0 into the ring cells next to its tile (left and right of its
// rows in the first and last tile column, above and below in the first and last tile row),
// so the whole output buffer, ring included, has the core's bits.
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
layout(std430, set = 0, binding = 2) readonly buffer Transformed {
    float u[];
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
    uint kernel;        // always 3 (kept for the shared Shape layout)
    uint out_channels;  // output channels
    uint channels0;     // channels of source 0
    uint channels1;     // channels of source 1 (0: one source)
    uint has_residual;  // 1: out = (y + residual) * residual_scale
    float residual_scale;
} shape;

// Output channels per invocation.
const uint OUT_BLOCK = 4u;

// Whether every buffer holds what the shape needs.
bool buffers_fit(uint plane) {
    uint in_channels = shape.channels0 + shape.channels1;
    uint out_len = shape.batch * shape.out_channels * plane;
    return uint(src0.length()) >= shape.batch * shape.channels0 * plane
        && uint(src1.length()) >= shape.batch * shape.channels1 * plane
        && uint(u.length()) >= 16u * shape.out_channels * in_channels
        && uint(bias.length()) >= shape.batch * shape.out_channels
        && (shape.has_residual == 0u || uint(residual.length()) >= out_len)
        && uint(dst.length()) >= out_len
        && shape.kernel == 3u;
}

precise float m[OUT_BLOCK][16];

// Adds source SRC's CHANNELS channels (the concatenated input's channels FIRST ..) to the
// products of the OUT_BLOCK channels; `first` marks the very first input channel.
#define ACCUMULATE(SRC, CHANNELS, FIRST)                                        \
    for (uint i = 0u; i < CHANNELS; i++) {                                      \
        uint origin = (b * CHANNELS + i) * plane;                               \
        float d[4][4];                                                          \
        for (uint r = 0u; r < 4u; r++) {                                        \
            uint py = 2u * ty + r;                                              \
            for (uint c = 0u; c < 4u; c++) {                                    \
                uint px = 2u * tx + c;                                          \
                d[r][c] = (py < rows && px < stride)                            \
                    ? SRC[origin + py * stride + px] : 0.0;                     \
            }                                                                   \
        }                                                                       \
        precise float h[4][4];                                                  \
        for (uint r = 0u; r < 4u; r++) {                                        \
            h[r][0] = d[r][0] - d[r][2];                                        \
            h[r][1] = d[r][1] + d[r][2];                                        \
            h[r][2] = d[r][2] - d[r][1];                                        \
            h[r][3] = d[r][1] - d[r][3];                                        \
        }                                                                       \
        precise float v[16];                                                    \
        for (uint c = 0u; c < 4u; c++) {                                        \
            v[c] = h[0][c] - h[2][c];                                           \
            v[4u + c] = h[1][c] + h[2][c];                                      \
            v[8u + c] = h[2][c] - h[1][c];                                      \
            v[12u + c] = h[1][c] - h[3][c];                                     \
        }                                                                       \
        uint ci = (FIRST) + i;                                                  \
        for (uint xi = 0u; xi < 16u; xi++) {                                    \
            uint base = (xi * in_channels + ci) * shape.out_channels;           \
            for (uint j = 0u; j < OUT_BLOCK; j++) {                             \
                precise float p = u[base + min(o + j, last)] * v[xi];           \
                m[j][xi] = first ? p : m[j][xi] + p;                            \
            }                                                                   \
        }                                                                       \
        first = false;                                                          \
    }

// Writes +0.0 into padded cell (PY, PX) of output channel plane OUT_BASE.
#define ZERO(OUT_BASE, PY, PX) dst[(OUT_BASE) + (PY) * stride + (PX)] = 0.0

void main() {
    uint t = gl_GlobalInvocationID.x;
    uint o = gl_GlobalInvocationID.y * OUT_BLOCK;
    uint b = gl_GlobalInvocationID.z;
    uint stride = shape.width + 2u;
    uint rows = shape.height + 2u;
    uint plane = rows * stride;
    uint tiles_wide = (shape.width + 1u) / 2u;
    uint tile_rows = (shape.height + 1u) / 2u;
    if (t >= tiles_wide * tile_rows || o >= shape.out_channels || b >= shape.batch
        || !buffers_fit(plane)) {
        return;
    }
    uint ty = t / tiles_wide;
    uint tx = t - ty * tiles_wide;
    uint in_channels = shape.channels0 + shape.channels1;
    // Channels past the last one repeat the last one's weights (computed, never stored).
    uint last = shape.out_channels - 1u;
    bool first = true;
    ACCUMULATE(src0, shape.channels0, 0u)
    ACCUMULATE(src1, shape.channels1, shape.channels0)
    for (uint j = 0u; j < OUT_BLOCK; j++) {
        uint oc = o + j;
        if (oc >= shape.out_channels) {
            break;
        }
        float bj = bias[b * shape.out_channels + oc];
        precise float s[2][4];
        for (uint c = 0u; c < 4u; c++) {
            s[0][c] = (m[j][c] + m[j][4u + c]) + m[j][8u + c];
            s[1][c] = (m[j][4u + c] - m[j][8u + c]) - m[j][12u + c];
        }
        uint out_base = (b * shape.out_channels + oc) * plane;
        for (uint row = 0u; row < 2u; row++) {
            precise float y0 = ((s[row][0] + s[row][1]) + s[row][2]) + bj;
            precise float y1 = ((s[row][1] - s[row][2]) - s[row][3]) + bj;
            uint y = 2u * ty + row;
            for (uint col = 0u; col < 2u; col++) {
                uint x = 2u * tx + col;
                if (y < shape.height && x < shape.width) {
                    uint index = out_base + (y + 1u) * stride + x + 1u;
                    float value = col == 0u ? y0 : y1;
                    if (shape.has_residual != 0u) {
                        precise float with_residual = value + residual[index];
                        precise float scaled = with_residual * shape.residual_scale;
                        dst[index] = scaled;
                    } else {
                        dst[index] = value;
                    }
                }
            }
        }
        // Ring cells: left and right of the tile's rows, above and below its columns.
        uint row0 = 2u * ty + 1u;
        uint row1 = min(row0 + 1u, rows - 1u);
        if (tx == 0u) {
            ZERO(out_base, row0, 0u);
            ZERO(out_base, row1, 0u);
        }
        if (tx + 1u == tiles_wide) {
            ZERO(out_base, row0, stride - 1u);
            ZERO(out_base, row1, stride - 1u);
        }
        uint col0 = 2u * tx + 1u;
        uint col1 = min(col0 + 1u, stride - 1u);
        if (ty == 0u) {
            ZERO(out_base, 0u, col0);
            ZERO(out_base, 0u, col1);
            if (tx == 0u) {
                ZERO(out_base, 0u, 0u);
            }
            if (tx + 1u == tiles_wide) {
                ZERO(out_base, 0u, stride - 1u);
            }
        }
        if (ty + 1u == tile_rows) {
            ZERO(out_base, rows - 1u, col0);
            ZERO(out_base, rows - 1u, col1);
            if (tx == 0u) {
                ZERO(out_base, rows - 1u, 0u);
            }
            if (tx + 1u == tiles_wide) {
                ZERO(out_base, rows - 1u, stride - 1u);
            }
        }
    }
}
