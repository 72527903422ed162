//! A worker with nothing to do: it searches as a spinner for a while, then parks
//! (the protocol is `sleep/README.md`'s), handing its search to a worker on
//! another CPU when an outside thread spin-waits on its own ("Who spins where").

use std::time::Duration;

use super::{Found, WorkerCtx};
use crate::sleep::backoff;
use crate::sync::{fence, park, Ordering, TUNING};

/// The least time between two wakes by which one worker hands its search to another
/// (`WorkerCtx::may_wake_for_hand_off`).
const HAND_OFF_EVERY: Duration = Duration::from_millis(1);

/// A park at least this long means work arrives rarely: the next search after the
/// task that ended it is short (`WorkerCtx::search_rounds`). Four times the full
/// search (about 45 µs on the reference machine), so a stream of tasks whose gaps a
/// full search could bridge never counts as rare.
const LONG_PARK: Duration = Duration::from_micros(200);

impl WorkerCtx {
    /// Searches as a spinner for a while, then parks. Returns work, or `None` when the
    /// worker must exit. The counters it touches are explained in `sleep/README.md`.
    pub(super) fn idle(&self, already_spinning: bool) -> Option<Found> {
        let sleep = &self.shared.sleep;
        let mut spinning = already_spinning || sleep.try_start_spinning();
        let mut parked = false;
        loop {
            if spinning {
                for round in 0..self.search_rounds() {
                    if let Some(found) = self.find_work(false) {
                        self.found_while_spinning();
                        self.streak.set(!parked);
                        return Some(found);
                    }
                    if self.shared.exit_requested() {
                        sleep.stop_spinning();
                        return None;
                    }
                    // Who spins where (sleep/README.md): not on a spinning waiter's CPU
                    // while another worker could search from a CPU of its own.
                    if sleep.shares_cpu_with_waiter(self.index) {
                        if sleep.hand_off(self.index, || self.streak.get() && self.may_wake_for_hand_off()) {
                            break;
                        }
                        // Spinning here would only delay the waiter.
                        crate::sync::yield_now();
                    } else {
                        backoff(round);
                    }
                }
                // Nothing found; the look after `announce_sleep` covers any push
                // that raced with this decrement.
                sleep.stop_spinning();
            }
            sleep.announce_sleep(self.index);
            if self.shared.exit_requested() {
                self.withdraw_sleep();
                return None;
            }
            // Look, but take nothing while announced: a set idle bit must always mean
            // "holds no task", or the quiescence check could end a shutdown early.
            if self.has_work() {
                spinning = !sleep.cancel_sleep(self.index);
                if !spinning {
                    if let Some(found) = self.find_work(false) {
                        self.streak.set(!parked);
                        self.found_after_look();
                        return Some(found);
                    }
                }
                continue;
            }
            if self.shared.is_closing() && sleep.all_idle() && !self.shared.lanes.any_queued() {
                self.shared.terminate();
                self.withdraw_sleep();
                return None;
            }
            self.shared.metrics.parked(self.index);
            let parked_at = crate::clock::now();
            while sleep.is_announced(self.index) {
                park();
            }
            parked = true;
            self.long_park
                .set(crate::clock::between(parked_at, crate::clock::now()) >= LONG_PARK);
            // A notifier cleared our bit and counted us as a spinner. After a wake of
            // every worker (shutdown), most give the role back at once, so a large
            // pool does not have thousands of threads spinning and yielding to each
            // other (issue 10, finding 8). A worker that was the last searcher after
            // all re-checks for leftovers, as any searcher that stops does.
            spinning = true;
            if sleep.too_many_spinning() {
                spinning = false;
                self.found_while_spinning();
            }
        }
    }

    /// How many rounds to search before parking: the full `idle_spin_rounds`, unless
    /// the last task came after a long park (no streak), when work arrives rarely
    /// and a long search would only burn CPU until the next park (`trickle`: one
    /// task every 10 ms). A task found by that short search starts a streak again,
    /// and a park cut short by a wake restores the full search, so tasks arriving
    /// in a stream never see the short one twice in a row.
    fn search_rounds(&self) -> u32 {
        if !self.streak.get() && self.long_park.get() {
            TUNING.quiet_spin_rounds
        } else {
            TUNING.idle_spin_rounds
        }
    }

    /// Rate limit of the hand-off's wakes: true (and the clock restarted) if the
    /// last one was at least `HAND_OFF_EVERY` ago, so two outside waiters on two
    /// CPUs cannot make the workers wake each other in a loop.
    fn may_wake_for_hand_off(&self) -> bool {
        let now = crate::clock::now();
        let last = self.last_hand_off.get();
        if last != 0 && crate::clock::between(last, now) < HAND_OFF_EVERY {
            return false;
        }
        self.last_hand_off.set(now);
        true
    }

    /// Withdraws a sleep announcement on the way out, keeping the counters exact.
    pub(super) fn withdraw_sleep(&self) {
        if !self.shared.sleep.cancel_sleep(self.index) {
            self.shared.sleep.stop_spinning();
        }
    }

    /// The look after announcing found work, and this worker withdrew and took a
    /// task. Pushers that saw it searching before it stopped left their wake-ups to
    /// it (the look is what sees their work), and it took only one of those tasks:
    /// if work is left over, wake the next sleeper, as a last searcher does
    /// (`sleep/README.md`, "Chain wakes"). Loom model 4e.
    fn found_after_look(&self) {
        // ORDERING: SeqCst fence: the searcher's Dekker pair, as in `stop_spinning`
        // (whose fence came before the look already; this one keeps the check
        // correct without relying on that).
        fence(Ordering::SeqCst);
        if self.shared.lanes.has_stealable() {
            self.shared.sleep.notify_one();
        }
    }

    /// A spinner found work: if it was the last spinner and work is left over, wake
    /// the next sleeper (the chain wake of `sleep/README.md`).
    pub(super) fn found_while_spinning(&self) {
        if self.shared.sleep.stop_spinning() && self.shared.lanes.has_stealable() {
            self.shared.sleep.notify_one();
        }
    }
}
