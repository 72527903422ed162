//! Waiting: what a blocked `wait()` does, on a worker (help with other work, within
//! the pool's [`HelpPolicy`] and the stack floor) and on any other thread (spin, then
//! park). The worker loop itself is in `mod.rs`.

use std::time::Instant;

use std::ptr::NonNull;

use super::{current_task, with_ctx, WorkerCtx};
use crate::builder::HelpPolicy;
use crate::lanes::{Found, INJECTOR_EVERY};
use crate::op::Weight;
use crate::sleep::{backoff, thread_waker};
use crate::sync::{park, park_timeout, TUNING};
use crate::task::Header;

impl WorkerCtx {
    /// `Token::wait` on this worker: run other work until `header` is done.
    ///
    /// What it may run is the pool's [`HelpPolicy`]. Two bounds hold whatever the
    /// policy (issue 10):
    ///
    /// - **Deadline**: the deadline is checked before each task it helps with, so a
    ///   timed wait returns late by at most the running time of the one task it
    ///   started last before the deadline (and what that task runs nested).
    /// - **Stack**: once the stack is below its floor (`stack.rs`), nothing more nests here:
    ///   the wait only blocks. Neither caller gets here that deep: a `Token::wait`
    ///   (`wait_until_done`) and a `join` (`join_on`) both panic before they start
    ///   unless the stack has `STARTING_SLACK` to spare, far more than the frames down
    ///   to this one, so a wait that starts always helps. The blocking branch is a
    ///   backstop; it could not help a stack job that a sweep moved to the injector.
    ///
    /// While the pool is being dropped, work found here is resolved `Shutdown`
    /// instead of run (queued tasks do not run then), which still resolves the
    /// awaited token if it was among them.
    pub(super) fn help_until(&self, header: &Header, deadline: Option<Instant>) -> bool {
        let may_help = self.has_stack_room();
        let own_only = self.help_policy == HelpPolicy::OwnLanes;
        let mut round = 0;
        loop {
            if header.is_done() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return header.is_done();
            }
            if may_help {
                if let Some(found) = self.find_help(own_only) {
                    self.run_or_discard(found, Some(header));
                    round = 0;
                    continue;
                }
            }
            if round < TUNING.wait_spins() {
                backoff(round);
                round += 1;
                continue;
            }
            let done = header.register(&thread_waker());
            if !may_help {
                // Announced nowhere: a worker that may not help needs no wake for work.
                if !done && !header.is_done() {
                    park_until(deadline);
                }
                round = 0;
                continue;
            }
            let sleep = &self.shared.sleep;
            let work = if own_only {
                // Only pinned work from elsewhere can reach our own lanes now.
                sleep.announce_pinned_wait(self.index);
                self.shared
                    .lanes
                    .has_own_work(self.index, &self.local, &self.heavy_access(true))
            } else {
                sleep.announce_help(self.index);
                self.shared
                    .lanes
                    .has_work_for(self.index, &self.local, &self.heavy_access(true))
            };
            if !done && !work && !header.is_done() {
                park_until(deadline);
            }
            let still_announced = if own_only {
                sleep.cancel_pinned_wait(self.index)
            } else {
                sleep.cancel_help(self.index)
            };
            if !still_announced {
                // Claimed by a notifier, which counted us as a searcher.
                self.found_while_spinning();
            }
            round = 0;
        }
    }

    /// The waiter's pop: a task this worker spawned and now waits on is on top of
    /// its weight's own lane, unless something was pushed after it or it was stolen
    /// (fork-join through tokens), so an untimed wait pops that lane once instead of
    /// making the general search. Whatever the pop finds runs as help (any task on
    /// an own lane may), or, if it is the awaited task, through the waiter's
    /// shortcut. Not for `Heavy` (a pop there needs a permit) nor pinned tasks
    /// (queued on the pinned lane). The search's order still holds where it matters:
    /// queued pinned work (only this worker may run it) and the search's turn for
    /// the injector (every 61st, so outside work is not starved by a task that
    /// spawns and waits in a loop) both go the general way. Returns whether it ran
    /// (or discarded) a task.
    #[inline]
    pub(super) fn pop_waited(&self, header: &Header) -> bool {
        let meta = &header.meta;
        if meta.weight == Weight::Heavy || meta.placement.is_pinned() || !self.has_stack_room() {
            return false;
        }
        // `OwnLanes` waiters never take from the injector (nor advance the tick).
        if self.help_policy != HelpPolicy::OwnLanes {
            let tick = self.tick.get().wrapping_add(1);
            if tick % INJECTOR_EVERY == 0 {
                return false;
            }
            self.tick.set(tick);
        }
        if self.shared.lanes.may_have_pinned(self.index, &self.local) {
            return false;
        }
        let Some(task) = self.taking(|| self.local.pop_weight(meta.weight)) else {
            return false;
        };
        self.run_or_discard(Found::own(task), Some(header));
        true
    }

    /// Work a waiting worker may run under its help policy.
    fn find_help(&self, own_only: bool) -> Option<Found> {
        if own_only {
            self.taking(|| {
                self.shared
                    .lanes
                    .find_own(self.index, &self.local, &self.heavy_access(true))
            })
        } else {
            self.find_work(true)
        }
    }

    /// True while the stack has room for more nesting (`stack.rs`).
    fn has_stack_room(&self) -> bool {
        self.stack.has_room()
    }

    /// True while the stack has room for another nested wait or `join` (`stack.rs`).
    pub(crate) fn may_start_waiting(&self) -> bool {
        self.stack.may_start_waiting()
    }
}

