"""Reference side of examples/dit_bench.rs: diffusers 0.36 `SD3Transformer2DModel` (SD3-medium) or
`FluxTransformer2DModel` (Flux-dev) with random weights, f32, torch CPU with 2 threads, SDPA; one
call on a `[BATCH, 16, LATENT, LATENT]` latent with TEXT text tokens (SD3 default 333 = 77 CLIP +
256 T5; Flux 512), after one call at 8² that materialises everything; prints the wall time and the
peak RSS above the weights.

Run: tools/golden/.venv/bin/python tools/bench/dit_reference.py sd3|flux LATENT [TEXT] [BATCH]
"""
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "golden"))


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def main():
    import torch
    from diffusers import FluxPipeline, FluxTransformer2DModel, SD3Transformer2DModel

    from gen_dit import FLUX_DEV, SD3_MEDIUM

    torch.set_num_threads(2)
    model, n = sys.argv[1], int(sys.argv[2])
    text = int(sys.argv[3]) if len(sys.argv) > 3 else (333 if model == "sd3" else 512)
    b = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    torch.manual_seed(0)
    if model == "sd3":
        m = SD3Transformer2DModel(**SD3_MEDIUM).eval()

        def run(n):
            return m(torch.randn(b, 16, n, n), encoder_hidden_states=torch.randn(b, text, 4096),
                     pooled_projections=torch.randn(b, 2048), timestep=torch.full((b,), 500.0)).sample
    else:
        m = FluxTransformer2DModel(**FLUX_DEV).eval()

        def run(n):
            x = FluxPipeline._pack_latents(torch.randn(b, 16, n, n), b, 16, n, n)
            ids = FluxPipeline._prepare_latent_image_ids(b, n // 2, n // 2, "cpu", torch.float32)
            return m(x, encoder_hidden_states=torch.randn(b, text, 4096), pooled_projections=torch.randn(b, 768),
                     timestep=torch.full((b,), 0.5), img_ids=ids, txt_ids=torch.zeros(text, 3),
                     guidance=torch.full((b,), 3.5)).sample
    with torch.no_grad():
        run(8)
        base = rss_mb()
        t = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"diffusers {model} latent {n}², batch {b}: {dt:.2f} s (threads {torch.get_num_threads()}); "
          f"peak above the weights {peak - base:.0f} MiB (RSS before {base:.0f} MiB)")


if __name__ == "__main__":
    main()
