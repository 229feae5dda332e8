//! Generator and discriminator configurations with the official argparse names
//! (`WaveDiff:train_wddgan.py`, spec `wavelet.md` §2.5–2.7).
//!
//! Only the settings every released model uses are configurable: `resblock_type='biggan'`,
//! `progressive='none'`, `progressive_input='residual'`, `progressive_combine='sum'`,
//! `embedding_type='positional'`, `skip_rescale`, `resamp_with_conv`, `fir` with
//! `fir_kernel=[1,3,3,1]`, `conditional`, `centered` and `dropout=0` are fixed, and the
//! ablations `--no_use_fbn`, `--no_use_freq`, `--no_use_residual` are not built.

use crate::{Result, WaveDiffError};

/// Which generator `--net_type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetType {
    /// `WaveletNCSNpp` ("Ours + W-Generator"): wavelet down/up blocks, wavelet input pyramid and
    /// the frequency bottleneck.
    Wavelet,
    /// DDGAN's `NCSNpp` with FIR up/down sampling (CIFAR-10's "normal" generator).
    Normal,
}

/// `NCSNpp`/`WaveletNCSNpp` hyper-parameters (argparse names of `train_wddgan.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// `--net_type`.
    pub net_type: NetType,
    /// `--num_channels`: channels of the diffusion tensor (12 = 4 Haar bands × RGB).
    pub num_channels: usize,
    /// `--current_resolution` (the model's `image_size`): side of the diffusion tensor, half
    /// the image side.
    pub image_size: usize,
    /// `--patch_size`: pixel-unshuffle factor in front of the network (2 for celeba_1024).
    pub patch_size: usize,
    /// `--num_channels_dae` (`nf`).
    pub nf: usize,
    /// `--ch_mult`.
    pub ch_mult: Vec<usize>,
    /// `--num_res_blocks`.
    pub num_res_blocks: usize,
    /// `--attn_resolutions`: feature widths (after patchify) that get an attention block.
    pub attn_resolutions: Vec<usize>,
    /// `--nz`: width of the latent `z`.
    pub nz: usize,
    /// `--z_emb_dim`.
    pub z_emb_dim: usize,
    /// `--n_mlp`: dense layers after the first one in the z mapping.
    pub n_mlp: usize,
    /// `--not_use_tanh`.
    pub not_use_tanh: bool,
}

impl GeneratorConfig {
    /// `(image_size / patch_size) / 2^i` per level (`all_resolutions`).
    pub fn all_resolutions(&self) -> Vec<usize> {
        let base = self.image_size / self.patch_size.max(1);
        (0..self.ch_mult.len()).map(|i| base >> i).collect()
    }

    /// Input channels after patchify (`num_channels · patch_size²`).
    pub fn channels(&self) -> usize {
        self.num_channels * self.patch_size * self.patch_size
    }

    /// Checks that the network can be built and run on `image_size` inputs.
    ///
    /// # Errors
    /// [`WaveDiffError::Config`] naming the field: zero sizes, a patch size that does not
    /// divide the image size, channel counts whose GroupNorm groups (`min(C/4, 32)`) do not
    /// divide them, or a resolution that the levels (and, for the wavelet generator, the
    /// bottleneck DWT) cannot halve evenly.
    pub fn validate(&self) -> Result<()> {
        let nonzero = [
            ("num_channels", self.num_channels),
            ("current_resolution", self.image_size),
            ("patch_size", self.patch_size),
            ("num_channels_dae", self.nf),
            ("nz", self.nz),
            ("z_emb_dim", self.z_emb_dim),
        ];
        for (field, v) in nonzero {
            if v == 0 {
                return Err(WaveDiffError::config(field, v, "must be positive"));
            }
        }
        if self.ch_mult.is_empty() || self.ch_mult.contains(&0) {
            return Err(WaveDiffError::config(
                "ch_mult",
                &self.ch_mult,
                "one positive multiplier per level",
            ));
        }
        if self.num_res_blocks == 0 {
            return Err(WaveDiffError::config(
                "num_res_blocks",
                0,
                "must be positive",
            ));
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            return Err(WaveDiffError::config(
                "patch_size",
                self.patch_size,
                format!("must divide current_resolution {}", self.image_size),
            ));
        }
        // Down levels halve L−1 times; the wavelet bottleneck halves once more.
        let halvings = self.ch_mult.len() - 1 + usize::from(self.net_type == NetType::Wavelet);
        let side = self.image_size / self.patch_size;
        if !side.is_multiple_of(1 << halvings) {
            return Err(WaveDiffError::config(
                "current_resolution",
                self.image_size,
                format!(
                    "current_resolution / patch_size must be divisible by 2^{halvings} for {} levels",
                    self.ch_mult.len()
                ),
            ));
        }
        let mut widths = vec![self.nf];
        widths.extend(self.ch_mult.iter().map(|m| m * self.nf));
        for c in widths {
            let g = groups(c);
            if g == 0 || !c.is_multiple_of(g) {
                return Err(WaveDiffError::config(
                    "num_channels_dae",
                    self.nf,
                    format!(
                        "every width nf·ch_mult must be ≥ 4 with min(C/4, 32) groups dividing C; {c} does not"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `min(C/4, 32)`: the GroupNorm group count of every NCSN++ norm.
pub(crate) fn groups(c: usize) -> usize {
    (c / 4).min(32)
}

/// `Discriminator_small` or `Discriminator_large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscriminatorKind {
    /// `Discriminator_small` (cifar10, stl10): a first block without downsampling.
    Small,
    /// `Discriminator_large` (CelebA-HQ, LSUN): every block downsamples.
    Large,
}

/// `Discriminator_small`/`Discriminator_large` hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscriminatorConfig {
    /// Which discriminator.
    pub kind: DiscriminatorKind,
    /// `nc`: input channels of one tensor (the candidate and the condition are concatenated,
    /// so the first convolution sees `2·nc`); `num_channels` = 12 in WaveDiff.
    pub num_channels: usize,
    /// `--ngf`.
    pub ngf: usize,
    /// `--t_emb_dim`.
    pub t_emb_dim: usize,
    /// `--num_disc_layers` (small: 3–4, large: 3–6).
    pub num_layers: usize,
}

impl DiscriminatorConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`WaveDiffError::Config`] for zero widths, an odd `t_emb_dim` or a layer count outside
    /// 3–4 (small) / 3–6 (large).
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("num_channels", self.num_channels),
            ("ngf", self.ngf),
            ("t_emb_dim", self.t_emb_dim),
        ] {
            if v == 0 {
                return Err(WaveDiffError::config(field, v, "must be positive"));
            }
        }
        let max = match self.kind {
            DiscriminatorKind::Small => 4,
            DiscriminatorKind::Large => 6,
        };
        if !(3..=max).contains(&self.num_layers) {
            return Err(WaveDiffError::config(
                "num_disc_layers",
                self.num_layers,
                format!("3..={max} for {:?}", self.kind),
            ));
        }
        Ok(())
    }

    /// Downsampling blocks (each halves the side).
    pub fn downsamplings(&self) -> usize {
        match self.kind {
            DiscriminatorKind::Small => self.num_layers - 1,
            DiscriminatorKind::Large => self.num_layers,
        }
    }
}

/// A model described by the official argparse namespace (`train_wddgan.py`'s `args`, e.g. the
/// `args` a training run stores in its `content.pth`, written out as JSON): generator,
/// discriminator, `T` and the image DWT's band order. Missing keys take the argparse defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialArgs {
    /// `NCSNpp`/`WaveletNCSNpp` (`--net_type`, `--num_channels_dae`, …).
    pub generator: GeneratorConfig,
    /// `Discriminator_small` for `--dataset cifar10`/`stl10`, `Discriminator_large` otherwise.
    pub discriminator: DiscriminatorConfig,
    /// `--num_timesteps`.
    pub num_timesteps: usize,
    /// `--use_pytorch_wavelet` → PyWavelets order, else WaveCNet's.
    pub band_order: ultrares_wavelet::BandOrder,
}

