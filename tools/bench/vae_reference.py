"""Reference timings and peak memory for examples/vae_bench.rs / benches/vae.rs: diffusers 0.36's
AutoencoderKL with the SDXL VAE topology (random weights) on the CPU, torch at 2 threads.

Usage: tools/golden/.venv/bin/python tools/bench/vae_reference.py CASE LATENT [RUNS] [TILE]
  CASE: decode | encode | diffusers (enable_tiling(), TILE-latent tiles, default 128)
With DEVICE=cuda in the environment it runs on the first CUDA GPU (f32, TF32 off, synchronised
timings) and also prints torch's peak allocated/reserved GPU memory.
Each run is its own process, so `ru_maxrss` is the case's own; the RSS after building the model
and inputs is printed too (the forward pass's peak is the difference).
"""
import os
import resource
import sys
import time

import torch
from diffusers import AutoencoderKL


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024


def main():
    case, n = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    tile = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    device = os.environ.get("DEVICE", "cpu")
    if device == "cpu":
        torch.set_num_threads(2)
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        sample_size=1024,
        scaling_factor=0.13025,
    ).eval().to(device)
    z = torch.randn(1, 4, n, n, device=device)
    x = torch.rand(1, 3, 8 * n, 8 * n, device=device) * 2 - 1
    if case == "diffusers":
        vae.enable_tiling()
        vae.tile_sample_min_size, vae.tile_latent_min_size = 8 * tile, tile
    fn = {
        "decode": lambda: vae.decode(z).sample,
        "diffusers": lambda: vae.decode(z).sample,
        "encode": lambda: vae.encode(x).latent_dist.mean,
    }[case]
    base = rss_mb()
    ts = []
    with torch.no_grad():
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            if device != "cpu":
                torch.cuda.synchronize()
            ts.append(time.perf_counter() - t)
    ts.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"diffusers {case} {n}² latent (tile {tile}): median {ts[len(ts) // 2]:.3f} s "
          f"(min {ts[0]:.3f} s, {runs} runs); RSS before {base:.0f} MB, peak {peak:.0f} MB, "
          f"peak − before ≈ {peak - base:.0f} MB")
    if device != "cpu":
        print(f"  GPU ({torch.cuda.get_device_name()}): peak allocated "
              f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MB, peak reserved "
              f"{torch.cuda.max_memory_reserved() / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
