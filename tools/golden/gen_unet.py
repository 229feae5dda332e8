"""Golden fixtures for ultrares-unet (crates/unet/tests/fixtures/), from diffusers 0.36.0 on CPU.

* unet_tiny.npz / unet_tiny_config.json: a tiny SDXL-style UNet2DConditionModel (3 levels, several
  transformer layers per block, cross-attention at two levels, text_time, linear projections;
  sdxl.md §10.3) with `det_weight` weights (npz.py; the Rust test recomputes them from the key
  names). Case `a`: N=2, 16×16, t=[999, 1.5], distinct time ids; taps `emb`, `conv_in`,
  `down_blocks.i`, `mid_block`, `up_blocks.i`, `out`. Case `b`: N=1, 18×26 (diffusers'
  `upsample_size` path), every up block and the output.
* unet_sd15_tiny.npz / unet_sd15_tiny_config.json: an SD 1.5-style tiny UNet (4 levels, cross-attention
  blocks first, 1×1-conv projections, no added conditioning), N=2, 16×16.
* unet_keys.json: every (key, shape) of the real SDXL base, SDXL refiner and SD 1.5 UNets (built on
  torch's meta device) and of the two tiny ones, with their parameter counts.

* crates/cli/tests/fixtures/tiny_sdxl/ + sdxl_generate.npz + sdxl_init_*.npy: a tiny
  `StableDiffusionXLPipeline` (the tiny UNet above, ultrares-text's tiny CLIP towers with
  `det_weight` weights, ultrares-vae's tiny VAE, OpenAI's CLIP vocabulary, SDXL's Euler scheduler
  config) saved with `save_pretrained`, JSON files only (the Rust test writes the weights and
  tokenizer files). Final latents (`output_type="latent"`) from given initial latents for: `euler`
  (CFG 5 with a negative prompt), `ddim` (the same folder's config as `DDIMScheduler`, CFG 5, no
  negative prompt: zeros), `nocfg` (Euler, guidance 1), `euler_lora` (`euler` with lora_kohya
  fused at 0.7), `euler_lora_te` (`euler` with lora_te_peft.safetensors — the UNet pairs plus
  pairs on both text encoders — fused at 0.7; lora_te_kohya.safetensors holds the same pairs in
  kohya's layout, which diffusers 0.36 cannot load into transformers 5's CLIPTextModel: see
  pipeline()).

* crates/cli/tests/fixtures/sdxl_single_file.json: the tiny pipeline's four models as one SDXL
  single file in the original SGM layout of sd_xl_base_1.0.safetensors (`model.diffusion_model.`,
  `first_stage_model.`, CLIP-L under `conditioner.embedders.0.transformer.text_model.`, OpenCLIP
  bigG under `conditioner.embedders.1.model.`): for each single-file key the (component, diffusers
  key) tensors concatenated on dim 0 (q;k;v for bigG's fused `attn.in_proj_*`), transposed where
  `transpose` (bigG's `text_projection`, [width, projection]), reshaped to `shape` (the VAE's
  mid-block attention as 1×1 convs); `extra` / `extra_int64`: keys a real file carries that
  diffusers ignores. Checked by writing that file and loading it with diffusers' `from_single_file`
  (see single_file()): every tensor comes back exactly and the `euler` case is reproduced.

* unet_real.npz (only with `--big`: ≈ 12 GB of memory and a few minutes): the real SDXL base
  and SD 1.5 topologies with `det_weight` weights (generated tensor by tensor, never stored), N=2,
  a 16×16 latent, 77 text tokens; inputs are `splitmix_uniform` draws the Rust test recomputes;
  outputs `out` and `mid_block`.

* unet_ldm_keys.json: the original (LDM/SGM, `sd_xl_base_1.0.safetensors`) name of every UNet key
  of the tiny and the real SDXL base UNet, checked by diffusers' own single-file converter
  (`convert_ldm_unet_checkpoint` maps each back to its diffusers key).
* lora_kohya.safetensors / lora_peft.safetensors / lora.npz: one rank-4 LoRA (alpha 2) on the tiny
  UNet's attn1.to_q, attn2.to_k, ff.net.0.proj, proj_in, a 3×3 conv1 (LoCon), time_emb_proj and a
  downsampler, in kohya's SGM-named layout and in diffusers/PEFT layout; the tiny UNet output of
  case `a` after diffusers' `load_lora_weights` + `fuse_lora(lora_scale=0.7)` (peft 0.21.2), equal
  for both layouts.

Run: tools/golden/.venv/bin/python tools/golden/gen_unet.py [--big]
"""
import json
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from npz import det_weight, save_npz, splitmix_uniform  # noqa: E402

