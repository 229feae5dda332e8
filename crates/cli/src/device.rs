//! `--device cpu|cuda[:N]|wgpu[:N]` and the one generic dispatch every compute subcommand goes
//! through: a [`Job`] is written once, generic over the backend, and [`dispatch`] runs it on the
//! backend the user named — or says which Cargo feature the build lacks.

use std::fmt;
use std::str::FromStr;

use burn::tensor::DType;
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceArg {
    /// The CPU backend (burn-ndarray), feature `ndarray`.
    #[default]
    Cpu,
    /// An NVIDIA GPU by index, feature `cuda`.
    Cuda(usize),
    /// A wgpu adapter: the default one, a discrete GPU by index, or the CPU adapter (lavapipe),
    /// feature `wgpu`.
    Wgpu(WgpuSelect),
}

/// Which wgpu adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgpuSelect {
    /// `wgpu`: the default (high-performance) adapter.
    Default,
    /// `wgpu:N`: the N-th discrete GPU.
    Discrete(usize),
    /// `wgpu:cpu`: a CPU adapter such as Mesa's lavapipe.
    Cpu,
}

impl FromStr for DeviceArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let index = |i: &str| {
            i.parse::<usize>()
                .map_err(|_| format!("expected cpu, cuda[:N] or wgpu[:N|:cpu], got {s:?}"))
        };
        match s.split_once(':') {
            None if s == "cpu" => Ok(Self::Cpu),
            None if s == "cuda" => Ok(Self::Cuda(0)),
            None if s == "wgpu" => Ok(Self::Wgpu(WgpuSelect::Default)),
            Some(("cuda", i)) => Ok(Self::Cuda(index(i)?)),
            Some(("wgpu", "cpu")) => Ok(Self::Wgpu(WgpuSelect::Cpu)),
            Some(("wgpu", i)) => Ok(Self::Wgpu(WgpuSelect::Discrete(index(i)?))),
            _ => Err(format!(
                "expected cpu, cuda[:N] or wgpu[:N|:cpu], got {s:?}"
            )),
        }
    }
}

impl fmt::Display for DeviceArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Wgpu(WgpuSelect::Default) => write!(f, "wgpu"),
            Self::Wgpu(WgpuSelect::Discrete(i)) => write!(f, "wgpu:{i}"),
            Self::Wgpu(WgpuSelect::Cpu) => write!(f, "wgpu:cpu"),
        }
    }
}

/// `--dtype f32|f16|bf16`.
pub(crate) fn parse_dtype(s: &str) -> Result<DType, String> {
    match s {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        "bf16" => Ok(DType::BF16),
        _ => Err(format!("expected f32, f16 or bf16, got {s:?}")),
    }
}

/// Half precision needs a GPU device: the CPU backend (burn-ndarray) computes in f32.
pub(crate) fn check_dtype(dtype: DType, device: DeviceArg) -> Result<(), CliError> {
    if dtype == DType::F32 || device != DeviceArg::Cpu {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "--dtype {} needs --device cuda or wgpu: the CPU backend (burn-ndarray) computes in f32",
        format!("{dtype:?}").to_lowercase()
    )))
}

/// Work that runs on any backend.
pub trait Job {
    /// What the job returns (the text the subcommand prints).
    type Output;

    /// Runs on backend `B` and `device`.
    ///
    /// # Errors
    /// The subcommand's errors.
    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<Self::Output, CliError>;
}

fn not_compiled(device: DeviceArg, feature: &str) -> CliError {
    CliError::Usage(format!(
        "--device {device} needs a build with the `{feature}` feature (e.g. `cargo install --path crates/cli --features {feature}`)"
    ))
}

/// Runs `job` on the backend of `device`.
///
/// # Errors
/// [`CliError::Usage`] if the build lacks that backend's feature; the job's own errors.
pub fn dispatch<J: Job>(device: DeviceArg, job: J) -> Result<J::Output, CliError> {
    match device {
        DeviceArg::Cpu => {
            #[cfg(feature = "ndarray")]
            return job.run::<ultrares::backend::NdArray>(&Default::default());
            #[cfg(not(feature = "ndarray"))]
            {
                drop(job);
                Err(not_compiled(device, "ndarray"))
            }
        }
        DeviceArg::Cuda(i) => {
            #[cfg(feature = "cuda")]
            return job.run::<ultrares::backend::Cuda>(&burn::backend::cuda::CudaDevice::new(i));
            #[cfg(not(feature = "cuda"))]
            {
                let _ = (i, job);
                Err(not_compiled(device, "cuda"))
            }
        }
        DeviceArg::Wgpu(sel) => {
            #[cfg(feature = "wgpu")]
            {
                use burn::backend::wgpu::WgpuDevice;
                let d = match sel {
                    WgpuSelect::Default => WgpuDevice::DefaultDevice,
                    WgpuSelect::Discrete(i) => WgpuDevice::DiscreteGpu(i),
                    WgpuSelect::Cpu => WgpuDevice::Cpu,
                };
                job.run::<ultrares::backend::Wgpu>(&d)
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = (sel, job);
                Err(not_compiled(device, "wgpu"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_devices() {
        for s in ["cpu", "cuda:0", "cuda:3", "wgpu", "wgpu:1", "wgpu:cpu"] {
            let d: DeviceArg = s.parse().expect(s);
            assert_eq!(d.to_string(), s);
        }
        assert_eq!("cuda".parse::<DeviceArg>(), Ok(DeviceArg::Cuda(0)));
        for bad in ["gpu", "cuda:x", "cpu:1", "", "wgpu:-1"] {
            assert!(bad.parse::<DeviceArg>().is_err(), "{bad}");
        }
    }
}
