//! Serial (the browser's 1-thread build) or parallel loops over independent pieces of work:
//! natively and in the browser's threaded build (the `threads` feature) on rayon's pool.

#[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
use rayon::prelude::*;

/// Elements a parallel element-wise task takes at a time (64 KiB of f32).
#[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
const RUN: usize = 16_384;

/// `[f(0), …, f(count − 1)]`.
pub(super) fn map<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
    return (0..count).into_par_iter().map(f).collect();
    #[cfg(not(any(feature = "threads", not(target_arch = "wasm32"))))]
    return (0..count).map(f).collect();
}

/// A vector of `len` values written `chunk` at a time by `fill(index of the chunk, chunk)`,
/// chunks in parallel with threads. Serially each chunk is zeroed just before it is
/// written (while in cache), not the whole vector first.
pub(super) fn chunks(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let chunk = chunk.max(1);
    #[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
    {
        // Each task zeroes its own chunk before writing it, as the serial loop does: zeroing
        // the whole vector first would be one more pass over memory, on one thread.
        let mut values = Vec::<f32>::with_capacity(len);
        values.spare_capacity_mut()[..len]
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, out)| {
                for v in out.iter_mut() {
                    v.write(0.0);
                }
                // SAFETY: every element of `out` was just initialised, and `MaybeUninit<f32>`
                // has the layout of `f32`.
                let out = unsafe { &mut *(out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
                fill(i, out);
            });
        // SAFETY: the chunks cover all `len` elements, each initialised above.
        unsafe { values.set_len(len) };
        values
    }
    #[cfg(not(any(feature = "threads", not(target_arch = "wasm32"))))]
    {
        let mut values = Vec::with_capacity(len);
        for (i, start) in (0..len).step_by(chunk).enumerate() {
            values.resize((start + chunk).min(len), 0.0);
            fill(i, &mut values[start..]);
        }
        values
    }
}

/// `f` of every element of `x`.
pub(super) fn map_elements(x: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    #[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
    return chunks(x.len(), RUN, |i, out| {
        for (o, &v) in out.iter_mut().zip(&x[i * RUN..]) {
            *o = f(v);
        }
    });
    #[cfg(not(any(feature = "threads", not(target_arch = "wasm32"))))]
    return x.iter().map(|&v| f(v)).collect();
}

/// `f` of every pair of elements of `a` and `b` (as long as `a`).
pub(super) fn zip_elements(
    a: &[f32],
    b: &[f32],
    f: impl Fn(f32, f32) -> f32 + Sync + Send,
) -> Vec<f32> {
    #[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
    return chunks(a.len(), RUN, |i, out| {
        for ((o, &x), &y) in out.iter_mut().zip(&a[i * RUN..]).zip(&b[i * RUN..]) {
            *o = f(x, y);
        }
    });
    #[cfg(not(any(feature = "threads", not(target_arch = "wasm32"))))]
    return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
}

/// A vector of `tasks · per_task` planes of `plane` values: plane `p` belongs to task
/// `task_of(p)` (each task gets `per_task` planes, in the order of `p`), and `fill(task, its
/// planes)` writes them, tasks in parallel with threads; with what each task returned, in task
/// order. Each plane is zeroed by its task just before `fill` (while in cache). For outputs
/// whose planes interleave between tasks, such as a per-channel cascade whose branches are
/// concatenated along channels.
pub(super) fn task_planes<T: Send>(
    tasks: usize,
    per_task: usize,
    plane: usize,
    task_of: impl Fn(usize) -> usize,
    fill: impl Fn(usize, &mut [&mut [f32]]) -> T + Sync + Send,
) -> (Vec<f32>, Vec<T>) {
    let len = tasks * per_task * plane;
    if len == 0 {
        let mut none: Vec<&mut [f32]> = Vec::new();
        return (
            Vec::new(),
            (0..tasks).map(|task| fill(task, &mut none)).collect(),
        );
    }
    let mut values = Vec::<f32>::with_capacity(len);
    let mut groups: Vec<Vec<&mut [std::mem::MaybeUninit<f32>]>> =
        (0..tasks).map(|_| Vec::with_capacity(per_task)).collect();
    for (p, out) in values.spare_capacity_mut()[..len]
        .chunks_exact_mut(plane)
        .enumerate()
    {
        groups[task_of(p)].push(out);
    }
    let run = |(task, planes): (usize, &mut Vec<&mut [std::mem::MaybeUninit<f32>]>)| {
        assert_eq!(
            planes.len(),
            per_task,
            "task {task} got {} planes",
            planes.len()
        );
        let mut planes: Vec<&mut [f32]> = planes
            .iter_mut()
            .map(|out| {
                for v in out.iter_mut() {
                    v.write(0.0);
                }
                // SAFETY: every element of `out` was just initialised, and `MaybeUninit<f32>`
                // has the layout of `f32`.
                unsafe { &mut *(&mut **out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) }
            })
            .collect();
        fill(task, &mut planes)
    };
    #[cfg(any(feature = "threads", not(target_arch = "wasm32")))]
    let results = groups.par_iter_mut().enumerate().map(run).collect();
    #[cfg(not(any(feature = "threads", not(target_arch = "wasm32"))))]
    let results = groups.iter_mut().enumerate().map(run).collect();
    drop(groups);
    // SAFETY: the planes cover all `len` elements (the assert above: every task got its
    // `per_task` planes, `tasks · per_task` in all), each initialised by its task.
    unsafe { values.set_len(len) };
    (values, results)
}
