//! The WaveDiff networks against the official code (VinAIResearch/WaveDiff@f1ad48b,
//! `tools/golden/gen_wavediff.py`): every preset's generator at its real widths (reduced
//! resolution, attention at the same level) and the four discriminator topologies, all with
//! `det_weight` weights built from the official state-dict key lists (so loading is strict
//! against the official names and shapes), and the sampling loop with replayed noise.

use crate::common;

use common::{B, Golden, det_state_dict, official, rel_err};
use ultrares_wavediff::{
    Discriminator, DiscriminatorConfig, DiscriminatorKind, Ncsnpp, NetType, Preset, SampleNoise,
    Sampler,
};

/// The reduced-resolution generator of fixture `name`: the preset's widths (checked against
/// [`Preset::generator`]), with the fixture's resolution and attention widths.
fn generator(preset: Preset, name: &str) -> Ncsnpp<B> {
    let config = official(name).generator;
    let real = preset.generator();
    assert_eq!(
        (
            config.nf,
            &config.ch_mult,
            config.nz,
            config.n_mlp,
            config.patch_size
        ),
        (real.nf, &real.ch_mult, real.nz, real.n_mlp, real.patch_size),
        "{preset} preset"
    );
    let mut model = Ncsnpp::<B>::new(config, &Default::default()).expect("config");
    let sd = det_state_dict(&format!("keys_{preset}.txt"), "");
    model
        .load(&sd, "", &Default::default())
        .expect("official keys and shapes");
    model
}

fn check_generator(preset: Preset) {
    let mut g = Golden::open(&format!("gen_{preset}.npz"));
    let model = generator(preset, &format!("gen_{preset}"));
    let (x, t, z) = (g.tensor::<4>("x"), g.ints("t"), g.tensor::<2>("z"));
    let zemb = model.map_z(z.clone());
    let e = rel_err(zemb, g.tensor("zemb"));
    assert!(e <= 1e-5, "{preset} z mapping: {e:e}");
    let out = model.forward(x, t, z).expect("forward");
    let e = rel_err(out, g.tensor("out"));
    eprintln!("{preset} generator: {e:e} relative");
    assert!(e <= 1e-4, "{preset} generator: {e:e}");
}

#[test]
fn cifar10_normal_generator_equals_official() {
    assert_eq!(Preset::Cifar10.generator().net_type, NetType::Normal);
    check_generator(Preset::Cifar10);
}

#[test]
fn stl10_generator_equals_official() {
    check_generator(Preset::Stl10);
}

#[test]
fn celeba_256_generator_equals_official() {
    check_generator(Preset::Celeba256);
}

#[test]
fn celeba_512_generator_equals_official() {
    check_generator(Preset::Celeba512);
}

#[test]
fn celeba_1024_generator_with_patchify_equals_official() {
    assert_eq!(Preset::Celeba1024.generator().patch_size, 2);
    check_generator(Preset::Celeba1024);
}

#[test]
fn lsun_generator_equals_official() {
    check_generator(Preset::Lsun);
}

fn check_discriminator(file: &str, kind: DiscriminatorKind, num_layers: usize) {
    let config = DiscriminatorConfig {
        kind,
        num_channels: 12,
        ngf: 64,
        t_emb_dim: 256,
        num_layers,
    };
    let mut d = Discriminator::<B>::new(config, &Default::default()).expect("config");
    let sd = det_state_dict(&format!("disc_keys_{file}.txt"), "");
    d.load(&sd, "", &Default::default()).expect("official keys");
    let mut g = Golden::open(&format!("disc_{file}.npz"));
    let out = d
        .forward(g.tensor("x"), g.ints("t"), g.tensor("x_cond"))
        .expect("forward");
    let e = rel_err(out, g.tensor("out"));
    eprintln!("discriminator {file}: {e:e} relative");
    assert!(e <= 1e-4, "discriminator {file}: {e:e}");
}

