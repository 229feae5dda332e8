//! `ultrares schedule`: a scheduler's inference schedule (timesteps, σ or ᾱ) as text or JSON.

use ultrares::schedulers::{
    Ddim, Ddpm, EulerAncestral, EulerDiscrete, FlowMatchEuler, Schedule, SchedulerConfig,
    TimestepSpacing,
};

/// Which scheduler `--scheduler` names.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// DDIM (eta 0).
    Ddim,
    /// DDPM (fixed-small variance).
    Ddpm,
    /// Euler discrete.
    Euler,
    /// Euler ancestral.
    EulerAncestral,
    /// DPM-Solver++(2M) (`--karras` for Karras sigmas).
    DpmSolver,
    /// Flow-matching Euler (SD3, Flux).
    FlowMatch,
}

/// Arguments of `ultrares schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model preset: sd15, sdxl, sd3, flux-dev.
    #[arg(long, default_value = "sdxl")]
    preset: String,
    /// A diffusers scheduler_config.json to use instead of the preset.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Scheduler (defaults to ddim for sd15/sdxl and flow-match for sd3/flux-dev).
    #[arg(long, value_enum)]
    scheduler: Option<Kind>,
    /// Inference steps.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Override the timestep spacing: leading, trailing, linspace.
    #[arg(long)]
    spacing: Option<String>,
    /// Flux: image tokens, (H/16)·(W/16) (4096 for 1024²).
    #[arg(long, default_value_t = 4096)]
    image_seq_len: usize,
    /// Karras sigmas (DPM-Solver only; an error with other schedulers).
    #[arg(long)]
    karras: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares schedule`, returning what to print.
pub fn run(args: Args) -> Result<String, String> {
    let e = |e: ultrares::schedulers::Error| e.to_string();
    let mut cfg = match &args.config {
        Some(path) => SchedulerConfig::from_file(path).map_err(e)?,
        None => SchedulerConfig::preset(&args.preset).map_err(e)?,
    };
    if let Some(s) = &args.spacing {
        cfg.timestep_spacing = Some(match s.as_str() {
            "leading" => TimestepSpacing::Leading,
            "trailing" => TimestepSpacing::Trailing,
            "linspace" => TimestepSpacing::Linspace,
            other => {
                return Err(format!(
                    "unknown spacing {other:?} (leading, trailing, linspace)"
                ));
            }
        });
    }
    let kind = args.scheduler.unwrap_or(match cfg.prediction_type {
        ultrares::schedulers::PredictionType::Flow => Kind::FlowMatch,
        _ => Kind::Ddim,
    });
    cfg.use_karras_sigmas |= args.karras;
    if cfg.use_karras_sigmas && !matches!(kind, Kind::DpmSolver) {
        let from = if args.karras {
            "--karras".to_string()
        } else {
            "use_karras_sigmas = true in the config".to_string()
        };
        return Err(format!(
            "{from}: Karras sigmas are implemented for --scheduler dpm-solver only, not {}",
            clap::ValueEnum::to_possible_value(&kind)
                .map_or_else(String::new, |v| v.get_name().to_string())
        ));
    }
    let sig = |s: &dyn Schedule| {
        (
            s.timesteps().to_vec(),
            s.sigmas().map(<[f64]>::to_vec),
            s.init_noise_sigma(),
        )
    };
    let (name, timesteps, sigmas, alphas, init) = match kind {
        Kind::Ddim => {
            let s = Ddim::new(cfg, args.steps).map_err(e)?;
            let ac = s
                .timesteps()
                .iter()
                .map(|&t| s.alphas_cumprod()[t as usize])
                .collect();
            (
                "ddim",
                s.timesteps().to_vec(),
                None,
                Some(ac),
                s.init_noise_sigma(),
            )
        }
        Kind::Ddpm => {
            let (t, s, i) = sig(&Ddpm::new(cfg, args.steps).map_err(e)?);
            ("ddpm", t, s, None, i)
        }
        Kind::Euler => {
            let (t, s, i) = sig(&EulerDiscrete::new(cfg, args.steps).map_err(e)?);
            ("euler", t, s, None, i)
        }
        Kind::EulerAncestral => {
            let (t, s, i) = sig(&EulerAncestral::new(cfg, args.steps).map_err(e)?);
            ("euler_ancestral", t, s, None, i)
        }
        Kind::DpmSolver => {
            #[cfg(feature = "ndarray")]
            {
                type Dpm = ultrares::schedulers::DpmSolverMultistep<burn::backend::NdArray>;
                let (t, s, i) = sig(&Dpm::new(cfg, args.steps).map_err(e)?);
                ("dpm_solver_2m", t, s, None, i)
            }
            #[cfg(not(feature = "ndarray"))]
            return Err("dpm-solver needs the ndarray feature".into());
        }
        Kind::FlowMatch => {
            let s = if cfg.use_dynamic_shifting {
                FlowMatchEuler::flux(&cfg, args.steps, args.image_seq_len)
            } else {
                FlowMatchEuler::new(&cfg, args.steps)
            }
            .map_err(e)?;
            let (t, s, i) = sig(&s);
            ("flow_match_euler", t, s, None, i)
        }
    };
    if args.json {
        return Ok(serde_json::json!({
            "scheduler": name, "steps": args.steps, "timesteps": timesteps,
            "sigmas": sigmas, "alphas_cumprod": alphas, "init_noise_sigma": init,
        })
        .to_string());
    }
    let mut out = format!(
        "{name}, {} steps, init_noise_sigma {init:.6}\nstep  timestep",
        args.steps
    );
    out.push_str(if sigmas.is_some() {
        "  sigma"
    } else {
        "  alphas_cumprod"
    });
    for (i, t) in timesteps.iter().enumerate() {
        let v = sigmas
            .as_ref()
            .or(alphas.as_ref())
            .map_or(f64::NAN, |v| v[i]);
        out.push_str(&format!("\n{i:4}  {t:8.3}  {v:.6}"));
    }
    Ok(out)
}
