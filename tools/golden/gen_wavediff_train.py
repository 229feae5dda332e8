"""Golden fixture for ultrares-wavediff's training step: two iterations of WaveDiff's official
`train_wddgan.py` loop on a tiny cifar10-style model.

Needs WAVEDIFF_DIR (a checkout or git directory of VinAIResearch/WaveDiff@f1ad48b), like
gen_wavediff.py, whose helpers it imports (official code, presets, det_weight weights, inputs,
the recording `torch` stand-in). Without it the committed fixtures are kept. CPU only,
torch.set_num_threads(1), torch.use_deterministic_algorithms(True).

What is run. The loop body of `train()` (train_wddgan.py, f1ad48b lines 146-231) is transcribed
statement by statement below (`iteration`), calling the official `q_sample_pairs`,
`sample_posterior`, `Diffusion_Coefficients`, `Posterior_Coefficients` (diffusion.py),
`grad_penalty_call` (train_wddgan.py, its source executed from the official file), `EMA` (EMA.py)
and the official networks. Left out, as they do not touch the numbers of one iteration: DDP and
`broadcast_params` (plain modules here), the data loader (its RandomHorizontalFlip included: x0 is
given), the per-epoch scheduler step / sampling / checkpointing. The CosineAnnealingLR schedulers
are built as train() builds them (checked to leave the learning rates unchanged).

Config (`train_args`): run.sh's cifar10 train preset (net_type normal -> NCSNpp, T = 4,
use_pytorch_wavelet, rec_loss, use_ema, ema_decay 0.9999, lr_g 1.6e-4, lr_d 1.25e-4, betas
(0.5, 0.9), num_disc_layers 3, ch_mult 1 2 2, current_resolution 16, image 32) with
num_channels_dae 8, num_res_blocks 1, nz 10, z_emb_dim 16, n_mlp 2, attn_resolutions [8]
(level 1), ngf 8, t_emb_dim 16, r1_gamma 1.0, lazy_reg 2, batch 4. The discriminator is
Discriminator_small(nc=2*12, ngf, t_emb_dim, act=LeakyReLU(0.2), num_layers=3).

Weights: torch.manual_seed(0); netG = NCSNpp(args); netD = Discriminator_small(...); then every
state-dict entry of both is det_weight(key, shape) (npz.py). Adam(lr, betas, eps 1e-8) over the
parameters with requires_grad (all), G's wrapped in EMA(ema_decay). Every parameter of both
networks gets a gradient (none is skipped by Adam or EMA).

Data: x0 = quant_input('wavediff/train_tiny/x0', (4, 3, 32, 32)) = rint(16 u)/16, u =
splitmix_uniform(fnv1a(name) & 0xffffffff, n), already in [-1, 1] (the range of the official
Normalize(0.5, 0.5)); real_data = cat(xll, xlh, xhl, xhh) / 2 with pytorch_wavelets
DWTForward(J=1, mode='zero', wave='haar'); the same batch in both iterations.

Random draws: every draw of the loop goes through one recorder (gen_wavediff._TorchProxy plus
randint), in this order per iteration k (global_step = k):
  D step: it{k}_d_t = randint(0, T, (B,)); q_sample_pairs: it{k}_d_noise_pair = randn_like
  (x_{t+1} noise, drawn first), it{k}_d_noise_q = randn_like (q_sample's own noise, for x_t);
  it{k}_d_z = randn(B, nz); sample_posterior: it{k}_d_eps = randn_like(x_tp1) (masked where t = 0)
  G step: the same five with _g_.
A second run with fresh networks and optimizers replays the stored draws instead of the RNG and
must agree bit for bit (what the Rust test does).

Files (crates/wavediff/tests/fixtures/):
  train_tiny_g_keys.txt, train_tiny_d_keys.txt   state-dict `name shape` lines of netG / netD
  train_tiny.npz   (float32, t int64)
    x0 [4,3,32,32], real_data [4,12,16,16]
    it{k}_{d,g}_t [4], it{k}_{d,g}_noise_pair / _noise_q / _eps [4,12,16,16], it{k}_{d,g}_z [4,10]
    it{k}_x_t, it{k}_x_tp1 (D step, x_t before requires_grad), it{k}_x0_predict (G step) [4,12,16,16]
    it{k}_d_real, it{k}_d_fake, it{k}_g_fake: the discriminator logits [4] (D_real; output of the
      D step's fake pass; output of the G step)
    it{k}_errD_real, _errD_fake, _grad_penalty (r1_gamma/2 * mean ||grad||^2; NaN when lazy_reg
      skips it), _errD, _errG_adv (softplus(-output).mean()), _rec_loss (l1), _errG (sum): scalars
    after1/g/<param>, after1/d/<param>: every parameter of netG / netD after iteration 1
    ema1/<param>: EMA.py's state['ema'] of every G parameter after iteration 1
    adam1/d/<param>/exp_avg, adam1/d/<param>/exp_avg_sq: optimizerD's Adam moments after
      iteration 1 (linear in both iterations' gradients, R1's included; the parameters divide by
      sqrt(v) + eps, which amplifies f32 differences of near-zero gradients)
    (iteration 0's would add 1.2 MB: AFTER_ITERS)
  train_tiny.json  config, optimizer settings, draw order, array shapes, losses, parameters without
    gradient, the EMA observation, versions (torch, numpy, WaveDiff commit)
"""
import ast
import math
import os
import pathlib
import platform
import sys
import time
from importlib.metadata import version

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_wavediff as gw  # noqa: E402
from npz import save_npz  # noqa: E402