#[test]
fn discriminators_equal_official() {
    check_discriminator("small3", DiscriminatorKind::Small, 3);
    check_discriminator("small", DiscriminatorKind::Small, 4);
    check_discriminator("large5", DiscriminatorKind::Large, 5);
    check_discriminator("large", DiscriminatorKind::Large, 6);
}

fn check_sampling(preset: Preset) {
    let mut g = Golden::open(&format!("sample_{preset}.npz"));
    let model = generator(preset, &format!("sample_{preset}"));
    let steps = preset.num_timesteps();
    let noise = SampleNoise {
        x_t: g.tensor("x_T"),
        z: (0..steps)
            .rev()
            .map(|i| g.tensor(&format!("z_{i}")))
            .collect(),
        eps: (0..steps)
            .rev()
            .map(|i| g.tensor(&format!("eps_{i}")))
            .collect(),
    };
    let sampler = Sampler::preset(preset).expect("sampler");
    let x0 = sampler.sample_wavelet(&model, noise).expect("sample");
    let e = rel_err(x0.clone(), g.tensor("x0"));
    assert!(e <= 1e-4, "{preset} sample_from_model: {e:e}");
    let images = sampler.to_images(x0).expect("images");
    let e = rel_err(images, g.tensor("images"));
    eprintln!("{preset} sampled images: {e:e} relative");
    assert!(e <= 1e-4, "{preset} images: {e:e}");
}

#[test]
fn cifar10_sampling_with_replayed_noise_equals_official() {
    check_sampling(Preset::Cifar10);
}

#[test]
fn celeba_256_sampling_with_replayed_noise_equals_official() {
    check_sampling(Preset::Celeba256);
}

/// A checkpoint in the official layout (`torch.save(netG.state_dict())` of the DDP model:
/// every key prefixed `module.`) loads strictly and computes what the official model computes
/// after `test_wddgan.py`'s loading.
#[test]
fn official_layout_checkpoint_loads_and_runs() {
    let config = official("netG_small").generator;
    let mut model = Ncsnpp::<B>::new(config, &Default::default()).expect("config");
    ultrares_wavediff::checkpoint::load_generator(
        &mut model,
        common::fixture("netG_small.pth"),
        &Default::default(),
    )
    .expect("official checkpoint");
    let mut g = Golden::open("netG_small.npz");
    let out = model
        .forward(g.tensor("x"), g.ints("t"), g.tensor("z"))
        .expect("forward");
    let e = rel_err(out, g.tensor("out"));
    assert!(e <= 1e-4, "netG_small: {e:e}");
}

/// Every preset equals what the official `run.sh` line of its dataset gives the argparse
/// parser (the fixtures' `args`, only the resolution reduced): discriminator, `T`, band
/// order and the training hyper-parameters.
#[test]
fn presets_equal_official_run_sh() {
    for preset in Preset::ALL {
        let name = format!("gen_{preset}");
        let o = official(&name);
        assert_eq!(
            o.discriminator,
            preset.discriminator(),
            "{preset} discriminator"
        );
        assert_eq!(o.num_timesteps, preset.num_timesteps(), "{preset} T");
        assert_eq!(o.band_order, preset.band_order(), "{preset} band order");
        let cfg = ultrares_nn::ConfigJson::read(common::fixture(&format!("{name}.json")))
            .expect("json")
            .object("args")
            .expect("args");
        let f = |k: &str| cfg.f64(k).expect(k);
        let t = preset.training();
        assert_eq!(
            (t.lr_g, t.lr_d, t.r1_gamma, t.ema_decay),
            (f("lr_g"), f("lr_d"), f("r1_gamma"), f("ema_decay")),
            "{preset} training"
        );
        assert_eq!(t.betas, (f("beta1"), f("beta2")), "{preset} betas");
        let u = |k: &str| cfg.usize(k).expect(k);
        assert_eq!(
            (t.lazy_reg, t.batch_size, t.num_epoch),
            (u("lazy_reg"), u("batch_size"), u("num_epoch")),
            "{preset} training"
        );
    }
}
