//! # ultrares-wavediff
//!
//! WaveDiff (Phung, Dao & Tran, *Wavelet Diffusion Models are Fast and Scalable Image
//! Generators*, CVPR 2023) on Burn: a DDGAN (Xiao et al., ICLR 2022) whose 2–4 denoising steps
//! run on the Haar bands of the image (`[N, 12, H/2, W/2]`, 4× fewer pixels), with the official
//! module and weight names so that the released `netG_*.pth` checkpoints load.
//!
//! * [`Ncsnpp`]: the wavelet-embedded generator `WaveletNCSNpp` (wavelet input pyramid,
//!   frequency-aware down/up blocks that carry the encoder's high bands to the decoder, the
//!   frequency bottleneck with its shared second block) and DDGAN's `NCSNpp` with FIR
//!   resampling, both with adaptive GroupNorm driven by the z mapping network;
//! * DDGAN's discriminators `Discriminator_small` and `Discriminator_large` ([`Discriminator`]);
//! * [`Preset`]: the six datasets of the official `run.sh` (configs, `T`, the image DWT's band
//!   order, training hyper-parameters);
//! * [`Sampler`]: `sample_from_model` with the DDGAN posterior, then `×2`, IDWT and clamp, from
//!   seeded or replayed noise ([`SampleNoise`]);
//! * [`checkpoint`]: the official `.pth` layout (DDP `module.` prefix);
//! * [`Trainer`]: `train_wddgan.py`'s iteration (softplus GAN losses, lazy R1 through nested
//!   autodiff, L1 reconstruction, Adam, EMA, cosine learning rate) on Burn's autodiff backend.
//!
//! Everything is generic over a Burn backend with `ultrares-nn`'s and `ultrares-wavelet`'s
//! extension traits ([`WaveDiffBackend`]): convolutions as GEMMs and the Haar kernels on the CPU
//! backends, fused attention on CubeCL backends. Spec: `wavelet.md` §2.
#![warn(missing_docs)]

mod adagn;
mod attn_block;
pub mod checkpoint;
mod config;
mod discriminator;
mod error;
pub mod fir;
mod generator;
mod haar;
mod init;
mod nin;
mod preset;
mod pyramid;
mod resblock;
mod sample;
mod train;

pub use adagn::AdaptiveGroupNorm;
pub use attn_block::AttnBlock;
pub use config::{DiscriminatorConfig, DiscriminatorKind, GeneratorConfig, NetType, OfficialArgs};
pub use discriminator::{Discriminator, DownConvBlock};
pub use error::{Result, WaveDiffError};
pub use generator::{DownLevel, Ncsnpp, UpLevel};
pub use nin::Nin;
pub use preset::{Preset, TrainingConfig};
pub use pyramid::PyramidDownsample;
pub use resblock::{HighBands, Resample, ResnetBlock};
pub use sample::{SampleNoise, Sampler};
pub use train::{
    AdamMoments, IterationLosses, IterationNoise, Net, StepNoise, TrainBackend, TrainOptions,
    Trainer,
};

/// The backend capabilities WaveDiff's networks use: `ultrares-nn`'s convolution, attention and
/// matrix-product paths and `ultrares-wavelet`'s Haar kernels. Implemented for every backend
/// that has both.
pub trait WaveDiffBackend: ultrares_nn::NnBackend + ultrares_wavelet::fast::WaveletBackend {}

impl<B: ultrares_nn::NnBackend + ultrares_wavelet::fast::WaveletBackend> WaveDiffBackend for B {}
