"""Reference timings for benches/wavelet.rs: PyWavelets, ptwt (PyTorch), a strided-slicing
PyTorch Haar, and numpy's memory copy, on the same shapes (float32).

    tools/golden/.venv/bin/pip install ptwt==1.0.1
    tools/golden/.venv/bin/python tools/bench/wavelet_reference.py [--threads N]
"""
import argparse
import sys

import numpy as np
import ptwt
import pywt
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from timing import bench  # noqa: E402

SHAPES = [(1, 4, 128, 128), (1, 4, 512, 512), (1, 3, 4096, 4096)]


def haar_slicing(x):
    """Orthonormal Haar by strided slicing (the fastest plain-PyTorch formulation)."""
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    s0, d0, s1, d1 = a + b, a - b, c + d, c - d
    return (s0 + s1) * 0.5, (s0 - s1) * 0.5, (d0 + d1) * 0.5, (d0 - d1) * 0.5


def ihaar_slicing(ll, h, v, dd):
    n, c, h2, w2 = ll.shape
    out = torch.empty(n, c, 2 * h2, 2 * w2, dtype=ll.dtype)
    ahs, ahd, vds, vdd = ll + h, ll - h, v + dd, v - dd
    out[..., 0::2, 0::2] = (ahs + vds) * 0.5
    out[..., 0::2, 1::2] = (ahs - vds) * 0.5
    out[..., 1::2, 0::2] = (ahd + vdd) * 0.5
    out[..., 1::2, 1::2] = (ahd - vdd) * 0.5
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}, pywt {pywt.__version__}, ptwt 1.0.1")
    rng = np.random.default_rng(0)
    for s in SHAPES:
        x = rng.random(s, dtype=np.float32)
        t = torch.from_numpy(x)
        tag = "x".join(map(str, s))
        repeat = 5 if s[2] >= 4096 else 30
        dst = np.empty_like(x)
        bench(f"numpy copyto (preallocated) {tag}", lambda: np.copyto(dst, x), repeat)
        bench(f"numpy copy (fresh) {tag}", lambda: x.copy(), repeat)
        bench(f"pywt.dwt2 haar {tag}", lambda: pywt.dwt2(x, "haar", mode="zero"), repeat)
        coeffs = pywt.dwt2(x, "haar", mode="zero")
        bench(f"pywt.idwt2 haar {tag}", lambda: pywt.idwt2(coeffs, "haar", mode="zero"), repeat)
        bench(f"ptwt.wavedec2 haar L1 {tag}", lambda: ptwt.wavedec2(t, "haar", level=1, mode="zero"), repeat)
        pc = ptwt.wavedec2(t, "haar", level=1, mode="zero")
        bench(f"ptwt.waverec2 haar L1 {tag}", lambda: ptwt.waverec2(pc, "haar"), repeat)
        with torch.no_grad():
            bench(f"torch slicing haar {tag}", lambda: haar_slicing(t), repeat)
            bands = haar_slicing(t)
            bench(f"torch slicing ihaar {tag}", lambda: ihaar_slicing(*bands), repeat)
    x = rng.random(SHAPES[1], dtype=np.float32)
    t = torch.from_numpy(x)
    bench("pywt.wavedec2 db4 L3 symmetric 1x4x512x512", lambda: pywt.wavedec2(x, "db4", mode="symmetric", level=3), 10)
    c = pywt.wavedec2(x, "db4", mode="symmetric", level=3)
    bench("pywt.waverec2 db4 L3 symmetric 1x4x512x512", lambda: pywt.waverec2(c, "db4", mode="symmetric"), 10)
    bench("ptwt.wavedec2 db4 L3 symmetric 1x4x512x512", lambda: ptwt.wavedec2(t, "db4", level=3, mode="symmetric"), 10)
    pc = ptwt.wavedec2(t, "db4", level=3, mode="symmetric")
    bench("ptwt.waverec2 db4 L3 1x4x512x512", lambda: ptwt.waverec2(pc, "db4"), 10)


if __name__ == "__main__":
    main()
