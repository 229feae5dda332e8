"""Golden fixtures for ultrares-dit (crates/dit/tests/fixtures/), from diffusers 0.36.0 on CPU.

Every model has `det_weight` weights (npz.py) recomputed in Rust from diffusers' key names; inputs
are stored (small) or `splitmix_uniform` draws.

* sd3_tiny.npz / sd3_tiny_config.json: dit.md §8.1-A, `SD3Transformer2DModel` with every path: patch
  2, a 12×8 latent whose 6×4 grid is cropped from a 12×12 table, SD3.5's dual attention (layer 0) and
  qk RMSNorm, the context-pre-only last block. N=2, 7 text tokens, t = [1000, 3.5]. Taps `pos`
  (patch embedding + cropped table), `temb`, `ctx` (context_embedder), `block{i}_x`/`block{i}_c`,
  `norm_out`, `out`. Prefix `a_`.
* sd3_tiny0.npz / sd3_tiny0_config.json: §8.1-A0, the same without dual attention and qk-norm
  (SD3-medium semantics), a 10×14 latent, N=1.
* flux_tiny.npz / flux_tiny_config.json: §8.1-B, `FluxTransformer2DModel` with guidance embeds: a
  (2,4,8,12) latent packed by `FluxPipeline._pack_latents` to (2,24,16), image ids of
  `_prepare_latent_image_ids(…, 4, 6)`, 7 zero text ids, t = [1.0, 0.25], guidance 3.5. Taps `x`
  (x_embedder), `temb`, `ctx`, `rope_cos`/`rope_sin`, `double{i}_x/_c`, `single{i}_x/_c`,
  `norm_out`, `out`; and `unpacked` (`_unpack_latents` of `out`, vae_scale_factor 8).
  `flux_tiny_noguide*`: the same model class without guidance embeds (`guidance_embeds=False`).
* dit_pos_embed.npz: SD3-medium's `PatchEmbed(pos_embed_max_size=192, embed_dim=1536)`: rows of
  `cropped_pos_embed` at a 128² patch grid (4096² through the F16 VAE) and at 128×96 (4096×3072),
  at the token indices `*_idx`; the error message of a grid larger than the table.
* dit_bf16.npz: Flux's `timestep.to(bf16) * 1000` for t and guidance values.
* dit_half_reference.json: diffusers' own f16/bf16 error on the tiny models (see `half_reference`).
* sd3_tiny_sai.safetensors / flux_tiny_bfl.safetensors: the tiny models in the original single-file
  layouts, checked with diffusers' own converters (see `single_files`).
* {sd3,flux}_lora_{peft,orig}.safetensors / dit_lora.npz: LoRA files in both layouts and diffusers'
  fused outputs (see `loras`).
* dit_keys.json: every (key, shape) of SD3-medium, SD3.5-medium, SD3.5-large, Flux-dev and
  Flux-schnell (meta device) and of the tiny models, with parameter counts.
* crates/cli/tests/fixtures/tiny_sd3/, tiny_flux/, dit_generate.npz, {sd3_cfg,sd3_nocfg,flux}_init.npy:
  tiny `StableDiffusion3Pipeline` / `FluxPipeline` folders and their final latents, Flux also with
  true CFG (`flux_true_cfg`: negative prompt, `true_cfg_scale`; see `pipelines`).
* crates/cli/tests/fixtures/{sd3,flux}_lora_te_peft.safetensors: LoRA files (diffusers/PEFT layout,
  rank 4, alpha 2 pre-scaled into lora_B) with pairs on the transformer and on the CLIP text encoders
  (SD3: `text_encoder` and `text_encoder_2`; Flux: `text_encoder`, CLIP-L); dit_generate.npz's
  `sd3_cfg_lora_te` / `flux_lora_te` are the `sd3_cfg` / `flux` runs with them fused at 0.7 (see
  `pipelines`).
* crates/cli/tests/fixtures/sd3_single_file.json: the tiny SD3 pipeline's five models as one SD3
  all-in-one single file in the layout of Stability AI's sd3_medium_incl_clips_t5xxlfp16.safetensors
  (MMDiT names under `model.diffusion_model.`, the LDM VAE under `first_stage_model.`, transformers'
  names under `text_encoders.clip_l.transformer.` / `text_encoders.clip_g.transformer.` /
  `text_encoders.t5xxl.transformer.`), in gen_unet.py's sdxl_single_file.json format: for each
  single-file key the `from` tensors concatenated on dim 0, transposed where `transpose` (never
  here), reshaped to `shape` (the VAE's mid-block attention as 1×1 convs). A `from` entry is
  [component, diffusers key] (the whole tensor) or [component, diffusers key, row_start, row_end]
  (rows [row_start, row_end) on dim 0): the original MMDiT stores `final_layer.adaLN_modulation.1`
  and the context-pre-only last block's `context_block.adaLN_modulation.1` as [shift; scale], where
  diffusers has [scale; shift] (rows [h, 2h) then [0, h)); attn/attn2 `qkv` are q;k;v. Every diffusers
  tensor of the five components is used exactly once (asserted). The tiny VAE keeps its quant convs
  (`first_stage_model.quant_conv` / `post_quant_conv`; SD3's real VAE has none); T5's tied
  `shared.weight` and `encoder.embed_tokens.weight` are both stored, as real files do; CLIP-L's
  `text_projection.weight` (24×32 here) is stored although SAI's files reportedly lack it and diffusers
  replaces it with an identity (hidden × hidden) when loading SD3 single files (see
  `sd3_single_file_map`). `extra` / `extra_int64` are empty. Checked by writing that file and
  loading it with diffusers' `from_single_file`: every tensor comes back exactly and the `sd3_cfg`
  case is reproduced (gen_dit.py --only single-file-map writes just this file).
* dit_wide.npz (only with --big, ≈ 6 GB and a few minutes): SD3-medium's width (1536, 24 heads of
  64, 4096/2048 conditioning) at 2 layers with a 32-patch table, 16×16 latent, 77+16 tokens; and
  Flux-dev's width (3072, 24 heads of 128, guidance) at 1 double + 1 single block, 16×16 latent
  (64 tokens), 24 text tokens. Inputs are `splitmix_uniform` draws; outputs `sd3_out`, `flux_out`.

Run: tools/golden/.venv/bin/python tools/golden/gen_dit.py [--big]
     tools/golden/.venv/bin/python tools/golden/gen_dit.py --only single-file-map  (sd3_single_file.json alone)
"""
import json
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from npz import det_weight, save_file, save_npz, splitmix_uniform  # noqa: E402

from diffusers import FluxPipeline, FluxTransformer2DModel, SD3Transformer2DModel  # noqa: E402
from diffusers.models.embeddings import PatchEmbed  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/dit/tests/fixtures"
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

SD3_A = dict(
    sample_size=16, patch_size=2, in_channels=4, num_layers=3, attention_head_dim=8, num_attention_heads=2,
    joint_attention_dim=24, caption_projection_dim=16, pooled_projection_dim=12, out_channels=4,
    pos_embed_max_size=12, dual_attention_layers=(0,), qk_norm="rms_norm",
)
SD3_A0 = dict(SD3_A, dual_attention_layers=(), qk_norm=None)
FLUX_B = dict(
    patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
    joint_attention_dim=24, pooled_projection_dim=12, guidance_embeds=True, axes_dims_rope=(4, 6, 6),
)
SD3_MEDIUM = dict(
    sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64, num_attention_heads=24,
    joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048, out_channels=16,
    pos_embed_max_size=192,
)
SD35_MEDIUM = dict(SD3_MEDIUM, pos_embed_max_size=384, dual_attention_layers=tuple(range(13)), qk_norm="rms_norm")
SD35_LARGE = dict(SD3_MEDIUM, num_layers=38, num_attention_heads=38, caption_projection_dim=2432, qk_norm="rms_norm")
FLUX_DEV = dict(
    patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128, num_attention_heads=24,
    joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56),
)
FLUX_SCHNELL = dict(FLUX_DEV, guidance_embeds=False)


