//! `ultrares fid` and `ultrares kid`: from feature `.npy` files, pytorch-fid statistics `.npz`
//! files, or image folders through pytorch-fid's InceptionV3 (weights from `--weights`), with
//! LSRNA's pFID/pKID crops on request (`--patch 1024`).

use std::path::{Path, PathBuf};

use burn::tensor::DType;
use ndarray::{ArrayD, Ix2};
use ndarray_npy::ReadNpyExt;
use ultrares::core::image::{RgbImage, ValueRange, read_rgb8, rgb8_batch_to_tensor};
use ultrares::metrics::{
    FeatureStats, InceptionV3, PatchSampler, frechet_distance, kid, reference_to_size,
};

use ultrares::nn::NnBackend;
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::metrics::{collect_files, for_each_file};

/// Options shared by `fid` and `kid`.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// First set: features `.npy` (N × D), pytorch-fid statistics `.npz` (mu, sigma; FID
    /// only), or an image folder (the generated set for pFID/pKID).
    a: PathBuf,
    /// Second set, same kinds (the ground truth for pFID/pKID).
    b: PathBuf,
    /// pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (or a safetensors conversion),
    /// needed for image folders. Never downloaded.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// pFID/pKID: crop side (LSRNA: 1024); 0 scores whole images (resized to 299²). The second
    /// folder's images are cropped to the aspect ratio of, and Lanczos-resized to, the first
    /// folder's image at the same sorted position; both are cropped at the same seeded places.
    #[arg(long, default_value_t = 0)]
    patch: u32,
    /// pFID/pKID: crops per image.
    #[arg(long, default_value_t = 50)]
    per_image: usize,
    /// pFID/pKID: seed of the crop locations.
    #[arg(long, default_value_t = 0)]
    patch_seed: u64,
    /// Report unreadable images (or image pairs) and score the rest.
    #[arg(long)]
    skip_bad: bool,
    /// Device for InceptionV3 on image folders: cpu, cuda[:N], wgpu[:N|:cpu].
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Inception's weight and compute dtype for image folders: f32 (as pytorch-fid and published
    /// figures), f16 or bf16 (GPU devices only; features are returned in f32 but differ slightly,
    /// so compare FIDs computed with the same dtype).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ultrares fid`.
#[derive(Debug, clap::Args)]
pub struct FidArgs {
    #[command(flatten)]
    common: Common,
}

/// Arguments of `ultrares kid`.
#[derive(Debug, clap::Args)]
pub struct KidArgs {
    #[command(flatten)]
    common: Common,
    /// Subsets (clean-fid / torch-fidelity: 100).
    #[arg(long, default_value_t = 100)]
    subsets: usize,
    /// Subset size (clean-fid: 1000; capped at the smaller set).
    #[arg(long, default_value_t = 1000)]
    subset_size: usize,
    /// Seed of the subset draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A set as read from disk.
enum Set {
    Features { data: Vec<f32>, dim: usize },
    Stats { mu: Vec<f64>, sigma: Vec<f64> },
}

fn read_features(path: &Path) -> Result<Set, String> {
    let bytes = crate::npy::read(path)?;
    let arr: ArrayD<f32> = match ArrayD::<f32>::read_npy(bytes.as_slice()) {
        Ok(a) => a,
        Err(_) => ArrayD::<f64>::read_npy(bytes.as_slice())
            .map_err(|e| format!("{}: not a float32/float64 .npy: {e}", path.display()))?
            .mapv(|v| v as f32),
    };
    let a = arr
        .into_dimensionality::<Ix2>()
        .map_err(|_| format!("{}: features must be a 2-D array (N × D)", path.display()))?;
    let dim = a.ncols();
    Ok(Set::Features {
        data: a.iter().copied().collect(),
        dim,
    })
}

/// pytorch-fid's statistics file: `np.savez(path, mu=mu, sigma=sigma)`, `mu` `[D]` and `sigma`
/// `[D, D]`, float64 (float32 is widened, as NumPy would in pytorch-fid's arithmetic).
fn read_stats(path: &Path) -> Result<Set, String> {
    let shown = path.display();
    let mut npz = crate::npy::Npz::open(path)?;
    let expected = "pytorch-fid statistics: mu [D] and sigma [D, D], float64, as np.savez(path, mu=mu, sigma=sigma) writes";
    let mut read = |key: &str, rank: usize| -> Result<ndarray::ArrayD<f64>, String> {
        let names = npz.names();
        if !names.iter().any(|n| n == key || *n == format!("{key}.npy")) {
            return Err(format!(
                "{shown}: no array {key:?} (it holds {:?}); expected {expected}",
                names
                    .iter()
                    .map(|n| n.trim_end_matches(".npy"))
                    .collect::<Vec<_>>()
            ));
        }
        let bytes = npz.bytes(key)?;
        let a = ndarray::ArrayD::<f64>::read_npy(bytes.as_slice())
            .or_else(|_| {
                ndarray::ArrayD::<f32>::read_npy(bytes.as_slice()).map(|a| a.mapv(f64::from))
            })
            .map_err(|e| {
                format!(
                    "{shown}: array {key:?} is not float64 or float32 ({e}); expected {expected}"
                )
            })?;
        if a.ndim() != rank {
            return Err(format!(
                "{shown}: array {key:?} has shape {:?}; expected {expected}",
                a.shape()
            ));
        }
        Ok(a)
    };
    let mu = read("mu", 1)?;
    let sigma = read("sigma", 2)?;
    let d = mu.len();
    if sigma.shape() != [d, d] {
        return Err(format!(
            "{shown}: mu has {d} values but sigma has shape {:?}; expected {expected}",
            sigma.shape()
        ));
    }
    Ok(Set::Stats {
        mu: mu.iter().copied().collect(),
        sigma: sigma.iter().copied().collect(),
    })
}

/// Inception features of image folders (whole images, or pFID/pKID crop pairs).
struct Extractor<B: NnBackend> {
    model: InceptionV3<B>,
    device: B::Device,
}

impl<B: NnBackend> Extractor<B> {
    fn new(weights: Option<&Path>, dtype: DType, device: &B::Device) -> Result<Self, String> {
        let w = weights.ok_or("image folders need --weights (pytorch-fid's Inception .pth)")?;
        let model = InceptionV3::load_file(w, device)
            .map_err(|e| e.to_string())?
            .with_dtype(dtype);
        Ok(Self {
            model,
            device: device.clone(),
        })
    }

