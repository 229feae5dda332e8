//! WaveDiff training as `train_wddgan.py` runs it (`WaveDiff:train_wddgan.py:145`, spec
//! `wavelet.md` §2.3): per iteration a discriminator step — softplus losses on a real pair
//! `(x_t, x_{t+1})` and on a generated one, with the R1 penalty `γ/2 · E‖∂D/∂x_t‖²` every
//! `lazy_reg` iterations (not multiplied by it) — then a generator step (non-saturating loss, plus
//! the L1 reconstruction in the scaled wavelet space with `--rec_loss`), Adam with the preset's
//! betas, an EMA of the generator (`EMA.py`) and a cosine learning rate per epoch.
//!
//! The networks train on [`Autodiff<B>`]. R1 needs the gradient of a gradient, which Burn's
//! autodiff has no `create_graph` for: the discriminator of the R1 step runs on
//! `Autodiff<Autodiff<B>>`, with `x_t` a leaf of the outer graph and the parameters tensors of
//! the inner one, so the outer backward's `∂D/∂x_t` is itself differentiable in the inner graph
//! (that step holds about twice the discriminator's activations).

use std::collections::BTreeMap;
use std::path::Path;

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use ultrares_core::{Draw, Randomness, check_finite};
use ultrares_nn::StateDict;
use ultrares_nn::weights::Exporter;
use ultrares_nn::weights::safetensors::write_f32;
use ultrares_schedulers::DdganPosterior;
use ultrares_wavelet::fast::dwt2;
use ultrares_wavelet::{BandOrder, Mode, Stacking, Wavelet};

use crate::{
    Discriminator, DiscriminatorConfig, GeneratorConfig, Ncsnpp, Preset, Result, TrainingConfig,
    WaveDiffBackend, WaveDiffError,
};

/// The random draws of one discriminator or generator step, in the order `train_wddgan.py`
/// makes them: `t = randint(0, T, (N,))` (in `0..T`), then `q_sample_pairs`' two normals
/// (`noise_pair` for `x_{t+1}` first, then `q_sample`'s `noise_q` for `x_t`), the latent `z`, and
/// `sample_posterior`'s `eps`.
#[derive(Debug, Clone)]
pub struct StepNoise<B: Backend> {
    /// `[N]` steps in `0..T`.
    pub t: Tensor<B, 1, Int>,
    /// `[N, C, S, S]`: the noise of `x_t = ā_cum[t]·x₀ + σ_cum[t]·noise_q`.
    pub noise_q: Tensor<B, 4>,
    /// `[N, C, S, S]`: the noise of `x_{t+1} = a[t+1]·x_t + σ[t+1]·noise_pair`.
    pub noise_pair: Tensor<B, 4>,
    /// `[N, nz]`: the generator's latent.
    pub z: Tensor<B, 2>,
    /// `[N, C, S, S]`: the posterior noise (masked where `t = 0`).
    pub eps: Tensor<B, 4>,
}

/// The draws of one iteration: the discriminator step's, then the generator step's.
#[derive(Debug, Clone)]
pub struct IterationNoise<B: Backend> {
    /// Discriminator step.
    pub d: StepNoise<B>,
    /// Generator step.
    pub g: StepNoise<B>,
}

impl<B: Backend> StepNoise<B> {
    /// Draws one step's noise from `rng` for a batch `[n, c, s, s]`, latent `nz`, `T` steps.
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] for an empty batch or `T = 0`; randomness errors.
    pub fn draw(
        rng: &mut dyn Randomness,
        [n, c, s, _]: [usize; 4],
        nz: usize,
        steps: usize,
        device: &B::Device,
    ) -> Result<Self> {
        if n == 0 || steps == 0 {
            return Err(WaveDiffError::input("batch", "N ≥ 1 and T ≥ 1", (n, steps)));
        }
        let t = (0..n)
            .map(|_| rng.randint(0, steps as i64 - 1))
            .collect::<ultrares_core::Result<Vec<i64>>>()?;
        let mut normal = |draw, shape: Vec<usize>| -> Result<TensorData> {
            let len = shape.iter().product();
            Ok(TensorData::new(rng.gaussian(draw, len)?, shape))
        };
        let noise_pair = Tensor::from_data(normal(Draw::Step, vec![n, c, s, s])?, device);
        let noise_q = Tensor::from_data(normal(Draw::Step, vec![n, c, s, s])?, device);
        let z = Tensor::from_data(normal(Draw::Latent, vec![n, nz])?, device);
        let eps = Tensor::from_data(normal(Draw::Step, vec![n, c, s, s])?, device);
        Ok(Self {
            t: Tensor::from_data(TensorData::new(t, [n]), device),
            noise_q,
            noise_pair,
            z,
            eps,
        })
    }
}

