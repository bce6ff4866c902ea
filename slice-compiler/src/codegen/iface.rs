//! Interfaces: a proxy type (`HelloPrx`) with an async method per
//! operation, a servant trait (`Hello`) with an async method per operation,
//! and the dispatch glue (`HelloServant<T>`) the object adapter calls.
//!
//! Operations of base interfaces are flattened into the proxy and the
//! dispatch; the servant trait extends the base interfaces' traits.
//! Parameters are encoded as Ice does: required in-parameters in order,
//! then optional ones by tag; results are the required out-parameters,
//! then the return value, then optional outputs by tag. An operation that
//! declares exceptions returns a generated error enum (`HelloOpError`) with
//! one variant per declared exception; a derived exception the client does
//! not know is sliced to its declared base, as Ice does.
//!
//! The proxy type implements `TypedProxy`, so `Option<HelloPrx>` is the
//! Slice type `Hello*` wherever it appears; streams the glue reads from are
//! given the communicator (of the proxy, or of the dispatching adapter)
//! that the proxies they hold are bound to.

use super::ident;
use super::{doc_attrs, rt, Gen};
use crate::ast::*;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// An interface or a class with operations, as the proxy and servant
/// generator sees it.
struct Service<'a> {
    id: DefId,
    bases: Vec<DefId>,
    operations: &'a [Operation],
}

/// One parameter or return value, as the generator sees it.
struct Arg<'o> {
    name: Ident,
    ty: Option<Type>,
    tag: Option<i32>,
    _param: Option<&'o Param>,
}

