"""Golden fixtures for ultrares-rna: OpenCV Canny, PyTorch AdaptiveAvgPool2d, LSRNA's RNA map.

Writes crates/rna/tests/fixtures/:
* canny/<image>.png            gray inputs (scikit-image sample photographs, resized, synthetic)
* canny/<image>__<cfg>.png     cv2.Canny(gray, low, high, apertureSize, L2gradient), 0/255
* canny/manifest.json          the list above with the parameters
* pool_*.npy                   torch.nn.AdaptiveAvgPool2d on random float planes
* rna_*.npy                    LSRNA's noise-scale map (utils.py / pipeline code, reproduced
                               with the same cv2 + torch calls) and latent + eps*std
Canny outputs are computed with cv2.setNumThreads(1) and checked equal at 2 threads.
"""
import json
import pathlib
import sys

import cv2
import numpy as np
import skimage
import torch
from skimage import data

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/rna/tests/fixtures"
CONFIGS = {
    "lsrna": (0, 255, 3, False),
    "100_200": (100, 200, 3, False),
    "100_200_l2": (100, 200, 3, True),
    "swapped_200_100": (200, 100, 3, False),
    "ap5_300_900": (300, 900, 5, False),
    "ap5_l2_0_255": (0, 255, 5, True),
    "ap7_100_300": (100, 300, 7, False),
    "ap7_l2_500_2000": (500, 2000, 7, True),
}
PHOTO_CONFIGS = ["lsrna", "100_200", "100_200_l2", "ap5_300_900", "ap7_100_300"]


def canny(gray, low, high, ap, l2):
    cv2.setNumThreads(1)
    a = cv2.Canny(gray, low, high, apertureSize=ap, L2gradient=l2)
    cv2.setNumThreads(2)
    b = cv2.Canny(gray, low, high, apertureSize=ap, L2gradient=l2)
    assert np.array_equal(a, b), "cv2.Canny differs between 1 and 2 threads"
    return a


def images():
    rng = np.random.default_rng(0)
    rgb2gray = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
    photos = {
        "camera": data.camera(),
        "astronaut": rgb2gray(data.astronaut()),
        "coffee": rgb2gray(data.coffee()),
        "chelsea_257x383": cv2.resize(rgb2gray(data.chelsea()), (383, 257), interpolation=cv2.INTER_AREA),
        "camera_up_701x613": cv2.resize(data.camera(), (613, 701), interpolation=cv2.INTER_CUBIC),
    }
    y, x = np.mgrid[0:61, 0:77]
    synth = {
        "noise_61x77": rng.integers(0, 256, (61, 77), dtype=np.uint8),
        "ramp_61x77": ((x * 3 + y * 2) % 256).astype(np.uint8),
        "disc_61x77": np.where((x - 38) ** 2 + (y - 30) ** 2 < 400, 200, 40).astype(np.uint8),
        "checker_40x40": (((x[:40, :40] // 5 + y[:40, :40] // 5) % 2) * 255).astype(np.uint8),
        "lines_33x47": np.where((x[:33, :47] % 7 == 0) | (y[:33, :47] == x[:33, :47] // 2), 255, 0).astype(np.uint8),
        "flat_16x16": np.full((16, 16), 128, np.uint8),
        "tiny_1x1": np.array([[7]], np.uint8),
        "row_1x9": np.array([[0, 0, 255, 255, 0, 90, 90, 255, 3]], np.uint8),
        "col_9x1": np.array([[0, 0, 255, 255, 0, 90, 90, 255, 3]], np.uint8).T.copy(),
        "small_3x4": np.array([[0, 255, 0, 255], [255, 0, 255, 0], [10, 20, 30, 40]], np.uint8),
        "blocky_noise_64x64": cv2.resize(rng.integers(0, 256, (8, 8), dtype=np.uint8), (64, 64), interpolation=cv2.INTER_LINEAR),
    }
    return photos, synth


def main():
    (OUT / "canny").mkdir(parents=True, exist_ok=True)
    photos, synth = images()
    manifest = []
    for group, imgs, cfgs in [("photo", photos, PHOTO_CONFIGS), ("synthetic", synth, list(CONFIGS))]:
        for name, gray in imgs.items():
            cv2.imwrite(str(OUT / "canny" / f"{name}.png"), gray)
            for cfg in cfgs:
                low, high, ap, l2 = CONFIGS[cfg]
                edges = canny(gray, low, high, ap, l2)
                out = f"{name}__{cfg}.png"
                cv2.imwrite(str(OUT / "canny" / out), edges)
                manifest.append({"image": f"{name}.png", "edges": out, "low": low, "high": high,
                                 "aperture": ap, "l2": l2, "group": group,
                                 "edge_pixels": int((edges > 0).sum())})
    (OUT / "canny" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    # PyTorch AdaptiveAvgPool2d on random planes (integer and non-integer ratios, up and down).
    rng = np.random.default_rng(1)
    plane = rng.standard_normal((37, 53)).astype(np.float32)
    np.save(OUT / "pool_input_37x53.npy", plane)
    for oh, ow in [(5, 7), (37, 53), (20, 31), (1, 1), (36, 2), (9, 53)]:
        out = torch.nn.AdaptiveAvgPool2d((oh, ow))(torch.from_numpy(plane)[None, None])[0, 0].numpy()
        np.save(OUT / f"pool_37x53_to_{oh}x{ow}.npy", out)

    # LSRNA's RNA map on a real photograph (utils.apply_canny_detection + the pipeline's pooling
    # and min-max), for both presets and several latent sizes.
    # 256x256 RGB, public domain (NASA), downsized to keep the fixture small.
    ref = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(OUT / "astronaut_rgb.png"), cv2.cvtColor(ref, cv2.COLOR_RGB2BGR))
    edges = cv2.Canny(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), 0, 255)
    e = torch.from_numpy(edges).float()[None, None]
    for (h, w) in [(32, 32), (96, 96), (48, 80), (131, 67), (256, 256)]:
        d = torch.nn.AdaptiveAvgPool2d((h, w))(e)
        for preset, (lo, hi) in {"demofusion": (0.0, 1.2), "pixelsmith": (0.4, 0.8)}.items():
            std = (d - d.min()) / (d.max() - d.min()) * (hi - lo) + lo
            np.save(OUT / f"rna_std_{preset}_{h}x{w}.npy", std[0, 0].numpy())
    g = torch.randn(1, 4, 48, 80, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(1, 4, 48, 80, generator=torch.Generator().manual_seed(1))
    d = torch.nn.AdaptiveAvgPool2d((48, 80))(e)
    std = (d - d.min()) / (d.max() - d.min()) * (1.2 - 0.0) + 0.0
    np.save(OUT / "rna_latent_1x4x48x80.npy", g.numpy())
    np.save(OUT / "rna_eps_1x4x48x80.npy", eps.numpy())
    np.save(OUT / "rna_out_demofusion_1x4x48x80.npy", (g + eps * std).numpy())

    meta = {"generator": "tools/golden/gen_rna.py", "python": sys.version.split()[0],
            "numpy": np.__version__, "opencv": cv2.__version__, "torch": torch.__version__,
            "scikit-image": skimage.__version__}
    (OUT / "GENERATOR.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
