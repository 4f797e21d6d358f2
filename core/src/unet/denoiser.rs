//! The network as a [`ConditionalDenoiser`]: binds a [`UNet`], an executor, the image
//! size, the condition and the workspace, so that samplers can call it.

use super::forward::{workspace_len, DenoiseInput, DenoiseOutput, UNet};
use crate::error::{check_len, Error};
use crate::exec::Executor;
use crate::power::ConditionalDenoiser;

/// A [`UNet`] evaluated on `height × width` images with a fixed condition.
pub struct NetworkDenoiser<'a, 'p> {
    net: &'a UNet<'p>,
    exec: &'a dyn Executor,
    height: usize,
    width: usize,
    condition: &'a [f32],
    workspace: &'a mut [f32],
}

/// Workspace values a [`NetworkDenoiser`] needs (both branches in one batch).
pub fn network_denoiser_workspace_len(net: &UNet<'_>, height: usize, width: usize) -> usize {
    workspace_len(net.config(), height, width, 2)
}

impl<'a, 'p> NetworkDenoiser<'a, 'p> {
    /// Binds `net` to an image size, a condition (the normalised RTM image, followed by
    /// the normalised background model when the network
    /// [takes it](crate::unet::UNetConfig::takes_background); or an empty slice when only
    /// the unconditional branch will be asked for) and a workspace of
    /// [`network_denoiser_workspace_len`] values.
    ///
    /// # Errors
    /// [`Error::BufferLength`] for a mis-sized condition or workspace.
    pub fn new(
        net: &'a UNet<'p>,
        exec: &'a dyn Executor,
        height: usize,
        width: usize,
        condition: &'a [f32],
        workspace: &'a mut [f32],
    ) -> Result<Self, Error> {
        if !condition.is_empty() {
            check_len(
                "condition",
                condition.len(),
                net.config().condition_len(height, width),
            )?;
        }
        check_len(
            "workspace",
            workspace.len(),
            network_denoiser_workspace_len(net, height, width),
        )?;
        Ok(Self {
            net,
            exec,
            height,
            width,
            condition,
            workspace,
        })
    }
}

impl ConditionalDenoiser for NetworkDenoiser<'_, '_> {
    fn image_len(&self) -> usize {
        self.height * self.width
    }

    fn denoise(
        &mut self,
        x: &[f32],
        sigma: f32,
        conditional: Option<&mut [f32]>,
        unconditional: Option<&mut [f32]>,
    ) -> Result<(), Error> {
        if conditional.is_some() && self.condition.is_empty() {
            return Err(Error::InvalidArgument {
                name: "condition",
                expected: "an RTM image for the conditional branch (λ > 0)",
            });
        }
        let batch = usize::from(conditional.is_some()) + usize::from(unconditional.is_some());
        let need = workspace_len(self.net.config(), self.height, self.width, batch.max(1));
        let input = DenoiseInput {
            height: self.height,
            width: self.width,
            x,
            sigma,
            condition: self.condition,
        };
        self.net.denoise(
            self.exec,
            input,
            DenoiseOutput {
                conditional,
                unconditional,
            },
            &mut self.workspace[..need],
        )
    }
}
