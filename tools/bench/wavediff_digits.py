"""Data and evaluation for the WaveDiff training run in docs/wavediff-training.md.

  python tools/bench/wavediff_digits.py data OUT_DIR
      scikit-learn's bundled handwritten digits (UCI optdigits test set, 1,797 images 8×8 with
      values 0–16, BSD-3) read from the pinned scikit-learn 1.7.2 wheel without installing it
      (`pip download scikit-learn==1.7.2 --no-deps -d /tmp/skl`), upsampled 4× (bilinear) to
      32×32 RGB PNGs: the first 1,500 in OUT_DIR/train, the other 297 in OUT_DIR/heldout.
  python tools/bench/wavediff_digits.py kid GRID.png HELDOUT_DIR [--cell 32]
      KID (the unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy/d + 1)³ of
      Bińkowski et al. 2018, on raw pixel vectors in [0, 1]) between the cells of a sample grid
      and the held-out images; also the mean per-pixel std of the samples (a collapse check).

Needs numpy and Pillow (tools/golden/.venv).
"""
import gzip
import io
import pathlib
import sys
import zipfile

import numpy as np
from PIL import Image

WHEEL_GLOB = "/tmp/skl/scikit_learn-1.7.2-*.whl"


def digits():
    import glob
    wheels = glob.glob(WHEEL_GLOB)
    if not wheels:
        sys.exit(f"no wheel at {WHEEL_GLOB}: pip download scikit-learn==1.7.2 --no-deps -d /tmp/skl")
    with zipfile.ZipFile(wheels[0]) as z:
        raw = gzip.decompress(z.read("sklearn/datasets/data/digits.csv.gz"))
    data = np.loadtxt(io.BytesIO(raw), delimiter=",")
    return data[:, :64].reshape(-1, 8, 8), data[:, 64].astype(int)


def write_data(out):
    x, _ = digits()
    out = pathlib.Path(out)
    for sub, part in [("train", x[:1500]), ("heldout", x[1500:])]:
        (out / sub).mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(part):
            img = Image.fromarray((d * (255 / 16)).round().astype(np.uint8), "L")
            img.resize((32, 32), Image.BILINEAR).convert("RGB").save(out / sub / f"{i:04d}.png")
    print(f"{len(x)} digits: 1500 train, {len(x) - 1500} held out, in {out}")


def kid(a, b):
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3
    m, n = len(a), len(b)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def load_dir(path):
    return np.stack([np.asarray(Image.open(p).convert("RGB"), np.float64).reshape(-1) / 255
                     for p in sorted(pathlib.Path(path).glob("*.png"))])


def eval_grid(grid, heldout, cell=32):
    g = np.asarray(Image.open(grid).convert("RGB"), np.float64) / 255
    rows, cols = g.shape[0] // cell, g.shape[1] // cell
    cells = np.stack([g[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell].reshape(-1)
                      for r in range(rows) for c in range(cols)])
    held = load_dir(heldout)
    print(f"{grid}: {len(cells)} samples, pixel KID vs {len(held)} held-out digits "
          f"{kid(cells, held):.4f}, per-pixel std across samples {cells.std(0).mean():.4f}")


if __name__ == "__main__":
    if sys.argv[1] == "data":
        write_data(sys.argv[2])
    else:
        cell = int(sys.argv[sys.argv.index("--cell") + 1]) if "--cell" in sys.argv else 32
        eval_grid(sys.argv[2], sys.argv[3], cell)
