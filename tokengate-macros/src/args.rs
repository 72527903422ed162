//! The attribute's tags: `#[guard(tag = value, ...)]`, parsed into [`Tags`].
//!
//! Every tag is accepted at most once, unknown tags and values are refused with the
//! list of what is accepted, and the combinations the `Op` type-state forbids are
//! refused here, naming both tags, before any code is generated.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Error, Ident, LitStr, Path, Result, Token};

/// Every tag the attribute accepts, in the order the docs list them.
pub const TAGS: &str = "`op`, `weight`, `storage_speed`, `sticky_anchor`, `external_calls`, `deadline`, `on`";

const WEIGHTS: [&str; 3] = ["Light", "Medium", "Heavy"];
const SPEEDS: [&str; 4] = ["Slow", "Moderate", "Fast", "Insane"];

/// The parsed tags of one `#[guard(...)]`.
#[derive(Default)]
pub struct Tags {
    /// `op = "name"`: the op's name (the function's name if absent).
    pub op: Option<LitStr>,
    /// `weight = Light | Medium | Heavy`.
    pub weight: Option<Ident>,
    /// `storage_speed = Slow | Moderate | Fast | Insane`.
    pub storage_speed: Option<Ident>,
    /// `sticky_anchor = "anchor"`.
    pub sticky_anchor: Option<LitStr>,
    /// `external_calls = ["child", ...]`, with the span of the tag's name.
    pub external_calls: Option<(Ident, Vec<LitStr>)>,
    /// `deadline = "50ms"`: the literal and the `Duration` constructor it becomes.
    pub deadline: Option<(LitStr, TokenStream)>,
    /// `on = path::to::POOL`.
    pub on: Option<Path>,
}

/// One `name = value` pair, before it is checked against the others.
struct Tag {
    name: Ident,
    value: TokenStream,
}

impl Parse for Tag {
    fn parse(input: ParseStream) -> Result<Self> {
        let name: Ident = input.parse().map_err(|e| {
            Error::new(
                e.span(),
                format!("expected a tag such as `weight = Medium`; accepted tags: {TAGS}"),
            )
        })?;
        if !input.peek(Token![=]) {
            return Err(Error::new(
                name.span(),
                format!("expected `{name} = ...`: every tag takes a value; accepted tags: {TAGS}"),
            ));
        }
        input.parse::<Token![=]>()?;
        // The value runs up to the next top-level comma; each tag parses its own.
        let mut value = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            let tt: proc_macro2::TokenTree = input.parse()?;
            value.extend([tt]);
        }
        if value.is_empty() {
            return Err(Error::new(name.span(), format!("`{name} = ` needs a value")));
        }
        Ok(Tag { name, value })
    }
}

impl Parse for Tags {
    fn parse(input: ParseStream) -> Result<Self> {
        let list = Punctuated::<Tag, Token![,]>::parse_terminated(input)?;
        let mut tags = Tags::default();
        let mut seen: Vec<String> = Vec::new();
        for Tag { name, value } in list {
            let key = name.to_string();
            if seen.contains(&key) {
                return Err(Error::new(
                    name.span(),
                    format!("duplicate tag `{key}`: each tag is given at most once; accepted tags: {TAGS}"),
                ));
            }
            match key.as_str() {
                "op" => tags.op = Some(string(&name, value, "the op's name, e.g. `op = \"data_processing\"`")?),
                "weight" => tags.weight = Some(choice(&name, value, &WEIGHTS, "weight")?),
                "storage_speed" => tags.storage_speed = Some(choice(&name, value, &SPEEDS, "storage speed")?),
                "sticky_anchor" => {
                    tags.sticky_anchor = Some(string(&name, value, "an anchor, e.g. `sticky_anchor = \"op_token\"`")?)
                }
                "external_calls" => tags.external_calls = Some((name.clone(), calls(&name, value)?)),
                "deadline" => tags.deadline = Some(deadline(&name, value)?),
                "on" => tags.on = Some(pool(&name, value)?),
                _ => {
                    return Err(Error::new(
                        name.span(),
                        format!("unknown tag `{key}`; accepted tags: {TAGS}"),
                    ))
                }
            }
            conflicts(&tags, &name)?;
            seen.push(key);
        }
        Ok(tags)
    }
}

