"""Golden fixtures for ultrares-text's CLIP tokenizers.

Reference (requirements.txt): transformers 5.24.0 `CLIPTokenizer` (the tokenizers 0.23 engine), loaded
from diffusers-style `tokenizer/` and `tokenizer_2/` folders exactly as SDXL's pipeline folder lays
them out (vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json; no tokenizer.json),
called as `StableDiffusionXLPipeline.encode_prompt` calls it:
`tok(prompts, padding="max_length", max_length=77, truncation=True)`.

The real vocabulary is OpenAI's `bpe_simple_vocab_16e6.txt.gz` (MIT), taken from the pinned PyPI wheel
`open-clip-torch==3.3.0` (fetched with `pip download --no-deps` into `.cache/`) and copied byte for
byte to `crates/text/assets/clip/`, where ultrares-text compiles it in. vocab.json/merges.txt are
derived from it as transformers' `CLIPTokenizer` docs and OpenAI's `SimpleTokenizer` do
(`bytes_to_unicode` order, then the same with `</w>`, then the merges, then bos/eos: 49,408 ids).

Writes crates/text/tests/fixtures/:
* clip_prompts.json   the prompts (hand-picked edge cases, then seeded random mixes of ASCII words,
                      accents, CJK, emoji, punctuation and `!` runs, html entities, contractions,
                      digits, odd whitespace, special-token text, >77-token prompts)
* clip_ids.npz        `ids_1` / `ids_2` / `ids_3` int32 [N, 77] from tokenizer / tokenizer_2 /
                      tokenizer_2 without `added_tokens_decoder` in its config, `len_k` int32 [N]
                      untruncated token counts (bos and eos included)
* clip_encoders.npz   transformers `CLIPTextModel` / `CLIPTextModelWithProjection` at tiny configs
                      (`clip_{te1,te1_eos,te2}_config.json`, saved by `save_pretrained`) with
                      `det_weight` weights over the keys and shapes in `clip_encoders_keys.json`:
                      every hidden state, last_hidden_state, pooler_output / text_embeds for two
                      real-vocabulary prompts (`ids_1`, `ids_2`; one over 77 tokens)
* clip_encoders_real.npz  the same at the real L/14 and bigG topologies (`clip_{l14,bigg}_config.json`,
                      `clip_encoders_real_keys.json`), one prompt: the penultimate hidden state
                      (what SDXL takes) and the pooled / projected output
* sdxl_prompt.npz     diffusers 0.36 `StableDiffusionXLPipeline.encode_prompt` on the tiny towers: case
                      a (no negative, force_zeros_for_empty_prompt → zeros), b (force_zeros off →
                      "" encoded), c (prompt_2, negative_prompt[_2], clip_skip=1); and
                      sdxl_model_index.json, the pipeline's model_index.json from save_pretrained
* t5_tokenizer/       a T5 tokenizer folder (SentencePiece unigram trained here, saved by transformers'
                      `T5Tokenizer`); clip_ids.npz's `t5_ids` int32 [N, 128] / `t5_len` are its ids
                      for every prompt (see `t5_tokenizer`)
* t5_tiny.npz / t5_xxl2.npz  transformers `T5EncoderModel` with det_weight weights (keys in
                      `*_keys.json`, config in `*_config.json`; see `t5_encoders`)
* sd3_prompt.npz      diffusers 0.36 `StableDiffusion3Pipeline.encode_prompt` (see `sd3_prompt`), with
                      `sd3_prompt_keys.json` and `sd3_{te1,te2,t5}_config.json`
* flux_prompt.npz     diffusers 0.36 `FluxPipeline.encode_prompt` (see `flux_prompt`)
* clip_decoded.json   `tokenizer.decode(ids_1[i], skip_special_tokens=True)` for the edge cases
"""
import gzip
import json
import pathlib
import random
import shutil
import subprocess
import sys
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from npz import det_weight, save_npz  # noqa: E402

ROOT = HERE.parents[1]
OUT = ROOT / "crates/text/tests/fixtures"
ASSET = ROOT / "crates/text/assets/clip/bpe_simple_vocab_16e6.txt.gz"
CACHE = HERE / ".cache"
WHEEL = "open_clip_torch-3.3.0-py3-none-any.whl"


