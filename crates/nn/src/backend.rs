//! [`NnBackend`]: the backend-extension trait through which a backend picks its convolution and
//! attention implementations (the shape of burn-vision's `VisionBackend`,
//! `burn-vision/src/ops/base.rs:196`): default methods are the portable paths, backends override
//! them where something else is faster. No code looks at a backend's name.
//!
//! | backend | convolution | attention | `Linear` products | GroupNorm, activations |
//! |---|---|---|---|---|
//! | default | native `conv2d` | [`attention_chunked`] | Burn's `matmul` | tensor ops ([`group_var_mean_portable`], [`scale_shift`], [`Activation::forward_portable`]) |
//! | burn-ndarray (feature `ndarray`), burn-flex (feature `flex`) | banded GEMM ([`crate::conv`]) | burn-ndarray f32 without mask/bias: parallel 128-row tasks with faer products; otherwise [`attention_chunked`] | burn-ndarray: faer's parallel f32 GEMM on the arrays in place ([`crate::linear`]); burn-flex: Burn's `matmul` | burn-ndarray f32: parallel host passes (statistics in f64, SiLU fused into GroupNorm; SiLU, quick, tanh and exact GELU and the GEGLU gate without libm calls), AVX2 at run time; burn-flex: tensor ops |
//! | CubeCL, with or without fusion (feature `cubecl`) | native | Burn's fused `attention` | Burn's `matmul` | tensor ops (fused by Burn's fusion) |
//! | `Autodiff<B>` | as `B` | [`attention_chunked`] (differentiable) | Burn's `matmul` (differentiable) | tensor ops (differentiable) |

use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;

use crate::activation::Activation;
use crate::attention::{DEFAULT_MAX_SCORES, attention_chunked};
#[cfg(any(feature = "ndarray", feature = "flex"))]
use crate::conv::GEMM_BAND_ELEMENTS;
use crate::group_norm::{group_var_mean_portable, scale_shift};

/// Backends with a choice of convolution and attention implementation (see the module docs).
pub trait NnBackend: Backend {
    /// Largest `cols` band of the GEMM convolution ([`crate::conv::conv2d`]) this backend should
    /// use by default, or 0 for the native convolution (the default).
    fn conv_gemm_band() -> usize {
        0
    }

    /// Scaled dot-product attention with the semantics of Burn's `attention_fallback`; the
    /// default is [`attention_chunked`] with [`DEFAULT_MAX_SCORES`].
    ///
    /// # Shapes
    /// As [`crate::attention::attention`].
    fn nn_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Option<Tensor<Self, 4, Bool>>,
        bias: Option<Tensor<Self, 4>>,
        options: AttentionModuleOptions,
    ) -> Tensor<Self, 4> {
        attention_chunked(q, k, v, mask, bias, options, DEFAULT_MAX_SCORES)
    }

    /// A stride-1 "valid" convolution, `x` `[N, C, Hp, Wp]` (already zero-padded) by `weight`
    /// `[O, C, kh, kw]` without bias → `[N, O, Hp − kh + 1, Wp − kw + 1]`, or `None` to let
    /// [`crate::conv::conv2d_nn`] use [`crate::conv::conv2d`] (the default).
    fn nn_conv2d_valid(_x: Tensor<Self, 4>, _weight: Tensor<Self, 4>) -> Option<Tensor<Self, 4>> {
        None
    }

    /// The matrix product `[M, K] × [K, N]` of [`crate::linear::linear`]; the default is
    /// Burn's `matmul`.
    fn nn_matmul(lhs: Tensor<Self, 2>, rhs: Tensor<Self, 2>) -> Tensor<Self, 2> {
        lhs.matmul(rhs)
    }

    /// An elementwise activation ([`crate::activation`]); the default is
    /// [`Activation::forward_portable`].
    fn nn_activation<const D: usize>(x: Tensor<Self, D>, act: Activation) -> Tensor<Self, D> {
        act.forward_portable(x)
    }

    /// A gated activation over the last axis of `h` (`2d` wide): `h[…, :d] · act(h[…, d:])`,
    /// diffusers' `GEGLU` after its projection. The default is two `narrow`s and
    /// [`NnBackend::nn_activation`].
    ///
    /// # Shapes
    /// `[…, 2d] → […, d]`.
    fn nn_glu<const D: usize>(h: Tensor<Self, D>, act: Activation) -> Tensor<Self, D> {
        let d = h.dims()[D - 1] / 2;
        let gate = h.clone().narrow(D - 1, d, d);
        h.narrow(D - 1, 0, d) * Self::nn_activation(gate, act)
    }

    /// Biased variance and mean per (sample, group) of `x` `[N, C, H, W]` (`groups` dividing
    /// `C`), each `[N, G, 1]`: [`crate::group_var_mean`]. The default is
    /// [`group_var_mean_portable`].
    fn nn_group_var_mean(x: Tensor<Self, 4>, groups: usize) -> (Tensor<Self, 3>, Tensor<Self, 3>) {
        group_var_mean_portable(x, groups)
    }

    /// `x · scale + shift` per (sample, channel), then SiLU when `silu`: the application step of
    /// [`crate::GroupNorm`] (`x` `[N, C, H, W]`, `scale` and `shift` `[N, C]`). The default is
    /// [`scale_shift`].
    fn nn_scale_shift(
        x: Tensor<Self, 4>,
        scale: Tensor<Self, 2>,
        shift: Tensor<Self, 2>,
        silu: bool,
    ) -> Tensor<Self, 4> {
        scale_shift(x, scale, shift, silu)
    }
}