/// The losses of one iteration, as the official loop computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationLosses {
    /// `softplus(−D(x_t)).mean()`.
    pub err_d_real: f64,
    /// `softplus(D(x_pos)).mean()`.
    pub err_d_fake: f64,
    /// `r1_gamma/2 · mean‖∂D/∂x_t‖²` on iterations with `global_step % lazy_reg == 0`.
    pub r1: Option<f64>,
    /// The generator's `softplus(−D(x_pos)).mean()`.
    pub err_g_adv: f64,
    /// `l1(x̂₀, x₀)` with `--rec_loss`.
    pub rec: Option<f64>,
}

impl IterationLosses {
    /// `errD = errD_real + errD_fake` as the official loop prints it (without R1).
    pub fn err_d(&self) -> f64 {
        self.err_d_real + self.err_d_fake
    }

    /// `errG`, the reconstruction included.
    pub fn err_g(&self) -> f64 {
        self.err_g_adv + self.rec.unwrap_or(0.0)
    }
}

/// Options of [`Trainer`] (`train_wddgan.py`'s arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Learning rates, betas, R1, lazy regularisation, EMA decay, epochs (a preset's).
    pub training: TrainingConfig,
    /// `--rec_loss`: add `l1(x̂₀, x₀)` to the generator loss.
    pub rec_loss: bool,
    /// `--use_ema` (every released model).
    pub use_ema: bool,
    /// `not --no_lr_decay`: cosine annealing per epoch to `1e-5`.
    pub lr_decay: bool,
    /// `T` (`--num_timesteps`).
    pub num_timesteps: usize,
    /// The image DWT's band order (`--use_pytorch_wavelet`).
    pub band_order: BandOrder,
}

impl TrainOptions {
    /// A preset's options as `run.sh` trains it (EMA on, no `--rec_loss`, cosine decay).
    pub fn preset(preset: Preset) -> Self {
        Self {
            training: preset.training(),
            rec_loss: false,
            use_ema: true,
            lr_decay: true,
            num_timesteps: preset.num_timesteps(),
            band_order: preset.band_order(),
        }
    }
}

/// `CosineAnnealingLR(T_max = num_epoch, eta_min = 1e-5)` at `epoch`.
fn cosine_lr(base: f64, epoch: usize, num_epoch: usize) -> f64 {
    const ETA_MIN: f64 = 1e-5;
    let phase = std::f64::consts::PI * epoch as f64 / num_epoch.max(1) as f64;
    ETA_MIN + (base - ETA_MIN) * (1.0 + phase.cos()) / 2.0
}

/// A scalar loss on the training backend.
type Scalar<B> = Tensor<Autodiff<B>, 1>;

/// Gradient-tracking backend of training.
pub type TrainBackend<B> = Autodiff<B>;

/// A WaveDiff generator and discriminator with their optimisers, EMA and step counters
/// (see the module docs).
pub struct Trainer<B: WaveDiffBackend> {
    /// The generator being trained.
    pub generator: Ncsnpp<Autodiff<B>>,
    /// The discriminator being trained.
    pub discriminator: Discriminator<Autodiff<B>>,
    opt_g: OptimizerAdaptor<Adam, Ncsnpp<Autodiff<B>>, Autodiff<B>>,
    opt_d: OptimizerAdaptor<Adam, Discriminator<Autodiff<B>>, Autodiff<B>>,
    /// `EMA.py`'s `state['ema']` per generator parameter (flattened), created at the first
    /// update that parameter gets.
    ema: BTreeMap<ParamId, Tensor<B, 1>>,
    options: TrainOptions,
    posterior: DdganPosterior,
    stacking: Stacking,
    /// Iterations done (`global_step`).
    pub global_step: usize,
    /// The current epoch (the learning rates follow it).
    pub epoch: usize,
}

