//! LIIF, the local implicit image function (Chen et al., CVPR 2021; `yinboc/liif:models/liif.py`),
//! and LSRNA's variant of it (`3587jjh/LSRNA:lsr/liif.py`), which always decodes the cell and
//! adds a bicubic residual of the input.
//!
//! For every output pixel centre `c` (LIIF's `make_coord`) and each of the four local-ensemble
//! shifts, the nearest feature cell is found with PyTorch's `grid_sample(mode='nearest',
//! align_corners=False)` arithmetic, its 3×3-unfolded feature vector is concatenated with the
//! relative offset `(c − c_cell)·(h, w)` and the cell size `cell·(h, w)`, and the MLP predicts a
//! value; the four predictions are averaged with the *opposite* sub-rectangle areas. LSRNA then
//! adds `grid_sample(input, c, mode='bicubic', padding_mode='border')`.
//!
//! # How it is computed here
//! The MLP's first layer is linear in the concatenated input, so it is split into its feature,
//! offset and cell parts. The feature part of every feature cell is computed once, as a 3×3
//! convolution of the encoder output with the reshaped weight (the unfold is a convolution),
//! and gathered per query; the cell part is a constant folded into the bias. This is the same
//! function as upstream, up to float summation order, with the first layer's cost moved from
//! every query (4 per output pixel) to every feature cell. The query grid is the outer product of
//! a row and a column axis, so the nearest cells, offsets and ensemble weights are computed per
//! axis on the host, in f32 with PyTorch's operation order (see [`crate::coord`]).
//!
//! # Memory
//! Queries are processed in chunks of whole output rows, at most `chunk` queries each (LSRNA's
//! default 512² = 262,144). Besides the input, the encoder features (`N·C·h·w`) and the
//! first-layer table (`N·h·w·hidden₀`), one chunk holds about `4·N·chunk·hidden` floats of MLP
//! activations (≈ 1 GiB for N = 1, chunk = 262,144, hidden = 256; ≈ 120 MiB at chunk = 30,000),
//! plus the output `N·out·H·W`. Upstream additionally materialises the 580-wide concatenated
//! input per chunk.

use burn::prelude::*;
use burn::tensor::{DType, Int, TensorData};
use serde_json::Value;
use ultrares_core::{Reporter, Stage};
use ultrares_nn::NnBackend;

use crate::coord::{axis_shift, bicubic_taps, make_coord};
use crate::edsr::{Edsr, EdsrConfig};
use crate::mlp::{Mlp, MlpConfig};
use crate::swinir::{NUM_FEAT, SwinIr, SwinIrConfig};
use crate::{Error, Result};
use ultrares_nn::ConfigJson;
use ultrares_nn::ops::{CastMapper, cast_to};
use ultrares_nn::weights::{Exporter, Loader, StateDict, Visitor};

/// LIIF's EDSR-baseline weights (`crates/lsr/assets/liif/edsr-baseline-liif.safetensors`, BSD-3,
/// see the `LICENSE` beside it), compiled in; [`Liif::edsr_baseline_pretrained`] loads them.
/// The linker drops them from programs that never call it.
pub static BUNDLED_EDSR_BASELINE: &[u8] =
    include_bytes!("../assets/liif/edsr-baseline-liif.safetensors");

/// The largest output side accepted.
pub const MAX_SIDE: usize = 1 << 16;
/// The largest number of output elements (`N·out·H·W`) accepted.
pub const MAX_OUTPUT_ELEMENTS: usize = 1 << 32;

/// Which backbone produces LIIF's features.
#[derive(Config, Debug)]
pub enum EncoderConfig {
    /// SwinIR with `upsampler = 'none'` (LSRNA).
    SwinIr(SwinIrConfig),
    /// EDSR without upsampling (LIIF's `edsr-baseline` and `edsr`).
    Edsr(EdsrConfig),
}