NAME = "train_tiny"
BATCH = 4
ITERS = 2
# Iterations whose parameters / EMA tensors are stored: only the last (both would be 3.4 MB; the
# losses of iteration 1 already depend on the parameters after iteration 0).
AFTER_ITERS = (1,)
STEPS = ("t", "noise_pair", "noise_q", "z", "eps")  # draw order within one D or G step
LOSSES = ("errD_real", "errD_fake", "grad_penalty", "errD", "errG_adv", "rec_loss", "errG")


def train_args(tree):
    args = gw.reduce_args(gw.preset_args(tree, "train_wddgan.py", "cifar10"), 16)
    assert (args.beta1, args.beta2) == (0.5, 0.9), (args.beta1, args.beta2)
    assert args.rec_loss and args.use_ema and args.ema_decay == 0.9999 and args.use_pytorch_wavelet
    args.num_channels_dae, args.num_res_blocks = 8, 1
    args.nz, args.z_emb_dim, args.n_mlp = 10, 16, 2
    args.attn_resolutions = [8]
    args.ngf, args.t_emb_dim = 8, 16
    args.r1_gamma, args.lazy_reg = 1.0, 2
    args.batch_size = BATCH
    assert args.attn_resolutions[0] in gw.levels(args), gw.levels(args)
    return args


class Draws(gw._TorchProxy):
    """gen_wavediff's recording/replaying stand-in for `torch`, with randint added."""

    def randint(self, low, high, size, **kw):
        return self._draw("randint", size, lambda: torch.randint(low, high, size, **kw))


def official_function(path, name, namespace):
    """A top-level function of an official file, compiled from its own source."""
    tree = ast.parse(path.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(path), "exec"), namespace)
    return namespace[name]


def call_keeping_locals(fn, *args):
    """fn(*args), returning the locals of its frame at return (grad_penalty_call returns nothing)."""
    seen = {}

    def prof(frame, event, arg):
        if event == "return" and frame.f_code is fn.__code__:
            seen.update(frame.f_locals)
    old = sys.getprofile()
    sys.setprofile(prof)
    try:
        fn(*args)
    finally:
        sys.setprofile(old)
    return seen


def load(tree):
    off = gw.import_official(tree)
    from DWT_IDWT.DWT_IDWT_layer import DWT_2D
    from EMA import EMA
    from pytorch_wavelets import DWTForward
    off.update(DWT_2D=DWT_2D, DWTForward=DWTForward, EMA=EMA,
               grad_penalty_call=official_function(tree / "train_wddgan.py", "grad_penalty_call",
                                                   {"torch": torch}))
    return off


