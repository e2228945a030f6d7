//! Choosing where models run: a hardware wgpu adapter when there is one, burn's `flex` CPU
//! backend otherwise.

pub mod kernel_cache;

use burn::prelude::*;
use burn::tensor::wgpu::wgpu;
use burn::tensor::{DeviceKind, read_sync};
use serde::{Deserialize, Serialize};

/// What the user asked for (`--device auto|gpu|cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A discrete, then an integrated GPU; otherwise the CPU (`flex`). A software
    /// adapter (llvmpipe/lavapipe) is never picked by `auto`: it is slower than `flex`.
    #[default]
    Auto,
    /// Any wgpu adapter, software ones included; an error if there is none.
    Gpu,
    /// burn's `flex` CPU backend.
    Cpu,
}

/// Why this build has no CUDA backend, for whoever asks for one.
pub const NO_CUDA: &str = "this build has no CUDA backend: burn's CUDA backend downloads a prebuilt LLVM from GitHub while it \
     compiles, which a build from package registries alone cannot do (docs/benchmarks.md, \"GPU kernels\"). NVIDIA GPUs run \
     through wgpu on Vulkan: --device gpu, or auto";

/// The backends compiled into this build, for `patchwork devices`.
pub const COMPILED_BACKENDS: &[&str] = &[
    "flex (CPU, burn's pure-Rust backend with Patchwork's convolution kernels)",
    #[cfg(feature = "spirv")]
    "wgpu on Vulkan with SPIR-V kernels (cubecl's SPIR-V compiler; WGSL where a driver lacks what it needs)",
    #[cfg(feature = "spirv")]
    "wgpu on Metal, DX12 and OpenGL with WGSL kernels",
    #[cfg(not(feature = "spirv"))]
    "wgpu with WGSL kernels on every API (Vulkan, Metal, DX12, OpenGL; SPIR-V on Vulkan is the `spirv` build feature)",
];

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "gpu" | "wgpu" | "vulkan" => Ok(Self::Gpu),
            "cpu" | "flex" => Ok(Self::Cpu),
            "cuda" => Err(NO_CUDA.to_string()),
            _ => Err(format!("unknown device '{s}' (expected auto, gpu or cpu)")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        })
    }
}

/// A wgpu adapter as the system reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSummary {
    pub name: String,
    pub kind: wgpu::DeviceType,
    pub backend: wgpu::Backend,
    pub driver: String,
}

impl AdapterSummary {
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Cpu => "software adapter",
            wgpu::DeviceType::Other => "other adapter",
        };
        format!("{} ({kind}, {:?})", self.name, self.backend)
    }
}

/// Burn falls back to its default device where an API takes none — loading optimizer state
/// does — and that default is wgpu, so resuming a CPU run would open a GPU (or lavapipe, with
/// its warnings on a headless machine) only to stage tensors that move to their parameters'
/// device at the next step anyway. This pins that default to `flex` unless the user chose
/// one with `BURN_DEVICE`.
///
/// # Safety
/// Sets an environment variable: call it before any other thread exists.
pub unsafe fn pin_burn_default_device_to_cpu() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: the caller guarantees no other thread reads the environment meanwhile.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// Lists the wgpu adapters, without opening any of them.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::all(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    read_sync(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary { name: info.name, kind: info.device_type, backend: info.backend, driver: info.driver }
        })
        .collect()
}

/// A device picked for training, with what to tell the user about it.
#[derive(Debug, Clone)]
pub struct ResolvedDevice {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
    /// CPU only: training computes in a thread pool of its own with this many threads,
    /// leaving rayon's global pool (the explorer's requests) all cores. `None`: the global pool.
    pub training_threads: Option<usize>,
}

impl ResolvedDevice {
    /// On the CPU, trains in a pool of `threads` threads (see [`Self::training_threads`]);
    /// a GPU device is returned unchanged.
    pub fn with_training_threads(mut self, threads: usize) -> Self {
        if !self.is_gpu {
            let threads = threads.max(1);
            self.training_threads = Some(threads);
            self.description = cpu_description(threads);
        }
        self
    }

    /// Runs `work` (a training run, a benchmark) on a worker of the pool `flex` computes
    /// in — the run's own pool of [`Self::training_threads`], or rayon's global pool — so
    /// that the thread issuing the ops computes its share of each parallel op; from outside
    /// the pool it would hand every op to the workers and sleep until they finish (the
    /// PatchVAE benchmark: ~2–4 % more images/s on 2 cores, docs/benchmarks.md). On a GPU
    /// `work` runs where it is called.
    pub fn run_in_pool<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        if self.is_gpu {
            return work();
        }
        let own_pool = self
            .training_threads
            .and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("patchwork-train-{i}")).build().ok());
        match own_pool {
            Some(pool) => pool.install(work),
            None => rayon::scope(|_| work()),
        }
    }
}

/// Number of threads `flex` computes with.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn cpu() -> ResolvedDevice {
    ResolvedDevice { device: Device::flex(), description: cpu_description(cpu_threads()), is_gpu: false, training_threads: None }
}

fn cpu_description(threads: usize) -> String {
    format!("cpu: flex ({threads} threads)")
}

/// Picks the device for `choice` (see [`DeviceChoice`]). First points cubecl's kernel
/// cache at its folder ([`kernel_cache::configure`]), on the CPU too: cubecl reads its
/// configuration at the first operation that asks, and some CPU ones do.
pub fn resolve(choice: DeviceChoice) -> Result<ResolvedDevice, String> {
    kernel_cache::configure();
    if choice == DeviceChoice::Cpu {
        return Ok(cpu());
    }
    let adapters = list_adapters();
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let allowed = |t| match choice {
        DeviceChoice::Auto => rank(t) <= 1,
        _ => rank(t) <= 3,
    };
    let best = adapters.iter().filter(|a| allowed(a.kind)).min_by_key(|a| rank(a.kind));
    match best {
        Some(a) => {
            let kind = match a.kind {
                wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(0),
                wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(0),
                wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(0),
                _ => DeviceKind::Cpu,
            };
            // With the `spirv` feature a Vulkan device is pinned to Vulkan, and so to cubecl's
            // SPIR-V compiler (its kernels can be kept in the kernel cache, WGSL ones
            // cannot); otherwise wgpu settles the API and cubecl compiles WGSL.
            let (device, kernels) = match a.backend {
                #[cfg(feature = "spirv")]
                wgpu::Backend::Vulkan => (Device::vulkan(kind), "SPIR-V kernels"),
                _ => (Device::wgpu(kind), "WGSL kernels"),
            };
            let description = format!("gpu: wgpu on {}, {kernels}", a.describe());
            Ok(ResolvedDevice { device, description, is_gpu: true, training_threads: None })
        }
        None if choice == DeviceChoice::Auto => Ok(cpu()),
        None => Err(if adapters.is_empty() {
            "no wgpu adapter found (on Debian/Ubuntu without a GPU, install mesa-vulkan-drivers for a software one)".into()
        } else {
            format!("no usable wgpu adapter among: {}", adapters.iter().map(|a| a.describe()).collect::<Vec<_>>().join("; "))
        }),
    }
}
