//! Tiling: DemoFusion's view layout, jitter bounds, blend weights, and merge(split(x)) == x.

use burn::backend::NdArray;
use burn::prelude::*;
use proptest::prelude::*;
use ultrares_core::Error;
use ultrares_core::noise::gaussian;
use ultrares_core::tiling::*;

type B = NdArray<f32>;

/// DemoFusion's `get_views` without jitter, transcribed from
/// `PRIS-CV/DemoFusion:pipeline_demofusion_sdxl.py` (latent units, Python float arithmetic).
fn demofusion_views(
    height: usize,
    width: usize,
    window: usize,
    stride: usize,
) -> Vec<(usize, usize)> {
    let nb = |d: usize| {
        if d > window {
            ((d - window) as f64 / stride as f64 - 1e-6) as usize + 2
        } else {
            1
        }
    };
    let (nh, nw) = (nb(height), nb(width));
    (0..nh * nw)
        .map(|i| {
            let mut h0 = (i / nw * stride) as i64;
            let mut w0 = (i % nw * stride) as i64;
            if h0 + window as i64 > height as i64 {
                h0 = height as i64 - window as i64;
            }
            if w0 + window as i64 > width as i64 {
                w0 = width as i64 - window as i64;
            }
            (h0.max(0) as usize, w0.max(0) as usize)
        })
        .collect()
}

#[test]
fn layout_equals_demofusion_get_views() {
    // The table of spec lsrna.md §4.3 and more.
    for (h, w, n) in [
        (256, 256, 9),
        (384, 384, 25),
        (512, 512, 49),
        (256, 512, 21),
        (128, 128, 1),
        (200, 333, 15),
    ] {
        let plan = TilePlan::new(h, w, TileConfig::new(128, 64)).unwrap();
        assert_eq!(plan.len(), n, "{h}x{w}");
        let got: Vec<_> = plan.tiles.iter().map(|t| (t.y, t.x)).collect();
        assert_eq!(got, demofusion_views(h, w, 128, 64), "{h}x{w}");
        assert!(plan.tiles.iter().all(|t| t.h == 128 && t.w == 128));
    }
    for (h, w, win, stride) in [(97, 300, 32, 7), (1000, 64, 64, 64), (130, 130, 128, 1)] {
        let plan = TilePlan::new(h, w, TileConfig::new(win, stride)).unwrap();
        let got: Vec<_> = plan.tiles.iter().map(|t| (t.y, t.x)).collect();
        assert_eq!(
            got,
            demofusion_views(h, w, win, stride),
            "{h}x{w} {win}/{stride}"
        );
    }
}

#[test]
fn jitter_follows_demofusion_bounds_and_is_seeded() {
    let (h, w) = (512, 384);
    let plain = TilePlan::new(h, w, TileConfig::new(128, 64)).unwrap();
    let a = TilePlan::new(h, w, TileConfig::demofusion(3)).unwrap();
    let b = TilePlan::new(h, w, TileConfig::demofusion(3)).unwrap();
    let c = TilePlan::new(h, w, TileConfig::demofusion(4)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.tiles, c.tiles);
    assert_eq!(a.pad, [16, 16]);
    assert_eq!(a.padded_size(), [544, 416]);
    let mut moved = 0;
    for (p, j) in plain.tiles.iter().zip(&a.tiles) {
        for (start, jit, len) in [(p.y, j.y, h), (p.x, j.x, w)] {
            let off = jit as i64 - 16 - start as i64;
            let (lo, hi) = match (start == 0, start + 128 == len) {
                (false, false) => (-16, 16),
                (true, false) => (-16, 0),
                (false, true) => (0, 16),
                (true, true) => (0, 0),
            };
            assert!(
                (lo..=hi).contains(&off),
                "offset {off} outside [{lo}, {hi}]"
            );
            moved += (off != 0) as usize;
        }
    }
    assert!(moved > 0);
    // A canvas no larger than the window: one view, no jitter.
    let one = TilePlan::new(100, 128, TileConfig::demofusion(1)).unwrap();
    assert_eq!(
        one.tiles,
        vec![Tile {
            y: 16,
            x: 16,
            h: 100,
            w: 128
        }]
    );
}

#[test]
fn scaled_plan_maps_latent_to_pixels() {
    let p = TilePlan::new(40, 50, TileConfig::new(16, 12).with_jitter(9)).unwrap();
    let s = p.scaled(8).unwrap();
    assert_eq!(
        (s.height, s.width, s.pad, s.tile),
        (320, 400, [8, 8], [128, 128])
    );
    for (a, b) in p.tiles.iter().zip(&s.tiles) {
        assert_eq!((a.y * 8, a.x * 8, a.h * 8, a.w * 8), (b.y, b.x, b.h, b.w));
    }
    assert!(matches!(p.scaled(0), Err(Error::Argument { .. })));
    assert!(matches!(p.scaled(usize::MAX), Err(Error::Argument { .. })));
}

