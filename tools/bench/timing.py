"""Shared timing helper of the benchmark reference scripts."""
import time


def bench(name, fn, repeat=10):
    """Prints the median and minimum wall time of `fn()` over `repeat` runs after one warm-up."""
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    print(f"{name}: median {ts[len(ts) // 2] * 1e3:.2f} ms (min {ts[0] * 1e3:.2f} ms)")
