//! Configs from diffusers JSON, presets, and clear errors for bad configurations.

use burn::backend::NdArray;
use burn::tensor::Tensor;
use ultrares_schedulers::{
    BetaSchedule, Ddim, Error, EulerDiscrete, FlowMatchEuler, PredictionType, Schedule, Scheduler,
    SchedulerConfig, TimestepSpacing,
};

type B = NdArray<f32>;

#[test]
fn reads_diffusers_json() {
    // stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json
    let json = r#"{
      "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0",
      "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
      "clip_sample": false, "interpolation_type": "linear", "num_train_timesteps": 1000,
      "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false,
      "skip_prk_steps": true, "steps_offset": 1, "timestep_spacing": "leading",
      "trained_betas": null, "use_karras_sigmas": false
    }"#;
    let cfg = SchedulerConfig::from_json(json).unwrap();
    assert_eq!(cfg, SchedulerConfig::sdxl());
    let flux = r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256,
      "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000,
      "shift": 3.0, "use_dynamic_shifting": true}"#;
    let mut cfg = SchedulerConfig::from_json(flux).unwrap();
    cfg.prediction_type = PredictionType::Flow; // diffusers' flow scheduler has no such key
    assert_eq!(cfg, SchedulerConfig::flux_dev());
    let v = SchedulerConfig::from_json(
        r#"{"prediction_type": "v_prediction", "beta_schedule": "squaredcos_cap_v2"}"#,
    )
    .unwrap();
    assert_eq!(v.prediction_type, PredictionType::VPrediction);
    assert_eq!(v.beta_schedule, BetaSchedule::SquaredCosCapV2);
    for bad in [
        r#"{"timestep_spacing": "sideways"}"#,
        r#"{"prediction_type": "noise"}"#,
        r#"{"beta_schedule": "sigmoid"}"#,
        "{not json",
    ] {
        assert!(
            matches!(SchedulerConfig::from_json(bad), Err(Error::Json(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        SchedulerConfig::from_file("/nonexistent.json"),
        Err(Error::Json(_))
    ));
    assert!(SchedulerConfig::preset("sdxl").is_ok() && SchedulerConfig::preset("Flux-Dev").is_ok());
    assert!(matches!(
        SchedulerConfig::preset("sd9"),
        Err(Error::Config(_))
    ));
}

#[test]
fn squaredcos_is_float_math() {
    // A popular port computes ᾱ with integer division and gets a flat schedule; the first
    // betas of the cosine schedule are ≈ 4e-5 and grow.
    let cfg = SchedulerConfig {
        beta_schedule: BetaSchedule::SquaredCosCapV2,
        ..Default::default()
    };
    let ac = cfg.alphas_cumprod().unwrap();
    assert!((1.0 - ac[0] - 4.13e-5).abs() < 1e-6, "{}", 1.0 - ac[0]);
    assert!(ac[999] < 1e-4 && ac.windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn bad_configs_are_errors() {
    let sd = SchedulerConfig::sdxl();
    assert!(matches!(Ddim::new(sd.clone(), 0), Err(Error::Config(_))));
    assert!(matches!(Ddim::new(sd.clone(), 1001), Err(Error::Config(_))));
    assert!(matches!(
        EulerDiscrete::new(sd.clone(), 0),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        FlowMatchEuler::new(&SchedulerConfig::sd3(), 0),
        Err(Error::Config(_))
    ));
    // Flow scheduler with an ε model, Euler with a flow model, dynamic shift without mu.
    assert!(matches!(
        FlowMatchEuler::new(&sd, 10),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        EulerDiscrete::new(SchedulerConfig::sd3(), 10),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        FlowMatchEuler::new(&SchedulerConfig::flux_dev(), 10),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        FlowMatchEuler::with_mu(&SchedulerConfig::flux_dev(), 10, f64::NAN),
        Err(Error::Config(_))
    ));
    let bad_betas = SchedulerConfig {
        beta_start: 0.0,
        ..Default::default()
    };
    assert!(matches!(Ddim::new(bad_betas, 10), Err(Error::Config(_))));
    let zero_t = SchedulerConfig {
        num_train_timesteps: 0,
        ..Default::default()
    };
    assert!(matches!(Ddim::new(zero_t, 1), Err(Error::Config(_))));
    // steps_offset pushing a timestep past T.
    let offset = SchedulerConfig {
        steps_offset: 150,
        timestep_spacing: Some(TimestepSpacing::Leading),
        ..Default::default()
    };
    assert!(matches!(Ddim::new(offset, 10), Err(Error::Config(_))));
    assert!(matches!(
        Ddim::new(sd.clone(), 10).unwrap().with_eta(-1.0),
        Err(Error::Config(_))
    ));
}

#[test]
fn indices_and_inputs_are_checked() {
    let device = Default::default();
    let x = Tensor::<B, 4>::zeros([1, 4, 8, 8], &device);
    let mut ddim = Ddim::new(SchedulerConfig::sdxl(), 50).unwrap();
    assert!(matches!(ddim.set_begin_index(50), Err(Error::Index(_))));
    ddim.set_begin_index(20).unwrap();
    assert_eq!(ddim.begin_index(), 20);
    assert!(matches!(
        ddim.step(x.clone(), 50, x.clone(), None),
        Err(Error::Index(_))
    ));
    assert!(matches!(
        ddim.add_noise(x.clone(), x.clone(), 99),
        Err(Error::Index(_))
    ));
    assert!(matches!(
        ddim.add_noise_at(x.clone(), x.clone(), 1000),
        Err(Error::Index(_))
    ));
    let y = Tensor::<B, 4>::zeros([1, 4, 8, 9], &device);
    assert!(matches!(
        ddim.step(y.clone(), 0, x.clone(), None),
        Err(Error::Input(_))
    ));
    // eta > 0 needs noise.
    let mut stochastic = Ddim::new(SchedulerConfig::sdxl(), 50)
        .unwrap()
        .with_eta(1.0)
        .unwrap();
    assert!(matches!(
        stochastic.step(x.clone(), 3, x.clone(), None),
        Err(Error::Input(_))
    ));
    let euler = EulerDiscrete::new(SchedulerConfig::sdxl(), 30).unwrap();
    assert!(matches!(
        euler.scale_model_input(x.clone(), 30),
        Err(Error::Index(_))
    ));
    assert!(matches!(
        euler.add_noise(x.clone(), y, 0),
        Err(Error::Input(_))
    ));
}
