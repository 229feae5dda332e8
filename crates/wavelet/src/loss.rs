//! The wavelet loss for latent fine-tuning (Diffusion-4K's WLF, spec `wavelet.md` §3.2).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::{Error, Mode, Result, Wavelet, wavedec2};

/// Configuration of [`WaveletLoss`].
///
/// Diffusion-4K's form ([`WaveletLossConfig::diffusion_4k`]): one-level Haar (`mode='zero'`) on
/// the x0-prediction and on the target, bands stacked `[LL, cH, cV, cD]`, mean squared error
/// over every element, averaged per sample and then over the batch
/// (`train_flux_4k_wavelet.py`; `compute_loss_weighting_for_sd3` is 1 for its schemes).
///
/// **Equal weights reduce to plain MSE.** For an orthonormal transform without redundancy
/// (any orthogonal wavelet in `Periodization` mode, or Haar on even sizes in every mode) the
/// band tensors hold as many elements as the input and Parseval gives
/// `Σ_bands ‖DWT(p) − DWT(t)‖² = ‖p − t‖²`: the loss is `mean((p − t)²)` up to rounding
/// (zhang0jhon/diffusion-4k#11). Per-band weights are what make it differ.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveletLossConfig {
    /// The wavelet (`haar` in Diffusion-4K).
    pub wavelet: Wavelet,
    /// Signal extension (`Zero` in Diffusion-4K, as pytorch_wavelets' default).
    pub mode: Mode,
    /// Decomposition levels (1 in Diffusion-4K).
    pub levels: usize,
    /// Weight of the coarsest approximation band.
    pub approx_weight: f64,
    /// `[cH, cV, cD]` weights per level, finest first; missing levels weigh 1.
    pub detail_weights: Vec<[f64; 3]>,
}

impl WaveletLossConfig {
    /// Diffusion-4K's WLF: Haar, one level, zero mode, all bands weight 1.
    pub fn diffusion_4k() -> Self {
        Self {
            wavelet: Wavelet::haar(),
            mode: Mode::Zero,
            levels: 1,
            approx_weight: 1.0,
            detail_weights: Vec::new(),
        }
    }

    /// Sets the number of levels.
    pub fn with_levels(mut self, levels: usize) -> Self {
        self.levels = levels;
        self
    }

    /// Sets the approximation weight and the per-level `[cH, cV, cD]` weights (finest first).
    pub fn with_weights(mut self, approx: f64, details: Vec<[f64; 3]>) -> Self {
        self.approx_weight = approx;
        self.detail_weights = details;
        self
    }

    /// Validates the configuration and builds the loss.
    ///
    /// # Errors
    /// [`Error::Level`] for 0 levels or more weights than levels; [`Error::Argument`] for a
    /// negative or non-finite weight.
    pub fn init(self) -> Result<WaveletLoss> {
        if self.levels == 0 || self.detail_weights.len() > self.levels {
            return Err(Error::Level(format!(
                "wavelet loss: {} levels with {} detail weight triples",
                self.levels,
                self.detail_weights.len()
            )));
        }
        let all = std::iter::once(self.approx_weight)
            .chain(self.detail_weights.iter().flatten().copied());
        for w in all {
            if !w.is_finite() || w < 0.0 {
                return Err(Error::Argument(format!(
                    "band weights must be finite and ≥ 0, got {w}"
                )));
            }
        }
        Ok(WaveletLoss { config: self })
    }
}

/// Weighted mean squared error between the wavelet decompositions of a prediction and a target.
///
/// `loss = mean_b [ Σ_bands w_band · Σ (DWT(pred) − DWT(target))² / Σ_bands numel_band ]`,
/// i.e. the mean over all band elements when every weight is 1.
#[derive(Debug, Clone)]
pub struct WaveletLoss {
    config: WaveletLossConfig,
}

impl WaveletLoss {
    /// The configuration.
    pub fn config(&self) -> &WaveletLossConfig {
        &self.config
    }

    /// The loss of `pred` against `target`, both `(N, C, H, W)`: a one-element tensor that
    /// autodiff differentiates.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes differ, and the errors of [`wavedec2`] (level too deep).
    pub fn forward<B: Backend>(
        &self,
        pred: Tensor<B, 4>,
        target: Tensor<B, 4>,
    ) -> Result<Tensor<B, 1>> {
        if pred.dims() != target.dims() {
            return Err(Error::shape(format!(
                "wavelet loss: prediction {:?} and target {:?} differ",
                pred.dims(),
                target.dims()
            )));
        }
        let cfg = &self.config;
        let device = pred.device();
        let p = wavedec2(pred, &cfg.wavelet, cfg.mode, cfg.levels)?;
        let t = wavedec2(target, &cfg.wavelet, cfg.mode, cfg.levels)?;
        let batch = p.a.dims()[0];
        let mut count = 0usize;
        let mut terms = Vec::new();
        let mut add = |pb: Tensor<B, 4>, tb: Tensor<B, 4>, w: f64| {
            let [_, c, h, wd] = pb.dims();
            count += c * h * wd;
            if w != 0.0 {
                terms.push((pb - tb).powi_scalar(2).sum().mul_scalar(w));
            }
        };
        add(p.a, t.a, cfg.approx_weight);
        for (level, (pd, td)) in p.details.into_iter().zip(t.details).enumerate() {
            let w = cfg.detail_weights.get(level).copied().unwrap_or([1.0; 3]);
            add(pd.h, td.h, w[0]);
            add(pd.v, td.v, w[1]);
            add(pd.d, td.d, w[2]);
        }
        let total = terms
            .into_iter()
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| Tensor::zeros([1], &device));
        Ok(total.div_scalar((batch * count) as f64))
    }
}
