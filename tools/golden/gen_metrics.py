"""Golden fixtures for ultrares-metrics: scikit-image GLCMs and Diffusion-4K's GLCM Score.

Writes crates/metrics/tests/fixtures/:
* glcm.npz      graycomatrix counts (uint32, (levels, levels, n_dist, n_angle)), graycoprops of all
                10 properties and skimage.measure.shannon_entropy of the normed GLCM, per case
* stats.npz     FID (pytorch-fid; also 2048-d from hashed features), KID (clean-fid), IS
                (torch-fidelity) on random features/logits
* jpeg.npz      Pillow's JPEG files (libjpeg-turbo, the encoder Diffusion-4K's Compression Ratio
                measures): whole files for crops of the astronaut with odd sizes, random noise and
                flat images at several qualities and subsamplings, and the file size of the full
                256² astronaut and a procedural 1024² image (formula below)
* inception.npz pytorch-fid 0.3.0's InceptionV3 (FID variant, `InceptionV3([3])`: bilinear resize to
                299², 2x−1, pool3) and its fc logits, with the deterministic weights of
                `det_weights()` (an integer hash, recomputed by the Rust test), on two 40×50
                astronaut crops (upsampled) and the procedural 320×400 image (downsampled)
* patches.npz   pFID reference preparation: the astronaut centre-cropped to a target aspect ratio
                (crop size round(H·w/h) or round(W·h/w), offset ⌊excess/2⌋) and resized with
                Pillow's LANCZOS
* glcm_score.json  Diffusion-4K's per-image score from its own eval.py functions (gray_proc,
                glcm) over the patch loop of main(), on scikit-image's astronaut (the Rust test
                and eval.py read crates/rna/tests/fixtures/astronaut_rgb.png) and on a
                procedural 2048² image (formula below, recomputed by the Rust test)
Needs D4K_DIR: a checkout of zhang0jhon/diffusion-4k@9bea802 (eval.py is imported from it).
"""
import importlib.util
import io
import json
import os
import pathlib
import platform
import sys
from importlib.metadata import version

