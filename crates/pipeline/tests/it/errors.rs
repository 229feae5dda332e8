//! Bad input returns clear errors.

use crate::common;

use std::ops::ControlFlow;

use burn_ndarray::NdArray;
use common::{StandIn, StandInCond, hashed, tiny_vae_config};
use ultrares_pipeline::{
    BicubicUpsampler, Error, HighResConfig, HighResPipeline, ProgressFn, SeededRandomness, Stage,
};
use ultrares_schedulers::{Ddim, DpmSolverMultistep, SchedulerConfig};

type B = NdArray<f32>;

fn cond() -> StandInCond {
    StandInCond {
        pooled: 0.5,
        sizes: Vec::new(),
    }
}

fn generate(config: &HighResConfig) -> Result<(), Error> {
    let vae = hashed::<B>(&tiny_vae_config());
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).expect("ddim");
    let mut pipe = HighResPipeline::new(&StandIn, &vae, &BicubicUpsampler, ddim);
    let mut rng = SeededRandomness::new(0);
    pipe.generate(config, &cond(), &Default::default(), &mut rng, &mut ())
        .map(|_| ())
}

fn expect_argument(config: HighResConfig, arg: &str) {
    match generate(&config) {
        Err(Error::Argument { arg: a, .. }) if a == arg => {}
        other => panic!("{config:?}: expected an error about `{arg}`, got {other:?}"),
    }
}

#[test]
fn invalid_configurations_are_rejected() {
    let lsrna = HighResConfig::lsrna_demofusion;
    // Not a multiple of the latent factor 8.
    expect_argument(lsrna(2048, 2044), "height, width");
    // Smaller than twice the native size: nothing to do beyond the reference.
    expect_argument(lsrna(1024, 1024), "height, width");
    expect_argument(HighResConfig::demofusion(512, 512), "height, width");
    // LSRNA needs a long side divisible by the native size.
    expect_argument(lsrna(2048, 2560 + 8), "height, width");
    // Absurd sizes, and aspect ratios whose reference would have no latent across.
    expect_argument(lsrna(1 << 20, 1024), "height, width");
    expect_argument(HighResConfig::demofusion(16384, 8), "height, width");
    expect_argument(lsrna(0, 2048), "height, width");
    // Inversion depth beyond the schedule, or zero.
    expect_argument(
        HighResConfig {
            inversion_depth: 51,
            ..lsrna(2048, 2048)
        },
        "inversion_depth",
    );
    expect_argument(
        HighResConfig {
            inversion_depth: 0,
            ..lsrna(2048, 2048)
        },
        "inversion_depth",
    );
    // View geometry.
    expect_argument(
        HighResConfig {
            stride: 0,
            ..lsrna(2048, 2048)
        },
        "window, stride",
    );
    expect_argument(
        HighResConfig {
            stride: 200,
            ..lsrna(2048, 2048)
        },
        "window, stride",
    );
    expect_argument(
        HighResConfig {
            view_batch_size: 0,
            ..lsrna(2048, 2048)
        },
        "view_batch_size",
    );
    expect_argument(
        HighResConfig {
            sigma: f64::NAN,
            ..lsrna(2048, 2048)
        },
        "sigma",
    );
    expect_argument(
        HighResConfig {
            cosine_scale_1: -1.0,
            ..lsrna(2048, 2048)
        },
        "cosine_scale_1/2/3",
    );
}

