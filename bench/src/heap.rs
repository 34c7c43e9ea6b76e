//! Live heap bytes of bench-server, counted by its global allocator.
//!
//! Resident memory (`VmRSS`) is what the idle targets are held to, but it moves by
//! about ±130 B per session from run to run: it counts pages, and whether a small
//! allocation lands in a page that a connection's 8 KiB buffers already touched
//! depends on the heap's layout. The bytes the process has allocated and not yet
//! freed do not move: `bench-server --count-heap` counts them, and `GET /heap`
//! answers the count, so an idle run can report both.
//!
//! Counting is off unless [`enable`]d, and then one relaxed atomic addition per
//! allocation and per free; the throughput runs leave it off.
//!
//! The memory comes from glibc's malloc, as in a plain Rust application, or from
//! jemalloc when the process starts with `BENCH_ALLOCATOR=jemalloc` in its
//! environment (`scripts/bench` runs the fan-out scenarios so, with jemalloc's
//! transparent huge pages: bench/NOTES.md, "Fan-out"). The choice is made at the
//! first allocation, before any other thread exists, and never changes, so every
//! block goes back to the allocator it came from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

use tikv_jemallocator::Jemalloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting began: blocks allocated before
/// and freed after count negatively, so only differences between two readings mean
/// anything.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// glibc's malloc or jemalloc (see the module's documentation), counting live bytes
/// once [`enable`]d.
pub struct CountingAllocator;

#[inline]
fn count(bytes: usize, sign: i64) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(
            sign * i64::try_from(bytes).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// Which allocator: not chosen yet, glibc's, jemalloc.
static BACKEND: AtomicU8 = AtomicU8::new(UNCHOSEN);
const UNCHOSEN: u8 = 0;
const SYSTEM: u8 = 1;
const JEMALLOC: u8 = 2;

/// Whether the memory comes from jemalloc, chosen at the first call.
#[inline]
fn jemalloc() -> bool {
    let mut backend = BACKEND.load(Ordering::Relaxed);
    if backend == UNCHOSEN {
        // SAFETY: a NUL-terminated name; getenv allocates nothing (this runs inside
        // the allocator) and its result is only read, at once.
        let value = unsafe { libc::getenv(c"BENCH_ALLOCATOR".as_ptr()) };
        // SAFETY: a non-null result is a NUL-terminated string of the environment.
        let chosen = !value.is_null()
            && unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes() == b"jemalloc";
        backend = if chosen { JEMALLOC } else { SYSTEM };
        BACKEND.store(backend, Ordering::Relaxed);
    }
    backend == JEMALLOC
}

/// Counts a block of `layout` that the allocator handed out, if it did.
#[inline]
fn allocated(ptr: *mut u8, layout: Layout) -> *mut u8 {
    if !ptr.is_null() {
        count(layout.size(), 1);
    }
    ptr
}

// SAFETY: every call is passed on unchanged to the allocator chosen at the first
// call, the same for every call; the counting around it neither allocates nor
// touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are the allocator's.
        let ptr = if jemalloc() {
            unsafe { Jemalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        };
        allocated(ptr, layout)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let ptr = if jemalloc() {
            unsafe { Jemalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        };
        allocated(ptr, layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this `layout`, that is from the
        // allocator chosen at the first call.
        if jemalloc() {
            unsafe { Jemalloc.dealloc(ptr, layout) };
        } else {
            unsafe { System.dealloc(ptr, layout) };
        }
        count(layout.size(), -1);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`; the allocator gets what it handed out.
        let new = if jemalloc() {
            unsafe { Jemalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        };
        if !new.is_null() {
            count(new_size, 1);
            count(layout.size(), -1);
        }
        new
    }
}

/// Starts counting.
pub fn enable() {
    COUNTING.store(true, Ordering::Relaxed);
}

/// Whether counting is on.
pub fn enabled() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// Bytes allocated minus bytes freed since counting began.
pub fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_allocated_and_freed_once_enabled() {
        let allocator = CountingAllocator;
        let layout = Layout::from_size_align(1000, 8).expect("layout");
        enable();
        // Other tests of this binary allocate through System, not through this
        // allocator (it is not the global one here): only these calls count.
        let before = live();
        // SAFETY: a non-zero layout; each block is freed once with its layout.
        unsafe {
            let a = allocator.alloc(layout);
            assert!(!a.is_null());
            assert_eq!(live() - before, 1000);
            let b = allocator.realloc(a, layout, 3000);
            assert!(!b.is_null());
            assert_eq!(live() - before, 3000);
            allocator.dealloc(b, Layout::from_size_align(3000, 8).expect("layout"));
        }
        assert_eq!(live() - before, 0);
    }
}
