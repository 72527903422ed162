//! Unit tests of the task cell: its layout and its waker slot.

use super::*;

/// The cell of a task like a burst's (a closure holding a `u64`, a `u64` result)
/// spans two cache lines: what keeps the header at 104 bytes (the waker slot is
/// boxed, the outcome cell is two bytes, the placement sixteen).
#[test]
#[cfg(target_pointer_width = "64")]
fn a_small_task_fits_two_cache_lines() {
    fn cell_size<F: FnOnce() -> T + Send + 'static, T: Send + 'static>(_: &F) -> usize {
        std::mem::size_of::<Cell<F, T>>()
    }
    let i = 7u64;
    let f = move || i.wrapping_mul(3);
    assert_eq!(std::mem::size_of::<Header>(), 104);
    assert!(cell_size(&f) <= 128, "cell of {} bytes", cell_size(&f));
}

/// A token that blocks registers a waker: the slot is allocated then, and the
/// completion wakes it (a task nobody blocks on has none).
#[test]
fn the_waker_slot_exists_only_once_registered() {
    let (task, ptr) = new(
        || 5u32,
        Meta::new(1, Placement::Free, Weight::Light, OpId::NONE, Times::queued_at(0)),
    );
    // SAFETY: `ptr` is the token's reference, alive until dropped below.
    let header = unsafe { ptr.as_ref() };
    // SAFETY: this thread holds the token: it is the waiting side.
    let has_slot = || unsafe { header.has_waker_slot() };
    assert!(!has_slot());
    let woken = std::sync::Arc::new(Flag::default());
    assert!(!header.register(&std::task::Waker::from(woken.clone())));
    assert!(has_slot());
    assert!(task.run_then(|_, _| {}));
    assert!(woken.0.load(StdOrdering::SeqCst), "the registered waker was not woken");
    assert!(header.is_done());
    // SAFETY: done, and read once.
    assert_eq!(unsafe { Header::read::<u32>(ptr) }, Ok(5));
    // SAFETY: the token's reference, not used again.
    unsafe { Header::drop_ref(ptr) };
}

#[derive(Default)]
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, StdOrdering::SeqCst);
    }
}
