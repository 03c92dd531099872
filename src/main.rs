//! The `tinyunet` command-line tool (native only).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

// Tensors come and go by the megabyte; glibc's malloc hands large blocks back to the kernel on
// every free, so each new tensor page-faults its memory in again. mimalloc keeps and reuses them.
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::run()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
