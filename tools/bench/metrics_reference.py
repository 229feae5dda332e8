"""Reference for benches/metrics.rs: Diffusion-4K's GLCM Score of the procedural 2048² image with
its own eval.py functions (needs D4K_DIR, a checkout of zhang0jhon/diffusion-4k@9bea802).

    D4K_DIR=... tools/golden/.venv/bin/python tools/bench/metrics_reference.py
"""
import importlib.util
import os
import sys

import cv2

sys.path.insert(0, __file__.rsplit("/", 1)[0])
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
from gen_metrics import procedural  # noqa: E402
from timing import bench  # noqa: E402

spec = importlib.util.spec_from_file_location("d4k_eval", os.path.join(os.environ["D4K_DIR"], "eval.py"))
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)
img = cv2.cvtColor(procedural(2048, 2048), cv2.COLOR_RGB2BGR)


def score():
    gray64 = ev.gray_proc(img)
    s = 0.0
    for i in range(32):
        for j in range(32):
            s += ev.glcm(gray64[i * 64:i * 64 + 64, j * 64:j * 64 + 64])
    return s / 1024


bench("Diffusion-4K eval.py GLCM Score, one 2048² image", score, 3)

# FID: pytorch-fid's numpy statistics and calculate_frechet_distance (scipy.linalg.sqrtm) on
# 10,000 random 2048-d features per set; KID: clean-fid's kernel_distance (100 subsets of 1000).
import io  # noqa: E402

import numpy as np  # noqa: E402
from cleanfid.fid import kernel_distance  # noqa: E402
from PIL import Image  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402

rng = np.random.default_rng(0)
fa = rng.random((10_000, 2048), dtype=np.float32) - 0.5
fb = (rng.random((10_000, 2048), dtype=np.float32) - 0.5) * 1.1 + 0.01
stats = {}


def statistics():
    stats["a"] = (np.mean(fa, axis=0), np.cov(fa, rowvar=False))
    stats["b"] = (np.mean(fb, axis=0), np.cov(fb, rowvar=False))


bench("pytorch-fid statistics (np.mean, np.cov), two 10000×2048 sets", statistics, 3)
bench("pytorch-fid calculate_frechet_distance, 2048-d", lambda: calculate_frechet_distance(*stats["a"], *stats["b"]), 3)
bench("clean-fid kernel_distance, 100 subsets of 1000", lambda: kernel_distance(fa, fb, num_subsets=100, max_subset_size=1000), 3)

# Compression Ratio: Pillow's q95 JPEG of the procedural 4096² image (Diffusion-4K's save).
big = Image.fromarray(procedural(4096, 4096))


def jpeg():
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=95)
    return buf.tell()


bench("Pillow JPEG q95 4:2:0, 4096² (Image.save to BytesIO)", jpeg, 10)
