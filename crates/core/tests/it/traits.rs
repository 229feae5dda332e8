//! The model traits with toy implementations: the default tiled codec paths must equal the
//! untiled ones for a block-local codec, and errors must flow through the implementation's type.

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use ultrares_core::noise::gaussian;
use ultrares_core::{CodecTiling, Denoiser, LatentCodec, LatentUpsampler, PredictionType};

type B = NdArray<f32>;

/// A block-local "VAE": 2×2 average pooling to 3 + 1 channels, nearest upsampling back.
struct PoolCodec;

impl LatentCodec<B> for PoolCodec {
    type Error = ultrares_core::Error;
    fn latent_channels(&self) -> usize {
        4
    }
    fn downscale_factor(&self) -> usize {
        2
    }
    fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        let z = avg_pool2d(image, [2, 2], [2, 2], [0, 0], true, false);
        let m = z.clone().mean_dim(1);
        Ok(Tensor::cat(vec![z, m], 1))
    }
    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        let [n, _, h, w] = latent.dims();
        let rgb = latent.slice([0..n, 0..3, 0..h, 0..w]);
        Ok(interpolate(
            rgb,
            [2 * h, 2 * w],
            InterpolateOptions::new(InterpolateMode::Nearest),
        ))
    }
}

/// Scales the input: an ε-predictor of data that is exactly zero.
struct Shrink;

impl Denoiser<B> for Shrink {
    type Cond = f32;
    type Error = ultrares_core::Error;
    fn prediction_type(&self) -> PredictionType {
        PredictionType::Epsilon
    }
    fn latent_channels(&self) -> usize {
        4
    }
    fn predict(
        &self,
        latent: Tensor<B, 4>,
        _t: f64,
        cond: &f32,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        Ok(latent * *cond)
    }
}

/// Nearest-neighbour latent upsampling.
struct Nearest;

impl LatentUpsampler<B> for Nearest {
    type Error = ultrares_core::Error;
    fn upsample(
        &self,
        latent: Tensor<B, 4>,
        size: [usize; 2],
    ) -> Result<Tensor<B, 4>, Self::Error> {
        Ok(interpolate(
            latent,
            size,
            InterpolateOptions::new(InterpolateMode::Nearest),
        ))
    }
}

#[test]
fn default_tiled_codec_equals_untiled_for_a_local_codec() {
    let dev = Default::default();
    let image = gaussian::<B, 4>([2, 3, 70, 46], 3, &dev).unwrap();
    let tiling = CodecTiling {
        tile: 12,
        stride: 8,
        feather: 3,
        batch: 3,
    };
    let full = PoolCodec.encode(image.clone()).unwrap();
    let tiled = PoolCodec.encode_tiled(image, &tiling).unwrap();
    assert_eq!(tiled.dims(), [2, 4, 35, 23]);
    tiled.into_data().assert_approx_eq::<f32>(
        &full.clone().into_data(),
        burn::tensor::Tolerance::absolute(1e-5),
    );

    let img = PoolCodec.decode(full.clone()).unwrap();
    let img_tiled = PoolCodec.decode_tiled(full, &tiling).unwrap();
    assert_eq!(img_tiled.dims(), [2, 3, 70, 46]);
    img_tiled
        .into_data()
        .assert_approx_eq::<f32>(&img.into_data(), burn::tensor::Tolerance::absolute(1e-5));
}

#[test]
fn tiled_encode_rejects_sizes_not_divisible_by_the_factor() {
    let dev = Default::default();
    let image = Tensor::<B, 4>::zeros([1, 3, 9, 8], &dev);
    let e = PoolCodec
        .encode_tiled(image, &CodecTiling::default())
        .unwrap_err();
    assert!(
        matches!(e, ultrares_core::Error::Shape { arg: "image", .. }),
        "{e}"
    );
    let bad = CodecTiling {
        tile: 4,
        stride: 5,
        feather: 0,
        batch: 1,
    };
    let e = PoolCodec
        .decode_tiled(Tensor::zeros([1, 4, 8, 8], &dev), &bad)
        .unwrap_err();
    assert!(
        matches!(e, ultrares_core::Error::Argument { arg: "stride", .. }),
        "{e}"
    );
}

#[test]
fn denoiser_and_upsampler_are_usable_generically() {
    fn step<D: Denoiser<B>>(d: &D, z: Tensor<B, 4>, c: &D::Cond) -> Result<Tensor<B, 4>, D::Error> {
        let eps = d.predict(z.clone(), 500.0, c)?;
        Ok(z - eps)
    }
    let dev = Default::default();
    let z = Tensor::<B, 4>::ones([1, 4, 4, 4], &dev);
    let out = step(&Shrink, z, &0.25).unwrap();
    assert_eq!(out.into_data().to_vec::<f32>().unwrap(), vec![0.75; 64]);
    assert_eq!(Shrink.prediction_type().as_diffusers_str(), "epsilon");
    let up = Nearest
        .upsample(Tensor::<B, 4>::ones([1, 4, 3, 5], &dev), [7, 11])
        .unwrap();
    assert_eq!(up.dims(), [1, 4, 7, 11]);
}

#[test]
fn tiled_paths_report_every_batch_and_stop_when_cancelled() {
    use std::ops::ControlFlow;
    use ultrares_core::{Progress, ProgressFn, Reporter, Stage};
    let dev = Default::default();
    let latent = gaussian::<B, 4>([1, 4, 20, 20], 3, &dev).unwrap();
    // 20 latents, tile 8 at stride 6: 3 × 3 tiles, 2 per call → 5 calls.
    let tiling = CodecTiling {
        tile: 8,
        stride: 6,
        feather: 2,
        batch: 2,
    };
    let mut seen = Vec::new();
    let mut all = ProgressFn(|p: Progress| {
        seen.push((p.stage, p.step, p.total));
        ControlFlow::Continue(())
    });
    let mut reporter = Reporter::new(Stage::Decode, &mut all);
    PoolCodec
        .decode_tiled_with(latent.clone(), &tiling, &mut reporter)
        .unwrap();
    assert_eq!(reporter.cancelled(), None);
    let steps: Vec<_> = seen.iter().map(|s| s.1).collect();
    assert_eq!(steps, [2, 4, 6, 8, 9]);
    assert!(seen.iter().all(|s| s.0 == Stage::Decode && s.2 == 9));

    let mut calls = 0;
    let mut stop = ProgressFn(|p: Progress| {
        calls += 1;
        if p.step >= 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let mut reporter = Reporter::new(Stage::Decode, &mut stop);
    let e = PoolCodec
        .decode_tiled_with(latent, &tiling, &mut reporter)
        .unwrap_err();
    assert!(matches!(e, ultrares_core::Error::Cancelled), "{e}");
    let at = reporter.cancelled().expect("cancellation remembered");
    assert_eq!((at.step, at.total), (4, 9));
    assert_eq!(calls, 2);
}
