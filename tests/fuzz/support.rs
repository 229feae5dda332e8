//! One function per fuzz target (`fuzz/fuzz_targets/*.rs`), shared with the regression replay
//! (`tests/fuzz_regressions.rs`): each feeds arbitrary bytes to a parser a user's file reaches
//! and must return (an `Err` is fine) without panicking, hanging or allocating without bound.

#![allow(dead_code)]

use std::io::Cursor;

use burn::backend::NdArray;

type B = NdArray<f32>;

/// Writes `data` to a per-thread scratch file with `ext` (for parsers that only take paths).
fn scratch(data: &[u8], ext: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{:?}.{ext}", std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::write(&path, data);
    path
}

pub fn safetensors(data: &[u8]) {
    let _ = ultrares_nn::weights::safetensors::parse(data);
}

pub fn sharded_index(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ultrares_nn::weights::sharded::parse_index("fuzz.index.json", text);
    }
}

pub fn pth(data: &[u8]) {
    let path = scratch(data, "pth");
    if let Ok(sd) = ultrares_nn::StateDict::read(&path) {
        for k in sd.keys() {
            let _ = sd.data(k);
        }
    }
}

/// What the CLI does with a `.npy` (`crates/cli/src/npy.rs`): the size check, then ndarray-npy.
pub fn npy(data: &[u8]) {
    use ndarray::ArrayD;
    use ndarray_npy::ReadNpyExt;
    if ultrares_nn::npy::check(data).is_ok() {
        let _ = ArrayD::<f32>::read_npy(data);
        let _ = ArrayD::<f64>::read_npy(data);
    }
}

/// What the CLI does with an `.npz`: each member read (at most 64 MiB here), checked, parsed.
pub fn npz(data: &[u8]) {
    use std::io::Read;
    let Ok(mut z) = zip::ZipArchive::new(Cursor::new(data)) else {
        return;
    };
    for i in 0..z.len().min(16) {
        let Ok(member) = z.by_index(i) else { continue };
        let mut bytes = Vec::new();
        if member.take(1 << 26).read_to_end(&mut bytes).is_ok() {
            npy(&bytes);
        }
    }
}

pub fn image(data: &[u8]) {
    use ultrares_core::image::{ValueRange, gray8_to_tensor, rgb8_to_tensor};
    let Ok(reader) = image::ImageReader::new(Cursor::new(data)).with_guessed_format() else {
        return;
    };
    let Ok(img) = reader.decode() else { return };
    // Keep tensors small: the decoder's own limits bound the image (512 MiB).
    if u64::from(img.width()) * u64::from(img.height()) > 1 << 20 {
        return;
    }
    let device = Default::default();
    let _ = rgb8_to_tensor::<B>(&img.to_rgb8(), ValueRange::MinusOneOne, &device);
    let _ = gray8_to_tensor::<B>(&img.to_luma8(), ValueRange::ZeroOne, &device);
}

pub fn config_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = ultrares_nn::ConfigJson::parse("fuzz.json", text) {
        let _ = c.check_class(&["UNet2DConditionModel"]);
        for key in [
            "in_channels",
            "block_out_channels",
            "norm_eps",
            "act_fn",
            "x",
        ] {
            let _ = c.opt_usize(key);
            let _ = c.opt_usize_list(key, Some(4));
            let _ = c.opt_f64(key);
            let _ = c.opt_str(key);
            let _ = c.opt_bool(key);
            let _ = c.opt_str_list(key);
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
        && let Ok(cfg) = ultrares_vae::AutoencoderKlConfig::from_diffusers_json(&v)
    {
        let _ = cfg.validate();
    }
    let _ = ultrares_schedulers::SchedulerConfig::from_json(text);
}

pub fn liif_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    // Only the parse: building a network from an arbitrary spec could be arbitrarily large.
    let _ = ultrares_lsr::LiifConfig::from_spec(&v);
}
