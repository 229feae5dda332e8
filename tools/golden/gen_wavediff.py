"""Golden fixtures for ultrares-wavediff from WaveDiff's official code.

Needs WAVEDIFF_DIR: a checkout of VinAIResearch/WaveDiff@f1ad48b, or its git directory (the .py
files and run.sh are then read with `git show`). Without it every committed fixture is kept. The
official code is imported from there, never copied into this repository. It also needs einops (the
official generator imports it) and pytorch_wavelets.

CPU only: `score_sde/op/{upfirdn2d,fused_act}.py` call `torch.utils.cpp_extension.load` at import
to build CUDA ops; it is replaced by a stub during that import whose ops raise if touched, so the
numerically used paths are the official CPU branches (`upfirdn2d_native`, the leaky-ReLU formula).

Presets come from the official `run.sh` itself: its `python train_wddgan.py ...` / `python
test_wddgan.py ...` lines are split with shlex ($MASTER_PORT -> 6036, $GPUS -> 1) and parsed by the
official argparse parsers (extracted from the `__main__` blocks of train_wddgan.py /
test_wddgan.py), followed by `args.ori_image_size = args.image_size; args.image_size =
args.current_resolution` as both scripts do. Generators are `G_NET_ZOO[args.net_type](args)`,
discriminators `Discriminator_small` (cifar10, stl10) / `Discriminator_large` with
`nc=2*num_channels, ngf, t_emb_dim, act=LeakyReLU(0.2), num_layers=num_disc_layers`.

Every parameter/buffer is `det_weight(key, shape)` (npz.py; key without any `module.` prefix).
Inputs: x-like arrays are `float32(rint(16 * splitmix_uniform(seed, n)) / 16)` (np.rint: half to even),
z is `float32(splitmix_uniform(seed, n))`; seeds are `fnv1a(name) & 0xffffffff` with the names
stored in the JSON files. All arrays are float32 except t (int64).

Files (crates/wavediff/tests/fixtures/):
  keys_<preset>.txt, disc_keys_<preset>.txt   state-dict `name shape` lines at the REAL config
  gen_<preset>.npz/.json   generator at real widths, reduced spatial size (attention kept at the
      same level index), B = 2, t = [0, T-1] (celeba_1024: B = 1, t = [T-1]): x, t, z, out, taps
      zemb, temb (first dense), temb2 (second dense), h0_crop (first conv [:, :4, :16, :16]),
      enc_out (input of the bottleneck),
      mid_res0_<k> / mid_attn / mid_res1_<k> (outputs of the k-th call of each bottleneck module),
      final_conv_crop8 (last conv before unpatchify/tanh, [..., :8, :8])
  disc_keys_{small3,small,large5,large}.txt   the key lists of the four discriminator fixtures
      (copies of disc_keys_{cifar10,stl10,lsun,celeba_512}.txt)
  disc_{small3,small,large5,large}.npz/.json   B = 4: x, t, x_cond, out, t_embed (before the outer
      act), feat_first64ch (last DownConvBlock output [:, :64], before minibatch-std)
  sample_{cifar10,celeba_256}.npz/.json   test_wddgan.py's sampling replayed with stored noise
  netG_small.pth   official checkpoint layout ({"module."+k: tensor}, like train_wddgan.py) of a
      celeba_256-style WaveletNCSNpp shrunk to fit < 2 MB: nf 8, ch_mult 1 2 2 2 4, num_res_blocks 1,
      z_emb_dim 64 (256 alone would need 5.6 MB at nf 8), nz 100, n_mlp 3, current_resolution 32,
      attn_resolutions 16 (level 1); torch.manual_seed(0) init, then det_weight values
  netG_small.npz/.json, netG_small_keys.txt, netG_small_load.txt   that checkpoint loaded as
      test_wddgan.py does (strip 7 characters, strict=False; the missing/unexpected keys it reports)
  sample_netG_small.npz/.json   test_wddgan.py's sampling with netG_small.pth loaded as above, its
      args with seed 7, batch 3 (odd), T = args.num_timesteps, IDWT per args.use_pytorch_wavelet:
      x_T, z_{i}, eps_{i} (i = T-1..0, call order, same recording as sample_<preset>), x0, images
  GENERATOR.json
"""
import argparse
import ast
import collections
import hashlib
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import det_weight, fnv1a, save_npz, splitmix_uniform  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/wavediff/tests/fixtures"
EXPECTED_COMMIT = "f1ad48b"
PRESETS = ["cifar10", "stl10", "celeba_256", "celeba_512", "celeba_1024", "lsun"]
# Reduced (current_resolution, image_size) per preset. celeba_1024 cannot go below 128 (64² after
# patchify): with 6 levels the bottleneck would be 1x1 and WaveCNet's DWT_2D fails on it.
REDUCED = {"cifar10": 16, "stl10": 32, "celeba_256": 32, "celeba_512": 64, "celeba_1024": 128, "lsun": 32}
SHELL_VARS = {"$MASTER_PORT": "6036", "$GPUS": "1"}
QUANT = 16.0
# celeba_1024 runs at batch 1 (t = [T-1]) to keep the fixtures under ~6 MB; the others at batch 2.
BATCH = {"celeba_1024": 1}
# Generator constructor arguments read by NCSNpp / WaveletNCSNpp.
GEN_FIELDS = ["num_channels", "num_channels_dae", "ch_mult", "num_res_blocks", "attn_resolutions",
              "image_size", "patch_size", "nz", "z_emb_dim", "n_mlp", "not_use_tanh", "dropout",
              "resamp_with_conv", "conditional", "fir", "fir_kernel", "skip_rescale", "resblock_type",
              "progressive", "progressive_input", "progressive_combine", "embedding_type",
              "fourier_scale", "centered", "net_type", "no_use_fbn", "no_use_freq", "no_use_residual"]


