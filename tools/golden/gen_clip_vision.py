"""Golden fixtures for CLIP's image tower and CLIPScore (issue #22).

* crates/text/tests/fixtures/clip_vision.npz (+ clip_vision_config.json, clip_vision_keys.json):
  a tiny transformers `CLIPVisionModelWithProjection` (32 wide, 3 layers, 4 heads, 32² images in
  8² patches, projection 24) with `det_weight` weights (npz.py) over the listed keys, on det
  pixel values: every hidden state, the last state, the pooled output and the image embeddings.
* crates/metrics/tests/fixtures/clip_score.npz (+ clip_score_config.json, clip_score_keys.json,
  clip_score_captions.json): torchmetrics' `clip_score` with a tiny `CLIPModel` (text 32 wide /
  2 layers, vision 32 wide / 2 layers at 224² in 32² patches, projection 16, eos_token_id 2 as the
  OpenAI configs) and the real OpenAI tokenizer + image processor configuration, on 8 uint8 images
  of assorted sizes and 8 captions (one longer than 77 tokens): the processed pixel values, the
  token ids, the per-pair scores and the metric.

Run: tools/golden/.venv/bin/python tools/golden/gen_clip_vision.py (pins: requirements.txt).
"""
import json
import pathlib
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from npz import det_weight, save_npz  # noqa: E402
import gen_text  # noqa: E402

TEXT = ROOT / "crates/text/tests/fixtures"
METRICS = ROOT / "crates/metrics/tests/fixtures"

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
PREPROCESSOR = {
    "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": MEAN, "image_std": STD,
    "resample": 3, "size": 224,
}
CAPTIONS = [
    "a photo of a cat",
    "an astronaut riding a horse on mars, highly detailed",
    "",
    "A red bicycle leaning against a brick wall!!!",
    "snow-capped mountains at sunrise, 8k, ultra high resolution " * 8,
    "zwei Hunde im Park — café au lait",
    "a bowl of ramen 🍜 with chopsticks",
    "abstract painting",
]
SIZES = [(224, 224), (240, 320), (300, 200), (97, 131), (260, 250), (224, 225), (64, 64), (230, 345)]


def det_model(model):
    import torch

    sd = {k: torch.from_numpy(det_weight(k, list(v.shape))) for k, v in model.state_dict().items()}
    model.load_state_dict(sd, strict=True)
    return {k: list(v.shape) for k, v in sd.items()}


def save_config(model, cls, path):
    with tempfile.TemporaryDirectory() as tmp:
        model.config.architectures = [cls]
        model.config.save_pretrained(tmp)
        path.write_text((pathlib.Path(tmp) / "config.json").read_text())