#[cfg(feature = "ndarray")]
mod ndarray_impl {
    use burn::backend::ndarray::{
        FloatNdArrayElement, IntNdArrayElement, NdArray, NdArrayTensor, QuantElement, SharedArray,
    };

    impl<E: FloatNdArrayElement, I: IntNdArrayElement, Q: QuantElement> super::NnBackend
        for NdArray<E, I, Q>
    where
        NdArrayTensor: From<SharedArray<E>>,
        NdArrayTensor: From<SharedArray<I>>,
    {
        fn conv_gemm_band() -> usize {
            super::GEMM_BAND_ELEMENTS
        }

        /// f32: one faer GEMM per tap accumulated in place on the padded input
        /// (`conv::host_conv_valid`).
        fn nn_conv2d_valid(
            x: burn::prelude::Tensor<Self, 4>,
            weight: burn::prelude::Tensor<Self, 4>,
        ) -> Option<burn::prelude::Tensor<Self, 4>> {
            use burn::tensor::{TensorData, TensorPrimitive};
            let ([n, c, hp, wp], [o, c2, kh, kw]) = (x.dims(), weight.dims());
            if n == 0 || c != c2 || hp < kh || wp < kw {
                return None;
            }
            let device = x.device();
            let (
                TensorPrimitive::Float(NdArrayTensor::F32(xa)),
                TensorPrimitive::Float(NdArrayTensor::F32(wa)),
            ) = (x.into_primitive(), weight.into_primitive())
            else {
                return None;
            };
            let (xv, wv) = (xa.view(), wa.view());
            let (xs, ws) = (xv.to_slice()?, wv.to_slice()?);
            let mut out = Vec::with_capacity(n * o * (hp - kh + 1) * (wp - kw + 1));
            for image in xs.chunks_exact(c * hp * wp) {
                out.extend(crate::conv::host_conv_valid(
                    image,
                    [c, hp, wp],
                    ws,
                    [o, kh, kw],
                ));
            }
            let (ho, wo) = (hp - kh + 1, wp - kw + 1);
            Some(burn::prelude::Tensor::from_data(
                TensorData::new(out, [n, o, ho, wo]),
                &device,
            ))
        }

        /// f32 products through faer on the arrays in place (no copy of the weights).
        fn nn_matmul(
            lhs: burn::prelude::Tensor<Self, 2>,
            rhs: burn::prelude::Tensor<Self, 2>,
        ) -> burn::prelude::Tensor<Self, 2> {
            use burn::tensor::{TensorData, TensorPrimitive};
            let ([m, k], [k2, n]) = (lhs.dims(), rhs.dims());
            let prim = |t: &burn::prelude::Tensor<Self, 2>| match t.clone().into_primitive() {
                TensorPrimitive::Float(p) => Some(p),
                TensorPrimitive::QFloat(_) => None,
            };
            let (Some(NdArrayTensor::F32(a)), Some(NdArrayTensor::F32(b))) =
                (prim(&lhs), prim(&rhs))
            else {
                return lhs.matmul(rhs);
            };
            if k != k2 {
                return lhs.matmul(rhs);
            }
            let out = crate::linear::host_matmul(a.view(), b.view(), [m, k, n]);
            burn::prelude::Tensor::from_data(TensorData::new(out, [m, n]), &lhs.device())
        }

        /// Contiguous f32: one parallel pass (`activation::host::apply`); anything else the
        /// portable formula.
        fn nn_activation<const D: usize>(
            x: burn::prelude::Tensor<Self, D>,
            act: crate::activation::Activation,
        ) -> burn::prelude::Tensor<Self, D> {
            use burn::tensor::{TensorData, TensorPrimitive};
            let (dims, device) = (x.dims(), x.device());
            let TensorPrimitive::Float(NdArrayTensor::F32(a)) = x.clone().into_primitive() else {
                return act.forward_portable(x);
            };
            let view = a.view();
            match view.to_slice() {
                Some(s) => {
                    let out = crate::activation::host::apply(s, act);
                    burn::prelude::Tensor::from_data(TensorData::new(out, dims), &device)
                }
                None => act.forward_portable(x),
            }
        }

        /// Contiguous f32 with an even last axis: one parallel pass
        /// (`activation::host::glu`); anything else the default.
        fn nn_glu<const D: usize>(
            h: burn::prelude::Tensor<Self, D>,
            act: crate::activation::Activation,
        ) -> burn::prelude::Tensor<Self, D> {
            use burn::tensor::{TensorData, TensorPrimitive};
            let (mut dims, device) = (h.dims(), h.device());
            let d = dims[D - 1] / 2;
            let portable = |h: burn::prelude::Tensor<Self, D>| {
                let gate = h.clone().narrow(D - 1, d, d);
                h.narrow(D - 1, 0, d) * act.forward_portable(gate)
            };
            let TensorPrimitive::Float(NdArrayTensor::F32(a)) = h.clone().into_primitive() else {
                return portable(h);
            };
            let view = a.view();
            match view.to_slice() {
                Some(s) if d > 0 && dims[D - 1] == 2 * d => {
                    let out = crate::activation::host::glu(s, d, act);
                    dims[D - 1] = d;
                    burn::prelude::Tensor::from_data(TensorData::new(out, dims), &device)
                }
                _ => portable(h),
            }
        }

        /// Contiguous f32: one parallel f64 pass per statistic
        /// (`group_norm::host::var_mean`); anything else the portable default.
        fn nn_group_var_mean(
            x: burn::prelude::Tensor<Self, 4>,
            groups: usize,
        ) -> (
            burn::prelude::Tensor<Self, 3>,
            burn::prelude::Tensor<Self, 3>,
        ) {
            use burn::tensor::{TensorData, TensorPrimitive};
            let [n, c, _, _] = x.dims();
            if groups == 0 || !c.is_multiple_of(groups) {
                return super::group_var_mean_portable(x, groups);
            }
            let device = x.device();
            let TensorPrimitive::Float(NdArrayTensor::F32(a)) = x.clone().into_primitive() else {
                return super::group_var_mean_portable(x, groups);
            };
            let view = a.view();
            let Some(xs) = view.to_slice() else {
                return super::group_var_mean_portable(x, groups);
            };
            let (var, mean) = crate::group_norm::host::var_mean(xs, n * groups);
            let t = |v: Vec<f32>| {
                burn::prelude::Tensor::from_data(TensorData::new(v, [n, groups, 1]), &device)
            };
            (t(var), t(mean))
        }

        /// Contiguous f32: one parallel pass with the SiLU fused
        /// (`group_norm::host::scale_shift`); anything else the portable default.
        fn nn_scale_shift(
            x: burn::prelude::Tensor<Self, 4>,
            scale: burn::prelude::Tensor<Self, 2>,
            shift: burn::prelude::Tensor<Self, 2>,
            silu: bool,
        ) -> burn::prelude::Tensor<Self, 4> {
            use burn::tensor::{DType, TensorData, TensorPrimitive};
            let dims = x.dims();
            let f32s = [scale.dtype(), shift.dtype()] == [DType::F32; 2];
            let device = x.device();
            let (f32s, Some(NdArrayTensor::F32(a))) = (
                f32s && scale.dims() == [dims[0], dims[1]] && shift.dims() == scale.dims(),
                match x.clone().into_primitive() {
                    TensorPrimitive::Float(p) => Some(p),
                    TensorPrimitive::QFloat(_) => None,
                },
            ) else {
                return super::scale_shift(x, scale, shift, silu);
            };
            let view = a.view();
            let (Some(xs), true) = (view.to_slice(), f32s) else {
                return super::scale_shift(x, scale, shift, silu);
            };
            let host = |t: burn::prelude::Tensor<Self, 2>| t.into_data().into_vec::<f32>();
            let (Ok(sc), Ok(sh)) = (host(scale.clone()), host(shift.clone())) else {
                return super::scale_shift(x, scale, shift, silu);
            };
            let out = crate::group_norm::host::scale_shift(xs, &sc, &sh, silu);
            burn::prelude::Tensor::from_data(TensorData::new(out, dims), &device)
        }

        /// f32 without mask, softcap or causal masking, with or without a (broadcast) bias:
        /// parallel tasks of query rows with faer products ([`crate::attention`]'s
        /// `host_attention`); anything else the chunked default.
        fn nn_attention(
            q: burn::prelude::Tensor<Self, 4>,
            k: burn::prelude::Tensor<Self, 4>,
            v: burn::prelude::Tensor<Self, 4>,
            mask: Option<burn::prelude::Tensor<Self, 4, burn::prelude::Bool>>,
            bias: Option<burn::prelude::Tensor<Self, 4>>,
            options: burn::tensor::ops::AttentionModuleOptions,
        ) -> burn::prelude::Tensor<Self, 4> {
            use burn::tensor::{TensorData, TensorPrimitive};
            let plain = mask.is_none() && options.softcap.is_none() && !options.is_causal;
            let f32s = [Some(&q), Some(&k), Some(&v), bias.as_ref()]
                .iter()
                .flatten()
                .all(|t| t.dtype() == burn::tensor::DType::F32);
            if !plain || !f32s {
                return crate::attention::attention_chunked(
                    q,
                    k,
                    v,
                    mask,
                    bias,
                    options,
                    crate::attention::DEFAULT_MAX_SCORES,
                );
            }
            let ([n, h, lq, d], [_, _, lk, _], [_, _, _, dv]) = (q.dims(), k.dims(), v.dims());
            let device = q.device();
            let scale = options.scale.unwrap_or(1.0 / (d as f64).sqrt()) as f32;
            let prim = |t: burn::prelude::Tensor<Self, 4>| match t.into_primitive() {
                TensorPrimitive::Float(NdArrayTensor::F32(a)) => a,
                // Unreachable: every input is f32 (checked above).
                other => match burn::prelude::Tensor::<Self, 4>::from_primitive(other)
                    .cast(burn::tensor::DType::F32)
                    .into_primitive()
                {
                    TensorPrimitive::Float(NdArrayTensor::F32(a)) => a,
                    _ => unreachable!("an f32 cast of a float tensor is f32"),
                },
            };
            let bias_dims = bias.as_ref().map(|b| {
                let [bn, bh, _, _] = b.dims();
                [bn, bh]
            });
            let ba = bias.map(prim);
            let bv = ba.as_ref().map(|a| a.view());
            let bias = bv.as_ref().map(|v| crate::ops::row_major(v));
            let (qa, ka, va) = (prim(q), prim(k), prim(v));
            let (qv, kv, vv) = (qa.view(), ka.view(), va.view());
            let out = crate::attention::host_attention(
                &crate::ops::row_major(&qv),
                &crate::ops::row_major(&kv),
                &crate::ops::row_major(&vv),
                bias.as_deref()
                    .zip(bias_dims)
                    .map(|(values, dims)| crate::attention::HostBias { values, dims }),
                [n, h, lq, lk, d, dv],
                scale,
            );
            burn::prelude::Tensor::from_data(TensorData::new(out, [n, h, lq, dv]), &device)
        }
    }
}