/// LIIF configuration. Presets: [`LiifConfig::lsrna_sdxl`], [`LiifConfig::edsr_baseline`].
#[derive(Config, Debug)]
pub struct LiifConfig {
    /// The feature backbone.
    pub encoder: EncoderConfig,
    /// The MLP's hidden widths.
    #[config(default = "vec![256, 256, 256, 256]")]
    pub hidden_list: Vec<usize>,
    /// Output channels.
    pub out_dim: usize,
    /// Concatenate each cell's 3×3 neighbourhood (`feat_unfold`).
    #[config(default = true)]
    pub feat_unfold: bool,
    /// Average the four nearest cells' predictions (`local_ensemble`).
    #[config(default = true)]
    pub local_ensemble: bool,
    /// Feed the query cell size to the MLP (`cell_decode`; always on in LSRNA).
    #[config(default = true)]
    pub cell_decode: bool,
    /// Add the bicubic (`A = −0.75`, border) resampling of the input (LSRNA's residual).
    #[config(default = false)]
    pub residual: bool,
    /// Queries per chunk (upstream: 512² in LSRNA, 30,000 in LIIF's demo).
    #[config(default = 262_144)]
    pub chunk: usize,
}

impl LiifConfig {
    /// LSRNA's LSR for SDXL latents: SwinIR-light (4 → 60, depths 6×4, heads 6, window 8, MLP
    /// ratio 2), MLP 580 → 256×4 → 4, bicubic residual, chunks of 512²
    /// (`3587jjh/LSRNA:lsr/swinir-liif-latent-sdxl.yaml`).
    pub fn lsrna_sdxl() -> Self {
        Self::new(EncoderConfig::SwinIr(SwinIrConfig::new()), 4).with_residual(true)
    }

    /// LIIF's EDSR-baseline RGB model (`yinboc/liif:configs/train-div2k/train_edsr-baseline-liif.yaml`):
    /// 16 residual blocks of 64 features, MLP 580 → 256×4 → 3, chunks of 30,000 queries.
    pub fn edsr_baseline() -> Self {
        Self::new(EncoderConfig::Edsr(EdsrConfig::new()), 3).with_chunk(30_000)
    }

