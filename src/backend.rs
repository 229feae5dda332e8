//! The backends enabled by this build's Cargo features, and what devices they see.
//!
//! Library code is generic over [`burn::tensor::backend::Backend`]; programs pick one of these.

#[cfg(feature = "ndarray")]
/// CPU backend (burn-ndarray, f32), feature `ndarray`.
pub type NdArray = burn::backend::NdArray<f32>;

#[cfg(feature = "cuda")]
/// NVIDIA GPU backend (CubeCL CUDA with fusion, f32), feature `cuda`.
pub type Cuda = burn::backend::Cuda<f32>;

#[cfg(feature = "wgpu")]
/// wgpu backend (Vulkan/Metal/DX12 or lavapipe, with fusion, f32), feature `wgpu`.
pub type Wgpu = burn::backend::Wgpu<f32>;

/// Names of the backend features compiled into this build, in the order `ndarray`, `cuda`,
/// `wgpu`.
pub fn enabled() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// A device a backend can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The backend feature (`ndarray`, `cuda`, `wgpu`).
    pub backend: &'static str,
    /// A human-readable description (adapter name, driver, type).
    pub name: String,
}

/// Probes every enabled backend for devices. A backend whose driver is missing reports none
/// (the probe never panics: driver-loading panics are caught).
pub fn devices() -> Vec<DeviceInfo> {
    let mut out = Vec::new();
    #[cfg(feature = "ndarray")]
    out.push(DeviceInfo {
        backend: "ndarray",
        name: format!(
            "cpu ({} rayon threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
    });
    #[cfg(feature = "cuda")]
    out.extend(quiet_probe_with(cuda_devices).unwrap_or_default());
    #[cfg(feature = "wgpu")]
    out.extend(quiet_probe_with(wgpu_devices).unwrap_or_default());
    out
}

/// Runs `f`, turning a panic (a missing driver or adapter) into `None` without printing it.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn quiet_probe_with<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    std::panic::set_hook(hook);
    r
}

#[cfg(feature = "cuda")]
fn cuda_devices() -> Vec<DeviceInfo> {
    use burn::backend::cuda::CudaDevice;
    use burn::tensor::backend::Backend;
    let n = <Cuda as Backend>::device_count(0);
    (0..n)
        .map(|i| DeviceInfo {
            backend: "cuda",
            name: format!(
                "cuda:{i} ({})",
                <Cuda as Backend>::name(&CudaDevice::new(i))
            ),
        })
        .collect()
}

#[cfg(feature = "wgpu")]
fn wgpu_devices() -> Vec<DeviceInfo> {
    use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, graphics::AutoGraphicsApi, init_setup};
    // The default (high-performance) adapter first, then a CPU adapter such as Mesa's lavapipe.
    [WgpuDevice::DefaultDevice, WgpuDevice::Cpu]
        .into_iter()
        .find_map(|device| {
            let setup = quiet_probe_with(|| {
                init_setup::<AutoGraphicsApi>(&device, RuntimeOptions::default())
            })?;
            let info = setup.adapter.get_info();
            Some(DeviceInfo {
                backend: "wgpu",
                name: format!(
                    "{} ({:?}, {:?}, driver {} {})",
                    info.name, info.device_type, info.backend, info.driver, info.driver_info
                ),
            })
        })
        .into_iter()
        .collect()
}
