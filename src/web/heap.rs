//! Growing the wasm heap before the first full-size inference.
//!
//! A wasm module's memory only grows, and each new page costs the browser a fault on first touch:
//! the first CPU inference at 256² grows the heap from ~9 MiB to ~157 MiB and spends ~0.1 s of a
//! 2-core machine on that alone. Reserving the memory during warm-up moves that cost to a moment
//! when nobody waits. The allocator keeps freed memory for later allocations (wasm memory cannot
//! shrink), so the block, once freed, serves the inference's tensors.

/// Heap a CPU inference of one image needs per input pixel, measured in Chromium: wasm memory
/// after one inference grew by 35.4 MiB at 128², 147.8 MiB at 256² and 600 MiB at 512² (2,270 to
/// 2,400 bytes a pixel). A browser test checks that warm-up covers a 256² inference.
pub(super) const INFERENCE_HEAP_BYTES_PER_PIXEL: usize = 2_400;

/// The most warm-up reserves: all of a 256² inference's need, part of a larger one's. A 1024² network
/// needs ~2.4 GB; committing that before anyone has asked for an inference could get a phone's tab
/// killed, while the inference itself, when asked for, takes what it needs.
pub(super) const MAX_RESERVATION: usize = 256 << 20;

/// Bytes in a wasm memory page: the smallest step worth taking.
const WASM_PAGE: usize = 65_536;

/// A block of heap being touched a step at a time; dropping it hands the memory back to the
/// allocator, already grown and touched.
pub(super) struct HeapReservation {
    block: Vec<u8>,
}

impl HeapReservation {
    /// Allocates `bytes` without touching them; None when the allocator cannot get that much (an
    /// inference that large would then fail with a clear error later: warm-up must not abort).
    pub(super) fn new(bytes: usize) -> Option<Self> {
        let mut block = Vec::new();
        block.try_reserve_exact(bytes).ok()?;
        Some(Self { block })
    }

    /// Writes up to `step` more bytes, at least one wasm page (writing, not only allocating, is
    /// what makes the page faults happen now); true once every byte has been.
    pub(super) fn touch(&mut self, step: usize) -> bool {
        let end = self
            .block
            .len()
            .saturating_add(step.max(WASM_PAGE))
            .min(self.block.capacity());
        self.block.resize(end, 0);
        end == self.block.capacity()
    }
}
