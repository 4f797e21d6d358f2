//! Backward pass of [`powerpost_core::nn::linear::linear`]
//! (`out[o] = bias[o] + Σ_i w[o][i] · in[i]`).
//!
//! For one input vector: `dw[o][i] += d_out[o] · in[i]`, `db[o] += d_out[o]`,
//! `d_in[i] += Σ_o w[o][i] · d_out[o]` (sum in increasing `o`). Calls for several batch
//! items accumulate in the order they are made.

/// Accumulates the gradients of one `linear` call: `weight_grad` (`out × in`),
/// `bias_grad` (`out`) and, if given, `input_grad` (`in`).
pub fn linear_backward(
    weight: &[f32],
    input: &[f32],
    grad_out: &[f32],
    weight_grad: &mut [f32],
    bias_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
) {
    let n_in = input.len();
    assert_eq!(weight.len(), grad_out.len() * n_in);
    assert_eq!(weight_grad.len(), weight.len());
    assert_eq!(bias_grad.len(), grad_out.len());
    for (o, &d) in grad_out.iter().enumerate() {
        bias_grad[o] += d;
        for (wg, &x) in weight_grad[o * n_in..(o + 1) * n_in].iter_mut().zip(input) {
            *wg += d * x;
        }
    }
    if let Some(gi) = input_grad {
        assert_eq!(gi.len(), n_in);
        for (i, g) in gi.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (o, &d) in grad_out.iter().enumerate() {
                acc += weight[o * n_in + i] * d;
            }
            *g += acc;
        }
    }
}