    /// The configuration described by a checkpoint's model spec `{"name": "liif", "args": …}`
    /// (LIIF's and LSRNA's `models.make` format). An encoder named `swinir` is LSRNA's, with the
    /// bicubic residual; `edsr-baseline` and `edsr` are LIIF's.
    ///
    /// Read through [`ConfigJson`]: a key of the wrong type is an error naming its path
    /// (`LIIF spec → args → encoder_spec → args`, key `depths`), never a silent default.
    ///
    /// # Errors
    /// [`Error::Argument`] for a spec that is not an object; [`ultrares_core::Error::Config`] for
    /// another model name, an unknown encoder, a mistyped key, or options this crate does not
    /// implement (SwinIR upsamplers other than `none`, `ape`, `3conv`).
    pub fn from_spec(spec: &Value) -> Result<Self> {
        let Value::Object(map) = spec else {
            return Err(Error::argument("spec", "a JSON object", spec));
        };
        let spec = ConfigJson::from_map("LIIF spec", map.clone());
        let name = |c: &ConfigJson| -> Result<String> {
            Ok(c.opt_str("name")?.unwrap_or_default().to_string())
        };
        if name(&spec)? != "liif" {
            return Err(spec
                .error("name", "\"liif\"", format!("{:?}", name(&spec)?))
                .into());
        }
        let args = spec.object("args")?;
        let enc = args.object("encoder_spec")?;
        let eargs = enc.object("args")?;
        let usize_or = |c: &ConfigJson, key: &str, default: usize| -> Result<usize> {
            Ok(c.opt_usize(key)?.unwrap_or(default))
        };
        let bool_or = |c: &ConfigJson, key: &str, default: bool| -> Result<bool> {
            Ok(c.opt_bool(key)?.unwrap_or(default))
        };
        let list_or = |c: &ConfigJson, key: &str, default: Vec<usize>| -> Result<Vec<usize>> {
            Ok(c.opt_usize_list(key, None)?.unwrap_or(default))
        };
        let (encoder, residual) = match name(&enc)?.as_str() {
            "swinir" => {
                for (key, ok) in [("upsampler", "none"), ("resi_connection", "1conv")] {
                    if let Some(v) = eargs.opt_str(key)?.filter(|v| *v != ok) {
                        return Err(eargs.error(key, format!("'{ok}'"), format!("{v:?}")).into());
                    }
                }
                if bool_or(&eargs, "ape", false)? {
                    return Err(eargs.error("ape", "false", "true").into());
                }
                let d = SwinIrConfig::new();
                let cfg = SwinIrConfig {
                    img_size: usize_or(&eargs, "img_size", 64)?,
                    in_chans: usize_or(&eargs, "in_chans", d.in_chans)?,
                    embed_dim: usize_or(&eargs, "embed_dim", 180)?,
                    depths: list_or(&eargs, "depths", vec![6; 6])?,
                    num_heads: list_or(&eargs, "num_heads", vec![6; 6])?,
                    window_size: usize_or(&eargs, "window_size", d.window_size)?,
                    mlp_ratio: eargs.opt_f64("mlp_ratio")?.unwrap_or(d.mlp_ratio),
                    qkv_bias: bool_or(&eargs, "qkv_bias", true)?,
                    patch_norm: bool_or(&eargs, "patch_norm", true)?,
                };
                (EncoderConfig::SwinIr(cfg), true)
            }
            name @ ("edsr-baseline" | "edsr") => {
                if !bool_or(&eargs, "no_upsampling", false)? {
                    return Err(eargs
                        .error("no_upsampling", "true (EDSR as a feature encoder)", "false")
                        .into());
                }
                let (nr, nf, rs) = if name == "edsr" {
                    (32, 256, 0.1)
                } else {
                    (16, 64, 1.0)
                };
                let cfg = EdsrConfig::new()
                    .with_n_resblocks(usize_or(&eargs, "n_resblocks", nr)?)
                    .with_n_feats(usize_or(&eargs, "n_feats", nf)?)
                    .with_res_scale(eargs.opt_f64("res_scale")?.unwrap_or(rs));
                (EncoderConfig::Edsr(cfg), false)
            }
            other => {
                return Err(enc
                    .error(
                        "name",
                        "encoder `swinir`, `edsr-baseline` or `edsr`",
                        format!("{other:?}"),
                    )
                    .into());
            }
        };
        let imnet = args.object("imnet_spec")?.object("args")?;
        Ok(Self::new(encoder, usize_or(&imnet, "out_dim", 0)?)
            .with_hidden_list(list_or(&imnet, "hidden_list", vec![256; 4])?)
            .with_feat_unfold(bool_or(&args, "feat_unfold", true)?)
            .with_local_ensemble(bool_or(&args, "local_ensemble", true)?)
            .with_cell_decode(residual || bool_or(&args, "cell_decode", true)?)
            .with_residual(residual))
    }

    fn feat_dim(&self) -> usize {
        match &self.encoder {
            EncoderConfig::SwinIr(_) => NUM_FEAT,
            EncoderConfig::Edsr(c) => c.n_feats,
        }
    }

    /// The MLP input width (`C·9 + 2 + 2` with unfolding and cell decoding).
    pub fn in_dim(&self) -> usize {
        self.feat_dim() * if self.feat_unfold { 9 } else { 1 }
            + 2
            + if self.cell_decode { 2 } else { 0 }
    }

    /// A LIIF with default-initialised weights.
    ///
    /// # Errors
    /// [`Error::Argument`] for invalid encoder hyper-parameters, `out_dim = 0`, `chunk = 0`, or
    /// a residual whose channels do not fit the output (`out_dim` must be `in_chans` or
    /// `in_chans + 1`, as upstream).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Liif<B>> {
        if self.out_dim == 0 {
            return Err(Error::argument("out_dim", "≥ 1", 0));
        }
        if self.chunk == 0 {
            return Err(Error::argument("chunk", "≥ 1", 0));
        }
        let (encoder, in_chans) = match &self.encoder {
            EncoderConfig::SwinIr(c) => (Encoder::SwinIr(c.init(device)?), c.in_chans),
            EncoderConfig::Edsr(c) => (Encoder::Edsr(c.init(device)), c.n_colors),
        };
        if self.residual && !(self.out_dim == in_chans || self.out_dim == in_chans + 1) {
            return Err(Error::argument(
                "out_dim",
                format!("{in_chans} or {} for the bicubic residual", in_chans + 1),
                self.out_dim,
            ));
        }
        Ok(Liif {
            encoder,
            imnet: MlpConfig::new(self.in_dim(), self.out_dim, self.hidden_list.clone())
                .init(device),
            feat_unfold: self.feat_unfold,
            local_ensemble: self.local_ensemble,
            cell_decode: self.cell_decode,
            residual: self.residual,
            chunk: self.chunk,
        })
    }

    /// A LIIF with the weights of `state_dict` (keys `encoder.*`, `imnet.layers.*`).
    ///
    /// # Errors
    /// [`Error::Core`] ([`ultrares_core::Error::Weights`]) listing every missing, unexpected or mis-shaped key; see also
    /// [`LiifConfig::init`].
    pub fn load<B: Backend>(&self, state_dict: &StateDict, device: &B::Device) -> Result<Liif<B>> {
        let mut model = self.init(device)?;
        let mut loader = Loader::new(state_dict, device);
        model.walk(&mut loader);
        loader.finish()?;
        Ok(model)
    }
}

