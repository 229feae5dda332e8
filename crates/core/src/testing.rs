//! Deterministic test data shared by the workspace's golden tests and `tools/golden/npz.py`
//! (hidden from the docs: not part of the API).

/// `u ∈ [−1, 1)`: splitmix64 of `(seed << 32) + i`, top 53 bits (`npz.py`'s `splitmix_uniform`).
pub fn splitmix_uniform(seed: u64, n: usize) -> impl Iterator<Item = f64> {
    (0..n as u64).map(move |i| {
        let mut z = (seed << 32)
            .wrapping_add(i)
            .wrapping_mul(0x9E3779B97F4A7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    })
}

/// 64-bit FNV-1a of a string (`npz.py`'s `fnv1a`).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF29CE484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001B3)
    })
}

/// `npz.py`'s `det_weight`: the deterministic value of state-dict tensor `key` — uniform with
/// variance 1/fan_in for weights of rank ≥ 2, 1 ± 0.1 for rank-1 weights (norms), ±0.5 for a
/// relative-position table, ±0.1 otherwise (biases).
pub fn det_weight(key: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let u = splitmix_uniform(fnv1a(key) & 0xFFFF_FFFF, n);
    let scale = (3.0 / (n / shape.first().copied().unwrap_or(1).max(1)).max(1) as f64).sqrt();
    let rel = key.ends_with("relative_position_bias_table");
    let norm = key.ends_with(".weight") && shape.len() == 1;
    let weight = key.ends_with(".weight");
    u.map(|u| {
        (if rel {
            0.5 * u
        } else if norm {
            1.0 + 0.1 * u
        } else if weight {
            u * scale
        } else {
            0.1 * u
        }) as f32
    })
    .collect()
}
