"""Helpers shared by the golden generators: a deterministic .npz writer and the hashed uniform
values (splitmix64) that Rust tests recompute (`ultrares_core::testing`)."""
import io
import json
import pathlib
import zipfile

import numpy as np


def save_npz(path, arrays):
    """np.savez_compressed with fixed zip timestamps, so reruns give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    print(f"{path.name}: {len(arrays)} arrays, {path.stat().st_size} bytes")


def splitmix_uniform(seed, n):
    """u in [-1, 1): splitmix64 of (seed << 32) + i, top 53 bits (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
        z = z * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0


def save_file(tensors, path, metadata):
    """safetensors with a deterministic header (sorted keys; the library's metadata order is not)."""
    import torch

    dtypes = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}
    header, blobs, offset = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    pathlib.Path(path).write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def det_weight(key, shape):
    """Deterministic value of state-dict tensor `key`: uniform with variance 1/fan_in for weights,
    LayerNorm weights near 1, biases and the relative-position table ±0.1 / ±0.5."""
    n = int(np.prod(shape))
    u = splitmix_uniform(fnv1a(key) & 0xFFFFFFFF, n)
    if key.endswith("relative_position_bias_table"):
        v = 0.5 * u
    elif key.endswith(".weight") and len(shape) == 1:  # LayerNorm
        v = 1.0 + 0.1 * u
    elif key.endswith(".weight"):
        v = u * np.sqrt(3.0 / (n // shape[0]))
    else:
        v = 0.1 * u
    return v.astype(np.float32).reshape(shape)


def shim_timm():
    """The three `timm` helpers LSRNA's `lsr/swinir.py` imports, without timm: `DropPath` as the
    identity (eval-mode stochastic depth), `to_2tuple`, `trunc_normal_`."""
    import sys
    import types

    import torch

    timm = types.ModuleType("timm")
    timm.models = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    layers.DropPath = lambda p: torch.nn.Identity()
    layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
    layers.trunc_normal_ = torch.nn.init.trunc_normal_
    sys.modules.update({"timm": timm, "timm.models": timm.models, "timm.models.layers": layers})