impl<'a> Gen<'a> {
    /// The interface (or class with operations) and its bases, most
    /// derived first, each once.
    fn interface_chain(&self, id: DefId) -> Vec<DefId> {
        let mut out: Vec<DefId> = Vec::new();
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            let i = self.service(i).map(|s| s.id).unwrap_or(i);
            if out
                .iter()
                .any(|o| self.ast.def(*o).scoped == self.ast.def(i).scoped)
            {
                continue;
            }
            out.push(i);
            if let Some(s) = self.service(i) {
                for b in s.bases.iter().rev() {
                    stack.push(*b);
                }
            }
            if out.len() > 256 {
                break;
            }
        }
        out
    }

    /// What has operations: an interface, or a class (with its base class
    /// and the interfaces it implements as bases).
    fn service(&self, id: DefId) -> Option<Service<'a>> {
        if let Some((id, i)) = self.interface_def(id) {
            return Some(Service {
                id,
                bases: i.bases.iter().filter_map(|(_, b)| *b).collect(),
                operations: &i.operations,
            });
        }
        let (id, c) = self.class_def(id)?;
        let mut bases: Vec<DefId> = self.base_of(&c.base).into_iter().collect();
        bases.extend(c.implements.iter().filter_map(|(_, b)| *b));
        Some(Service {
            id,
            bases,
            operations: &c.operations,
        })
    }

    /// Whether `id` gets a proxy and a servant trait: an interface, or a
    /// class that has operations, implements an interface, or derives
    /// from such a class (Ice 3.4-era Slice).
    pub(super) fn has_service(&self, id: DefId) -> bool {
        if self.interface_def(id).is_some() {
            return true;
        }
        self.interface_chain(id).iter().any(|i| {
            self.interface_def(*i).is_some()
                || self
                    .class_def(*i)
                    .is_some_and(|(_, c)| !c.operations.is_empty())
        })
    }

    /// The servant trait of an interface (`Hello`) or of a class with
    /// operations (`ShapeOperations`: the class's own name is its value
    /// type).
    fn trait_ident(def: &Definition) -> Ident {
        let name = ident::type_name(&def.name.name);
        match def.kind {
            DefKind::Class(_) | DefKind::ClassForward => format_ident!("{}Operations", name),
            _ => name,
        }
    }

    /// The interface definition of `id`, following a forward declaration.
    fn interface_def(&self, id: DefId) -> Option<(DefId, &'a InterfaceDef)> {
        match &self.ast.def(id).kind {
            DefKind::Interface(i) => Some((id, i)),
            DefKind::InterfaceForward => {
                let scoped = &self.ast.def(id).scoped;
                self.ast.ids().find_map(|i| match &self.ast.def(i).kind {
                    DefKind::Interface(d) if &self.ast.def(i).scoped == scoped => Some((i, d)),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    /// Whether the required in-parameters of `op` hold class instances:
    /// only then does the request carry encoding 1.0's pending instances
    /// (optional parameters are not sent in 1.0, and ZeroC leaves them out
    /// of this decision).
    fn ins_use_classes(&self, op: &Operation) -> bool {
        op.params
            .iter()
            .any(|p| !p.out && p.tag.is_none() && self.uses_classes(p.ty.resolved, 0))
    }

    /// Whether the required out-parameters or return value of `op` hold
    /// class instances: only then does the reply carry pending instances.
    fn outs_use_classes(&self, op: &Operation) -> bool {
        op.params
            .iter()
            .any(|p| p.out && p.tag.is_none() && self.uses_classes(p.ty.resolved, 0))
            || (op.return_tag.is_none()
                && op
                    .return_type
                    .as_ref()
                    .is_some_and(|r| self.uses_classes(r.resolved, 0)))
    }

    fn arg_type(&self, a: &Arg, path: &[String]) -> TokenStream {
        let t = self.rust_type(a.ty, path);
        if a.tag.is_some() {
            quote!(::std::option::Option<#t>)
        } else {
            t
        }
    }

    /// In-parameters and outputs (out-parameters then return value) of `op`.
    fn op_args<'o>(&self, op: &'o Operation) -> (Vec<Arg<'o>>, Vec<Arg<'o>>) {
        let name = |p: &Param| {
            let n = ident::field_name(&p.name.name);
            if n == "context" || n == "current" {
                format_ident!("{}_", n)
            } else {
                n
            }
        };
        let tag = |t: &Option<Tag>| {
            t.as_ref()
                .and_then(|t| t.value)
                .and_then(|v| i32::try_from(v).ok())
        };
        let ins = op
            .params
            .iter()
            .filter(|p| !p.out)
            .map(|p| Arg {
                name: name(p),
                ty: p.ty.resolved,
                tag: tag(&p.tag),
                _param: Some(p),
            })
            .collect();
        let mut outs: Vec<Arg> = op
            .params
            .iter()
            .filter(|p| p.out)
            .map(|p| Arg {
                name: name(p),
                ty: p.ty.resolved,
                tag: tag(&p.tag),
                _param: Some(p),
            })
            .collect();
        if let Some(r) = &op.return_type {
            outs.insert(
                0,
                Arg {
                    name: format_ident!("ice_ret"),
                    ty: r.resolved,
                    tag: tag(&op.return_tag),
                    _param: None,
                },
            );
        }
        (ins, outs)
    }

    /// Statements writing `args` (values reachable as `#prefix name`) in Ice's order.
    fn write_args(&self, args: &[&Arg], out: &Ident, by_ref: bool) -> TokenStream {
        let mut required: Vec<&&Arg> = args.iter().filter(|a| a.tag.is_none()).collect();
        // The return value (first in `args`) goes after the out-parameters.
        if required.first().is_some_and(|a| a.name == "ice_ret") {
            let r = required.remove(0);
            required.push(r);
        }
        let mut optional: Vec<&&Arg> = args.iter().filter(|a| a.tag.is_some()).collect();
        optional.sort_by_key(|a| a.tag);
        let req = required.iter().map(|a| {
            let n = &a.name;
            if by_ref {
                quote!(#out.write(#n);)
            } else {
                quote!(#out.write(&#n);)
            }
        });
        let opt = optional.iter().map(|a| {
            let n = &a.name;
            let tag = Literal::i32_unsuffixed(a.tag.unwrap_or(0));
            quote!(#out.write_optional(#tag, #n.as_ref());)
        });
        quote!(#(#req)* #(#opt)*)
    }

    /// Statements reading `args` into locals named like them, in Ice's order.
    fn read_args(&self, args: &[&Arg], input: &Ident, path: &[String]) -> TokenStream {
        let mut required: Vec<&&Arg> = args.iter().filter(|a| a.tag.is_none()).collect();
        if required.first().is_some_and(|a| a.name == "ice_ret") {
            let r = required.remove(0);
            required.push(r);
        }
        let mut optional: Vec<&&Arg> = args.iter().filter(|a| a.tag.is_some()).collect();
        optional.sort_by_key(|a| a.tag);
        let req = required.iter().map(|a| {
            let n = &a.name;
            let t = self.arg_type(a, path);
            quote!(let #n: #t = #input.read()?;)
        });
        let opt = optional.iter().map(|a| {
            let n = &a.name;
            let t = self.arg_type(a, path);
            let tag = Literal::i32_unsuffixed(a.tag.unwrap_or(0));
            quote!(let #n: #t = #input.read_optional(#tag)?;)
        });
        quote!(#(#req)* #(#opt)*)
    }

    /// The Rust type of an operation's outputs: `()`, one type, or a tuple.
    fn outputs_type(&self, outs: &[Arg], path: &[String]) -> TokenStream {
        let ts: Vec<_> = outs.iter().map(|a| self.arg_type(a, path)).collect();
        match ts.len() {
            1 => ts[0].clone(),
            _ => quote!((#(#ts),*)),
        }
    }

    fn outputs_value(outs: &[Arg]) -> TokenStream {
        let ns: Vec<_> = outs.iter().map(|a| &a.name).collect();
        match ns.len() {
            1 => {
                let n = ns[0];
                quote!(#n)
            }
            _ => quote!((#(#ns),*)),
        }
    }

    /// Path to the tree root's `ice_registry()` from module `path`.
    fn registry_call(path: &[String]) -> TokenStream {
        let supers = path.iter().map(|_| quote!(super::));
        quote!(#(#supers)* ice_registry())
    }

    /// The format an operation's proxy method writes its parameters in.
    fn format_of(&self, iface: &Definition, op: &Operation) -> TokenStream {
        let rt = rt();
        match explicit_format(iface, op) {
            Some(true) => quote!(#rt::Format::Sliced),
            Some(false) => quote!(#rt::Format::Compact),
            None => quote!(self.proxy.communicator().default_format()),
        }
    }

    pub(super) fn interface(&self, id: DefId, def: &Definition, path: &[String]) -> TokenStream {
        let name = ident::type_name(&def.name.name);
        let prx = format_ident!("{}Prx", name);
        let servant = format_ident!("{}Servant", name);
        let trait_name = Self::trait_ident(def);
        let tid = &def.scoped;
        let chain = self.interface_chain(id);
        let mut type_ids: Vec<String> = chain
            .iter()
            .map(|i| self.ast.def(*i).scoped.clone())
            .collect();
        type_ids.push("::Ice::Object".to_string());
        type_ids[1..].sort();
        let registry = Self::registry_call(path);
        let rt = rt();
        // A derived proxy converts to each base's proxy type.
        let upcasts: Vec<TokenStream> = chain
            .iter()
            .skip(1)
            .filter(|b| self.has_service(**b))
            .map(|b| {
                let bd = self.ast.def(*b);
                let base_prx = self.path_to(
                    path,
                    &bd.scoped,
                    format_ident!("{}Prx", ident::type_name(&bd.name.name)),
                );
                quote! {
                    impl ::std::convert::From<#prx> for #base_prx {
                        fn from(p: #prx) -> Self {
                            <#base_prx as #rt::TypedProxy>::from_object_prx(p.proxy)
                        }
                    }
                }
            })
            .collect();

        let mut prx_methods = Vec::new();
        let mut errors = Vec::new();
        let mut arms = Vec::new();
        for iid in &chain {
            let idef = self.ast.def(*iid);
            let Some(idata) = self.service(*iid) else {
                continue;
            };
            for op in idata.operations {
                let (m, e) = self.proxy_method(idef, op, &name, path, &registry);
                prx_methods.push(m);
                errors.extend(e);
                arms.push(self.dispatch_arm(idef, op, path));
            }
        }
        let own_ops: Vec<TokenStream> = match self.service(id) {
            Some(d) => d
                .operations
                .iter()
                .map(|op| self.servant_method(op, path))
                .collect(),
            None => Vec::new(),
        };
        let supertraits: Vec<TokenStream> = match self.service(id) {
            Some(d) => d
                .bases
                .iter()
                .filter(|b| self.has_service(**b))
                .map(|b| {
                    let b = self.service(*b).map(|x| x.id).unwrap_or(*b);
                    let bd = self.ast.def(b);
                    self.path_to(path, &bd.scoped, Self::trait_ident(bd))
                })
                .collect(),
            None => Vec::new(),
        };
        let bounds = if supertraits.is_empty() {
            quote!(Send + Sync + 'static)
        } else {
            quote!(#(#supertraits)+* + Send + Sync + 'static)
        };
        let kind = if matches!(def.kind, DefKind::Class(_)) {
            "class"
        } else {
            "interface"
        };
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice {kind} `{}`: the servant side.", def.scoped),
        );
        let prx_doc = format!(" A proxy for Slice {kind} `{}`.", def.scoped);
        let servant_doc = format!(
            " Dispatches requests for `{}` to an implementation of [`{}`]; add it to an object adapter.",
            def.scoped, trait_name
        );
        quote! {
            #[doc = #prx_doc]
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub struct #prx {
                proxy: ::ice_proto::proxy::ObjectPrx,
            }

            impl #rt::TypedProxy for #prx {
                fn from_object_prx(proxy: ::ice_proto::proxy::ObjectPrx) -> Self {
                    Self { proxy }
                }

                fn object_prx(&self) -> &::ice_proto::proxy::ObjectPrx {
                    &self.proxy
                }
            }

            impl ::std::convert::From<#prx> for ::ice_proto::proxy::ObjectPrx {
                fn from(p: #prx) -> Self {
                    p.proxy
                }
            }

            #(#upcasts)*

            impl #prx {
                /// The Slice type id.
                pub const ICE_ID: &'static str = #tid;

                /// Uses `proxy` as this type without asking the object.
                pub fn unchecked_cast(proxy: ::ice_proto::proxy::ObjectPrx) -> Self {
                    Self { proxy }
                }

                /// Asks the object whether it implements this interface (`ice_isA`).
                pub async fn checked_cast(
                    proxy: &::ice_proto::proxy::ObjectPrx,
                ) -> ::std::result::Result<::std::option::Option<Self>, ::ice_proto::RuntimeError> {
                    ::std::result::Result::Ok(proxy.checked_cast(Self::ICE_ID).await?.map(|proxy| Self { proxy }))
                }

                /// The untyped proxy.
                pub fn ice_object(&self) -> &::ice_proto::proxy::ObjectPrx {
                    &self.proxy
                }

                #(#prx_methods)*
            }

            #(#errors)*

            #doc
            pub trait #trait_name: #bounds {
                #(#own_ops)*
            }

            #[doc = #servant_doc]
            #[derive(Debug)]
            pub struct #servant<T>(pub ::std::sync::Arc<T>);

            impl<T: #trait_name> ::ice_proto::adapter::Servant for #servant<T> {
                fn type_ids(&self) -> &[&str] {
                    &[#(#type_ids),*]
                }

                fn dispatch<'a>(
                    &'a self,
                    current: &'a ::ice_proto::adapter::Current,
                    params: ::ice_proto::protocol::Encapsulation,
                ) -> ::std::pin::Pin<::std::boxed::Box<dyn ::std::future::Future<Output = ::ice_proto::adapter::DispatchResult> + Send + 'a>> {
                    ::std::boxed::Box::pin(async move {
                        match current.operation.as_str() {
                            #(#arms)*
                            _ => {
                                let _ = params;
                                ::std::result::Result::Err(::ice_proto::adapter::DispatchError::OperationNotExist)
                            }
                        }
                    })
                }
            }
        }
    }

    fn proxy_method(
        &self,
        iface: &Definition,
        op: &Operation,
        iname: &Ident,
        path: &[String],
        registry: &TokenStream,
    ) -> (TokenStream, Option<TokenStream>) {
        let rt = rt();
        let mname = ident::field_name(&op.name.name);
        let opname = &op.name.name;
        let (ins, outs) = self.op_args(op);
        let params = ins.iter().map(|a| {
            let n = &a.name;
            let t = self.arg_type(a, path);
            quote!(#n: &#t)
        });
        let in_refs: Vec<&Arg> = ins.iter().collect();
        let write = self.write_args(&in_refs, &format_ident!("ice_out"), true);
        let out_refs: Vec<&Arg> = outs.iter().collect();
        let read = self.read_args(&out_refs, &format_ident!("ice_in"), path);
        let out_ty = self.outputs_type(&outs, path);
        let out_val = Self::outputs_value(&outs);
        // Ice's TwowayOnlyException: checked before anything is sent.
        let twoway_only = !outs.is_empty() || !op.throws.is_empty();
        let require_twoway = twoway_only.then(|| quote!(self.proxy.require_twoway(#opname)?;));
        let oneway_return = (!twoway_only).then(|| {
            quote! {
                if !self.proxy.is_twoway() {
                    let _ = results;
                    return ::std::result::Result::Ok(());
                }
            }
        });
        let write_pending = self
            .ins_use_classes(op)
            .then(|| quote!(ice_out.write_pending_classes();));
        let read_pending = self
            .outs_use_classes(op)
            .then(|| quote!(ice_in.read_pending_classes()?;));
        let mode = if op.idempotent {
            quote!(Idempotent)
        } else {
            quote!(Normal)
        };
        let format = self.format_of(iface, op);
        let throws: Vec<DefId> = op.throws.iter().filter_map(|(_, d)| *d).collect();
        let doc = doc_attrs(op.doc.as_deref(), &format!("Calls `{opname}`."));
        // No in-parameters: the empty encapsulation, without a stream.
        let encode_params = if ins.is_empty() {
            quote! {
                let params = ::ice_proto::protocol::Encapsulation::empty(self.proxy.encoding());
            }
        } else {
            quote! {
                let encoding = self.proxy.encoding();
                let params = ::ice_proto::adapter::encapsulate(encoding, #format, |ice_out| {
                    #write
                    #write_pending
                    let _ = ice_out;
                });
            }
        };
        let open_results = quote! {
            let mut ice_in = self
                .proxy
                .results_input(&results, #registry)
                .map_err(::ice_proto::RuntimeError::from)?;
        };
        // No results: an empty encapsulation needs no stream to be checked.
        let decode_results = if outs.is_empty() {
            quote! {
                if !results.is_empty_and_supported() {
                    #open_results
                    ice_in.end_encapsulation().map_err(::ice_proto::RuntimeError::from)?;
                }
            }
        } else {
            quote! {
                #open_results
                #read
                #read_pending
                ice_in.end_encapsulation().map_err(::ice_proto::RuntimeError::from)?;
            }
        };
        let (err_ty, err_item, user_arm) = if throws.is_empty() {
            (
                quote!(::ice_proto::RuntimeError),
                None,
                quote! {
                    ::ice_proto::proxy::Outcome::UserException(_) => {
                        return ::std::result::Result::Err(::ice_proto::RuntimeError::UnknownUserException(
                            ::std::string::String::from("undeclared user exception"),
                        ));
                    }
                },
            )
        } else {
            let ename = format_ident!("{}{}Error", iname, ident::type_name(&op.name.name));
            // Most derived first, so a handler gets the most specific declared type.
            let mut sorted = throws.clone();
            sorted.sort_by_key(|d| std::cmp::Reverse(self.exception_depth(*d, 0)));
            let variants: Vec<_> = sorted
                .iter()
                .map(|d| {
                    let ed = self.ast.def(*d);
                    (
                        ident::type_name(&ed.name.name),
                        self.def_path(path, *d),
                        ed.scoped.clone(),
                    )
                })
                .collect();
            let decls = variants.iter().map(|(v, p, s)| {
                let doc =
                    format!(" The declared exception `{s}`, or one derived from it, as received.");
                quote!(#[doc = #doc] #v(#rt::Thrown<#p>),)
            });
            let displays = variants
                .iter()
                .map(|(v, _, _)| quote!(Self::#v(e) => ::std::fmt::Display::fmt(e, f),));
            let to_dispatch = variants
                .iter()
                .map(|(v, _, _)| quote!(#ename::#v(e) => Self::from(e),));
            let downcasts = variants.iter().map(|(v, p, _)| {
                quote! {
                    let ex = match #rt::Thrown::<#p>::try_from_box(ex) {
                        ::std::result::Result::Ok(e) => return ::std::result::Result::Err(#ename::#v(e)),
                        ::std::result::Result::Err(ex) => ex,
                    };
                }
            });
            let edoc =
                format!(" Why `{opname}` failed: a runtime error or a declared user exception.");
            let item = quote! {
                #[doc = #edoc]
                #[derive(Debug)]
                #[non_exhaustive]
                pub enum #ename {
                    /// The invocation failed in the Ice runtime.
                    Runtime(::ice_proto::RuntimeError),
                    #(#decls)*
                }

                impl ::std::fmt::Display for #ename {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match self {
                            Self::Runtime(e) => ::std::fmt::Display::fmt(e, f),
                            #(#displays)*
                        }
                    }
                }

                impl ::std::error::Error for #ename {}

                impl ::std::convert::From<::ice_proto::RuntimeError> for #ename {
                    fn from(e: ::ice_proto::RuntimeError) -> Self {
                        Self::Runtime(e)
                    }
                }

                impl ::std::convert::From<#rt::Error> for #ename {
                    fn from(e: #rt::Error) -> Self {
                        Self::Runtime(::ice_proto::RuntimeError::from(e))
                    }
                }

                /// A servant re-throws what the call received: the user
                /// exception unchanged, a runtime error as an unknown local
                /// exception.
                impl ::std::convert::From<#ename> for ::ice_proto::adapter::DispatchError {
                    fn from(e: #ename) -> Self {
                        match e {
                            #ename::Runtime(e) => Self::from(e),
                            #(#to_dispatch)*
                        }
                    }
                }
            };
            let arm = quote! {
                ::ice_proto::proxy::Outcome::UserException(encaps) => {
                    let ex = self.proxy.read_user_exception(&encaps, #registry)?;
                    #(#downcasts)*
                    return ::std::result::Result::Err(#ename::Runtime(
                        ::ice_proto::RuntimeError::UnknownUserException(::std::string::String::from(ex.ice_id())),
                    ));
                }
            };
            (quote!(#ename), Some(item), arm)
        };
        let lints = Self::signature_lints(&mname, &ins, &outs);
        let method = quote! {
            #doc
            #lints
            pub async fn #mname(
                &self,
                #(#params,)*
                context: ::std::option::Option<&::ice_proto::protocol::Context>,
            ) -> ::std::result::Result<#out_ty, #err_ty> {
                #require_twoway
                #encode_params
                let outcome = self
                    .proxy
                    .ice_invoke(#opname, ::ice_proto::protocol::OperationMode::#mode, params, context)
                    .await?;
                let results = match outcome {
                    ::ice_proto::proxy::Outcome::Ok(encaps) => encaps,
                    #user_arm
                };
                #oneway_return
                #decode_results
                ::std::result::Result::Ok(#out_val)
            }
        };
        (method, err_item)
    }

    /// Clippy lints the Slice signature decides, allowed on that one
    /// method only: more than seven arguments (the in-parameters plus
    /// `self` and the context or current), and the tuple of several
    /// outputs (its score depends on the Slice types, so any tuple), and a
    /// Slice name that Rust's conventions would give another receiver
    /// (`fromX`, `intoX`, `toXMut` taking `&self`).
    fn signature_lints(name: &Ident, ins: &[Arg], outs: &[Arg]) -> TokenStream {
        let mut lints = Vec::new();
        let n = name.to_string();
        let n = n.strip_prefix("r#").unwrap_or(&n);
        if n.starts_with("from_")
            || n.starts_with("into_")
            || (n.starts_with("to_") && n.ends_with("_mut"))
        {
            lints.push(quote!(clippy::wrong_self_convention));
        }
        if ins.len() + 2 > 7 {
            lints.push(quote!(clippy::too_many_arguments));
        }
        if outs.len() > 1 {
            lints.push(quote!(clippy::type_complexity));
        }
        if lints.is_empty() {
            quote!()
        } else {
            quote!(#[allow(#(#lints),*)])
        }
    }

    fn exception_depth(&self, id: DefId, depth: usize) -> usize {
        if depth > 64 {
            return depth;
        }
        match &self.ast.def(id).kind {
            DefKind::Exception(e) => match e.base.as_ref().and_then(|(_, b)| *b) {
                Some(b) => self.exception_depth(b, depth + 1),
                None => depth,
            },
            _ => depth,
        }
    }

    fn servant_method(&self, op: &Operation, path: &[String]) -> TokenStream {
        let mname = ident::field_name(&op.name.name);
        let (ins, outs) = self.op_args(op);
        let params = ins.iter().map(|a| {
            let n = &a.name;
            let t = self.arg_type(a, path);
            quote!(#n: #t)
        });
        let out_ty = self.outputs_type(&outs, path);
        let doc = doc_attrs(
            op.doc.as_deref(),
            &format!(
                "Implements `{}`; a user exception is returned with `Err(e.into())` or `?`.",
                op.name.name
            ),
        );
        let lints = Self::signature_lints(&mname, &ins, &outs);
        quote! {
            #doc
            #lints
            fn #mname(
                &self,
                #(#params,)*
                current: &::ice_proto::adapter::Current,
            ) -> impl ::std::future::Future<Output = ::std::result::Result<#out_ty, ::ice_proto::adapter::DispatchError>> + Send;
        }
    }

    fn dispatch_arm(&self, iface: &Definition, op: &Operation, path: &[String]) -> TokenStream {
        // Called through the declaring trait's path: a base interface's
        // trait may live in another module, not in scope here.
        let trait_path = self.path_to(path, &iface.scoped, Self::trait_ident(iface));
        let mname = ident::field_name(&op.name.name);
        let opname = &op.name.name;
        let (ins, outs) = self.op_args(op);
        let in_refs: Vec<&Arg> = ins.iter().collect();
        let read = self.read_args(&in_refs, &format_ident!("ice_in"), path);
        let in_names = ins.iter().map(|a| &a.name);
        let out_refs: Vec<&Arg> = outs.iter().collect();
        let write = self.write_args(&out_refs, &format_ident!("ice_out"), false);
        let out_val = Self::outputs_value(&outs);
        let read_pending = self
            .ins_use_classes(op)
            .then(|| quote!(ice_in.read_pending_classes()?;));
        let write_pending = self
            .outs_use_classes(op)
            .then(|| quote!(ice_out.write_pending_classes();));
        let registry = Self::registry_call(path);
        // `current.format` is the communicator's default format; metadata
        // overrides it for the results and user exceptions alike.
        let sliced_current = explicit_format(iface, op).map(|sliced| {
            let rt = rt();
            let format = if sliced {
                quote!(#rt::Format::Sliced)
            } else {
                quote!(#rt::Format::Compact)
            };
            quote!(let current = &current.clone().with_format(#format);)
        });
        // A user exception goes out in the operation's format.
        let encoded_for = sliced_current
            .is_some()
            .then(|| quote!(.map_err(|e| e.encoded_for(current))));
        let open_params = quote! {
            let mut ice_in = current.params_input(&params, #registry)?;
        };
        // No in-parameters: an empty encapsulation needs no stream to be
        // checked; no results: the empty encapsulation, without a stream.
        let decode_params = if ins.is_empty() {
            quote! {
                if !params.is_empty_and_supported() {
                    #open_params
                    ice_in.end_encapsulation()?;
                }
            }
        } else {
            // In a block, so that the stream is dropped before the call
            // and is not kept in the dispatch future across its await.
            let names: Vec<&Ident> = ins.iter().map(|a| &a.name).collect();
            quote! {
                let (#(#names,)*) = {
                    #open_params
                    #read
                    #read_pending
                    ice_in.end_encapsulation()?;
                    (#(#names,)*)
                };
            }
        };
        let encode_results = if outs.is_empty() {
            quote! {
                ::std::result::Result::Ok(::ice_proto::protocol::Encapsulation::empty(current.encoding))
            }
        } else {
            // The results are dropped once a large reply is written, not
            // before it is sent.
            quote! {
                let ice_results = ::ice_proto::adapter::encapsulate(current.encoding, current.format, |ice_out| {
                    #write
                    #write_pending
                    let _ = ice_out;
                });
                ::std::result::Result::Ok(::ice_proto::adapter::keep_until_sent(ice_results, #out_val))
            }
        };
        quote! {
            #opname => {
                #sliced_current
                #decode_params
                let #out_val = <T as #trait_path>::#mname(&*self.0, #(#in_names,)* current).await #encoded_for?;
                #encode_results
            }
        }
    }
}

/// The format `["format:...]` metadata chooses for an operation of
/// `iface` (the operation's, else the interface's), or `None` for the
/// communicator's default (`Ice.Default.SlicedFormat`; also for
/// `["format:default"]`).
pub(super) fn explicit_format(iface: &Definition, op: &Operation) -> Option<bool> {
    let of = |md: &[Metadata]| {
        md.iter().find_map(|m| match m.value.as_str() {
            "format:sliced" => Some(Some(true)),
            "format:compact" => Some(Some(false)),
            "format:default" => Some(None),
            _ => None,
        })
    };
    of(&op.metadata).or_else(|| of(&iface.metadata)).flatten()
}

#[cfg(test)]
mod tests {
    use crate::preprocess::PreprocessOptions;

    /// Generates code for one in-memory Slice file.
    fn gen(slice: &str) -> String {
        let (sources, model) = crate::compile_str("T.ice", slice, &PreprocessOptions::default());
        let model = match model {
            Ok(m) => m,
            Err(d) => panic!("{}", d.render(&sources)),
        };
        match super::super::generate(&[&model], &sources) {
            Ok(code) => code,
            Err(e) => panic!("{e}"),
        }
    }

    /// The text of the proxy method `name`, up to the next method.
    fn method<'c>(code: &'c str, name: &str) -> &'c str {
        let start = code.find(&format!("pub async fn {name}(")).unwrap_or(0);
        let rest = &code[start..];
        let end = rest.find("\n        }\n").map_or(rest.len(), |e| e + 10);
        &rest[..end]
    }

    #[test]
    fn proxies_are_typed_everywhere() {
        let code = gen("module M { interface P { void ping(); } \
             module N { struct S { P* p; Object* o; } sequence<P*> PS; \
             dictionary<string, P*> PD; \
             interface Q extends P { P* call(P* a, optional(1) P* b, out PS c); } } }");
        for want in [
            "pub p: Option<super::PPrx>",
            "pub o: Option<_ice::ObjectPrx>",
            "pub type Ps = Vec<Option<super::PPrx>>",
            "::std::collections::BTreeMap<String, Option<super::PPrx>>",
            "a: &Option<super::PPrx>",
            "b: &Option<Option<super::PPrx>>",
            "impl ::std::convert::From<QPrx> for super::PPrx",
            "impl _ice::TypedProxy for QPrx",
            ".results_input(&results, super::ice_registry())",
            ".params_input(&params, super::super::ice_registry())",
        ] {
            assert!(code.contains(want), "missing `{want}` in\n{code}");
        }
        assert!(!code.contains("ProxyData"), "{code}");
    }

    #[test]
    fn pending_instances_follow_the_required_parameters_only() {
        let code = gen("module M { class C { int x; } interface I { \
             void req(C c); void opt(optional(1) C c); \
             C ret(); optional(2) C optret(); } }");
        assert!(method(&code, "req").contains("write_pending_classes"));
        assert!(!method(&code, "opt").contains("pending_classes"), "{code}");
        assert!(method(&code, "ret").contains("read_pending_classes"));
        assert!(!method(&code, "optret").contains("pending_classes"));
    }

    #[test]
    fn signature_lints_are_allowed_on_the_method_only() {
        let code = gen("module M { interface I { \
             void many(int a, int b, int c, int d, int e, int f); \
             int two(out int x); void few(int a); } }");
        let allowed = |lint: &str, op: &str| {
            code.contains(&format!(
                "#[allow(clippy::{lint})]\n        pub async fn {op}("
            )) && code.contains(&format!("#[allow(clippy::{lint})]\n        fn {op}("))
        };
        assert!(allowed("too_many_arguments", "many"), "{code}");
        assert!(allowed("type_complexity", "two"), "{code}");
        assert_eq!(code.matches("#[allow(clippy::").count(), 4, "{code}");
        assert!(!code.contains("#![allow"), "{code}");
    }

    #[test]
    fn format_metadata_wins_over_the_communicator_default() {
        // Each operation takes a parameter: without one, no parameters are
        // written and no format is named.
        let code = gen("module M { class C {} [\"format:sliced\"] interface I { \
             C dflt(int x); [\"format:compact\"] C compact(int x); \
             [\"format:default\"] C asked(int x); } \
             interface J { C plain(int x); } }");
        let table = [
            ("dflt", "_ice::Format::Sliced"),
            ("compact", "_ice::Format::Compact"),
            ("asked", "self.proxy.communicator().default_format()"),
            ("plain", "self.proxy.communicator().default_format()"),
        ];
        for (op, want) in table {
            assert!(
                method(&code, op).contains(want),
                "{op}: no `{want}` in\n{code}"
            );
        }
        // Dispatch: results and user exceptions follow `current.format`,
        // which the metadata overrides and the adapter otherwise sets from
        // the communicator.
        // (`dflt` and `compact` only).
        assert_eq!(code.matches(".with_format(").count(), 2, "{code}");
    }

    #[test]
    fn multiple_bases_give_upcasts_supertraits_and_one_id_each() {
        let code = gen(
            "module M { interface L { void opL(); } interface R { void opR(); } \
             interface B extends L, R { void opB(); } interface S extends L { void opS(); } \
             interface D extends B, S { void opD(); } }",
        );
        for base in ["BPrx", "SPrx", "LPrx", "RPrx"] {
            assert!(
                code.contains(&format!("impl ::std::convert::From<DPrx> for {base} {{")),
                "no upcast to {base} in\n{code}"
            );
        }
        assert!(
            code.contains("pub trait D: B + S + Send + Sync + 'static"),
            "{code}"
        );
        // The diamond's L once; the most derived first, then sorted.
        assert!(
            code.contains(
                "&[\"::M::D\", \"::Ice::Object\", \"::M::B\", \"::M::L\", \"::M::R\", \"::M::S\"]"
            ),
            "{code}"
        );
        // D's proxy has every operation of the chain exactly once.
        for op in ["op_l", "op_r", "op_b", "op_s", "op_d"] {
            let prx = &code[code.find("impl DPrx {").unwrap_or(0)..];
            let prx = &prx[..prx.find("\n    }\n").unwrap_or(prx.len())];
            assert_eq!(
                prx.matches(&format!("pub async fn {op}(")).count(),
                1,
                "{op}"
            );
        }
    }

    #[test]
    fn conversion_like_names_allow_the_receiver_lint_on_the_method_only() {
        let code = gen(
            "module M { interface I { string fromLeft(); void intoIt(); \
             void toItMut(); void toIt(); void asIt(); void fromage(); } }",
        );
        let lint = "#[allow(clippy::wrong_self_convention)]";
        for op in ["from_left", "into_it", "to_it_mut"] {
            assert!(
                code.contains(&format!("{lint}\n        pub async fn {op}("))
                    && code.contains(&format!("{lint}\n        fn {op}(")),
                "{op}: {code}"
            );
        }
        assert_eq!(code.matches(lint).count(), 6, "{code}");
    }
}
