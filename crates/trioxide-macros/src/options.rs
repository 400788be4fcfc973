//! The options of `#[trioxide::main(..)]` and `#[trioxide::test(..)]`: a comma-separated
//! list of `name = value` pairs, parsed with syn into [`Options`], the macro-side mirror of
//! `trioxide::runtime::Builder`.
//!
//! Every mistake becomes a `syn::Error` spanned on the offending token (the option's name
//! for unknown or duplicate options, its value for a wrong type or an unknown choice), and
//! every message lists the valid choices. All mistakes are reported at once, combined.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Meta, MetaNameValue, Token};

/// The option names, for messages.
const NAMES: &str = "`flavor`, `worker_threads`, `io`, `start_paused` and `seed`";

/// `flavor = ".."`: mirrors `trioxide::runtime::Flavor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `"current_thread"`.
    CurrentThread,
    /// `"work_stealing"`.
    WorkStealing,
    /// `"thread_per_core"`.
    ThreadPerCore,
}

impl Flavor {
    const CHOICES: &'static str = r#""current_thread", "work_stealing" or "thread_per_core""#;

    fn from_name(name: &str) -> Option<Flavor> {
        match name {
            "current_thread" => Some(Flavor::CurrentThread),
            "work_stealing" => Some(Flavor::WorkStealing),
            "thread_per_core" => Some(Flavor::ThreadPerCore),
            _ => None,
        }
    }

    /// The variant's name in `trioxide::runtime::Flavor`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "CurrentThread",
            Flavor::WorkStealing => "WorkStealing",
            Flavor::ThreadPerCore => "ThreadPerCore",
        }
    }
}

/// `io = ".."`: mirrors `trioxide::runtime::Io`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::enum_variant_names,
    reason = "the variants mirror trioxide::runtime::Io, where IoUring is the public name"
)]
pub(crate) enum Io {
    /// `"auto"`.
    Auto,
    /// `"io_uring"`.
    IoUring,
    /// `"epoll"`.
    Epoll,
}

impl Io {
    const CHOICES: &'static str = r#""auto", "io_uring" or "epoll""#;

    fn from_name(name: &str) -> Option<Io> {
        match name {
            "auto" => Some(Io::Auto),
            "io_uring" => Some(Io::IoUring),
            "epoll" => Some(Io::Epoll),
            _ => None,
        }
    }

    /// The variant's name in `trioxide::runtime::Io`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Io::Auto => "Auto",
            Io::IoUring => "IoUring",
            Io::Epoll => "Epoll",
        }
    }
}

/// The parsed options; `None` leaves the builder's default in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) flavor: Option<Flavor>,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) io: Option<Io>,
    /// `start_paused = true|false`: `Builder::start_paused`.
    pub(crate) start_paused: Option<bool>,
    /// `seed = N`: `Builder::seed`.
    pub(crate) seed: Option<u64>,
}

impl Options {
    /// Whether an option that only `Flavor::CurrentThread` supports is on.
    pub(crate) fn needs_current_thread(&self) -> bool {
        self.start_paused == Some(true) || self.seed.is_some()
    }
}