impl<B: WaveDiffBackend> Trainer<B> {
    /// A trainer from initial networks (their weights as given).
    ///
    /// # Errors
    /// [`WaveDiffError::Config`] for a `T` the posterior rejects or a discriminator whose
    /// channel count differs from the generator's.
    pub fn new(
        generator: Ncsnpp<Autodiff<B>>,
        discriminator: Discriminator<Autodiff<B>>,
        options: TrainOptions,
    ) -> Result<Self> {
        if discriminator.config.num_channels != generator.config.num_channels {
            return Err(WaveDiffError::config(
                "num_channels",
                discriminator.config.num_channels,
                format!(
                    "the generator's {} channels in the discriminator",
                    generator.config.num_channels
                ),
            ));
        }
        let (beta_1, beta_2) = options.training.betas;
        // torch.optim.Adam's defaults besides the betas: eps 1e-8, no weight decay.
        let adam = AdamConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(1e-8);
        Ok(Self {
            generator,
            discriminator,
            opt_g: adam.init(),
            opt_d: adam.init(),
            ema: BTreeMap::new(),
            posterior: DdganPosterior::new(options.num_timesteps)?,
            stacking: Stacking::wavediff(options.band_order),
            options,
            global_step: 0,
            epoch: 0,
        })
    }

    /// Fresh networks of `generator` and `discriminator` with Burn's initialisers.
    ///
    /// # Errors
    /// As [`Ncsnpp::new`], [`Discriminator::new`] and [`Trainer::new`].
    pub fn init(
        generator: GeneratorConfig,
        discriminator: DiscriminatorConfig,
        options: TrainOptions,
        device: &B::Device,
    ) -> Result<Self> {
        Self::new(
            Ncsnpp::new(generator, device)?,
            Discriminator::new(discriminator, device)?,
            options,
        )
    }

    /// The options.
    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// `(lr_g, lr_d)` of the current epoch.
    pub fn learning_rates(&self) -> (f64, f64) {
        let t = &self.options.training;
        if !self.options.lr_decay {
            return (t.lr_g, t.lr_d);
        }
        (
            cosine_lr(t.lr_g, self.epoch, t.num_epoch),
            cosine_lr(t.lr_d, self.epoch, t.num_epoch),
        )
    }

