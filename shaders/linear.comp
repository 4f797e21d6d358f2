#version 450
// Dense layer out = weight . input + bias: the GLSL twin of `linear` in
// core/src/nn/linear.rs, whose module docs hold the arithmetic repeated here.
//
// Layout: weight is out_len x in_len, row-major (row o holds the weights of output o);
// bias and out have out_len values, input in_len.
//
// One invocation computes one output o (x); the harness dispatches ceil(out_len / 64)
// groups:
//   acc = bias[o]
//   for i in 0..in_len   acc = acc + weight[o][i] * input[i]
//   out[o] = acc
// Every product and sum is its own `precise` operation (no fma, no reassociation); with
// in_len = 0 the output is its bias, as in the core.
//
// Safety: the shader writes nothing unless every buffer is at least as long as the shape
// in the push constants requires (checked against `.length()`).

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Weights {
    float weight[];
};
layout(std430, set = 0, binding = 1) readonly buffer Biases {
    float bias[];
};
// The input vector (a 1-value dummy when in_len = 0).
layout(std430, set = 0, binding = 2) readonly buffer Input {
    float src[];
};
layout(std430, set = 0, binding = 3) writeonly buffer Output {
    float dst[];
};

layout(push_constant) uniform Shape {
    uint in_len;   // input values
    uint out_len;  // output values
} shape;

// Whether every buffer holds what the shape needs.
bool buffers_fit() {
    return uint(weight.length()) >= shape.out_len * shape.in_len
        && uint(bias.length()) >= shape.out_len
        && uint(src.length()) >= shape.in_len
        && uint(dst.length()) >= shape.out_len;
}

void main() {
    uint o = gl_GlobalInvocationID.x;
    if (o >= shape.out_len || !buffers_fit()) {
        return;
    }
    uint w = o * shape.in_len;
    precise float acc = bias[o];
    for (uint i = 0u; i < shape.in_len; i++) {
        precise float product = weight[w + i] * src[i];
        acc = acc + product;
    }
    dst[o] = acc;
}
