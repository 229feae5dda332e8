"""Manual check of a generator exported by `ultrares wavediff train` (`netG_<epoch>.pth`) against
WaveDiff's official code: the file loads with torch's safe loader, the official test script's
loading code puts it into the official generator with strict=True, and the official sampling and
`ultrares wavediff sample` make the same images from the same noise.

Run (from the repository root; WAVEDIFF_DIR as for gen_wavediff.py, a checkout or the git
directory of VinAIResearch/WaveDiff@f1ad48b):

    WAVEDIFF_DIR=/path/to/WaveDiff tools/golden/.venv/bin/python \\
        tools/golden/check_wavediff_export.py RUN/netG_1.pth

It needs the built `ultrares` binary: target/debug/ultrares by default, or the path in the env
var ULTRARES_BIN. It is a manual check: no fixture is written; the noise and the images of
ultrares go to a temporary directory that is removed afterwards. Exit status 0 when everything
holds; an AssertionError (or exit status 1 with the missing / unexpected keys) otherwise.

The model is the tiny cifar10-style config of crates/wavediff/tests/fixtures/train_tiny.json
(NCSNpp, T = 4, 12 x 16 x 16, nz 10): `gen_wavediff_train.train_args` builds it from the official
run.sh / argparse, and it is asserted to equal that file's "args" (what ultrares reads via
--config). The checkpoint must have been trained with that config.

Steps (test_wddgan.py at f1ad48b, `sample_and_test`):
 1. torch.serialization.get_unsafe_globals_in_checkpoint(path) must be empty and
    torch.load(path, map_location='cpu', weights_only=True) must succeed (the safe unpickler: only
    allow-listed globals). Every key starts with `module.` (DDP, as train_wddgan.py line 287
    saves it); every tensor has the dtype and shape of the official generator's state dict
    (load_state_dict would cast a dtype silently).
 2. Lines 18, 41: torch.manual_seed(args.seed); netG = gen_net(args). Lines 46-47, verbatim:
        for key in list(ckpt.keys()):
            ckpt[key[7:]] = ckpt.pop(key)
    Line 49 loads with strict=False; here strict=True instead (missing / unexpected keys are
    printed and the script exits 1). Every loaded tensor is then compared bit for bit with the
    file. Line 50: netG.eval().
 3. Lines 129-130: x_t_1 = torch.randn(N, num_channels, image_size, image_size), N = 2. Lines
    131-141 (sample_from_model with Posterior_Coefficients and get_time_schedule (lines 56, 58),
    then `fake_sample *= 2`, the IDWT per args.use_pytorch_wavelet, torch.clamp(-1, 1)) are run by
    gen_wavediff.replay_sampling, which records sample_from_model's draws (z_i = randn(N, nz),
    eps_i = randn_like(x), i = T-1..0) and replays them once more (bit-identical).
 4. x_T, z_{i}, eps_{i} are written as the .npz that `ultrares wavediff sample --replay` reads
    (the layout of gen_wavediff's sample_<preset>.npz), and
        ultrares wavediff sample --checkpoint PTH --config train_tiny.json --num 2 --batch 2
            --replay NOISE.npz --save-array OURS.npy
    is run. Its images (float32 [N, 3, 32, 32], after x2, IDWT and the clamp) are compared with
    the official ones: max |diff| and the relative difference max |diff| / max |official|, which
    must be <= 1e-4. Also printed: the largest elementwise |diff| / |official| over the values with
    |official| >= 0.05 max |official|, and how many official values the clamp cut. (A barely
    trained generator makes images near 0: NCSNpp's last conv starts at init_scale 0; hence the
    comparison relative to the images' own scale.)

CPU only, torch.set_num_threads(1), torch.use_deterministic_algorithms(True).
"""
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_wavediff as gw  # noqa: E402
import gen_wavediff_train as gwt  # noqa: E402
from npz import save_npz  # noqa: E402

CONFIG = gw.ROOT / "crates/wavediff/tests/fixtures/train_tiny.json"
N = 2
RTOL = 1e-4


def config_args(tree):
    """gen_wavediff_train's tiny training config, checked against train_tiny.json's "args"."""
    args = gwt.train_args(tree)
    ours = json.loads(json.dumps(gw.jsonable(args)))
    stored = json.loads(CONFIG.read_text())["args"]
    diff = {k: (ours.get(k), stored.get(k)) for k in set(ours) | set(stored) if ours.get(k) != stored.get(k)}
    assert not diff, f"train_args differs from {CONFIG.name}: {diff}"
    return args


def load_checkpoint(path, reference):
    """Step 1: the safe loader, DDP prefix, dtypes and shapes."""
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    assert unsafe == [], f"globals outside torch's weights_only allow-list: {unsafe}"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    print(f"torch.load(weights_only=True): {type(ckpt).__module__}.{type(ckpt).__qualname__}, {len(ckpt)} entries")
    assert isinstance(ckpt, dict), type(ckpt)
    bad = [k for k in ckpt if not k.startswith("module.")]
    assert not bad, f"keys without DDP's 'module.' prefix: {bad[:5]} ({len(bad)})"
    for k, v in ckpt.items():
        assert isinstance(v, torch.Tensor), (k, type(v))
        ref = reference.get(k[len("module."):])
        if ref is not None:
            assert v.dtype == ref.dtype and v.shape == ref.shape, (k, v.dtype, tuple(v.shape), ref.dtype, tuple(ref.shape))
    same_order = [k[len("module."):] for k in ckpt] == list(reference)
    print(f"key order {'equals' if same_order else 'differs from'} the official state_dict() order "
          f"(no effect on loading); _metadata {'present' if hasattr(ckpt, '_metadata') else 'absent'}")
    return ckpt