    /// The diffusion-space batch `cat(DWT(x)) / 2` of images `x` `[N, 3, H, W]` in [−1, 1]
    /// (`real_data` of the official loop).
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] for a shape other than `[N, C/4, 2S, 2S]` of the generator,
    /// NaN/∞, or bands outside [−1, 1] (images not in [−1, 1]).
    pub fn real_data(&self, images: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let cfg = &self.generator.config;
        let [n, c, h, w] = images.dims();
        let s = cfg.image_size;
        if n == 0 || c * 4 != cfg.num_channels || h != 2 * s || w != 2 * s {
            return Err(WaveDiffError::input(
                "images",
                format!("[N ≥ 1, {}, {}, {}]", cfg.num_channels / 4, 2 * s, 2 * s),
                [n, c, h, w],
            ));
        }
        check_finite(&images, "images")?;
        let x = self
            .stacking
            .stack(dwt2(images, &Wavelet::haar(), Mode::Zero)?);
        let (lo, hi): (f32, f32) = (
            x.clone().min().into_scalar().elem(),
            x.clone().max().into_scalar().elem(),
        );
        if lo < -1.0 || hi > 1.0 {
            return Err(WaveDiffError::input(
                "images",
                "values in [−1, 1] (the scaled bands then lie in [−1, 1])",
                format!("bands in [{lo}, {hi}]"),
            ));
        }
        Ok(x)
    }

    /// Per-sample coefficient tensors `[N, 1, 1, 1]` of `table[t]`.
    fn gather(t: &[i64], table: impl Fn(usize) -> f64, device: &B::Device) -> Tensor<B, 4> {
        let v: Vec<f32> = t.iter().map(|&i| table(i as usize) as f32).collect();
        Tensor::from_data(TensorData::new(v, [t.len(), 1, 1, 1]), device)
    }

    /// `q_sample_pairs`: `(x_t, x_{t+1})` of `x0` (no gradient).
    fn pairs(&self, x0: Tensor<B, 4>, t: &[i64], n: &StepNoise<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let device = x0.device();
        let m = self.posterior.marginal();
        let step = self.posterior.forward_steps();
        let g = |f: &dyn Fn(usize) -> f64| Self::gather(t, f, &device);
        let x_t = g(&|i| m[i].0) * x0 + g(&|i| m[i].1) * n.noise_q.clone();
        let x_tp1 =
            g(&|i| step[i + 1].0) * x_t.clone() + g(&|i| step[i + 1].1) * n.noise_pair.clone();
        (x_t, x_tp1)
    }

    /// `sample_posterior(x̂₀, x_{t+1}, t)` with the given noise, on any backend.
    fn posterior_sample<C: Backend>(
        &self,
        x0: Tensor<C, 4>,
        x_tp1: Tensor<C, 4>,
        t: &[i64],
        eps: Tensor<C, 4>,
    ) -> Tensor<C, 4> {
        let device = x0.device();
        let coef = self.posterior.posterior_coefficients();
        let col = |f: &dyn Fn(usize) -> f64| {
            let v: Vec<f32> = t.iter().map(|&i| f(i as usize) as f32).collect();
            Tensor::<C, 4>::from_data(TensorData::new(v, [t.len(), 1, 1, 1]), &device)
        };
        let sd = |i: usize| {
            if i == 0 {
                0.0
            } else {
                (0.5 * coef[i][2]).exp()
            }
        };
        col(&|i| coef[i][0]) * x0 + col(&|i| coef[i][1]) * x_tp1 + col(&sd) * eps
    }

    /// Checks one step's noise against the batch.
    fn check_noise(&self, n: &StepNoise<B>, shape: [usize; 4]) -> Result<Vec<i64>> {
        let nz = self.generator.config.nz;
        for (arg, dims) in [
            ("noise_q", n.noise_q.dims()),
            ("noise_pair", n.noise_pair.dims()),
            ("eps", n.eps.dims()),
        ] {
            if dims != shape {
                return Err(WaveDiffError::input(arg, format!("{shape:?}"), dims));
            }
        }
        if n.z.dims() != [shape[0], nz] {
            return Err(WaveDiffError::input(
                "z",
                format!("[{}, {nz}]", shape[0]),
                n.z.dims(),
            ));
        }
        let t: Vec<i64> =
            n.t.clone()
                .into_data()
                .convert::<i64>()
                .into_vec()
                .map_err(|e| WaveDiffError::input("t", "integers", format!("{e:?}")))?;
        let steps = self.options.num_timesteps as i64;
        if t.len() != shape[0] || t.iter().any(|&i| !(0..steps).contains(&i)) {
            return Err(WaveDiffError::input(
                "t",
                format!("[{}] steps in 0..{steps}", shape[0]),
                t,
            ));
        }
        Ok(t)
    }

    /// One iteration of the official loop on `real_data` (from [`Trainer::real_data`]) with
    /// `noise`: the discriminator step, then the generator step, the EMA update, and
    /// `global_step += 1`.
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] for noise that does not fit the batch, and for NaN/∞ losses —
    /// the trainer then keeps the state it had before the iteration (a discriminator update
    /// already made is undone).
    pub fn step(
        &mut self,
        real_data: Tensor<B, 4>,
        noise: IterationNoise<B>,
    ) -> Result<IterationLosses> {
        let shape = real_data.dims();
        let cfg = &self.generator.config;
        if shape[1..] != [cfg.num_channels, cfg.image_size, cfg.image_size] || shape[0] == 0 {
            return Err(WaveDiffError::input(
                "real_data",
                format!(
                    "[N ≥ 1, {}, {s}, {s}]",
                    cfg.num_channels,
                    s = cfg.image_size
                ),
                shape,
            ));
        }
        let td = self.check_noise(&noise.d, shape)?;
        let tg = self.check_noise(&noise.g, shape)?;
        let (lr_g, lr_d) = self.learning_rates();

        // Discriminator step (the generator frozen).
        let (x_t, x_tp1) = self.pairs(real_data.clone(), &td, &noise.d);
        let lift = Tensor::<Autodiff<B>, 4>::from_inner;
        let t_ad = Tensor::<Autodiff<B>, 1, Int>::from_inner(noise.d.t.clone());
        let lazy = self.options.training.lazy_reg.max(1);
        let (real_loss, r1) = if self.global_step.is_multiple_of(lazy) {
            let (loss, r1) = self.real_loss_with_r1(x_t, x_tp1.clone(), noise.d.t.clone())?;
            (loss, Some(r1))
        } else {
            let d_real =
                self.discriminator
                    .forward(lift(x_t), t_ad.clone(), lift(x_tp1.clone()))?;
            (softplus(d_real.neg()).mean(), None)
        };
        let x0_pred =
            self.generator
                .valid()
                .forward(x_tp1.clone(), noise.d.t.clone(), noise.d.z)?;
        let x_pos = self.posterior_sample(x0_pred, x_tp1.clone(), &td, noise.d.eps);
        let d_fake = self.discriminator.forward(lift(x_pos), t_ad, lift(x_tp1))?;
        let fake_loss = softplus(d_fake).mean();
        let scalar = |t: &Tensor<Autodiff<B>, 1>| -> f64 { t.clone().into_scalar().elem() };
        let (err_d_real, err_d_fake) = (scalar(&real_loss), scalar(&fake_loss));
        let r1_value = r1.as_ref().map(scalar);
        let mut loss_d = real_loss + fake_loss;
        if let Some(r1) = r1 {
            loss_d = loss_d + r1;
        }
        finite(
            "discriminator loss",
            [Some(err_d_real), Some(err_d_fake), r1_value],
        )?;
        // The discriminator's update (kept to be undone if the generator's loss is not finite).
        let undo = (self.discriminator.clone(), self.opt_d.clone());
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.discriminator);
        self.discriminator = self.opt_d.step(lr_d, self.discriminator.clone(), grads);

        // Generator step on the same data against the updated discriminator (frozen), new draws.
        let (_, x_tp1) = self.pairs(real_data.clone(), &tg, &noise.g);
        let t_ad = Tensor::<Autodiff<B>, 1, Int>::from_inner(noise.g.t.clone());
        let x_tp1 = lift(x_tp1);
        let x0_pred =
            self.generator
                .forward(x_tp1.clone(), t_ad.clone(), Tensor::from_inner(noise.g.z))?;
        let x_pos = self.posterior_sample(x0_pred.clone(), x_tp1.clone(), &tg, lift(noise.g.eps));
        let d_frozen = self.discriminator.clone().no_grad();
        let adv = softplus(d_frozen.forward(x_pos, t_ad, x_tp1)?.neg()).mean();
        let err_g_adv = scalar(&adv);
        let (loss_g, rec) = if self.options.rec_loss {
            let rec = (x0_pred - lift(real_data)).abs().mean();
            let v = scalar(&rec);
            (adv + rec, Some(v))
        } else {
            (adv, None)
        };
        if let Err(e) = finite("generator loss", [Some(err_g_adv), rec]) {
            (self.discriminator, self.opt_d) = undo;
            return Err(e);
        }
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.generator);
        let updated = {
            let mut u = Updated::new(&grads);
            self.generator.visit(&mut u);
            u.ids
        };
        self.generator = self.opt_g.step(lr_g, self.generator.clone(), grads);
        if self.options.use_ema {
            let decay = self.options.training.ema_decay;
            self.generator.valid().visit(&mut EmaUpdate {
                ids: &updated,
                ema: &mut self.ema,
                decay,
            });
        }
        self.global_step += 1;
        Ok(IterationLosses {
            err_d_real,
            err_d_fake,
            r1: r1_value,
            err_g_adv,
            rec,
        })
    }

    /// `softplus(−D(x_t)).mean()` and `r1_gamma/2 · mean_b ‖∂D(x_t)_b/∂x_t‖²`, both
    /// differentiable with respect to the discriminator's parameters (the nested backend).
    fn real_loss_with_r1(
        &self,
        x_t: Tensor<B, 4>,
        x_tp1: Tensor<B, 4>,
        t: Tensor<B, 1, Int>,
    ) -> Result<(Scalar<B>, Scalar<B>)> {
        type Outer<B> = Autodiff<Autodiff<B>>;
        let device = x_t.device();
        let mut params = Collect::default();
        self.discriminator.visit(&mut params);
        let nested = Discriminator::<Outer<B>>::new(self.discriminator.config.clone(), &device)?
            .map(&mut Lift {
                params: params.0.into_iter(),
            });
        let lift2 = |x: Tensor<B, 4>| {
            Tensor::<Outer<B>, 4>::from_inner(Tensor::<Autodiff<B>, 4>::from_inner(x))
        };
        let x_leaf = lift2(x_t).require_grad();
        let t2 = Tensor::<Outer<B>, 1, Int>::from_inner(Tensor::from_inner(t));
        let d_real = nested.forward(x_leaf.clone(), t2, lift2(x_tp1))?;
        let n = d_real.dims()[0];
        let grads = d_real.clone().sum().backward();
        let grad = x_leaf.grad(&grads).ok_or_else(|| {
            WaveDiffError::input(
                "x_t",
                "a discriminator that depends on its input",
                "no gradient",
            )
        })?;
        let gamma = self.options.training.r1_gamma;
        let r1 = grad
            .reshape([n as i32, -1])
            .powi_scalar(2)
            .sum_dim(1)
            .mean()
            .mul_scalar(gamma / 2.0);
        let d_real = d_real.inner().reshape([n]);
        Ok((softplus(d_real.neg()).mean(), r1))
    }

    /// Adam's state of every parameter of `net` that has one, by official name, in PyTorch's
    /// layout (linear weights `[out, in]`): what `torch.optim.Adam.state_dict()` holds per
    /// parameter.
    pub fn adam_state(&self, net: Net) -> BTreeMap<String, AdamMoments> {
        let mut names = Names::default();
        let records = match net {
            Net::Generator => {
                self.generator.clone().walk(&mut names, "");
                self.opt_g.to_record()
            }
            Net::Discriminator => {
                self.discriminator.clone().walk(&mut names, "");
                self.opt_d.to_record()
            }
        };
        let mut out = BTreeMap::new();
        for (name, id, rank, transposed) in names.0 {
            let Some(record) = records.get(&id).cloned() else {
                continue;
            };
            let data = |t: TensorPrimitive<B>, rank: usize| -> TensorData {
                match (rank, transposed) {
                    (2, true) => Tensor::<B, 2>::from_primitive(t).transpose().into_data(),
                    _ => Tensor::<B, 1>::from_primitive(t).into_data(),
                }
            };
            let moments = |state: (usize, TensorPrimitive<B>, TensorPrimitive<B>)| AdamMoments {
                step: state.0,
                exp_avg: data(state.1, rank),
                exp_avg_sq: data(state.2, rank),
            };
            macro_rules! take {
                ($d:literal) => {{
                    let m = record.into_state::<$d>().momentum;
                    (
                        m.time,
                        m.moment_1.into_primitive(),
                        m.moment_2.into_primitive(),
                    )
                }};
            }
            let state = match rank {
                1 => take!(1),
                2 => take!(2),
                3 => take!(3),
                4 => take!(4),
                _ => continue,
            };
            out.insert(name, moments(state));
        }
        out
    }

    /// Writes everything a run needs to continue into `dir` (created if missing):
    /// `generator.safetensors`, `discriminator.safetensors` and `ema.safetensors` (official
    /// names, PyTorch layout), `adam_g.safetensors` / `adam_d.safetensors` (per parameter
    /// `<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.step`, as `torch.optim.Adam` keeps them),
    /// and `trainer.json` (`global_step`, `epoch`). Each file is written whole, then renamed.
    ///
    /// # Errors
    /// I/O failures, naming the file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let export = |walk: &mut dyn FnMut(&mut Exporter)| {
            let mut ex = Exporter::default();
            walk(&mut ex);
            ex.tensors
        };
        let files = [
            (
                "generator",
                export(&mut |ex| self.generator.clone().walk(ex, "")),
            ),
            (
                "discriminator",
                export(&mut |ex| self.discriminator.clone().walk(ex, "")),
            ),
            ("ema", export(&mut |ex| self.ema_generator().walk(ex, ""))),
            ("adam_g", adam_tensors(self.adam_state(Net::Generator))),
            ("adam_d", adam_tensors(self.adam_state(Net::Discriminator))),
        ];
        for (name, tensors) in files {
            write_f32(&dir.join(format!("{name}.safetensors")), &tensors)?;
        }
        let path = dir.join("trainer.json");
        let state = format!(
            "{{\n  \"global_step\": {},\n  \"epoch\": {}\n}}\n",
            self.global_step, self.epoch
        );
        std::fs::write(&path, state).map_err(|e| io(&path, e))
    }

    /// Continues a run [`Trainer::save`] wrote: the networks of `generator`/`discriminator`
    /// loaded from `dir`, the EMA, both optimisers' moments and the counters.
    ///
    /// # Errors
    /// Missing or unreadable files, tensors that do not fit the configurations (listed by the
    /// loaders), a corrupt `trainer.json`.
    pub fn resume(
        dir: &Path,
        generator: GeneratorConfig,
        discriminator: DiscriminatorConfig,
        options: TrainOptions,
        device: &B::Device,
    ) -> Result<Self> {
        let read = |name: &str| StateDict::read(dir.join(format!("{name}.safetensors")));
        let mut g = Ncsnpp::<Autodiff<B>>::new(generator.clone(), device)?;
        g.load(&read("generator")?, "", device)?;
        let mut d = Discriminator::<Autodiff<B>>::new(discriminator, device)?;
        d.load(&read("discriminator")?, "", device)?;
        let mut trainer = Self::new(g, d, options)?;
        // The EMA, by position: a generator of the same configuration visits its parameters in
        // the same order as the trainer's.
        let mut ema = Ncsnpp::<B>::new(generator, device)?;
        ema.load(&read("ema")?, "", device)?;
        let mut values = Collect::default();
        ema.visit(&mut values);
        let mut ids = Ids::default();
        trainer.generator.visit(&mut ids);
        trainer.ema = ids
            .0
            .into_iter()
            .zip(values.0)
            .map(|(id, t)| (id, Tensor::<B, 1>::from_primitive(t)))
            .map(|(id, t)| {
                let n = t.shape().num_elements();
                (id, t.reshape([n]))
            })
            .collect();
        for (net, file) in [(Net::Generator, "adam_g"), (Net::Discriminator, "adam_d")] {
            trainer.load_adam_state(net, &read(file)?, device)?;
        }
        let json = ultrares_nn::ConfigJson::read(dir.join("trainer.json"))?;
        let count = |k: &'static str| -> Result<usize> {
            json.opt_usize(k)?
                .ok_or_else(|| WaveDiffError::input(k, "a count in trainer.json", "nothing"))
        };
        trainer.global_step = count("global_step")?;
        trainer.epoch = count("epoch")?;
        Ok(trainer)
    }

    /// Puts Adam moments (`<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.step`, PyTorch layout)
    /// into the optimiser of `net`.
    fn load_adam_state(&mut self, net: Net, sd: &StateDict, device: &B::Device) -> Result<()> {
        let mut names = Names::default();
        match net {
            Net::Generator => self.generator.clone().walk(&mut names, ""),
            Net::Discriminator => self.discriminator.clone().walk(&mut names, ""),
        }
        let get = |key: String, shape: &[usize]| -> Result<TensorData> {
            let data = sd
                .data(&key)
                .ok_or_else(|| WaveDiffError::input("optimizer state", "a tensor", &key))??;
            if data.shape.as_slice() != shape {
                return Err(WaveDiffError::input(
                    "optimizer state",
                    format!("{key} of shape {shape:?}"),
                    &data.shape,
                ));
            }
            Ok(data)
        };
        let mut records = self.opt_g.to_record();
        records.clear();
        for (name, id, rank, transposed) in names.0 {
            // No state: the parameter has had no gradient yet.
            let Some(info) = sd.info(&format!("{name}.exp_avg")) else {
                continue;
            };
            let shape = info.shape.clone();
            let m = get(format!("{name}.exp_avg"), &shape)?;
            let v = get(format!("{name}.exp_avg_sq"), &shape)?;
            let step: Vec<f32> = get(format!("{name}.step"), &[1])?
                .convert::<f32>()
                .into_vec()
                .map_err(|e| WaveDiffError::input("optimizer state", "f32", format!("{e:?}")))?;
            let time = step.first().copied().unwrap_or(0.0) as usize;
            macro_rules! record {
                ($d:literal) => {{
                    let t = |x: TensorData| {
                        let t = Tensor::<B, $d>::from_data(x, device);
                        if transposed { t.transpose() } else { t }
                    };
                    AdaptorRecord::from_state::<$d>(AdamState::new(AdaptiveMomentumState::new(
                        time,
                        t(m),
                        t(v),
                    )))
                }};
            }
            let record = match rank {
                1 => record!(1),
                2 => record!(2),
                3 => record!(3),
                4 => record!(4),
                _ => continue,
            };
            records.insert(id, record);
        }
        match net {
            Net::Generator => self.opt_g = self.opt_g.clone().load_record(records),
            Net::Discriminator => self.opt_d = self.opt_d.clone().load_record(records),
        }
        Ok(())
    }

    /// The generator with the EMA weights where a parameter has them (`EMA.py`'s
    /// `swap_parameters_with_ema`), on the inner backend: what the released checkpoints hold.
    pub fn ema_generator(&self) -> Ncsnpp<B> {
        self.generator.valid().map(&mut EmaApply { ema: &self.ema })
    }
}