/// Collects errors so that one macro call reports every mistake.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// Parses the attribute's arguments. `attr` names the attribute in messages (`main` or
/// `test`).
pub(crate) fn parse(attr: &str, args: TokenStream) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut errors = Errors::default();
    let mut options = Options::default();
    // The `worker_threads = N` pair, for the flavor check at the end.
    let mut worker_threads_at: Option<MetaNameValue> = None;
    // The `start_paused`/`seed` pair, for the flavor check at the end.
    let mut current_thread_only_at: Option<MetaNameValue> = None;
    let mut seen: Vec<String> = Vec::new();

    for meta in metas {
        let pair = match meta {
            Meta::NameValue(pair) => pair,
            other => {
                errors.push(syn::Error::new_spanned(
                    &other,
                    format!(
                        "expected `name = value`; the options of #[trioxide::{attr}] are {NAMES}"
                    ),
                ));
                continue;
            }
        };
        let name = match pair.path.get_ident() {
            Some(ident) => ident.to_string(),
            None => String::new(),
        };
        if !matches!(
            name.as_str(),
            "flavor" | "worker_threads" | "io" | "start_paused" | "seed"
        ) {
            errors.push(syn::Error::new_spanned(
                &pair.path,
                format!(
                    "unknown option `{}`; the options of #[trioxide::{attr}] are {NAMES}",
                    path_text(&pair.path)
                ),
            ));
            continue;
        }
        if seen.contains(&name) {
            errors.push(syn::Error::new_spanned(
                &pair.path,
                format!("duplicate option `{name}`; give each option at most once"),
            ));
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "flavor" => match choice(&pair.value, "flavor", Flavor::CHOICES, Flavor::from_name) {
                Ok(flavor) => options.flavor = Some(flavor),
                Err(error) => errors.push(error),
            },
            "io" => match choice(&pair.value, "io", Io::CHOICES, Io::from_name) {
                Ok(io) => options.io = Some(io),
                Err(error) => errors.push(error),
            },
            "start_paused" => match boolean(&pair.value, "start_paused") {
                Ok(on) => {
                    options.start_paused = Some(on);
                    if on {
                        current_thread_only_at = Some(pair);
                    }
                }
                Err(error) => errors.push(error),
            },
            "seed" => match seed(&pair.value) {
                Ok(seed) => {
                    options.seed = Some(seed);
                    current_thread_only_at = Some(pair);
                }
                Err(error) => errors.push(error),
            },
            _ => match worker_threads(&pair.value) {
                Ok(n) => {
                    options.worker_threads = Some(n);
                    worker_threads_at = Some(pair);
                }
                Err(error) => errors.push(error),
            },
        }
    }

    let current_thread = options.flavor == Some(Flavor::CurrentThread)
        || (options.flavor.is_none() && options.needs_current_thread());
    if let (true, Some(pair)) = (current_thread, &worker_threads_at) {
        errors.push(syn::Error::new_spanned(
            pair,
            r#"worker_threads requires a multi-threaded flavor: flavor = "work_stealing" or "thread_per_core""#,
        ));
    }

    if let (Some(Flavor::WorkStealing | Flavor::ThreadPerCore), Some(pair)) =
        (options.flavor, &current_thread_only_at)
    {
        let name = path_text(&pair.path);
        errors.push(syn::Error::new_spanned(
            pair,
            format!(
                r#"`{name}` needs flavor = "current_thread" (the default when `{name}` is given); remove the flavor option or set it to "current_thread""#
            ),
        ));
    }

    match errors.0 {
        Some(error) => Err(error),
        None => Ok(options),
    }
}

/// `name = true|false`.
fn boolean(value: &Expr, name: &str) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{name}` expects `true` or `false`, e.g. `{name} = true`"),
        )),
    }
}

/// `seed = N`: an integer literal that fits a `u64`.
fn seed(value: &Expr) -> syn::Result<u64> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`seed` expects an integer literal (a u64), e.g. `seed = 42`",
        ));
    };
    if !matches!(int.suffix(), "" | "u64") {
        return Err(syn::Error::new(
            int.span(),
            format!(
                "`seed` expects an unsuffixed integer literal, e.g. `seed = {}`",
                int.base10_digits()
            ),
        ));
    }
    int.base10_parse::<u64>().map_err(|error| {
        syn::Error::new(
            int.span(),
            format!("`seed` expects an integer literal that fits a u64: {error}"),
        )
    })
}

/// A path as the user wrote it, for messages (`foo::bar`).
fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    segments.join("::")
}

/// A string-literal option whose value is one of a fixed set.
fn choice<T>(
    value: &Expr,
    name: &str,
    choices: &str,
    from_name: fn(&str) -> Option<T>,
) -> syn::Result<T> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{name}` expects a string: {choices}"),
        ));
    };
    from_name(&text.value()).ok_or_else(|| {
        syn::Error::new(
            text.span(),
            format!("unknown {name} {:?}; expected {choices}", text.value()),
        )
    })
}