# ----------------------------------------------------------------------------------- official code
def wavediff_tree(path):
    """A directory holding the official files: the checkout itself, or a temporary extraction of
    HEAD's .py files and run.sh when `path` is a git directory."""
    p = pathlib.Path(path)
    if (p / "train_wddgan.py").exists():
        return p
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="wavediff_"))
    names = subprocess.run(["git", f"--git-dir={p}", "ls-tree", "-r", "--name-only", "HEAD"],
                           check=True, capture_output=True, text=True).stdout.split()
    for name in (n for n in names if n.endswith(".py") or n == "run.sh"):
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(subprocess.run(["git", f"--git-dir={p}", "show", f"HEAD:{name}"],
                                                check=True, capture_output=True).stdout)
    return tmp


def commit_of(path):
    """Short HEAD commit of a checkout or git directory; None for a plain copy."""
    p = pathlib.Path(path)
    if (p / ".git").exists():
        flag = ["-C", str(p)]
    elif (p / "HEAD").exists() and (p / "objects").exists():
        flag = [f"--git-dir={p}"]
    else:
        return None
    return subprocess.run(["git", *flag, "rev-parse", "--short=7", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


class _NoCudaOp:
    def __getattr__(self, name):
        raise RuntimeError(f"CUDA extension op {name} used on CPU (stubbed by gen_wavediff.py)")


def import_official(tree):
    sys.path.insert(0, str(tree))
    try:
        import einops  # noqa: F401  (the official generator/discriminator import it)
    except ImportError:
        sys.exit("gen_wavediff.py needs einops (pip install einops==0.8.2)")
    import torch.utils.cpp_extension as cpp_ext
    load = cpp_ext.load
    cpp_ext.load = lambda *a, **k: _NoCudaOp()
    try:
        import score_sde.op  # noqa: F401
    finally:
        cpp_ext.load = load
    import diffusion
    from DWT_IDWT.DWT_IDWT_layer import IDWT_2D
    from pytorch_wavelets import DWTInverse
    from score_sde.models import layerspp
    from score_sde.models.discriminator import Discriminator_large, Discriminator_small
    from score_sde.models.ncsnpp_generator_adagn import NCSNpp, WaveletNCSNpp
    return dict(diffusion=diffusion, IDWT_2D=IDWT_2D, DWTInverse=DWTInverse, layerspp=layerspp,
                G_NET_ZOO={"normal": NCSNpp, "wavelet": WaveletNCSNpp},
                Discriminator_small=Discriminator_small, Discriminator_large=Discriminator_large)


def official_parser(script):
    """The argparse parser built in the `if __name__ == '__main__':` block of `script`."""
    tree = ast.parse(script.read_text())
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    stmts = []
    for stmt in main.body:
        if "parse_args" in ast.unparse(stmt):
            break
        stmts.append(stmt)
    ns = {"argparse": argparse}
    exec(compile(ast.Module(body=stmts, type_ignores=[]), str(script), "exec"), ns)
    return ns["parser"]


def run_sh_args(tree):
    """{(script, dataset): argv} from the python command lines of run.sh."""
    text = (tree / "run.sh").read_text().replace("\\\n", " ")
    out = {}
    for line in text.splitlines():
        toks = shlex.split(line, comments=True)
        for j in range(len(toks) - 1):  # `if [[ ... ]]; then \` may precede the command
            if toks[j] == "python" and toks[j + 1] in ("train_wddgan.py", "test_wddgan.py"):
                argv = [SHELL_VARS.get(t, t) for t in toks[j + 2:]]
                out[(toks[j + 1], argv[argv.index("--dataset") + 1])] = argv
    return out


def preset_args(tree, script, dataset):
    args = official_parser(tree / script).parse_args(run_sh_args(tree)[(script, dataset)])
    args.ori_image_size = args.image_size  # train_wddgan.py train() / test_wddgan.py sample_and_test()
    args.image_size = args.current_resolution
    return args


def levels(args):
    return [(args.image_size // args.patch_size) // (2 ** i) for i in range(len(args.ch_mult))]


def reduce_args(args, cur):
    """Same widths, current_resolution `cur` (image 2·cur); attention at the same level indices."""
    real_levels = levels(args)
    factor = args.current_resolution // cur
    red = argparse.Namespace(**vars(args))
    red.current_resolution = cur
    red.ori_image_size = args.ori_image_size // factor
    red.image_size = cur
    new_levels = levels(red)
    attn = []
    for a in args.attn_resolutions:
        if a in real_levels:
            attn.append(new_levels[real_levels.index(a)])
        else:
            assert a not in new_levels, (a, new_levels)
            attn.append(a)
    red.attn_resolutions = attn
    assert [i for i, r in enumerate(real_levels) if r in args.attn_resolutions] == \
        [i for i, r in enumerate(new_levels) if r in red.attn_resolutions]
    return red


def jsonable(args):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())}


# ------------------------------------------------------------------------------------------ helpers
def seed_of(name):
    return fnv1a(name) & 0xFFFFFFFF


def quant_input(name, shape):
    u = splitmix_uniform(seed_of(name), int(np.prod(shape)))
    return (np.rint(u * QUANT) / QUANT).astype(np.float32).reshape(shape)


def uniform_input(name, shape):
    return splitmix_uniform(seed_of(name), int(np.prod(shape))).astype(np.float32).reshape(shape)


def set_det_weights(model):
    sd = model.state_dict()
    model.load_state_dict({k: torch.from_numpy(det_weight(k, tuple(v.shape))) for k, v in sd.items()}, strict=True)


def key_lines(model):
    return "".join(f"{k} {','.join(str(s) for s in v.shape)}\n" for k, v in model.state_dict().items())


def write_json(name, obj):
    (OUT / name).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def mid_index(args):
    """all_modules index of the first bottleneck ResBlock (same count for NCSNpp/WaveletNCSNpp)."""
    n = 3  # two time-embedding denses + the input conv
    for i, r in enumerate(levels(args)):
        n += args.num_res_blocks * (1 + (r in args.attn_resolutions))
        if i != len(args.ch_mult) - 1:
            n += 2  # down ResBlock + input-pyramid downsample
    return n


def gen_forward(off, args, x, t, z):
    """Forward of the official generator with det weights; returns (out, taps)."""
    net = off["G_NET_ZOO"][args.net_type](args)
    set_det_weights(net)
    net.eval()
    return run_with_taps(off, net, args, x, t, z)


def run_with_taps(off, net, args, x, t, z):
    calls = collections.defaultdict(list)
    mods = net.all_modules
    mid = mid_index(args)
    assert isinstance(mods[mid + 1], off["layerspp"].AttnBlockpp)
    watch = {"zemb": net.z_transform, "temb": mods[0], "temb2": mods[1], "h0": mods[2],
             "enc_out": mods[mid - 1], "mid_res0": mods[mid], "mid_attn": mods[mid + 1],
             "mid_res1": mods[mid + 2], "final_conv": mods[len(mods) - 1]}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: calls[n].append(o.detach().clone()))
             for n, m in watch.items()]
    with torch.no_grad():
        out = net(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(z))
    for h in hooks:
        h.remove()
    taps = {"zemb": calls["zemb"][0], "temb": calls["temb"][0], "temb2": calls["temb2"][0],
            "h0_crop": calls["h0"][0][:, :4, :16, :16], "enc_out": calls["enc_out"][-1],
            "mid_attn": calls["mid_attn"][0], "final_conv_crop8": calls["final_conv"][0][..., :8, :8]}
    for name in ["mid_res0", "mid_res1"]:
        for k, o in enumerate(calls[name]):
            taps[f"{name}_{k}"] = o
    return out, {k: v.numpy() for k, v in taps.items()}