def config_json(model):
    cfg = {"_class_name": type(model).__name__, **dict(model.config)}
    if "_use_default_values" in cfg:
        cfg["_use_default_values"] = sorted(cfg["_use_default_values"])
    return json.dumps(cfg, indent=1, sort_keys=True) + "\n"


def det_model(cls, config):
    torch.manual_seed(0)
    model = cls(**config).eval()
    sd = {k: torch.from_numpy(det_weight(k, list(v.shape))) for k, v in model.state_dict().items()}
    model.load_state_dict(sd, strict=True)
    return model


def uniform(seed, shape, scale=1.0):
    n = int(np.prod(shape))
    return torch.from_numpy((splitmix_uniform(seed, n) * scale).astype(np.float32).reshape(shape))


def hook_all(model, names, taps):
    """Forward hooks storing each module's output (tuples as name_c / name_x for blocks)."""
    hooks = []
    for tap, module_name in names:
        module = model.get_submodule(module_name)

        def hook(_m, _i, out, tap=tap):
            if isinstance(out, tuple):
                if tap == "rope":
                    taps["rope_cos"], taps["rope_sin"] = out[0].detach().clone(), out[1].detach().clone()
                    return
                c, x = out
                taps[f"{tap}_x"] = x.detach().clone()
                if c is not None:
                    taps[f"{tap}_c"] = c.detach().clone()
            else:
                taps[tap] = out.detach().clone()

        hooks.append(module.register_forward_hook(hook))
    return hooks


def sd3_case(model, prefix, x, enc, pooled, t):
    taps = {}
    names = [("pos", "pos_embed"), ("temb", "time_text_embed"), ("ctx", "context_embedder"), ("norm_out", "norm_out")]
    names += [(f"block{i}", f"transformer_blocks.{i}") for i in range(len(model.transformer_blocks))]
    hooks = hook_all(model, names, taps)
    with torch.no_grad():
        taps["out"] = model(x, encoder_hidden_states=enc, pooled_projections=pooled, timestep=t).sample
    for h in hooks:
        h.remove()
    arrays = {f"{prefix}_{k}": v.numpy() for k, v in taps.items()}
    arrays.update({f"{prefix}_x_in": x.numpy(), f"{prefix}_enc": enc.numpy(), f"{prefix}_pooled": pooled.numpy(), f"{prefix}_t": t.numpy()})
    return arrays


def sd3_tiny():
    model = det_model(SD3Transformer2DModel, SD3_A)
    (OUT / "sd3_tiny_config.json").write_text(config_json(model))
    arrays = sd3_case(model, "a", uniform(301, (2, 4, 12, 8), 2.0), uniform(302, (2, 7, 24)), uniform(303, (2, 12)), torch.tensor([1000.0, 3.5]))
    try:
        model(torch.zeros(1, 4, 26, 8), encoder_hidden_states=torch.zeros(1, 7, 24), pooled_projections=torch.zeros(1, 12), timestep=torch.tensor([1.0]))
        raise SystemExit("diffusers accepted a grid larger than the table")
    except ValueError as e:
        (OUT / "sd3_tiny_too_large.txt").write_text(str(e) + "\n")
    save_npz(OUT / "sd3_tiny.npz", arrays)

    model = det_model(SD3Transformer2DModel, SD3_A0)
    (OUT / "sd3_tiny0_config.json").write_text(config_json(model))
    arrays = sd3_case(model, "a", uniform(311, (1, 4, 10, 14), 2.0), uniform(312, (1, 5, 24)), uniform(313, (1, 12)), torch.tensor([651.25]))
    save_npz(OUT / "sd3_tiny0.npz", arrays)


def flux_case(model, prefix, latent, enc, pooled, t, guidance):
    b, c, h, w = latent.shape
    packed = FluxPipeline._pack_latents(latent, b, c, h, w)
    img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, latent.device, latent.dtype)
    txt_ids = torch.zeros(enc.shape[1], 3)
    taps = {}
    names = [("x", "x_embedder"), ("temb", "time_text_embed"), ("ctx", "context_embedder"), ("rope", "pos_embed"), ("norm_out", "norm_out")]
    names += [(f"double{i}", f"transformer_blocks.{i}") for i in range(len(model.transformer_blocks))]
    names += [(f"single{i}", f"single_transformer_blocks.{i}") for i in range(len(model.single_transformer_blocks))]
    hooks = hook_all(model, names, taps)
    with torch.no_grad():
        out = model(packed, encoder_hidden_states=enc, pooled_projections=pooled, timestep=t, img_ids=img_ids, txt_ids=txt_ids, guidance=guidance).sample
        # The deprecated 3-D ids give the same output.
        out3 = model(packed, encoder_hidden_states=enc, pooled_projections=pooled, timestep=t, img_ids=img_ids[None].repeat(b, 1, 1), txt_ids=txt_ids[None].repeat(b, 1, 1), guidance=guidance).sample
    assert torch.equal(out, out3)
    for hk in hooks:
        hk.remove()
    taps["out"] = out
    taps["unpacked"] = FluxPipeline._unpack_latents(out, h * 8, w * 8, 8)
    arrays = {f"{prefix}_{k}": v.numpy() for k, v in taps.items()}
    arrays.update({f"{prefix}_latent": latent.numpy(), f"{prefix}_packed": packed.numpy(), f"{prefix}_img_ids": img_ids.numpy(), f"{prefix}_enc": enc.numpy(), f"{prefix}_pooled": pooled.numpy(), f"{prefix}_t": t.numpy()})
    if guidance is not None:
        arrays[f"{prefix}_guidance"] = guidance.numpy()
    return arrays


def flux_tiny():
    model = det_model(FluxTransformer2DModel, FLUX_B)
    (OUT / "flux_tiny_config.json").write_text(config_json(model))
    arrays = flux_case(model, "a", uniform(401, (2, 4, 8, 12), 2.0), uniform(402, (2, 7, 24)), uniform(403, (2, 12)), torch.tensor([1.0, 0.25]), torch.tensor([3.5, 3.5]))
    save_npz(OUT / "flux_tiny.npz", arrays)
    model = det_model(FluxTransformer2DModel, dict(FLUX_B, guidance_embeds=False))
    (OUT / "flux_tiny_noguide_config.json").write_text(config_json(model))
    arrays = flux_case(model, "a", uniform(411, (1, 4, 6, 10), 2.0), uniform(412, (1, 5, 24)), uniform(413, (1, 12)), torch.tensor([0.7]), None)
    save_npz(OUT / "flux_tiny_noguide.npz", arrays)


def pos_embed():
    # SD3-medium: PatchEmbed(height=sample_size=128, …), so base_size = 64 and the spacing is 1/3.
    pe = PatchEmbed(height=128, width=128, patch_size=2, in_channels=16, embed_dim=1536, pos_embed_max_size=192)
    arrays = {}
    for name, (h, w) in {"sq": (256, 256), "wide": (256, 192)}.items():
        table = pe.cropped_pos_embed(h, w)[0].numpy()
        n = table.shape[0]
        idx = np.unique(np.concatenate([np.arange(0, 4), np.linspace(0, n - 1, 120).astype(np.int64), np.arange(n - 4, n)]))
        arrays[f"{name}_idx"] = idx.astype(np.float32)
        arrays[f"{name}_rows"] = table[idx]
    save_npz(OUT / "dit_pos_embed.npz", arrays)


def bf16():
    t = torch.tensor([0.999, 0.998, 0.5, 0.0123, 1.0])
    g = torch.tensor([3.5, 1.0, 4.0, 7.25])
    save_npz(OUT / "dit_bf16.npz", {
        "t": t.numpy(), "t_scaled": (t.to(torch.bfloat16) * 1000).float().numpy(),
        "g": g.numpy(), "g_scaled": (g.to(torch.bfloat16) * 1000).float().numpy(),
    })