def vision_real():
    """OpenAI ViT-B/16 and ViT-L/14 image towers at their real sizes (det_weight weights,
    generated on both sides, never stored) on one det image each: `image_embeds`, the pooled
    output and every 16th token of the last hidden state (clip_vision_real.npz)."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.set_num_threads(2)
    specs = {
        "b16": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                    patch_size=16, projection_dim=512),
        "l14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                    patch_size=14, projection_dim=768),
    }
    arrays, keys = {}, {}
    x = det_weight("pixel_values_real", [1, 3, 224, 224]) * 2.0  # recomputed in Rust, not stored
    for name, kw in specs.items():
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(image_size=224, hidden_act="quick_gelu", **kw)).eval()
        keys[name] = det_model(model)
        with torch.no_grad():
            out = model(pixel_values=torch.from_numpy(x), output_hidden_states=False)
            pooled = model.vision_model.post_layernorm(out.last_hidden_state[:, 0])
        arrays[f"{name}_image_embeds"] = out.image_embeds.numpy()
        arrays[f"{name}_pooled"] = pooled.numpy()
        arrays[f"{name}_last_every16"] = out.last_hidden_state[:, ::16].numpy()
        save_config(model, "CLIPVisionModelWithProjection", TEXT / f"clip_vision_{name}_config.json")
    save_npz(TEXT / "clip_vision_real.npz", arrays)
    (TEXT / "clip_vision_real_keys.json").write_text(json.dumps(keys, indent=0) + "\n")


def vision():
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4,
                           image_size=32, patch_size=8, projection_dim=24, hidden_act="quick_gelu")
    model = CLIPVisionModelWithProjection(cfg).eval()
    keys = det_model(model)
    x = det_weight("pixel_values", [2, 3, 32, 32]) * 2.0
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(x), output_hidden_states=True)
    save_npz(TEXT / "clip_vision.npz", {
        "pixel_values": x,
        "hidden": torch.stack(out.hidden_states).numpy(),
        "last": out.last_hidden_state.numpy(),
        "image_embeds": out.image_embeds.numpy(),
    })
    save_config(model, "CLIPVisionModelWithProjection", TEXT / "clip_vision_config.json")
    (TEXT / "clip_vision_keys.json").write_text(json.dumps({"vision": keys}, indent=0) + "\n")


def clip_score():
    import torch
    from torchmetrics.functional.multimodal.clip_score import clip_score as tm_clip_score
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.set_num_threads(1)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=77, eos_token_id=2, bos_token_id=0, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=224, patch_size=32),
        projection_dim=16,
    )
    model = CLIPModel(cfg).eval()
    keys = det_model(model)
    # torchmetrics 1.9 expects transformers 4's `get_*_features` (a tensor); transformers 5 returns
    # an output whose `pooler_output` is that tensor (the projected embedding).
    for name in ("get_image_features", "get_text_features"):
        bound = getattr(model, name)
        setattr(model, name, lambda *a, _f=bound, **k: getattr(_f(*a, **k), "pooler_output", _f(*a, **k)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        gen_text.write_folders(gen_text.bpe_gz(), tmp)
        folder = tmp / "tokenizer"
        (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
        tok = CLIPTokenizer.from_pretrained(folder)
        processor = CLIPProcessor.from_pretrained(folder)
    print("image processor:", type(processor.image_processor).__name__)
    rng = np.random.RandomState(7)
    images = [rng.randint(0, 256, size=(h, w, 3)).astype(np.uint8) for h, w in SIZES]
    # Smooth content too, so resampling matters: a gradient blended into each image.
    for img in images:
        h, w, _ = img.shape
        g = (np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))).astype(np.uint8)
        img[:] = (img.astype(np.uint16) // 8 + g.astype(np.uint16) * 7 // 8).astype(np.uint8)
    tensors = [torch.from_numpy(i).permute(2, 0, 1).contiguous() for i in images]
    with torch.no_grad():
        metric = tm_clip_score(tensors, CAPTIONS, model_name_or_path=lambda: (model, processor))
        pixels = processor(images=[t for t in tensors], return_tensors="pt")["pixel_values"]
        text = processor(text=CAPTIONS, return_tensors="pt", padding=True)
        ids = text["input_ids"][..., :77]
        mask = text["attention_mask"][..., :77]
        img_f = model.get_image_features(pixels)
        txt_f = model.get_text_features(ids, mask)
        img_f = img_f / img_f.norm(p=2, dim=-1, keepdim=True)
        txt_f = txt_f / txt_f.norm(p=2, dim=-1, keepdim=True)
        scores = 100 * (img_f * txt_f).sum(-1)
    assert abs(float(torch.clamp(scores.mean(), min=0)) - float(metric)) < 1e-4, (scores, metric)
    subset = [1, 5, 3]
    metric_subset = tm_clip_score([tensors[i] for i in subset], [CAPTIONS[i] for i in subset],
                                  model_name_or_path=lambda: (model, processor))
    assert any(len(tok(c).input_ids) > 77 for c in CAPTIONS)
    arrays = {f"image_{i}": img for i, img in enumerate(images)}
    arrays.update(pixel_values=pixels.numpy(), input_ids=ids.numpy().astype(np.int64), scores=scores.numpy(),
                  metric=np.array(float(metric), dtype=np.float32),
                  subset=np.array(subset, dtype=np.int64), metric_subset=np.array(float(metric_subset), dtype=np.float32))
    save_npz(METRICS / "clip_score.npz", arrays)
    save_config(model, "CLIPModel", METRICS / "clip_score_config.json")
    (METRICS / "clip_score_keys.json").write_text(json.dumps(keys, indent=0) + "\n")
    (METRICS / "clip_score_captions.json").write_text(json.dumps(CAPTIONS, ensure_ascii=False, indent=0) + "\n")
    (METRICS / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2) + "\n")
    print("scores", scores.numpy(), "metric", float(metric), "subset", float(metric_subset))


def aesthetics():
    """The LAION aesthetic MLP (det_weight weights; with D4K_DIR, also the real
    `improved-aesthetic-predictor/sac+logos+ava1-l14-linearMSE.pth` of a Diffusion-4K checkout,
    whose scores — not weights — are saved) on det embeddings, and the `clip` package's
    preprocessing (torchvision transforms on PIL images) of the CLIPScore images (every 7th value)."""
    import os

    import torch
    import torchvision.transforms as T
    from PIL import Image

    mlp = torch.nn.Sequential(torch.nn.Linear(768, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128),
                              torch.nn.Dropout(0.2), torch.nn.Linear(128, 64), torch.nn.Dropout(0.1),
                              torch.nn.Linear(64, 16), torch.nn.Linear(16, 1)).eval()
    holder = torch.nn.Module()
    holder.layers = mlp
    keys = det_model(holder)
    emb = det_weight("aesthetic_embeddings", [5, 768]) * 3.0

    def normalized(a):  # simple_inference.py
        l2 = np.atleast_1d(np.linalg.norm(a, 2, -1))
        l2[l2 == 0] = 1
        return a / np.expand_dims(l2, -1)

    with torch.no_grad():
        arrays = {"embeddings": emb, "scores_det": holder.layers(torch.from_numpy(normalized(emb))).numpy()[:, 0]}
        d4k = os.environ.get("D4K_DIR")
        if d4k:
            real = pathlib.Path(d4k) / "improved-aesthetic-predictor/sac+logos+ava1-l14-linearMSE.pth"
            holder.load_state_dict(torch.load(real, map_location="cpu"))
            arrays["scores_real"] = holder.layers(torch.from_numpy(normalized(emb))).numpy()[:, 0]
            print("real aesthetic scores", arrays["scores_real"])
        elif (METRICS / "aesthetics.npz").exists() and "scores_real" in np.load(METRICS / "aesthetics.npz"):
            # Without the checkout, keep the real scores recorded by an earlier run.
            arrays["scores_real"] = np.load(METRICS / "aesthetics.npz")["scores_real"]
            print("D4K_DIR not set: kept the recorded real aesthetic scores")
    z = np.load(METRICS / "clip_score.npz")
    pre = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                     T.Normalize(MEAN, STD)])
    pixels = np.stack([pre(Image.fromarray(z[f"image_{i}"])).numpy() for i in range(8)])
    arrays["pixel_values_pil_every7"] = pixels.reshape(-1)[::7].copy()
    save_npz(METRICS / "aesthetics.npz", arrays)
    (METRICS / "aesthetics_keys.json").write_text(json.dumps(keys, indent=0) + "\n")


if __name__ == "__main__":
    vision()
    clip_score()
    aesthetics()
    vision_real()