    fn features(&self, imgs: &[RgbImage]) -> Result<Vec<f32>, String> {
        let device = &self.device;
        let mut out = Vec::with_capacity(imgs.len() * 2048);
        for img in imgs {
            let x =
                rgb8_batch_to_tensor::<B>(std::slice::from_ref(img), ValueRange::ZeroOne, device)
                    .map_err(|e| e.to_string())?;
            let f = self.model.features(x).map_err(|e| e.to_string())?;
            out.extend(
                f.into_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .map_err(|e| format!("{e:?}"))?,
            );
        }
        Ok(out)
    }
}

/// Both sets (image folders through Inception on `c.device`).
fn load_sets(c: &Common) -> Result<(Set, Set, serde_json::Value), CliError> {
    check_dtype(c.dtype, c.device)?;
    dispatch(c.device, LoadSets(c))
}

struct LoadSets<'a>(&'a Common);

impl Job for LoadSets<'_> {
    type Output = (Set, Set, serde_json::Value);

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<Self::Output, CliError> {
        Ok(load_sets_on::<B>(self.0, device)?)
    }
}

fn load_sets_on<B: NnBackend>(
    c: &Common,
    device: &B::Device,
) -> Result<(Set, Set, serde_json::Value), String> {
    let kind = |p: &Path| {
        if p.is_dir() {
            "images"
        } else if p.extension().is_some_and(|e| e == "npz") {
            "stats"
        } else {
            "features"
        }
    };
    let (ka, kb) = (kind(&c.a), kind(&c.b));
    let read = |p: &Path, k: &str| {
        if k == "stats" {
            read_stats(p)
        } else {
            read_features(p)
        }
    };
    if ka != "images" && kb != "images" {
        if c.patch > 0 {
            return Err("--patch needs two image folders".into());
        }
        return Ok((read(&c.a, ka)?, read(&c.b, kb)?, serde_json::Value::Null));
    }
    if ka != "images" || kb != "images" {
        return Err("mixing an image folder with a feature file is not supported".into());
    }
    let ex = Extractor::<B>::new(c.weights.as_deref(), c.dtype, device)?;
    let (fa, fb) = (
        collect_files(std::slice::from_ref(&c.a))?,
        collect_files(std::slice::from_ref(&c.b))?,
    );
    let dim = 2048;
    if c.patch == 0 {
        let mut sets = Vec::new();
        let mut skipped = Vec::new();
        for (files, label) in [
            (&fa, "Inception (first set)"),
            (&fb, "Inception (second set)"),
        ] {
            let scored = for_each_file(files, c.skip_bad, label, |_, f| {
                let img = read_rgb8(f).map_err(|e| e.to_string())?;
                Ok(ex.features(std::slice::from_ref(&img))?)
            })?;
            skipped.push(scored.skipped_json());
            sets.push(Set::Features {
                data: scored.ok.into_iter().flat_map(|(_, v)| v).collect(),
                dim,
            });
        }
        let b = sets.pop().ok_or("internal: no set")?;
        let a = sets.pop().ok_or("internal: no set")?;
        return Ok((a, b, serde_json::json!(skipped)));
    }
    if fa.len() != fb.len() {
        return Err(format!(
            "pFID/pKID pairs images by sorted position: {} generated vs {} reference images",
            fa.len(),
            fb.len()
        ));
    }
    let sampler = PatchSampler {
        patch: c.patch,
        per_image: c.per_image,
        seed: c.patch_seed,
    };
    let scored = for_each_file(&fa, c.skip_bad, "pFID crops", |i, f| {
        let gen_img = read_rgb8(f).map_err(|e| e.to_string())?;
        let gt = read_rgb8(&fb[i]).map_err(|e| format!("reference {}: {e}", fb[i].display()))?;
        let gt =
            reference_to_size(&gt, gen_img.width(), gen_img.height()).map_err(|e| e.to_string())?;
        let pa = sampler
            .patches(i as u64, &gen_img)
            .map_err(|e| e.to_string())?;
        let pb = sampler.patches(i as u64, &gt).map_err(|e| e.to_string())?;
        Ok((ex.features(&pa)?, ex.features(&pb)?))
    })?;
    let skipped = scored.skipped_json();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (_, (x, y)) in scored.ok {
        a.extend(x);
        b.extend(y);
    }
    Ok((
        Set::Features { data: a, dim },
        Set::Features { data: b, dim },
        skipped,
    ))
}

