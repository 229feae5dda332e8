"""Reference side of crates/text/benches/tokenizer.rs: transformers 5.24.0 `CLIPTokenizer` (the
tokenizers 0.23 engine, Rust underneath) on the same 2,048 prompts, called as diffusers'
`encode_prompt` calls it. Needs the SDXL-style folders gen_text.py writes into tools/golden/.cache.

Run: tools/golden/.venv/bin/python tools/bench/text_reference.py
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from timing import bench  # noqa: E402

ROOT = HERE.parents[1]
FOLDER = ROOT / "tools/golden/.cache/sdxl_tokenizers/tokenizer_2"


def main():
    from transformers import CLIPTokenizer

    prompts = json.loads((ROOT / "crates/text/tests/fixtures/clip_prompts.json").read_text())
    tok = CLIPTokenizer.from_pretrained(FOLDER)
    kw = dict(padding="max_length", max_length=77, truncation=True)
    bench("encode_batch 2048 prompts", lambda: tok(prompts, **kw).input_ids, repeat=20)
    one = "a photo of an astronaut riding a horse on mars, highly detailed, 8k"
    bench("encode 1 prompt", lambda: tok(one, **kw).input_ids, repeat=200)
    bench("load (from_pretrained, tokenizer_2/)", lambda: CLIPTokenizer.from_pretrained(FOLDER), repeat=10)
    encode_prompt()


def encode_prompt():
    """SDXL's two towers at the real topologies, batch 2 × 77, f32, torch CPU (all threads), as
    diffusers' encode_prompt runs them (output_hidden_states=True; the first tower runs all 12
    layers in transformers)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(0)
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                       intermediate_size=3072, hidden_act="quick_gelu")).eval()
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, num_hidden_layers=32, num_attention_heads=20,
                                                     intermediate_size=5120, hidden_act="gelu",
                                                     projection_dim=1280)).eval()
    tok1 = CLIPTokenizer.from_pretrained(FOLDER.parent / "tokenizer")
    tok2 = CLIPTokenizer.from_pretrained(FOLDER)
    prompts = ["a photo of an astronaut riding a horse on mars", "an oil painting of a lighthouse at dusk"]
    kw = dict(padding="max_length", max_length=77, truncation=True, return_tensors="pt")

    def run():
        with torch.no_grad():
            a = te1(tok1(prompts, **kw).input_ids, output_hidden_states=True).hidden_states[-2]
            b = te2(tok2(prompts, **kw).input_ids, output_hidden_states=True)
            return torch.cat([a, b.hidden_states[-2]], -1), b.text_embeds

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench("SDXL encode_prompt L/14 + bigG, 2 x 77 tokens", run, repeat=10)


if __name__ == "__main__":
    main()