/// LIIF's feature backbone.
#[derive(Module, Debug)]
pub enum Encoder<B: Backend> {
    /// LSRNA's SwinIR.
    SwinIr(SwinIr<B>),
    /// LIIF's EDSR.
    Edsr(Edsr<B>),
}

impl<B: NnBackend> Encoder<B> {
    /// Features `[N, C, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        match self {
            Self::SwinIr(m) => m.forward(x),
            Self::Edsr(m) => Ok(m.forward(x)),
        }
    }
}

impl<B: Backend> Encoder<B> {
    /// Input channels.
    pub fn in_chans(&self) -> usize {
        match self {
            Self::SwinIr(m) => m.in_chans(),
            Self::Edsr(m) => m.in_chans(),
        }
    }
}

/// A LIIF model (see the module docs).
#[derive(Module, Debug)]
pub struct Liif<B: Backend> {
    /// The backbone (`encoder.*`).
    pub encoder: Encoder<B>,
    /// The implicit decoder (`imnet.*`).
    pub imnet: Mlp<B>,
    /// See [`LiifConfig::feat_unfold`].
    pub feat_unfold: bool,
    /// See [`LiifConfig::local_ensemble`].
    pub local_ensemble: bool,
    /// See [`LiifConfig::cell_decode`].
    pub cell_decode: bool,
    /// See [`LiifConfig::residual`].
    pub residual: bool,
    /// See [`LiifConfig::chunk`].
    pub chunk: usize,
}

/// What a query needs from one input: computed once by [`Liif::prepare`], then queried at any
/// coordinates by [`Liif::query`].
#[derive(Debug, Clone)]
pub struct LiifFeatures<B: Backend> {
    /// The input `[N, C_in, h, w]` (for the bicubic residual).
    pub input: Tensor<B, 4>,
    /// The first MLP layer's feature term of every feature cell, `[N, h·w, hidden₀]`.
    pub table: Tensor<B, 3>,
    /// Feature map size `[h, w]`.
    pub size: [usize; 2],
}

fn check_finite<B: Backend>(x: &Tensor<B, 4>, arg: &'static str) -> Result<()> {
    Ok(ultrares_core::check_finite(x, arg)?)
}

impl<B: Backend> Liif<B> {
    /// LIIF's pretrained EDSR-baseline RGB model ([`LiifConfig::edsr_baseline`]), from the
    /// weights compiled into this crate ([`BUNDLED_EDSR_BASELINE`], 6.3 MB): needs no file at run
    /// time, so it works from any directory and in installed binaries.
    ///
    /// # Errors
    /// [`Error::Core`] only if the bundled file were corrupt (a test reads it).
    pub fn edsr_baseline_pretrained(device: &B::Device) -> Result<Self> {
        let sd = StateDict::from_static_safetensors(
            "bundled edsr-baseline-liif.safetensors",
            BUNDLED_EDSR_BASELINE,
        )?;
        Self::from_state_dict(&sd, device)
    }