#[test]
fn invalid_pixelsmith_configurations_are_rejected() {
    let px = HighResConfig::pixelsmith;
    let lpx = HighResConfig::lsrna_pixelsmith;
    expect_argument(px(2048, 2044), "height, width");
    expect_argument(
        HighResConfig {
            sliders: vec![],
            ..px(2048, 2048)
        },
        "sliders",
    );
    expect_argument(
        HighResConfig {
            sliders: vec![0],
            ..px(2048, 2048)
        },
        "sliders",
    );
    expect_argument(
        HighResConfig {
            sliders: vec![51],
            ..px(2048, 2048)
        },
        "sliders",
    );
    // LSRNA-Pixelsmith starts 30 steps before the end: a Slider of 31 reaches past it.
    expect_argument(
        HighResConfig {
            sliders: vec![31],
            ..lpx(2048, 2048)
        },
        "sliders",
    );
    expect_argument(
        HighResConfig {
            window: 127,
            ..px(2048, 2048)
        },
        "window, gradient_width",
    );
    expect_argument(
        HighResConfig {
            gradient_width: 128,
            ..px(2048, 2048)
        },
        "window, gradient_width",
    );
    // A 2048×16384 target's reference is 128×1024: its ×2 phase (256 px tall) is smaller than
    // one 128-latent (1024 px) patch.
    match px(2048, 16384).validate(8, 50) {
        Err(Error::Argument { expected, .. }) if expected.contains("Pixelsmith phase") => {}
        other => panic!("expected the Pixelsmith patch-size error, got {other:?}"),
    }
}

#[test]
fn zero_steps_are_rejected() {
    let config = HighResConfig::lsrna_demofusion(2048, 2048);
    assert!(matches!(
        config.validate(8, 0),
        Err(Error::Argument { arg: "steps", .. })
    ));
    // Schedulers refuse zero steps themselves.
    assert!(Ddim::new(SchedulerConfig::sdxl(), 0).is_err());
}

#[test]
fn multistep_schedulers_are_rejected_for_views() {
    let vae = hashed::<B>(&tiny_vae_config());
    let dpm = DpmSolverMultistep::<B>::new(SchedulerConfig::sdxl(), 20).expect("dpm");
    let mut pipe = HighResPipeline::new(&StandIn, &vae, &BicubicUpsampler, dpm);
    let config = HighResConfig {
        inversion_depth: 10,
        ..HighResConfig::lsrna_demofusion(2048, 2048)
    };
    let err = pipe
        .generate(
            &config,
            &cond(),
            &Default::default(),
            &mut SeededRandomness::new(0),
            &mut (),
        )
        .expect_err("multistep");
    assert!(
        matches!(
            err,
            Error::Argument {
                arg: "scheduler",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn cancellation_stops_the_run() {
    let vae = hashed::<B>(&tiny_vae_config());
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).expect("ddim");
    let mut pipe = HighResPipeline::new(&StandIn, &vae, &BicubicUpsampler, ddim);
    let mut seen = Vec::new();
    let mut observer = ProgressFn(|p: ultrares_pipeline::Progress| {
        seen.push(p);
        if p.stage == Stage::Reference && p.step == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let err = pipe
        .generate(
            &HighResConfig::lsrna_demofusion(2048, 2048),
            &cond(),
            &Default::default(),
            &mut SeededRandomness::new(0),
            &mut observer,
        )
        .expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled(_)), "{err}");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].total, 50);
}

#[test]
fn cancellation_reaches_into_the_tiled_decode() {
    let vae = hashed::<B>(&tiny_vae_config());
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 4).expect("ddim");
    let mut pipe = HighResPipeline::new(&StandIn, &vae, &BicubicUpsampler, ddim);
    let config = HighResConfig {
        decode: ultrares_pipeline::DecodeMode::Tiled(ultrares_core::CodecTiling {
            tile: 16,
            stride: 8,
            feather: 2,
            batch: 1,
        }),
        ..HighResConfig::direct(256, 256)
    };
    let mut seen = Vec::new();
    let mut observer = ProgressFn(|p: ultrares_pipeline::Progress| {
        seen.push(p);
        if p.stage == Stage::Decode && p.step == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let err = pipe
        .generate(
            &config,
            &cond(),
            &Default::default(),
            &mut SeededRandomness::new(0),
            &mut observer,
        )
        .expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled(_)), "{err}");
    let decode: Vec<_> = seen.iter().filter(|p| p.stage == Stage::Decode).collect();
    // 32² latents in cores of 8 (halo 4): 16 tiles, each seen once per statistics pass and once
    // in the output pass; cancelled at the second.
    assert_eq!(decode.len(), 2);
    assert_eq!(decode[0].total, 16 * 4);
}
