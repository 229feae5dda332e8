"""Golden fixtures for ultrares-schedulers from diffusers' schedulers.

Writes crates/schedulers/tests/fixtures/schedulers.npz, ddgan.npz (WaveDiff's DDGAN sampler; needs
WAVEDIFF_DIR, a checkout of VinAIResearch/WaveDiff@f1ad48b, else the committed file is kept) and
GENERATOR.json. Per case KEY:
  KEY/timesteps, KEY/sigmas (σ schedulers), KEY/init_noise_sigma, KEY/x0 (initial latent),
  KEY/final (after the full loop), KEY/first (after step 0), KEY/noise (eta > 0 only, per step).
The fake model is linear so both sides compute it identically:
  model_output = 0.5 * scale_model_input(x, t) + 0.01 * i   (i = step index)
Also: acp/<schedule> (alphas_cumprod, float64 from diffusers' float32 tensors) and
add_noise/* (DDIM at LSRNA's t = 581, Euler and flow matching at step 20 of 50).
"""
import json
import pathlib
import platform
import sys
from importlib.metadata import version

import numpy as np
import torch
from diffusers import (DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import save_npz  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/schedulers/tests/fixtures"
SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)


def calculate_shift(image_seq_len, base_seq_len, max_seq_len, base_shift, max_shift):
    """diffusers.pipelines.flux.pipeline_flux.calculate_shift (that module needs transformers)."""
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    b = base_shift - m * base_seq_len
    return image_seq_len * m + b


def save(name, arrays):
    save_npz(OUT / name, arrays)


def run(out, key, sched, x0, eta=None, rng=None, seeded=False):
    """seeded: the scheduler draws its own noise from a generator seeded 1000 + i; the same
    draw is stored as KEY/noise."""
    ts = sched.timesteps
    out[f"{key}/timesteps"] = ts.double().numpy()
    if hasattr(sched, "sigmas") and sched.sigmas is not None:
        out[f"{key}/sigmas"] = sched.sigmas.double().numpy()
    out[f"{key}/init_noise_sigma"] = np.array([float(getattr(sched, "init_noise_sigma", 1.0))])
    out[f"{key}/x0"] = x0.numpy()
    x = x0.clone()
    noises = []
    for i, t in enumerate(ts):
        inp = sched.scale_model_input(x, t) if hasattr(sched, "scale_model_input") else x
        model_output = 0.5 * inp + 0.01 * i
        kwargs = {}
        if seeded:
            noises.append(torch.randn(x.shape, generator=torch.Generator().manual_seed(1000 + i)).numpy())
            kwargs = dict(generator=torch.Generator().manual_seed(1000 + i))
        if eta is not None:
            z = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
            noises.append(z.numpy())
            kwargs = dict(eta=eta, variance_noise=z)
        x = sched.step(model_output, t, x, **kwargs).prev_sample
        if i == 0:
            out[f"{key}/first"] = x.numpy()
    out[f"{key}/final"] = x.numpy()
    if noises:
        out[f"{key}/noise"] = np.stack(noises)


