"""Golden fixtures for ultrares-nn.

References (requirements.txt): torch 2.15.0 (`F.gelu`, `F.layer_norm`, `F.group_norm`,
`F.scaled_dot_product_attention`), diffusers 0.36.0 (`get_timestep_embedding`, `Timesteps`,
`TimestepEmbedding`, `GEGLU`, `RMSNorm`), transformers (`QuickGELUActivation`, `T5LayerNorm`),
safetensors 0.8.0 (`save_file`, `safe_open`).

Writes crates/nn/tests/fixtures/:
* nn.npz       layers on hashed inputs (`splitmix_uniform`) with hashed weights (`det_weight`,
               recomputed by the Rust test): activations, norms, GEGLU, timestep embeddings,
               TimestepEmbedding, and torch's SDPA with a boolean mask.
* sharded/     a checkpoint in two safetensors shards + `model.safetensors.index.json` with
               F32/F16/BF16/I64 tensors, written by `safetensors.torch.save_file`;
               `listing.json` is what `safe_open` reports for it (name, dtype, shape) and
               `values.npz` the tensors as float64/int64.
"""
import json
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import det_weight, save_npz, splitmix_uniform  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/nn/tests/fixtures"


def uni(seed, shape, scale=1.0):
    return torch.from_numpy((splitmix_uniform(seed, int(np.prod(shape))) * scale).astype(np.float32).reshape(shape))


def w(key, shape):
    return torch.from_numpy(det_weight(key, list(shape)))


def main():
    from diffusers.models.activations import GEGLU
    from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_timestep_embedding
    from diffusers.models.normalization import RMSNorm
    from transformers.activations import QuickGELUActivation
    from transformers.models.t5.modeling_t5 import T5LayerNorm

    torch.manual_seed(0)
    out = {}
    x = uni(1, [2, 5, 24], 4.0)
    out["x"] = x
    out["gelu"] = F.gelu(x)
    out["gelu_tanh"] = F.gelu(x, approximate="tanh")
    out["quick_gelu"] = QuickGELUActivation()(x)
    out["silu"] = F.silu(x)
    # LayerNorm (affine and not), RMSNorm (diffusers) and T5LayerNorm (transformers).
    lw, lb = w("ln.weight", [24]), w("ln.bias", [24])
    out["layer_norm"] = F.layer_norm(x, [24], lw, lb, 1e-5)
    out["layer_norm_plain"] = F.layer_norm(x, [24], None, None, 1e-6)
    rms = RMSNorm(24, eps=1e-6)
    rms.weight.data = w("rms.weight", [24])
    out["rms_norm"] = rms(x).detach()
    t5 = T5LayerNorm(24, eps=1e-6)
    t5.weight.data = w("rms.weight", [24])
    out["t5_layer_norm"] = t5(x).detach()
    # GroupNorm over [2, 32, 9, 7], 8 groups, eps 1e-6 (the VAE's), magnitude 30.
    g = uni(2, [2, 32, 9, 7], 30.0)
    out["gn_x"] = g
    out["group_norm"] = F.group_norm(g, 8, w("gn.weight", [32]), w("gn.bias", [32]), 1e-6)
    # GEGLU 24 -> 16.
    geglu = GEGLU(24, 16)
    geglu.proj.weight.data = w("proj.weight", [32, 24])
    geglu.proj.bias.data = w("proj.bias", [32])
    out["geglu"] = geglu(x).detach()
    # Timestep embeddings: SD/SDXL UNet (320, flip, shift 0), diffusers' defaults (256, shift 1),
    # an odd width with scale and period.
    t = torch.tensor([0.0, 1.0, 250.5, 999.0])
    out["t"] = t
    out["temb_unet"] = Timesteps(320, True, 0)(t)
    out["temb_default"] = get_timestep_embedding(t, 256)
    out["temb_odd"] = get_timestep_embedding(t, 7, flip_sin_to_cos=False, downscale_freq_shift=1, scale=2.0, max_period=500)
    te = TimestepEmbedding(320, 1280)
    for name in ["linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias"]:
        p = dict(te.named_parameters())[name]
        p.data = w(f"time_embedding.{name}", p.shape)
    out["time_embedding"] = te(out["temb_unet"]).detach()
    # SDPA with a boolean mask: torch's True = attend; the fixture stores Burn's convention
    # (true = hidden).
    q, k, v = uni(3, [1, 2, 10, 8]), uni(4, [1, 2, 13, 8]), uni(5, [1, 2, 13, 6])
    hidden = uni(6, [1, 2, 10, 13]) > 0.4
    hidden[0, 1, 3, :] = True  # a fully masked row: torch gives NaN there, Burn 0
    out["q"], out["k"], out["v"] = q, k, v
    out["mask_hidden"] = hidden.to(torch.uint8)
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=~hidden)
    out["sdpa"] = torch.nan_to_num(sdpa, nan=0.0)
    out["sdpa_causal"] = F.scaled_dot_product_attention(q, k[:, :, :10], v[:, :, :10], is_causal=True)
    OUT.mkdir(parents=True, exist_ok=True)
    save_npz(OUT / "nn.npz", {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in out.items()})
    sharded()


def sharded():
    from safetensors import safe_open
    from safetensors.torch import save_file

    d = OUT / "sharded"
    d.mkdir(parents=True, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "a.weight": uni(10, [4, 3]).to(torch.float16),
            "a.bias": uni(11, [4]).to(torch.bfloat16),
        },
        "model-00002-of-00002.safetensors": {
            "b.weight": uni(12, [2, 2, 3, 3]),
            "b.position_ids": torch.arange(5, dtype=torch.int64).reshape(1, 5),
        },
    }
    weight_map, listing, values = {}, [], {}
    for file, tensors in shards.items():
        save_file(tensors, d / file, metadata={"format": "pt"})
        for name in tensors:
            weight_map[name] = file
        with safe_open(d / file, "pt") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                listing.append({"name": name, "dtype": sl.get_dtype(), "shape": sl.get_shape()})
                t = f.get_tensor(name)
                values[name] = t.to(torch.float64).numpy() if t.is_floating_point() else t.numpy()
    total = sum(t.numel() * t.element_size() for s in shards.values() for t in s.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    listing.sort(key=lambda e: e["name"])
    (d / "listing.json").write_text(json.dumps(listing, indent=1) + "\n")
    save_npz(d / "values.npz", values)
    gen = {"script": "tools/golden/gen_nn.py", "torch": torch.__version__}
    import diffusers, safetensors, transformers  # noqa: E401
    gen.update(diffusers=diffusers.__version__, transformers=transformers.__version__, safetensors=safetensors.__version__)
    (OUT / "GENERATOR.json").write_text(json.dumps(gen, indent=2) + "\n")


if __name__ == "__main__":
    main()