/// Blocks the calling thread until `header` is done or `deadline` passes. Returns
/// whether it is done. On a worker this runs other work meanwhile.
pub(crate) fn wait_until_done(header: &Header, deadline: Option<Instant>) -> bool {
    if header.is_done() {
        return true;
    }
    with_ctx(|ctx| match ctx {
        Some(ctx) => {
            if current_task() == Some(NonNull::from(header)) {
                // Issue 10, finding 7: it would wait for itself forever.
                panic!("tokengate: a task waited on its own token; it would wait for itself forever");
            }
            if !ctx.may_start_waiting() {
                // Issue 10, finding 4: one more nested level could overflow the stack.
                panic!(
                    "tokengate: Token::wait nested too deeply for the worker's stack; \
                     raise Builder::stack_size or wait less deeply"
                );
            }
            if deadline.is_none() && ctx.pop_waited(header) && header.is_done() {
                return true;
            }
            ctx.help_until(header, deadline)
        }
        None => block_until(header, deadline),
    })
}

/// An ordinary thread's wait: spin briefly (a result often arrives within
/// microseconds), then register an unparking waker and park.
fn block_until(header: &Header, deadline: Option<Instant>) -> bool {
    // Who spins where (sleep/README.md): workers keep their searches off this CPU
    // while this thread spins here.
    let noted = crate::sleep::note_waiter();
    let done = spin_until(header, deadline);
    crate::sleep::clear_waiter(noted);
    if let Some(done) = done {
        return done;
    }
    if header.register(&thread_waker()) {
        return true;
    }
    loop {
        if header.is_done() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return header.is_done();
        }
        park_until(deadline);
    }
}

/// The spinning part of `block_until`: whether `header` is done, or `None` if the
/// spin budget ran out first.
fn spin_until(header: &Header, deadline: Option<Instant>) -> Option<bool> {
    for round in 0..TUNING.wait_spins() {
        if header.is_done() {
            return Some(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(false);
        }
        backoff(round);
    }
    None
}

fn park_until(deadline: Option<Instant>) {
    match deadline {
        None => park(),
        Some(d) => park_timeout(d.saturating_duration_since(Instant::now())),
    }
}