fn stats_of(set: Set) -> Result<(Vec<f64>, Vec<f64>, u64), String> {
    match set {
        Set::Stats { mu, sigma } => Ok((mu, sigma, 0)),
        Set::Features { data, dim } => {
            let mut s = FeatureStats::new(dim).map_err(|e| e.to_string())?;
            s.add(&data).map_err(|e| e.to_string())?;
            let sigma = s.covariance().map_err(|e| e.to_string())?;
            Ok((s.mean().to_vec(), sigma, s.count()))
        }
    }
}

/// Runs `ultrares fid`.
pub fn run_fid(args: FidArgs) -> Result<String, CliError> {
    let (a, b, skipped) = load_sets(&args.common)?;
    let (mu1, s1, n1) = stats_of(a)?;
    let (mu2, s2, n2) = stats_of(b)?;
    let fid = frechet_distance(&mu1, &s1, &mu2, &s2).map_err(|e| e.to_string())?;
    let name = if args.common.patch > 0 { "pFID" } else { "FID" };
    if args.common.json {
        return Ok(
            serde_json::json!({"metric": name, "fid": fid, "n_a": n1, "n_b": n2,
            "skipped": skipped})
            .to_string(),
        );
    }
    Ok(format!("{name}: {fid:.6}"))
}

/// Runs `ultrares kid`.
pub fn run_kid(args: KidArgs) -> Result<String, CliError> {
    let (a, b, skipped) = load_sets(&args.common)?;
    let (Set::Features { data: fa, dim: da }, Set::Features { data: fb, dim: db }) = (a, b) else {
        return Err("KID needs features (.npy) or image folders, not statistics"
            .to_string()
            .into());
    };
    if da != db {
        return Err(format!("feature dimensions differ: {da} vs {db}").into());
    }
    let (na, nb) = (fa.len() / da, fb.len() / db);
    if args.subset_size > na.min(nb) {
        eprintln!(
            "note: subset size {} capped at the smaller set ({})",
            args.subset_size,
            na.min(nb)
        );
    }
    let v =
        kid(&fa, &fb, da, args.subsets, args.subset_size, args.seed).map_err(|e| e.to_string())?;
    let name = if args.common.patch > 0 { "pKID" } else { "KID" };
    if args.common.json {
        return Ok(
            serde_json::json!({"metric": name, "kid": v, "n_a": na, "n_b": nb,
            "subsets": args.subsets, "subset_size": args.subset_size.min(na).min(nb),
            "seed": args.seed, "skipped": skipped})
            .to_string(),
        );
    }
    Ok(format!("{name}: {v:.6}"))
}
