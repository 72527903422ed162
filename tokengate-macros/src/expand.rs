//! Code generation: one decorated function becomes two.
//!
//! ```text
//! #[guard(weight = Medium)]            /// docs
//! pub fn f(n: u64) -> bool { body }    pub fn f(n: u64) -> ::tokengate::Token<bool> {
//!                                          static OP: LazyLock<Op<Free>> = LazyLock::new(|| Op::new("f")...);
//!                                          <one assertion per argument>
//!                                          <local trait __TokengateResult, local fn __tokengate_spawn>
//!                                          __tokengate_spawn(&*OP, move || f_inline(n))
//!                                      }
//!                                      /// Runs the body of `f` inline ...
//!                                      pub fn f_inline(n: u64) -> bool { body }
//! ```
//!
//! `__tokengate_spawn` is `tokengate::spawn`, or `Handle::spawn` on the `on = ...`
//! pool, behind an `#[inline(always)]` local function.
//!
//! # Static assertions
//!
//! Before the spawn, the generated function asserts for each argument (and receiver)
//! that its type is `Send + 'static`, through a helper function whose call is spanned
//! on that argument's type, and whose bound is a local trait with a
//! `#[diagnostic::on_unimplemented]` message naming the argument. A type that fails is
//! reported there instead of as a bound of the spawned closure. The result's bound is
//! the same kind of trait, on `__tokengate_spawn` itself: being the only bound on the
//! result at that call, its message replaces the spawn's own `T: Send` error.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Error, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::Tags;
use crate::check;

/// Expands `#[guard(attr)] item`. On error, the original function is emitted after the
/// errors, so that code using it reports nothing more than the errors themselves.
pub fn guard(attr: TokenStream, item: TokenStream) -> TokenStream {
    let tags = syn::parse2::<Tags>(attr);
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = Error::new(
                e.span(),
                "`#[tokengate::guard]` decorates a function with a body (a free function or a method in an `impl` block)",
            );
            return combine(tags.err(), e).to_compile_error();
        }
    };
    let sig = check::signature(&func.sig);
    match (tags, sig) {
        (Ok(tags), Ok(())) => generate(&tags, func),
        (tags, sig) => {
            let mut errors = tags.err().into_iter().chain(sig.err());
            let first = errors.next().expect("an error");
            let all = errors.fold(first, |mut a, e| {
                a.combine(e);
                a
            });
            let mut out = all.to_compile_error();
            out.extend(func.into_token_stream());
            out
        }
    }
}

fn combine(a: Option<Error>, b: Error) -> Error {
    match a {
        Some(mut a) => {
            a.combine(b);
            a
        }
        None => b,
    }
}

