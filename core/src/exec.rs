//! Caller-supplied parallelism.
//!
//! The core never spawns threads. Kernels describe their work as `n` independent tasks,
//! numbered `0..n`, and hand a task function to an [`Executor`]. Each task writes a
//! disjoint part of the output and reads only inputs that no task writes, so the result is
//! the same bits whatever order or thread runs the tasks: the executor only decides *who*
//! computes, never *what*.

/// Runs independent tasks, possibly concurrently.
pub trait Executor: Sync {
    /// Calls `task(i)` exactly once for every `i` in `0..n`, in any order, possibly on
    /// several threads at once, and returns when all calls have returned.
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync));

    /// How many threads this executor may use (a hint for choosing task sizes; results
    /// never depend on it).
    fn threads(&self) -> usize {
        1
    }
}

/// Runs every task on the calling thread, in index order.
#[derive(Debug, Default, Clone, Copy)]
pub struct Serial;

impl Executor for Serial {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            task(i);
        }
    }
}

/// A raw mutable pointer that tasks may share, for writing disjoint parts of one buffer.
///
/// The core's kernels use it to let tasks running under an [`Executor`] write their own
/// slice of an output buffer. Whoever creates sub-slices through it must guarantee that no
/// two tasks touch the same elements.
#[derive(Debug, Clone, Copy)]
pub struct SharedMut<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the pointer is only dereferenced through `slice`, whose contract makes callers
// guarantee disjoint access; T: Send makes moving values across threads sound.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// Wraps a mutable slice.
    pub fn new(slice: &mut [T]) -> Self {
        Self {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
        }
    }

    /// The wrapped slice's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the wrapped slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A mutable view of `start..start + len`.
    ///
    /// # Safety
    /// The range must lie inside the wrapped slice, the slice must outlive the returned
    /// reference, and no other live reference (from this or any other task) may overlap
    /// the range while the returned one is used.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        debug_assert!(start + len <= self.len);
        // SAFETY: guaranteed by the caller (see above).
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}