impl OfficialArgs {
    /// Reads the namespace from `cfg` (the object itself, or its `args` member).
    ///
    /// # Errors
    /// A mistyped key (named with the expectation), a missing `ch_mult` (argparse has no
    /// default), or a configuration [`GeneratorConfig::validate`] rejects.
    pub fn from_json(cfg: &ultrares_nn::ConfigJson) -> Result<Self> {
        let cfg = if cfg.has("args") {
            cfg.object("args")?
        } else {
            cfg.clone()
        };
        let usize_or = |k: &str, d: usize| -> Result<usize> { Ok(cfg.opt_usize(k)?.unwrap_or(d)) };
        let net_type = match cfg.opt_str("net_type")?.unwrap_or("normal") {
            "wavelet" => NetType::Wavelet,
            "normal" => NetType::Normal,
            other => {
                return Err(WaveDiffError::config(
                    "net_type",
                    other,
                    "wavelet or normal",
                ));
            }
        };
        let ch_mult = cfg
            .opt_usize_list("ch_mult", None)?
            .ok_or_else(|| WaveDiffError::config("ch_mult", "missing", "a list of multipliers"))?;
        let generator = GeneratorConfig {
            net_type,
            num_channels: usize_or("num_channels", 12)?,
            image_size: usize_or("current_resolution", 256)?,
            patch_size: usize_or("patch_size", 1)?,
            nf: usize_or("num_channels_dae", 128)?,
            ch_mult,
            num_res_blocks: usize_or("num_res_blocks", 2)?,
            attn_resolutions: cfg
                .opt_usize_list("attn_resolutions", None)?
                .unwrap_or_else(|| vec![16]),
            nz: usize_or("nz", 100)?,
            z_emb_dim: usize_or("z_emb_dim", 256)?,
            n_mlp: usize_or("n_mlp", 3)?,
            not_use_tanh: cfg.opt_bool("not_use_tanh")?.unwrap_or(false),
        };
        generator.validate()?;
        let small = matches!(cfg.opt_str("dataset")?, Some("cifar10" | "stl10") | None);
        let discriminator = DiscriminatorConfig {
            kind: if small {
                DiscriminatorKind::Small
            } else {
                DiscriminatorKind::Large
            },
            num_channels: generator.num_channels,
            ngf: usize_or("ngf", 64)?,
            t_emb_dim: usize_or("t_emb_dim", 256)?,
            num_layers: usize_or("num_disc_layers", 6)?,
        };
        let band_order = if cfg.opt_bool("use_pytorch_wavelet")?.unwrap_or(false) {
            ultrares_wavelet::BandOrder::Pywt
        } else {
            ultrares_wavelet::BandOrder::WaveCnet
        };
        Ok(Self {
            generator,
            discriminator,
            num_timesteps: usize_or("num_timesteps", 4)?,
            band_order,
        })
    }
}