/// One of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// The generator.
    Generator,
    /// The discriminator.
    Discriminator,
}

/// Adam's state of one parameter, as `torch.optim.Adam` names it.
#[derive(Debug, Clone)]
pub struct AdamMoments {
    /// Updates made (`step`).
    pub step: usize,
    /// First moment `m` (`exp_avg`).
    pub exp_avg: TensorData,
    /// Second moment `v` (`exp_avg_sq`).
    pub exp_avg_sq: TensorData,
}

fn io(path: &Path, e: std::io::Error) -> WaveDiffError {
    WaveDiffError::from(ultrares_core::Error::weights(
        path.display().to_string(),
        e.to_string(),
    ))
}

/// Adam moments as tensors `<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.step`.
fn adam_tensors(state: BTreeMap<String, AdamMoments>) -> BTreeMap<String, TensorData> {
    let mut out = BTreeMap::new();
    for (name, m) in state {
        out.insert(
            format!("{name}.step"),
            TensorData::new(vec![m.step as f32], [1]),
        );
        out.insert(format!("{name}.exp_avg"), m.exp_avg);
        out.insert(format!("{name}.exp_avg_sq"), m.exp_avg_sq);
    }
    out
}

/// The ids of a module's float parameters in visiting order.
#[derive(Default)]
struct Ids(Vec<ParamId>);