def build(off, args):
    """train(): networks (seed 0 + det_weight), optimizers, EMA, schedulers, coefficients."""
    torch.manual_seed(0)
    netG = off["G_NET_ZOO"][args.net_type](args)
    assert args.dataset in ['cifar10', 'stl10']
    netD = off["Discriminator_small"](nc=2 * args.num_channels, ngf=args.ngf, t_emb_dim=args.t_emb_dim,
                                      act=nn.LeakyReLU(0.2), num_layers=args.num_disc_layers)
    gw.set_det_weights(netG)
    gw.set_det_weights(netD)
    optimizerD = optim.Adam(filter(lambda p: p.requires_grad, netD.parameters(
    )), lr=args.lr_d, betas=(args.beta1, args.beta2))
    optimizerG = optim.Adam(filter(lambda p: p.requires_grad, netG.parameters(
    )), lr=args.lr_g, betas=(args.beta1, args.beta2))
    if args.use_ema:
        optimizerG = off["EMA"](optimizerG, ema_decay=args.ema_decay)
    schedulerG = torch.optim.lr_scheduler.CosineAnnealingLR(optimizerG, args.num_epoch, eta_min=1e-5)
    schedulerD = torch.optim.lr_scheduler.CosineAnnealingLR(optimizerD, args.num_epoch, eta_min=1e-5)
    assert [g["lr"] for g in optimizerG.param_groups] == [args.lr_g]
    assert [g["lr"] for g in optimizerD.param_groups] == [args.lr_d]
    if not args.use_pytorch_wavelet:
        dwt = off["DWT_2D"]("haar")
    else:
        dwt = off["DWTForward"](J=1, mode='zero', wave='haar')
    wd = off["diffusion"]
    return dict(netG=netG, netD=netD, optimizerG=optimizerG, optimizerD=optimizerD,
                schedulers=(schedulerG, schedulerD), dwt=dwt,
                coeff=wd.Diffusion_Coefficients(args, "cpu"), pos_coeff=wd.Posterior_Coefficients(args, "cpu"))