/// `worker_threads = N`: an integer literal, at least 1.
fn worker_threads(value: &Expr) -> syn::Result<usize> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`worker_threads` expects an integer literal of at least 1, e.g. `worker_threads = 4`",
        ));
    };
    if !matches!(int.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            int.span(),
            format!(
                "`worker_threads` expects an unsuffixed integer literal, e.g. `worker_threads = {}`",
                int.base10_digits()
            ),
        ));
    }
    match int.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            int.span(),
            "worker_threads must be at least 1 (got 0)",
        )),
        Ok(n) => Ok(n),
        Err(error) => Err(syn::Error::new(
            value.span(),
            format!("`worker_threads` expects an integer literal of at least 1: {error}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn ok(args: TokenStream) -> Options {
        parse("main", args).expect("the options parse")
    }

    fn err(args: TokenStream) -> String {
        parse("main", args)
            .expect_err("the options fail")
            .to_string()
    }

    #[test]
    fn no_options_keep_the_builder_defaults() {
        assert_eq!(ok(quote!()), Options::default());
    }

    #[test]
    fn every_option_parses() {
        let options = ok(quote!(
            flavor = "work_stealing",
            worker_threads = 4,
            io = "io_uring",
        ));
        assert_eq!(
            options,
            Options {
                flavor: Some(Flavor::WorkStealing),
                worker_threads: Some(4),
                io: Some(Io::IoUring),
                start_paused: None,
                seed: None,
            }
        );
        assert_eq!(
            ok(quote!(flavor = "thread_per_core")).flavor,
            Some(Flavor::ThreadPerCore)
        );
        assert_eq!(
            ok(quote!(flavor = "current_thread")).flavor,
            Some(Flavor::CurrentThread)
        );
        assert_eq!(ok(quote!(io = "auto")).io, Some(Io::Auto));
        assert_eq!(ok(quote!(io = "epoll")).io, Some(Io::Epoll));
    }

    #[test]
    fn worker_threads_without_a_flavor_is_left_to_the_builder() {
        assert_eq!(ok(quote!(worker_threads = 2)).worker_threads, Some(2));
    }

    #[test]
    fn unknown_option_lists_the_options() {
        let message = err(quote!(flavour = "work_stealing"));
        assert!(message.contains("unknown option `flavour`"), "{message}");
        assert!(
            message.contains("`flavor`, `worker_threads`, `io`, `start_paused` and `seed`"),
            "{message}"
        );
    }

    #[test]
    fn bare_words_and_lists_are_not_options() {
        assert!(err(quote!(flavor)).contains("expected `name = value`"));
        assert!(err(quote!(flavor("current_thread"))).contains("expected `name = value`"));
    }

    #[test]
    fn unknown_values_list_the_choices() {
        let message = err(quote!(flavor = "multi_thread"));
        assert!(
            message.contains(r#"unknown flavor "multi_thread""#),
            "{message}"
        );
        assert!(message.contains(Flavor::CHOICES), "{message}");
        let message = err(quote!(io = "kqueue"));
        assert!(message.contains(Io::CHOICES), "{message}");
    }

    #[test]
    fn wrong_value_types() {
        assert!(err(quote!(flavor = current_thread)).contains("expects a string"));
        assert!(err(quote!(io = 1)).contains("expects a string"));
        assert!(err(quote!(worker_threads = "4")).contains("expects an integer literal"));
        assert!(err(quote!(worker_threads = -1)).contains("expects an integer literal"));
        assert!(err(quote!(worker_threads = 4u8)).contains("unsuffixed integer literal"));
        assert_eq!(ok(quote!(worker_threads = 4usize)).worker_threads, Some(4));
    }

    #[test]
    fn zero_worker_threads() {
        assert!(err(quote!(worker_threads = 0)).contains("at least 1 (got 0)"));
    }

    #[test]
    fn worker_threads_needs_a_multi_threaded_flavor() {
        let message = err(quote!(flavor = "current_thread", worker_threads = 2));
        assert!(
            message.contains("requires a multi-threaded flavor"),
            "{message}"
        );
        assert_eq!(
            ok(quote!(worker_threads = 2, flavor = "thread_per_core")).worker_threads,
            Some(2)
        );
    }

    #[test]
    fn duplicates() {
        let message = err(quote!(io = "epoll", io = "epoll"));
        assert!(message.contains("duplicate option `io`"), "{message}");
    }

    #[test]
    fn every_mistake_is_reported() {
        let error = parse("test", quote!(bogus = 1, flavor = "x", io = 3)).unwrap_err();
        assert_eq!(error.into_iter().count(), 3);
    }

    #[test]
    fn start_paused_and_seed_parse_and_need_the_current_thread_flavor() {
        let options = ok(quote!(start_paused = true, seed = 7));
        assert_eq!(options.start_paused, Some(true));
        assert_eq!(options.seed, Some(7));
        assert!(options.needs_current_thread());
        assert!(!ok(quote!(start_paused = false)).needs_current_thread());
        assert_eq!(
            ok(quote!(
                flavor = "current_thread",
                seed = 18446744073709551615
            ))
            .seed,
            Some(u64::MAX)
        );
        assert!(err(quote!(start_paused = "yes")).contains("expects `true` or `false`"));
        assert!(err(quote!(start_paused = 1)).contains("expects `true` or `false`"));
        assert!(err(quote!(seed = "1")).contains("expects an integer literal"));
        assert!(err(quote!(seed = 1u8)).contains("unsuffixed"));
        assert!(err(quote!(seed = 18446744073709551616)).contains("fits a u64"));
        let message = err(quote!(flavor = "work_stealing", start_paused = true));
        assert!(
            message.contains(r#"`start_paused` needs flavor = "current_thread""#),
            "{message}"
        );
        assert!(err(quote!(seed = 1, flavor = "thread_per_core")).contains("`seed` needs"));
        assert!(
            err(quote!(seed = 1, worker_threads = 2)).contains("requires a multi-threaded flavor")
        );
        assert!(
            ok(quote!(flavor = "work_stealing", start_paused = false)).start_paused == Some(false)
        );
    }

    #[test]
    fn not_a_list() {
        assert!(parse("main", quote!(= 3)).is_err());
    }
}
