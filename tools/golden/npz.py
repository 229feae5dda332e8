"""Helpers shared by the golden generators: a deterministic .npz writer and the hashed uniform
values (splitmix64) that Rust tests recompute."""
import io
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
