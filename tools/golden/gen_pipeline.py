"""Golden fixtures for ultrares-pipeline: the official LSRNA-DemoFusion and DemoFusion pipelines,
run on CPU with stand-ins for the networks that cannot be downloaded.

References, imported unmodified (nothing of them is copied here):
* `DemoFusionLSRNASDXLPipeline.__call__` from 3587jjh/LSRNA@eebd4b4
  (`pipeline_lsrna_demofusion_sdxl.py` + `utils.py`), from `LSRNA_DIR`;
* `DemoFusionSDXLPipeline.__call__` from PRIS-CV/DemoFusion (`pipeline_demofusion_sdxl.py`),
  from `DEMOFUSION_DIR`;
* `Pixelsmith.__call__(image=…, slider=…)` from Thanos-DB/Pixelsmith (`pixelsmith_pipeline.py`),
  from `PIXELSMITH_DIR`.
Each is a checkout or a git directory (such as the fetch mirror). The driver only replaces what
needs CUDA or downloads:

* UNet → `standin_unet`, a fixed cheap function of (latent, t, pooled text embedding, SDXL
  time_ids), implemented identically in `crates/pipeline/tests/common/mod.rs` (`StandIn`):
  `pred = tanh(k ⊛ x)·(0.2 + 0.6·t/1000) + ch·(0.05·p + 1e-4·(crop_top − 0.5·crop_left)
  + 1e-5·(orig_h + orig_w + tgt_h + tgt_w) − 0.02)`, `k` a fixed 3×3 kernel (zero padding,
  per channel), `ch = (1, −1, 0.5, −0.5)`, `p` the mean of the pooled text embedding.
* Text encoders → fixed embeddings: pooled negative −0.3, positive 0.7 (CFG scale 7.5).
* LSR → bicubic latent upsampling (`F.interpolate(mode='bicubic')`, DemoFusion's upsampler).
* VAE → a diffusers `AutoencoderKL` with 4 blocks of 8 channels (factor 8, 1024-px tiles like
  SDXL's), `det_weight` hashed weights (gen_vae.py), `enable_tiling()` as LSRNA's main.py.
* `.cuda()` → identity; the phase-1 noise (seed 990) and `torch.randn_like` (RNA ε seed 1000,
  inversion ε seed 1002) are `det_gaussian` values the Rust test recomputes; Python's
  `random.randint` (view jitter, `random.Random(77)` / `(78)`) is recorded and replayed.

Runs: 1024×2048 targets (s = 2, reference 512×1024 px), DDIM from the SDXL scheduler config,
50 steps, CFG 7.5, view batch 2, σ 0.8.
* lsrna_demofusion.npz: inversion depth 30, RNA [0, 1.2], VAE tiling on (LSRNA's main.py).
* demofusion.npz: phase 2 at 1024×2048 from the bicubic upsampled reference, all 50 steps,
  `multi_decoder=False` (plain VAE decode).
* pixelsmith.npz: the patch sampler on a 128×256 guidance latent, Slider 20; its
  `torch.randperm`/`torch.rand` draws are recorded and replayed.
See `lsrna`/`demofusion`/`common_keys` below for the keys.
"""
import json
import os
import pathlib
import random as pyrandom
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import save_npz, splitmix_uniform  # noqa: E402
from gen_vae import hashed  # noqa: E402

from diffusers import AutoencoderKL, DDIMScheduler  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/pipeline/tests/fixtures"
torch.set_num_threads(2)

KERNEL = torch.tensor([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]])
CH = torch.tensor([1.0, -1.0, 0.5, -0.5])


def det_gaussian(seed, shape):
    """Recomputable N(0, 1) values (Rust: `common::det_gaussian`): Box–Muller in f64 on two
    splitmix streams, `√(−2 ln((1 − a)/2))·cos(π(b + 1))`, rounded to f32."""
    n = int(np.prod(shape))
    a, b = splitmix_uniform(seed, n), splitmix_uniform(seed + 1, n)
    z = np.sqrt(-2.0 * np.log((1.0 - a) / 2.0)) * np.cos(np.pi * (b + 1.0))
    return torch.from_numpy(z.astype(np.float32).reshape(shape))


