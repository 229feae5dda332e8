//! The layers against torch / diffusers / transformers on hashed inputs and weights (fixture:
//! tools/golden/gen_nn.py): activations, LayerNorm, RMSNorm (diffusers and T5), GroupNorm,
//! GEGLU, timestep embeddings and `TimestepEmbedding`.

use std::fs::File;
use std::path::PathBuf;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::activation::{Activation, GegluConfig, gelu, gelu_tanh, quick_gelu, silu};
use ultrares_nn::embedding::{TimestepEmbeddingConfig, Timesteps, timestep_embedding};
use ultrares_nn::weights::{Loader, StateDict, Visitor};
use ultrares_nn::{GroupNormConfig, LayerNormConfig, RmsNormConfig};

type B = burn::backend::NdArray<f32>;

struct Fixture(NpzReader<File>);

impl Fixture {
    fn open() -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nn.npz");
        Self(NpzReader::new(File::open(path).expect("fixture")).expect("npz"))
    }

    fn get<const D: usize>(&mut self, key: &str) -> Tensor<B, D> {
        let a: ArrayD<f32> = self.0.by_name(key).expect(key);
        let shape: [usize; D] = a.shape().try_into().expect("rank");
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect(), shape),
            &Default::default(),
        )
    }
}

fn param(key: &str, shape: [usize; 1]) -> Param<Tensor<B, 1>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(det_weight(key, &shape), shape),
        &Default::default(),
    ))
}

fn close<const D: usize>(name: &str, got: Tensor<B, D>, want: Tensor<B, D>, tol: f32) {
    assert_eq!(got.dims(), want.dims(), "{name}");
    let err: f32 = (got - want).abs().max().into_scalar();
    println!("{name}: max abs error {err:.1e}");
    assert!(err <= tol, "{name}: {err:e} > {tol:e}");
}

#[test]
fn activations_equal_torch() {
    let mut f = Fixture::open();
    let x: Tensor<B, 3> = f.get("x");
    close("gelu", gelu(x.clone()), f.get("gelu"), 1e-6);
    close(
        "Activation::Gelu (backend)",
        Activation::Gelu.forward(x.clone()),
        f.get("gelu"),
        1e-6,
    );
    close("gelu_tanh", gelu_tanh(x.clone()), f.get("gelu_tanh"), 1e-6);
    close(
        "quick_gelu",
        quick_gelu(x.clone()),
        f.get("quick_gelu"),
        1e-6,
    );
    close("silu", silu(x.clone()), f.get("silu"), 1e-6);
    close(
        "Activation::from_name(gelu_pytorch_tanh)",
        Activation::from_name("gelu_pytorch_tanh")
            .expect("known")
            .forward(x),
        f.get("gelu_tanh"),
        1e-6,
    );
    assert!(Activation::from_name("relu6").is_none());
}

#[test]
fn norms_equal_torch() {
    let mut f = Fixture::open();
    let dev = Default::default();
    let x: Tensor<B, 3> = f.get("x");
    let mut ln = LayerNormConfig::new(24).init::<B>(&dev);
    ln.weight = Some(param("ln.weight", [24]));
    ln.bias = Some(param("ln.bias", [24]));
    close(
        "layer_norm",
        ln.forward(x.clone()),
        f.get("layer_norm"),
        2e-6,
    );
    let plain = LayerNormConfig::new(24)
        .with_epsilon(1e-6)
        .with_affine(false)
        .init::<B>(&dev);
    close(
        "layer_norm_plain",
        plain.forward(x.clone()),
        f.get("layer_norm_plain"),
        2e-6,
    );
    let mut rms = RmsNormConfig::new(24).init::<B>(&dev);
    rms.weight = Some(param("rms.weight", [24]));
    close(
        "rms_norm (diffusers)",
        rms.forward(x.clone()),
        f.get("rms_norm"),
        2e-6,
    );
    close(
        "rms_norm (T5)",
        rms.forward(x),
        f.get("t5_layer_norm"),
        2e-6,
    );
    let mut gn = GroupNormConfig::new(8, 32)
        .with_epsilon(1e-6)
        .init::<B>(&dev);
    gn.weight = param("gn.weight", [32]);
    gn.bias = param("gn.bias", [32]);
    close(
        "group_norm",
        gn.forward(f.get("gn_x")),
        f.get("group_norm"),
        1e-5,
    );
}

#[test]
fn geglu_and_timestep_embeddings_equal_diffusers() {
    let mut f = Fixture::open();
    let dev = Default::default();
    let hashed = |keys: &[(&str, Vec<usize>)]| {
        StateDict::from_tensors(
            "hashed",
            keys.iter()
                .map(|(k, s)| (k.to_string(), TensorData::new(det_weight(k, s), s.clone()))),
        )
    };
    let mut geglu = GegluConfig::new(24, 16).init::<B>(&dev);
    let sd = hashed(&[("proj.weight", vec![32, 24]), ("proj.bias", vec![32])]);
    let mut loader = Loader::new(&sd, &dev);
    loader.linear("proj", &mut geglu.proj);
    loader.finish().expect("GEGLU weights");
    close(
        "geglu",
        geglu.forward(f.get::<3>("x")),
        f.get("geglu"),
        2e-6,
    );

    let t: Tensor<B, 1> = f.get("t");
    let unet = Timesteps::new(320, true).with_downscale_freq_shift(0.0);
    let temb = unet.forward(t.clone());
    // Arguments reach 999 rad: one f32 ulp of the argument is 6e-5, so sin/cos of the same f32
    // argument agree to that, not better.
    close(
        "Timesteps(320, flip, 0)",
        temb.clone(),
        f.get("temb_unet"),
        1e-4,
    );
    close(
        "get_timestep_embedding(256)",
        timestep_embedding(t.clone(), 256, false, 1.0, 1.0, 10000.0),
        f.get("temb_default"),
        1e-4,
    );
    close(
        "get_timestep_embedding(7, scale 2, period 500)",
        timestep_embedding(t, 7, false, 1.0, 2.0, 500.0),
        f.get("temb_odd"),
        2e-4,
    );
    let mut te = TimestepEmbeddingConfig::new(320, 1280)
        .init::<B>(&dev)
        .expect("silu");
    let sd = hashed(&[
        ("time_embedding.linear_1.weight", vec![1280, 320]),
        ("time_embedding.linear_1.bias", vec![1280]),
        ("time_embedding.linear_2.weight", vec![1280, 1280]),
        ("time_embedding.linear_2.bias", vec![1280]),
    ]);
    let mut loader = Loader::new(&sd, &dev);
    loader.linear("time_embedding.linear_1", &mut te.linear_1);
    loader.linear("time_embedding.linear_2", &mut te.linear_2);
    loader.finish().expect("TimestepEmbedding weights");
    close(
        "TimestepEmbedding(320, 1280)",
        te.forward(f.get("temb_unet")),
        f.get("time_embedding"),
        1e-5,
    );
}