import cv2
import numpy as np
from skimage import data
from skimage.feature import graycomatrix, graycoprops
from skimage.measure import shannon_entropy

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import save_npz, splitmix_uniform  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/metrics/tests/fixtures"
PROPS = ["contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "mean", "variance", "std", "entropy"]


def save(name, arrays):
    save_npz(OUT / name, arrays)


def procedural(h, w):
    """RGB test image; the Rust test computes the same integers."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    base = (x * 7919 + y * 104729 + (x * y) % 251) ^ (x >> 3)
    smooth = ((x // 16) * 37 + (y // 16) * 53) % 256
    r = ((base % 64) + smooth) % 256
    g = ((base // 7) % 32 + smooth // 2 + 60) % 256
    b = (smooth + (y % 29) * 3) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def glcm_cases(rng):
    out = {}
    cases = {
        "d4k_64x64": (rng.integers(0, 64, (64, 64), dtype=np.uint8), [1, 2, 3, 4], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], 64, False),
        "sym_37x53": (rng.integers(0, 16, (37, 53), dtype=np.uint8), [1, 3, 7], [0, np.pi / 6, 2 * np.pi / 3, np.pi], 16, True),
        "flat_20x20": (np.full((20, 20), 5, dtype=np.uint8), [1, 2], [0, np.pi / 2], 8, False),
        "camera_64": (data.camera()[200:264, 220:284] // 4, [1, 2, 3, 4], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], 64, False),
        "far_9x9": (rng.integers(0, 4, (9, 9), dtype=np.uint8), [1, 12], [0, np.pi / 4, np.pi / 2], 4, False),
    }
    for key, (img, dist, ang, levels, sym) in cases.items():
        P = graycomatrix(img, dist, ang, levels=levels, symmetric=sym, normed=False)
        Pn = graycomatrix(img, dist, ang, levels=levels, symmetric=sym, normed=True)
        out[f"{key}/image"] = img
        out[f"{key}/distances"] = np.array(dist, dtype=np.int64)
        out[f"{key}/angles"] = np.array(ang, dtype=np.float64)
        out[f"{key}/meta"] = np.array([levels, int(sym)], dtype=np.int64)
        out[f"{key}/counts"] = P.astype(np.uint32)
        for prop in PROPS:
            out[f"{key}/prop_{prop}"] = graycoprops(Pn, prop).astype(np.float64)
        out[f"{key}/shannon"] = np.array([shannon_entropy(Pn)])
    save("glcm.npz", out)


def d4k_scores():
    path = os.environ.get("D4K_DIR")
    if not path:
        print("glcm_score.json: D4K_DIR not set, keeping the committed file")
        return
    spec = importlib.util.spec_from_file_location("d4k_eval", os.path.join(path, "eval.py"))
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)

    def score(rgb, size, patch, prop):
        gray64 = ev.gray_proc(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # eval.py gets cv2.imread BGR
        s, n = 0.0, 0
        for i in range(0, int(size / patch)):
            for j in range(0, int(size / patch)):
                s += ev.glcm(gray64[i * patch:i * patch + patch, j * patch:j * patch + patch], prop=prop)
                n += 1
        return s / n

    res = []
    # eval.py reads with cv2.imread; the photograph is ultrares-rna's fixture (scikit-image's
    # astronaut, 256², public domain).
    astro_path = pathlib.Path(__file__).resolve().parents[2] / "crates/rna/tests/fixtures/astronaut_rgb.png"
    astro = cv2.cvtColor(cv2.imread(str(astro_path)), cv2.COLOR_BGR2RGB)
    for size, prop in [(256, "entropy"), (256, "contrast"), (256, "correlation"), (192, "homogeneity")]:
        res.append({"image": "astronaut", "size": size, "patch": 64, "prop": prop, "score": score(astro, size, 64, prop)})
    # Truncated edge patches: a 250² crop with size 256 (the last row/column of patches has 58
    # pixels). A size whose patches start outside the image makes eval.py raise (empty array).
    crop = np.ascontiguousarray(astro[:250, :250])
    res.append({"image": "astronaut_250", "size": 256, "patch": 64, "prop": "entropy", "score": score(crop, 256, 64, "entropy")})
    big = procedural(2048, 2048)
    res.append({"image": "procedural_2048", "size": 2048, "patch": 64, "prop": "entropy", "score": score(big, 2048, 64, "entropy")})
    (OUT / "glcm_score.json").write_text(json.dumps(res, indent=1) + "\n")
    print("glcm_score.json", res)


def jpeg(rng):
    """Pillow JPEG files: `<case>_jpg` (uint8 file bytes) and, for noise, `<case>_in`."""
    from PIL import Image, features

    astro_path = pathlib.Path(__file__).resolve().parents[2] / "crates/rna/tests/fixtures/astronaut_rgb.png"
    astro = np.asarray(Image.open(astro_path).convert("RGB"))
    out = {}

    def enc(img, quality, subsampling=None):
        buf = io.BytesIO()
        kw = {} if subsampling is None else {"subsampling": subsampling}
        Image.fromarray(img).save(buf, "JPEG", quality=quality, **kw)
        return np.frombuffer(buf.getvalue(), dtype=np.uint8)

    # Crops the Rust test takes from the same PNG: astro[y0:y0+h, x0:x0+w].
    for name, (y0, x0, h, w) in {"crop_37x53": (100, 90, 37, 53), "crop_16x16": (120, 120, 16, 16),
                                 "crop_1x1": (50, 50, 1, 1), "crop_9x70": (10, 0, 9, 70)}.items():
        crop = np.ascontiguousarray(astro[y0:y0 + h, x0:x0 + w])
        for q in (95, 75, 30, 100):
            for sub, tag in ((None, "420"), (1, "422"), (0, "444")):
                out[f"{name}_q{q}_{tag}_jpg"] = enc(crop, q, sub)
        out[f"{name}_gray_q95_jpg"] = enc(np.ascontiguousarray(crop.mean(axis=2).astype(np.uint8)), 95)
    noise = rng.integers(0, 256, (33, 17, 3), dtype=np.uint8)
    out["noise_in"] = noise
    for q in (95, 100, 1):
        out[f"noise_q{q}_420_jpg"] = enc(noise, q)
    flat = np.full((21, 40, 3), (200, 30, 90), dtype=np.uint8)
    out["flat_in"] = flat
    out["flat_q95_420_jpg"] = enc(flat, 95)
    out["astronaut_q95_420_jpg"] = enc(astro, 95)
    out["procedural_1024_q95_420_size"] = np.array([len(enc(procedural(1024, 1024), 95))], dtype=np.int64)
    save("jpeg.npz", out)
    return features.version("libjpeg_turbo")


def det_weight(key, shape):
    """The deterministic value of state-dict tensor `key` (He-scaled convs, BN near identity)."""
    n = int(np.prod(shape))
    u = splitmix_uniform(sum(key.encode()), n)
    if key.endswith("conv.weight"):
        v = u * np.sqrt(6.0 / (n // shape[0]))
    elif key.endswith("bn.weight"):
        v = 1.0 + 0.1 * u
    elif key.endswith("bn.running_var"):
        v = 1.0 + 0.25 * (u + 1.0)
    elif key == "fc.weight":
        v = u * np.sqrt(3.0 / shape[1])
    else:  # bn.bias, bn.running_mean, fc.bias
        v = 0.1 * u
    return v.astype(np.float32).reshape(shape)


def inception():
    import torch
    from PIL import Image
    from pytorch_fid import inception as pfi

    def det_state_dict(*_args, **_kwargs):
        net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        sd = {}
        for k, v in net.state_dict().items():
            if "AuxLogits" in k:
                continue
            sd[k] = v if k.endswith("num_batches_tracked") else torch.from_numpy(det_weight(k, tuple(v.shape)))
        return sd

    pfi.load_state_dict_from_url = det_state_dict
    model = pfi.InceptionV3([3]).eval()
    sd = det_state_dict()
    astro_path = pathlib.Path(__file__).resolve().parents[2] / "crates/rna/tests/fixtures/astronaut_rgb.png"
    astro = np.asarray(Image.open(astro_path).convert("RGB"))
    out = {}
    # ToTensor: uint8 / 255 in float32.
    batches = {"astronaut_crops": np.stack([astro[30:70, 100:150], astro[150:190, 20:70]]),
               "procedural_320x400": procedural(320, 400)[None]}
    with torch.no_grad():
        for name, imgs in batches.items():
            x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
            pool = model(x)[0][:, :, 0, 0]
            out[f"{name}_pool3"] = pool.numpy()
            out[f"{name}_logits"] = (pool @ sd["fc.weight"].T + sd["fc.bias"]).numpy()
    save("inception.npz", out)


def patches():
    from PIL import Image

    astro_path = pathlib.Path(__file__).resolve().parents[2] / "crates/rna/tests/fixtures/astronaut_rgb.png"
    astro = Image.open(astro_path).convert("RGB")
    out = {}
    for w, h in [(120, 60), (50, 90), (100, 300), (77, 77)]:
        gw, gh = astro.size
        if gw * h > gh * w:
            cw, ch = min(max((gh * w * 2 + h) // (2 * h), 1), gw), gh
        else:
            cw, ch = gw, min(max((gw * h * 2 + w) // (2 * w), 1), gh)
        x0, y0 = (gw - cw) // 2, (gh - ch) // 2
        out[f"astronaut_to_{w}x{h}"] = np.asarray(astro.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.LANCZOS))
    save("patches.npz", out)


def stats(rng):
    """FID (pytorch-fid's statistics and calculate_frechet_distance), KID (clean-fid's
    kernel_distance with one subset covering both sets), IS (torch-fidelity, no shuffle)."""
    import torch
    from cleanfid.fid import kernel_distance
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = {}
    a = (rng.standard_normal((200, 32)) @ rng.standard_normal((32, 32)) * 0.3 + 1.0).astype(np.float32)
    b = (rng.standard_normal((150, 32)) @ rng.standard_normal((32, 32)) * 0.25 + 0.8).astype(np.float32)
    out["a"], out["b"] = a, b
    mu1, s1 = np.mean(a.astype(np.float64), axis=0), np.cov(a.astype(np.float64), rowvar=False)
    mu2, s2 = np.mean(b.astype(np.float64), axis=0), np.cov(b.astype(np.float64), rowvar=False)
    out["mu_a"], out["sigma_a"] = mu1, s1
    out["fid"] = np.array([calculate_frechet_distance(mu1, s1, mu2, s2)])
    # 2048-d, as the protocol uses: pytorch-fid's own statistics lines (np.mean / np.cov of float32
    # activations) on 3000 hashed features per set (splitmix_uniform, recomputed by the Rust test).
    ha = splitmix_uniform(11, 3000 * 2048).astype(np.float32).reshape(3000, 2048)
    hb = (splitmix_uniform(12, 3000 * 2048) * 0.9 + 0.05).astype(np.float32).reshape(3000, 2048)
    out["fid_2048"] = np.array([calculate_frechet_distance(np.mean(ha, axis=0), np.cov(ha, rowvar=False),
                                                           np.mean(hb, axis=0), np.cov(hb, rowvar=False))])
    # KID on the same 2048-d sets, each subset the whole set (so no draw matters): float64, and
    # clean-fid's float32 run as the yardstick for `kid_f32` at the protocol's dimension.
    np.random.seed(0)
    out["kid_2048"] = np.array([kernel_distance(ha.astype(np.float64), hb.astype(np.float64), num_subsets=1,
                                                max_subset_size=3000)])
    np.random.seed(0)
    out["kid_2048_f32"] = np.array([kernel_distance(ha, hb, num_subsets=1, max_subset_size=3000)], dtype=np.float64)
    c = rng.standard_normal((120, 32)).astype(np.float32)
    d = (rng.standard_normal((120, 32)) * 1.1 + 0.1).astype(np.float32)
    out["c"], out["d"] = c, d
    np.random.seed(0)
    # float64 copies: clean-fid would multiply float32 features in float32 (≈ 2e-5 relative).
    out["kid"] = np.array([kernel_distance(c.astype(np.float64), d.astype(np.float64), num_subsets=1, max_subset_size=1000)])
    # And as clean-fid runs on float32 features (float32 products and sums): the yardstick for
    # `kid_f32`'s deviation from the float64 value (subset = the whole set, so no draw matters).
    np.random.seed(0)
    out["kid_f32"] = np.array([kernel_distance(c, d, num_subsets=1, max_subset_size=1000)], dtype=np.float64)
    logits = (rng.standard_normal((100, 10)) * 2.0).astype(np.float32)
    out["logits"] = logits
    r = isc_features_to_metric(torch.from_numpy(logits), splits=5, shuffle=False)
    out["is"] = np.array([r["inception_score_mean"], r["inception_score_std"]])
    save("stats.npz", out)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    glcm_cases(np.random.default_rng(20261123))
    stats(np.random.default_rng(7))
    d4k_scores()
    inception()
    patches()
    turbo = jpeg(np.random.default_rng(95))
    meta = {"generator": "tools/golden/gen_metrics.py", "python": platform.python_version(), "numpy": np.__version__,
            "scikit-image": version("scikit-image"), "opencv": cv2.__version__,
            "diffusion-4k": "zhang0jhon/diffusion-4k@9bea802 eval.py (D4K_DIR)",
            "pytorch-fid": version("pytorch-fid"), "clean-fid": version("clean-fid"),
            "torch-fidelity": version("torch-fidelity"),
            "torch": version("torch"), "torchvision": version("torchvision"), "scipy": version("scipy"),
            "pillow": version("pillow"), "libjpeg-turbo (Pillow's)": turbo}
    (OUT / "GENERATOR.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
