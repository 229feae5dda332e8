//! Bad input returns clear errors, never panics.

use std::path::PathBuf;

use burn::backend::NdArray;
use burn::tensor::{Tensor, TensorData};
use ultrares_core::LatentUpsampler;
use ultrares_lsr::swinir::SwinIrConfig;
use ultrares_lsr::{EncoderConfig, Error, Liif, LiifConfig, StateDict};

type B = NdArray<f32>;

/// A small LSR (SwinIR embed 12, one group of 2 blocks, MLP 16) with default weights.
fn small() -> LiifConfig {
    let swin = SwinIrConfig::new()
        .with_embed_dim(12)
        .with_depths(vec![2])
        .with_num_heads(vec![2]);
    LiifConfig::new(EncoderConfig::SwinIr(swin), 4)
        .with_hidden_list(vec![16])
        .with_residual(true)
}

fn latent(h: usize, w: usize) -> Tensor<B, 4> {
    let v: Vec<f32> = (0..4 * h * w)
        .map(|i| ((i * 7919) % 13) as f32 / 13.0)
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 4, h, w]), &Default::default())
}

fn msg<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_sizes_and_scales() {
    let model = small().init::<B>(&Default::default()).expect("init");
    let m = msg(model.upsample(latent(16, 16), [8, 32]));
    assert!(m.contains("size") && m.contains("16×16"), "{m}");
    let m = msg(model.forward(latent(16, 16), [1 << 17, 32]));
    assert!(m.contains("too large"), "{m}");
    for s in [0.0, -2.0, 0.5, f64::NAN, f64::INFINITY] {
        let m = msg(Liif::<B>::scaled_size([16, 16], s));
        assert!(m.contains("scale"), "{m}");
    }
    assert_eq!(
        Liif::<B>::scaled_size([16, 10], 2.5).expect("size"),
        [40, 25]
    );
}

#[test]
fn bad_inputs() {
    let model = small().init::<B>(&Default::default()).expect("init");
    // Wrong channel count for the checkpoint.
    let rgb = Tensor::<B, 4>::zeros([1, 3, 16, 16], &Default::default());
    let m = msg(model.forward(rgb, [32, 32]));
    assert!(m.contains("[N, 4, h, w]"), "{m}");
    // NaN and ±inf.
    let mut v = vec![0.5f32; 4 * 16 * 16];
    v[17] = f32::NAN;
    v[90] = f32::INFINITY;
    let x = Tensor::<B, 4>::from_data(TensorData::new(v, [1, 4, 16, 16]), &Default::default());
    let m = msg(model.forward(x, [32, 32]));
    assert!(m.contains("2 non-finite"), "{m}");
    // Too small for the reflect padding to the 8-window (as in PyTorch).
    let m = msg(model.forward(latent(3, 16), [6, 32]));
    assert!(m.contains("reflect"), "{m}");
    // Smallest sides that pad: 5 → 8 (pad 3 < 5).
    assert!(model.forward(latent(5, 9), [10, 18]).is_ok());
    // RGB upscaling needs an RGB model.
    let m = msg(model.upscale(latent(16, 16), [32, 32]));
    assert!(m.contains("RGB"), "{m}");
}

#[test]
fn bad_configs() {
    let dev = Default::default();
    let m = msg(LiifConfig {
        out_dim: 7,
        ..small()
    }
    .init::<B>(&dev));
    assert!(m.contains("out_dim"), "{m}");
    let m = msg(small().with_chunk(0).init::<B>(&dev));
    assert!(m.contains("chunk"), "{m}");
    let bad = SwinIrConfig::new()
        .with_embed_dim(10)
        .with_num_heads(vec![3, 3, 3, 3]);
    let m = msg(LiifConfig::new(EncoderConfig::SwinIr(bad), 4).init::<B>(&dev));
    assert!(m.contains("num_heads"), "{m}");
    let spec =
        serde_json::json!({"name": "liif", "args": {"encoder_spec": {"name": "rdn", "args": {}}}});
    let m = msg(LiifConfig::from_spec(&spec));
    assert!(m.contains("rdn"), "{m}");
    let spec = serde_json::json!({"name": "liif", "args": {"encoder_spec": {"name": "swinir", "args": {"upsampler": "pixelshuffle"}}}});
    let m = msg(LiifConfig::from_spec(&spec));
    assert!(m.contains("upsampler"), "{m}");
}

