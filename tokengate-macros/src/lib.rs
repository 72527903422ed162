//! The `#[guard]` attribute of [tokengate](https://docs.rs/tokengate): it turns an
//! ordinary synchronous function into one whose calls return `tokengate::Token`s.
//!
//! Use it through the `tokengate` crate (`#[tokengate::guard(...)]`, feature `macros`,
//! on by default), whose documentation of `guard` lists every tag with a tested
//! example. This crate holds only the code generation.
//!
//! - `args.rs`: the tags and their refusals.
//! - `check.rs`: what the signature may not be (async, borrowed receivers, borrows).
//! - `expand.rs`: the generated guarded function, its `_inline` twin, and the static
//!   assertions that name an argument which cannot move into a task.

mod args;
mod check;
mod expand;

use proc_macro::TokenStream;

/// # Summary
///
/// Makes every call of the decorated function return a `tokengate::Token` of its
/// result, spawned as one call of an op declared once, in a `static`.
///
/// ```text
/// #[tokengate::guard(weight = Medium)]
/// fn prime_check(n: u64) -> bool { ... }
/// let t: tokengate::Token<bool> = prime_check(7919);
/// ```
///
/// Tags: `op = "name"`, `weight = Light|Medium|Heavy`,
/// `storage_speed = Slow|Moderate|Fast|Insane`, `sticky_anchor = "anchor"`,
/// `external_calls = ["child_op", ...]`, `deadline = "50ms"` (units ns, us, ms, s),
/// `on = path::to::POOL`. The original body stays callable as `<name>_inline`.
/// Use it as `tokengate::guard`; its documentation there has a tested example of
/// every tag.
#[proc_macro_attribute]
pub fn guard(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(attr.into(), item.into()).into()
}
