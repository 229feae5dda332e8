"""`ultrares weights` on a 1 GiB sharded f16 checkpoint written by Python's safetensors: the
listing must equal `safe_open`'s, at < 300 MB peak RSS (issue 25's acceptance line).

Usage: tools/golden/.venv/bin/python tools/bench/weights_listing.py path/to/ultrares [DIR]
Writes DIR (default /tmp/ultrares-weights-1g): 4 shards of 16 f16 tensors [8192, 4096] and
model.safetensors.index.json; runs `ultrares weights INDEX --json` under /usr/bin/time -v.
"""
import json
import pathlib
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def main():
    exe = sys.argv[1]
    d = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/ultrares-weights-1g")
    d.mkdir(parents=True, exist_ok=True)
    weight_map, listing = {}, []
    for s in range(4):
        name = f"model-{s + 1:05d}-of-00004.safetensors"
        tensors = {f"layers.{4 * s + i}.weight": torch.full((8192, 4096), float(i), dtype=torch.float16) for i in range(4)}
        save_file(tensors, d / name)
        weight_map.update({k: name for k in tensors})
        with safe_open(d / name, "pt") as f:
            for k in f.keys():
                sl = f.get_slice(k)
                listing.append({"name": k, "dtype": sl.get_dtype(), "shape": sl.get_shape()})
    index = d / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    listing.sort(key=lambda e: e["name"])
    out = subprocess.run(["/usr/bin/time", "-v", exe, "weights", str(index), "--json"], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    rss = next(l for l in out.stderr.splitlines() if "Maximum resident" in l)
    size = sum(p.stat().st_size for p in d.glob("*.safetensors"))
    print(f"files {size / 1e9:.3f} GB; listing equal to safe_open: {got['tensors'] == listing}; "
          f"parameters {got['parameters']}, bytes {got['bytes']}; {rss.strip()}")


if __name__ == "__main__":
    main()