def official_images(off, args, path):
    """Steps 1-3: test_wddgan.py's loading and sampling; returns replay_sampling's arrays."""
    args.batch_size = N
    torch.manual_seed(args.seed)  # test_wddgan.py line 18
    netG = off["G_NET_ZOO"][args.net_type](args)  # line 41 (gen_net = G_NET_ZOO[args.net_type], 37-38)
    ckpt = load_checkpoint(path, netG.state_dict())
    file_tensors = {k[7:]: v.clone() for k, v in ckpt.items()}

    # loading weights from ddp in single gpu  (test_wddgan.py lines 45-47)
    for key in list(ckpt.keys()):
        ckpt[key[7:]] = ckpt.pop(key)

    try:
        netG.load_state_dict(ckpt, strict=True)  # line 49 has strict=False
    except RuntimeError as e:
        res = netG.load_state_dict(ckpt, strict=False)
        print(f"strict load FAILED: {len(res.missing_keys)} missing, {len(res.unexpected_keys)} unexpected")
        for k in res.missing_keys:
            print(f"  missing    {k}")
        for k in res.unexpected_keys:
            print(f"  unexpected {k}")
        print(str(e).splitlines()[0])
        sys.exit(1)
    for k, v in netG.state_dict().items():
        assert torch.equal(v, file_tensors[k]), f"{k} differs from the file after loading"
    n = sum(v.numel() for v in file_tensors.values())
    print(f"load_state_dict(strict=True): OK, {len(file_tensors)} tensors, {n} values, all bit-equal to the file")
    netG.eval()  # line 50

    x_T = torch.randn(args.batch_size, args.num_channels, args.image_size, args.image_size)  # lines 129-130
    return gw.replay_sampling(off, netG, args, x_T)  # lines 131-141 (and 56, 58)


def run_ultrares(path, noise, ours):
    exe = os.environ.get("ULTRARES_BIN", str(gw.ROOT / "target/debug/ultrares"))
    cmd = [exe, "wavediff", "sample", "--checkpoint", str(path), "--config", str(CONFIG),
           "--num", str(N), "--batch", str(N), "--replay", str(noise), "--save-array", str(ours)]
    print("$ " + shlex.join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True)
    out = (res.stdout + res.stderr).strip()
    if out:
        print("  " + out.replace("\n", "\n  "))
    assert res.returncode == 0, f"ultrares exited with {res.returncode}"
    return np.load(ours)


def main():
    wavediff = os.environ.get("WAVEDIFF_DIR")
    if not wavediff or len(sys.argv) != 2:
        sys.exit("usage: WAVEDIFF_DIR=... tools/golden/.venv/bin/python "
                 "tools/golden/check_wavediff_export.py RUN/netG_<epoch>.pth")
    path = pathlib.Path(sys.argv[1]).resolve()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    commit = gw.commit_of(wavediff)
    if commit is not None and not gw.EXPECTED_COMMIT.startswith(commit[:7]):
        print(f"warning: WAVEDIFF_DIR is at {commit}, this check follows {gw.EXPECTED_COMMIT}")
    tree = gw.wavediff_tree(wavediff)
    try:
        check(path, tree)
    finally:
        if tree != pathlib.Path(wavediff):  # the temporary extraction from a git directory
            shutil.rmtree(tree)


def check(path, tree):
    off = gw.import_official(tree)
    args = config_args(tree)
    print(f"{path}: {gw.type_name(off, args)}, T {args.num_timesteps}, "
          f"{args.num_channels}x{args.image_size}x{args.image_size}, nz {args.nz}, seed {args.seed}, N {N}")

    full = official_images(off, args, path)
    ref = full["images"]
    steps = list(reversed(range(args.num_timesteps)))
    noise = {"x_T": full["x_T"], **{f"{k}_{i}": full[f"{k}_{i}"] for i in steps for k in ("z", "eps")}}

    with tempfile.TemporaryDirectory(prefix="wavediff_export_") as tmp:
        noise_path = pathlib.Path(tmp) / "noise.npz"
        save_npz(noise_path, noise)
        ours = run_ultrares(path, noise_path, pathlib.Path(tmp) / "ours.npy")

    assert ours.dtype == np.float32 and ours.shape == ref.shape, (ours.dtype, ours.shape, ref.shape)
    assert np.isfinite(ours).all() and np.isfinite(ref).all()
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    max_abs = float(diff.max())
    rel = max_abs / float(np.abs(ref).max())
    big = np.abs(ref) >= 0.05 * np.abs(ref).max()
    elem = float((diff[big] / np.abs(ref[big])).max())
    clamped = int((np.abs(full["images_raw"]) > 1).sum())
    print(f"official images {list(ref.shape)}: mean {ref.mean():.6f}, std {ref.std():.6f}, "
          f"max |x| {np.abs(ref).max():.6f}, {clamped}/{ref.size} values clamped")
    print(f"ultrares vs official: max |diff| {max_abs:.3e}, max |diff| / max |official| {rel:.3e}, "
          f"max elementwise |diff|/|official| over the {int(big.sum())} values with |official| >= "
          f"0.05 max |official| {elem:.3e}")
    assert rel <= RTOL, f"relative difference {rel:.3e} > {RTOL:g}"
    print(f"OK (relative difference <= {RTOL:g})")


if __name__ == "__main__":
    main()
