//! ultrares-vae against diffusers 0.36 and Diffusion-4K's code (fixtures: tools/golden/gen_vae.py).

use std::fs::File;
use std::path::PathBuf;

use crate::common;

use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_nn::StateDict;
use ultrares_vae::{
    AutoencoderKl, AutoencoderKlConfig, DiffusersTiling, SeamlessTiling, from_diffusers_dir,
};

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

fn npz(name: &str) -> NpzReader<File> {
    NpzReader::new(File::open(fixture(name)).expect("fixture")).expect("npz")
}

fn tensor(r: &mut NpzReader<File>, key: &str) -> Tensor<B, 4> {
    let a: ArrayD<f32> = r.by_name(key).expect(key);
    let shape: Vec<usize> = a.shape().to_vec();
    let v: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn max_abs(a: &Tensor<B, 4>, b: &Tensor<B, 4>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a.clone() - b.clone()).abs().max().into_scalar()
}

/// The model of `cfg` with gen_vae.py's hashed weights.
fn hashed(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    common::hashed(cfg)
}

fn small_config() -> AutoencoderKlConfig {
    AutoencoderKlConfig {
        sample_size: 32,
        ..AutoencoderKlConfig::new(vec![32, 64])
    }
}

fn check(name: &str, got: &Tensor<B, 4>, want: &Tensor<B, 4>, tol: f32) {
    let err = max_abs(got, want);
    println!("{name}: max abs error {err:.2e}");
    assert!(err <= tol, "{name}: max abs error {err} > {tol}");
}

#[test]
fn small_config_matches_diffusers() {
    let vae = hashed(&small_config());
    let mut r = npz("small.npz");
    let moments = vae.encode_moments(tensor(&mut r, "image")).expect("encode");
    check("small encode", &moments, &tensor(&mut r, "moments"), 1e-4);
    let decoded = vae.decode(tensor(&mut r, "latent_model")).expect("decode");
    check("small decode", &decoded, &tensor(&mut r, "decoded"), 1e-4);

    let tiling = DiffusersTiling::new(32, 16);
    let moments = vae
        .encode_moments_tiled_diffusers(tensor(&mut r, "tiled_image"), &tiling)
        .expect("tiled encode");
    check(
        "small tiled encode",
        &moments,
        &tensor(&mut r, "tiled_moments"),
        1e-4,
    );
    let decoded = vae
        .decode_tiled_diffusers(tensor(&mut r, "tiled_latent_model"), &tiling)
        .expect("tiled decode");
    check(
        "small tiled decode",
        &decoded,
        &tensor(&mut r, "tiled_decoded"),
        1e-4,
    );
}

/// Seamless tiling reproduces the untiled model; the error shrinks with the statistics passes.
/// Small tiles (16-latent cores, 12 tiles) make it a hard case.
#[test]
fn seamless_tiling_matches_untiled() {
    let vae = hashed(&small_config());
    let mut r = npz("small.npz");
    let latent = tensor(&mut r, "tiled_latent_model");
    let untiled = vae.decode(latent.clone()).expect("decode");
    let mut errs = Vec::new();
    for passes in [1, 2, 3] {
        let tiling = SeamlessTiling {
            tile: 16,
            halo: 12,
            stat_passes: passes,
            ..SeamlessTiling::default()
        };
        let tiled = vae
            .decode_seamless(latent.clone(), &tiling)
            .expect("seamless");
        let err = max_abs(&tiled, &untiled);
        println!("seamless decode, {passes} statistics pass(es): max abs error {err:.2e}");
        errs.push(err);
    }
    assert!(errs[2] <= 1e-3, "3 passes (the default): {}", errs[2]);
    assert!(
        errs[2] < errs[1] && errs[1] < errs[0],
        "passes should converge: {errs:?}"
    );

    let image = tensor(&mut r, "tiled_image");
    let untiled = vae.encode_moments(image.clone()).expect("encode");
    let tiling = SeamlessTiling {
        tile: 16,
        halo: 12,
        ..SeamlessTiling::default()
    };
    let tiled = vae
        .encode_moments_seamless(image, &tiling)
        .expect("seamless encode");
    check("seamless encode (3 passes)", &tiled, &untiled, 1e-3);
}

#[test]
fn sdxl_topology_matches_diffusers() {
    let vae = hashed(&AutoencoderKlConfig::sdxl());
    let mut r = npz("sdxl.npz");
    let moments = vae.encode_moments(tensor(&mut r, "image")).expect("encode");
    check("sdxl encode", &moments, &tensor(&mut r, "moments"), 1e-4);
    let decoded = vae.decode(tensor(&mut r, "latent_model")).expect("decode");
    check("sdxl decode", &decoded, &tensor(&mut r, "decoded"), 1e-4);
    let decoded = vae
        .decode_tiled_diffusers(
            tensor(&mut r, "tiled_latent_model"),
            &DiffusersTiling::new(64, 8),
        )
        .expect("tiled decode");
    check(
        "sdxl tiled decode",
        &decoded,
        &tensor(&mut r, "tiled_decoded"),
        1e-4,
    );
}

#[test]
fn diffusion_4k_f16_vae_matches_official_code() {
    let mut vae = hashed(&small_config().f16_partitioned());
    let mut r = npz("d4k.npz");
    let moments = vae.encode_moments(tensor(&mut r, "image")).expect("encode");
    check(
        "d4k encode (stride 2)",
        &moments,
        &tensor(&mut r, "moments"),
        1e-4,
    );
    let latent = tensor(&mut r, "latent_model");
    let decoded = vae.decode(latent.clone()).expect("decode");
    check(
        "d4k partitioned decode",
        &decoded,
        &tensor(&mut r, "partitioned"),
        1e-4,
    );
    vae.partitioned = false;
    let decoded = vae.decode(latent).expect("decode");
    check("d4k plain decode", &decoded, &tensor(&mut r, "plain"), 1e-4);
}

/// A diffusers folder (f16 safetensors) and the same weights in the LDM single-file layout load
/// to the same model, which matches diffusers.
#[test]
fn loads_diffusers_folder_and_ldm_layout() {
    let device = Default::default();
    let vae: AutoencoderKl<B> =
        from_diffusers_dir(fixture("tiny_vae"), &device).expect("diffusers dir");
    let cfg = AutoencoderKlConfig {
        layers_per_block: 1,
        ..AutoencoderKlConfig::new(vec![32, 32]).with_sample_size(32)
    };
    let ldm = cfg
        .load::<B>(
            &StateDict::read(fixture("tiny_ldm.safetensors")).expect("read"),
            &device,
        )
        .expect("ldm layout");
    let (a, b) = (vae.state_dict(), ldm.state_dict());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for k in a.keys() {
        assert_eq!(a.data(k).map(|d| d.ok()), b.data(k).map(|d| d.ok()), "{k}");
    }
    let mut r = npz("tiny.npz");
    for model in [&vae, &ldm] {
        let moments = model
            .encode_moments(tensor(&mut r, "image"))
            .expect("encode");
        check("tiny encode", &moments, &tensor(&mut r, "moments"), 1e-4);
        let decoded = model
            .decode(tensor(&mut r, "latent_model"))
            .expect("decode");
        check("tiny decode", &decoded, &tensor(&mut r, "decoded"), 1e-4);
    }
}