def keys():
    out = {}
    with torch.device("meta"):
        for name, cls, cfg in [
            ("sd3_medium", SD3Transformer2DModel, SD3_MEDIUM), ("sd35_medium", SD3Transformer2DModel, SD35_MEDIUM),
            ("sd35_large", SD3Transformer2DModel, SD35_LARGE), ("sd3_tiny", SD3Transformer2DModel, SD3_A),
            ("sd3_tiny0", SD3Transformer2DModel, SD3_A0), ("flux_dev", FluxTransformer2DModel, FLUX_DEV),
            ("flux_schnell", FluxTransformer2DModel, FLUX_SCHNELL), ("flux_tiny", FluxTransformer2DModel, FLUX_B),
            ("flux_tiny_noguide", FluxTransformer2DModel, dict(FLUX_B, guidance_embeds=False)),
            ("sd3_pipe", SD3Transformer2DModel, SD3_PIPE), ("flux_pipe", FluxTransformer2DModel, FLUX_PIPE),
        ]:
            model = cls(**cfg)
            sd = model.state_dict()
            out[name] = {
                "parameters": sum(p.numel() for p in model.parameters()),
                "keys": {k: list(v.shape) for k, v in sd.items()},
            }
    (OUT / "dit_keys.json").write_text(json.dumps(out, sort_keys=True) + "\n")


def wide():
    arrays = {}
    cfg = dict(SD3_MEDIUM, num_layers=2, pos_embed_max_size=32)
    model = det_model(SD3Transformer2DModel, cfg)
    with torch.no_grad():
        arrays["sd3_out"] = model(uniform(501, (2, 16, 16, 16), 2.0), encoder_hidden_states=uniform(502, (2, 93, 4096)),
                                  pooled_projections=uniform(503, (2, 2048)), timestep=torch.tensor([981.0, 120.5])).sample.numpy()
    del model
    cfg = dict(FLUX_DEV, num_layers=1, num_single_layers=1)
    model = det_model(FluxTransformer2DModel, cfg)
    latent = uniform(511, (1, 16, 16, 16), 2.0)
    packed = FluxPipeline._pack_latents(latent, 1, 16, 16, 16)
    img_ids = FluxPipeline._prepare_latent_image_ids(1, 8, 8, latent.device, latent.dtype)
    with torch.no_grad():
        arrays["flux_out"] = model(packed, encoder_hidden_states=uniform(512, (1, 24, 4096)), pooled_projections=uniform(513, (1, 768)),
                                   timestep=torch.tensor([0.75]), img_ids=img_ids, txt_ids=torch.zeros(24, 3), guidance=torch.tensor([3.5])).sample.numpy()
    save_npz(OUT / "dit_wide.npz", arrays)

SD3_PIPE = dict(
    sample_size=16, patch_size=2, in_channels=4, num_layers=2, attention_head_dim=8, num_attention_heads=2,
    joint_attention_dim=128, caption_projection_dim=16, pooled_projection_dim=64, out_channels=4,
    pos_embed_max_size=16, dual_attention_layers=(0,), qk_norm="rms_norm",
)
FLUX_PIPE = dict(
    patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
    joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 6, 6),
)
SD3_SCHEDULER = {"num_train_timesteps": 1000, "shift": 3.0}
FLUX_SCHEDULER = {"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True, "base_shift": 0.5,
                  "max_shift": 1.15, "base_image_seq_len": 256, "max_image_seq_len": 4096}


def tiny_parts():
    """The tiny pipelines' shared parts: tokenizers (OpenAI's CLIP vocabulary, ultrares-text's T5
    tokenizer), builders of det-weight CLIP / T5 towers and ultrares-vae's tiny VAE."""
    import tempfile
    import types

    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTokenizer, T5Config, T5EncoderModel, T5TokenizerFast

    import gen_text

    root = pathlib.Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        gen_text.write_folders(gen_text.ASSET.read_bytes(), tmp)
        tok1 = CLIPTokenizer.from_pretrained(tmp / "tokenizer")
        tok2 = CLIPTokenizer.from_pretrained(tmp / "tokenizer_2")
    tok3 = T5TokenizerFast.from_pretrained(root / "crates/text/tests/fixtures/t5_tokenizer")

    def clip(cls, hidden, layers, inter, act, **kw):
        m = cls(CLIPTextConfig(vocab_size=49408, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                               intermediate_size=inter, hidden_act=act, **kw)).eval()
        gen_text.det_state_dict(m)
        return m

    def t5(d_model, d_kv, d_ff, layers, heads):
        m = T5EncoderModel(T5Config(vocab_size=700, d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=layers,
                                    num_heads=heads, relative_attention_max_distance=20,
                                    feed_forward_proj="gated-gelu")).eval()
        gen_text.det_state_dict(m)
        with torch.no_grad():
            m.shared.weight.copy_(torch.from_numpy(det_weight("shared.weight", list(m.shared.weight.shape))))
        return m

    vae = AutoencoderKL.from_pretrained(root / "crates/vae/tests/fixtures/tiny_vae", torch_dtype=torch.float32).eval()
    return types.SimpleNamespace(tok1=tok1, tok2=tok2, tok3=tok3, clip=clip, t5=t5, vae=vae)


def tiny_sd3_pipeline(parts):
    """The tiny `StableDiffusion3Pipeline` of `pipelines` (tiny_sd3), det weights."""
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    clip, t5 = parts.clip, parts.t5
    return StableDiffusion3Pipeline(
        transformer=det_model(SD3Transformer2DModel, SD3_PIPE),
        scheduler=FlowMatchEulerDiscreteScheduler(**SD3_SCHEDULER), vae=parts.vae,
        text_encoder=clip(CLIPTextModelWithProjection, 32, 3, 37, "quick_gelu", projection_dim=24), tokenizer=parts.tok1,
        text_encoder_2=clip(CLIPTextModelWithProjection, 64, 4, 96, "gelu", projection_dim=40), tokenizer_2=parts.tok2,
        text_encoder_3=t5(128, 16, 96, 2, 8), tokenizer_3=parts.tok3)


