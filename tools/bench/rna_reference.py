"""Reference timings for benches/rna.rs: cv2.Canny at 1 and 2 threads, and LSRNA's noise-map
path (cv2 gray + Canny + torch AdaptiveAvgPool2d + min-max) on the same synthetic images.

Usage: tools/golden/.venv/bin/python tools/bench/rna_reference.py [--check DIR]
"""
import cv2
import numpy as np
import torch
from timing import bench


def synthetic_rgb(n):
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    xf, yf = x / n, y / n
    base = 127.5 + 60.0 * np.sin(12.0 * xf) * np.cos(9.0 * yf)
    disc = np.where((xf - 0.6) ** 2 + (yf - 0.4) ** 2 < 0.04, 50.0, 0.0)
    xi, yi = x.astype(np.uint64), y.astype(np.uint64)
    tex = ((xi * np.uint64(73856093)) ^ (yi * np.uint64(19349663))) % np.uint64(41)
    tex = tex.astype(np.float64) - 20.0
    # Rust's f64::round rounds half away from zero; emulate it.
    v = lambda k: np.clip(np.sign(base + disc + tex * k) * np.floor(np.abs(base + disc + tex * k) + 0.5), 0, 255).astype(np.uint8)
    return np.dstack([v(1.0), v(0.7), v(0.4)])


def main():
    for n in [1024, 4096]:
        gray = cv2.cvtColor(synthetic_rgb(n), cv2.COLOR_RGB2GRAY)
        for lo, hi in [(0, 255), (100, 200)]:
            for threads in [1, 2]:
                cv2.setNumThreads(threads)
                bench(f"cv2.Canny {n}x{n} ({lo},{hi}) threads={threads}", lambda: cv2.Canny(gray, lo, hi))
    ref = synthetic_rgb(4096)
    pool = torch.nn.AdaptiveAvgPool2d((512, 512))
    torch.set_num_threads(2)

    def rna_map():
        e = cv2.Canny(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), 0, 255)
        d = pool(torch.from_numpy(e).float()[None, None])
        return (d - d.min()) / (d.max() - d.min()) * 1.2

    for threads in [1, 2]:
        cv2.setNumThreads(threads)
        bench(f"LSRNA std map 4096->512 (cv2 threads={threads}, torch threads=2)", rna_map)


if __name__ == "__main__":
    main()
