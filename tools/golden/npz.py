"""Deterministic .npz writer shared by the golden generators."""
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