def bpe_gz():
    """The vocabulary file from the pinned open_clip wheel (downloaded once into .cache)."""
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(CACHE),
                        "open-clip-torch==3.3.0"], check=True)
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("open_clip/bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_folders(gz, root):
    """diffusers SDXL `tokenizer/` and `tokenizer_2/` folders built from the OpenAI vocabulary."""
    merges = gzip.decompress(gz).decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408
    special = {
        "49406": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False, "special": True},
        "49407": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False, "special": True},
    }
    for name, pad in (("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
        (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
        added = dict(special)
        if pad == "!":
            added = {"0": {"content": "!", "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": True}, **special}
        (d / "tokenizer_config.json").write_text(json.dumps({
            "add_prefix_space": False, "added_tokens_decoder": added, "bos_token": "<|startoftext|>",
            "clean_up_tokenization_spaces": True, "do_lower_case": True, "eos_token": "<|endoftext|>",
            "errors": "replace", "model_max_length": 77, "pad_token": pad,
            "tokenizer_class": "CLIPTokenizer", "unk_token": "<|endoftext|>"}, indent=2))
        (d / "special_tokens_map.json").write_text(json.dumps({
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad,
            "unk_token": "<|endoftext|>"}, indent=2))


EDGE = [
    "a photo of a cat", "", " ", "   ", "\t\n", "! !! !!!", "hello world!!!", "!", "!!!!!!!!", "a!b", "wow!",
    "you're, don't, her's, should've", "I'M HERE, WE'LL SEE, THEY'D GO", "it’s “quoted” ‘single’",
    "2048x4096", "3.14159 and 1,000,000", "résumé", "Båstad", "naïve café façade Ångström", "Crème Brûlée",
    "東京の夜景", "一只可爱的猫", "한국어 문장", "Привет мир", "مرحبا بالعالم", "ελληνικά", "emoji 🐱🚀✨",
    "👩‍👩‍👧 family", "&amp; &lt;b&gt;bold&lt;/b&gt; &#39;x&#39; &nbsp;", "<|endoftext|>", "a <|startoftext|> b", "<|ENDOFTEXT|> <|StartOfText|>",
    "tabs\tand\nnewlines  and   spaces", "  leading and trailing  ", "zero\u200bwidth", "nul\x00char",
    "control\x07bell", "Ｆｕｌｌｗｉｄｔｈ", "e\u0301 combining", "ﬁ ligature", "ÀÉÎÕÜ", "C++ & C#", "@user #tag $5 100%",
    "snake_case-kebab-case.dot", "(parens) [brackets] {braces}", "a" * 200, "cat " * 100,
    "masterpiece, best quality, ultra-detailed, 8k, " * 8,
]

WORDS = ("a photo of the cat dog astronaut riding horse on mars highly detailed portrait landscape "
         "oil painting by greg rutkowski trending artstation cinematic lighting 8k 4k ultra realistic "
         "sunset over mountains river forest city night neon cyberpunk watercolor sketch macro").split()
PIECES = {
    "accent": ["résumé", "Båstad", "naïve", "café", "Ångström", "Zürich", "São Paulo", "piñata", "Œuvre", "DÉJÀ"],
    "cjk": ["東京", "猫", "山水画", "한국", "ひらがな", "カタカナ", "漢字テスト", "北京烤鸭"],
    "emoji": ["🐱", "🚀", "✨", "🔥🔥", "👍🏽", "🏳️‍🌈", "😀😃", "❤️"],
    "punct": ["!", "!!", "!!!", "?!", "...", "—", "–", ",", ";", ":", "(", ")", "\"", "'", "*", "~", "!?!", "!.!"],
    "html": ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;", "<br>", "</div>"],
    "contraction": ["you're", "don't", "her's", "should've", "I'M", "WE'LL", "they'd", "it's", "can't", "o'clock"],
    "digit": ["2048x4096", "1024", "3.5", "1,000", "12:30", "v2.1", "4K", "8k", "1girl", "x2"],
    "space": [" ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00a0"],
    "special": ["<|endoftext|>", "<|startoftext|>", "<|endoftext|>!"],
    "quote": ["“", "”", "‘", "’", "«", "»"],
}


def random_prompts(n, seed=0):
    rng = random.Random(seed)
    kinds = list(PIECES)
    out = []
    for i in range(n):
        length = rng.choice([1, 2, 3, 5, 8, 12, 20, 30]) if i % 10 else rng.randint(60, 140)
        parts = []
        for _ in range(length):
            if rng.random() < 0.55:
                w = rng.choice(WORDS)
                w = w.upper() if rng.random() < 0.08 else (w.capitalize() if rng.random() < 0.1 else w)
                parts.append(w)
            else:
                parts.append(rng.choice(PIECES[rng.choice(kinds)]))
        glue = [" "] * 6 + ["", ", ", "  "]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(glue) + p
        if rng.random() < 0.1:
            text = rng.choice(PIECES["space"]) + text + rng.choice(PIECES["space"])
        out.append(text)
    return out


def det_state_dict(model):
    """Every tensor of `model.state_dict()` replaced by `det_weight(key, shape)` (npz.py), which the
    Rust test recomputes from the listed keys and shapes."""
    import torch

    sd = {k: torch.from_numpy(det_weight(k, list(v.shape))) for k, v in model.state_dict().items()}
    model.load_state_dict(sd, strict=True)
    return {k: list(v.shape) for k, v in sd.items()}


def encode(model, ids, name, arrays, keep_all):
    """transformers' outputs for `ids`, with `output_hidden_states=True`."""
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids), output_hidden_states=True)
    hs = torch.stack(out.hidden_states).numpy()
    if keep_all:
        arrays[f"{name}_hidden"] = hs
        arrays[f"{name}_last"] = out.last_hidden_state.numpy()
    else:
        arrays[f"{name}_penultimate"] = hs[-2]
    if hasattr(out, "text_embeds"):
        arrays[f"{name}_text_embeds"] = out.text_embeds.numpy()
    else:
        arrays[f"{name}_pooled"] = out.pooler_output.numpy()


def encoders(tok1, tok2, big):
    """Tiny CLIP text towers (sdxl.md §10.3: TE1 32 wide / 3 layers / quick_gelu, TE2 64 wide / 4
    layers / gelu / projection 40) and, with `big`, the real L/14 and bigG topologies, all with
    det_weight weights, on real-vocabulary ids."""
    import tempfile

    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    prompts = ["a photo of a cat", "masterpiece, best quality, " * 12 + "an astronaut riding a horse! on mars"]
    kw = dict(padding="max_length", max_length=77, truncation=True, return_tensors="np")
    ids1 = tok1(prompts, **kw).input_ids.astype(np.int64)
    ids2 = tok2(prompts, **kw).input_ids.astype(np.int64)
    if big:
        ids1, ids2 = ids1[:1], ids2[:1]
    arrays = {"ids_1": ids1, "ids_2": ids2}
    keys = {}
    specs = {
        "te1": (CLIPTextModel, dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
                                    hidden_act="quick_gelu", eos_token_id=2), ids1),
        "te1_eos": (CLIPTextModel, dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                        intermediate_size=37, hidden_act="quick_gelu", eos_token_id=49407), ids1),
        "te2": (CLIPTextModelWithProjection, dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                                  intermediate_size=96, hidden_act="gelu", projection_dim=40), ids2),
    }
    if big:
        specs = {
            "l14": (CLIPTextModel, dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                        intermediate_size=3072, hidden_act="quick_gelu", projection_dim=768), ids1),
            "bigg": (CLIPTextModelWithProjection, dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=20,
                                                       intermediate_size=5120, hidden_act="gelu", projection_dim=1280),
                     ids2),
        }
    for name, (cls, cfg, ids) in specs.items():
        model = cls(CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, layer_norm_eps=1e-5, **cfg)).eval()
        keys[name] = det_state_dict(model)
        encode(model, ids, name, arrays, keep_all=not big)
        with tempfile.TemporaryDirectory() as tmp:
            model.config.architectures = [cls.__name__]  # as model.save_pretrained records it
            model.config.save_pretrained(tmp)
            (OUT / f"clip_{name}_config.json").write_text((pathlib.Path(tmp) / "config.json").read_text())
    stem = "clip_encoders_real" if big else "clip_encoders"
    save_npz(OUT / f"{stem}.npz", arrays)
    (OUT / f"{stem}_keys.json").write_text(json.dumps(keys, indent=0) + "\n")