impl<C: Backend> ModuleVisitor<C> for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<C, D>>) {
        self.0.push(param.id);
    }
}

/// `(official name, id, rank, stored transposed)` of every float parameter a model visits.
#[derive(Default)]
struct Names(Vec<(String, ParamId, usize, bool)>);

impl<C: Backend> ultrares_nn::weights::Visitor<C> for Names {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<C, D>>) {
        self.0.push((key.to_string(), param.id, D, false));
    }
    fn linear(&mut self, prefix: &str, linear: &mut burn::nn::Linear<C>) {
        self.0
            .push((format!("{prefix}.weight"), linear.weight.id, 2, true));
        if let Some(b) = &linear.bias {
            self.0.push((format!("{prefix}.bias"), b.id, 1, false));
        }
    }
    fn running<const D: usize>(
        &mut self,
        _: &str,
        _: &mut burn::module::RunningState<Tensor<C, D>>,
    ) {
    }
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

/// `log(1 + eˣ)` without overflow: `max(x, 0) + log1p(e^(−|x|))` (PyTorch's `F.softplus`).
fn softplus<C: Backend, const D: usize>(x: Tensor<C, D>) -> Tensor<C, D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

fn finite<const K: usize>(what: &'static str, values: [Option<f64>; K]) -> Result<()> {
    if values.iter().flatten().all(|v| v.is_finite()) {
        return Ok(());
    }
    Err(WaveDiffError::input(
        what,
        "finite losses (no weights were updated)",
        values,
    ))
}

