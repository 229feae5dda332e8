"""Reference side of crates/unet/benches/unet.rs: diffusers 0.36 `UNet2DConditionModel` with the
SDXL base config (random init, f32, torch CPU at its default thread count, SDPA), N = 2, 77 text
tokens, on a 32² latent (the criterion bench) or `--size S`; also prints the peak RSS.

Run: tools/golden/.venv/bin/python tools/bench/unet_reference.py [--size 128]
"""
import pathlib
import resource
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tools/golden"))
from timing import bench  # noqa: E402


def main():
    import torch
    from diffusers import UNet2DConditionModel

    from gen_unet import SDXL_BASE

    torch.set_num_threads(2)  # gen_unet pins 1 thread for its fixtures; time with both cores

    size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 32
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**SDXL_BASE).eval()
    n = 2
    sample = torch.randn(n, 4, size, size)
    t = torch.tensor([500.0])
    ehs = torch.randn(n, 77, 2048)
    added = {"text_embeds": torch.randn(n, 1280), "time_ids": torch.tensor([[8.0 * size] * 2 + [0, 0] + [8.0 * size] * 2] * n)}

    def run():
        with torch.no_grad():
            return unet(sample, t, encoder_hidden_states=ehs, added_cond_kwargs=added).sample

    bench(f"sdxl_base {n}x{size}x{size} f32 (threads {torch.get_num_threads()})", run, repeat=1 if size > 64 else 10)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
