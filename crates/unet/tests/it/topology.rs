//! The real topologies (SDXL base and refiner, SD 1.5) have exactly diffusers' state-dict keys,
//! shapes and parameter counts (diffusers 0.36 built on torch's meta device,
//! `unet_keys.json`); nothing is allocated (lazy parameters).

use crate::common;

use std::collections::BTreeMap;

use burn::module::{Param, RunningState};
use burn::nn::Linear;
use burn::prelude::*;
use common::{B, keys};
use ultrares_nn::weights::Visitor;
use ultrares_unet::UNet2DConditionConfig;

#[derive(Default)]
struct Shapes(BTreeMap<String, Vec<usize>>);

impl Visitor<B> for Shapes {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        self.0
            .insert(key.to_string(), param.lazy_shape().dims::<D>().to_vec());
    }
    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let [i, o] = linear.weight.lazy_shape().dims();
        self.0.insert(format!("{prefix}.weight"), vec![o, i]);
        if let Some(b) = linear.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), b);
        }
    }
    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<B, D>>) {
        unreachable!("a UNet has no running statistics")
    }
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

fn check(name: &str, cfg: UNet2DConditionConfig) {
    let mut model = cfg.init::<B>(&Default::default()).expect("init");
    let mut shapes = Shapes::default();
    model.walk(&mut shapes);
    let keys = keys();
    let reference: BTreeMap<String, Vec<usize>> =
        serde_json::from_value(keys[name]["keys"].clone()).expect("keys");
    let missing: Vec<_> = reference
        .keys()
        .filter(|k| !shapes.0.contains_key(*k))
        .collect();
    let extra: Vec<_> = shapes
        .0
        .keys()
        .filter(|k| !reference.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing {missing:?}, extra {extra:?}"
    );
    for (k, s) in &reference {
        assert_eq!(&shapes.0[k], s, "{name}: {k}");
    }
    let params: usize = shapes.0.values().map(|s| s.iter().product::<usize>()).sum();
    assert_eq!(
        params as u64,
        keys[name]["parameters"].as_u64().expect("count"),
        "{name}"
    );
}

#[test]
fn sdxl_base_has_diffusers_keys_and_2_567_463_684_parameters() {
    check("sdxl_base", UNet2DConditionConfig::sdxl_base());
    assert_eq!(keys()["sdxl_base"]["parameters"], 2_567_463_684u64);
}

#[test]
fn sdxl_refiner_has_diffusers_keys() {
    check("sdxl_refiner", UNet2DConditionConfig::sdxl_refiner());
}

#[test]
fn sd15_has_diffusers_keys() {
    check("sd15", UNet2DConditionConfig::sd15());
}