    /// A LIIF built from a checkpoint that carries its model spec (LIIF's and LSRNA's official
    /// `.pth`, or a safetensors conversion with `name`/`args` metadata).
    ///
    /// # Errors
    /// [`Error::Core`] ([`ultrares_core::Error::Weights`]) if the file is unreadable, has no spec, or its tensors do not fit.
    pub fn from_checkpoint(path: impl AsRef<std::path::Path>, device: &B::Device) -> Result<Self> {
        Self::from_state_dict(&StateDict::read(path)?, device)
    }

    /// A LIIF built from a state dict that carries its model spec (see
    /// [`Liif::from_checkpoint`]).
    ///
    /// # Errors
    /// As [`Liif::from_checkpoint`].
    pub fn from_state_dict(sd: &StateDict, device: &B::Device) -> Result<Self> {
        let spec = sd.spec().ok_or_else(|| {
            sd.error("no model spec in the file; build a LiifConfig (e.g. LiifConfig::lsrna_sdxl()) and call load")
        })?;
        LiifConfig::from_spec(spec)?.load(sd, device)
    }

    /// Input channels.
    pub fn in_chans(&self) -> usize {
        self.encoder.in_chans()
    }

    fn walk(&mut self, v: &mut impl Visitor<B>) {
        match &mut self.encoder {
            Encoder::SwinIr(m) => m.walk(v, "encoder"),
            Encoder::Edsr(m) => m.walk(v, "encoder"),
        }
        self.imnet.walk(v, "imnet");
    }

    /// The parameters under their upstream state-dict names, in PyTorch layout (f32): what
    /// [`LiifConfig::load`] reads back. The recomputed buffers (`relative_position_index`,
    /// `attn_mask`) are not included.
    pub fn state_dict(&self) -> StateDict {
        let mut exporter = Exporter::default();
        self.clone().walk(&mut exporter);
        StateDict::from_tensors("exported", exporter.tensors)
    }

    /// Output channels.
    pub fn out_dim(&self) -> usize {
        self.imnet.layers.last().map_or(0, |l| l.weight.dims()[1])
    }

    /// The dtype of the weights (and of the computation).
    pub fn dtype(&self) -> DType {
        self.imnet.layers[0].weight.val().dtype()
    }

    /// The model with every weight cast to `dtype`: f16/bf16 halve the memory and, on GPU
    /// backends, the time. Inputs of any float dtype are cast to it and outputs cast back (see
    /// [`Liif::forward`]); attention softmax runs in f32 (`ultrares_nn::attention`).
    pub fn with_dtype(self, dtype: DType) -> Self {
        self.map(&mut CastMapper { dtype })
    }
}

impl<B: NnBackend> Liif<B> {
    /// Runs the encoder on `input` `[N, C_in, h, w]` and tabulates the first MLP layer.
    ///
    /// # Errors
    /// [`Error::Core`] for a wrong shape or non-finite values.
    pub fn prepare(&self, input: Tensor<B, 4>) -> Result<LiifFeatures<B>> {
        let [n, c, h, w] = input.dims();
        if c != self.in_chans() || n == 0 || h == 0 || w == 0 {
            return Err(ultrares_core::Error::shape(
                "input",
                format!("[N, {}, h, w] with N, h, w ≥ 1", self.in_chans()),
                &[n, c, h, w],
            )
            .into());
        }
        check_finite(&input, "input")?;
        let input = cast_to(input, self.dtype());
        let feat = self.encoder.forward(input.clone())?;
        let cf = feat.dims()[1];
        let first = &self.imnet.layers[0];
        let hidden = first.weight.dims()[1];
        let k = if self.feat_unfold { 9 } else { 1 };
        // Burn's Linear weight is [in, out]; the feature rows come first in LIIF's concatenation.
        let wf = first.weight.val().slice([0..cf * k, 0..hidden]).transpose();
        let table = if self.feat_unfold {
            let kernel = wf.reshape([hidden, cf, 3, 3]);
            let options = burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            burn::tensor::module::conv2d(feat, kernel, None, options)
                .reshape([n, hidden, h * w])
                .swap_dims(1, 2)
        } else {
            feat.reshape([n, cf, h * w])
                .swap_dims(1, 2)
                .matmul(wf.transpose().unsqueeze())
        };
        Ok(LiifFeatures {
            input,
            table,
            size: [h, w],
        })
    }