def prompt_encoders(tok1, tok2):
    """diffusers 0.36 `StableDiffusionXLPipeline.encode_prompt` over the tiny towers of
    `encoders` (same configs, same det_weight weights); the pipeline folder's model_index.json
    and tower configs as `save_pretrained` writes them (weights left out: the Rust test writes
    det_weight safetensors)."""
    import tempfile

    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    te1 = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                       intermediate_size=37, hidden_act="quick_gelu", eos_token_id=2)).eval()
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=64, num_hidden_layers=4,
                                                     num_attention_heads=4, intermediate_size=96, hidden_act="gelu",
                                                     projection_dim=40)).eval()
    det_state_dict(te1)
    det_state_dict(te2)
    pipe = StableDiffusionXLPipeline(vae=None, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
                                     unet=None, scheduler=None, force_zeros_for_empty_prompt=True)
    prompts = ["a photo of a cat", "masterpiece, best quality, " * 12 + "an astronaut riding a horse! on mars"]
    arrays = {}

    def run(tag, **kw):
        with torch.no_grad():
            pe, ne, pp, npp = pipe.encode_prompt(device="cpu", num_images_per_prompt=1, **kw)
        for k, v in (("prompt_embeds", pe), ("negative_prompt_embeds", ne), ("pooled", pp), ("negative_pooled", npp)):
            if v is not None:
                arrays[f"{tag}_{k}"] = v.numpy()

    run("a", prompt=prompts, do_classifier_free_guidance=True)  # negative None → zeros
    pipe.register_to_config(force_zeros_for_empty_prompt=False)
    run("b", prompt=prompts, do_classifier_free_guidance=True)  # negative "" encoded
    run("c", prompt=prompts, prompt_2=["an oil painting", "!! wow !!"], negative_prompt=["blurry", "ugly!"],
        negative_prompt_2=["jpeg artifacts", ""], clip_skip=1, do_classifier_free_guidance=True)
    save_npz(OUT / "sdxl_prompt.npz", arrays)
    pipe.register_to_config(force_zeros_for_empty_prompt=True)
    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp)
        (OUT / "sdxl_model_index.json").write_text((pathlib.Path(tmp) / "model_index.json").read_text())