/// Refuses the tag just added if it cannot go with one given before it. `Op<Free>`
/// alone has `sticky_anchor`, `external_calls` and `storage_speed`, and each returns
/// another kind of op, so at most one of the three can be given.
fn conflicts(tags: &Tags, just_added: &Ident) -> Result<()> {
    let given: Vec<&str> = [
        ("sticky_anchor", tags.sticky_anchor.is_some()),
        ("external_calls", tags.external_calls.is_some()),
        ("storage_speed", tags.storage_speed.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if given.len() < 2 {
        return Ok(());
    }
    let new = just_added.to_string();
    let old = given.iter().find(|n| **n != new).copied().unwrap_or(given[0]);
    let why = if given.contains(&"storage_speed") {
        "`storage_speed` makes an `Op<Storage>`, which has no locality tag"
    } else {
        "an op is either sticky or a lead, never both"
    };
    Err(Error::new(
        just_added.span(),
        format!("`{old}` and `{new}` cannot be used together: {why}"),
    ))
}

fn string(name: &Ident, value: TokenStream, what: &str) -> Result<LitStr> {
    syn::parse2::<LitStr>(value.clone())
        .map_err(|_| Error::new_spanned(&value, format!("`{name}` takes a string literal: {what}")))
}

fn choice(name: &Ident, value: TokenStream, accepted: &[&str], what: &str) -> Result<Ident> {
    let list = accepted.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
    let ident = syn::parse2::<Ident>(value.clone())
        .map_err(|_| Error::new_spanned(&value, format!("`{name}` takes one of {list}, written bare")))?;
    if accepted.contains(&ident.to_string().as_str()) {
        Ok(ident)
    } else {
        Err(Error::new(
            ident.span(),
            format!("unknown {what} `{ident}`; expected one of {list}"),
        ))
    }
}

fn calls(name: &Ident, value: TokenStream) -> Result<Vec<LitStr>> {
    let bad = |v: &TokenStream| {
        Error::new_spanned(
            v,
            format!("`{name}` takes a list of op names, e.g. `external_calls = [\"child_op\"]`"),
        )
    };
    let parser = |input: ParseStream| {
        let content;
        bracketed!(content in input);
        let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
        Ok(names.into_iter().collect::<Vec<_>>())
    };
    syn::parse::Parser::parse2(parser, value.clone()).map_err(|_| bad(&value))
}

/// `deadline = "50ms"`: a whole number followed by `ns`, `us`, `ms` or `s`.
fn deadline(name: &Ident, value: TokenStream) -> Result<(LitStr, TokenStream)> {
    let lit = string(
        name,
        value,
        "a duration such as `deadline = \"50ms\"` (units: ns, us, ms, s)",
    )?;
    let text = lit.value();
    let digits = text.trim_start_matches(|c: char| c.is_ascii_digit());
    let number = &text[..text.len() - digits.len()];
    let bad = || {
        Error::new(
            lit.span(),
            format!("invalid deadline {text:?}: write a whole number and a unit, e.g. \"50ms\" (units: ns, us, ms, s)"),
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ctor = match digits {
        "ns" => quote!(from_nanos),
        "us" => quote!(from_micros),
        "ms" => quote!(from_millis),
        "s" => quote!(from_secs),
        _ => return Err(bad()),
    };
    let n = syn::LitInt::new(&format!("{n}u64"), lit.span());
    Ok((lit, quote!(::std::time::Duration::#ctor(#n))))
}

fn pool(name: &Ident, value: TokenStream) -> Result<Path> {
    syn::parse2::<Path>(value.clone()).map_err(|_| {
        Error::new_spanned(
            &value,
            format!("`{name}` takes the path of a static pool, e.g. `on = crate::GATE` (a `Coordinator`, a `LazyLock<Coordinator>` or a `Handle`)"),
        )
    })
}