    /// LIIF's prediction on the grid `rows × cols` of `[−1, 1]` coordinates with query cell
    /// `cell` (`[2/H, 2/W]` for an `H × W` output), `[N, out, rows.len(), cols.len()]`.
    ///
    /// This is upstream's `query_rgb` for a separable coordinate grid (e.g. a window of the full
    /// output), without chunking: callers bound the number of queries.
    pub fn query(
        &self,
        f: &LiifFeatures<B>,
        rows: &[f32],
        cols: &[f32],
        cell: [f32; 2],
    ) -> Tensor<B, 4> {
        let device = f.table.device();
        let dtype = f.table.dtype();
        let [h, w] = f.size;
        let (nr, nc) = (rows.len(), cols.len());
        let q = nr * nc;
        let first = &self.imnet.layers[0];
        let [in_dim, hidden] = first.weight.dims();
        let weight = first.weight.val();
        let cf = in_dim - 2 - if self.cell_decode { 2 } else { 0 };
        let w_rel = weight.clone().slice([cf..cf + 2, 0..hidden]);
        let mut bias = first
            .bias
            .as_ref()
            .map_or_else(|| Tensor::zeros([hidden], (&device, dtype)), |b| b.val());
        if self.cell_decode {
            let rel_cell = [cell[0] * h as f32, cell[1] * w as f32];
            let w_cell = weight.slice([cf + 2..cf + 4, 0..hidden]);
            let c = Tensor::<B, 2>::from_data(
                TensorData::new(rel_cell.to_vec(), [1, 2]),
                (&device, dtype),
            );
            bias = bias + c.matmul(w_cell).reshape([hidden]);
        }
        let bias = bias.reshape([1, 1, hidden]);
        let shifts: &[(i32, i32)] = if self.local_ensemble {
            &[(-1, -1), (-1, 1), (1, -1), (1, 1)]
        } else {
            &[(0, 0)]
        };
        let mut preds = Vec::with_capacity(shifts.len());
        let mut areas = Vec::with_capacity(shifts.len());
        for &(vy, vx) in shifts {
            let ry = axis_shift(rows, h, vy, self.local_ensemble);
            let rx = axis_shift(cols, w, vx, self.local_ensemble);
            let mut idx = Vec::with_capacity(q);
            let mut rel = Vec::with_capacity(2 * q);
            let mut area = Vec::with_capacity(q);
            for (&iy, &dy) in ry.index.iter().zip(&ry.rel) {
                for (&ix, &dx) in rx.index.iter().zip(&rx.rel) {
                    idx.push((iy * w + ix) as i64);
                    rel.extend([dy, dx]);
                    area.push((dy * dx).abs() + 1e-9);
                }
            }
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [q]), &device);
            let rel = Tensor::<B, 2>::from_data(TensorData::new(rel, [q, 2]), (&device, dtype));
            let pre = f.table.clone().select(1, idx)
                + rel.matmul(w_rel.clone()).unsqueeze::<3>()
                + bias.clone();
            preds.push(self.imnet.forward_from(pre, 1));
            areas.push(area);
        }
        if areas.len() == 4 {
            areas.swap(0, 3);
            areas.swap(1, 2);
        }
        let tot: Vec<f32> = (0..q).map(|i| areas.iter().map(|a| a[i]).sum()).collect();
        let mut ret: Option<Tensor<B, 3>> = None;
        for (k, pred) in preds.into_iter().enumerate() {
            let weights: Vec<f32> = areas[k].iter().zip(&tot).map(|(a, t)| a / t).collect();
            let wt =
                Tensor::<B, 3>::from_data(TensorData::new(weights, [1, q, 1]), (&device, dtype));
            let term = pred * wt;
            ret = Some(match ret {
                Some(r) => r + term,
                None => term,
            });
        }
        let n = f.table.dims()[0];
        let out_dim = self.out_dim();
        let ret = ret
            .unwrap_or_else(|| Tensor::zeros([n, q, out_dim], (&device, dtype)))
            .reshape([n, nr, nc, out_dim])
            .permute([0, 3, 1, 2]);
        if !self.residual {
            return ret;
        }
        let up = bicubic_grid(&f.input, rows, cols);
        let cin = up.dims()[1];
        if cin == out_dim {
            ret + up
        } else {
            let head = ret.clone().slice([0..n, 0..cin, 0..nr, 0..nc]) + up;
            ret.slice_assign([0..n, 0..cin, 0..nr, 0..nc], head)
        }
    }

    /// Resamples `input` `[N, C_in, h, w]` to `[N, out, H, W]` (`size = [H, W]`), as upstream's
    /// `forward(inp, make_coord((H, W)), cell = (2/H, 2/W))`, in chunks of whole output rows.
    /// The network runs in the weights' dtype ([`Liif::with_dtype`]); the output has the input's.
    ///
    /// # Errors
    /// [`Error::Argument`] for a target smaller than the input or larger than
    /// [`MAX_SIDE`]/[`MAX_OUTPUT_ELEMENTS`]; see also [`Liif::prepare`].
    pub fn forward(&self, input: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>> {
        self.forward_with_progress(input, size, &mut Reporter::silent(Stage::Upsample))
    }

    /// [`Liif::forward`], reporting `(rows done, rows)` to `progress` after each chunk.
    ///
    /// # Errors
    /// See [`Liif::forward`]; [`ultrares_core::Error::Cancelled`] when the observer cancels
    /// (checked after each chunk).
    pub fn forward_with_progress(
        &self,
        input: Tensor<B, 4>,
        size: [usize; 2],
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let [n, _, h, w] = input.dims();
        let [oh, ow] = size;
        if oh < h || ow < w {
            return Err(Error::argument(
                "size",
                format!("an upscaling target of at least the input size {h}×{w}"),
                format!("{oh}×{ow}"),
            ));
        }
        let elements = (n as u128) * (self.out_dim() as u128) * (oh as u128) * (ow as u128);
        if oh > MAX_SIDE || ow > MAX_SIDE || elements > MAX_OUTPUT_ELEMENTS as u128 {
            return Err(ultrares_core::Error::TooLarge {
                arg: "size",
                elements,
                limit: MAX_OUTPUT_ELEMENTS as u128,
            }
            .into());
        }
        let dtype = input.dtype();
        let f = self.prepare(input)?;
        let rows = make_coord(oh);
        let cols = make_coord(ow);
        let cell = [(2.0 / oh as f64) as f32, (2.0 / ow as f64) as f32];
        let step = (self.chunk / ow).max(1);
        let mut parts = Vec::with_capacity(oh.div_ceil(step));
        for r0 in (0..oh).step_by(step) {
            let r1 = (r0 + step).min(oh);
            parts.push(self.query(&f, &rows[r0..r1], &cols, cell));
            progress.report(r1, oh)?;
        }
        Ok(cast_to(ultrares_nn::ops::concat(parts, 2), dtype))
    }
}