def gen_inputs(tag, args, batch=2):
    res = args.image_size  # the diffusion tensor: current_resolution (before patchify)
    x = quant_input(f"wavediff/{tag}/x", (batch, args.num_channels, res, res))
    z = uniform_input(f"wavediff/{tag}/z", (batch, args.nz))
    t = np.array([0, args.num_timesteps - 1] if batch == 2 else [args.num_timesteps - 1] * batch, dtype=np.int64)
    return x, t, z


# ---------------------------------------------------------------------------------------- fixtures
def keys_and_generators(off, tree):
    for preset in PRESETS:
        t0 = time.time()
        args = preset_args(tree, "train_wddgan.py", preset)
        torch.manual_seed(0)
        real = off["G_NET_ZOO"][args.net_type](args)
        (OUT / f"keys_{preset}.txt").write_text(key_lines(real))
        disc_cls = off["Discriminator_small"] if preset in ["cifar10", "stl10"] else off["Discriminator_large"]
        disc = disc_cls(nc=2 * args.num_channels, ngf=args.ngf, t_emb_dim=args.t_emb_dim,
                        act=torch.nn.LeakyReLU(0.2), num_layers=args.num_disc_layers)
        (OUT / f"disc_keys_{preset}.txt").write_text(key_lines(disc))
        red = reduce_args(args, REDUCED[preset])
        red_net = off["G_NET_ZOO"][red.net_type](red)
        assert key_lines(red_net) == key_lines(real), preset
        del real, red_net, disc
        x, t, z = gen_inputs(preset, red, BATCH.get(preset, 2))
        out, taps = gen_forward(off, red, x, t, z)
        save_npz(OUT / f"gen_{preset}.npz", {"x": x, "t": t, "z": z, "out": out.numpy(), **taps})
        write_json(f"gen_{preset}.json", {
            "preset": preset, "generator": type_name(off, red), "args": jsonable(red),
            "real": {"image_size": args.ori_image_size, "current_resolution": args.current_resolution,
                     "attn_resolutions": list(args.attn_resolutions), "levels": levels(args)},
            "reduced_levels": levels(red),
            "inputs": {"x": f"rint(16*splitmix_uniform(fnv1a('wavediff/{preset}/x'), n))/16",
                       "z": f"splitmix_uniform(fnv1a('wavediff/{preset}/z'), n)",
                       "x_seed": seed_of(f"wavediff/{preset}/x"), "z_seed": seed_of(f"wavediff/{preset}/z"),
                       "t": t.tolist()},
            "weights": "det_weight(key, shape) for every state_dict entry (keys_<preset>.txt)"})
        print(f"  {preset}: {time.time() - t0:.1f} s")