def t5_tokenizer(prompts):
    """No real T5 tokenizer is reachable offline, so the golden builds one as T5's was built: a
    SentencePiece unigram model (nmt_nfkc normalisation, pad 0 / eos 1 / unk 2, no bos) trained on
    the first 1,500 prompts, loaded by transformers' `T5Tokenizer` with 100 extra ids and saved
    with `save_pretrained` (tokenizer.json with the precompiled charsmap + tokenizer_config.json:
    the layout of SD3's `tokenizer_3/` and Flux's `tokenizer_2/`). Ids for every prompt as
    diffusers' SD3/Flux `_get_t5_prompt_embeds` asks for them (`padding="max_length",
    max_length=N, truncation=True, add_special_tokens=True`), N = 128 here."""
    import os
    import tempfile

    import sentencepiece as spm
    from transformers import T5Tokenizer

    folder = OUT / "t5_tokenizer"
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "corpus.txt").write_text("\n".join(p.replace("\n", " ") for p in prompts[:1500]))
        spm.SentencePieceTrainer.train(
            input=str(tmp / "corpus.txt"), model_prefix=str(tmp / "spiece"), vocab_size=600, model_type="unigram",
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, normalization_rule_name="nmt_nfkc", character_coverage=1.0,
            minloglevel=2, num_threads=1, shuffle_input_sentence=False)
        src = tmp / "src"
        src.mkdir()
        shutil.copy(tmp / "spiece.model", src / "spiece.model")
        (src / "tokenizer_config.json").write_text(json.dumps(
            {"tokenizer_class": "T5Tokenizer", "extra_ids": 100, "model_max_length": 512}))
        T5Tokenizer.from_pretrained(src).save_pretrained(folder)
    for junk in ("special_tokens_map.json",):
        if (folder / junk).exists():
            os.remove(folder / junk)
    tok = T5Tokenizer.from_pretrained(folder)
    enc = tok(prompts, padding="max_length", max_length=128, truncation=True, add_special_tokens=True)
    return {"t5_ids": np.array(enc.input_ids, dtype=np.int32),
            "t5_len": np.array([len(x) for x in tok(prompts).input_ids], dtype=np.int32)}