#[test]
fn checkpoint_key_errors_list_every_key() {
    let dev = Default::default();
    let cfg = small();
    let good = cfg.init::<B>(&dev).expect("init").state_dict();
    let entries = |skip: &str| {
        good.keys()
            .filter(|k| *k != skip)
            .map(|k| (k.to_string(), good.data(k).expect("key").expect("read")))
            .collect::<Vec<_>>()
    };
    // Round trip.
    let model = cfg.load::<B>(&good, &dev).expect("load");
    assert_eq!(model.state_dict().len(), good.len());
    // Missing + unexpected + mis-shaped at once.
    let mut tensors = entries("imnet.layers.0.bias");
    tensors.push(("encoder.bogus".into(), TensorData::new(vec![0f32; 3], [3])));
    for (k, t) in tensors.iter_mut() {
        if k == "encoder.conv_first.weight" {
            *t = TensorData::new(vec![0f32; 12 * 3 * 9], [12, 3, 3, 3]);
        }
    }
    let m = msg(cfg.load::<B>(&StateDict::from_tensors("edited", tensors), &dev));
    for part in [
        "missing keys [\"imnet.layers.0.bias\"]",
        "encoder.conv_first.weight: expected float [12, 4, 3, 3]",
        "unexpected keys [\"encoder.bogus\"]",
    ] {
        assert!(m.contains(part), "{part} not in {m}");
    }
    // A wrong relative_position_index buffer (another window size) is caught.
    let mut tensors = entries("");
    let key = "encoder.layers.0.residual_group.blocks.0.attn.relative_position_index";
    tensors.push((key.into(), TensorData::new(vec![0i64; 64 * 64], [64, 64])));
    let m = msg(cfg.load::<B>(&StateDict::from_tensors("edited", tensors), &dev));
    assert!(m.contains("relative_position_index"), "{m}");
}

#[test]
fn unreadable_files() {
    let dev = Default::default();
    let m = msg(Liif::<B>::from_checkpoint("/nonexistent/x.pth", &dev));
    assert!(m.contains("no such file"), "{m}");
    let dir = std::env::temp_dir().join(format!("ultrares-lsr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let txt = dir.join("weights.txt");
    std::fs::write(&txt, b"hello").expect("write");
    assert!(msg(Liif::<B>::from_checkpoint(&txt, &dev)).contains("expected a .pth"));
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").expect("write");
    assert!(msg(Liif::<B>::from_checkpoint(&junk, &dev)).contains("junk.safetensors"));
    let junk = dir.join("junk.pth");
    std::fs::write(&junk, b"not a pickle").expect("write");
    assert!(msg(Liif::<B>::from_checkpoint(&junk, &dev)).contains("junk.pth"));
    // Safetensors without a spec needs an explicit config.
    let plain =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lsr_tiny.safetensors");
    let bytes = std::fs::read(&plain).expect("read");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("st");
    let views: Vec<_> = st.tensors();
    let nospec = dir.join("nospec.safetensors");
    safetensors::serialize_to_file(views, None, &nospec).expect("write");
    let m = msg(Liif::<B>::from_checkpoint(&nospec, &dev));
    assert!(m.contains("no model spec"), "{m}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn progress_reports_row_chunks_and_cancels() {
    use std::ops::ControlFlow;
    use ultrares_core::{Progress, ProgressFn, Reporter, Stage};
    // 32 output rows of 32 queries, 256 queries per chunk: chunks of 8 rows.
    let model = small()
        .with_chunk(256)
        .init::<B>(&Default::default())
        .expect("init");
    let mut rows = Vec::new();
    let mut all = ProgressFn(|p: Progress| {
        rows.push((p.step, p.total));
        ControlFlow::Continue(())
    });
    let full = model
        .forward_with_progress(
            latent(16, 16),
            [32, 32],
            &mut Reporter::new(Stage::Upsample, &mut all),
        )
        .expect("forward");
    assert_eq!(rows, [(8, 32), (16, 32), (24, 32), (32, 32)]);
    let plain = model.forward(latent(16, 16), [32, 32]).expect("forward");
    full.into_data()
        .assert_approx_eq::<f32>(&plain.into_data(), burn::tensor::Tolerance::absolute(0.0));

    let mut stop = ProgressFn(|p: Progress| {
        if p.step >= 16 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let mut reporter = Reporter::new(Stage::Upsample, &mut stop);
    let e = model
        .upsample_with(latent(16, 16), [32, 32], &mut reporter)
        .unwrap_err();
    assert!(
        matches!(e, Error::Core(ultrares_core::Error::Cancelled)),
        "{e}"
    );
    assert_eq!(reporter.cancelled().map(|p| p.step), Some(16));
}

#[test]
fn spec_keys_of_the_wrong_type_are_named() {
    let spec = serde_json::json!({"name": "liif", "args": {"encoder_spec": {"name": "swinir",
        "args": {"depths": "6,6"}}}});
    let m = msg(LiifConfig::from_spec(&spec));
    assert!(
        m.contains("encoder_spec → args") && m.contains("depths"),
        "{m}"
    );
    let spec = serde_json::json!({"name": "liif", "args": {"feat_unfold": "yes", "encoder_spec":
        {"name": "edsr-baseline", "args": {"no_upsampling": true}}}});
    let m = msg(LiifConfig::from_spec(&spec));
    assert!(m.contains("feat_unfold"), "{m}");
    let m = msg(LiifConfig::from_spec(&serde_json::json!({"name": "mlp"})));
    assert!(m.contains("liif"), "{m}");
}
