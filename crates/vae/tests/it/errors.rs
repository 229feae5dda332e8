//! Bad input gets a clear error, never a panic.

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn_ndarray::NdArray;
use ultrares_nn::StateDict;
use ultrares_vae::{
    AutoencoderKl, AutoencoderKlConfig, DiffusersTiling, Error, SeamlessTiling, from_diffusers_dir,
};

type B = NdArray<f32>;

fn tiny() -> AutoencoderKl<B> {
    AutoencoderKlConfig::new(vec![32, 32])
        .with_layers_per_block(1)
        .init(&Default::default())
        .expect("init")
}

fn t(shape: [usize; 4]) -> Tensor<B, 4> {
    Tensor::zeros(shape, &Default::default())
}

fn msg<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn bad_shapes_and_values() {
    let vae = tiny();
    for shape in [[1, 3, 31, 32], [1, 4, 32, 32], [0, 3, 32, 32], [1, 3, 0, 2]] {
        let m = msg(vae.encode(t(shape)));
        assert!(m.contains("image"), "{m}");
    }
    let m = msg(vae.decode(t([1, 3, 8, 8])));
    assert!(m.contains("latent"), "{m}");
    let nan = Tensor::<B, 4>::from_data(
        TensorData::new(vec![f32::NAN; 4 * 4 * 4], [1, 4, 4, 4]),
        &Default::default(),
    );
    let m = msg(vae.decode(nan.clone()));
    assert!(m.contains("non-finite"), "{m}");
    let m = msg(vae.decode_seamless(nan, &SeamlessTiling::default()));
    assert!(m.contains("non-finite"), "{m}");
    let inf = Tensor::<B, 4>::from_data(
        TensorData::new(vec![f32::INFINITY; 3 * 8 * 8], [1, 3, 8, 8]),
        &Default::default(),
    );
    assert!(msg(vae.encode(inf)).contains("non-finite"));
}

#[test]
fn bad_tiling_parameters() {
    let vae = tiny();
    let z = t([1, 4, 8, 8]);
    for tiling in [
        SeamlessTiling {
            tile: 0,
            ..SeamlessTiling::default()
        },
        SeamlessTiling {
            stat_passes: 0,
            ..SeamlessTiling::default()
        },
    ] {
        assert!(msg(vae.decode_seamless(z.clone(), &tiling)).contains("tiling"));
    }
    let bad = DiffusersTiling {
        overlap_factor: 1.5,
        ..DiffusersTiling::new(32, 16)
    };
    assert!(msg(vae.decode_tiled_diffusers(z, &bad)).contains("tiling"));
}

#[test]
fn bad_configs() {
    let device = Default::default();
    let cases = [
        AutoencoderKlConfig::new(vec![]),
        AutoencoderKlConfig::new(vec![30, 64]),
        AutoencoderKlConfig::new(vec![32]).with_stride(3),
        AutoencoderKlConfig::new(vec![32]).with_scaling_factor(0.0),
        AutoencoderKlConfig::new(vec![32]).with_latent_channels(0),
    ];
    for cfg in cases {
        let m = msg(cfg.init::<B>(&device));
        assert!(m.contains("invalid VAE config"), "{m}");
    }
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("json");
    for (text, field) in [
        (r#"{"_class_name": "AutoencoderKLWan"}"#, "_class_name"),
        (
            r#"{"block_out_channels": [32], "down_block_types": ["DownBlock2D"]}"#,
            "down_block_types",
        ),
        (
            r#"{"block_out_channels": [32], "act_fn": "gelu"}"#,
            "act_fn",
        ),
        (
            r#"{"block_out_channels": [32], "latents_mean": [0.1, 0.2]}"#,
            "latents_mean",
        ),
        (
            r#"{"block_out_channels": [32], "layers_per_block": -1}"#,
            "layers_per_block",
        ),
        (r#"[1, 2]"#, "config.json"),
    ] {
        let m = msg(AutoencoderKlConfig::from_diffusers_json(&json(text)));
        assert!(m.contains(field), "{field}: {m}");
    }
}

#[test]
fn bad_weights() {
    let device = Default::default();
    let cfg = AutoencoderKlConfig::new(vec![32, 32]).with_layers_per_block(1);
    let good = cfg.init::<B>(&device).expect("init").state_dict();
    let keys: Vec<String> = good.keys().map(String::from).collect();
    // Missing, unexpected and mis-shaped keys, all listed in one message.
    let mut tensors: Vec<(String, TensorData)> = keys
        .iter()
        .filter(|k| k.as_str() != "decoder.conv_in.weight")
        .map(|k| (k.clone(), good.data(k).expect("key").expect("read")))
        .collect();
    tensors.push((
        "encoder.extra.weight".into(),
        TensorData::new(vec![0f32; 2], [2]),
    ));
    for (k, v) in tensors.iter_mut() {
        if k == "quant_conv.bias" {
            *v = TensorData::new(vec![0f32; 3], [3]);
        }
    }
    let m = msg(cfg.load::<B>(&StateDict::from_tensors("test", tensors), &device));
    for part in [
        "decoder.conv_in.weight",
        "encoder.extra.weight",
        "quant_conv.bias",
        "missing",
        "unexpected",
        "mismatched",
    ] {
        assert!(m.contains(part), "{part}: {m}");
    }
    // Files and folders.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert!(msg(from_diffusers_dir::<B>(dir.join("nope"), &device)).contains("config.json"));
    assert!(msg(from_diffusers_dir::<B>(&dir, &device)).contains("config.json"));
    let wrong = AutoencoderKlConfig::new(vec![64, 64]);
    let sd = StateDict::read(dir.join("tiny_ldm.safetensors")).expect("read");
    assert!(msg(wrong.load::<B>(&sd, &device)).contains("mismatched"));
    assert!(msg(tiny().clone().with_dtype(burn::tensor::DType::I64)).contains("dtype"));
}