import diffusers  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/unet/tests/fixtures"
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

TINY = dict(
    sample_size=16,
    block_out_channels=(32, 64, 96),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(2, 4, 6),
    transformer_layers_per_block=(1, 2, 3),
    use_linear_projection=True,
    cross_attention_dim=96,
    addition_embed_type="text_time",
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=88,
    norm_num_groups=8,
)

SD15_TINY = dict(
    sample_size=16,
    block_out_channels=(16, 32, 48, 48),
    layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    attention_head_dim=2,
    cross_attention_dim=24,
    norm_num_groups=8,
)

SDXL_BASE = dict(
    sample_size=128,
    block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(5, 10, 20),
    transformer_layers_per_block=(1, 2, 10),
    use_linear_projection=True,
    cross_attention_dim=2048,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)

SDXL_REFINER = dict(
    sample_size=128,
    block_out_channels=(384, 768, 1536, 1536),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(6, 12, 24, 24),
    transformer_layers_per_block=4,
    use_linear_projection=True,
    cross_attention_dim=1280,
    addition_embed_type="text_time",
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2560,
)

SD15 = dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8)


def config_json(model):
    """The model's config as JSON; diffusers' `_use_default_values` is a set: sorted, so reruns give
    the same bytes."""
    cfg = dict(model.config)
    if "_use_default_values" in cfg:
        cfg["_use_default_values"] = sorted(cfg["_use_default_values"])
    return json.dumps(cfg, indent=1, sort_keys=True) + "\n"


def det_model(config):
    torch.manual_seed(0)
    model = UNet2DConditionModel(**config).eval()
    sd = {k: torch.from_numpy(det_weight(k, list(v.shape))) for k, v in model.state_dict().items()}
    model.load_state_dict(sd, strict=True)
    return model


def uniform(seed, shape, scale=1.0):
    return torch.from_numpy((splitmix_uniform(seed, int(np.prod(shape))) * scale).astype(np.float32).reshape(shape))