def type_name(off, args):
    return off["G_NET_ZOO"][args.net_type].__name__


def discriminators(off, tree):
    for name, preset, size in [("disc_small3", "cifar10", 16), ("disc_small", "stl10", 32),
                               ("disc_large5", "lsun", 32), ("disc_large", "celeba_512", 64)]:
        t0 = time.time()
        args = preset_args(tree, "train_wddgan.py", preset)
        cls = off["Discriminator_small"] if preset in ["cifar10", "stl10"] else off["Discriminator_large"]
        kw = dict(nc=2 * args.num_channels, ngf=args.ngf, t_emb_dim=args.t_emb_dim, num_layers=args.num_disc_layers)
        disc = cls(act=torch.nn.LeakyReLU(0.2), **kw)
        (OUT / f"disc_keys_{name[5:]}.txt").write_text(key_lines(disc))  # same list as disc_keys_<preset>.txt
        set_det_weights(disc)
        disc.eval()
        B = 4
        x = quant_input(f"wavediff/{name}/x", (B, args.num_channels, size, size))
        xc = quant_input(f"wavediff/{name}/x_cond", (B, args.num_channels, size, size))
        t = (np.arange(B) % args.num_timesteps).astype(np.int64)
        calls = {}
        last = [m for m in [disc.conv1, disc.conv2, disc.conv3, disc.conv4,
                            getattr(disc, "conv5", None), getattr(disc, "conv6", None)] if m is not None][-1]
        hooks = [disc.t_embed.register_forward_hook(lambda m, i, o: calls.__setitem__("t_embed", o)),
                 last.register_forward_hook(lambda m, i, o: calls.__setitem__("feat", o))]
        with torch.no_grad():
            out = disc(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(xc))
        for h in hooks:
            h.remove()
        save_npz(OUT / f"{name}.npz", {"x": x, "t": t, "x_cond": xc, "out": out.numpy(),
                                       "t_embed": calls["t_embed"].numpy(), "feat_first64ch": calls["feat"][:, :64].numpy()})
        write_json(f"{name}.json", {"class": cls.__name__, "preset": preset, **kw, "act": "LeakyReLU(0.2)",
                                    "batch": B, "size": size, "t": t.tolist(),
                                    "inputs": {"x_seed": seed_of(f"wavediff/{name}/x"),
                                               "x_cond_seed": seed_of(f"wavediff/{name}/x_cond"),
                                               "formula": "rint(16*splitmix_uniform(seed, n))/16"}})
        print(f"  {name}: {time.time() - t0:.1f} s")


