"""Reference UNet-call counts and wall times for examples/pipeline_bench.rs: the official
LSRNA-DemoFusion (3587jjh/LSRNA), DemoFusion (PRIS-CV/DemoFusion) and Pixelsmith
(Thanos-DB/Pixelsmith) pipelines, driven as in tools/golden/gen_pipeline.py (stand-in UNet,
CFG 7.5, DDIM 50 steps, their default view batches 8 and 16), with a VAE that costs nothing, on
the CPU with torch at 2 threads. Pixelsmith runs as its `generate_image` chain would: a base
image at the reference size, then the patch loop at ×2, ×4, … and the target (Sliders 20, 30),
each phase given a random latent guide; its call count depends on the random patch picks.

Usage: LSRNA_DIR=... DEMOFUSION_DIR=... PIXELSMITH_DIR=... tools/golden/.venv/bin/python tools/bench/pipeline_reference.py [HxW ...]
(default 2048x2048 2048x4096 4096x4096). Prints a Markdown table.
"""
import contextlib
import io
import pathlib
import sys
import time
import types

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "golden"))
import gen_pipeline as gp  # noqa: E402


class NullVae:
    """Decodes to zeros; what the pipelines read of a VAE."""

    dtype = torch.float32
    config = types.SimpleNamespace(scaling_factor=0.13025, force_upcast=False,
                                   block_out_channels=(1, 1, 1, 1))

    def enable_tiling(self):
        pass

    def decode(self, z, return_dict=False, **k):
        return (torch.zeros(z.shape[0], 3, z.shape[2] * 8, z.shape[3] * 8),)


def pixelsmith(px, h, w):
    """(UNet calls, evaluations) of the official Pixelsmith chain to h×w."""
    s = max(h, w) // 1024
    phases = [k for k in (2 ** i for i in range(1, 8)) if k < s] + [s]
    sliders = [20, 30]
    pipe = gp.pixelsmith_pipe(px, gp.ddim(True))
    orig_randn, orig_to = torch.randn, torch.Tensor.to
    torch.randn = lambda shape, dtype=None, **k: orig_randn(shape).to(dtype or torch.float32)
    torch.Tensor.to = lambda self, *a, **k: orig_to(self, *("cpu" if x == "cuda" else x for x in a), **k)
    emb = torch.zeros(1, 2, 2)
    common = dict(prompt_embeds=emb, negative_prompt_embeds=emb, pooled_prompt_embeds=torch.full((1, 2), 0.7),
                  negative_pooled_prompt_embeds=torch.full((1, 2), -0.3), guidance_scale=7.5,
                  output_type="latent", return_dict=False)
    gp.StandInUnet.calls = gp.StandInUnet.evaluations = 0
    with contextlib.redirect_stdout(io.StringIO()):  # upstream prints its progress
        pipe(height=h // s, width=w // s, generator=torch.manual_seed(0), **common)
        for n, k in enumerate(phases):
            ph, pw = h * k // s // 8 * 8, w * k // s // 8 * 8
            guide = orig_randn(1, 4, ph // 8, pw // 8)
            pipe(latents=torch.zeros(1, 4, ph // 8, pw // 8), image=guide, height=ph, width=pw,
                 slider=sliders[min(n, len(sliders) - 1)], **common)
    torch.randn, torch.Tensor.to = orig_randn, orig_to
    return gp.StandInUnet.calls, gp.StandInUnet.evaluations


def main():
    import os

    sizes = [tuple(map(int, a.split("x"))) for a in sys.argv[1:]] or [(2048, 2048), (2048, 4096), (4096, 4096)]
    torch.Tensor.cuda = lambda self, *a, **k: self
    gp.stub_imports()
    sys.path.insert(0, str(gp.checkout(os.environ["LSRNA_DIR"], ["pipeline_lsrna_demofusion_sdxl.py", "utils.py"])))
    import lsr.models
    import pipeline_lsrna_demofusion_sdxl as lm

    lsr.models.make = lambda *a, **k: gp.BicubicLsr()
    orig_make_coord = lm.make_coord
    lm.make_coord = lambda shape, ranges=None, flatten=True, device="cpu": orig_make_coord(shape, ranges, flatten, "cpu")
    orig_load = torch.load
    torch.load = lambda path, *a, **k: {"model": None} if path == "standin" else orig_load(path, *a, **k)
    sys.path.insert(0, str(gp.checkout(os.environ["DEMOFUSION_DIR"], ["pipeline_demofusion_sdxl.py"])))
    import pipeline_demofusion_sdxl as dm

    px = None
    if os.environ.get("PIXELSMITH_DIR"):
        sys.path.insert(0, str(gp.checkout(os.environ["PIXELSMITH_DIR"], ["pixelsmith_pipeline.py"])))
        sys.modules["autoencoder_kl"] = types.SimpleNamespace(AutoencoderKL=None)
        import pixelsmith_pipeline as px

    print("| pipeline | size | UNet calls | latents (CFG batch) | wall s |")
    print("|---|---|---|---|---|")
    for h, w in sizes:
        for name, pm, cls, seeds, call in [
            ("LSRNA-DemoFusion", lm, "DemoFusionLSRNASDXLPipeline", [1000, 1002],
             dict(lsr_path="standin", view_batch_size=8, sigma=0.8)),
            ("DemoFusion", dm, "DemoFusionSDXLPipeline", [1002] * 3,
             dict(multi_decoder=False, view_batch_size=16, sigma=1.0, output_type="pil")),
        ]:
            gp.BicubicLsr.outputs.clear()
            start = time.perf_counter()
            r = gp.run(pm, cls, seeds, 77, tiled=False, vae=NullVae(), height=h, width=w, **call)
            elapsed = time.perf_counter() - start
            calls, evals = r["unet_calls"]
            print(f"| {name} | {h}×{w} | {calls} | {evals} | {elapsed:.2f} |", flush=True)
        if px is not None:
            start = time.perf_counter()
            calls, evals = pixelsmith(px, h, w)
            elapsed = time.perf_counter() - start
            print(f"| Pixelsmith | {h}×{w} | {calls} | {evals} | {elapsed:.2f} |", flush=True)


if __name__ == "__main__":
    main()