def run(model, sample, t, ehs, added, taps_wanted):
    taps = {}
    hooks = []
    for name in taps_wanted:
        if name in ("emb", "conv_in", "out"):
            continue
        module = model.get_submodule(name)

        def hook(_m, _i, out, name=name):
            taps[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()

        hooks.append(module.register_forward_hook(hook))
    hooks.append(model.conv_in.register_forward_hook(lambda _m, _i, o: taps.__setitem__("conv_in", o.detach().clone())))
    with torch.no_grad():
        out = model(sample, t, encoder_hidden_states=ehs, added_cond_kwargs=added).sample
        t_emb = model.get_time_embed(sample=sample, timestep=t)
        emb = model.time_embedding(t_emb)
        aug = model.get_aug_embed(emb=emb, encoder_hidden_states=ehs, added_cond_kwargs=added or {})
        if aug is not None:
            emb = emb + aug
    for h in hooks:
        h.remove()
    taps["emb"] = emb
    taps["out"] = out
    return {k: v.numpy() for k, v in taps.items() if k in taps_wanted}


def tiny():
    model = det_model(TINY)
    (OUT / "unet_tiny_config.json").write_text(config_json(model))
    names = ["emb", "conv_in"] + [f"down_blocks.{i}" for i in range(3)] + ["mid_block"]
    names += [f"up_blocks.{i}" for i in range(3)] + ["out"]
    arrays = {}
    # Case a: N=2, 16x16, distinct timesteps and time ids.
    sample = uniform(101, (2, 4, 16, 16), 2.0)
    t = torch.tensor([999.0, 1.5])
    ehs = uniform(102, (2, 9, 96))
    text_embeds = uniform(103, (2, 40))
    time_ids = torch.tensor([[1024.0, 1024, 0, 0, 1024, 1024], [3080.0, 2048, 64, 128, 4096, 2048]])
    added = {"text_embeds": text_embeds, "time_ids": time_ids}
    for k, v in run(model, sample, t, ehs, added, names).items():
        arrays[f"a_{k}"] = v
    arrays.update(a_sample=sample.numpy(), a_t=t.numpy(), a_ehs=ehs.numpy(), a_text_embeds=text_embeds.numpy(), a_time_ids=time_ids.numpy())
    # Case b: N=1, 18x26 (upsample_size path), scalar timestep.
    sample = uniform(104, (1, 4, 18, 26), 2.0)
    t = torch.tensor([500.0])
    ehs = uniform(105, (1, 5, 96))
    text_embeds = uniform(106, (1, 40))
    time_ids = torch.tensor([[144.0, 208, 8, 16, 144, 208]])
    added = {"text_embeds": text_embeds, "time_ids": time_ids}
    for k, v in run(model, sample, t, ehs, added, [f"up_blocks.{i}" for i in range(3)] + ["out"]).items():
        arrays[f"b_{k}"] = v
    arrays.update(b_sample=sample.numpy(), b_t=t.numpy(), b_ehs=ehs.numpy(), b_text_embeds=text_embeds.numpy(), b_time_ids=time_ids.numpy())
    save_npz(OUT / "unet_tiny.npz", arrays)


def sd15_tiny():
    model = det_model(SD15_TINY)
    (OUT / "unet_sd15_tiny_config.json").write_text(config_json(model))
    sample = uniform(201, (2, 4, 16, 16), 2.0)
    t = torch.tensor([981.0, 21.0])
    ehs = uniform(202, (2, 7, 24))
    names = ["mid_block", "out"]
    arrays = {f"a_{k}": v for k, v in run(model, sample, t, ehs, None, names).items()}
    arrays.update(a_sample=sample.numpy(), a_t=t.numpy(), a_ehs=ehs.numpy())
    save_npz(OUT / "unet_sd15_tiny.npz", arrays)


def keys():
    out = {}
    models = [("sdxl_base", SDXL_BASE), ("sdxl_refiner", SDXL_REFINER), ("sd15", SD15)]
    for name, cfg in models + [("tiny", TINY), ("sd15_tiny", SD15_TINY)]:
        with torch.device("meta"):
            model = UNet2DConditionModel(**cfg)
        sd = model.state_dict()
        out[name] = {
            "parameters": int(sum(v.numel() for v in sd.values())),
            "keys": {k: list(v.shape) for k, v in sd.items()},
        }
        print(name, len(sd), out[name]["parameters"])
    (OUT / "unet_keys.json").write_text(json.dumps(out, sort_keys=True) + "\n")


SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear", "num_train_timesteps": 1000,
    "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True,
    "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False,
}


def tiny_sdxl():
    """The tiny StableDiffusionXLPipeline of pipeline(), built afresh: det_weight CLIP towers and
    UNet, the tiny VAE, tokenizers from OpenAI's vocabulary, SDXL's Euler scheduler."""
    import tempfile

    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    import gen_text

    root = pathlib.Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        gen_text.write_folders(gen_text.ASSET.read_bytes(), tmp)
        tok1 = CLIPTokenizer.from_pretrained(tmp / "tokenizer")
        tok2 = CLIPTokenizer.from_pretrained(tmp / "tokenizer_2")
    te1 = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                       intermediate_size=37, hidden_act="quick_gelu", eos_token_id=2)).eval()
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=64, num_hidden_layers=4,
                                                     num_attention_heads=4, intermediate_size=96, hidden_act="gelu",
                                                     projection_dim=40)).eval()
    gen_text.det_state_dict(te1)
    gen_text.det_state_dict(te2)
    vae = AutoencoderKL.from_pretrained(root / "crates/vae/tests/fixtures/tiny_vae", torch_dtype=torch.float32).eval()
    return StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
                                     unet=det_model(TINY), scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
                                     force_zeros_for_empty_prompt=True)


