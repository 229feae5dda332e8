"""Reference UNet-call counts and wall times for examples/pipeline_bench.rs: the official
LSRNA-DemoFusion (3587jjh/LSRNA) and DemoFusion (PRIS-CV/DemoFusion) pipelines, driven as in
tools/golden/gen_pipeline.py (stand-in UNet, CFG 7.5, DDIM 50 steps, their default view batches
8 and 16), with a VAE that costs nothing, on the CPU with torch at 2 threads.

Usage: LSRNA_DIR=... DEMOFUSION_DIR=... tools/golden/.venv/bin/python tools/bench/pipeline_reference.py [HxW ...]
(default 2048x2048 2048x4096 4096x4096). Prints a Markdown table.
"""
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


if __name__ == "__main__":
    main()