class _TorchProxy:
    """Stands in for `torch` inside diffusion.py: randn / randn_like either record what the real
    RNG draws (replay=None) or return the stored draws in call order."""

    def __init__(self, replay=None):
        self.calls, self.draws, self.replay = [], [], replay

    def __getattr__(self, name):
        return getattr(torch, name)

    def _draw(self, kind, shape, real):
        self.calls.append((kind, tuple(shape)))
        if self.replay is None:
            v = real()
        else:
            v = self.replay[len(self.draws)]
            assert tuple(v.shape) == tuple(shape), (kind, v.shape, shape)
            v = v.clone()
        self.draws.append(v.clone())
        return v

    def randn(self, *size, **kw):
        shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return self._draw("randn", shape, lambda: torch.randn(*size, **kw))

    def randn_like(self, x, **kw):
        return self._draw("randn_like", x.shape, lambda: torch.randn_like(x, **kw))


NOISE_DOC = ("then sample_from_model's own draws from the same RNG, in call order: for i = T-1..0: "
             "z_i = randn(B, nz), eps_i = randn_like(x) (eps_0 drawn but masked)")


def idwt_name(args):
    return ("IDWT_2D('haar') (WaveCNet)" if not args.use_pytorch_wavelet
            else "pytorch_wavelets DWTInverse(mode='zero', wave='haar')")


