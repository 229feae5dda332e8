//! The six dataset configurations of the official `run.sh` (spec `wavelet.md` §2.7).

use std::fmt;
use std::str::FromStr;

use ultrares_wavelet::BandOrder;

use crate::{
    DiscriminatorConfig, DiscriminatorKind, GeneratorConfig, NetType, OfficialArgs, Result,
    WaveDiffError,
};

/// A dataset preset of `WaveDiff:run.sh`: generator, discriminator, schedule, the image DWT's
/// band order and the training hyper-parameters of the released checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// CIFAR-10, 32² ("normal" generator, T = 4).
    Cifar10,
    /// STL-10 at 64² (T = 4).
    Stl10,
    /// CelebA-HQ 256² (T = 2, WaveCNet band order).
    Celeba256,
    /// CelebA-HQ 512² (T = 2).
    Celeba512,
    /// CelebA-HQ 1024² (T = 2, patch size 2, WaveCNet band order).
    Celeba1024,
    /// LSUN Church 256² (T = 4).
    Lsun,
}

/// Training hyper-parameters of a preset (`run.sh` and the argparse defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingConfig {
    /// `--lr_g`.
    pub lr_g: f64,
    /// `--lr_d`.
    pub lr_d: f64,
    /// `--beta1`, `--beta2` of both Adam optimisers.
    pub betas: (f64, f64),
    /// `--r1_gamma`.
    pub r1_gamma: f64,
    /// `--lazy_reg`.
    pub lazy_reg: usize,
    /// `--ema_decay`.
    pub ema_decay: f64,
    /// `--batch_size` per GPU.
    pub batch_size: usize,
    /// `--num_epoch`.
    pub num_epoch: usize,
    /// The epoch of the released `netG_*.pth`.
    pub released_epoch: usize,
}

impl Preset {
    /// Every preset, in `run.sh` order.
    pub const ALL: [Preset; 6] = [
        Preset::Cifar10,
        Preset::Stl10,
        Preset::Celeba256,
        Preset::Celeba512,
        Preset::Celeba1024,
        Preset::Lsun,
    ];

    /// The `--dataset` name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Cifar10 => "cifar10",
            Preset::Stl10 => "stl10",
            Preset::Celeba256 => "celeba_256",
            Preset::Celeba512 => "celeba_512",
            Preset::Celeba1024 => "celeba_1024",
            Preset::Lsun => "lsun",
        }
    }

    /// Image side in pixels (`--image_size`).
    pub fn image_size(self) -> usize {
        match self {
            Preset::Cifar10 => 32,
            Preset::Stl10 => 64,
            Preset::Celeba256 | Preset::Lsun => 256,
            Preset::Celeba512 => 512,
            Preset::Celeba1024 => 1024,
        }
    }

    /// `--num_timesteps` (T).
    pub fn num_timesteps(self) -> usize {
        match self {
            Preset::Cifar10 | Preset::Stl10 | Preset::Lsun => 4,
            _ => 2,
        }
    }

    /// Detail-band order of the image DWT/IDWT (`--use_pytorch_wavelet` or WaveCNet's
    /// `DWT_2D`).
    pub fn band_order(self) -> BandOrder {
        match self {
            Preset::Celeba256 | Preset::Celeba1024 => BandOrder::WaveCnet,
            _ => BandOrder::Pywt,
        }
    }

    /// The generator of the released checkpoint.
    pub fn generator(self) -> GeneratorConfig {
        let (net_type, nf, ch_mult, attn, n_mlp, patch): (_, _, &[usize], &[usize], _, _) =
            match self {
                Preset::Cifar10 => (NetType::Normal, 128, &[1, 2, 2], &[32], 4, 1),
                Preset::Stl10 => (NetType::Wavelet, 128, &[1, 2, 2, 2], &[16], 4, 1),
                Preset::Celeba256 | Preset::Lsun => {
                    (NetType::Wavelet, 64, &[1, 2, 2, 2, 4], &[16], 3, 1)
                }
                Preset::Celeba512 => (NetType::Wavelet, 64, &[1, 1, 2, 2, 4, 4], &[16], 3, 1),
                Preset::Celeba1024 => (NetType::Wavelet, 64, &[1, 1, 2, 2, 4, 4], &[0], 3, 2),
            };
        GeneratorConfig {
            net_type,
            num_channels: 12,
            image_size: self.image_size() / 2,
            patch_size: patch,
            nf,
            ch_mult: ch_mult.to_vec(),
            num_res_blocks: 2,
            attn_resolutions: attn.to_vec(),
            nz: 100,
            z_emb_dim: 256,
            n_mlp,
            not_use_tanh: false,
        }
    }

    /// The discriminator used to train it.
    pub fn discriminator(self) -> DiscriminatorConfig {
        let (kind, num_layers) = match self {
            Preset::Cifar10 => (DiscriminatorKind::Small, 3),
            Preset::Stl10 => (DiscriminatorKind::Small, 4),
            Preset::Celeba256 | Preset::Lsun => (DiscriminatorKind::Large, 5),
            Preset::Celeba512 | Preset::Celeba1024 => (DiscriminatorKind::Large, 6),
        };
        DiscriminatorConfig {
            kind,
            num_channels: 12,
            ngf: 64,
            t_emb_dim: 256,
            num_layers,
        }
    }

    /// The model as [`OfficialArgs`] (generator, discriminator, `T`, band order).
    pub fn official_args(self) -> OfficialArgs {
        OfficialArgs {
            generator: self.generator(),
            discriminator: self.discriminator(),
            num_timesteps: self.num_timesteps(),
            band_order: self.band_order(),
        }
    }

    /// The training hyper-parameters of the released checkpoint.
    pub fn training(self) -> TrainingConfig {
        let (lr_g, lr_d, r1_gamma, lazy_reg, ema_decay, batch_size, num_epoch, released_epoch) =
            match self {
                Preset::Cifar10 => (1.6e-4, 1.25e-4, 0.02, 15, 0.9999, 256, 1800, 1300),
                Preset::Stl10 => (1.6e-4, 1.25e-4, 0.02, 15, 0.9999, 256, 900, 600),
                Preset::Celeba256 => (2e-4, 1e-4, 2.0, 10, 0.9999, 32, 500, 475),
                Preset::Celeba512 => (2e-4, 1e-4, 2.0, 10, 0.9999, 4, 400, 350),
                Preset::Celeba1024 => (2e-4, 1e-4, 2.0, 10, 0.9999, 4, 400, 350),
                Preset::Lsun => (1.6e-4, 1e-4, 1.0, 10, 0.999, 16, 500, 400),
            };
        TrainingConfig {
            lr_g,
            lr_d,
            betas: (0.5, 0.9),
            r1_gamma,
            lazy_reg,
            ema_decay,
            batch_size,
            num_epoch,
            released_epoch,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = WaveDiffError;

    /// A `--dataset` name of `run.sh`.
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                WaveDiffError::config(
                    "dataset",
                    s,
                    "one of cifar10, stl10, celeba_256, celeba_512, celeba_1024, lsun",
                )
            })
    }
}
