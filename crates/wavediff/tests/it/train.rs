//! `Trainer`: WaveDiff's training iteration against the official `train_wddgan.py` loop
//! (`tools/golden/gen_wavediff_train.py`: a tiny cifar10-style NCSNpp and `Discriminator_small`
//! with `det_weight` weights, two iterations — R1 in the first, lazy_reg 2 — with every random
//! draw replayed, the second iteration on a trainer resumed from a checkpoint of the first):
//! losses, parameters, EMA and Adam moments.

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::prelude::*;
use ultrares_core::SeededRandomness;
use ultrares_wavediff::{
    Discriminator, DiscriminatorConfig, DiscriminatorKind, IterationNoise, Ncsnpp, Net, StepNoise,
    TrainOptions, Trainer,
};

use ultrares_nn::weights::Exporter;

use crate::common::{self, B};

fn tiny_trainer(rec_loss: bool) -> Trainer<B> {
    let device = Default::default();
    let args = common::official("netG_small");
    let g = Ncsnpp::<Autodiff<B>>::new(args.generator.clone(), &device).expect("generator");
    let d = Discriminator::<Autodiff<B>>::new(
        DiscriminatorConfig {
            kind: DiscriminatorKind::Large,
            num_channels: 12,
            ngf: 8,
            t_emb_dim: 16,
            num_layers: 3,
        },
        &device,
    )
    .expect("discriminator");
    let mut options = TrainOptions::preset(ultrares_wavediff::Preset::Celeba256);
    options.rec_loss = rec_loss;
    options.training.lazy_reg = 2;
    options.num_timesteps = args.num_timesteps;
    options.band_order = args.band_order;
    Trainer::new(g, d, options).expect("trainer")
}

