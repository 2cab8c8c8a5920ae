//! Attribute macros of `bgw-sdk`, re-exported by it as `bgw_sdk::worker` and `bgw_sdk::sql_function`: an
//! author of a module writes safe Rust functions and no `extern "C"`.
//!
//! A separate crate from `bgw-macros` (the host's own attribute, dependency-free): these parse Rust signatures
//! with `syn`. The code they generate only calls `bgw_sdk`'s public (hidden) API, where panics are caught and
//! errors become the host's errors; nothing here runs in the host.
//!
//! - `#[worker]` on `fn name(arg) [-> ()|Result<(), E>]` keeps the function and exports the C entry point
//!   `void name(Datum)` the host finds by name (what `bgw_sdk::worker_main!` expands to). The argument may be absent, a
//!   `MainArg` or `usize` (the registration's Datum), or any other type `T: serde::de::DeserializeOwned`: the
//!   typed argument the registrant attached (`bgw_sdk::arg::<T>()`); a missing or undecodable one is an ERROR.
//! - `#[sql_function]` (options `name = "sql_name"`, `superuser`) on `fn name(a: A, ...) -> R` keeps the
//!   function and adds a type `name {}` (type namespace only, so the function's name stays free) implementing
//!   `bgw_sdk::sql::SqlFunction`; `_PG_init` defines it with `bgw_sdk::sql::define::<name>()`. Arguments are
//!   `bgw_sdk::sql::FromSqlArg` types (integers, floats, bool, `String`, `&str`, `Option<T>`); a NULL given to
//!   a non-`Option` argument makes the result NULL without calling the function (PostgreSQL's STRICT). The
//!   result is a `bgw_sdk::sql::IntoSqlValue` type or `Result` of one: an `Err` of `SqlError` keeps its
//!   SQLSTATE; any other `E: Display` fails the statement with SQLSTATE P0001 (PL/pgSQL's RAISE EXCEPTION).

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{
    parse_macro_input, FnArg, GenericArgument, ItemFn, LitStr, Meta, Pat, PathArguments, ReturnType, Token, Type,
};

fn error(span: Span, message: &str) -> TokenStream {
    syn::Error::new(span, message).to_compile_error().into()
}

/// The last path segment's name of a type (`bgw_sdk::MainArg` -> `MainArg`), for a plain path type.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// Exports the function as a background worker entry point (`void name(Datum)`); see the crate docs.
#[proc_macro_attribute]
pub fn worker(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return error(Span::call_site(), "#[worker] takes no arguments");
    }
    let function = parse_macro_input!(item as ItemFn);
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.asyncness.is_some() || sig.constness.is_some() {
        return error(Span::call_site(), "#[worker] needs a plain fn: no generics, async or const");
    }
    let name = &sig.ident;
    let call = match sig.inputs.len() {
        0 => quote! { #name() },
        1 => {
            let FnArg::Typed(arg) = &sig.inputs[0] else {
                return error(Span::call_site(), "#[worker] is for a free function, not a method");
            };
            let ty = &*arg.ty;
            match last_segment(ty).map(|s| s.ident.to_string()).as_deref() {
                Some("MainArg") => quote! { #name(main_arg) },
                Some("usize") => quote! { #name(main_arg.value()) },
                _ => quote! {
                    #name(match ::bgw_sdk::arg::<#ty>() {
                        ::core::result::Result::Ok(v) => v,
                        ::core::result::Result::Err(e) => return ::core::result::Result::Err(e.to_string()),
                    })
                },
            }
        }
        _ => return error(Span::call_site(), "#[worker] takes at most one argument"),
    };
    let export = name.to_string();
    quote! {
        #function
        // In an anonymous block, so the exported function may share its name with the Rust function it calls.
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn #name(main_arg: usize) {
                ::bgw_sdk::entry::run_worker(
                    #export,
                    main_arg,
                    |main_arg: ::bgw_sdk::MainArg| -> ::core::result::Result<(), ::std::string::String> {
                        let _ = main_arg;
                        ::bgw_sdk::entry::WorkerReturn::into_worker_result(self::#call)
                    },
                );
            }
        };
    }
    .into()
}