def replay_sampling(off, net, args, x_T):
    """test_wddgan.py's sampling from x_T with `net`, drawing the loop's noise from the current
    torch RNG: run 1) records the draws, run 2) replays them (what the Rust test does); both must
    agree bit for bit. Returns the arrays of sample_<preset>.npz."""
    wd = off["diffusion"]
    device = "cpu"
    T = wd.get_time_schedule(args, device)
    pos_coeff = wd.Posterior_Coefficients(args, device)
    gen_io = []  # (x, t, x0') of every generator call
    hook = net.register_forward_hook(lambda m, i, o: gen_io.append((i[0].clone(), i[1].clone(), o.clone())))
    B = x_T.shape[0]
    n = args.num_timesteps
    proxy = _TorchProxy()
    wd.torch = proxy
    try:
        x0 = wd.sample_from_model(pos_coeff, net, n, x_T.clone(), T, args)
    finally:
        wd.torch = torch
    recorded, io = proxy.draws, list(gen_io)
    expected = [("randn", (B, args.nz)), ("randn_like", tuple(x_T.shape))] * n
    assert proxy.calls == expected, proxy.calls
    replay = _TorchProxy(recorded)
    wd.torch = replay
    try:
        again = wd.sample_from_model(pos_coeff, net, n, x_T.clone(), T, args)
    finally:
        wd.torch = torch
    hook.remove()
    assert replay.calls == expected
    assert torch.equal(again, x0), "stored-noise replay differs from the seeded run"
    assert torch.equal(io[0][0], x_T) and len(io) == n
    fake_sample = x0.clone()
    fake_sample *= 2  # test_wddgan.py sample_and_test()
    if not args.use_pytorch_wavelet:
        iwt = off["IDWT_2D"]("haar")
        fake_sample = iwt(fake_sample[:, :3], fake_sample[:, 3:6], fake_sample[:, 6:9], fake_sample[:, 9:12])
    else:
        iwt = off["DWTInverse"](mode='zero', wave='haar')
        fake_sample = iwt((fake_sample[:, :3], [torch.stack(
            (fake_sample[:, 3:6], fake_sample[:, 6:9], fake_sample[:, 9:12]), dim=2)]))
    images_raw = fake_sample.clone()
    images = torch.clamp(fake_sample, -1, 1)
    out = {"x_T": x_T.numpy(), "x0": x0.numpy(), "images": images.numpy(), "images_raw": images_raw.numpy()}
    for k, i in enumerate(reversed(range(n))):
        out[f"z_{i}"] = recorded[2 * k].numpy()
        out[f"eps_{i}"] = recorded[2 * k + 1].numpy()
        assert io[k][1].tolist() == [i] * B
        if i > 0 or not torch.equal(io[k][2], x0):  # x0' at i = 0 is usually x0 itself (c1 = 1, c2 = 0)
            out[f"x0_pred_{i}"] = io[k][2].numpy()
        if i > 0:
            out[f"x_post_{i}"] = io[k + 1][0].numpy()  # sample_posterior's output = next input
    for name in ["betas", "posterior_mean_coef1", "posterior_mean_coef2", "posterior_variance",
                 "posterior_log_variance_clipped"]:
        out[f"coef/{name}"] = getattr(pos_coeff, name).numpy()
    out["t_schedule"] = T.numpy()
    return out