fn generate(tags: &Tags, func: ItemFn) -> TokenStream {
    let ItemFn { attrs, vis, sig, block } = func;
    let name = &sig.ident;
    let inline_name = format_ident!("{}_inline", name);
    let (docs, others): (Vec<&Attribute>, Vec<&Attribute>) = attrs.iter().partition(|a| a.path().is_ident("doc"));
    let in_impl = mentions_self(&sig);

    // The guarded signature: the same, with plain names for the arguments and a token
    // for the result.
    let mut guarded = sig.clone();
    let mut call_args: Vec<TokenStream> = Vec::new();
    let mut checks: Vec<TokenStream> = Vec::new();
    for (i, arg) in guarded.inputs.iter_mut().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                r.mutability = None;
                call_args.push(quote!(self));
                checks.push(assertion(&r.ty, "the receiver `self`", name));
            }
            FnArg::Typed(t) => {
                let ident = match &*t.pat {
                    Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
                    _ => format_ident!("__tokengate_arg{}", i),
                };
                checks.push(assertion(&t.ty, &format!("argument `{}`", ident), name));
                *t.pat = syn::parse_quote!(#ident);
                call_args.push(ident.into_token_stream());
            }
        }
    }
    let result_ty: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let token_ty = quote_spanned!(result_ty.span()=> ::tokengate::Token<#result_ty>);
    guarded.output = syn::parse_quote!(-> #token_ty);

    let turbofish: Vec<TokenStream> = sig
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_token_stream()),
            GenericParam::Const(c) => Some(c.ident.to_token_stream()),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    let turbofish = (!turbofish.is_empty()).then(|| quote!(::<#(#turbofish),*>));
    let callee = if in_impl {
        quote_spanned!(name.span()=> Self::#inline_name)
    } else {
        quote_spanned!(name.span()=> #inline_name)
    };

    let mut inline_sig = sig.clone();
    inline_sig.ident = inline_name.clone();
    let (kind, op) = op_builder(tags, name);
    // Without arguments the inline function itself is the task (a closure around it
    // would trip `clippy::redundant_closure` in the user's crate).
    let task = if call_args.is_empty() {
        quote!(#callee #turbofish)
    } else {
        quote!(move || #callee #turbofish (#(#call_args),*))
    };
    let spawn = spawner(tags, name);
    let spawn_call = match &tags.on {
        Some(pool) => {
            let pool = quote_spanned!(pool.span()=> &#pool);
            quote_spanned!(result_ty.span()=> __tokengate_spawn(#pool, &*__TOKENGATE_OP, #task))
        }
        None => quote_spanned!(result_ty.span()=> __tokengate_spawn(&*__TOKENGATE_OP, #task)),
    };
    let link = if in_impl {
        format!("Self::{name}")
    } else {
        name.to_string()
    };
    let inline_doc = format!(
        " Runs the body of [`{name}`]({link}) inline, on the calling thread: no token, no pool. \
         Generated by `#[tokengate::guard]`."
    );

    quote! {
        #(#docs)*
        #(#others)*
        #vis #guarded {
            static __TOKENGATE_OP: ::std::sync::LazyLock<::tokengate::Op<#kind>> =
                ::std::sync::LazyLock::new(|| #op);
            #(#checks)*
            #spawn
            #spawn_call
        }

        #[doc = #inline_doc]
        #(#others)*
        #vis #inline_sig #block
    }
}

/// The op's type-state kind and the expression that builds it, each builder call
/// spanned on its tag.
fn op_builder(tags: &Tags, name: &Ident) -> (TokenStream, TokenStream) {
    let op_name = match &tags.op {
        Some(lit) => lit.to_token_stream(),
        None => syn::LitStr::new(&name.to_string(), name.span()).into_token_stream(),
    };
    let mut op = quote!(::tokengate::Op::new(#op_name));
    if let Some(w) = &tags.weight {
        op.extend(quote_spanned!(w.span()=> .weight(::tokengate::Weight::#w)));
    }
    let mut kind = quote!(::tokengate::Free);
    if let Some(anchor) = &tags.sticky_anchor {
        op.extend(quote_spanned!(anchor.span()=> .sticky_anchor(#anchor)));
        kind = quote!(::tokengate::Sticky);
    }
    if let Some((tag, calls)) = &tags.external_calls {
        let n = calls.len();
        op.extend(quote_spanned!(tag.span()=> .external_calls::<[&'static str; #n], &'static str>([#(#calls),*])));
        kind = quote!(::tokengate::Lead);
    }
    if let Some(speed) = &tags.storage_speed {
        op.extend(quote_spanned!(speed.span()=> .storage_speed(::tokengate::StorageSpeed::#speed)));
        kind = quote_spanned!(speed.span()=> ::tokengate::Storage);
    }
    if let Some((lit, duration)) = &tags.deadline {
        op.extend(quote_spanned!(lit.span()=> .deadline(#duration)));
    }
    (kind, op)
}

/// The local function that spawns the task: `tokengate::spawn`, or `Handle::spawn` on
/// the `on` pool (anything that derefs to a `Handle`). Its bound on the result is a
/// trait whose failure names the result, and, being the only bound on it at the call
/// (spanned on the result type), replaces the spawn's own `T: Send + 'static` error.
fn spawner(tags: &Tags, func: &Ident) -> TokenStream {
    let message =
        format!("the result of the guarded function `{func}` cannot move out of its task: `{{Self}}` is not `Send`");
    let label = "the result must be `Send + 'static`";
    let (pool, body) = match &tags.on {
        Some(_) => (quote!(pool: &::tokengate::Handle,), quote!(pool.spawn(op, f))),
        None => (quote!(), quote!(::tokengate::spawn(op, f))),
    };
    quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label)]
        trait __TokengateResult: ::core::marker::Send + 'static {}
        impl<T: ::core::marker::Send + 'static> __TokengateResult for T {}
        #[inline(always)]
        fn __tokengate_spawn<K, F, R>(#pool op: &::tokengate::Op<K>, f: F) -> ::tokengate::Token<R>
        where
            F: ::core::ops::FnOnce() -> R + ::core::marker::Send + 'static,
            R: __TokengateResult,
        {
            #body
        }
    }
}

/// `Send + 'static` for `ty`, asserted by a call spanned on `ty`, whose failure says
/// which argument of which function cannot move into a task.
fn assertion(ty: &Type, what: &str, func: &Ident) -> TokenStream {
    let message = format!("{what} of the guarded function `{func}` cannot move into a task: `{{Self}}` is not `Send`");
    let label = format!("{what} must be `Send + 'static`");
    let span = ty.span();
    let call = quote_spanned!(span=> __tokengate_assert::<#ty>());
    quote! {
        {
            #[diagnostic::on_unimplemented(message = #message, label = #label)]
            trait __TokengateMoves: ::core::marker::Send + 'static {}
            impl<T: ?::core::marker::Sized + ::core::marker::Send + 'static> __TokengateMoves for T {}
            fn __tokengate_assert<T: ?::core::marker::Sized + __TokengateMoves>() {}
            #call;
        }
    }
}

/// True if the signature takes a receiver or names `Self`: the function is then in an
/// `impl` block, and the inline body is reached as `Self::name_inline`.
fn mentions_self(sig: &syn::Signature) -> bool {
    if matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
        return true;
    }
    fn has_self(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => i == "Self",
            proc_macro2::TokenTree::Group(g) => has_self(g.stream()),
            _ => false,
        })
    }
    has_self(sig.to_token_stream())
}
