//! Band layouts (pytorch_wavelets, WaveCNet, WaveDiff/Diffusion-4K stacking) and the wavelet
//! loss, against the reference code.
use crate::common;

use burn::tensor::{Distribution, Tensor};
use common::{B, Npz, max_diff, max_err};
use ultrares_wavelet::{
    BandOrder, Coeffs2, Details2, Mode, Stacking, Wavelet, WaveletLossConfig, dwt2, wavedec2,
    waverec2,
};

#[test]
fn pytorch_wavelets_layout_and_modes() {
    let npz = Npz::open("pytorch_wavelets.npz");
    let db2 = Wavelet::new("db2").unwrap();
    for mode in [Mode::Zero, Mode::Symmetric, Mode::Periodization] {
        let k = mode.name();
        let x: Tensor<B, 4> = npz.tensor(&format!("{k}/x"));
        let dec = wavedec2(x.clone(), &db2, mode, 2).unwrap();
        let e = max_err(&dec.a, npz.get(&format!("{k}/yl")), k);
        assert!(e <= 1e-5, "{k} yl {e}");
        for (j, d) in dec.details.iter().enumerate() {
            let yh = d.clone().to_pytorch_wavelets();
            let e = max_err(&yh, npz.get(&format!("{k}/yh{}", j + 1)), k);
            assert!(e <= 1e-5, "{k} yh{} {e}", j + 1);
            // Round trip of the layout.
            let back = Details2::from_pytorch_wavelets(yh).unwrap();
            assert_eq!(max_diff(&back.h, &d.h), 0.0);
            assert_eq!(max_diff(&back.d, &d.d), 0.0);
        }
        // DWTInverse((yl, yh)) trims like waverec2 (17 rows come back as 17... or 18).
        let rec = waverec2(dec, &db2, mode).unwrap();
        let want = npz.get(&format!("{k}/rec"));
        let [n, c, h, w] = [
            want.shape()[0],
            want.shape()[1],
            want.shape()[2],
            want.shape()[3],
        ];
        let rec = rec.slice([0..n, 0..c, 0..h, 0..w]);
        let e = max_err(&rec, want, k);
        assert!(e <= 1e-5, "{k} DWTInverse {e}");
    }
}

#[test]
fn wavecnet_order_matches_wavediff_dwt_idwt() {
    let npz = Npz::open("wavecnet.npz");
    let haar = Wavelet::haar();
    let x: Tensor<B, 4> = npz.tensor("x");
    let [ll, lh, hl, hh] = dwt2(x, &haar, Mode::Zero).unwrap().to_wavecnet();
    for (name, t) in [("LL", &ll), ("LH", &lh), ("HL", &hl), ("HH", &hh)] {
        let e = max_err(t, npz.get(name), name);
        assert!(e <= 1e-6, "WaveCNet {name}: {e}");
    }
    let bands = ["iLL", "iLH", "iHL", "iHH"].map(|k| npz.tensor::<4>(k));
    let c = Coeffs2::from_wavecnet(bands);
    let rec = ultrares_wavelet::idwt2(c, &haar, Mode::Zero).unwrap();
    let e = max_err(&rec, npz.get("irec"), "IDWT_2D");
    assert!(e <= 1e-6, "WaveCNet IDWT_2D: {e}");
}

#[test]
fn stacking_layouts_and_exact_inverse() {
    let device = Default::default();
    let x = Tensor::<B, 4>::random([2, 3, 8, 6], Distribution::Uniform(-1.0, 1.0), &device);
    let c = dwt2(x, &Wavelet::haar(), Mode::Zero).unwrap();
    for order in [BandOrder::Pywt, BandOrder::WaveCnet] {
        let s = Stacking::wavediff(order);
        let stacked = s.stack(c.clone());
        assert_eq!(stacked.dims(), [2, 12, 4, 3]);
        // Channel-major: 3 LL channels, then the groups in the checkpoint's order, all ÷2.
        let group = |i: usize| stacked.clone().slice([0..2, 3 * i..3 * i + 3, 0..4, 0..3]);
        let (first, second) = match order {
            BandOrder::Pywt => (&c.h, &c.v),
            BandOrder::WaveCnet => (&c.v, &c.h),
        };
        assert_eq!(max_diff(&group(0), &c.a.clone().mul_scalar(0.5)), 0.0);
        assert_eq!(max_diff(&group(1), &first.clone().mul_scalar(0.5)), 0.0);
        assert_eq!(max_diff(&group(2), &second.clone().mul_scalar(0.5)), 0.0);
        assert_eq!(max_diff(&group(3), &c.d.clone().mul_scalar(0.5)), 0.0);
        let back = s.unstack(stacked).unwrap();
        for (a, b) in [
            (&back.a, &c.a),
            (&back.h, &c.h),
            (&back.v, &c.v),
            (&back.d, &c.d),
        ] {
            assert_eq!(max_diff(a, b), 0.0, "÷2 then ×2 is exact");
        }
    }
    assert!(
        Stacking::diffusion_4k()
            .unstack(Tensor::<B, 4>::zeros([1, 6, 2, 2], &device))
            .is_err()
    );
    let bad = Stacking {
        order: BandOrder::Pywt,
        scale: 0.0,
    };
    assert!(
        bad.unstack(Tensor::<B, 4>::zeros([1, 4, 2, 2], &device))
            .is_err()
    );
}

