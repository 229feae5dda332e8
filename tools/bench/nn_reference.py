"""Reference timings for benches/nn.rs: PyTorch 2.15's `scaled_dot_product_attention` and
`group_norm` on the CPU at 2 threads, on the shapes of the Rust bench (SDXL's self-attention at
64² and 32² latents, cross-attention to 77 tokens; GroupNorm 32 groups over [1, 320, 128, 128];
the exact GELU and diffusers' GEGLU gate over [1, 4096, 2560]).

Usage: tools/golden/.venv/bin/python tools/bench/nn_reference.py
"""
import sys
import pathlib

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from timing import bench  # noqa: E402


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    for name, heads, lq, lk in [
        ("self_4096x10x64", 10, 4096, 4096),
        ("self_1024x20x64", 20, 1024, 1024),
        ("cross_4096x10x64_77", 10, 4096, 77),
    ]:
        q, k, v = torch.randn(1, heads, lq, 64), torch.randn(1, heads, lk, 64), torch.randn(1, heads, lk, 64)
        bench(f"attention_{name} (torch sdpa)", lambda: F.scaled_dot_product_attention(q, k, v))
    x = torch.randn(1, 320, 128, 128)
    w, b = torch.ones(320), torch.zeros(320)
    bench("group_norm_320x128x128 (torch)", lambda: F.group_norm(x, 32, w, b, 1e-5))
    bench("group_norm_silu_320x128x128 (torch)", lambda: F.silu(F.group_norm(x, 32, w, b, 1e-5)))
    h = torch.randn(1, 4096, 5120)
    x = h[..., :2560].contiguous()
    bench("gelu_4096x2560 (torch)", lambda: F.gelu(x))
    bench("silu_4096x2560 (torch)", lambda: F.silu(x))

    def geglu():  # diffusers' GEGLU after its projection
        a, gate = h.chunk(2, dim=-1)
        return a * F.gelu(gate)

    bench("geglu_4096x2560 (torch)", geglu)


if __name__ == "__main__":
    with torch.no_grad():
        main()
