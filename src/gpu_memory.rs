//! What the GPU backend's buffer pools hold, and giving back what they hold for nothing.
//!
//! burn's GPU backend (burn-cubecl, on wgpu) allocates tensors from cubecl's memory pools: a
//! buffer a tensor no longer needs stays in its pool for the next tensor of its size, so after a
//! fine-tune the pools still hold the run's activations, hundreds of MiB of GPU memory that
//! inference never uses. [`release_gpu_memory`] hands the empty buffers back to the driver.
//!
//! The figures come from burn's device API (`Device::memory_pool_usage`, which sums cubecl's
//! `MemoryReport` over every stream and pool of the device), so this module names no backend: a
//! device without pools (the CPU's burn-flex) has no figures.
//!
//! During training the pools would grow past what a pass needs, for two reasons. They keep a
//! freed buffer for a later tensor (three 256² steps held 936 MiB on SwiftShader where one needs
//! ~410). And in the browser every pool hands out whole buffers (see below) and gives a small
//! tensor any free buffer at least its size: the gradients the backward makes while its
//! activations are being freed, and the weights and Adam moments the update makes from them,
//! land in buffers of up to megabytes each and pin them (after a step 7 MiB of live tensors held
//! 93–195 MiB, growing step by step). [`PassPools`] releases the pools after every pass of a
//! training step, and the trainer moves the gradients into buffers of their own size at that
//! moment (`train::compact`), so that what stays live between passes is what it needs to be.
//!
//! Why no peak from the report: cubecl's high-water marks count pages, not bytes. A pool of
//! one page size (`MemoryPoolKind::Sliced`) turns pages into bytes, but in the browser every
//! pool is `Exclusive` (cubecl builds wasm with exclusive pages only: one buffer per allocation,
//! in size buckets whose pages differ in size), so no byte peak can be had from it there. A
//! run's peak is the most its readings saw instead: after each pass ([`PassPools`], before any
//! release) and each unit of work ([`GpuMemoryWatch`]). A pool frees a page only after it sat
//! unused through thousands of allocations or on an explicit release, so what a pass needed is
//! still held when it returns.

use burn::prelude::*;
use serde::Serialize;

/// One reading of a device's buffer pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuMemory {
    /// Bytes of GPU buffers the pools hold from the driver, in use or kept for reuse.
    pub reserved_bytes: u64,
    /// Bytes the live tensors use (without padding): at most `reserved_bytes`.
    pub in_use_bytes: u64,
}

/// What `device`'s buffer pools hold now; `None` for a device without pools (the CPU).
/// On a GPU it also submits the work queued so far (not waiting for it).
pub fn gpu_memory(device: &Device) -> Option<GpuMemory> {
    device.memory_pool_usage().map(|usage| GpuMemory {
        reserved_bytes: usage.bytes_reserved,
        in_use_bytes: usage.bytes_in_use,
    })
}

/// Gives the buffers `device`'s pools hold for no tensor back to the driver, and says what the
/// pools hold after; `None` for a device without pools. What live tensors use stays, so the
/// figure never drops below `in_use_bytes`. The pools grow again as later work needs.
pub fn release_gpu_memory(device: &Device) -> Option<GpuMemory> {
    device.memory_cleanup();
    gpu_memory(device)
}

/// Keeps a training run's pools to what its live tensors need between passes: after each pass (a
/// micro-batch's forward and backward, or the optimiser's update) it reads them, then gives back
/// every buffer no tensor uses, so the next pass starts from the weights, the optimiser's state
/// and the gradients alone. Releasing costs the next pass its buffers' creation, yet natively on
/// the browser's kind of pools the steps got faster with it (fewer, fuller buffers:
/// docs/BENCHMARKS.md). On the CPU there are no pools and nothing to keep.
#[derive(Debug)]
pub struct PassPools {
    device: Device,
    /// The most reserved after any pass, before its release.
    peak: u64,
}

impl PassPools {
    /// Keeps `device`'s pools, first emptying them of what earlier work left unused; `None` for
    /// a device without pools. The buffers an inference left are of its own sizes, and the
    /// first training pass took more beside them than from empty pools (SwiftShader, 256²:
    /// 577 MiB after one inference, 330 MiB after a release).
    pub fn new(device: &Device) -> Option<Self> {
        let now = release_gpu_memory(device)?.reserved_bytes;
        Some(Self {
            device: device.clone(),
            peak: now,
        })
    }

    /// A pass has ended (its graph and temporaries dropped): reads the pools into the peak and
    /// releases their unused buffers. Reading them also runs the work queued so far.
    pub fn after_pass(&mut self) {
        self.settle();
        self.device.memory_cleanup();
    }

    /// Reads the pools, which runs the work queued so far, without releasing them.
    pub fn settle(&mut self) {
        if let Some(now) = gpu_memory(&self.device) {
            self.peak = self.peak.max(now.reserved_bytes);
        }
    }

    /// The most the pools held at the end of any pass so far.
    pub fn peak_bytes(&self) -> u64 {
        self.peak
    }
}

/// A fine-tune's GPU memory, in bytes of buffers the device's pools held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunGpuMemory {
    /// When the run started (what inference and earlier work left).
    pub before_bytes: u64,
    /// The most held at the end of any of the run's units of work (a training step, one
    /// held-back pair scored), its start included.
    pub peak_bytes: u64,
    /// When the run ended, before the release.
    pub after_run_bytes: u64,
    /// After [`release_gpu_memory`]: what the weights and the segmenter's other live tensors
    /// need.
    pub after_release_bytes: u64,
}

/// Follows one run's GPU memory: made at its start, sampled after each unit of work, ended with
/// a release.
#[derive(Debug)]
pub struct GpuMemoryWatch {
    device: Device,
    before: u64,
    peak: u64,
}

impl GpuMemoryWatch {
    /// Starts watching `device`; `None` for a device without pools.
    pub fn new(device: Device) -> Option<Self> {
        let before = gpu_memory(&device)?.reserved_bytes;
        Some(Self {
            device,
            before,
            peak: before,
        })
    }

    /// Takes a reading into the peak, with `passes`, the most the trainer's [`PassPools`] saw
    /// at the end of a pass (before it released the pools).
    pub fn sample(&mut self, passes: Option<u64>) {
        if let Some(now) = gpu_memory(&self.device) {
            self.peak = self.peak.max(now.reserved_bytes);
        }
        self.peak = self.peak.max(passes.unwrap_or(0));
    }

    /// The run is over: reads what it left, gives the unused buffers back, reads again.
    pub fn release(self) -> RunGpuMemory {
        let after_run = gpu_memory(&self.device).map_or(self.peak, |m| m.reserved_bytes);
        let after_release =
            release_gpu_memory(&self.device).map_or(after_run, |m| m.reserved_bytes);
        RunGpuMemory {
            before_bytes: self.before,
            peak_bytes: self.peak.max(after_run),
            after_run_bytes: after_run,
            after_release_bytes: after_release,
        }
    }
}
