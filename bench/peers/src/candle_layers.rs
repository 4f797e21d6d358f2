//! The network's layers written once in candle ops, for both candle peers (the inference
//! peer `candle_net` and the training peer `candle_train`): each only says where its
//! tensors live.

use anyhow::Result;
use candle_core::{Tensor, D};
use powerpost_core::unet::UNetConfig;

/// A candle model of the core's U-Net: its configuration and named tensors, plus the
/// layers built from them.
pub trait Layers {
    /// The architecture.
    fn config(&self) -> &UNetConfig;

    /// The tensor called `name` (e.g. `enc.0.conv1.weight`).
    fn tensor(&self, name: &str) -> Result<&Tensor>;

    /// `x · Wᵀ + b` for `x` of shape `[B, in]`.
    fn linear(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        let w = self.tensor(&format!("{prefix}weight"))?;
        let b = self.tensor(&format!("{prefix}bias"))?;
        Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
    }

    /// 3×3 "same" (padding 1) or 1×1 convolution plus bias.
    fn conv(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        let w = self.tensor(&format!("{prefix}weight"))?;
        let b = self.tensor(&format!("{prefix}bias"))?;
        let k = w.dim(3)?;
        let y = x.conv2d(w, k / 2, 1, 1, 1)?;
        Ok(y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?)
    }

    /// SiLU(GroupNorm(x)) with `config().groups(C)` groups.
    fn norm_silu(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let groups = self.config().groups(c);
        let gamma = self.tensor(&format!("{prefix}weight"))?.reshape((1, c, 1, 1))?;
        let beta = self.tensor(&format!("{prefix}bias"))?.reshape((1, c, 1, 1))?;
        let g = x.contiguous()?.reshape((b, groups, (c / groups) * h * w))?;
        let mean = g.mean_keepdim(D::Minus1)?;
        let centred = g.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.config().eps as f64)?.sqrt()?)?;
        let y = normed.reshape((b, c, h, w))?.broadcast_mul(&gamma)?.broadcast_add(&beta)?;
        Ok(y.silu()?)
    }
}
