// What cannot become a task, refused by the macro with a span on the offending token.

use std::borrow::Cow;

#[tokengate::guard(weight = Medium)]
async fn asynchronous(n: u64) -> u64 {
    n
}

#[tokengate::guard]
fn borrowed_arg(name: &str) -> usize {
    name.len()
}

#[tokengate::guard]
fn borrowed_mut_arg(v: &mut Vec<u8>) {
    v.push(1);
}

#[tokengate::guard]
fn impl_trait_arg(f: impl Fn() -> u64 + Send + 'static) -> u64 {
    f()
}

#[tokengate::guard]
fn lifetime_param<'a>(s: Cow<'a, str>) -> usize {
    s.len()
}

#[tokengate::guard]
fn static_refs_are_fine(s: &'static str, t: Cow<'static, str>) -> usize {
    s.len() + t.len()
}

#[tokengate::guard]
unsafe fn not_safe() {}

#[tokengate::guard]
const fn constant() {}

struct S;

impl S {
    #[tokengate::guard]
    fn by_ref(&self) -> u64 {
        1
    }

    #[tokengate::guard]
    fn by_mut(&mut self) -> u64 {
        2
    }

    #[tokengate::guard]
    fn typed_ref(self: &Self) -> u64 {
        3
    }
}

#[tokengate::guard]
struct NotAFunction;

trait Declared {
    #[tokengate::guard]
    fn no_body(self) -> u64;
}

fn main() {}
