//! Checks of the decorated function's signature that the macro can make by itself,
//! before type checking: each refusal carries the span of the offending token.
//!
//! What needs types (is an argument `Send`? is a generic `'static`?) is checked by
//! the generated code instead (`expand.rs`, "Static assertions").

use syn::visit::Visit;
use syn::{Error, FnArg, GenericParam, Lifetime, Result, Signature, Type};

/// Refuses what cannot become a task: `async`, `const`, `unsafe` and `extern` fns,
/// variadics, lifetime parameters, borrowed receivers, and argument or result types
/// that borrow (`&T`, non-`'static` lifetimes) or cannot be named (`impl Trait`).
/// Every problem found is reported, each with its own span.
pub fn signature(sig: &Signature) -> Result<()> {
    let mut errors: Vec<Error> = Vec::new();
    let name = &sig.ident;
    if let Some(a) = &sig.asyncness {
        errors.push(Error::new(
            a.span,
            format!(
                "`#[tokengate::guard]` cannot decorate `async fn {name}`: decorate a synchronous function \
                 (its token can be `.await`ed by the caller)"
            ),
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(Error::new(
            c.span,
            "`#[tokengate::guard]` cannot decorate a `const fn`: spawning a task is not const",
        ));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(Error::new(
            u.span,
            "`#[tokengate::guard]` cannot decorate an `unsafe fn`: its caller's obligations cannot follow the call into a task",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            "`#[tokengate::guard]` cannot decorate an `extern` fn",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(Error::new_spanned(
            v,
            "`#[tokengate::guard]` cannot decorate a variadic fn",
        ));
    }
    for param in &sig.generics.params {
        if let GenericParam::Lifetime(l) = param {
            errors.push(Error::new_spanned(
                &l.lifetime,
                format!(
                    "`{name}` has the lifetime parameter `{}`: the arguments of a guarded function move into a \
                     task that outlives the call, so they cannot borrow; take owned (`'static`) arguments",
                    l.lifetime
                ),
            ));
        }
    }
    for (i, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                let borrowed = r.reference.is_some() || matches!(&*r.ty, Type::Reference(_));
                if borrowed {
                    errors.push(Error::new_spanned(
                        r,
                        format!(
                            "the guarded method `{name}` borrows `self`: the call runs in a task that outlives the \
                             borrow; take `self` by value or `self: Arc<Self>`"
                        ),
                    ));
                } else if r.colon_token.is_some() {
                    borrows(&r.ty, "the receiver `self`", &mut errors);
                }
            }
            FnArg::Typed(t) => {
                let what = match &*t.pat {
                    syn::Pat::Ident(p) => format!("argument `{}`", p.ident),
                    _ => format!("argument {}", i + 1),
                };
                borrows(&t.ty, &what, &mut errors);
            }
        }
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        borrows(ty, "the result", &mut errors);
    }
    match errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    }) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reports every borrow (`&T`, `&mut T`, a non-`'static` lifetime) and every
/// `impl Trait` in `ty`, which belongs to `what` ("argument `n`", "the result").
fn borrows(ty: &Type, what: &str, errors: &mut Vec<Error>) {
    struct Finder<'e> {
        what: &'e str,
        errors: &'e mut Vec<Error>,
        /// A reference reports its lifetime itself; the visitor must not report it twice.
        skip: Option<Lifetime>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            let is_static = r.lifetime.as_ref().is_some_and(|l| l.ident == "static");
            if !is_static {
                self.errors.push(Error::new_spanned(
                    r,
                    format!(
                        "{} borrows (`&`): the arguments and result of a guarded function move between threads \
                         and must be `Send + 'static`; use an owned type (`String`, `Vec<T>`, `Arc<T>`, ...)",
                        self.what
                    ),
                ));
                self.skip = r.lifetime.clone();
            }
            syn::visit::visit_type_reference(self, r);
        }
        fn visit_lifetime(&mut self, l: &'ast Lifetime) {
            if self.skip.take().as_ref() == Some(l) || l.ident == "static" {
                return;
            }
            self.errors.push(Error::new_spanned(
                l,
                format!(
                    "{} has the non-`'static` lifetime `{l}`: the arguments and result of a guarded function \
                     move between threads and must be `Send + 'static`",
                    self.what
                ),
            ));
        }
        fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
            if self.what != "the result" {
                self.errors.push(Error::new_spanned(
                    t,
                    format!(
                        "{} has an `impl Trait` type: name it as a generic parameter instead, \
                         e.g. `fn f<F: Trait + Send + 'static>(x: F)`",
                        self.what
                    ),
                ));
            }
            syn::visit::visit_type_impl_trait(self, t);
        }
    }
    Finder {
        what,
        errors,
        skip: None,
    }
    .visit_type(ty);
}