#[test]
fn seeded_iterations_run_and_the_ema_starts_at_the_weights() {
    let mut trainer = tiny_trainer(true);
    let device = Default::default();
    let s = trainer.generator.config.image_size;
    let images = Tensor::<B, 4>::random(
        [2, 3, 2 * s, 2 * s],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let real = trainer.real_data(images).expect("real data");
    let mut rng = SeededRandomness::new(3);
    let shape = real.dims();
    let nz = trainer.generator.config.nz;
    let steps = trainer.options().num_timesteps;
    for k in 0..2 {
        let noise = IterationNoise {
            d: StepNoise::draw(&mut rng, shape, nz, steps, &device).expect("noise"),
            g: StepNoise::draw(&mut rng, shape, nz, steps, &device).expect("noise"),
        };
        let t0 = std::time::Instant::now();
        let losses = trainer.step(real.clone(), noise).expect("step");
        eprintln!(
            "iteration {k}: {losses:?} in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(
            losses.r1.is_some(),
            k == 0,
            "R1 every lazy_reg = 2 iterations"
        );
        assert!(losses.err_g().is_finite() && losses.err_d().is_finite());
        if k == 0 {
            // EMA.py creates the average from the updated weights, then averages them with
            // themselves: the EMA equals the weights after the first update.
            let (mut a, mut b) = (Exporter::default(), Exporter::default());
            trainer.ema_generator().walk(&mut a, "");
            trainer.generator.valid().walk(&mut b, "");
            for (key, e) in &a.tensors {
                let e = e.to_vec::<f32>().expect("f32");
                let g = b.tensors[key].to_vec::<f32>().expect("f32");
                let d = e
                    .iter()
                    .zip(&g)
                    .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(d <= 1e-6, "{key}: EMA {d:e} from the weights");
            }
        }
    }
    assert_eq!(trainer.global_step, 2);
    // Bad input: images outside [−1, 1], NaN, noise of another batch.
    let e = trainer
        .real_data(Tensor::<B, 4>::full([2, 3, 2 * s, 2 * s], 3.0, &device))
        .expect_err("range");
    assert!(e.to_string().contains("[−1, 1]"), "{e}");
    let e = trainer
        .real_data(Tensor::<B, 4>::full(
            [2, 3, 2 * s, 2 * s],
            f32::NAN,
            &device,
        ))
        .expect_err("NaN");
    assert!(e.to_string().contains("images"), "{e}");
    let small = [1, shape[1], shape[2], shape[3]];
    let noise = IterationNoise {
        d: StepNoise::draw(&mut rng, small, nz, steps, &device).expect("noise"),
        g: StepNoise::draw(&mut rng, small, nz, steps, &device).expect("noise"),
    };
    let e = trainer.step(real, noise).expect_err("batch");
    assert!(e.to_string().contains("noise_q"), "{e}");
    assert_eq!(trainer.global_step, 2, "a refused step changes nothing");
}

/// `max |a − b| / max |b|` over f32 arrays.
fn rel(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(1e-30f64, |m, v| m.max(f64::from(v.abs())));
    let diff = a
        .iter()
        .zip(b)
        .fold(0f64, |m, (x, y)| m.max(f64::from((x - y).abs())));
    diff / scale
}

#[test]
fn two_iterations_equal_the_official_training_loop() {
    let device = Default::default();
    let args = common::official("train_tiny");
    let mut g = Ncsnpp::<Autodiff<B>>::new(args.generator.clone(), &device).expect("generator");
    g.load(
        &common::det_state_dict("train_tiny_g_keys.txt", ""),
        "",
        &device,
    )
    .expect("official generator keys");
    let mut d = Discriminator::<Autodiff<B>>::new(args.discriminator.clone(), &device)
        .expect("discriminator");
    d.load(
        &common::det_state_dict("train_tiny_d_keys.txt", ""),
        "",
        &device,
    )
    .expect("official discriminator keys");
    let mut options = TrainOptions::preset(ultrares_wavediff::Preset::Cifar10);
    options.rec_loss = true;
    options.training.r1_gamma = 1.0;
    options.training.lazy_reg = 2;
    options.num_timesteps = args.num_timesteps;
    options.band_order = args.band_order;
    let mut trainer = Trainer::new(g, d, options).expect("trainer");
    let mut f = common::Golden::open("train_tiny.npz");
    let real = trainer.real_data(f.tensor("x0")).expect("real data");
    let e = common::rel_err(real.clone(), f.tensor("real_data"));
    assert!(e <= 1e-6, "real_data: {e:e}");
    let scalar =
        |f: &mut common::Golden, k: &str| f64::from(f.array(k).iter().copied().sum::<f32>());
    for k in 0..2 {
        if k == 1 {
            // Continue from a checkpoint: iteration 1 then runs on the resumed trainer, whose
            // moments, EMA and step count must carry over for the checks below to hold.
            let dir = std::env::temp_dir().join(format!("ultrares-train-{}", std::process::id()));
            trainer.save(&dir).expect("save");
            trainer = Trainer::resume(
                &dir,
                args.generator.clone(),
                args.discriminator.clone(),
                *trainer.options(),
                &device,
            )
            .expect("resume");
            assert_eq!(trainer.global_step, 1);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let mut step = |s: &str| StepNoise::<B> {
            t: f.ints(&format!("it{k}_{s}_t")),
            noise_q: f.tensor(&format!("it{k}_{s}_noise_q")),
            noise_pair: f.tensor(&format!("it{k}_{s}_noise_pair")),
            z: f.tensor(&format!("it{k}_{s}_z")),
            eps: f.tensor(&format!("it{k}_{s}_eps")),
        };
        let noise = IterationNoise {
            d: step("d"),
            g: step("g"),
        };
        let losses = trainer.step(real.clone(), noise).expect("step");
        let mut worst = 0f64;
        let pairs = [
            ("errD_real", Some(losses.err_d_real)),
            ("errD_fake", Some(losses.err_d_fake)),
            ("grad_penalty", losses.r1),
            ("errG_adv", Some(losses.err_g_adv)),
            ("rec_loss", losses.rec),
            ("errG", Some(losses.err_g())),
        ];
        for (name, ours) in pairs {
            let want = scalar(&mut f, &format!("it{k}_{name}"));
            match ours {
                Some(v) => {
                    let e = (v - want).abs() / want.abs();
                    worst = worst.max(e);
                    assert!(e <= 1e-5, "it{k} {name}: {v} vs {want} ({e:e})");
                }
                None => assert!(want.is_nan(), "it{k} {name}: the official loop has {want}"),
            }
        }
        eprintln!("iteration {k}: losses within {worst:.1e} relative");
    }
    // Every parameter after the two updates, and the generator's EMA. Adam divides by √v̂ + ε
    // (ε = 1e-8): for an element whose gradient is near zero, an f32-sized difference in the
    // gradient (from another summation order: the workspace build's threaded GEMM gives up to
    // 7e-5 of a tensor's max here, this crate's own build 2e-6) becomes a visible fraction of
    // that element's step. So each element is held to 1e-5 of its tensor's largest |value| plus
    // a quarter of one learning-rate step. What decides the updates is held tighter: the losses
    // of iteration 1 (which follow from both networks after iteration 0) above, and the
    // discriminator's Adam moments (linear in the gradients, R1's included) below, to 1e-5. A
    // wrong Adam (no bias correction: 0.58 of a step at the first update), learning rate or EMA
    // fails one of them.
    let (lr_g, lr_d) = trainer.learning_rates();
    let check = |tag: &str, lr: f64, ex: Exporter, f: &mut common::Golden| {
        let (mut worst, mut rel_worst) = ((0f64, String::new()), 0f64);
        for (key, ours) in ex.tensors {
            let want: Vec<f32> = f.array(&format!("{tag}/{key}")).iter().copied().collect();
            let ours = ours.to_vec::<f32>().expect("f32");
            rel_worst = rel_worst.max(rel(&ours, &want));
            let scale = want.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
            for (o, w) in ours.iter().zip(&want) {
                let r = f64::from((o - w).abs()) / (1e-5 * scale + 0.25 * lr);
                if r > worst.0 {
                    worst = (r, key.clone());
                }
            }
        }
        eprintln!(
            "{tag}: worst {:.3} of the bound ({}); {rel_worst:.2e} of the largest |value|",
            worst.0, worst.1
        );
        assert!(
            worst.0 <= 1.0,
            "{tag}: {} at {:.2} × the bound",
            worst.1,
            worst.0
        );
    };
    let mut ex = Exporter::default();
    trainer.generator.clone().walk(&mut ex, "");
    check("after1/g", lr_g, ex, &mut f);
    let mut ex = Exporter::default();
    trainer.discriminator.clone().walk(&mut ex, "");
    check("after1/d", lr_d, ex, &mut f);
    let mut ex = Exporter::default();
    trainer.ema_generator().walk(&mut ex, "");
    check("ema1", lr_g, ex, &mut f);
    // The discriminator's Adam moments: linear in both iterations' gradients, R1's included.
    let state = trainer.adam_state(Net::Discriminator);
    assert_eq!(
        state.len(),
        31,
        "every discriminator parameter has Adam state"
    );
    let mut worst = (0f64, String::new());
    for (key, m) in state {
        assert_eq!(m.step, 2, "{key}");
        for (what, ours) in [("exp_avg", m.exp_avg), ("exp_avg_sq", m.exp_avg_sq)] {
            let want: Vec<f32> = f
                .array(&format!("adam1/d/{key}/{what}"))
                .iter()
                .copied()
                .collect();
            let e = rel(&ours.to_vec::<f32>().expect("f32"), &want);
            if e > worst.0 {
                worst = (e, format!("{key} {what}"));
            }
        }
    }
    eprintln!("adam1/d: worst {:.2e} ({})", worst.0, worst.1);
    assert!(worst.0 <= 1e-5, "adam1/d: {} off by {:e}", worst.1, worst.0);
}