def standin_eps(x, t, pooled, time_ids):
    """The stand-in denoiser: x [n,4,h,w], t scalar, pooled [n,d], time_ids [n,6]."""
    c = x.shape[1]
    y = F.conv2d(x, KERNEL.to(x.dtype).expand(c, 1, 3, 3), padding=1, groups=c)
    scale = 0.2 + 0.6 * float(t) / 1000.0
    p = pooled.mean(dim=1)
    tid = time_ids.to(torch.float64)
    shift = (0.05 * p.double() + 1e-4 * (tid[:, 2] - 0.5 * tid[:, 3])
             + 1e-5 * (tid[:, 0] + tid[:, 1] + tid[:, 4] + tid[:, 5]) - 0.02).to(x.dtype)
    return torch.tanh(y) * scale + CH.to(x.dtype)[None, :, None, None] * shift[:, None, None, None]


class StandInUnet:
    config = types.SimpleNamespace(sample_size=128, in_channels=4, addition_time_embed_dim=1,
                                   time_cond_proj_dim=None)
    add_embedding = types.SimpleNamespace(linear_1=types.SimpleNamespace(in_features=8))
    calls = 0
    evaluations = 0

    def __call__(self, x, t, encoder_hidden_states=None, cross_attention_kwargs=None,
                 added_cond_kwargs=None, return_dict=False, **kwargs):
        StandInUnet.calls += 1
        StandInUnet.evaluations += x.shape[0]
        return (standin_eps(x, t, added_cond_kwargs["text_embeds"], added_cond_kwargs["time_ids"]),)


class BicubicLsr(torch.nn.Module):
    outputs = []

    def forward(self, latents, coord, cell):
        out = F.interpolate(latents, size=coord.shape[1:3], mode="bicubic", align_corners=False)
        BicubicLsr.outputs.append(out.clone())
        return out

    def cuda(self, *a, **k):
        return self


class Recorder:
    """Python's `random` with every `randint` result recorded."""

    def __init__(self, seed):
        self.rng = pyrandom.Random(seed)
        self.draws = []

    def randint(self, a, b):
        v = self.rng.randint(a, b)
        self.draws.append(v)
        return v


def checkout(path, files):
    """A directory with `files` of a checkout or git directory (such as the fetch mirror)."""
    p = pathlib.Path(path)
    if (p / files[0]).exists():
        return p
    tmp = pathlib.Path(tempfile.mkdtemp())
    for f in files:
        src = subprocess.run(["git", f"--git-dir={p}", "show", f"HEAD:{f}"], check=True,
                             capture_output=True).stdout
        (tmp / f).write_bytes(src)
    (tmp / "lsr").mkdir()  # the official `lsr` package is replaced by the stand-in
    (tmp / "lsr/__init__.py").write_text("")
    (tmp / "lsr/models.py").write_text("def make(*a, **k):\n    raise RuntimeError('stand-in')\n")
    return tmp