def real_data_of(args, st, x0):
    """train()'s real_data from a batch x0 (lines 156-169)."""
    dwt = st["dwt"]
    num_levels = int(np.log2(args.ori_image_size // args.current_resolution))
    if not args.use_pytorch_wavelet:
        for i in range(num_levels):
            xll, xlh, xhl, xhh = dwt(x0)
    else:
        xll, xh = dwt(x0)  # [b, 3, h, w], [b, 3, 3, h, w]
        xlh, xhl, xhh = torch.unbind(xh[0], dim=2)
    real_data = torch.cat([xll, xlh, xhl, xhh], dim=1)  # [b, 12, h, w]
    real_data = real_data / 2.0  # [-1, 1]
    assert -1 <= real_data.min() < 0
    assert 0 < real_data.max() <= 1
    return real_data


def iteration(off, args, st, real_data, global_step, rnd):
    """One pass of train()'s inner loop body (lines 146-231); `rnd` stands in for torch's RNG
    calls (also installed as diffusion.py's `torch`). Returns the recorded values."""
    netG, netD = st["netG"], st["netD"]
    optimizerG, optimizerD = st["optimizerG"], st["optimizerD"]
    coeff, pos_coeff = st["coeff"], st["pos_coeff"]
    q_sample_pairs, sample_posterior = off["diffusion"].q_sample_pairs, off["diffusion"].sample_posterior
    batch_size, nz = args.batch_size, args.nz
    rec = {}

    for p in netD.parameters():
        p.requires_grad = True
    netD.zero_grad()

    for p in netG.parameters():
        p.requires_grad = False

    # sample t
    t = rnd.randint(0, args.num_timesteps, (real_data.size(0),))

    x_t, x_tp1 = q_sample_pairs(coeff, real_data, t)
    rec["x_t"], rec["x_tp1"] = x_t.detach().clone(), x_tp1.detach().clone()
    x_t.requires_grad = True

    # train with real
    D_real = netD(x_t, t, x_tp1.detach()).view(-1)
    errD_real = F.softplus(-D_real).mean()

    errD_real.backward(retain_graph=True)

    grad_penalty = None  # (recorded from grad_penalty_call's locals)
    if args.lazy_reg is None:
        grad_penalty = call_keeping_locals(off["grad_penalty_call"], args, D_real, x_t)["grad_penalty"]
    else:
        if global_step % args.lazy_reg == 0:
            grad_penalty = call_keeping_locals(off["grad_penalty_call"], args, D_real, x_t)["grad_penalty"]

    # train with fake
    latent_z = rnd.randn(batch_size, nz)
    x_0_predict = netG(x_tp1.detach(), t, latent_z)
    x_pos_sample = sample_posterior(pos_coeff, x_0_predict, x_tp1, t)

    output = netD(x_pos_sample, t, x_tp1.detach()).view(-1)
    errD_fake = F.softplus(output).mean()

    errD_fake.backward()

    errD = errD_real + errD_fake
    rec["d_nograd"] = [n for n, p in netD.named_parameters() if p.grad is None]
    # Update D
    optimizerD.step()
    rec.update(d_real=D_real.detach().clone(), d_fake=output.detach().clone())
    # Adam's moments (linear in this and earlier gradients, R1's included): compared instead of
    # relying on the parameters alone, whose update divides by sqrt(v) + eps.
    rec["adam_d"] = {n: (optimizerD.state[p]["exp_avg"].clone(), optimizerD.state[p]["exp_avg_sq"].clone())
                     for n, p in netD.named_parameters() if p in optimizerD.state}

    # update G
    for p in netD.parameters():
        p.requires_grad = False

    for p in netG.parameters():
        p.requires_grad = True
    netG.zero_grad()

    t = rnd.randint(0, args.num_timesteps, (real_data.size(0),))
    x_t, x_tp1 = q_sample_pairs(coeff, real_data, t)

    latent_z = rnd.randn(batch_size, nz)
    x_0_predict = netG(x_tp1.detach(), t, latent_z)
    x_pos_sample = sample_posterior(pos_coeff, x_0_predict, x_tp1, t)

    output = netD(x_pos_sample, t, x_tp1.detach()).view(-1)
    errG = F.softplus(-output).mean()
    errG_adv = errG.detach().clone()

    # reconstructior loss
    if args.rec_loss:
        rec_loss = F.l1_loss(x_0_predict, real_data)
        errG = errG + rec_loss

    errG.backward()
    rec["g_nograd"] = [n for n, p in netG.named_parameters() if p.grad is None]
    optimizerG.step()
    rec.update(x0_predict=x_0_predict.detach().clone(), g_fake=output.detach().clone())

    nan = torch.tensor(float("nan"))
    rec["losses"] = {"errD_real": errD_real, "errD_fake": errD_fake,
                     "grad_penalty": nan if grad_penalty is None else grad_penalty, "errD": errD,
                     "errG_adv": errG_adv, "rec_loss": rec_loss, "errG": errG}
    rec["losses"] = {k: v.detach().clone() for k, v in rec["losses"].items()}
    rec["g"] = {n: p.detach().clone() for n, p in netG.named_parameters()}
    rec["d"] = {n: p.detach().clone() for n, p in netD.named_parameters()}
    state = st["optimizerG"].optimizer.state
    rec["ema"] = {n: state[p]["ema"].clone() for n, p in netG.named_parameters() if "ema" in state[p]}
    return rec


def run(off, args, x0, replay=None):
    """Build everything, then ITERS iterations; the draws come from the seeded RNG (replay None)
    or from `replay` in call order."""
    st = build(off, args)
    buffers = {k: v.clone() for k, v in {**st["netG"].state_dict(), **st["netD"].state_dict()}.items()}
    real_data = real_data_of(args, st, x0)
    rnd = Draws(replay)
    wd = off["diffusion"]
    wd.torch = rnd
    try:
        recs = [iteration(off, args, st, real_data, global_step, rnd) for global_step in range(ITERS)]
    finally:
        wd.torch = torch
    return st, real_data, rnd, recs, buffers


def draw_names():
    kinds = {"t": "randint", "noise_pair": "randn_like", "noise_q": "randn_like", "z": "randn", "eps": "randn_like"}
    return [(f"it{k}_{s}_{d}", kinds[d]) for k in range(ITERS) for s in "dg" for d in STEPS]


def check_replay(recs, recs2):
    for a, b in zip(recs, recs2):
        for key in ["x_t", "x_tp1", "x0_predict", "d_real", "d_fake", "g_fake"]:
            assert torch.equal(a[key], b[key]), key
        for group in ["losses", "g", "d", "ema"]:
            assert a[group].keys() == b[group].keys(), group
            for k, v in a[group].items():
                assert torch.equal(v, b[group][k]) or (v.isnan().all() and b[group][k].isnan().all()), (group, k)


def fixture_arrays(x0, real_data, rnd, recs):
    arrays = {"x0": x0.numpy(), "real_data": real_data.numpy()}
    for (name, _), v in zip(draw_names(), rnd.draws):
        arrays[name] = v.numpy()
    for k, r in enumerate(recs):
        for key in ["x_t", "x_tp1", "x0_predict", "d_real", "d_fake", "g_fake"]:
            arrays[f"it{k}_{key}"] = r[key].numpy()
        for n in LOSSES:
            arrays[f"it{k}_{n}"] = r["losses"][n].numpy().astype(np.float32)
    for k in AFTER_ITERS:
        arrays.update({f"after{k}/g/{n}": v.numpy() for n, v in recs[k]["g"].items()})
        arrays.update({f"after{k}/d/{n}": v.numpy() for n, v in recs[k]["d"].items()})
        arrays.update({f"ema{k}/{n}": v.numpy() for n, v in recs[k]["ema"].items()})
        for n, (m, v) in recs[k]["adam_d"].items():
            arrays[f"adam{k}/d/{n}/exp_avg"], arrays[f"adam{k}/d/{n}/exp_avg_sq"] = m.numpy(), v.numpy()
    return arrays


def ema_observation(args, netG, recs):
    """EMA.py initialises state['ema'] from p.data after the first optimizer step and applies
    ema = decay * ema + (1 - decay) * p to it in the same step: after iteration 0, ema ~ p. Also
    redoes iteration 1's update in NumPy with two roundings and with one (fma)."""
    ema0, ema1 = recs[0]["ema"], recs[1]["ema"]
    init_g = {n: torch.from_numpy(gw.det_weight(n, tuple(p.shape))) for n, p in netG.named_parameters()}
    decay, alpha = np.float32(args.ema_decay), np.float32(1 - args.ema_decay)
    two_roundings = fma = 0
    for n in ema0:
        e0, p1, e1 = ema0[n].numpy(), recs[1]["g"][n].numpy(), ema1[n].numpy()
        m = e0 * decay
        two_roundings += int(np.sum(m + alpha * p1 != e1))
        fma += int(np.sum((m.astype(np.float64) + np.float64(alpha) * p1.astype(np.float64)).astype(np.float32) != e1))
    return {
        "init": "state['ema'] = p.data.clone() inside EMA.step AFTER the wrapped Adam step, then "
                "ema.mul_(decay).add_(p, alpha=1-decay) in that same step (stacked per shape): after "
                "iteration 0 the EMA is the stepped parameter up to rounding, not the initial weight",
        "ema0_bitwise_equal_to_after0_g": f"{sum(torch.equal(ema0[n], recs[0]['g'][n]) for n in ema0)}/{len(ema0)} tensors",
        "max_abs_ema0_minus_after0_g": max((ema0[n] - recs[0]["g"][n]).abs().max().item() for n in ema0),
        "max_abs_ema0_minus_initial_g": max((ema0[n] - init_g[n]).abs().max().item() for n in ema0),
        "ema1_elements_off_with_f32(f32(decay*ema0) + f32(alpha*p))": two_roundings,
        "ema1_elements_off_with_fma(p, alpha, f32(decay*ema0))_via_f64": fma,
        "n_elements": sum(v.numel() for v in ema1.values()),
    }


def metadata(off, args, st, recs, arrays, ema_note, commit):
    gparams, dparams = dict(st["netG"].named_parameters()), dict(st["netD"].named_parameters())
    adam = st["optimizerD"].defaults
    finite = lambda v: None if math.isnan(v) else v  # noqa: E731  (strict JSON has no NaN)
    return {
        "script": "tools/golden/gen_wavediff_train.py",
        "generator": gw.type_name(off, args), "discriminator": "Discriminator_small",
        "discriminator_kwargs": {"nc": 2 * args.num_channels, "ngf": args.ngf, "t_emb_dim": args.t_emb_dim,
                                 "act": "LeakyReLU(0.2)", "num_layers": args.num_disc_layers},
        "args": gw.jsonable(args), "levels": gw.levels(args), "batch": BATCH, "iterations": ITERS,
        "n_params": {"g": sum(p.numel() for p in gparams.values()), "d": sum(p.numel() for p in dparams.values())},
        "optimizers": {
            "D": {"class": "Adam", "lr": args.lr_d, "betas": [args.beta1, args.beta2],
                  **{k: adam[k] for k in ["eps", "weight_decay", "amsgrad", "foreach", "fused", "maximize",
                                          "capturable", "differentiable"]}},
            "G": {"class": "EMA(Adam)", "lr": args.lr_g, "betas": [args.beta1, args.beta2], "eps": adam["eps"],
                  "ema_decay": args.ema_decay},
            "adam_update": "torch single-tensor Adam (CPU default, foreach/fused off): step += 1; "
                           "m.lerp_(g, 1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2); "
                           "denom = (v.sqrt() / (1-b2**step)**0.5).add_(eps); "
                           "p.addcdiv_(m, denom, value=-lr/(1-b1**step)) (python-float scalars)",
            "schedulers": "CosineAnnealingLR(opt, num_epoch, eta_min=1e-5), stepped per epoch: not reached",
            "zero_grad": "netD.zero_grad() / netG.zero_grad() set grads to None (torch >= 2.0)"},
        "r1": {"r1_gamma": args.r1_gamma, "lazy_reg": args.lazy_reg,
               "applied_at_global_step": [k for k in range(ITERS) if k % args.lazy_reg == 0],
               "formula": "grad_penalty_call: r1_gamma/2 * mean_b ||d sum(D_real) / d x_t||^2, "
                          "create_graph=True, backward() after errD_real.backward(retain_graph=True)"},
        "weights": "torch.manual_seed(0); netG, netD built; det_weight(key, shape) for every state-dict entry "
                   f"({NAME}_g_keys.txt, {NAME}_d_keys.txt)",
        "x0": {"name": f"wavediff/{NAME}/x0", "seed": gw.seed_of(f"wavediff/{NAME}/x0"),
               "formula": "rint(16*splitmix_uniform(seed, n))/16, shape [4, 3, 32, 32]"},
        "real_data": "cat(DWTForward(J=1, mode='zero', wave='haar')(x0) as xll, xlh, xhl, xhh) / 2, "
                     "the same batch in both iterations",
        "draw_order": [f"{n} = {kind}" for n, kind in draw_names()],
        "draw_order_note": "per step: t = randint(0, T, (B,)); q_sample_pairs draws noise (x_{t+1}: "
                           "noise_pair) before q_sample's own noise (x_t: noise_q); z = randn(B, nz); "
                           "sample_posterior: eps = randn_like(x_tp1) (masked where t = 0)",
        "losses": {f"it{k}": {n: finite(float(recs[k]["losses"][n])) for n in LOSSES} for k in range(ITERS)},
        "losses_note": "grad_penalty null (NaN in the npz) where lazy_reg skips R1",
        "params_without_grad": {"g": recs[0]["g_nograd"], "d": recs[0]["d_nograd"]},
        "ema": ema_note,
        "after_iters_stored": list(AFTER_ITERS),
        "arrays": {k: list(v.shape) for k, v in arrays.items() if "/" not in k},
        "parameter_arrays": [f"after{k}/g/<key>, after{k}/d/<key>, ema{k}/<key>, adam{k}/d/<key>/exp_avg(_sq) (shapes as in the key files)"
                             for k in AFTER_ITERS],
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "pytorch_wavelets": version("pytorch_wavelets"),
                     "einops": version("einops"),
                     "WaveDiff": f"VinAIResearch/WaveDiff@{commit or gw.EXPECTED_COMMIT} (WAVEDIFF_DIR)"},
    }


def main():
    path = os.environ.get("WAVEDIFF_DIR")
    if not path:
        print("gen_wavediff_train.py: WAVEDIFF_DIR not set, keeping the committed "
              "crates/wavediff/tests/fixtures/train_tiny*")
        return
    t0 = time.time()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    commit = gw.commit_of(path)
    if commit is not None and not gw.EXPECTED_COMMIT.startswith(commit[:7]):
        print(f"warning: WAVEDIFF_DIR is at {commit}, the fixtures are pinned to {gw.EXPECTED_COMMIT}")
    tree = gw.wavediff_tree(path)
    off = load(tree)
    args = train_args(tree)
    size = args.ori_image_size
    x0 = torch.from_numpy(gw.quant_input(f"wavediff/{NAME}/x0", (BATCH, 3, size, size)))
    assert -1 <= x0.min() and x0.max() <= 1

    st, real_data, rnd, recs, buffers = run(off, args, x0)
    assert [c[0] for c in rnd.calls] == [kind for _, kind in draw_names()], rnd.calls
    _, _, rnd2, recs2, _ = run(off, args, x0, replay=rnd.draws)
    assert rnd2.calls == rnd.calls
    check_replay(recs, recs2)
    params = {**dict(st["netG"].named_parameters()), **{k: 0 for k, _ in st["netD"].named_parameters()}}
    for k, v in {**st["netG"].state_dict(), **st["netD"].state_dict()}.items():
        assert k in params or torch.equal(v, buffers[k]), f"buffer {k} changed"
    assert recs[0]["g_nograd"] == recs[1]["g_nograd"] and recs[0]["d_nograd"] == recs[1]["d_nograd"]

    arrays = fixture_arrays(x0, real_data, rnd, recs)
    (gw.OUT / f"{NAME}_g_keys.txt").write_text(gw.key_lines(st["netG"]))
    (gw.OUT / f"{NAME}_d_keys.txt").write_text(gw.key_lines(st["netD"]))
    save_npz(gw.OUT / f"{NAME}.npz", arrays)
    ema_note = ema_observation(args, st["netG"], recs)
    meta = metadata(off, args, st, recs, arrays, ema_note, commit)
    gw.write_json(f"{NAME}.json", meta)

    print(f"G {meta['generator']} {meta['n_params']['g']} params, D {meta['n_params']['d']} params, "
          f"T {args.num_timesteps}, levels {gw.levels(args)}, attn {args.attn_resolutions}")
    for k in range(ITERS):
        print(f"it{k}: t_D {arrays[f'it{k}_d_t'].tolist()} t_G {arrays[f'it{k}_g_t'].tolist()} "
              + " ".join(f"{n} {float(recs[k]['losses'][n]):.6g}" for n in LOSSES))
    print(f"params without grad: G {recs[0]['g_nograd']}, D {recs[0]['d_nograd']}")
    print("EMA: " + ", ".join(f"{k} {v}" for k, v in ema_note.items() if k != "init"))
    total = sum((gw.OUT / f).stat().st_size for f in [f"{NAME}.npz", f"{NAME}.json", f"{NAME}_g_keys.txt",
                                                       f"{NAME}_d_keys.txt"])
    print(f"replay of the stored draws: bit-identical; {len(arrays)} arrays, {total} bytes in all; "
          f"{time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
