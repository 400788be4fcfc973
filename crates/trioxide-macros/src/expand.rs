//! Code generation: turns `async fn name() -> T { body }` into a sync `fn name() -> T`
//! that builds a runtime through `::trioxide::runtime::Runtime::builder()` and
//! `block_on`s the body, kept as an inner `async fn` (the shape of tokio's
//! `#[tokio::main]` expansion, with trioxide's builder).
//!
//! Error handling follows tokio's habit: when the options are wrong, the function is still
//! expanded (with the builder's defaults) next to the `compile_error!`s, so the user sees
//! the option error alone and not a knock-on "`main` function not found" or "`main` is not
//! allowed to be `async`". When the signature is wrong, a stub with the same name stands
//! in for the function.

use crate::options::{self, Options};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

/// Which attribute is expanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[trioxide::main]`.
    Main,
    /// `#[trioxide::test]`.
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "main",
            Kind::Test => "test",
        }
    }
}

/// Expands one attribute: `args` are the tokens inside its parentheses, `item` the
/// function it is attached to.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            // Not a function at all: keep the item so that nothing else breaks.
            let error = error.to_compile_error();
            return quote! { #error #item };
        }
    };
    let parsed = options::parse(kind.name(), args);
    let signature = check_signature(kind, &function);
    match (parsed, signature) {
        (Ok(options), Ok(())) => generate(kind, &options, function),
        (Err(error), Ok(())) => {
            let error = error.to_compile_error();
            let function = generate(kind, &Options::default(), function);
            quote! { #error #function }
        }
        (parsed, Err(mut error)) => {
            if let Err(options_error) = parsed {
                error.combine(options_error);
            }
            let error = error.to_compile_error();
            let stub = stub(&function);
            quote! { #error #stub }
        }
    }
}

/// The function must be `async`, take no arguments and have no generic parameters; a
/// test must not carry a second `#[test]`.
fn check_signature(kind: Kind, function: &ItemFn) -> syn::Result<()> {
    let attr = kind.name();
    let sig = &function.sig;
    let mut errors: Vec<syn::Error> = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("#[trioxide::{attr}] goes on an `async fn`; add `async` before `fn`"),
        ));
    }
    if !sig.inputs.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.inputs,
            format!(
                "#[trioxide::{attr}] functions take no arguments; build values inside the body"
            ),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("#[trioxide::{attr}] functions cannot be generic"),
        ));
    }
    if kind == Kind::Test {
        for attribute in &function.attrs {
            if attribute.path().is_ident("test") {
                errors.push(syn::Error::new_spanned(
                    attribute,
                    "#[trioxide::test] already adds #[test]; remove this one",
                ));
            }
        }
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            first.extend(errors);
            Err(first)
        }
    }
}

/// A sync function with the user's name and return type that never runs: it keeps the
/// rest of the crate compiling while the `compile_error!` explains what to fix.
fn stub(function: &ItemFn) -> TokenStream {
    let vis = &function.vis;
    let name = &function.sig.ident;
    let output = &function.sig.output;
    quote! {
        #[allow(dead_code)]
        #vis fn #name() #output {
            ::core::unreachable!()
        }
    }
}