def pipelines():
    """Tiny `StableDiffusion3Pipeline` and `FluxPipeline` folders (crates/cli/tests/fixtures/tiny_sd3,
    tiny_flux; JSON files only, the Rust test writes det_weight weights, the tokenizers and the tiny VAE)
    and their final latents (`output_type="latent"`) from given initial latents, 4 steps:
    `sd3_cfg` (guidance 5, negative prompt), `sd3_nocfg` (guidance 1), `flux` (guidance 3.5, packed
    latents in and out), `flux_true_cfg` (the same run from the same flux_init.npy with Flux's true CFG:
    negative prompt "blurry, ugly", `true_cfg_scale` 4, embedded guidance 3.5 given to both passes;
    asserted to differ from `flux` by > 1e-3). Text towers as ultrares-text's sd3_prompt / flux_prompt
    fixtures (T5 tokenizer from its tokenizer.json), max_sequence_length 32.

    LoRA with text-encoder pairs, each on a fresh pipeline (same det weights), `load_lora_weights` +
    `fuse_lora(lora_scale=0.7)` (peft 0.21.2), diffusers/PEFT layout, rank 4, alpha 2 (lora_B
    pre-scaled by alpha / rank = 0.5, as PEFT files carry no alpha), values `uniform(seed, …, 0.3)`:
    * `sd3_cfg_lora_te`: `sd3_cfg` (same init) with sd3_lora_te_peft.safetensors (SD3_TE_LORA):
      `transformer.transformer_blocks.0.attn.to_q`, `transformer.transformer_blocks.1.ff.net.0.proj`,
      `text_encoder.text_model.encoder.layers.{0.self_attn.q_proj,2.mlp.fc1}` (CLIP-L) and
      `text_encoder_2.text_model.encoder.layers.{1.self_attn.v_proj,3.mlp.fc2}` (bigG). diffusers
      0.36's SD3LoraLoaderMixin loads `transformer.`, `text_encoder.` and `text_encoder_2.` pairs
      only: `text_encoder_3.` (T5) pairs are dropped with no message of their own, and it has no
      kohya converter at all (`lora_unet_…`, `lora_te1_/2_/3_…` are all dropped, with only the
      generic "No LoRA keys associated to …" warnings).
    * `flux_lora_te`: `flux` (same init, guidance 3.5) with flux_lora_te_peft.safetensors
      (FLUX_TE_LORA): `transformer.transformer_blocks.0.attn.to_q`,
      `transformer.single_transformer_blocks.0.proj_mlp`,
      `text_encoder.encoder.layers.{0.self_attn.q_proj,2.mlp.fc1}` (CLIP-L, which only gives the
      pooled vector; transformers 5's CLIPTextModel has no `text_model` level, and diffusers 0.36 drops
      `text_encoder.text_model.…` PEFT pairs with only transformers' "UNEXPECTED" load report).
      FluxLoraLoaderMixin loads `transformer.` and `text_encoder.` pairs only: `text_encoder_2.` (T5)
      pairs are dropped with no message of their own (kohya files: `lora_te_` goes to CLIP-L,
      `lora_te1_`/`lora_te2_` are dropped silently, `text_encoders.t5xxl.` with an info log). Its
      `fuse_lora` fuses only the transformer by default, leaving CLIP pairs active, unfused, at
      scale 1; this fixture passes `components=["transformer", "text_encoder"]`, so every pair is
      fused at 0.7.
    Each is asserted to differ from the run without LoRA by > 1e-3, and from the same run with the
    file's text-encoder pairs removed by > 1e-4."""
    import shutil
    import tempfile

    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline
    from safetensors.torch import load_file
    from transformers import CLIPTextModel

    root = pathlib.Path(__file__).resolve().parents[2]
    cli = root / "crates/cli/tests/fixtures"
    parts = tiny_parts()
    tok1, tok3, clip, t5, vae = parts.tok1, parts.tok3, parts.clip, parts.t5, parts.vae

    def save(pipe, name):
        dst = cli / name
        if dst.exists():
            shutil.rmtree(dst)
        with tempfile.TemporaryDirectory() as tmp:
            pipe.save_pretrained(tmp)
            for f in sorted(pathlib.Path(tmp).rglob("*.json")):
                rel = f.relative_to(tmp)
                if rel.parts[0].startswith("tokenizer"):
                    continue
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                (dst / rel).write_text(json.dumps(json.loads(f.read_text()), indent=1, sort_keys=True) + "\n")

    def make_sd3():
        return tiny_sd3_pipeline(parts)

    def make_flux():
        return FluxPipeline(
            transformer=det_model(FluxTransformer2DModel, FLUX_PIPE),
            scheduler=FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER), vae=vae,
            text_encoder=clip(CLIPTextModel, 32, 3, 37, "quick_gelu", eos_token_id=2), tokenizer=tok1,
            text_encoder_2=t5(32, 8, 48, 3, 4), tokenizer_2=tok3)

    def with_lora(make, path, components, keep=lambda k: True):
        """A fresh pipeline with the pairs of `path` whose key passes `keep`, fused at 0.7."""
        pipe = make()
        with tempfile.TemporaryDirectory() as tmp:
            part = pathlib.Path(tmp) / "lora.safetensors"
            save_file({k: v for k, v in load_file(str(path)).items() if keep(k)}, part, {"format": "pt"})
            pipe.load_lora_weights(str(part))
        pipe.fuse_lora(components=components, lora_scale=0.7)
        return pipe

    def not_te(k):
        return not k.startswith("text_encoder")

    arrays = {}
    sd3 = make_sd3()
    save(sd3, "tiny_sd3")
    h, w = 24, 32
    sd3_cases = [("sd3_cfg", dict(negative_prompt="blurry, ugly", guidance_scale=5.0)), ("sd3_nocfg", dict(guidance_scale=1.0))]
    sd3_inits = {}
    for i, (tag, kw) in enumerate(sd3_cases):
        init = torch.randn((1, 4, h // 2, w // 2), generator=torch.Generator().manual_seed(10 + i))
        np.save(cli / f"{tag}_init.npy", init.numpy())
        sd3_inits[tag] = init
        with torch.no_grad():
            arrays[tag] = sd3(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4, latents=init.clone(),
                              output_type="latent", max_sequence_length=32, **kw).images.numpy()

    # sd3_cfg with sd3_lora_te_peft.safetensors (transformer + both CLIP towers) fused at 0.7 on a
    # fresh pipeline; SD3LoraLoaderMixin.fuse_lora's default components are all three.
    lora = sd3_te_lora_file(cli, make_sd3())
    sd3_components = ["transformer", "text_encoder", "text_encoder_2"]

    def sd3_lora_run(keep):
        pipe = with_lora(make_sd3, lora, sd3_components, keep)
        with torch.no_grad():
            return pipe(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4,
                        latents=sd3_inits["sd3_cfg"].clone(), output_type="latent", max_sequence_length=32,
                        **sd3_cases[0][1]).images.numpy()

    arrays["sd3_cfg_lora_te"] = sd3_lora_run(lambda k: True)
    d_lora = float(np.abs(arrays["sd3_cfg_lora_te"] - arrays["sd3_cfg"]).max())
    d_te = float(np.abs(arrays["sd3_cfg_lora_te"] - sd3_lora_run(not_te)).max())
    print(f"sd3_cfg_lora_te: max |Δ| vs sd3_cfg {d_lora:.3e}, vs without the text-encoder pairs {d_te:.3e}")
    assert d_lora > 1e-3, f"the LoRA changed the SD3 latents by only {d_lora}"
    assert d_te > 1e-4, f"the text-encoder pairs changed the SD3 latents by only {d_te}"

    flux = make_flux()
    save(flux, "tiny_flux")
    h, w = 32, 48
    init = torch.randn((1, (h // 4) * (w // 4), 16), generator=torch.Generator().manual_seed(20))
    np.save(cli / "flux_init.npy", init.numpy())
    with torch.no_grad():
        arrays["flux"] = flux(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4, latents=init.clone(),
                              output_type="latent", max_sequence_length=32, guidance_scale=3.5).images.numpy()
        arrays["flux_true_cfg"] = flux(prompt="a photo of a cat", negative_prompt="blurry, ugly", true_cfg_scale=4.0,
                                       height=h, width=w, num_inference_steps=4, latents=init.clone(), output_type="latent",
                                       max_sequence_length=32, guidance_scale=3.5).images.numpy()
    true_cfg_diff = float(np.abs(arrays["flux_true_cfg"] - arrays["flux"]).max())
    assert true_cfg_diff > 1e-3, f"true CFG changed the Flux latents by only {true_cfg_diff}"

    # flux with flux_lora_te_peft.safetensors (transformer + CLIP-L) fused at 0.7 on a fresh pipeline.
    # FluxLoraLoaderMixin.fuse_lora fuses only ["transformer"] by default, leaving the CLIP pairs
    # unfused at scale 1; the fixture fuses both at 0.7 (components given), one scale for every pair.
    lora = flux_te_lora_file(cli, make_flux())

    def flux_lora_run(keep, components=("transformer", "text_encoder")):
        pipe = with_lora(make_flux, lora, list(components), keep)
        with torch.no_grad():
            return pipe(prompt="a photo of a cat", height=h, width=w, num_inference_steps=4, latents=init.clone(),
                        output_type="latent", max_sequence_length=32, guidance_scale=3.5).images.numpy()

    arrays["flux_lora_te"] = flux_lora_run(lambda k: True)
    d_lora = float(np.abs(arrays["flux_lora_te"] - arrays["flux"]).max())
    d_te = float(np.abs(arrays["flux_lora_te"] - flux_lora_run(not_te)).max())
    d_default = float(np.abs(arrays["flux_lora_te"] - flux_lora_run(lambda k: True, ["transformer"])).max())
    print(f"flux_lora_te: max |Δ| vs flux {d_lora:.3e}, vs without the text-encoder pairs {d_te:.3e}, "
          f"vs diffusers' default fuse_lora components (CLIP pairs at scale 1) {d_default:.3e}")
    assert d_lora > 1e-3, f"the LoRA changed the Flux latents by only {d_lora}"
    assert d_te > 1e-4, f"the text-encoder pairs changed the Flux latents by only {d_te}"
    save_npz(cli / "dit_generate.npz", arrays)


def te_lora_pairs(sd, prefix, model, modules, seed, rank=4, alpha=2.0):
    """Rank-4 pairs (alpha 2) on `modules` of `model` under `prefix` in the diffusers/PEFT layout
    (`<prefix><module>.lora_A/B.weight`); PEFT files carry no alpha, so lora_B is pre-scaled by
    alpha / rank (as gen_unet.py's te_lora_file)."""
    for i, m in enumerate(modules):
        w = model.get_submodule(m).weight
        sd[f"{prefix}{m}.lora_A.weight"] = uniform(seed + 2 * i, (rank, w.shape[1]), 0.3)
        sd[f"{prefix}{m}.lora_B.weight"] = uniform(seed + 2 * i + 1, (w.shape[0], rank), 0.3) * (alpha / rank)


# Module names as diffusers 0.36 + transformers 5 name them: SD3's towers are
# CLIPTextModelWithProjection (which keeps the `text_model` level), Flux's CLIP-L is CLIPTextModel
# (which transformers 5 builds without it; `text_encoder.text_model.…` pairs are dropped there).
SD3_TE_LORA = [
    ("transformer.", "transformer", ["transformer_blocks.0.attn.to_q", "transformer_blocks.1.ff.net.0.proj"], 1301),
    ("text_encoder.", "text_encoder", ["text_model.encoder.layers.0.self_attn.q_proj", "text_model.encoder.layers.2.mlp.fc1"], 1311),
    ("text_encoder_2.", "text_encoder_2", ["text_model.encoder.layers.1.self_attn.v_proj", "text_model.encoder.layers.3.mlp.fc2"], 1321),
]
FLUX_TE_LORA = [
    ("transformer.", "transformer", ["transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.proj_mlp"], 1401),
    ("text_encoder.", "text_encoder", ["encoder.layers.0.self_attn.q_proj", "encoder.layers.2.mlp.fc1"], 1411),
]


def sd3_te_lora_file(cli, pipe):
    """crates/cli/tests/fixtures/sd3_lora_te_peft.safetensors: SD3_TE_LORA's pairs on the tiny SD3 pipeline."""
    sd = {}
    for prefix, component, modules, seed in SD3_TE_LORA:
        te_lora_pairs(sd, prefix, getattr(pipe, component), modules, seed)
    save_file(sd, cli / "sd3_lora_te_peft.safetensors", {"format": "pt"})
    return cli / "sd3_lora_te_peft.safetensors"


def flux_te_lora_file(cli, pipe):
    """crates/cli/tests/fixtures/flux_lora_te_peft.safetensors: FLUX_TE_LORA's pairs on the tiny Flux pipeline."""
    sd = {}
    for prefix, component, modules, seed in FLUX_TE_LORA:
        te_lora_pairs(sd, prefix, getattr(pipe, component), modules, seed)
    save_file(sd, cli / "flux_lora_te_peft.safetensors", {"format": "pt"})
    return cli / "flux_lora_te_peft.safetensors"


def sd3_sai_sources(sd, cfg):
    """{original MMDiT name (no prefix): [[diffusers key] or [diffusers key, row_start, row_end], …]}
    for every tensor of an SD3Transformer2DModel state dict `sd`: the inverse of diffusers 0.36's
    convert_sd3_transformer_checkpoint_to_diffusers. q;k;v are fused on dim 0; the modulations that
    converter passes through `swap_scale_shift` (the final layer's and the context-pre-only last
    block's context adaLN, diffusers [scale; shift]) are stored [shift; scale]: rows [h, 2h) then [0, h)."""
    m = {"pos_embed": [["pos_embed.pos_embed"]]}

    def lin(src, dst, leaves=("weight", "bias")):
        for s in leaves:
            m[f"{dst}.{s}"] = [[f"{src}.{s}"]]

    def fused(srcs, dst):
        for s in ("weight", "bias"):
            m[f"{dst}.{s}"] = [[f"{x}.{s}"] for x in srcs]

    def swapped(src, dst):
        for s in ("weight", "bias"):
            k = f"{src}.{s}"
            r = sd[k].shape[0]
            m[f"{dst}.{s}"] = [[k, r // 2, r], [k, 0, r // 2]]

    lin("pos_embed.proj", "x_embedder.proj")
    for a, b in (("timestep_embedder", "t_embedder"), ("text_embedder", "y_embedder")):
        lin(f"time_text_embed.{a}.linear_1", f"{b}.mlp.0")
        lin(f"time_text_embed.{a}.linear_2", f"{b}.mlp.2")
    lin("context_embedder", "context_embedder")
    n = cfg["num_layers"]
    for i in range(n):
        d, j = f"transformer_blocks.{i}", f"joint_blocks.{i}"
        fused([f"{d}.attn.to_{x}" for x in "qkv"], f"{j}.x_block.attn.qkv")
        fused([f"{d}.attn.add_{x}_proj" for x in "qkv"], f"{j}.context_block.attn.qkv")
        if cfg.get("qk_norm"):
            for a, b in (("norm_q", "x_block.attn.ln_q"), ("norm_k", "x_block.attn.ln_k"),
                         ("norm_added_q", "context_block.attn.ln_q"), ("norm_added_k", "context_block.attn.ln_k")):
                lin(f"{d}.attn.{a}", f"{j}.{b}", ("weight",))
        lin(f"{d}.attn.to_out.0", f"{j}.x_block.attn.proj")
        lin(f"{d}.norm1.linear", f"{j}.x_block.adaLN_modulation.1")
        lin(f"{d}.ff.net.0.proj", f"{j}.x_block.mlp.fc1")
        lin(f"{d}.ff.net.2", f"{j}.x_block.mlp.fc2")
        if i == n - 1:  # context_pre_only: no context proj / mlp, a [shift; scale] AdaLayerNormContinuous
            swapped(f"{d}.norm1_context.linear", f"{j}.context_block.adaLN_modulation.1")
        else:
            lin(f"{d}.attn.to_add_out", f"{j}.context_block.attn.proj")
            lin(f"{d}.norm1_context.linear", f"{j}.context_block.adaLN_modulation.1")
            lin(f"{d}.ff_context.net.0.proj", f"{j}.context_block.mlp.fc1")
            lin(f"{d}.ff_context.net.2", f"{j}.context_block.mlp.fc2")
        if i in cfg.get("dual_attention_layers", ()):
            fused([f"{d}.attn2.to_{x}" for x in "qkv"], f"{j}.x_block.attn2.qkv")
            if cfg.get("qk_norm"):
                for x in "qk":
                    lin(f"{d}.attn2.norm_{x}", f"{j}.x_block.attn2.ln_{x}", ("weight",))
            lin(f"{d}.attn2.to_out.0", f"{j}.x_block.attn2.proj")
    lin("proj_out", "final_layer.linear")
    swapped("norm_out.linear", "final_layer.adaLN_modulation.1")
    return m


# Keys of an SD3 all-in-one file that diffusers drops: none known (SD3's reference text-encoder code,
# sd3_impls' other_impls.py, holds no position_ids buffer or logit_scale; not checked against the
# real 15.8 GB file); kept for the sdxl_single_file.json format.
SD3_EXTRA = {}
SD3_EXTRA_INT64 = {}


def sd3_single_file_map():
    """crates/cli/tests/fixtures/sd3_single_file.json: how an SD3 all-in-one single file (the layout of
    Stability AI's sd3_medium_incl_clips_t5xxlfp16.safetensors) is built from the tiny SD3 pipeline's
    diffusers tensors (`tiny_sd3_pipeline`, the pipeline of `pipelines`), checked by building that file
    and loading it with diffusers' `StableDiffusion3Pipeline.from_single_file`: every tensor of the five
    components comes back exactly and the `sd3_cfg` case equals the folder pipeline's run (computed
    here, in the same process). Run alone: gen_dit.py --only single-file-map."""
    import tempfile

    from diffusers import StableDiffusion3Pipeline
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint
    from safetensors.torch import save_file as st_save
    from transformers import CLIPTextModelWithProjection

    from gen_unet import vae_ldm_name

    cli = pathlib.Path(__file__).resolve().parents[2] / "crates/cli/tests/fixtures"
    pipe = tiny_sd3_pipeline(tiny_parts())
    comps = ("transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3")
    sds = {c: getattr(pipe, c).state_dict() for c in comps}
    tensors = []
    for key, src in sd3_sai_sources(sds["transformer"], dict(pipe.transformer.config)).items():
        tensors.append({"key": "model.diffusion_model." + key, "from": [["transformer", *s] for s in src]})
    n_up = len(pipe.vae.config.up_block_types)
    prefixes = {"text_encoder": "text_encoders.clip_l.transformer.", "text_encoder_2": "text_encoders.clip_g.transformer.",
                "text_encoder_3": "text_encoders.t5xxl.transformer."}
    for c in comps[1:]:
        for k in sds[c]:
            key = "first_stage_model." + vae_ldm_name(k, n_up) if c == "vae" else prefixes[c] + k
            tensors.append({"key": key, "from": [[c, k]]})

    def part(f):
        t = sds[f[0]][f[1]]
        return t[f[2]:f[3]] if len(f) == 4 else t

    for e in tensors:
        t = torch.cat([part(f) for f in e["from"]])
        e["transpose"] = False
        e["shape"] = list(t.shape)
        if e["key"].startswith("first_stage_model.") and ".attn_1." in e["key"] and t.dim() == 2:
            e["shape"] += [1, 1]  # 1x1 convs in the LDM VAE, Linear in diffusers
    tensors.sort(key=lambda e: e["key"])
    assert len({e["key"] for e in tensors}) == len(tensors)
    # Every diffusers tensor exactly once: in one entry, its row slices tiling [0, rows).
    seen = {}
    for i, e in enumerate(tensors):
        for f in e["from"]:
            seen.setdefault((f[0], f[1]), []).append((i, *(f[2:] if len(f) == 4 else (0, sds[f[0]][f[1]].shape[0]))))
    assert set(seen) == {(c, k) for c in comps for k in sds[c]}, set(seen) ^ {(c, k) for c in comps for k in sds[c]}
    for (c, k), uses in seen.items():
        assert len({u[0] for u in uses}) == 1, (c, k, uses)
        rows = sorted(u[1:] for u in uses)
        assert rows[0][0] == 0 and rows[-1][1] == sds[c][k].shape[0], (c, k, rows)
        assert all(a[1] == b[0] for a, b in zip(rows, rows[1:])), (c, k, rows)
    (cli / "sd3_single_file.json").write_text(json.dumps(
        {"tensors": tensors, "extra": SD3_EXTRA, "extra_int64": SD3_EXTRA_INT64}, indent=0, sort_keys=True) + "\n")

    ckpt = {}
    for e in tensors:
        t = torch.cat([part(f) for f in e["from"]])
        ckpt[e["key"]] = (t.T if e["transpose"] else t).reshape(e["shape"]).contiguous()
    ckpt.update({k: torch.zeros(s) for k, s in SD3_EXTRA.items()})
    ckpt.update({k: torch.arange(s[-1]).expand(s).contiguous() for k, s in SD3_EXTRA_INT64.items()})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        st_save(ckpt, str(tmp / "sd3.safetensors"))
        # Configs and tokenizers only: a component the file does not provide fails to load.
        pipe.save_pretrained(tmp / "config")
        for f in (tmp / "config").rglob("*.safetensors"):
            f.unlink()
        # Two workarounds. (1) diffusers 0.36's create_diffusers_clip_model_from_ldm sets CLIP-L's
        # `text_projection.weight` to torch.eye(hidden) for SD3 files, whatever the file holds (SD3
        # uses CLIP-L's pooled output unprojected; SAI's files reportedly carry no CLIP-L projection);
        # the tiny CLIP-L projects 32 -> 24, so that path fails (shape mismatch) and CLIP-L goes
        # through diffusers' own convert_ldm_clip_checkpoint (the same prefix strip) and transformers'
        # from_pretrained instead, and is passed in. bigG, T5, the transformer and the VAE come from
        # the single file alone. (2) create_diffusers_t5_model_from_checkpoint never calls eval(): the
        # T5 it returns is in training mode, dropout 0.1 on, so its prompt embeddings are random.
        st_save({k: v.contiguous() for k, v in convert_ldm_clip_checkpoint(ckpt, prefixes["text_encoder"]).items()},
                str(tmp / "config/text_encoder/model.safetensors"))
        te1 = CLIPTextModelWithProjection.from_pretrained(tmp / "config/text_encoder", local_files_only=True)
        (tmp / "config/text_encoder/model.safetensors").unlink()
        sf = StableDiffusion3Pipeline.from_single_file(str(tmp / "sd3.safetensors"), config=str(tmp / "config"),
                                                       local_files_only=True, torch_dtype=torch.float32,
                                                       text_encoder=te1)
    assert sf.text_encoder_3.training
    sf.text_encoder_3.eval()
    n = 0
    for c in comps:
        got = getattr(sf, c).state_dict()
        assert set(got) == set(sds[c]), (c, set(got) ^ set(sds[c]))
        for k, v in sds[c].items():
            assert got[k].dtype == v.dtype and torch.equal(got[k], v), (c, k)
            n += 1
    run = dict(prompt="a photo of a cat", negative_prompt="blurry, ugly", guidance_scale=5.0, height=24, width=32,
               num_inference_steps=4, output_type="latent", max_sequence_length=32)
    init = torch.from_numpy(np.load(cli / "sd3_cfg_init.npy"))
    with torch.no_grad():
        want = pipe(latents=init.clone(), **run).images.numpy()
        raw = sf(latents=init.clone(), **run).images.numpy()
        # The loaded tensors are views into the mmap'd file at unaligned addresses, which sends some
        # CPU GEMMs down another path (≈ 2e-7 on CLIP's text_projection): the same values in fresh
        # (aligned) memory give the folder pipeline's numbers.
        for c in comps:
            for t in [*getattr(sf, c).parameters(), *getattr(sf, c).buffers()]:
                t.data = t.data.clone()
        got = sf(latents=init.clone(), **run).images.numpy()
    d_raw, d = float(np.abs(raw - want).max()), float(np.abs(got - want).max())
    print(f"sd3_single_file.json: {len(tensors)} file tensors from {n} diffusers tensors (all equal after loading); "
          f"from_single_file sd3_cfg max |diff| {d:.2e} ({d_raw:.2e} on the mmap'd tensors; max |latent| "
          f"{np.abs(want).max():.3f})")
    assert d_raw <= 1e-5, d_raw
    assert d <= 1e-6, d


def half_reference():
    """diffusers' own half-precision error on the tiny models (the whole model cast, inputs cast, torch
    2.15 on CPU): max |half − f32| / max |f32| of the output; the Rust dtype test's tolerances derive
    from it. Writes dit_half_reference.json and the half outputs (as f32) to dit_half.npz."""
    out, arrays = {}, {}
    for name, cls, cfg in [("sd3_tiny", SD3Transformer2DModel, SD3_A), ("flux_tiny", FluxTransformer2DModel, FLUX_B)]:
        model = det_model(cls, cfg)
        g = np.load(OUT / f"{name}.npz")
        t = lambda k: torch.from_numpy(g[f"a_{k}"])  # noqa: E731
        if name == "sd3_tiny":
            args = lambda m, d: m(t("x_in").to(d), encoder_hidden_states=t("enc").to(d),  # noqa: E731
                                  pooled_projections=t("pooled").to(d), timestep=t("t")).sample
        else:
            args = lambda m, d: m(t("packed").to(d), encoder_hidden_states=t("enc").to(d),  # noqa: E731
                                  pooled_projections=t("pooled").to(d), timestep=t("t"), img_ids=t("img_ids"),
                                  txt_ids=torch.zeros(g["a_enc"].shape[1], 3), guidance=t("guidance")).sample
        with torch.no_grad():
            ref = args(model, torch.float32)
            for dtype in (torch.float16, torch.bfloat16):
                got = args(model.to(dtype), dtype).float()
                out[f"{name}_{str(dtype)[6:]}"] = float((got - ref).abs().max() / ref.abs().max())
                arrays[f"{name}_{str(dtype)[6:]}"] = got.numpy()
                model = model.float()
    (OUT / "dit_half_reference.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    save_npz(OUT / "dit_half.npz", arrays)


def single_files():
    """Tiny original-format checkpoints: `sd3_tiny_sai.safetensors` (Stability AI names under
    `model.diffusion_model.`, plus a text-encoder key all-in-one files carry) of sd3_tiny's det
    weights, and `flux_tiny_bfl.safetensors` (Black Forest Labs names) of flux_tiny's. Both are built
    by inverting diffusers' converters and checked with them: `convert_*_checkpoint_to_diffusers`
    gives back exactly the det state dict (Flux's converter hard-codes inner_dim 3072; it runs with
    the tiny width patched in)."""
    import inspect

    from diffusers.loaders import single_file_utils as sfu
    def cat(*ts):
        return torch.cat(ts, 0).contiguous()

    def swap(t):
        scale, shift = t.chunk(2, 0)
        return cat(shift, scale)

    def lin(out, sd, src, dst):
        for s in ("weight", "bias"):
            out[f"{dst}.{s}"] = sd[f"{src}.{s}"]

    sd3 = det_model(SD3Transformer2DModel, SD3_A).state_dict()
    n = SD3_A["num_layers"]
    o = {"pos_embed": sd3["pos_embed.pos_embed"]}
    lin(o, sd3, "pos_embed.proj", "x_embedder.proj")
    for a, b in (("timestep_embedder", "t_embedder"), ("text_embedder", "y_embedder")):
        lin(o, sd3, f"time_text_embed.{a}.linear_1", f"{b}.mlp.0")
        lin(o, sd3, f"time_text_embed.{a}.linear_2", f"{b}.mlp.2")
    lin(o, sd3, "context_embedder", "context_embedder")
    for i in range(n):
        d, j = f"transformer_blocks.{i}", f"joint_blocks.{i}"
        for s in ("weight", "bias"):
            o[f"{j}.x_block.attn.qkv.{s}"] = cat(*(sd3[f"{d}.attn.to_{x}.{s}"] for x in "qkv"))
            o[f"{j}.context_block.attn.qkv.{s}"] = cat(*(sd3[f"{d}.attn.add_{x}_proj.{s}"] for x in "qkv"))
        for a, b in (("norm_q", "x_block.attn.ln_q"), ("norm_k", "x_block.attn.ln_k"),
                     ("norm_added_q", "context_block.attn.ln_q"), ("norm_added_k", "context_block.attn.ln_k")):
            o[f"{j}.{b}.weight"] = sd3[f"{d}.attn.{a}.weight"]
        lin(o, sd3, f"{d}.attn.to_out.0", f"{j}.x_block.attn.proj")
        lin(o, sd3, f"{d}.norm1.linear", f"{j}.x_block.adaLN_modulation.1")
        lin(o, sd3, f"{d}.ff.net.0.proj", f"{j}.x_block.mlp.fc1")
        lin(o, sd3, f"{d}.ff.net.2", f"{j}.x_block.mlp.fc2")
        if i == n - 1:
            for s in ("weight", "bias"):
                o[f"{j}.context_block.adaLN_modulation.1.{s}"] = swap(sd3[f"{d}.norm1_context.linear.{s}"])
        else:
            lin(o, sd3, f"{d}.attn.to_add_out", f"{j}.context_block.attn.proj")
            lin(o, sd3, f"{d}.norm1_context.linear", f"{j}.context_block.adaLN_modulation.1")
            lin(o, sd3, f"{d}.ff_context.net.0.proj", f"{j}.context_block.mlp.fc1")
            lin(o, sd3, f"{d}.ff_context.net.2", f"{j}.context_block.mlp.fc2")
        if i in SD3_A["dual_attention_layers"]:
            for s in ("weight", "bias"):
                o[f"{j}.x_block.attn2.qkv.{s}"] = cat(*(sd3[f"{d}.attn2.to_{x}.{s}"] for x in "qkv"))
            for x in "qk":
                o[f"{j}.x_block.attn2.ln_{x}.weight"] = sd3[f"{d}.attn2.norm_{x}.weight"]
            lin(o, sd3, f"{d}.attn2.to_out.0", f"{j}.x_block.attn2.proj")
    lin(o, sd3, "proj_out", "final_layer.linear")
    for s in ("weight", "bias"):
        o[f"final_layer.adaLN_modulation.1.{s}"] = swap(sd3[f"norm_out.linear.{s}"])
    full = {f"model.diffusion_model.{k}": v.contiguous() for k, v in o.items()}
    back = sfu.convert_sd3_transformer_checkpoint_to_diffusers(dict(full))
    assert back.keys() == sd3.keys(), set(back) ^ set(sd3)
    assert all(torch.equal(back[k], sd3[k]) for k in sd3)
    full["text_encoders.clip_l.transformer.text_model.final_layer_norm.weight"] = torch.ones(4)
    save_file(full, OUT / "sd3_tiny_sai.safetensors", {"format": "pt"})

    flux = det_model(FluxTransformer2DModel, FLUX_B).state_dict()
    dim = FLUX_B["num_attention_heads"] * FLUX_B["attention_head_dim"]
    o = {}
    for a, b in (("timestep_embedder", "time_in"), ("text_embedder", "vector_in"), ("guidance_embedder", "guidance_in")):
        lin(o, flux, f"time_text_embed.{a}.linear_1", f"{b}.in_layer")
        lin(o, flux, f"time_text_embed.{a}.linear_2", f"{b}.out_layer")
    lin(o, flux, "context_embedder", "txt_in")
    lin(o, flux, "x_embedder", "img_in")
    for i in range(FLUX_B["num_layers"]):
        d, j = f"transformer_blocks.{i}", f"double_blocks.{i}"
        lin(o, flux, f"{d}.norm1.linear", f"{j}.img_mod.lin")
        lin(o, flux, f"{d}.norm1_context.linear", f"{j}.txt_mod.lin")
        for s in ("weight", "bias"):
            o[f"{j}.img_attn.qkv.{s}"] = cat(*(flux[f"{d}.attn.to_{x}.{s}"] for x in "qkv"))
            o[f"{j}.txt_attn.qkv.{s}"] = cat(*(flux[f"{d}.attn.add_{x}_proj.{s}"] for x in "qkv"))
        for a, b in (("norm_q", "img_attn.norm.query_norm"), ("norm_k", "img_attn.norm.key_norm"),
                     ("norm_added_q", "txt_attn.norm.query_norm"), ("norm_added_k", "txt_attn.norm.key_norm")):
            o[f"{j}.{b}.scale"] = flux[f"{d}.attn.{a}.weight"]
        for a, b in (("ff.net.0.proj", "img_mlp.0"), ("ff.net.2", "img_mlp.2"), ("ff_context.net.0.proj", "txt_mlp.0"),
                     ("ff_context.net.2", "txt_mlp.2"), ("attn.to_out.0", "img_attn.proj"), ("attn.to_add_out", "txt_attn.proj")):
            lin(o, flux, f"{d}.{a}", f"{j}.{b}")
    for i in range(FLUX_B["num_single_layers"]):
        d, j = f"single_transformer_blocks.{i}", f"single_blocks.{i}"
        lin(o, flux, f"{d}.norm.linear", f"{j}.modulation.lin")
        for s in ("weight", "bias"):
            o[f"{j}.linear1.{s}"] = cat(*(flux[f"{d}.attn.to_{x}.{s}"] for x in "qkv"), flux[f"{d}.proj_mlp.{s}"])
        o[f"{j}.norm.query_norm.scale"] = flux[f"{d}.attn.norm_q.weight"]
        o[f"{j}.norm.key_norm.scale"] = flux[f"{d}.attn.norm_k.weight"]
        lin(o, flux, f"{d}.proj_out", f"{j}.linear2")
    lin(o, flux, "proj_out", "final_layer.linear")
    for s in ("weight", "bias"):
        o[f"final_layer.adaLN_modulation.1.{s}"] = swap(flux[f"norm_out.linear.{s}"])
    o = {k: v.contiguous() for k, v in o.items()}
    src = inspect.getsource(sfu.convert_flux_transformer_checkpoint_to_diffusers).replace(
        "inner_dim = 3072", f"inner_dim = {dim}")
    scope = dict(vars(sfu))
    exec(src, scope)
    back = scope["convert_flux_transformer_checkpoint_to_diffusers"](dict(o))
    assert back.keys() == flux.keys(), set(back) ^ set(flux)
    assert all(torch.equal(back[k], flux[k]) for k in flux)
    save_file(o, OUT / "flux_tiny_bfl.safetensors", {"format": "pt"})


def loras():
    """LoRA files for the tiny SD3 (sd3_tiny) and Flux (flux_tiny) models and diffusers' outputs after
    `load_lora_weights` + `fuse_lora(lora_scale=0.7)` (peft 0.21.2) on case `a`'s inputs:
    * `{sd3,flux}_lora_peft.safetensors`: diffusers/PEFT layout (`transformer.<path>.lora_A/B.weight`,
      rank 4, no alpha), q/k/v (and Flux's proj_mlp) of a block sharing their `lora_A`;
    * `{sd3,flux}_lora_orig.safetensors`: the same LoRA in kohya layout with the original names
      (`lora_unet_joint_blocks_0_x_block_attn_qkv`, `lora_unet_double_blocks_0_img_attn_qkv`,
      `lora_unet_single_blocks_0_linear1`, `…final_layer_adaLN_modulation_1` with its `[shift, scale]`
      rows, alpha = rank): fused `up` rows = the concatenated `lora_B`s, the shared `lora_A` as `down`.
      diffusers 0.36 loads the Flux one itself (`_convert_kohya_flux_lora_to_diffusers`, its hard-coded
      3072 widths patched to the tiny model's) and gives the PEFT output (asserted; the file avoids
      `lora_unet_img_in`/`txt_in`/`time_in`, which that converter maps without the `transformer.`
      prefix, so diffusers drops them — ultrares merges them); it has no converter
      for SD3's original names, whose meaning is the single-file mapping checked in `single_files`.
    Writes dit_lora.npz (`sd3_out`, `flux_out`)."""
    import inspect

    import diffusers.loaders.lora_conversion_utils as lcu
    import diffusers.loaders.lora_pipeline as lp
    from diffusers import FluxPipeline, StableDiffusion3Pipeline

    r = 4

    def mat(seed, shape):
        return uniform(seed, shape, 0.5)

    def build(model, groups, orig_names, seed):
        """groups: list of lists of diffusers modules sharing one lora_A; orig_names: the original fused
        name of each group (or None) and a row permutation for swapped modulations."""
        sd = model.state_dict()
        peft, orig = {}, {}
        for gi, (mods, (oname, swap)) in enumerate(zip(groups, orig_names)):
            inp = sd[f"{mods[0]}.weight"].shape[1]
            a = mat(seed + 100 * gi, (r, inp))
            bs = [mat(seed + 100 * gi + 1 + j, (sd[f"{m}.weight"].shape[0], r)) for j, m in enumerate(mods)]
            for m, b in zip(mods, bs):
                peft[f"transformer.{m}.lora_A.weight"] = a
                peft[f"transformer.{m}.lora_B.weight"] = b
            up = torch.cat(bs, 0)
            if swap:
                h = up.shape[0] // 2
                up = torch.cat([up[h:], up[:h]], 0)
            orig[f"lora_unet_{oname}.lora_down.weight"] = a
            orig[f"lora_unet_{oname}.lora_up.weight"] = up.contiguous()
            orig[f"lora_unet_{oname}.alpha"] = torch.tensor(float(r))
        return peft, orig

    arrays = {}
    g = np.load(OUT / "sd3_tiny.npz")
    t = lambda k: torch.from_numpy(g[f"a_{k}"])  # noqa: E731
    model = det_model(SD3Transformer2DModel, SD3_A)
    peft, orig = build(model, [
        ["transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_v"],
        ["transformer_blocks.1.ff.net.0.proj"], ["transformer_blocks.0.attn2.to_out.0"], ["context_embedder"],
        ["norm_out.linear"],
    ], [("joint_blocks_0_x_block_attn_qkv", False), ("joint_blocks_1_x_block_mlp_fc1", False),
        ("joint_blocks_0_x_block_attn2_proj", False), ("context_embedder", False),
        ("final_layer_adaLN_modulation_1", True)], 601)
    save_file(peft, OUT / "sd3_lora_peft.safetensors", {"format": "pt"})
    save_file(orig, OUT / "sd3_lora_orig.safetensors", {"format": "pt"})
    pipe = StableDiffusion3Pipeline(transformer=model, scheduler=None, vae=None, text_encoder=None, tokenizer=None,
                                    text_encoder_2=None, tokenizer_2=None, text_encoder_3=None, tokenizer_3=None)
    pipe.load_lora_weights(str(OUT / "sd3_lora_peft.safetensors"))
    pipe.fuse_lora(lora_scale=0.7)
    with torch.no_grad():
        arrays["sd3_out"] = model(t("x_in"), encoder_hidden_states=t("enc"), pooled_projections=t("pooled"),
                                  timestep=t("t")).sample.numpy()

    g = np.load(OUT / "flux_tiny.npz")
    dim = FLUX_B["num_attention_heads"] * FLUX_B["attention_head_dim"]

    def flux_out(path, patched):
        model = det_model(FluxTransformer2DModel, FLUX_B)
        pipe = FluxPipeline(transformer=model, scheduler=None, vae=None, text_encoder=None, tokenizer=None,
                            text_encoder_2=None, tokenizer_2=None)
        if patched:
            src = inspect.getsource(lcu._convert_kohya_flux_lora_to_diffusers).replace(
                "dims=[3072, 3072, 3072, 12288]", f"dims=[{dim}, {dim}, {dim}, {4 * dim}]")
            scope = dict(vars(lcu))
            exec(src, scope)
            lp._convert_kohya_flux_lora_to_diffusers = scope["_convert_kohya_flux_lora_to_diffusers"]
        pipe.load_lora_weights(str(path))
        pipe.fuse_lora(lora_scale=0.7)
        with torch.no_grad():
            return model(t("packed"), encoder_hidden_states=t("enc"), pooled_projections=t("pooled"), timestep=t("t"),
                         img_ids=t("img_ids"), txt_ids=torch.zeros(g["a_enc"].shape[1], 3),
                         guidance=t("guidance")).sample

    peft, orig = build(det_model(FluxTransformer2DModel, FLUX_B), [
        ["transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_v"],
        ["single_transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.attn.to_k",
         "single_transformer_blocks.0.attn.to_v", "single_transformer_blocks.0.proj_mlp"],
        ["transformer_blocks.1.attn.to_add_out"], ["single_transformer_blocks.1.proj_out"],
        ["transformer_blocks.0.norm1.linear"],
    ], [("double_blocks_0_img_attn_qkv", False), ("single_blocks_0_linear1", False),
        ("double_blocks_1_txt_attn_proj", False), ("single_blocks_1_linear2", False),
        ("double_blocks_0_img_mod_lin", False)], 701)
    save_file(peft, OUT / "flux_lora_peft.safetensors", {"format": "pt"})
    save_file(orig, OUT / "flux_lora_orig.safetensors", {"format": "pt"})
    out = flux_out(OUT / "flux_lora_peft.safetensors", False)
    out_kohya = flux_out(OUT / "flux_lora_orig.safetensors", True)
    assert (out - out_kohya).abs().max() <= 1e-5 * out.abs().max(), (out - out_kohya).abs().max()
    arrays["flux_out"] = out.numpy()
    save_npz(OUT / "dit_lora.npz", arrays)


if __name__ == "__main__":
    ONLY = {"single-file-map": sd3_single_file_map}
    if "--only" in sys.argv:
        ONLY[sys.argv[sys.argv.index("--only") + 1]]()
        sys.exit()
    OUT.mkdir(parents=True, exist_ok=True)
    sd3_tiny()
    flux_tiny()
    pos_embed()
    bf16()
    keys()
    half_reference()
    single_files()
    loras()
    pipelines()
    sd3_single_file_map()
    if "--big" in sys.argv:
        wide()
    (OUT / "GENERATOR.json").write_text(json.dumps({"script": "tools/golden/gen_dit.py", "diffusers": __import__("diffusers").__version__, "numpy": np.__version__, "torch": torch.__version__}, indent=1) + "\n")
