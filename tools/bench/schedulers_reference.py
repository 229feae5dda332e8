"""Reference for benches/schedulers.rs: diffusers' 50-step loops (scale_model_input + step with a
fixed model output) on a (1, 4, 128, 128) float32 latent, torch on the CPU.

    tools/golden/.venv/bin/python tools/bench/schedulers_reference.py [--threads N]
"""
import argparse
import sys

import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler,
                       FlowMatchEulerDiscreteScheduler)

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from timing import bench  # noqa: E402

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
          timestep_spacing="leading")


def loop(s, x, out):
    for t in s.timesteps:
        if hasattr(s, "scale_model_input"):
            s.scale_model_input(x, t)
        x = s.step(out, t, x).prev_sample
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    torch.set_num_threads(p.parse_args().threads)
    torch.manual_seed(0)
    x, out = torch.randn(1, 4, 128, 128), torch.randn(1, 4, 128, 128)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    for name, make in [
        ("ddim", lambda: DDIMScheduler(**SD, set_alpha_to_one=False, clip_sample=False)),
        ("euler", lambda: EulerDiscreteScheduler(**SD)),
        ("dpm_solver_2m", lambda: DPMSolverMultistepScheduler(**SD)),
        ("flow_match_euler", lambda: FlowMatchEulerDiscreteScheduler(shift=3.0)),
    ]:
        s = make()

        def run():
            s.set_timesteps(50)  # also resets the step index
            loop(s, x, out)
        bench(f"diffusers {name} 50 steps (1,4,128,128)", run, 20)


if __name__ == "__main__":
    main()