def ddgan(out, rng):
    """WaveDiff's posterior sampler (diffusion.py from WAVEDIFF_DIR, a checkout of
    VinAIResearch/WaveDiff@f1ad48b): coefficients and a sampling loop with a fake generator
    x0' = 0.5·x + 0.1·t and stored noise."""
    import os
    import sys
    from types import SimpleNamespace
    path = os.environ.get("WAVEDIFF_DIR")
    if not path:
        print("ddgan.npz: WAVEDIFF_DIR not set, keeping the committed file")
        return
    sys.path.insert(0, path)
    import diffusion as wd
    for T in [2, 4]:
        args = SimpleNamespace(num_timesteps=T, beta_min=0.1, beta_max=20.0, use_geometric=False)
        post = wd.Posterior_Coefficients(args, "cpu")
        coeff = wd.Diffusion_Coefficients(args, "cpu")
        out[f"ddgan/{T}/c1"] = post.posterior_mean_coef1.double().numpy()
        out[f"ddgan/{T}/c2"] = post.posterior_mean_coef2.double().numpy()
        out[f"ddgan/{T}/logvar"] = post.posterior_log_variance_clipped.double().numpy()
        out[f"ddgan/{T}/a_s_cum"] = coeff.a_s_cum.double().numpy()
        out[f"ddgan/{T}/sigmas_cum"] = coeff.sigmas_cum.double().numpy()
        x = torch.from_numpy(rng.standard_normal((1, 12, 8, 8)).astype(np.float32))
        out[f"ddgan/{T}/x_init"] = x.numpy()
        noises = []
        for i in reversed(range(T)):
            t = torch.full((1,), i, dtype=torch.int64)
            x0_pred = 0.5 * x + 0.1 * i
            z = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
            noises.append(z.numpy())
            # sample_posterior draws torch.randn_like(x_t): feed our z through the same formula.
            mean = wd.extract(post.posterior_mean_coef1, t, x.shape) * x0_pred + wd.extract(post.posterior_mean_coef2, t, x.shape) * x
            log_var = wd.extract(post.posterior_log_variance_clipped, t, x.shape)
            nonzero = (1 - (t == 0).type(torch.float32))
            x = mean + nonzero[:, None, None, None] * torch.exp(0.5 * log_var) * z
        out[f"ddgan/{T}/noise"] = np.stack(noises)
        out[f"ddgan/{T}/final"] = x.numpy()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261123)
    x0 = torch.from_numpy(rng.standard_normal((1, 4, 8, 8)).astype(np.float32))
    out = {}
    for name, kw in [("scaled_linear", SD), ("linear", {}), ("squaredcos_cap_v2", dict(beta_schedule="squaredcos_cap_v2"))]:
        out[f"acp/{name}"] = DDIMScheduler(**kw).alphas_cumprod.double().numpy()
    # DDIM: spacings x prediction types, set_alpha_to_one both ways, eta.
    for spacing in ["leading", "trailing", "linspace"]:
        for pred in ["epsilon", "v_prediction", "sample"]:
            s = DDIMScheduler(**SD, set_alpha_to_one=False, clip_sample=False, timestep_spacing=spacing, prediction_type=pred)
            s.set_timesteps(50)
            run(out, f"ddim/{spacing}/{pred}/50", s, x0 * s.init_noise_sigma)
    s = DDIMScheduler(set_alpha_to_one=True, clip_sample=False, beta_schedule="squaredcos_cap_v2")
    s.set_timesteps(25)
    run(out, "ddim/cosine_alpha_one/epsilon/25", s, x0)
    s = DDIMScheduler(**SD, set_alpha_to_one=False, clip_sample=False)
    s.set_timesteps(10)
    run(out, "ddim_eta1/leading/epsilon/10", s, x0, eta=1.0, rng=rng)
    # Euler discrete.
    for spacing in ["leading", "trailing", "linspace"]:
        for pred in ["epsilon", "v_prediction"]:
            s = EulerDiscreteScheduler(**SD, timestep_spacing=spacing, prediction_type=pred)
            s.set_timesteps(30)
            run(out, f"euler/{spacing}/{pred}/30", s, x0 * s.init_noise_sigma)
    # DDPM (fixed_small) and Euler ancestral: their own seeded noise, stored.
    for pred in ["epsilon", "v_prediction"]:
        s = DDPMScheduler(**SD, clip_sample=False, prediction_type=pred)
        s.set_timesteps(10)
        run(out, f"ddpm/leading/{pred}/10", s, x0, seeded=True)
    s = DDPMScheduler(clip_sample=True)  # diffusers' defaults: linear betas, x0 clipped to ±1
    s.set_timesteps(10)
    run(out, "ddpm_clip/leading/epsilon/10", s, x0, seeded=True)
    for spacing in ["leading", "linspace"]:
        s = EulerAncestralDiscreteScheduler(**SD, timestep_spacing=spacing)
        s.set_timesteps(20)
        run(out, f"euler_a/{spacing}/epsilon/20", s, x0 * s.init_noise_sigma, seeded=True)
    # DPM-Solver++(2M): spacings, Karras sigmas, v-prediction.
    for spacing, karras, pred in [("linspace", False, "epsilon"), ("leading", False, "epsilon"),
                                  ("trailing", False, "v_prediction"), ("linspace", True, "epsilon"),
                                  ("leading", True, "v_prediction")]:
        s = DPMSolverMultistepScheduler(**SD, timestep_spacing=spacing, use_karras_sigmas=karras, prediction_type=pred)
        s.set_timesteps(25)
        run(out, f"dpm{'_karras' if karras else ''}/{spacing}/{pred}/25", s, x0 * s.init_noise_sigma)
    # Flow matching: SD3 (static shift 3) and Flux (dynamic, pipeline sigmas).
    s = FlowMatchEulerDiscreteScheduler(shift=3.0)
    s.set_timesteps(28)
    run(out, "flow_sd3/static/flow/28", s, x0)
    cfg = dict(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)
    for seq in [4096, 16384]:
        s = FlowMatchEulerDiscreteScheduler(**cfg)
        mu = calculate_shift(seq, 256, 4096, 0.5, 1.15)
        s.set_timesteps(sigmas=np.linspace(1.0, 1 / 50, 50), mu=mu)
        run(out, f"flow_flux/{seq}/flow/50", s, x0)
        out[f"flow_flux/{seq}/flow/50/mu"] = np.array([mu])
    # add_noise: DDIM at t = 581 (LSRNA), Euler / flow at step 20 of 50.
    noise = torch.from_numpy(rng.standard_normal((1, 4, 8, 8)).astype(np.float32))
    out["add_noise/noise"] = noise.numpy()
    s = DDIMScheduler(**SD, set_alpha_to_one=False, clip_sample=False)
    s.set_timesteps(50)
    out["add_noise/ddim_581"] = s.add_noise(x0, noise, torch.tensor([581])).numpy()
    s = EulerDiscreteScheduler(**SD, timestep_spacing="leading")
    s.set_timesteps(50)
    out["add_noise/euler_step20"] = s.add_noise(x0, noise, s.timesteps[20:21]).numpy()
    s = FlowMatchEulerDiscreteScheduler(shift=3.0)
    s.set_timesteps(50)
    out["add_noise/flow_step20"] = s.scale_noise(x0, s.timesteps[20:21], noise).numpy()
    save("schedulers.npz", out)
    dd = {}
    ddgan(dd, rng)
    if dd:
        save("ddgan.npz", dd)
    meta = {"generator": "tools/golden/gen_schedulers.py", "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch.__version__, "diffusers": version("diffusers"),
            "wavediff": "VinAIResearch/WaveDiff@f1ad48b diffusion.py (WAVEDIFF_DIR)"}
    (OUT / "GENERATOR.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
