//! Timesteps, σ and full step loops against diffusers 0.36.0 (`tools/golden/gen_schedulers.py`).

use std::collections::HashMap;

use burn::backend::NdArray;
use burn::tensor::{Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use ultrares_schedulers::{
    BetaSchedule, DdganPosterior, Ddim, Ddpm, DpmSolverMultistep, EulerAncestral, EulerDiscrete,
    FlowMatchEuler, PredictionType, Schedule, Scheduler, SchedulerConfig, TimestepSpacing,
    calculate_shift,
};

type B = NdArray<f32>;

fn fixtures() -> HashMap<String, ArrayD<f64>> {
    load("schedulers.npz")
}

fn load(name: &str) -> HashMap<String, ArrayD<f64>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut npz = NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut map = HashMap::new();
    for name in npz.names().unwrap() {
        let a = match npz.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&name) {
            Ok(a) => a,
            Err(_) => npz
                .by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&name)
                .unwrap()
                .mapv(f64::from),
        };
        map.insert(name.trim_end_matches(".npy").to_string(), a);
    }
    map
}

fn tensor(a: &ArrayD<f64>) -> Tensor<B, 4> {
    let s = a.shape();
    let v: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    Tensor::from_data(
        TensorData::new(v, [s[0], s[1], s[2], s[3]]),
        &Default::default(),
    )
}

fn max_rel(got: &Tensor<B, 4>, want: &ArrayD<f64>) -> f64 {
    let g = got.to_data().to_vec::<f32>().unwrap();
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    g.iter()
        .zip(want.iter())
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max)
        / scale
}

