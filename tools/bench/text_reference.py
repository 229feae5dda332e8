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


if __name__ == "__main__":
    main()
