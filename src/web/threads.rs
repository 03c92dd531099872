//! The thread pool of the multi-threaded CPU build (the `threads` feature): rayon, which burn-flex
//! parallelises its convolutions, matrix products, pooling and reductions with (and so do our own
//! kernels, `kernels/flex.rs`), on Web Workers that share this module's memory.
//!
//! What wasm-bindgen-rayon does, without its JavaScript: that crate's worker helper imports the
//! module by a bare directory path (bundlers only) or, in its `no-bundler` form, starts each Worker
//! from a `blob:` URL, which the demo's CSP (`worker-src 'self'`) refuses. The package starts the
//! Workers itself (`pkg/threads.js`, `pkg/thread-worker.js`), from a file of its own that
//! bundlers see through a literal `new URL(…, import.meta.url)`.
//!
//! The order: the package starts one Worker per pool thread; each instantiates this module on the
//! same memory and calls [`run_pool_thread`], which waits for a pool thread to run (blocking, as a
//! Worker may). Once all are waiting, the hosting thread calls [`start_thread_pool`], which builds
//! rayon's global pool with a spawn handler that hands each pool thread's `ThreadBuilder` to one
//! of them, and returns when every pool thread has started (rayon waits for that).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};

use rayon::ThreadBuilder;
use wasm_bindgen::prelude::*;

/// Pool threads on their way from the spawn handler to the Workers waiting to run them.
struct Handover {
    queue: Sender<ThreadBuilder>,
    waiting: Mutex<Receiver<ThreadBuilder>>,
}

fn handover() -> &'static Handover {
    static HANDOVER: OnceLock<Handover> = OnceLock::new();
    HANDOVER.get_or_init(|| {
        let (queue, waiting) = channel();
        Handover {
            queue,
            waiting: Mutex::new(waiting),
        }
    })
}

/// The pool's size once it is started.
static POOL_THREADS: OnceLock<usize> = OnceLock::new();

/// Builds rayon's global pool of `threads` threads, run by the Workers that are waiting in
/// `runPoolThread` (there must be `threads` of them: the package starts them first,
/// `pkg/threads.js`); returns once they all run. Fails when called twice.
#[wasm_bindgen(js_name = startThreadPool)]
pub fn start_thread_pool(threads: usize) -> Result<(), JsValue> {
    if threads == 0 {
        return Err(JsValue::from_str(
            "config: the thread pool needs at least one thread",
        ));
    }
    let queue = handover().queue.clone();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tinyunet pool thread {i}"))
        .spawn_handler(move |thread| {
            queue
                .send(thread)
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .build_global()
        .map_err(|e| JsValue::from_str(&format!("backend: the thread pool did not start: {e}")))?;
    POOL_THREADS
        .set(threads)
        .map_err(|_| JsValue::from_str("backend: the thread pool was already started"))
}

/// Waits for a pool thread and runs it on this Worker, never returning while the page lives.
/// Each of the Workers the package starts calls it once, as soon as it has the module.
#[wasm_bindgen(js_name = runPoolThread)]
pub fn run_pool_thread() -> Result<(), JsValue> {
    let thread = handover()
        .waiting
        .lock()
        .map_err(|_| JsValue::from_str("backend: the thread pool's queue is poisoned"))?
        .recv()
        .map_err(|_| JsValue::from_str("backend: no pool thread came"))?;
    thread.run();
    Ok(())
}

/// The threads the CPU kernels run on: the pool's size once it is started, else 1.
#[wasm_bindgen(js_name = poolThreads)]
pub fn pool_threads() -> usize {
    POOL_THREADS.get().copied().unwrap_or(1)
}

/// `[module, memory]`: this module and its shared memory, for the pool's Workers to instantiate
/// the same module on.
#[wasm_bindgen(js_name = threadShare)]
pub fn thread_share() -> js_sys::Array {
    js_sys::Array::of2(&wasm_bindgen::module(), &wasm_bindgen::memory())
}

/// A value moved to a pool thread and back while the thread that owns it waits (see [`compute`]).
struct Lent<T>(T);

// SAFETY: a `Lent` crosses to one pool thread and back inside `rayon::scope`, which returns only
// after the closure holding it has finished; the lending thread is blocked the whole time, so the
// value (a future borrowing the segmenter, or its output) is never used by two threads at once,
// and rayon's latch orders the accesses. It carries no JavaScript values (wasm-bindgen's are
// per-thread): the web layer converts those before and after.
unsafe impl<T> Send for Lent<T> {}

impl<T> Lent<T> {
    fn into_inner(self) -> T {
        self.0
    }
}

/// Runs `work` (the core's, no JavaScript values in it) to completion on one of the pool's threads
/// while this thread waits, so that the network's many parallel operations are shared out by
/// rayon's work stealing among the pool's threads instead of each being handed over from outside
/// the pool (two wake-ups of other Workers per operation: 30–40 % of an inference at 256² with a
/// pool of 1). Before the pool is started it runs here. The core's CPU futures never wait on
/// anything (burn-flex reads back at once), so blocking on one completes it.
pub(super) async fn compute<F: Future>(work: F) -> F::Output {
    if POOL_THREADS.get().is_none() {
        return work.await;
    }
    let work = Lent(work);
    rayon::scope(move |_| Lent(pollster::block_on(work.into_inner()))).into_inner()
}