#[cfg(feature = "flex")]
impl NnBackend for burn_flex::Flex {
    fn conv_gemm_band() -> usize {
        GEMM_BAND_ELEMENTS
    }
}

impl<B: NnBackend> NnBackend for burn::backend::Autodiff<B> {
    fn conv_gemm_band() -> usize {
        B::conv_gemm_band()
    }
}

#[cfg(feature = "cubecl")]
mod cube_impl {
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

    /// `NnBackend` with Burn's fused attention (`burn::tensor::module::attention`: CubeCL's
    /// flash kernels, autotuned) and the native convolution.
    macro_rules! fused_attention {
        () => {
            fn nn_attention(
                q: burn::prelude::Tensor<Self, 4>,
                k: burn::prelude::Tensor<Self, 4>,
                v: burn::prelude::Tensor<Self, 4>,
                mask: Option<burn::prelude::Tensor<Self, 4, burn::prelude::Bool>>,
                bias: Option<burn::prelude::Tensor<Self, 4>>,
                options: burn::tensor::ops::AttentionModuleOptions,
            ) -> burn::prelude::Tensor<Self, 4> {
                // Burn's kernels take a bias of the scores' full shape.
                let [n, h, lq, _] = q.dims();
                let lk = k.dims()[2];
                let bias = bias.map(|b| b.expand([n, h, lq, lk]));
                burn::tensor::module::attention(q, k, v, mask, bias, options)
            }
        };
    }

    impl<R, F, I, BT> super::NnBackend for CubeBackend<R, F, I, BT>
    where
        R: CubeRuntime,
        F: FloatElement,
        I: IntElement,
        BT: BoolElement,
    {
        fused_attention!();
    }

    impl<B: burn_fusion::FusionBackend> super::NnBackend for burn_fusion::Fusion<B> {
        fused_attention!();
    }
}
