"""Reference timing for `ultrares wavediff train`: the official train_wddgan.py iteration
(tools/golden/gen_wavediff_train.py's transcription, official modules, R1 every lazy_reg
iterations) on the CPU at 2 threads, for a model given as its argparse JSON.

  WAVEDIFF_DIR=... tools/golden/.venv/bin/python tools/bench/wavediff_train_reference.py \
      MODEL.json BATCH ITERATIONS

MODEL.json: {"args": {...}} as `ultrares wavediff train --config` takes it (cifar10 family:
NCSNpp, Discriminator_small). Prints seconds per iteration (mean over ITERATIONS after one
warm-up iteration; with lazy_reg 15 the R1 iteration is the first of each 15).
"""
import json
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "golden"))
import gen_wavediff as gw  # noqa: E402
import gen_wavediff_train as gt  # noqa: E402


def main():
    model, batch, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(2)
    tree = gw.wavediff_tree(__import__("os").environ["WAVEDIFF_DIR"])
    off = gt.load(tree)
    args = gt.train_args(tree)
    for k, v in json.loads(pathlib.Path(model).read_text())["args"].items():
        setattr(args, k, v)
    args.batch_size, args.lazy_reg, args.r1_gamma = batch, 15, 0.02
    st = gt.build(off, args)
    x0 = torch.rand(batch, 3, 32, 32) * 2 - 1
    real = gt.real_data_of(args, st, x0)
    rnd = gt.Draws(None)
    off["diffusion"].torch = rnd
    times = []
    for step in range(iters + 1):
        t0 = time.perf_counter()
        gt.iteration(off, args, st, real, step, rnd)
        times.append(time.perf_counter() - t0)
    mean = sum(times[1:]) / iters
    print(f"official train_wddgan.py iteration, batch {batch}: {mean:.3f} s "
          f"(first, with R1: {times[0]:.3f} s; {iters} more: min {min(times[1:]):.3f} s)")


if __name__ == "__main__":
    with torch.enable_grad():
        main()
