//! How deep a worker's stack may get (issue 10, finding 4).
//!
//! Waits nest: a worker blocked in `Token::wait` runs other tasks inside the wait, and
//! a `join` runs its halves inside the caller. Each level costs a few hundred bytes of
//! the worker's stack, so a long enough chain would overflow it and abort the process.
//! A [`StackFloor`] marks the depth below which nothing more may nest: a wait or a
//! `join` that would start below it panics (caught as the task's error), and a wait
//! already running there only blocks instead of running other work.

/// The lowest stack address nesting may reach on one worker thread.
#[derive(Clone, Copy)]
pub(crate) struct StackFloor(usize);

/// The stack kept free for whatever runs at the deepest level allowed: an eighth of
/// the stack, at least 64 KiB (unwinding and a panic message need some).
fn reserve(stack_size: usize) -> usize {
    (stack_size / 8).max(64 * 1024)
}

/// How much more room a wait or `join` needs to *start* than a running wait needs to
/// go on helping: far more than the frames between `wait_until_done` and
/// `help_until`. So a wait that starts can always help once inside, and one that could
/// not panics before it starts, instead of blocking where only it could help.
const STARTING_SLACK: usize = 16 * 1024;

/// An address in the caller's stack frame: how deep the stack is right now. The
/// address of a local, taken without `black_box`: the cast keeps the slot in the
/// frame, and no store to it is needed (one `lea` instead of a store and a reload).
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

impl StackFloor {
    /// The floor for the calling thread, whose stack is `stack_size` bytes and grows
    /// down from about here (called at the top of the worker thread's body).
    #[inline(always)]
    pub(crate) fn here(stack_size: usize) -> StackFloor {
        StackFloor(stack_pointer().saturating_sub(stack_size) + reserve(stack_size))
    }

    /// True while the stack is more than `extra` bytes above the floor. Miri gives
    /// every local its own allocation, so stack addresses say nothing about depth
    /// there, and the check always passes.
    #[inline(always)]
    fn room_above(self, extra: usize) -> bool {
        cfg!(miri) || stack_pointer() > self.0 + extra
    }

    /// True while a running wait may still run other work nested in it.
    #[inline(always)]
    pub(crate) fn has_room(self) -> bool {
        self.room_above(0)
    }

    /// True while a new wait or `join` may start.
    #[inline(always)]
    pub(crate) fn may_start_waiting(self) -> bool {
        self.room_above(STARTING_SLACK)
    }
}