def pipeline():
    import shutil
    import tempfile

    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    cli = pathlib.Path(__file__).resolve().parents[2] / "crates/cli/tests/fixtures"
    dst = cli / "tiny_sdxl"
    pipe = tiny_sdxl()
    if dst.exists():
        shutil.rmtree(dst)
    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp)
        for f in sorted(pathlib.Path(tmp).rglob("*.json")):
            rel = f.relative_to(tmp)
            if rel.parts[0].startswith("tokenizer"):
                continue
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(json.loads(f.read_text()), indent=1, sort_keys=True) + "\n"
            (dst / rel).write_text(text)
    arrays = {}
    h, w = 48, 64
    cases = [
        ("euler", EulerDiscreteScheduler, dict(negative_prompt="blurry, ugly", guidance_scale=5.0)),
        ("ddim", DDIMScheduler, dict(guidance_scale=5.0)),
        ("nocfg", EulerDiscreteScheduler, dict(guidance_scale=1.0)),
    ]
    for i, (tag, cls, kw) in enumerate(cases):
        pipe.scheduler = cls.from_config(SDXL_SCHEDULER)
        g = torch.Generator().manual_seed(i)
        init = torch.randn((1, 4, h // 2, w // 2), generator=g)
        np.save(cli / f"sdxl_init_{tag}.npy", init.numpy())
        with torch.no_grad():
            out = pipe(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4, latents=init.clone(),
                       output_type="latent", **kw).images
        arrays[tag] = out.numpy()
    # The Euler case again with the kohya LoRA fused at 0.7 (lora() wrote the file).
    pipe.scheduler = EulerDiscreteScheduler.from_config(SDXL_SCHEDULER)
    pipe.load_lora_weights(str(OUT / "lora_kohya.safetensors"))
    pipe.fuse_lora(lora_scale=0.7)
    with torch.no_grad():
        out = pipe(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4,
                   latents=torch.from_numpy(np.load(cli / "sdxl_init_euler.npy")), output_type="latent",
                   **cases[0][2]).images
    arrays["euler_lora"] = out.numpy()
    # The Euler case on a fresh pipeline with a LoRA on the UNet and both text encoders fused at
    # 0.7, from the PEFT layout. The kohya copy (lora_te1_/lora_te2_, transformers 4 module names)
    # is written for the Rust test but not run here: diffusers 0.36 finds the ranks of
    # text-encoder pairs by the tower's `named_modules()`, and transformers 5's CLIPTextModel has
    # no `text_model` level, so it cannot load kohya text_encoder pairs (IndexError in
    # get_peft_kwargs). The PEFT copy names text_encoder's modules as transformers 5 does.
    pipe = tiny_sdxl()
    te_lora_file(cli, "kohya", pipe.text_encoder, pipe.text_encoder_2)
    pipe.load_lora_weights(str(te_lora_file(cli, "peft", pipe.text_encoder, pipe.text_encoder_2)))
    pipe.fuse_lora(lora_scale=0.7)
    with torch.no_grad():
        out = pipe(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4,
                   latents=torch.from_numpy(np.load(cli / "sdxl_init_euler.npy")), output_type="latent",
                   **cases[0][2]).images
    arrays["euler_lora_te"] = out.numpy()
    assert np.abs(arrays["euler_lora_te"] - arrays["euler_lora"]).max() > 1e-3
    save_npz(cli / "sdxl_generate.npz", arrays)


TE_LORA_MODULES = [
    ("lora_te1_", "text_encoder.", 0, "text_model.encoder.layers.0.self_attn.q_proj"),
    ("lora_te1_", "text_encoder.", 0, "text_model.encoder.layers.2.mlp.fc1"),
    ("lora_te2_", "text_encoder_2.", 1, "text_model.encoder.layers.1.self_attn.v_proj"),
    ("lora_te2_", "text_encoder_2.", 1, "text_model.encoder.layers.3.mlp.fc2"),
]


def te_lora_file(cli, tag, te1, te2):
    """lora_te_{tag}.safetensors: the UNet pairs of lora() plus rank-4 pairs (alpha 2) on two
    layers of each text encoder, in kohya's layout or diffusers/PEFT's (lora_B pre-scaled by
    alpha / rank, as PEFT files carry no alpha; module names as the towers name them)."""
    from safetensors.torch import load_file as st_load
    from safetensors.torch import save_file as st_save

    sd = st_load(str(OUT / f"lora_{tag}.safetensors"))
    rank, alpha = 4, 2.0
    for i, (kohya, peft, which, m) in enumerate(TE_LORA_MODULES):
        # Files name modules as transformers 4 did (`text_model.encoder…`); transformers 5's
        # CLIPTextModel has no `text_model` level (CLIPTextModelWithProjection keeps it).
        te = (te1, te2)[which]
        w = (te.get_submodule(m) if hasattr(te, "text_model") else te.get_submodule(m.removeprefix("text_model."))).weight
        down = uniform(500 + 2 * i, (rank, w.shape[1]), 0.3)
        up = uniform(501 + 2 * i, (w.shape[0], rank), 0.3)
        if tag == "kohya":
            name = kohya + m.replace(".", "_")
            sd[f"{name}.lora_down.weight"], sd[f"{name}.lora_up.weight"] = down, up
            sd[f"{name}.alpha"] = torch.tensor(alpha)
        else:
            m = m if hasattr(te, "text_model") else m.removeprefix("text_model.")
            sd[f"{peft}{m}.lora_A.weight"], sd[f"{peft}{m}.lora_B.weight"] = down, up * (alpha / rank)
    path = cli / f"lora_te_{tag}.safetensors"
    st_save(sd, str(path))
    return path


def real():
    """Real topologies, det_weight weights written in place (peak: the model plus one tensor)."""
    arrays = {}
    for name, cfg, ctx, added in [("sdxl", SDXL_BASE, 2048, True), ("sd15", SD15, 768, False)]:
        torch.manual_seed(0)
        with torch.device("meta"):
            model = UNet2DConditionModel(**cfg)
        model = model.to_empty(device="cpu").eval()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(torch.from_numpy(det_weight(k, list(v.shape))))
        sample = uniform(301, (2, 4, 16, 16), 2.0)
        t = torch.tensor([999.0, 21.0])
        ehs = uniform(302, (2, 77, ctx))
        kw = {}
        if added:
            kw["added_cond_kwargs"] = {
                "text_embeds": uniform(303, (2, 1280)),
                "time_ids": torch.tensor([[1024.0, 1024, 0, 0, 1024, 1024], [4096.0, 4096, 512, 1024, 4096, 4096]]),
            }
        taps = {}
        model.mid_block.register_forward_hook(lambda _m, _i, o: taps.__setitem__("mid", o.detach().clone()))
        with torch.no_grad():
            out = model(sample, t, encoder_hidden_states=ehs, **kw).sample
        arrays[f"{name}_out"] = out.numpy()
        arrays[f"{name}_mid_block"] = taps["mid"].numpy()
        print(name, "done")
        del model
    save_npz(OUT / "unet_real.npz", arrays)


RESNET_LDM = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
              "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def ldm_name(name, cfg):
    """The LDM/SGM module path of a diffusers UNet module path (the inverse of diffusers'
    convert_ldm_unet_checkpoint for uniform layers_per_block)."""
    L = cfg["layers_per_block"]
    parts = name.split(".")
    top = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
           "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
           "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}
    for k, v in top.items():
        if name == k or name.startswith(k + "."):
            return v + name[len(k):]

    def resnet(rest):
        return ".".join([RESNET_LDM[rest[0]]] + rest[1:])

    if parts[0] == "down_blocks":
        b, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), parts[4:]
        if kind == "downsamplers":
            return ".".join([f"input_blocks.{1 + b * (L + 1) + L}.0.op"] + rest[1:])
        idx = 1 + b * (L + 1) + j
        return f"input_blocks.{idx}.0." + resnet(rest) if kind == "resnets" else ".".join([f"input_blocks.{idx}.1"] + rest)
    if parts[0] == "mid_block":
        kind, j, rest = parts[1], int(parts[2]), parts[3:]
        return f"middle_block.{2 * j}." + resnet(rest) if kind == "resnets" else ".".join(["middle_block.1"] + rest)
    if parts[0] == "up_blocks":
        b, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), parts[4:]
        U = L + 1
        if kind == "upsamplers":
            slot = 2 if cfg["up_block_types"][b].startswith("CrossAttn") else 1
            return ".".join([f"output_blocks.{b * U + U - 1}.{slot}.conv"] + rest[1:])
        idx = b * U + j
        return f"output_blocks.{idx}.0." + resnet(rest) if kind == "resnets" else ".".join([f"output_blocks.{idx}.1"] + rest)
    raise KeyError(name)


