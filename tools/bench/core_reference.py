"""Reference timings for benches/core.rs, measured in the same session on the same machine.

* noise: NumPy's PCG64 `standard_normal(dtype=float32)` (the host RNG peer of torch.randn);
* tiling: DemoFusion's MultiDiffusion accumulation (`value[..., h0:h1, w0:w1] += view`,
  `count += 1`, `value / count`) over the same 49 jittered views of a (1, 4, 512, 512) latent,
  written with NumPy slicing exactly as the pipeline does it with torch.

Usage: tools/golden/.venv/bin/python tools/bench/core_reference.py
"""
import numpy as np
from timing import bench


def views(h, w, win=128, stride=64, seed=7):
    rng = np.random.default_rng(seed)
    j = (win - stride) // 4
    nh = int((h - win) / stride - 1e-6) + 2 if h > win else 1
    nw = int((w - win) / stride - 1e-6) + 2 if w > win else 1
    out = []
    for i in range(nh * nw):
        h0, w0 = (i // nw) * stride, (i % nw) * stride
        h0, w0 = min(h0, h - win), min(w0, w - win)
        jh = rng.integers(-j if h0 else 0, (j if h0 + win != h else 0) + 1)
        jw = rng.integers(-j if w0 else 0, (j if w0 + win != w else 0) + 1)
        out.append((h0 + jh + j, w0 + jw + j))
    return out, j


def main():
    for name, n in [("gaussian_latent_4x512x512", 4 * 512 * 512), ("gaussian_image_3x4096x4096", 3 * 4096 * 4096)]:
        bench(f"noise/{name} (numpy)", lambda: np.random.default_rng(42).standard_normal(n, dtype=np.float32))

    x = np.random.default_rng(1).standard_normal((1, 4, 512, 512), dtype=np.float32)
    vs, j = views(512, 512)

    def split_merge():
        xp = np.pad(x, ((0, 0), (0, 0), (j, j), (j, j)))
        tiles = [xp[:, :, a:a + 128, b:b + 128].copy() for a, b in vs]
        value = np.zeros_like(xp)
        count = np.zeros_like(xp)
        for (a, b), t in zip(vs, tiles):
            value[:, :, a:a + 128, b:b + 128] += t
            count[:, :, a:a + 128, b:b + 128] += 1
        crop = (slice(None), slice(None), slice(j, j + 512), slice(j, j + 512))
        return value[crop] / count[crop]

    bench("tiling/split_merge_4x512x512_demofusion_49_views (numpy)", split_merge)


if __name__ == "__main__":
    main()
