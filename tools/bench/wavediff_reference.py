"""Reference side of crates/wavediff/benches/sample.rs: the official WaveDiff code
(VinAIResearch/WaveDiff@f1ad48b, path in WAVEDIFF_DIR: a checkout or its git directory) on CPU,
torch at 2 threads, f32: `sample_from_model` with the real generator of each preset (the
official initialisation), then `×2`, the preset's IDWT and the clamp, as test_wddgan.py — the
same cases as the criterion bench (cifar10 batch 8, stl10 batch 4, celeba_256 batch 1).

Run: WAVEDIFF_DIR=… tools/golden/.venv/bin/python tools/bench/wavediff_reference.py
"""
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tools/golden"))
from timing import bench  # noqa: E402


def main():
    import torch

    import gen_wavediff as g

    torch.set_num_threads(2)
    tree = g.wavediff_tree(os.environ["WAVEDIFF_DIR"])
    off = g.import_official(tree)
    wd = off["diffusion"]
    for dataset, batch in [("cifar10", 8), ("stl10", 4), ("celeba_256", 1)]:
        args = g.preset_args(tree, "test_wddgan.py", dataset)
        torch.manual_seed(0)
        net = off["G_NET_ZOO"][args.net_type](args).eval()
        pos_coeff = wd.Posterior_Coefficients(args, "cpu")
        iwt = off["IDWT_2D"]("haar") if not args.use_pytorch_wavelet else off["DWTInverse"](mode="zero", wave="haar")
        x_T = torch.randn(batch, args.num_channels, args.image_size, args.image_size)

        def run():
            with torch.no_grad():
                x = wd.sample_from_model(pos_coeff, net, args.num_timesteps, x_T, None, args) * 2
                if not args.use_pytorch_wavelet:
                    x = iwt(x[:, :3], x[:, 3:6], x[:, 6:9], x[:, 9:12])
                else:
                    x = iwt((x[:, :3], [torch.stack((x[:, 3:6], x[:, 6:9], x[:, 9:12]), dim=2)]))
                return torch.clamp(x, -1, 1)

        bench(f"sample_{dataset}_b{batch} (threads {torch.get_num_threads()})", run, repeat=10)


if __name__ == "__main__":
    main()
