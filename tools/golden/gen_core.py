"""Golden fixtures for ultrares-core (image I/O and conversions, Pillow resize).

Writes crates/core/tests/fixtures/*: image files encoded by Pillow, the arrays Pillow/OpenCV
decode or compute from them, and diffusers' float <-> uint8 conversions (VaeImageProcessor's
`normalize`/`denormalize` + `numpy_to_pil`, reproduced with the same float32 NumPy operations).
Deterministic: run it twice, get the same bytes.
"""
import json
import pathlib
import sys

import cv2
import numpy as np
import PIL
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/core/tests/fixtures"


def synthetic_rgb(h=53, w=67, seed=0):
    """A deterministic 'photo-like' RGB image: gradients, a disc, stripes, noise (odd size)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(h, w) * 0.25) ** 2
    r[disc], g[disc], b[disc] = 240, 30, 60
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def resize_cases():
    """Pillow's Image.resize of rgb.png / gray.png with every filter, down, up and one axis."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from npz import save_npz

    out = {}
    filters = {"box": Image.BOX, "bilinear": Image.BILINEAR, "hamming": Image.HAMMING,
               "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
    rgb, gray = Image.open(OUT / "rgb.png"), Image.open(OUT / "gray.png")
    for fname, f in filters.items():
        for w, h in [(20, 31), (90, 71), (40, 53), (67, 20), (7, 3)]:
            out[f"rgb_{fname}_{w}x{h}"] = np.asarray(rgb.resize((w, h), f))
        out[f"gray_{fname}_30x45"] = np.asarray(gray.resize((30, 45), f))
    save_npz(OUT / "resize.npz", out)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rgb = synthetic_rgb()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([rgb, (np.arange(rgb.shape[1]) * 3 % 256).astype(np.uint8)[None, :].repeat(rgb.shape[0], 0)])

    files = {
        "rgb.png": Image.fromarray(rgb, "RGB"),
        "gray.png": Image.fromarray(gray, "L"),
        "rgba.png": Image.fromarray(rgba, "RGBA"),
    }
    for name, im in files.items():
        im.save(OUT / name)
    Image.fromarray(rgb, "RGB").save(OUT / "rgb_q95.jpg", quality=95)
    Image.fromarray(gray, "L").save(OUT / "gray_q95.jpg", quality=95)

    # What Pillow decodes (as RGB) and what OpenCV makes gray of it.
    for name in ["rgb.png", "gray.png", "rgba.png", "rgb_q95.jpg", "gray_q95.jpg"]:
        dec = np.array(Image.open(OUT / name).convert("RGB"))
        stem = name.replace(".", "_")
        np.save(OUT / f"{stem}.pillow_rgb.npy", dec)
        g = np.array(Image.open(OUT / name))
        if g.ndim == 3:
            g = cv2.cvtColor(np.array(Image.open(OUT / name).convert("RGB")), cv2.COLOR_RGB2GRAY)
        np.save(OUT / f"{stem}.gray.npy", g)

    # OpenCV's RGB -> gray over a dense colour sample: every channel in 0, 5, ..., 255.
    v = np.arange(0, 256, 5, dtype=np.uint8)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
    np.save(OUT / "cvt_gray_dense.npy", cv2.cvtColor(cube, cv2.COLOR_RGB2GRAY).reshape(-1))

    # diffusers VaeImageProcessor conversions (image_processor.py):
    #   pil_to_numpy: np.array(img).astype(np.float32) / 255.0 ; normalize: 2.0 * x - 1.0
    #   denormalize: (x / 2 + 0.5).clamp(0, 1) ; numpy_to_pil: (x * 255).round().astype("uint8")
    u = np.arange(256, dtype=np.uint8)
    zero_one = u.astype(np.float32) / np.float32(255.0)
    np.save(OUT / "u8_to_zero_one.npy", zero_one)
    np.save(OUT / "u8_to_minus_one_one.npy", np.float32(2.0) * zero_one - np.float32(1.0))
    rng = np.random.default_rng(1)
    halves = (np.arange(-2, 258, dtype=np.float32) + np.float32(0.5)) / np.float32(255.0)
    x01 = np.concatenate([halves, rng.uniform(-0.2, 1.2, 4000).astype(np.float32),
                          np.array([0, 1, -0.0, 1e-8, 0.99999994], np.float32)])
    x11 = np.concatenate([np.float32(2) * halves - np.float32(1), rng.uniform(-1.3, 1.3, 4000).astype(np.float32),
                          np.array([-1, 1, 0, -1e-8], np.float32)])
    np.save(OUT / "float_zero_one.npy", x01)
    np.save(OUT / "float_zero_one_to_u8.npy", (np.clip(x01, 0, 1) * np.float32(255)).round().astype(np.uint8))
    np.save(OUT / "float_minus_one_one.npy", x11)
    np.save(OUT / "float_minus_one_one_to_u8.npy",
            (np.clip(x11 / np.float32(2) + np.float32(0.5), 0, 1) * np.float32(255)).round().astype(np.uint8))

    meta = {
        "generator": "tools/golden/gen_core.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "opencv": cv2.__version__,
    }
    resize_cases()
    (OUT / "GENERATOR.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