def ldm_keys():
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    out = {}
    for name, cfg in [("tiny", TINY), ("sdxl_base", SDXL_BASE)]:
        with torch.device("meta"):
            model = UNet2DConditionModel(**cfg)
        full = dict(model.config)
        keys = list(model.state_dict().keys())
        pairs = {}
        for k in keys:
            module, leaf = k.rsplit(".", 1)
            pairs["model.diffusion_model." + ldm_name(module, full) + "." + leaf] = k
        # Tag every LDM tensor with its index and check where diffusers' converter puts it.
        ckpt = {lk: torch.tensor([float(i)]) for i, lk in enumerate(pairs)}
        converted = convert_ldm_unet_checkpoint(ckpt, full)
        back = {list(pairs)[int(v.item())]: dk for dk, v in converted.items()}
        assert back == pairs, [(k, pairs[k], back.get(k)) for k in pairs if back.get(k) != pairs[k]][:5]
        assert len(converted) == len(keys)
        out[name] = pairs
        print(name, "ldm keys", len(pairs))
    (OUT / "unet_ldm_keys.json").write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")



def vae_ldm_name(key, n_up):
    """The LDM name of a diffusers AutoencoderKL key (the inverse of convert_ldm_vae_checkpoint)."""
    import re

    key = re.sub(r"up_blocks\.(\d+)\.(resnets|upsamplers\.0)",
                 lambda m: f"up.{n_up - 1 - int(m[1])}." + ("block" if m[2] == "resnets" else "upsample"), key)
    key = re.sub(r"down_blocks\.(\d+)\.(resnets|downsamplers\.0)",
                 lambda m: f"down.{m[1]}." + ("block" if m[2] == "resnets" else "downsample"), key)
    key = re.sub(r"mid_block\.resnets\.(\d+)", lambda m: f"mid.block_{int(m[1]) + 1}", key)
    for a, b in (("mid_block.attentions.0", "mid.attn_1"), ("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"),
                 ("to_v", "v"), ("to_out.0", "proj_out"), ("conv_norm_out", "norm_out"),
                 ("conv_shortcut", "nin_shortcut")):
        key = key.replace(a, b)
    return key