/// `grid_sample(x, grid, mode='bicubic', padding_mode='border', align_corners=False)` on the
/// separable grid `rows × cols`: `[N, C, h, w] → [N, C, rows.len(), cols.len()]`.
pub fn bicubic_grid<B: Backend>(x: &Tensor<B, 4>, rows: &[f32], cols: &[f32]) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let y = bicubic_axis(x.clone(), 2, &bicubic_taps(rows, h));
    bicubic_axis(y, 3, &bicubic_taps(cols, w))
}

fn bicubic_axis<B: Backend>(
    x: Tensor<B, 4>,
    dim: usize,
    taps: &[([usize; 4], [f32; 4])],
) -> Tensor<B, 4> {
    let device = x.device();
    let m = taps.len();
    let mut shape = [1usize; 4];
    shape[dim] = m;
    let mut out: Option<Tensor<B, 4>> = None;
    for k in 0..4 {
        let idx: Vec<i64> = taps.iter().map(|t| t.0[k] as i64).collect();
        let wts: Vec<f32> = taps.iter().map(|t| t.1[k]).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [m]), &device);
        let wts = Tensor::<B, 4>::from_data(TensorData::new(wts, shape), (&device, x.dtype()));
        let term = x.clone().select(dim, idx) * wts;
        out = Some(match out {
            Some(o) => o + term,
            None => term,
        });
    }
    out.unwrap_or(x)
}