#[test]
fn diffusion_4k_loss_equals_reference() {
    let npz = Npz::open("loss.npz");
    let pred: Tensor<B, 4> = npz.tensor("even/pred");
    let target: Tensor<B, 4> = npz.tensor("even/target");
    // The stacked prediction equals pytorch_wavelets' cat([yl, yh[:, :, 0..3]]).
    let stacked =
        Stacking::diffusion_4k().stack(dwt2(pred.clone(), &Wavelet::haar(), Mode::Zero).unwrap());
    let e = max_err(&stacked, npz.get("even/stacked_pred"), "stacked");
    assert!(e <= 1e-6, "stacked {e}");
    let loss = WaveletLossConfig::diffusion_4k().init().unwrap();
    let got = loss
        .forward(pred.clone(), target.clone())
        .unwrap()
        .into_scalar() as f64;
    let want = npz.get("even/loss")[[0]];
    assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
    // Equal weights reduce to plain MSE (Parseval, orthonormal Haar on even sizes).
    let mse = (pred.clone() - target.clone())
        .powi_scalar(2)
        .mean()
        .into_scalar() as f64;
    assert!((got - mse).abs() <= 1e-6 * mse, "{got} vs mse {mse}");
    // Also for 2 levels of an orthogonal wavelet in periodization mode.
    let mut cfg = WaveletLossConfig::diffusion_4k().with_levels(2);
    cfg.wavelet = Wavelet::new("sym4").unwrap();
    cfg.mode = Mode::Periodization;
    let device = Default::default();
    let p = Tensor::<B, 4>::random([2, 4, 64, 64], Distribution::Default, &device);
    let t = Tensor::<B, 4>::random([2, 4, 64, 64], Distribution::Default, &device);
    let got = cfg
        .clone()
        .init()
        .unwrap()
        .forward(p.clone(), t.clone())
        .unwrap()
        .into_scalar() as f64;
    let mse = (p.clone() - t.clone()).powi_scalar(2).mean().into_scalar() as f64;
    assert!((got - mse).abs() <= 1e-5 * mse, "{got} vs mse {mse}");
    // Weights change it: only the approximation band, weight 4.
    let weighted = cfg
        .with_weights(4.0, vec![[0.0; 3], [0.0; 3]])
        .init()
        .unwrap()
        .forward(p.clone(), t.clone())
        .unwrap()
        .into_scalar() as f64;
    let dp = wavedec2(p, &Wavelet::new("sym4").unwrap(), Mode::Periodization, 2).unwrap();
    let dt = wavedec2(t, &Wavelet::new("sym4").unwrap(), Mode::Periodization, 2).unwrap();
    let want =
        4.0 * (dp.a - dt.a).powi_scalar(2).sum().into_scalar() as f64 / (2.0 * 4.0 * 64.0 * 64.0);
    assert!(
        (weighted - want).abs() <= 1e-5 * want,
        "{weighted} vs {want}"
    );
}

#[test]
fn loss_config_errors() {
    assert!(
        WaveletLossConfig::diffusion_4k()
            .with_levels(0)
            .init()
            .is_err()
    );
    assert!(
        WaveletLossConfig::diffusion_4k()
            .with_weights(1.0, vec![[1.0; 3]; 2])
            .init()
            .is_err()
    );
    assert!(
        WaveletLossConfig::diffusion_4k()
            .with_weights(-1.0, vec![])
            .init()
            .is_err()
    );
    assert!(
        WaveletLossConfig::diffusion_4k()
            .with_weights(f64::NAN, vec![])
            .init()
            .is_err()
    );
    let loss = WaveletLossConfig::diffusion_4k().init().unwrap();
    let device = Default::default();
    let a = Tensor::<B, 4>::zeros([1, 4, 8, 8], &device);
    let b = Tensor::<B, 4>::zeros([1, 4, 8, 6], &device);
    assert!(loss.forward(a, b).is_err());
}