def t5_encoders(big):
    """transformers `T5EncoderModel` (T5 v1.1: gated-gelu) with det_weight weights on ids from the
    fixture T5 tokenizer (2 prompts, max_length 128, one truncated): a tiny config whose
    `relative_attention_max_distance` 20 puts the 128 positions into the logarithmic and the last
    buckets; with `big`, T5-XXL's widths (d_model 4096, 64 heads × 64, d_ff 10240, vocab 32128)
    at 2 blocks. Tiny: every hidden state and last_hidden_state; big: last_hidden_state at every
    8th position."""
    import tempfile

    import torch
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    tok = T5Tokenizer.from_pretrained(OUT / "t5_tokenizer")
    prompts = ["a photo of a cat", "masterpiece, best quality, " * 30 + "an astronaut riding a horse on mars"]
    ids = np.array(tok(prompts, padding="max_length", max_length=128, truncation=True).input_ids, dtype=np.int64)
    cfg = dict(vocab_size=700, d_model=32, d_kv=8, d_ff=48, num_layers=3, num_heads=4,
               relative_attention_num_buckets=32, relative_attention_max_distance=20)
    name = "t5_tiny"
    if big:
        cfg = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=2, num_heads=64)
        name = "t5_xxl2"
        ids = ids[:1]
    model = T5EncoderModel(T5Config(feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, **cfg)).eval()
    keys = det_state_dict(model)
    # `encoder.embed_tokens` is tied to `shared`: loading both keys left the tied tensor holding the
    # later one; the model is defined by `shared.weight` (what the Rust side reads).
    with torch.no_grad():
        model.shared.weight.copy_(torch.from_numpy(det_weight("shared.weight", list(model.shared.weight.shape))))
        assert model.encoder.embed_tokens.weight.data_ptr() == model.shared.weight.data_ptr()
        out = model(input_ids=torch.from_numpy(ids), output_hidden_states=True)
    if big:  # every 8th position only (the fixture stays small)
        arrays = {"ids": ids, "last_every_8th": out.last_hidden_state[:, ::8].numpy()}
    else:
        arrays = {"ids": ids, "last": out.last_hidden_state.numpy(), "hidden": torch.stack(out.hidden_states).numpy()}
    save_npz(OUT / f"{name}.npz", arrays)
    (OUT / f"{name}_keys.json").write_text(json.dumps({name: keys}, indent=0) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        model.config.architectures = ["T5EncoderModel"]
        model.config.save_pretrained(tmp)
        (OUT / f"{name}_config.json").write_text((pathlib.Path(tmp) / "config.json").read_text())


def sd3_prompt(tok1, tok2):
    """diffusers 0.36 `StableDiffusion3Pipeline.encode_prompt` over tiny towers: CLIP-L-like
    `sd3_te1` (32 wide, projection 24) and bigG-like `sd3_te2` (64 wide, projection 40), both
    `CLIPTextModelWithProjection` as SD3 has them, and `sd3_t5` (T5 v1.1, d_model 128 ≥ 32 + 64 so
    the CLIP states are zero-padded to it), det_weight weights; max_sequence_length 32. Cases: a
    (guidance, default "" negatives), b (prompt_2/prompt_3/negatives, clip_skip=1). Writes
    sd3_prompt.npz and the towers' keys/configs."""
    import tempfile

    import torch
    from diffusers import StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel, T5Tokenizer

    def clip(hidden, layers, inter, act, proj):
        return CLIPTextModelWithProjection(CLIPTextConfig(
            vocab_size=49408, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
            intermediate_size=inter, hidden_act=act, projection_dim=proj)).eval()

    te1, te2 = clip(32, 3, 37, "quick_gelu", 24), clip(64, 4, 96, "gelu", 40)
    t5 = T5EncoderModel(T5Config(vocab_size=700, d_model=128, d_kv=16, d_ff=96, num_layers=2, num_heads=8,
                                 relative_attention_max_distance=20, feed_forward_proj="gated-gelu")).eval()
    keys = {"sd3_te1": det_state_dict(te1), "sd3_te2": det_state_dict(te2), "sd3_t5": det_state_dict(t5)}
    with torch.no_grad():
        t5.shared.weight.copy_(torch.from_numpy(det_weight("shared.weight", list(t5.shared.weight.shape))))
    tok3 = T5Tokenizer.from_pretrained(OUT / "t5_tokenizer")
    pipe = StableDiffusion3Pipeline(transformer=None, scheduler=None, vae=None, text_encoder=te1, tokenizer=tok1,
                                    text_encoder_2=te2, tokenizer_2=tok2, text_encoder_3=t5, tokenizer_3=tok3)
    prompts = ["a photo of a cat", "masterpiece, best quality, " * 12 + "an astronaut riding a horse! on mars"]
    arrays = {}

    def run(tag, **kw):
        with torch.no_grad():
            pe, ne, pp, npp = pipe.encode_prompt(device="cpu", num_images_per_prompt=1, max_sequence_length=32, **kw)
        for k, v in (("prompt_embeds", pe), ("negative_prompt_embeds", ne), ("pooled", pp), ("negative_pooled", npp)):
            if v is not None:
                arrays[f"{tag}_{k}"] = v.numpy()

    run("a", prompt=prompts, prompt_2=None, prompt_3=None, do_classifier_free_guidance=True)
    run("b", prompt=prompts, prompt_2=["an oil painting", "!! wow !!"], prompt_3=["a lighthouse", "at dusk"],
        negative_prompt=["blurry", "ugly!"], negative_prompt_3=["jpeg", ""], clip_skip=1,
        do_classifier_free_guidance=True)
    save_npz(OUT / "sd3_prompt.npz", arrays)
    (OUT / "sd3_prompt_keys.json").write_text(json.dumps(keys, indent=0) + "\n")
    for name, model in (("sd3_te1", te1), ("sd3_te2", te2), ("sd3_t5", t5)):
        with tempfile.TemporaryDirectory() as tmp:
            model.config.architectures = [type(model).__name__]
            model.config.save_pretrained(tmp)
            (OUT / f"{name}_config.json").write_text((pathlib.Path(tmp) / "config.json").read_text())


def flux_prompt(tok1):
    """diffusers 0.36 `FluxPipeline.encode_prompt` over the tiny `te1` CLIP tower (its pooler_output)
    and the tiny `t5_tiny` T5 (same configs and det_weight weights as their own fixtures),
    max_sequence_length 32, with and without prompt_2. Writes flux_prompt.npz."""
    import torch
    from diffusers import FluxPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel, T5Tokenizer

    te1 = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                       intermediate_size=37, hidden_act="quick_gelu", eos_token_id=2)).eval()
    det_state_dict(te1)
    t5 = T5EncoderModel(T5Config(vocab_size=700, d_model=32, d_kv=8, d_ff=48, num_layers=3, num_heads=4,
                                 relative_attention_max_distance=20, feed_forward_proj="gated-gelu")).eval()
    det_state_dict(t5)
    with torch.no_grad():
        t5.shared.weight.copy_(torch.from_numpy(det_weight("shared.weight", list(t5.shared.weight.shape))))
    pipe = FluxPipeline(transformer=None, scheduler=None, vae=None, text_encoder=te1, tokenizer=tok1, text_encoder_2=t5,
                        tokenizer_2=T5Tokenizer.from_pretrained(OUT / "t5_tokenizer"))
    prompts = ["a photo of a cat", "masterpiece, best quality, " * 12 + "an astronaut riding a horse! on mars"]
    arrays = {}
    with torch.no_grad():
        for tag, kw in (("a", {}), ("b", {"prompt_2": ["a lighthouse", "at dusk"]})):
            pe, pooled, text_ids = pipe.encode_prompt(prompt=prompts, device="cpu", max_sequence_length=32, **kw)
            arrays[f"{tag}_prompt_embeds"], arrays[f"{tag}_pooled"] = pe.numpy(), pooled.numpy()
            arrays[f"{tag}_text_ids"] = text_ids.numpy()
    save_npz(OUT / "flux_prompt.npz", arrays)