def sampling(off, tree):
    for preset in ["cifar10", "celeba_256"]:
        t0 = time.time()
        args = reduce_args(preset_args(tree, "test_wddgan.py", preset), REDUCED[preset])
        targs = reduce_args(preset_args(tree, "train_wddgan.py", preset), REDUCED[preset])
        diff = {f: (getattr(args, f, None), getattr(targs, f, None)) for f in GEN_FIELDS
                if getattr(args, f, None) != getattr(targs, f, None)}
        assert not diff, f"{preset}: generator args differ between test and train: {diff}"
        net = off["G_NET_ZOO"][args.net_type](args)
        set_det_weights(net)
        net.eval()
        B = 2
        torch.manual_seed(args.seed)
        x_T = torch.randn(B, args.num_channels, args.image_size, args.image_size)
        out = replay_sampling(off, net, args, x_T)
        save_npz(OUT / f"sample_{preset}.npz", out)
        write_json(f"sample_{preset}.json", {
            "preset": preset, "generator": type_name(off, args), "args": jsonable(args),
            "image_idwt": idwt_name(args),
            "noise": "torch.manual_seed(seed); x_T = torch.randn(B, 12, h, w); " + NOISE_DOC,
            "batch": B,
            "weights": "det_weight(key, shape) (same keys as gen_<preset>)"})
        print(f"  sample_{preset}: {time.time() - t0:.1f} s")


def netg_small_args(tree):
    args = reduce_args(preset_args(tree, "train_wddgan.py", "celeba_256"), 32)
    # celeba_256-style, shrunk to < 2 MB (see the docstring): attention where the width is 16.
    args.num_channels_dae, args.attn_resolutions = 8, [16]
    args.nz, args.z_emb_dim, args.n_mlp, args.num_res_blocks = 100, 64, 3, 1
    return args


def netg_small(off, tree):
    t0 = time.time()
    args = netg_small_args(tree)
    torch.manual_seed(0)
    net = off["G_NET_ZOO"][args.net_type](args)
    set_det_weights(net)
    # train_wddgan.py: torch.save(netG.state_dict(), 'netG_{epoch}.pth') with netG wrapped in DDP.
    ckpt = collections.OrderedDict(("module." + k, v) for k, v in net.state_dict().items())
    path = OUT / "netG_small.pth"
    torch.save(ckpt, path)
    # test_wddgan.py: load, strip the first 7 characters, load_state_dict(strict=False).
    torch.manual_seed(1)
    netG = off["G_NET_ZOO"][args.net_type](args)
    ckpt = torch.load(path, map_location="cpu")
    for key in list(ckpt.keys()):
        ckpt[key[7:]] = ckpt.pop(key)
    res = netG.load_state_dict(ckpt, strict=False)
    (OUT / "netG_small_load.txt").write_text(
        f"missing_keys {len(res.missing_keys)}\n" + "".join(f"missing {k}\n" for k in res.missing_keys)
        + f"unexpected_keys {len(res.unexpected_keys)}\n" + "".join(f"unexpected {k}\n" for k in res.unexpected_keys))
    for k, v in netG.state_dict().items():
        assert np.array_equal(v.numpy(), det_weight(k, tuple(v.shape))), k
    netG.eval()
    x, t, z = gen_inputs("netG_small", args)
    out, taps = run_with_taps(off, netG, args, x, t, z)
    save_npz(OUT / "netG_small.npz", {"x": x, "t": t, "z": z, "out": out.numpy(), **taps})
    (OUT / "netG_small_keys.txt").write_text(key_lines(netG))
    write_json("netG_small.json", {
        "generator": type_name(off, args), "args": jsonable(args), "levels": levels(args),
        "checkpoint": "torch.save(OrderedDict('module.' + k: det_weight(k)))",
        "inputs": {"x_seed": seed_of("wavediff/netG_small/x"), "z_seed": seed_of("wavediff/netG_small/z"),
                   "t": t.tolist()}})
    print(f"  netG_small: {time.time() - t0:.1f} s, .pth {path.stat().st_size} bytes, "
          f"sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")


