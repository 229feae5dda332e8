"""Golden fixtures for ultrares-pipeline with real tiny networks: the official LSRNA-DemoFusion
pipeline and the official Pixelsmith patch sampler, run on CPU with a real (tiny, hashed-weight)
diffusers UNet and, for LSRNA, the real official `lsr` package.

References, imported unmodified (nothing of them is copied here; each directory is a checkout or a
git directory such as the fetch mirror, read with `git show`):
* `DemoFusionLSRNASDXLPipeline.__call__` (`pipeline_lsrna_demofusion_sdxl.py` + `utils.py`) and the
  `lsr` package (`lsr/{__init__,models,liif,swinir,mlp}.py`, not the .pth) of 3587jjh/LSRNA@eebd4b4,
  from `LSRNA_DIR`;
* `Pixelsmith.__call__(image=…, slider=…)` (`pixelsmith_pipeline.py`) of
  Thanos-DB/Pixelsmith@28c992b, from `PIXELSMITH_DIR`.
Without a variable its committed fixture is kept. Helpers (`det_gaussian`, `Recorder`, `ddim`,
`make_pipe`, `vae_config`, …) come from gen_pipeline.py, the UNet from gen_unet.py.

Shared inputs (the Rust test rebuilds all of them):
* UNet: `gen_unet.det_model(dict(gen_unet.TINY, sample_size=32))`, a diffusers 0.36
  `UNet2DConditionModel` (blocks 32/64/96, cross-attention 96, `text_time` with
  addition_time_embed_dim 8 and projection_class_embeddings_input_dim 88 = 6·8 + 40) with
  `det_weight` weights (npz.py) generated from the key names; float32.
  `text_encoder_2.config.projection_dim` = 40 (the pooled width the time-id check expects).
* Prompt embeddings (no text encoders; float32): prompt_embeds = det_gaussian(701, [1,77,96]),
  negative_prompt_embeds = det_gaussian(702, [1,77,96]), pooled_prompt_embeds =
  det_gaussian(703, [1,40]), negative_pooled_prompt_embeds = det_gaussian(704, [1,40]).
  CFG 7.5; the UNet batch is [uncond, cond] per latent (LSRNA: `repeat_interleave(2)`, text
  `cat([neg, pos] * n_views)`; Pixelsmith: `cat([x] * 2)` = [uncond, cond] for its one patch).
* `det_gaussian(seed, shape)` = gen_pipeline.det_gaussian (Rust: `common::det_gaussian`).

lsrna_demofusion_unet.npz — `DemoFusionLSRNASDXLPipeline` called with height=384, width=2048,
num_inference_steps=50, guidance_scale=7.5, view_batch_size=2, stride_ratio=0.5,
cosine_scale_1=3, cosine_scale_2=1, cosine_scale_3=1, sigma=0.8, rna_min_std=0.0,
rna_max_std=1.2, inversion_depth=30, lsr_path="crates/lsr/tests/fixtures/lsr_tiny.pth" (absolute),
latents=det_gaussian(990, [1,4,24,128]) and the prompt embeddings above; `vae.enable_tiling()`
as LSRNA's main.py.
* Sizes, as the official code derives them: `scale_num = max(height, width) // 1024` (1024 is a
  literal, not the UNet's size: a 512×1024 target would give scale 1 and stop after the
  reference), so scale 2; reference 192×1024 px (latent 24×128), target 384×2048 px (latent
  48×256). `assert self.default_sample_size * self.vae_scale_factor == 1024` needs
  `default_sample_size` = 128 (set on the driver; the real `__init__` would copy the UNet's 32 and
  fail). Window = `unet.config.sample_size` = 32 latents, stride = int(32 · stride_ratio) = 16,
  jitter_range = (32 − 16) // 4 = 4; local views: 2 rows × 15 columns (`get_views(48, 256, 32, 16,
  random_jitter=True)` on the latent padded by 4 on every side); dilated views: the 4 phases
  (h, w) ∈ {0,1}², each [24,128], in 2 UNet calls of 2 views.
* add_time_ids (original_size + crops_coords_top_left + target_size, float32): reference phase
  (192, 1024, 0, 0, 192, 1024) for both CFG halves; local view (384, 2048, 8·h_start, 8·w_start,
  384, 2048) with h_start/w_start the view's corner in the PADDED latent (jitter + 4 included);
  dilated views (384, 2048, 0, 0, 384, 2048).
* DDIM = gen_pipeline.ddim(False) (SDXL's scheduler_config). `torch.randn_like`: 1st call (RNA ε)
  det_gaussian(1000, [1,4,48,256]), 2nd (inversion noise) det_gaussian(1002, …). View jitter:
  `random.randint` of `random.Random(77)`, recorded (per view: w draw, then h draw; 2 per view
  here, 60 per step, 1800 in all). The LSR model stays in train mode as upstream leaves it; its
  `timm` imports are shimmed (DropPath → Identity, i.e. no stochastic depth).
* VAE: gen_pipeline's `hashed(AutoencoderKL(**vae_config()))`, tiling on (1024-px tiles: the
  reference decode is untiled, the target decode — latent width 256 > 128 — is tiled).
Keys (float32 unless noted):
  ref_step_9 [1,4,24,128]      reference latent after step index 9
  ref_latent [1,4,24,128]      reference latent after 50 steps (the LSR input)
  ref_image_sub [3,48,256]     decoded reference (VAE output, before postprocess), every 4th pixel
  ref_edges [192,1024] uint8   RNA's `apply_canny_detection(ref_uint8, 0, 255)` (0/255)
  lsr_out [1,4,48,256]         the LSR output (LIIF with the coordinates/cells of a 48×256 grid)
  guided [1,4,48,256]          LSR + RNA noise: the x of the first `scheduler.add_noise` call
  inv_noise [1,4,48,256]       its noise (= det_gaussian(1002))
  step_20 [1,4,48,256]         latent after high-res step index 20 (the first one run)
  step_49 [1,4,48,256]         after the last step (index 49), before the re-standardisation
  final_latent [1,4,48,256]    what is decoded, times the VAE scaling factor 0.13025
  final_image_sub [3,48,256]   decoded target (VAE output), every 8th pixel
  jitter [1800] int64          randint draws in call order (60 per high-res step)
  unet_calls [2] int64         [UNet forward calls, batch elements evaluated]
Conditioning: the same run in float64 stays within ≈ 1e-6 (relative to the array's max) of every
key, except that one Canny pixel flips (uint8 rounding of the decoded reference), which moves
`guided` and everything after it by up to 3e-3 relative (0.22 absolute) in one 4×4-pixel cell:
a reimplementation should take `ref_edges` as RNA's input when it checks `guided` onwards.

pixelsmith_unet.npz — the official patch loop from a given guide latent (`image=`, what
`generate_image` passes after its resize and VAE encode). `patch_size = 128` (and the `j − 64`
crop coordinate) are literals in `__call__`, and a guide under 128 latents on a side breaks the
crop (`clamp(p, size − p)`), so the smallest guide is [1,4,128,128] = det_gaussian(980): one patch
that always covers the whole latent (i = j = 64, all times equal). Call: height=width=1024,
num_inference_steps=10, guidance_scale=7.5, slider=4, output_type="latent", latents=zeros, the
prompt embeddings above; DDIM = gen_pipeline.ddim(True) (`generate_image` sets set_alpha_to_one);
`torch.randn` (the guide noise, float16 upstream) = det_gaussian(1002, [1,4,128,128]) → float16;
`torch.randperm`/`torch.rand` draw from `torch.Generator().manual_seed(5)`.
add_time_ids per patch: (8·h, 8·w, 8·(j − 64), 8·(j − 64), 8·h, 8·w) of the full latent (h = w =
128), i.e. (1024, 1024, 0, 0, 1024, 1024) here (upstream writes the top crop from j as well).
Keys: randperm [10] int64 (`torch.randperm(n)[0]` of each call), rand [20] float64 (the
`torch.rand(1)` draws, shift_left then shift_down per patch), patch_input_0/1 [1,4,128,128] (the
sample given to the first two DDIM steps), patch_output_0 (the first step's output), final_latent
[1,4,128,128], unet_calls [2] int64.

Time on this 2-core machine, idle: LSRNA ≈ 73 s (560 UNet calls / 2140 evaluations), Pixelsmith
≈ 15 s (10 calls / 20 evaluations at 128×128, ≈ 1.45 s a call); any other busy process slows torch's two
OpenMP threads several-fold. Output is byte-identical between runs. Run:
LSRNA_DIR=… PIXELSMITH_DIR=… tools/golden/.venv/bin/python tools/golden/gen_pipeline_unet.py
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_unet  # noqa: E402
from gen_pipeline import (OUT, ROOT, Recorder, commit_of, ddim, det_gaussian, make_pipe,  # noqa: E402
                          pixelsmith_pipe, stub_imports, vae_config)
from gen_vae import hashed  # noqa: E402
from npz import save_npz, shim_timm  # noqa: E402

from diffusers import AutoencoderKL  # noqa: E402

# gen_unet turns on deterministic algorithms (CPU kernels are deterministic anyway) and one
# thread; with it, torch fills every fresh tensor with NaN first, which triples the UNet's time.
torch.utils.deterministic.fill_uninitialized_memory = False
torch.set_num_threads(2)

LSR_PTH = ROOT / "crates/lsr/tests/fixtures/lsr_tiny.pth"
# LSRNA's schedule (its `__call__` asserts 50 steps); Pixelsmith's shortened from 50 / Slider 20
# to 10 / 4 (the same ratio and code paths) to keep the Rust test within CI's budget.
STEPS, DEPTH = 50, 30
PX_STEPS, PX_SLIDER = 10, 4
UNET_CALLS = [0, 0]


def tiny_unet():
    """The tiny SDXL-style UNet at a 32-latent native size, counting its calls."""
    unet = gen_unet.det_model(dict(gen_unet.TINY, sample_size=32))
    forward = unet.forward

    def counted(sample, *a, **k):
        UNET_CALLS[0] += 1
        UNET_CALLS[1] += sample.shape[0]
        return forward(sample, *a, **k)

    unet.forward = counted
    return unet


def prompt_embeddings():
    return dict(prompt_embeds=det_gaussian(701, (1, 77, 96)),
                negative_prompt_embeds=det_gaussian(702, (1, 77, 96)),
                pooled_prompt_embeds=det_gaussian(703, (1, 40)),
                negative_pooled_prompt_embeds=det_gaussian(704, (1, 40)))


def with_tiny_unet(pipe):
    """A gen_pipeline driver given the tiny UNet and a 40-wide pooled embedding."""
    object.__setattr__(pipe, "unet", tiny_unet())
    object.__setattr__(pipe, "text_encoder_2",
                       types.SimpleNamespace(config=types.SimpleNamespace(projection_dim=40)))
    return pipe


def extract(path, files):
    """A directory holding `files` of a checkout or a git directory (the fetch mirror)."""
    p = pathlib.Path(path)
    if (p / files[0]).exists():
        return p
    tmp = pathlib.Path(tempfile.mkdtemp())
    for f in files:
        src = subprocess.run(["git", f"--git-dir={p}", "show", f"HEAD:{f}"], check=True,
                             capture_output=True).stdout
        (tmp / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp / f).write_bytes(src)
    return tmp


def import_lsrna(lsrna_dir):
    """The official pipeline module and its real `lsr` package. Their CUDA calls become CPU ones;
    `timm` (three helpers imported by swinir.py) is shimmed as in gen_lsr.py."""
    files = ["pipeline_lsrna_demofusion_sdxl.py", "utils.py"] + [
        f"lsr/{n}.py" for n in ("__init__", "models", "liif", "swinir", "mlp")]
    sys.path.insert(0, str(extract(lsrna_dir, files)))
    shim_timm()
    stub_imports()
    import lsr
    import pipeline_lsrna_demofusion_sdxl as pm

    assert pathlib.Path(lsr.__file__).parent.parent == pathlib.Path(pm.__file__).parent
    orig_make_coord = pm.make_coord
    pm.make_coord = lambda shape, ranges=None, flatten=True, device="cpu": orig_make_coord(
        shape, ranges, flatten, "cpu")
    return pm, lsr


def lsrna(pm, lsr):
    h, w, s = 384, 2048, 2
    randn_seeds, randn_draws = [1000, 1002], []
    orig_randn_like = torch.randn_like

    def randn_like(x, *a, **k):
        v = det_gaussian(randn_seeds[len(randn_draws)], tuple(x.shape)).to(x.dtype)
        randn_draws.append(v.clone())
        return v

    lsr_out = []
    orig_make = lsr.models.make

    def make(spec, args=None, load_sd=False):
        model = orig_make(spec, args, load_sd)
        forward = model.forward

        def recorded(inp, coord, cell):
            out = forward(inp, coord, cell)
            lsr_out.append(out.clone())  # RNA then adds its noise in place
            return out

        model.forward = recorded
        return model

    edges = []
    orig_canny = pm.apply_canny_detection

    def canny(image, *a, **k):
        out = orig_canny(image, *a, **k)
        edges.append(out.copy())
        return out

    jitter = Recorder(77)
    pm.random, pm.apply_canny_detection = jitter, canny
    torch.randn_like, lsr.models.make = randn_like, make
    UNET_CALLS[:] = [0, 0]

    vae = hashed(AutoencoderKL(**vae_config()))
    vae.enable_tiling()
    decoded, decoded_in = [], []
    orig_decode = vae.decode

    def decode(z, return_dict=True, **k):
        out = orig_decode(z, return_dict=False, **k)
        decoded.append(out[0].clone())
        decoded_in.append(z.clone())
        return out

    vae.decode = decode
    scheduler = ddim(False)
    add_noise_args = []
    orig_add_noise = scheduler.add_noise

    def add_noise(x, n, t):
        if not add_noise_args:
            add_noise_args.append((x.clone(), n.clone()))
        return orig_add_noise(x, n, t)

    scheduler.add_noise = add_noise
    pipe = with_tiny_unet(make_pipe(pm.DemoFusionLSRNASDXLPipeline, vae, scheduler))
    pipe.default_sample_size = 128  # only read by the `· 8 == 1024` assert
    steps = []
    images = pipe(**prompt_embeddings(), height=h, width=w, num_inference_steps=STEPS,
                  guidance_scale=7.5, latents=det_gaussian(990, (1, 4, h // s // 8, w // s // 8)),
                  view_batch_size=2, stride_ratio=0.5, lsr_path=str(LSR_PTH), cosine_scale_1=3,
                  cosine_scale_2=1, cosine_scale_3=1, sigma=0.8, rna_min_std=0.0, rna_max_std=1.2,
                  inversion_depth=DEPTH, callback=lambda i, t, z: steps.append(z.clone()))
    torch.randn_like, lsr.models.make, pm.apply_canny_detection = orig_randn_like, orig_make, orig_canny
    print("lsrna: unet calls", UNET_CALLS[0], "evaluations", UNET_CALLS[1], "jitter draws",
          len(jitter.draws))
    assert len(steps) == STEPS + DEPTH and len(decoded) == 2 and len(lsr_out) == 1 and len(randn_draws) == 2
    assert len(edges) == 1 and np.array_equal(np.asarray(images[0]).shape[:2], edges[0].shape)
    guided, inv_noise = add_noise_args[0]
    assert torch.equal(inv_noise, randn_draws[1])
    ref, target = decoded
    save_npz(OUT / "lsrna_demofusion_unet.npz", {
        "ref_step_9": steps[9].numpy(),
        "ref_latent": steps[STEPS - 1].numpy(),
        "ref_image_sub": ref[0, :, ::4, ::4].numpy(),
        "ref_edges": edges[0],
        "lsr_out": lsr_out[0].numpy(),
        "guided": guided.numpy(),
        "inv_noise": inv_noise.numpy(),
        f"step_{STEPS - DEPTH}": steps[STEPS].numpy(),
        f"step_{STEPS - 1}": steps[STEPS + DEPTH - 1].numpy(),
        "final_latent": (decoded_in[1] * vae.config.scaling_factor).numpy(),
        "final_image_sub": target[0, :, ::8, ::8].numpy(),
        "jitter": np.array(jitter.draws, dtype=np.int64),
        "unet_calls": np.array(UNET_CALLS, dtype=np.int64),
    })


def pixelsmith(px):
    size = 128  # the smallest guide the hard-coded 128-latent patch allows
    records = {"randperm": [], "rand": [], "inputs": [], "outputs": []}
    gen = torch.Generator().manual_seed(5)
    orig_randperm, orig_rand, orig_randn = torch.randperm, torch.rand, torch.randn

    def randperm(n, *a, **k):
        perm = orig_randperm(n, generator=gen)
        records["randperm"].append(int(perm[0]))
        return perm

    def rand(*shape, **k):
        v = orig_rand(*shape, generator=gen)
        records["rand"].append(float(v.flatten()[0]))
        return v

    def randn(shape, dtype=None, **k):
        return det_gaussian(1002, tuple(shape)).to(dtype or torch.float32)

    orig_to = torch.Tensor.to

    def to(self, *a, **k):
        a = tuple("cpu" if x == "cuda" else x for x in a)
        return orig_to(self, *a, **k)

    torch.randperm, torch.rand, torch.randn, torch.Tensor.to = randperm, rand, randn, to
    UNET_CALLS[:] = [0, 0]
    scheduler = ddim(True)
    orig_step = scheduler.step

    def step(pred, t, x, **k):
        out = orig_step(pred, t, x, **k)
        if len(records["inputs"]) < 2:
            records["inputs"].append(x.clone())
            records["outputs"].append(out[0].clone())
        return out

    scheduler.step = step
    pipe = with_tiny_unet(pixelsmith_pipe(px, scheduler))
    pipe.default_sample_size = 32
    guide = det_gaussian(980, (1, 4, size, size))
    try:
        out = pipe(**prompt_embeddings(), latents=torch.zeros(1, 4, size, size), guidance_scale=7.5,
                   num_inference_steps=PX_STEPS, height=8 * size, width=8 * size, image=guide,
                   slider=PX_SLIDER,
                   output_type="latent", return_dict=False)[0]
    finally:
        torch.randperm, torch.rand, torch.randn, torch.Tensor.to = orig_randperm, orig_rand, orig_randn, orig_to
    print("\npixelsmith: unet calls", UNET_CALLS[0], "evaluations", UNET_CALLS[1])
    save_npz(OUT / "pixelsmith_unet.npz", {
        "randperm": np.array(records["randperm"], dtype=np.int64),
        "rand": np.array(records["rand"], dtype=np.float64),
        "patch_input_0": records["inputs"][0].numpy(),
        "patch_input_1": records["inputs"][1].numpy(),
        "patch_output_0": records["outputs"][0].numpy(),
        "final_latent": out.numpy(),
        "unet_calls": np.array(UNET_CALLS, dtype=np.int64),
    })


def write_generator(ran):
    """Adds this script's versions to GENERATOR.json (gen_pipeline.py's; its entries are kept)."""
    import cv2
    import diffusers

    path = OUT / "GENERATOR.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    versions = {**old.get("versions", {}), "torch": torch.__version__, "numpy": np.__version__,
                "diffusers": diffusers.__version__, "opencv-python-headless": cv2.__version__,
                "gen_pipeline_unet.py": "lsrna_demofusion_unet.npz pixelsmith_unet.npz", **ran}
    path.write_text(json.dumps({"script": old.get("script", "tools/golden/gen_pipeline.py"),
                                "versions": versions}, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    ran = {}
    lsrna_dir = os.environ.get("LSRNA_DIR")
    if lsrna_dir:
        t0, c0 = time.time(), time.process_time()
        lsrna(*import_lsrna(lsrna_dir))
        print(f"lsrna: {time.time() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU)")
        ran["LSRNA"] = commit_of(lsrna_dir)
    else:
        print("LSRNA_DIR not set: keeping the committed lsrna_demofusion_unet.npz")
    pixelsmith_dir = os.environ.get("PIXELSMITH_DIR")
    if pixelsmith_dir:
        sys.path.insert(0, str(extract(pixelsmith_dir, ["pixelsmith_pipeline.py"])))
        stub_imports()
        # its vendored VAE serves only `generate_image`, which is not called here
        sys.modules["autoencoder_kl"] = types.SimpleNamespace(AutoencoderKL=AutoencoderKL)
        import pixelsmith_pipeline as px

        t0, c0 = time.time(), time.process_time()
        pixelsmith(px)
        print(f"pixelsmith: {time.time() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU)")
        ran["Pixelsmith"] = commit_of(pixelsmith_dir)
    else:
        print("PIXELSMITH_DIR not set: keeping the committed pixelsmith_unet.npz")
    if ran:
        write_generator(ran)


if __name__ == "__main__":
    main()