def main():
    import tokenizers
    import transformers
    from transformers import CLIPTokenizer

    gz = bpe_gz()
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    ASSET.write_bytes(gz)
    folders = CACHE / "sdxl_tokenizers"
    shutil.rmtree(folders, ignore_errors=True)
    write_folders(gz, folders)
    tok1 = CLIPTokenizer.from_pretrained(folders / "tokenizer")
    tok2 = CLIPTokenizer.from_pretrained(folders / "tokenizer_2")
    # Older folders (SD 2.x) have no added_tokens_decoder: transformers then registers the named
    # special tokens itself (normalized=False, so "<|ENDOFTEXT|>" is not matched).
    shutil.copytree(folders / "tokenizer_2", folders / "tokenizer_plain")
    config = json.loads((folders / "tokenizer_plain/tokenizer_config.json").read_text())
    del config["added_tokens_decoder"]
    (folders / "tokenizer_plain/tokenizer_config.json").write_text(json.dumps(config, indent=2))
    tok3 = CLIPTokenizer.from_pretrained(folders / "tokenizer_plain")
    assert tok1("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok2.pad_token_id == 0 and tok1.pad_token_id == 49407

    prompts = EDGE + random_prompts(2000)
    arrays = {}
    for k, tok in (("1", tok1), ("2", tok2), ("3", tok3)):
        enc = tok(prompts, padding="max_length", max_length=77, truncation=True)
        arrays[f"ids_{k}"] = np.array(enc.input_ids, dtype=np.int32)
        arrays[f"len_{k}"] = np.array([len(x) for x in tok(prompts).input_ids], dtype=np.int32)
    assert arrays["ids_1"].shape == (len(prompts), 77)
    arrays.update(t5_tokenizer(prompts))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "clip_prompts.json").write_text(json.dumps(prompts, ensure_ascii=False, indent=0) + "\n")
    save_npz(OUT / "clip_ids.npz", arrays)
    decoded = [tok1.decode(row, skip_special_tokens=True) for row in arrays["ids_1"][:len(EDGE)].tolist()]
    (OUT / "clip_decoded.json").write_text(json.dumps(decoded, ensure_ascii=False, indent=0) + "\n")
    (OUT / "GENERATOR.json").write_text(json.dumps({
        "script": "tools/golden/gen_text.py", "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__, "sentencepiece": __import__("sentencepiece").__version__, "diffusers": __import__("diffusers").__version__, "torch": __import__("torch").__version__, "vocabulary": "open-clip-torch==3.3.0 open_clip/bpe_simple_vocab_16e6.txt.gz",
        "prompts": len(prompts),
        "truncated": int((arrays["len_1"] > 77).sum()),
    }, indent=2) + "\n")
    encoders(tok1, tok2, big=False)
    encoders(tok1, tok2, big=True)
    prompt_encoders(tok1, tok2)
    t5_encoders(big=False)
    sd3_prompt(tok1, tok2)
    flux_prompt(tok1)
    t5_encoders(big=True)
    print(tok1.backend_tokenizer.normalizer, tok1.backend_tokenizer.pre_tokenizer, tok1.backend_tokenizer.post_processor,
          sep="\n")
    print("added:", tok2.added_tokens_decoder.get(0))


if __name__ == "__main__":
    main()