SAMPLE_NETG_SMALL = {"seed": 7, "batch": 3}  # an odd batch
SAMPLE_NETG_SMALL_KEYS = ["x_T", "z_{i}", "eps_{i}", "x0", "images"]


def sample_netg_small(off, tree):
    """test_wddgan.py sample_and_test() on netG_small.pth (written by netg_small)."""
    t0 = time.time()
    args = netg_small_args(tree)
    args.seed, args.batch_size = SAMPLE_NETG_SMALL["seed"], SAMPLE_NETG_SMALL["batch"]
    torch.manual_seed(args.seed)
    netG = off["G_NET_ZOO"][args.net_type](args)  # its init draws from the seeded RNG, as in test_wddgan.py
    ckpt = torch.load(OUT / "netG_small.pth", map_location="cpu")
    for key in list(ckpt.keys()):  # loading weights from ddp in single gpu
        ckpt[key[7:]] = ckpt.pop(key)
    netG.load_state_dict(ckpt, strict=False)
    for k, v in netG.state_dict().items():
        assert np.array_equal(v.numpy(), det_weight(k, tuple(v.shape))), k
    netG.eval()
    x_T = torch.randn(args.batch_size, args.num_channels, args.image_size, args.image_size)
    full = replay_sampling(off, netG, args, x_T)
    steps = list(reversed(range(args.num_timesteps)))
    keys = [k.format(i=i) for k in SAMPLE_NETG_SMALL_KEYS for i in (steps if "{i}" in k else [None])]
    save_npz(OUT / "sample_netG_small.npz", {k: full[k] for k in keys})
    write_json("sample_netG_small.json", {
        "preset": "netG_small", "generator": type_name(off, args), "args": jsonable(args),
        "image_idwt": idwt_name(args),
        "noise": "torch.manual_seed(seed); netG = WaveletNCSNpp(args) (its init draws from that RNG); "
                 "load netG_small.pth (strip 7 characters, strict=False); "
                 "x_T = torch.randn(B, 12, h, w); " + NOISE_DOC,
        "batch": args.batch_size, "arrays": keys,
        "weights": "netG_small.pth (det_weight(key, shape), netG_small_keys.txt)"})
    print(f"  sample_netG_small: {time.time() - t0:.1f} s")


def main():
    path = os.environ.get("WAVEDIFF_DIR")
    if not path:
        print("gen_wavediff.py: WAVEDIFF_DIR not set, keeping the committed crates/wavediff/tests/fixtures/")
        return
    torch.set_num_threads(1)
    commit = commit_of(path)
    if commit is not None and not EXPECTED_COMMIT.startswith(commit[:7]):
        print(f"warning: WAVEDIFF_DIR is at {commit}, the fixtures are pinned to {EXPECTED_COMMIT}")
    tree = wavediff_tree(path)
    off = import_official(tree)
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for step in [keys_and_generators, discriminators, sampling, netg_small, sample_netg_small]:
        t1 = time.time()
        print(f"== {step.__name__}")
        step(off, tree)
        print(f"   {time.time() - t1:.1f} s")
    meta = {"script": "tools/golden/gen_wavediff.py",
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "numpy": np.__version__, "pytorch_wavelets": version("pytorch_wavelets"),
                         "PyWavelets": version("PyWavelets"), "einops": version("einops"),
                         "WaveDiff": f"VinAIResearch/WaveDiff@{commit or EXPECTED_COMMIT} (WAVEDIFF_DIR)"}}
    write_json("GENERATOR.json", meta)
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"total {time.time() - t0:.1f} s, {total} bytes in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