/// Makes the function a SQL function of the module; see the crate docs.
#[proc_macro_attribute]
pub fn sql_function(args: TokenStream, item: TokenStream) -> TokenStream {
    let options = match Punctuated::<Meta, Token![,]>::parse_terminated.parse(args) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let function = parse_macro_input!(item as ItemFn);
    let sig = &function.sig;
    let name = &sig.ident;
    let mut sql_name = name.to_string();
    let mut superuser = false;
    for option in &options {
        match option {
            Meta::NameValue(nv) if nv.path.is_ident("name") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => sql_name = s.value(),
                _ => return error(Span::call_site(), "name = \"...\" takes a string"),
            },
            Meta::Path(p) if p.is_ident("superuser") => superuser = true,
            _ => return error(Span::call_site(), "#[sql_function] options: name = \"...\", superuser"),
        }
    }
    if sig.asyncness.is_some() || sig.constness.is_some() || sig.generics.type_params().next().is_some() {
        return error(Span::call_site(), "#[sql_function] needs a plain fn: no generics, async or const");
    }
    let mut bindings = Vec::new();
    let mut names = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(arg) = input else {
            return error(Span::call_site(), "#[sql_function] is for a free function, not a method");
        };
        let ty = &*arg.ty;
        let label = match &*arg.pat {
            Pat::Ident(p) => p.ident.to_string(),
            _ => format!("${}", i + 1),
        };
        let var = format_ident!("__bgw_arg{}", i);
        let position = i + 1;
        bindings.push(quote! {
            let #var: #ty = match ::bgw_sdk::sql::FromSqlArg::from_sql_arg(&args[#i], #sql_name, #position, #label)? {
                ::core::option::Option::Some(v) => v,
                ::core::option::Option::None => return ::core::result::Result::Ok(::bgw_sdk::sql::SqlValue::Null),
            };
        });
        names.push(var);
    }
    let nargs = names.len();
    let (value_ty, map_err) = match &sig.output {
        ReturnType::Default => {
            return error(Span::call_site(), "#[sql_function] needs a result type (a SQL function returns a value)")
        }
        ReturnType::Type(_, ty) => match result_parts(ty) {
            Some((ok, err)) => {
                let is_sql_error = last_segment(err).is_some_and(|s| s.ident == "SqlError");
                let map = if is_sql_error {
                    quote! { ? }
                } else {
                    quote! { .map_err(|e| ::bgw_sdk::sql::SqlError::new("P0001", e.to_string()))? }
                };
                (ok.clone(), map)
            }
            None => ((**ty).clone(), quote! {}),
        },
    };
    let flags = if superuser {
        quote! { ::bgw_sdk::sql::FunctionFlags::SUPERUSER }
    } else {
        quote! { ::bgw_sdk::sql::FunctionFlags::empty() }
    };
    let sql_name_lit = LitStr::new(&sql_name, Span::call_site());
    let vis = &function.vis;
    let doc = format!(
        "The SQL function `{sql_name}` of [`{name}`](fn@{name}): define it with `bgw_sdk::sql::define::<{name}>()`."
    );
    quote! {
        #function
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}
        impl ::bgw_sdk::sql::SqlFunction for #name {
            const NAME: &'static str = #sql_name_lit;
            const NARGS: usize = #nargs;
            const RESULT: ::bgw_sdk::sql::ResultType = <#value_ty as ::bgw_sdk::sql::IntoSqlValue>::RESULT;
            const FLAGS: ::bgw_sdk::sql::FunctionFlags = #flags;
            fn call(args: &[::bgw_sdk::sql::SqlValue]) -> ::core::result::Result<::bgw_sdk::sql::SqlValue, ::bgw_sdk::sql::SqlError> {
                if args.len() != #nargs {
                    return ::core::result::Result::Err(::bgw_sdk::sql::SqlError::internal(
                        ::std::format!("function {} takes {} arguments, not {}", #sql_name_lit, #nargs, args.len()),
                    ));
                }
                #(#bindings)*
                let value: #value_ty = #name(#(#names),*) #map_err;
                ::core::result::Result::Ok(::bgw_sdk::sql::IntoSqlValue::into_sql_value(value))
            }
        }
    }
    .into()
}

/// `Result<T, E>` (by its last segment's name): `(T, E)`.
fn result_parts(ty: &Type) -> Option<(&Type, &Type)> {
    let segment = last_segment(ty)?;
    if segment.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    Some((ok, err))
}
