// Arguments and results that cannot move into a task: the generated assertions
// report them on the argument's (or result's) type, naming it.

use std::rc::Rc;

#[tokengate::guard]
fn rc_argument(shared: Rc<u64>, n: u64) -> u64 {
    *shared + n
}

#[tokengate::guard]
fn rc_result(n: u64) -> Rc<u64> {
    Rc::new(n)
}

struct NotSend(*const u8);

impl NotSend {
    #[tokengate::guard]
    fn consume(self) -> usize {
        self.0 as usize
    }
}

#[tokengate::guard]
fn generic_not_static<T: Send>(x: T) -> usize {
    std::mem::size_of_val(&x)
}

// A lifetime elided in a path cannot be seen by the macro: the borrow checker names
// the argument instead.
#[tokengate::guard]
fn elided_lifetime(s: std::borrow::Cow<str>) -> usize {
    s.len()
}

static NOT_A_POOL: u32 = 0;

#[tokengate::guard(on = NOT_A_POOL)]
fn wrong_pool() -> u64 {
    1
}

fn main() {}