fn close(got: &[f64], want: &ArrayD<f64>, rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs().max(1.0),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

fn prediction(s: &str) -> PredictionType {
    match s {
        "epsilon" => PredictionType::Epsilon,
        "v_prediction" => PredictionType::VPrediction,
        "sample" => PredictionType::Sample,
        _ => PredictionType::Flow,
    }
}

fn spacing(s: &str) -> Option<TimestepSpacing> {
    match s {
        "leading" => Some(TimestepSpacing::Leading),
        "trailing" => Some(TimestepSpacing::Trailing),
        "linspace" => Some(TimestepSpacing::Linspace),
        _ => None,
    }
}

/// Runs the fixture's loop (`model_output = 0.5·scale_model_input(x) + 0.01·i`).
fn check_loop<S: Scheduler<B>>(s: &mut S, fx: &HashMap<String, ArrayD<f64>>, key: &str) {
    close(
        s.timesteps(),
        &fx[&format!("{key}/timesteps")],
        1e-6,
        &format!("{key} timesteps"),
    );
    if let Some(want) = fx.get(&format!("{key}/sigmas")) {
        // diffusers accumulates ᾱ in float32 (≤ 2e-6 relative from the f64 schedule, see
        // alphas_cumprod_match); σ = √((1−ᾱ)/ᾱ) inherits it.
        close(s.sigmas().unwrap(), want, 1e-5, &format!("{key} sigmas"));
    }
    let init = fx[&format!("{key}/init_noise_sigma")][[0]];
    assert!(
        (s.init_noise_sigma() - init).abs() <= 1e-6 * init,
        "{key} init σ"
    );
    let mut x = tensor(&fx[&format!("{key}/x0")]);
    let noise = fx.get(&format!("{key}/noise"));
    for i in 0..s.timesteps().len() {
        let inp = s.scale_model_input(x.clone(), i).unwrap();
        let out = inp.mul_scalar(0.5).add_scalar(0.01 * i as f64);
        let z = noise.map(|n| {
            let step = n.index_axis(ndarray::Axis(0), i).to_owned().into_dyn();
            tensor(&step)
        });
        x = s.step(out, i, x, z).unwrap();
        if i == 0 {
            let e = max_rel(&x, &fx[&format!("{key}/first")]);
            assert!(e <= 1e-5, "{key} first step: {e}");
        }
    }
    let e = max_rel(&x, &fx[&format!("{key}/final")]);
    assert!(e <= 1e-5, "{key} final: {e}");
}

#[test]
fn alphas_cumprod_match() {
    let fx = fixtures();
    for (name, cfg) in [
        ("scaled_linear", SchedulerConfig::sd15()),
        ("linear", SchedulerConfig::default()),
        (
            "squaredcos_cap_v2",
            SchedulerConfig {
                beta_schedule: BetaSchedule::SquaredCosCapV2,
                ..Default::default()
            },
        ),
    ] {
        // diffusers accumulates in float32; the f64 schedule agrees to its rounding.
        close(
            &cfg.alphas_cumprod().unwrap(),
            &fx[&format!("acp/{name}")],
            2e-6,
            name,
        );
    }
}

#[test]
fn step_loops_match_diffusers() {
    let fx = fixtures();
    let mut keys: Vec<String> = fx
        .keys()
        .filter_map(|k| k.strip_suffix("/final").map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(keys.len(), 9 + 1 + 1 + 6 + 3 + 2 + 5 + 1 + 2, "{keys:?}");
    for key in keys {
        let parts: Vec<&str> = key.split('/').collect();
        let steps: usize = parts[3].parse().unwrap();
        match parts[0] {
            "ddim" | "ddim_eta1" => {
                let cfg = if parts[1] == "cosine_alpha_one" {
                    SchedulerConfig {
                        beta_schedule: BetaSchedule::SquaredCosCapV2,
                        clip_sample: false,
                        ..Default::default()
                    }
                } else {
                    SchedulerConfig {
                        timestep_spacing: spacing(parts[1]),
                        prediction_type: prediction(parts[2]),
                        ..SchedulerConfig::sd15()
                    }
                };
                let eta = if parts[0] == "ddim_eta1" { 1.0 } else { 0.0 };
                check_loop(
                    &mut Ddim::new(cfg, steps).unwrap().with_eta(eta).unwrap(),
                    &fx,
                    &key,
                );
            }
            "euler" => {
                let cfg = SchedulerConfig {
                    timestep_spacing: spacing(parts[1]),
                    prediction_type: prediction(parts[2]),
                    ..SchedulerConfig::sdxl()
                };
                check_loop(&mut EulerDiscrete::new(cfg, steps).unwrap(), &fx, &key);
            }
            "euler_a" => {
                let cfg = SchedulerConfig {
                    timestep_spacing: spacing(parts[1]),
                    ..SchedulerConfig::sdxl()
                };
                check_loop(&mut EulerAncestral::new(cfg, steps).unwrap(), &fx, &key);
            }
            "ddpm" | "ddpm_clip" => {
                let cfg = if parts[0] == "ddpm_clip" {
                    SchedulerConfig::default()
                } else {
                    SchedulerConfig {
                        prediction_type: prediction(parts[2]),
                        ..SchedulerConfig::sd15()
                    }
                };
                check_loop(&mut Ddpm::new(cfg, steps).unwrap(), &fx, &key);
            }
            "dpm" | "dpm_karras" => {
                let cfg = SchedulerConfig {
                    timestep_spacing: spacing(parts[1]),
                    prediction_type: prediction(parts[2]),
                    use_karras_sigmas: parts[0] == "dpm_karras",
                    ..SchedulerConfig::sd15()
                };
                check_loop(
                    &mut DpmSolverMultistep::<B>::new(cfg, steps).unwrap(),
                    &fx,
                    &key,
                );
            }
            "flow_sd3" => check_loop(
                &mut FlowMatchEuler::new(&SchedulerConfig::sd3(), steps).unwrap(),
                &fx,
                &key,
            ),
            "flow_flux" => {
                let seq: usize = parts[1].parse().unwrap();
                let cfg = SchedulerConfig::flux_dev();
                let mu = fx[&format!("{key}/mu")][[0]];
                assert!((calculate_shift(&cfg, seq) - mu).abs() < 1e-12);
                check_loop(
                    &mut FlowMatchEuler::flux(&cfg, steps, seq).unwrap(),
                    &fx,
                    &key,
                );
            }
            other => panic!("unknown case {other}"),
        }
    }
}

#[test]
fn add_noise_matches_diffusers() {
    let fx = fixtures();
    let x0 = tensor(&fx["ddim/leading/epsilon/50/x0"]);
    let noise = tensor(&fx["add_noise/noise"]);
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).unwrap();
    assert_eq!(ddim.timesteps()[20], 581.0, "LSRNA starts at t = 581");
    let got = Scheduler::<B>::add_noise(&ddim, x0.clone(), noise.clone(), 20).unwrap();
    assert!(max_rel(&got, &fx["add_noise/ddim_581"]) <= 1e-6);
    let euler = EulerDiscrete::new(SchedulerConfig::sdxl(), 50).unwrap();
    let got = euler.add_noise(x0.clone(), noise.clone(), 20).unwrap();
    assert!(max_rel(&got, &fx["add_noise/euler_step20"]) <= 1e-6);
    let flow = FlowMatchEuler::new(&SchedulerConfig::sd3(), 50).unwrap();
    let got = flow.add_noise(x0, noise, 20).unwrap();
    assert!(max_rel(&got, &fx["add_noise/flow_step20"]) <= 1e-6);
}

#[test]
fn ddgan_matches_wavediff() {
    let fx = load("ddgan.npz");
    for t in [2usize, 4] {
        let mut s = DdganPosterior::new(t).unwrap();
        let k = |n: &str| &fx[&format!("ddgan/{t}/{n}")];
        for (j, [c1, c2, logvar]) in s.posterior_coefficients().iter().enumerate() {
            // WaveDiff computes in float32.
            assert!((c1 - k("c1")[[j]]).abs() < 1e-6, "T={t} c1[{j}]");
            assert!((c2 - k("c2")[[j]]).abs() < 1e-6, "T={t} c2[{j}]");
            assert!(
                (logvar - k("logvar")[[j]]).abs() < 1e-4 * logvar.abs().max(1.0),
                "T={t} logvar[{j}]"
            );
        }
        for (j, (a, sg)) in s.marginal().iter().enumerate() {
            assert!(
                (a - k("a_s_cum")[[j]]).abs() < 1e-6 && (sg - k("sigmas_cum")[[j]]).abs() < 1e-5,
                "T={t} marginal[{j}]"
            );
        }
        assert_eq!(
            s.timesteps(),
            (0..t)
                .rev()
                .map(|v| v as f64)
                .collect::<Vec<_>>()
                .as_slice()
        );
        let mut x = tensor(k("x_init"));
        for i in 0..t {
            let x0 = x.clone().mul_scalar(0.5).add_scalar(0.1 * s.timesteps()[i]);
            let z = tensor(
                &k("noise")
                    .index_axis(ndarray::Axis(0), i)
                    .to_owned()
                    .into_dyn(),
            );
            x = s.step(x0, i, x, Some(z)).unwrap();
        }
        assert!(max_rel(&x, k("final")) <= 1e-5, "T={t} final");
    }
    // Spec wavelet.md §2.2: T = 2 c1 = [1, 0.28035], c2 = [0, 0.021588].
    let s = DdganPosterior::wavediff("celeba_256").unwrap();
    let c = s.posterior_coefficients();
    assert!(
        (c[0][0] - 1.0).abs() < 1e-6
            && (c[1][0] - 0.28035).abs() < 1e-5
            && (c[1][1] - 0.021588).abs() < 1e-6
    );
}