/// `Runtime::builder()` with the given options; unset options keep the builder's default.
fn builder(options: &Options) -> TokenStream {
    let mut calls = TokenStream::new();
    if let Some(flavor) = options.flavor {
        let variant = format_ident!("{}", flavor.variant());
        calls.extend(quote! { .flavor(::trioxide::runtime::Flavor::#variant) });
    } else if options.needs_current_thread() {
        // Paused time and seeded scheduling exist on the current-thread flavor only.
        calls.extend(quote! { .flavor(::trioxide::runtime::Flavor::CurrentThread) });
    }
    if let Some(on) = options.start_paused {
        calls.extend(quote! { .start_paused(#on) });
    }
    if let Some(seed) = options.seed {
        calls.extend(quote! { .seed(#seed) });
    }
    if let Some(n) = options.worker_threads {
        calls.extend(quote! { .worker_threads(#n) });
    }
    if let Some(io) = options.io {
        let variant = format_ident!("{}", io.variant());
        calls.extend(quote! { .io(::trioxide::runtime::Io::#variant) });
    }
    quote! { ::trioxide::runtime::Runtime::builder() #calls .build() }
}

/// The expansion proper.
fn generate(kind: Kind, options: &Options, function: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;

    // Local names the body cannot see or shadow (macro_rules hygiene).
    let runtime = Ident::new("runtime", Span::mixed_site());
    let error = Ident::new("error", Span::mixed_site());

    let builder = builder(options);
    let message = format!(
        "trioxide::{}: could not build the runtime: {{}}",
        kind.name()
    );
    let build = quote! {
        let #runtime = match #builder {
            ::core::result::Result::Ok(#runtime) => #runtime,
            ::core::result::Result::Err(#error) => ::core::panic!(#message, #error),
        };
    };

    // The body becomes an inner `async fn` with the user's return type, so `?`, `return`
    // and type errors behave, and point, exactly as in the user's `async fn` (an async
    // block would lose the expected return type). It captures nothing: the outer function
    // takes no arguments and is not generic.
    let inner = Ident::new("__trioxide_body", Span::mixed_site());
    let output = &sig.output;
    let inner_fn = quote_spanned! {block.span()=>
        async fn #inner() #output #block
    };
    let test_attr = match kind {
        Kind::Main => quote! {},
        Kind::Test => quote! { #[::core::prelude::v1::test] },
    };

    // The body's future is a temporary of `block_on`'s call: it is dropped, with whatever
    // it still holds on an unwind, before the runtime.
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #inner_fn
            #build
            #runtime.block_on(#inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        expand(kind, args, item).to_string()
    }

    #[test]
    fn main_builds_the_runtime_with_the_options() {
        let out = expand_str(
            Kind::Main,
            quote!(flavor = "work_stealing", worker_threads = 3, io = "epoll"),
            quote!(
                async fn main() {}
            ),
        );
        assert!(out.contains("fn main ()"), "{out}");
        assert!(out.starts_with("fn main ()"), "{out}");
        assert!(out.contains("block_on (__trioxide_body ())"), "{out}");
        assert!(
            out.contains(
                ":: trioxide :: runtime :: Runtime :: builder () . flavor (:: trioxide :: \
                 runtime :: Flavor :: WorkStealing) . worker_threads (3usize) . io (:: \
                 trioxide :: runtime :: Io :: Epoll) . build ()"
            ),
            "{out}"
        );
        assert!(out.contains("trioxide::main: could not build the runtime: {}"));
        assert!(!out.contains("test"), "{out}");
    }

    #[test]
    fn no_options_keep_the_defaults() {
        let out = expand_str(
            Kind::Main,
            quote!(),
            quote!(
                async fn main() {}
            ),
        );
        assert!(out.contains("Runtime :: builder () . build ()"), "{out}");
    }

    #[test]
    fn test_adds_test_and_keeps_attributes() {
        let out = expand_str(
            Kind::Test,
            quote!(),
            quote!(
                #[should_panic]
                async fn it_works() -> Result<(), String> {
                    Ok(())
                }
            ),
        );
        assert!(out.starts_with("# [:: core :: prelude :: v1 :: test] # [should_panic]"));
        assert!(
            out.contains("fn it_works () -> Result < () , String >"),
            "{out}"
        );
        assert!(
            out.contains("async fn __trioxide_body () -> Result < () , String >"),
            "{out}"
        );
        assert!(out.contains("trioxide::test: could not build"), "{out}");
    }

    #[test]
    fn option_errors_keep_the_function() {
        let out = expand_str(
            Kind::Main,
            quote!(bogus = 1),
            quote!(
                async fn main() {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("block_on"), "{out}");
    }

    #[test]
    fn signature_errors_leave_a_stub() {
        let out = expand_str(
            Kind::Main,
            quote!(),
            quote!(
                fn main() {}
            ),
        );
        assert!(out.contains("add `async` before `fn`"), "{out}");
        assert!(out.contains("unreachable"), "{out}");
        let out = expand_str(
            Kind::Test,
            quote!(),
            quote!(
                async fn t(x: u8) {}
            ),
        );
        assert!(out.contains("take no arguments"), "{out}");
        let out = expand_str(
            Kind::Test,
            quote!(),
            quote!(
                #[test]
                async fn t() {}
            ),
        );
        assert!(out.contains("already adds #[test]"), "{out}");
        let out = expand_str(
            Kind::Main,
            quote!(),
            quote!(
                async fn main<T>() {}
            ),
        );
        assert!(out.contains("cannot be generic"), "{out}");
    }

    #[test]
    fn not_a_function() {
        let out = expand_str(
            Kind::Main,
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("struct S"), "{out}");
    }
}