/// The float parameters of a module in visiting order, as primitives.
#[derive(Default)]
struct Collect<C: Backend>(Vec<TensorPrimitive<C>>);

impl<C: Backend> ModuleVisitor<C> for Collect<C> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<C, D>>) {
        self.0.push(param.val().into_primitive());
    }
}

/// Replaces each float parameter of a module on `Autodiff<C>` by the next collected tensor of
/// `C`, as a constant of the outer graph (its inner graph kept).
struct Lift<C: Backend, I: Iterator<Item = TensorPrimitive<C>>> {
    params: I,
}

impl<C: Backend, I: Iterator<Item = TensorPrimitive<C>>> ModuleMapper<Autodiff<C>> for Lift<C, I> {
    fn map_float<const D: usize>(
        &mut self,
        param: Param<Tensor<Autodiff<C>, D>>,
    ) -> Param<Tensor<Autodiff<C>, D>> {
        match self.params.next() {
            Some(p) => Param::initialized(
                param.id,
                Tensor::from_inner(Tensor::<C, D>::from_primitive(p)),
            ),
            None => param,
        }
    }
}

/// Ids of the parameters that received a gradient (`p.grad is not None`).
struct Updated<'a> {
    grads: &'a GradientsParams,
    ids: Vec<ParamId>,
}