def commit_of(path):
    """The short HEAD commit of a checkout or git directory."""
    p = pathlib.Path(path)
    flag = ["-C", str(p)] if (p / ".git").exists() else [f"--git-dir={p}"]
    return subprocess.run(["git", *flag, "rev-parse", "--short=7", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def write_generator(ran):
    """GENERATOR.json: package versions and the commits of the official code each fixture
    came from (entries of pipelines not rerun are kept)."""
    import diffusers

    path = OUT / "GENERATOR.json"
    old = json.loads(path.read_text())["versions"] if path.exists() else {}
    versions = {**old, "torch": torch.__version__, "numpy": np.__version__,
                "diffusers": diffusers.__version__, **ran}
    path.write_text(json.dumps({"script": "tools/golden/gen_pipeline.py", "versions": versions},
                               indent=1) + "\n")


def stub_imports():
    """The pipeline was written for diffusers 0.29 / transformers 4.41; it only needs these names
    to exist (text encoders and LoRA mixins are unused here): stub what 0.36 lacks."""
    for name in ["matplotlib", "matplotlib.pyplot"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["matplotlib.pyplot"].rcParams = {}
    try:
        import transformers  # noqa: F401
    except ImportError:
        tf = types.ModuleType("transformers")
        for cls in ["CLIPTextModel", "CLIPTextModelWithProjection", "CLIPTokenizer",
                    "CLIPImageProcessor", "CLIPVisionModelWithProjection"]:
            setattr(tf, cls, type(cls, (), {}))
        sys.modules["transformers"] = tf
    import diffusers.loaders as loaders
    for cls in ["FromSingleFileMixin", "LoraLoaderMixin", "TextualInversionLoaderMixin",
                "IPAdapterMixin", "StableDiffusionXLLoraLoaderMixin"]:
        try:
            getattr(loaders, cls)
        except (AttributeError, ImportError, RuntimeError):
            setattr(loaders, cls, type(cls, (), {}))


def vae_config():
    return dict(block_out_channels=(8, 8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1, latent_channels=4,
                norm_num_groups=4, sample_size=1024, scaling_factor=0.13025,
                mid_block_add_attention=False, force_upcast=False)


def make_driver(base):
    class Driver(base):
        _execution_device = torch.device("cpu")

        def __init__(self):
            self._internal_dict = {}

        def encode_prompt(self, **kw):
            return (kw["prompt_embeds"], kw["negative_prompt_embeds"], kw["pooled_prompt_embeds"],
                    kw["negative_pooled_prompt_embeds"])

        def maybe_free_model_hooks(self):
            pass

    return Driver


def ddim(set_alpha_to_one):
    """SDXL's DDIM (`scheduler_config.json`); Pixelsmith's `generate_image` sets the last flag."""
    return DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                         num_train_timesteps=1000, steps_offset=1, timestep_spacing="leading",
                         set_alpha_to_one=set_alpha_to_one, prediction_type="epsilon",
                         clip_sample=False)


def make_pipe(base, vae, scheduler):
    """An instance of the official pipeline class `base` with the stand-in UNet, `vae` and
    `scheduler`, and no text encoders (prompt embeddings are passed in)."""
    from diffusers.image_processor import VaeImageProcessor

    class Driver(make_driver(base)):
        device = torch.device("cpu")

    pipe = Driver()
    object.__setattr__(pipe, "vae", vae)
    object.__setattr__(pipe, "unet", StandInUnet())
    object.__setattr__(pipe, "scheduler", scheduler)
    object.__setattr__(pipe, "text_encoder_2", types.SimpleNamespace(config=types.SimpleNamespace(projection_dim=2)))
    pipe.vae_scale_factor = 8
    pipe.image_processor = VaeImageProcessor(vae_scale_factor=8)
    pipe.default_sample_size = 128
    pipe.watermark = None
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run(pm, cls, randn_seeds, jitter_seed, tiled, vae=None, **call):
    """Runs `pm.cls` with the stand-ins (`vae`: the hashed tiny VAE unless given); returns what
    the Rust tests compare."""
    randn_draws = []

    def randn_like(x, *a, **k):
        v = det_gaussian(randn_seeds[len(randn_draws)], tuple(x.shape)).to(x.dtype)
        randn_draws.append(v.clone())
        return v

    torch.randn_like = randn_like
    jitter = Recorder(jitter_seed)
    pm.random = jitter
    StandInUnet.calls = StandInUnet.evaluations = 0

    vae = vae or hashed(AutoencoderKL(**vae_config()))
    if tiled:
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
    # DemoFusion calls it unguarded (written against an Euler-era diffusers); DDIM is stateless.
    scheduler._init_step_index = lambda t: None
    pipe = make_pipe(getattr(pm, cls), vae, scheduler)

    steps = []
    emb = torch.zeros(1, 2, 2)
    h, w = call["height"], call["width"]
    s = max(h, w) // 1024
    call.setdefault("view_batch_size", 2)
    images = pipe(prompt_embeds=emb, negative_prompt_embeds=emb,
                  pooled_prompt_embeds=torch.full((1, 2), 0.7),
                  negative_pooled_prompt_embeds=torch.full((1, 2), -0.3),
                  latents=det_gaussian(990, (1, 4, h // s // 8, w // s // 8)), guidance_scale=7.5,
                  callback=lambda i, t, z: steps.append(z.clone()), **call)
    guided, inv_noise = add_noise_args[0]
    print("unet calls", StandInUnet.calls, "evaluations", StandInUnet.evaluations,
          "jitter draws", len(jitter.draws))
    return dict(steps=steps, decoded=decoded, decoded_in=decoded_in, guided=guided, images=images,
                randn_draws=randn_draws, inv_noise=inv_noise,
                jitter=np.array(jitter.draws, dtype=np.int64),
                unet_calls=np.array([StandInUnet.calls, StandInUnet.evaluations], dtype=np.int64))


def common_keys(r, hi):
    assert len(r["decoded"]) == 2 and torch.equal(r["inv_noise"], r["randn_draws"][-1])
    ref, target = r["decoded"]
    return {
        "ref_step_9": r["steps"][9].numpy(),                  # reference latent after step 9
        "ref_latent": r["steps"][49].numpy(),                 # reference latent after 50 steps
        "jitter": r["jitter"],                                # randint draws, in call order
        "step_49": hi[-1].numpy(),                            # before the final re-standardisation
        "final_latent": (r["decoded_in"][1] * 0.13025).numpy(),  # after re-standardisation
        "final_image_sub": target[0, :, ::16, ::16].numpy(),  # decoded target, every 16th pixel
        "ref_image_f32_sub": ref[0, :, ::8, ::8].numpy(),
        "unet_calls": r["unet_calls"],
    }


def lsrna(pm):
    r = run(pm, "DemoFusionLSRNASDXLPipeline", [1000, 1002], 77, tiled=True, height=1024, width=2048,
            lsr_path="standin", rna_min_std=0.0, rna_max_std=1.2, inversion_depth=30)
    assert len(r["steps"]) == 80
    hi = r["steps"][50:]
    target = r["decoded"][1]
    dump = common_keys(r, hi)
    dump.update({
        "ref_image_u8": np.asarray(r["images"][0]),           # decoded reference, PIL uint8 [512,1024,3]
        "guided": r["guided"].numpy(),                        # upsampled (bicubic) + RNA [1,4,128,256]
        "step_20": hi[0].numpy(),                             # after high-res step index 20
        "final_image_crop": target[0, :, 736:800, 640:896].numpy(),  # across a diffusers tile seam
    })
    save_npz(OUT / "lsrna_demofusion.npz", dump)


def demofusion(pm):
    r = run(pm, "DemoFusionSDXLPipeline", [1002], 78, tiled=False, height=1024, width=2048,
            multi_decoder=False, sigma=0.8, output_type="pil")
    assert len(r["steps"]) == 100
    hi = r["steps"][50:]
    dump = common_keys(r, hi)
    dump.update({
        "step_0": hi[0].numpy(),                              # after phase-2 step index 0
    })
    save_npz(OUT / "demofusion.npz", dump)


def pixelsmith_pipe(pm, scheduler):
    """The official `Pixelsmith` pipeline with no VAE (the patch loop is given a latent guide)."""
    vae = types.SimpleNamespace(config=types.SimpleNamespace(
        block_out_channels=(1, 1, 1, 1), scaling_factor=0.13025, force_upcast=False), dtype=torch.float32)
    return make_pipe(pm.Pixelsmith, vae, scheduler)


def pixelsmith(pm):
    """The official Pixelsmith patch loop from a given guidance latent (`image=`, what
    `generate_image` passes after its Lanczos resize and VAE encode): the guide is
    `det_gaussian(980)` [1,4,128,256] (recomputed by the Rust test), slider 20, DDIM with
    `set_alpha_to_one=True` as `generate_image` sets it."""

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
        # the guidance noise (float16, as upstream draws it)
        return det_gaussian(1002, tuple(shape)).to(dtype or torch.float32)

    orig_to = torch.Tensor.to

    def to(self, *a, **k):
        a = tuple("cpu" if x == "cuda" else x for x in a)
        return orig_to(self, *a, **k)

    torch.randperm, torch.rand, torch.randn, torch.Tensor.to = randperm, rand, randn, to
    StandInUnet.calls = StandInUnet.evaluations = 0
    scheduler = ddim(True)
    orig_step = scheduler.step

    def step(pred, t, x, **k):
        out = orig_step(pred, t, x, **k)
        if len(records["inputs"]) < 2:
            records["inputs"].append(x.clone())
            records["outputs"].append(out[0].clone())
        return out

    scheduler.step = step

    pipe = pixelsmith_pipe(pm, scheduler)
    guide = det_gaussian(980, (1, 4, 128, 256))
    emb = torch.zeros(1, 2, 2)
    out = pipe(prompt_embeds=emb, negative_prompt_embeds=emb,
               pooled_prompt_embeds=torch.full((1, 2), 0.7),
               negative_pooled_prompt_embeds=torch.full((1, 2), -0.3),
               latents=torch.zeros(1, 4, 128, 256), guidance_scale=7.5, height=1024, width=2048,
               image=guide, slider=20, output_type="latent", return_dict=False)[0]
    torch.randperm, torch.rand, torch.randn, torch.Tensor.to = orig_randperm, orig_rand, orig_randn, orig_to
    print("\nunet calls", StandInUnet.calls, "evaluations", StandInUnet.evaluations)
    save_npz(OUT / "pixelsmith.npz", {
        "randperm": np.array(records["randperm"], dtype=np.int64),  # torch.randperm(n)[0], in order
        "rand": np.array(records["rand"], dtype=np.float64),        # torch.rand(1) draws, in order
        "patch_input_0": records["inputs"][0].numpy(),              # first DDIM step's patch input
        "patch_input_1": records["inputs"][1].numpy(),
        "patch_output_0": records["outputs"][0].numpy(),            # its DDIM step's output
        "final_latent": out.numpy(),                                 # [1,4,128,256]
        "unet_calls": np.array([StandInUnet.calls, StandInUnet.evaluations], dtype=np.int64),
    })


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.Tensor.cuda = lambda self, *a, **k: self
    lsrna_dir, demofusion_dir = os.environ.get("LSRNA_DIR"), os.environ.get("DEMOFUSION_DIR")
    ran = {}
    if lsrna_dir:
        sys.path.insert(0, str(checkout(lsrna_dir, ["pipeline_lsrna_demofusion_sdxl.py", "utils.py"])))
        stub_imports()
        import lsr.models
        import pipeline_lsrna_demofusion_sdxl as pm

        lsr.models.make = lambda *a, **k: BicubicLsr()
        orig_make_coord = pm.make_coord
        pm.make_coord = lambda shape, ranges=None, flatten=True, device="cpu": orig_make_coord(
            shape, ranges, flatten, "cpu")
        orig_load = torch.load
        torch.load = lambda path, *a, **k: {"model": None} if path == "standin" else orig_load(path, *a, **k)
        lsrna(pm)
        ran["LSRNA"] = commit_of(lsrna_dir)
    else:
        print("LSRNA_DIR not set: keeping the committed lsrna_demofusion.npz")
    if demofusion_dir:
        sys.path.insert(0, str(checkout(demofusion_dir, ["pipeline_demofusion_sdxl.py"])))
        stub_imports()
        import pipeline_demofusion_sdxl as dm

        demofusion(dm)
        ran["DemoFusion"] = commit_of(demofusion_dir)
    else:
        print("DEMOFUSION_DIR not set: keeping the committed demofusion.npz")
    pixelsmith_dir = os.environ.get("PIXELSMITH_DIR")
    if pixelsmith_dir:
        sys.path.insert(0, str(checkout(pixelsmith_dir, ["pixelsmith_pipeline.py"])))
        stub_imports()
        # its vendored VAE serves only `generate_image`, which is not called here
        sys.modules["autoencoder_kl"] = types.SimpleNamespace(AutoencoderKL=AutoencoderKL)
        import pixelsmith_pipeline as px

        pixelsmith(px)
        ran["Pixelsmith"] = commit_of(pixelsmith_dir)
    else:
        print("PIXELSMITH_DIR not set: keeping the committed pixelsmith.npz")
    write_generator(ran)


if __name__ == "__main__":
    main()