def open_clip_name(key):
    """The OpenCLIP name of a CLIPTextModelWithProjection key (q/k/v_proj all name the fused in_proj)."""
    import re

    key = key.removeprefix("text_model.")
    top = {"embeddings.token_embedding.weight": "token_embedding.weight",
           "embeddings.position_embedding.weight": "positional_embedding", "final_layer_norm.weight": "ln_final.weight",
           "final_layer_norm.bias": "ln_final.bias", "text_projection.weight": "text_projection"}
    if key in top:
        return top[key]
    for a, b in (("encoder.layers.", "transformer.resblocks."), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                 ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")):
        key = key.replace(a, b)
    return re.sub(r"self_attn\.[qkv]_proj\.(weight|bias)", r"attn.in_proj_\1", key)


# Keys of sd_xl_base_1.0.safetensors that diffusers drops: OpenCLIP's logit_scale (float, shape [])
# and CLIP-L's position_ids buffer (int64 [1, 77], saved by the transformers of 2023).
SDXL_EXTRA = {"conditioner.embedders.1.model.logit_scale": []}
SDXL_EXTRA_INT64 = {"conditioner.embedders.0.transformer.text_model.embeddings.position_ids": [1, 77]}


def single_file():
    """sdxl_single_file.json: how an SDXL single-file checkpoint (the SGM layout of
    sd_xl_base_1.0.safetensors) is built from the tiny pipeline's diffusers tensors, checked by
    building that file and loading it with diffusers' `from_single_file`."""
    import tempfile

    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint
    from safetensors.torch import save_file as st_save
    from transformers import CLIPTextModel

    cli = pathlib.Path(__file__).resolve().parents[2] / "crates/cli/tests/fixtures"
    pipe = tiny_sdxl()
    comps = ("unet", "vae", "text_encoder", "text_encoder_2")
    sds = {c: getattr(pipe, c).state_dict() for c in comps}
    n_up = len(pipe.vae.config.up_block_types)
    groups = {}
    for c in comps:
        for k in sds[c]:
            if c == "unet":
                module, leaf = k.rsplit(".", 1)
                key = "model.diffusion_model." + ldm_name(module, dict(pipe.unet.config)) + "." + leaf
            elif c == "vae":
                key = "first_stage_model." + vae_ldm_name(k, n_up)
            elif c == "text_encoder":  # transformers 4's names (transformers 5 dropped `text_model.` here)
                key = "conditioner.embedders.0.transformer.text_model." + k.removeprefix("text_model.")
            else:
                key = "conditioner.embedders.1.model." + open_clip_name(k)
            groups.setdefault(key, []).append([c, k])
    tensors = []
    for key, src in sorted(groups.items()):
        src.sort(key=lambda ck: "qkv".index(ck[1].split(".")[-2][0]) if ".in_proj_" in key else 0)
        t = torch.cat([sds[c][k] for c, k in src])
        transpose = key.endswith(".text_projection")  # OpenCLIP keeps x @ P: [width, projection_dim]
        shape = list(t.T.shape if transpose else t.shape)
        if key.startswith("first_stage_model.") and ".attn_1." in key and t.dim() == 2:
            shape += [1, 1]  # 1x1 convs in the LDM VAE, Linear in diffusers
        tensors.append({"key": key, "from": src, "transpose": transpose, "shape": shape})
    assert sorted((c, k) for e in tensors for c, k in e["from"]) == sorted((c, k) for c in comps for k in sds[c])
    (cli / "sdxl_single_file.json").write_text(json.dumps(
        {"tensors": tensors, "extra": SDXL_EXTRA, "extra_int64": SDXL_EXTRA_INT64}, indent=0, sort_keys=True) + "\n")

    ckpt = {}
    for e in tensors:
        t = torch.cat([sds[c][k] for c, k in e["from"]])
        ckpt[e["key"]] = (t.T if e["transpose"] else t).reshape(e["shape"]).contiguous()
    ckpt.update({k: torch.full(s, 4.6052) for k, s in SDXL_EXTRA.items()})
    ckpt.update({k: torch.arange(s[-1]).expand(s).contiguous() for k, s in SDXL_EXTRA_INT64.items()})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        st_save(ckpt, str(tmp / "sdxl.safetensors"))
        # Configs and tokenizers only: with no weights in the folder, a component the single file
        # does not provide fails to load instead of coming from the folder.
        pipe.save_pretrained(tmp / "config")
        for f in (tmp / "config").rglob("*.safetensors"):
            f.unlink()
        # diffusers 0.36's create_diffusers_clip_model_from_ldm reads `model.text_model…` (and its
        # converted keys are `text_model.…`), which transformers 5's CLIPTextModel no longer has:
        # AttributeError. So CLIP-L goes through diffusers' own convert_ldm_clip_checkpoint and then
        # transformers' from_pretrained (which drops the `text_model.` prefix and position_ids), and
        # is passed in; the UNet, VAE and bigG come from the single file alone.
        st_save(convert_ldm_clip_checkpoint(ckpt), str(tmp / "config/text_encoder/model.safetensors"))
        te1 = CLIPTextModel.from_pretrained(tmp / "config/text_encoder", local_files_only=True)
        (tmp / "config/text_encoder/model.safetensors").unlink()
        sf = StableDiffusionXLPipeline.from_single_file(str(tmp / "sdxl.safetensors"), config=str(tmp / "config"),
                                                        local_files_only=True, torch_dtype=torch.float32,
                                                        text_encoder=te1)
    for c in comps:
        got = getattr(sf, c).state_dict()
        assert set(got) == set(sds[c]), c
        for k, v in sds[c].items():
            assert got[k].dtype == v.dtype and torch.equal(got[k], v), (c, k)
    sf.scheduler = EulerDiscreteScheduler.from_config(SDXL_SCHEDULER)
    with torch.no_grad():
        out = sf(prompt="a photo of a cat", negative_prompt="blurry, ugly", guidance_scale=5.0, height=48, width=64,
                 num_inference_steps=4, latents=torch.from_numpy(np.load(cli / "sdxl_init_euler.npy")),
                 output_type="latent").images.numpy()
    d = np.abs(out - np.load(cli / "sdxl_generate.npz")["euler"]).max()
    print(f"sdxl_single_file.json: {len(tensors)} tensors, from_single_file euler max |diff| {d:.2e}")
    assert d <= 1e-6, d


LORA_MODULES = [
    "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
    "down_blocks.2.attentions.1.transformer_blocks.2.attn2.to_k",
    "up_blocks.0.attentions.2.transformer_blocks.1.ff.net.0.proj",
    "mid_block.attentions.0.proj_in",
    "up_blocks.1.resnets.2.conv1",
    "down_blocks.0.resnets.1.time_emb_proj",
    "down_blocks.0.downsamplers.0.conv",
]


def lora():
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import save_file as st_save

    model = det_model(TINY)
    full = dict(model.config)
    kohya, peft = {}, {}
    rank, alpha = 4, 2.0
    for i, m in enumerate(LORA_MODULES):
        w = model.get_submodule(m).weight
        down_shape = (rank, w.shape[1]) + tuple(w.shape[2:])
        up_shape = (w.shape[0], rank) + ((1, 1) if w.dim() == 4 else ())
        down = uniform(400 + 2 * i, down_shape, 0.3)
        up = uniform(401 + 2 * i, up_shape, 0.3)
        kname = "lora_unet_" + ldm_name(m, full).replace(".", "_")
        kohya[f"{kname}.lora_down.weight"] = down
        kohya[f"{kname}.lora_up.weight"] = up
        kohya[f"{kname}.alpha"] = torch.tensor(alpha)
        peft[f"unet.{m}.lora_A.weight"] = down
        peft[f"unet.{m}.lora_B.weight"] = up
    st_save(kohya, str(OUT / "lora_kohya.safetensors"))
    # diffusers/PEFT files carry no alpha: the PEFT copy is pre-scaled by alpha / rank.
    st_save({k: (v * (alpha / rank) if "lora_B" in k else v) for k, v in peft.items()}, str(OUT / "lora_peft.safetensors"))
    arrays = {}
    g = np.load(OUT / "unet_tiny.npz")
    args = (torch.from_numpy(g["a_sample"]), torch.from_numpy(g["a_t"]))
    kw = dict(encoder_hidden_states=torch.from_numpy(g["a_ehs"]),
              added_cond_kwargs={"text_embeds": torch.from_numpy(g["a_text_embeds"]),
                                 "time_ids": torch.from_numpy(g["a_time_ids"])})
    for tag, f in [("kohya", "lora_kohya.safetensors"), ("peft", "lora_peft.safetensors")]:
        unet = det_model(TINY)
        pipe = StableDiffusionXLPipeline(vae=None, text_encoder=None, text_encoder_2=None, tokenizer=None,
                                         tokenizer_2=None, unet=unet, scheduler=None)
        pipe.load_lora_weights(str(OUT / f))
        pipe.fuse_lora(lora_scale=0.7)
        pipe.unload_lora_weights()
        with torch.no_grad():
            arrays[f"{tag}_out"] = unet(*args, **kw).sample.numpy()
            for m in LORA_MODULES[:2]:
                arrays[f"{tag}_{m}"] = unet.get_submodule(m).weight.numpy()
    d = np.abs(arrays["kohya_out"] - arrays["peft_out"]).max()
    assert d < 1e-5, d
    save_npz(OUT / "lora.npz", arrays)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if "--big" in sys.argv:
        real()
        return
    tiny()
    ldm_keys()
    lora()
    pipeline()
    single_file()
    sd15_tiny()
    keys()
    (OUT / "GENERATOR.json").write_text(json.dumps({
        "script": "tools/golden/gen_unet.py",
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "numpy": np.__version__,
    }, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
