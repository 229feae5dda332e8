"""Golden fixtures for ultrares-vae.

References:
* diffusers 0.36.0 `AutoencoderKL` (requirements.txt): encoder, decoder, `enable_tiling()`'s
  `tiled_decode`/`_tiled_encode`, `convert_ldm_vae_checkpoint` (single-file LDM layout).
* Diffusion-4K (zhang0jhon/diffusion-4k@9bea802, `vae.py` + `autoencoder_kl.py`): the F16 VAE
  (stride 2) and its partitioned decoding. Needs `D4K_DIR`, a checkout of that repository (or a
  git directory); without it the committed `d4k.npz` is kept.

Writes crates/vae/tests/fixtures/:
* small.npz   block_out_channels (32, 64), 2 layers per block, hashed weights (`det_weight`,
  recomputed by the Rust test): `image` [1,3,48,64] → `moments`; `latent` [1,4,20,28] →
  `decoded`; tiled (tile_sample_min_size 32 / tile_latent_min_size 16): `tiled_image`
  [1,3,80,112] → `tiled_moments`, `tiled_latent` [1,4,40,56] → `tiled_decoded`.
* sdxl.npz    the SDXL topology (SD 1.5/SDXL VAE config, 83.7 M parameters) with hashed weights:
  `image` [1,3,64,64] → `moments`; `latent` [1,4,8,8] → `decoded`; tiled decode with
  tile_sample_min_size 64 (8-latent tiles) of `tiled_latent` [1,4,14,12] → `tiled_decoded`.
* d4k.npz     Diffusion-4K's F16 VAE (stride 2) on the small config with hashed weights:
  `image` [1,3,64,64] → `moments` (latent 16²/… of the stride-2 encoder), `latent` [1,4,8,10] →
  `partitioned` and `plain` decodes.
* tiny_vae/   `save_pretrained` output of a seeded random tiny AutoencoderKL (block_out_channels
  (32, 32), 1 layer per block, weights stored in f16): config.json + diffusion_pytorch_model.safetensors;
  tiny_ldm.safetensors the same weights in the LDM layout under `first_stage_model.` (checked to
  convert back with diffusers' `convert_ldm_vae_checkpoint`); tiny.npz an image/latent pair and
  the model's moments/decode.

Latents passed to the Rust API are model-space (`z · scaling_factor`), stored as `*_model`.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from npz import det_weight, save_file, save_npz, splitmix_uniform  # noqa: E402

from diffusers import AutoencoderKL  # noqa: E402
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/vae/tests/fixtures"
torch.set_num_threads(2)


def det_image(seed, shape):
    return splitmix_uniform(seed, int(np.prod(shape))).reshape(shape).astype(np.float32)


def det_latent(seed, shape):
    return (2.0 * splitmix_uniform(seed, int(np.prod(shape)))).reshape(shape).astype(np.float32)


def hashed(model):
    sd = {k: torch.from_numpy(det_weight(k, tuple(v.shape))) for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    return model.eval()


def small_config():
    return dict(
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
    )


def sdxl_config():
    return dict(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=1024,
        scaling_factor=0.13025,
    )


def run(vae, image, latent):
    """Moments of `image` and the decode of the model-space `latent`."""
    with torch.no_grad():
        moments = vae._encode(torch.from_numpy(image))
        decoded = vae.decode(torch.from_numpy(latent) / vae.config.scaling_factor).sample
    return moments.numpy(), decoded.numpy()


def small():
    vae = hashed(AutoencoderKL(**small_config()))
    s = vae.config.scaling_factor
    out = {"image": det_image(11, (1, 3, 48, 64)), "latent_model": det_latent(12, (1, 4, 20, 28))}
    out["moments"], out["decoded"] = run(vae, out["image"], out["latent_model"])
    vae.enable_tiling()
    vae.tile_sample_min_size, vae.tile_latent_min_size = 32, 16
    out["tiled_image"] = det_image(13, (1, 3, 80, 112))
    out["tiled_latent_model"] = det_latent(14, (1, 4, 40, 56))
    with torch.no_grad():
        out["tiled_moments"] = vae._encode(torch.from_numpy(out["tiled_image"])).numpy()
        out["tiled_decoded"] = vae.decode(torch.from_numpy(out["tiled_latent_model"]) / s).sample.numpy()
    save_npz(OUT / "small.npz", out)


def sdxl():
    vae = hashed(AutoencoderKL(**sdxl_config()))
    s = vae.config.scaling_factor
    out = {"image": det_image(21, (1, 3, 64, 64)), "latent_model": det_latent(22, (1, 4, 8, 8))}
    out["moments"], out["decoded"] = run(vae, out["image"], out["latent_model"])
    vae.enable_tiling()
    vae.tile_sample_min_size, vae.tile_latent_min_size = 64, 8
    out["tiled_latent_model"] = det_latent(23, (1, 4, 14, 12))
    with torch.no_grad():
        out["tiled_decoded"] = vae.decode(torch.from_numpy(out["tiled_latent_model"]) / s).sample.numpy()
    save_npz(OUT / "sdxl.npz", out)


def d4k():
    src = os.environ.get("D4K_DIR")
    if not src:
        print("D4K_DIR not set: keeping the committed d4k.npz")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for f in ["vae.py", "autoencoder_kl.py"]:
            if (pathlib.Path(src) / f).exists():
                (pathlib.Path(tmp) / f).write_bytes((pathlib.Path(src) / f).read_bytes())
            else:  # a git directory
                blob = subprocess.run(["git", "--git-dir", src, "show", f"HEAD:{f}"], check=True,
                                      capture_output=True).stdout
                (pathlib.Path(tmp) / f).write_bytes(blob)
        sys.path.insert(0, tmp)
        import autoencoder_kl as d4k_ae  # noqa: E402
        vae = hashed(d4k_ae.AutoencoderKL(**small_config(), stride=2))
        s = vae.config.scaling_factor
        out = {"image": det_image(31, (1, 3, 64, 64)), "latent_model": det_latent(32, (1, 4, 8, 10))}
        with torch.no_grad():
            out["moments"] = vae.encode(torch.from_numpy(out["image"])).latent_dist.parameters.numpy()
            z = torch.from_numpy(out["latent_model"]) / s
            out["partitioned"] = vae.decode(z, partitioned=True).sample.numpy()
            out["plain"] = vae.decode(z, partitioned=False).sample.numpy()
        sys.path.remove(tmp)
    save_npz(OUT / "d4k.npz", out)


LDM_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def to_ldm(sd, n_up):
    """diffusers → LDM names (the inverse of convert_ldm_vae_checkpoint), 1×1-conv attention."""
    out = {}
    for k, v in sd.items():
        n = k.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
        n = n.replace("mid_block.resnets.0", "mid.block_1").replace("mid_block.resnets.1", "mid.block_2")
        if ".mid_block.attentions.0." in n:
            side, rest = n.split(".mid_block.attentions.0.")
            layer, param = rest.rsplit(".", 1)
            n = f"{side}.mid.attn_1.{LDM_ATTN[layer]}.{param}"
            if param == "weight" and v.ndim == 2:
                v = v[:, :, None, None]
        parts = n.split(".")
        if parts[1] == "down_blocks":
            sub = "block" if parts[3] == "resnets" else "downsample"
            rest = parts[5:] if sub == "block" else parts[5:]
            idx = [parts[4]] if sub == "block" else []
            n = ".".join(["encoder", "down", parts[2], sub, *idx, *rest])
        elif parts[1] == "up_blocks":
            i = n_up - 1 - int(parts[2])
            sub = "block" if parts[3] == "resnets" else "upsample"
            idx = [parts[4]] if sub == "block" else []
            n = ".".join(["decoder", "up", str(i), sub, *idx, *parts[5:]])
        out["first_stage_model." + n] = v.contiguous()
    return out


def tiny():
    torch.manual_seed(0)
    cfg = dict(small_config(), block_out_channels=(32, 32), layers_per_block=1)
    vae = AutoencoderKL(**cfg).eval()
    # Non-trivial norms and biases (diffusers initialises them to 1 and 0).
    with torch.no_grad():
        for k, p in vae.named_parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    # Stored in f16 (small files; exercises the loader's conversion); the goldens use the same
    # f16-rounded weights in f32.
    vae = vae.half()
    target = OUT / "tiny_vae"
    vae.save_pretrained(target)
    sd = vae.state_dict()
    ldm = to_ldm(sd, len(cfg["block_out_channels"]))
    back = convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    assert sorted(back) == sorted(sd), set(back) ^ set(sd)
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    save_file(ldm, OUT / "tiny_ldm.safetensors", {})
    vae = vae.float()
    out = {"image": det_image(41, (1, 3, 32, 48)), "latent_model": det_latent(42, (1, 4, 12, 10))}
    out["moments"], out["decoded"] = run(vae, out["image"], out["latent_model"])
    save_npz(OUT / "tiny.npz", out)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    small()
    sdxl()
    d4k()
    tiny()
    import diffusers
    versions = {"torch": torch.__version__, "numpy": np.__version__, "diffusers": diffusers.__version__,
                "diffusion-4k": "9bea802"}
    (OUT / "GENERATOR.json").write_text(json.dumps({"script": "tools/golden/gen_vae.py", "versions": versions},
                                                   indent=1) + "\n")