#[test]
fn feather_weights_ramp_only_inside_the_canvas() {
    let plan = TilePlan::new(10, 16, TileConfig::new(10, 8)).unwrap();
    assert_eq!(plan.len(), 2);
    let w0 = plan.weights(0, Blend::Feather { width: 3 }).unwrap();
    let row: Vec<f32> = w0[..10].to_vec();
    // Tile 0 spans x 0..10; its left edge is the canvas border, its right edge is interior.
    assert_eq!(
        row,
        vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    );
    let g = plan.weights(1, Blend::Gaussian { sigma: 0.1 }).unwrap();
    assert!(g.iter().all(|&v| v > 0.0 && v <= 1.0));
    assert!(matches!(
        plan.weights(0, Blend::Gaussian { sigma: 0.0 }),
        Err(Error::Argument { arg: "sigma", .. })
    ));
    assert!(matches!(
        plan.weights(2, Blend::Average),
        Err(Error::Argument { arg: "indices", .. })
    ));
}

#[test]
fn merging_processed_tiles_blends_overlaps() {
    // Tiles filled with their index: in an overlap, Average gives the mean of the indices.
    let dev = Default::default();
    let plan = TilePlan::new(8, 12, TileConfig::new(8, 4)).unwrap();
    assert_eq!(plan.len(), 2);
    let tiles = (0..2)
        .map(|i| Tensor::<B, 4>::full([1, 1, 8, 8], i as f32, &dev))
        .collect();
    let m = plan
        .merge(tiles, Blend::Average)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(
        &m[..12],
        &[0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    );
}

#[test]
fn merger_accepts_batched_tiles_and_reports_missing_ones() {
    let dev = Default::default();
    let x = gaussian::<B, 4>([2, 3, 40, 30], 1, &dev).unwrap();
    let plan = TilePlan::new(40, 30, TileConfig::new(16, 10).with_jitter(5)).unwrap();
    let padded = plan.pad(x.clone()).unwrap();
    let mut m =
        TileMerger::<B>::new(plan.clone(), 2, 3, Blend::Feather { width: 4 }, &dev).unwrap();
    let all: Vec<usize> = (0..plan.len()).collect();
    for chunk in all.chunks(4) {
        let t = plan.extract(&padded, chunk).unwrap();
        assert_eq!(t.dims(), [2 * chunk.len(), 3, 16, 16]);
        m.add(chunk, t).unwrap();
    }
    let y = m.finish().unwrap();
    y.into_data()
        .assert_approx_eq::<f32>(&x.into_data(), burn::tensor::Tolerance::absolute(1e-6));

    let mut m = TileMerger::<B>::new(plan.clone(), 2, 3, Blend::Average, &dev).unwrap();
    m.add(&[0], plan.extract(&padded, &[0]).unwrap()).unwrap();
    assert!(matches!(
        m.finish(),
        Err(Error::Argument { arg: "tiles", .. })
    ));
}

#[test]
fn bad_arguments_are_errors() {
    let dev = Default::default();
    assert!(matches!(
        TilePlan::new(0, 5, TileConfig::new(4, 2)),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        TilePlan::new(5, 5, TileConfig::new(0, 0)),
        Err(Error::Argument { arg: "window", .. })
    ));
    assert!(matches!(
        TilePlan::new(5, 5, TileConfig::new(4, 0)),
        Err(Error::Argument { arg: "stride", .. })
    ));
    assert!(matches!(
        TilePlan::new(5, 5, TileConfig::new(4, 5)),
        Err(Error::Argument { arg: "stride", .. })
    ));
    assert!(matches!(
        TilePlan::new(usize::MAX / 2, 1 << 20, TileConfig::new(1, 1)),
        Err(Error::TooLarge { arg: "tiles", .. })
    ));
    let plan = TilePlan::new(8, 8, TileConfig::new(4, 4)).unwrap();
    let x = Tensor::<B, 4>::zeros([1, 1, 8, 9], &dev);
    assert!(matches!(plan.split(x), Err(Error::Shape { arg: "x", .. })));
    let padded = Tensor::<B, 4>::zeros([1, 1, 8, 8], &dev);
    assert!(matches!(
        plan.extract(&padded, &[]),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        plan.extract(&padded, &[4]),
        Err(Error::Argument { arg: "indices", .. })
    ));
    let tiles = plan.split(padded.clone()).unwrap();
    assert!(matches!(
        plan.merge(tiles[..3].to_vec(), Blend::Average),
        Err(Error::Argument { arg: "tiles", .. })
    ));
    let mut bad = tiles.clone();
    bad[2] = Tensor::zeros([1, 1, 4, 5], &dev);
    assert!(matches!(
        plan.merge(bad, Blend::Average),
        Err(Error::Shape { arg: "tiles", .. })
    ));
    assert!(matches!(
        TileMerger::<B>::new(plan, 0, 1, Blend::Average, &dev),
        Err(Error::Argument { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// merge(split(x)) == x for any size ≥ 1, any window ≥ 1, any 1 ≤ stride ≤ window, with and
    /// without jitter, for every blend.
    #[test]
    fn merge_of_split_is_identity(
        h in 1usize..48, w in 1usize..48,
        wh in 1usize..24, ww in 1usize..24,
        sh_frac in 0.0f64..1.0, sw_frac in 0.0f64..1.0,
        jitter in proptest::option::of(any::<u64>()),
        blend_kind in 0u8..3, feather in 0usize..6, seed in any::<u64>(),
    ) {
        let sh = 1 + (sh_frac * (wh - 1) as f64) as usize;
        let sw = 1 + (sw_frac * (ww - 1) as f64) as usize;
        let cfg = TileConfig { window: [wh, ww], stride: [sh, sw], jitter };
        let plan = TilePlan::new(h, w, cfg).unwrap();
        // Every tile lies inside the padded canvas.
        let [ph, pw] = plan.padded_size();
        prop_assert!(plan.tiles.iter().all(|t| t.y + t.h <= ph && t.x + t.w <= pw));
        let blend = match blend_kind {
            0 => Blend::Average,
            1 => Blend::Feather { width: feather },
            _ => Blend::Gaussian { sigma: 0.25 },
        };
        let dev = Default::default();
        let x = gaussian::<B, 4>([1, 2, h, w], seed, &dev).unwrap();
        let y = plan.merge(plan.split(x.clone()).unwrap(), blend).unwrap();
        let err = (y - x).abs().max().into_scalar();
        prop_assert!(err <= 1e-5, "max error {} for {:?} on {}x{}", err, cfg, h, w);
    }
}

#[test]
fn demofusion_layout_draws_like_get_views() {
    use ultrares_core::{Randomness, SeededRandomness};
    /// Counts the draws and records their ranges.
    struct Count(Vec<(i64, i64)>);
    impl Randomness for Count {
        fn gaussian(
            &mut self,
            _: ultrares_core::Draw,
            _: usize,
        ) -> ultrares_core::Result<Vec<f32>> {
            unreachable!()
        }
        fn randint(&mut self, lo: i64, hi: i64) -> ultrares_core::Result<i64> {
            self.0.push((lo, hi));
            Ok(hi)
        }
        fn uniform(&mut self) -> ultrares_core::Result<f64> {
            unreachable!()
        }
        fn index(&mut self, _: usize) -> ultrares_core::Result<usize> {
            unreachable!()
        }
    }
    // 256 × 192 latents, 128-windows at 64: 3 × 2 views; J = 16. Width drawn before height;
    // the first view sits at both start edges, the last at both end edges.
    let mut c = Count(Vec::new());
    let plan = TilePlan::demofusion(256, 192, 128, 64, Some(&mut c)).unwrap();
    assert_eq!(plan.len(), 6);
    assert_eq!(&c.0[..2], &[(-16, 0), (-16, 0)]);
    assert_eq!(&c.0[10..], &[(0, 16), (0, 16)]);
    assert_eq!(c.0[2..4], [(0, 16), (-16, 0)]);
    assert_eq!(
        (plan.tiles[0].y, plan.tiles[0].x),
        (16, 16),
        "upper bound of (−16, 0) plus the pad"
    );
    // A window spanning its axis draws nothing there; one smaller latent side is clamped.
    let mut c = Count(Vec::new());
    let plan = TilePlan::demofusion(128, 100, 128, 64, Some(&mut c)).unwrap();
    assert_eq!((plan.len(), plan.tile), (1, [128, 100]));
    assert!(c.0.is_empty());
    // Seeded draws are reproducible; without jitter it is the plain layout.
    let a = TilePlan::demofusion(300, 300, 128, 64, Some(&mut SeededRandomness::new(5))).unwrap();
    let b = TilePlan::demofusion(300, 300, 128, 64, Some(&mut SeededRandomness::new(5))).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        TilePlan::demofusion(300, 300, 128, 64, None).unwrap(),
        TilePlan::new(300, 300, TileConfig::new(128, 64)).unwrap()
    );
}