impl<'a> Updated<'a> {
    fn new(grads: &'a GradientsParams) -> Self {
        Self {
            grads,
            ids: Vec::new(),
        }
    }
}

impl<B: Backend> ModuleVisitor<Autodiff<B>> for Updated<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Autodiff<B>, D>>) {
        if self.grads.get::<B, D>(param.id).is_some() {
            self.ids.push(param.id);
        }
    }
}

/// `EMA.py`'s update: the first time `ema = p` (after the optimiser step), then
/// `ema = decay·ema + (1 − decay)·p` — applied to the new state as the official code does, so
/// the first update gives `decay·p + (1 − decay)·p`.
struct EmaUpdate<'a, B: Backend> {
    ids: &'a [ParamId],
    ema: &'a mut BTreeMap<ParamId, Tensor<B, 1>>,
    decay: f64,
}

impl<B: Backend> ModuleVisitor<B> for EmaUpdate<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !self.ids.contains(&param.id) {
            return;
        }
        let p: Tensor<B, 1> = param.val().flatten(0, D - 1);
        let old = self.ema.remove(&param.id).unwrap_or_else(|| p.clone());
        let new = old.mul_scalar(self.decay) + p.mul_scalar(1.0 - self.decay);
        self.ema.insert(param.id, new);
    }
}

/// Puts the EMA values into the parameters that have one.
struct EmaApply<'a, B: Backend> {
    ema: &'a BTreeMap<ParamId, Tensor<B, 1>>,
}

impl<B: Backend> ModuleMapper<B> for EmaApply<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        match self.ema.get(&param.id) {
            Some(e) => {
                let dims = param.val().dims();
                Param::initialized(param.id, e.clone().reshape(dims))
            }
            None => param,
        }
    }
}
