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

    /// `args` in Ice's order: required ones (the return value, first in
    /// `args`, after the out-parameters), then optional ones by tag.
    fn wire_order<'x>(args: &'x [Arg<'x>]) -> Vec<&'x Arg<'x>> {
        let mut required: Vec<&Arg> = args.iter().filter(|a| a.tag.is_none()).collect();
        if required.first().is_some_and(|a| a.name == "ice_ret") {
            let r = required.remove(0);
            required.push(r);
        }
        let mut optional: Vec<&Arg> = args.iter().filter(|a| a.tag.is_some()).collect();
        optional.sort_by_key(|a| a.tag);
        required.extend(optional);
        required
    }

    /// How a proxy method takes an in-parameter of type `t`.
    fn param_kind(&self, t: Option<Type>, path: &[String]) -> ParamKind {
        let rt = rt();
        match t {
            Some(Type::Builtin(b)) => match b {
                Builtin::String => ParamKind::Ref(quote!(str)),
                Builtin::Object | Builtin::Value => ParamKind::Class(quote!(#rt::ClassRef)),
                Builtin::ObjectProxy => ParamKind::Proxy(quote!(#rt::ObjectPrx)),
                _ => ParamKind::Copy(self.rust_type(t, path)),
            },
            Some(Type::Proxy(id)) => {
                let def = self.ast.def(id);
                ParamKind::Proxy(self.path_to(
                    path,
                    &def.scoped,
                    format_ident!("{}Prx", ident::type_name(&def.name.name)),
                ))
            }
            Some(Type::Def(id)) => match &self.ast.def(id).kind {
                DefKind::Class(_) | DefKind::ClassForward => {
                    let class = self.def_path(path, id);
                    ParamKind::Class(quote!(#rt::Class<#class>))
                }
                DefKind::Interface(_) | DefKind::InterfaceForward => {
                    ParamKind::Class(quote!(#rt::ClassRef))
                }
                DefKind::Enum { .. } => ParamKind::Copy(self.def_path(path, id)),
                DefKind::Sequence { element } => {
                    let e = self.rust_type(element.resolved, path);
                    if matches!(element.resolved, Some(Type::Builtin(Builtin::Byte))) {
                        ParamKind::Ref(quote!([u8]))
                    } else {
                        ParamKind::Ref(quote!([#e]))
                    }
                }
                _ => ParamKind::Ref(self.def_path(path, id)),
            },
            None => ParamKind::Copy(quote!(())),
        }
    }

    /// The type a proxy method takes an in-parameter as: copied, borrowed
    /// (`&str`, `&[T]`, `&S`), or an optional reference (`Option<&Class<C>>`,
    /// `Option<&P>`); an optional parameter is `Option` of that (of
    /// `&Option<_>` for optional classes and proxies).
    fn param_type(&self, a: &Arg, path: &[String]) -> TokenStream {
        let kind = self.param_kind(a.ty, path);
        match (kind, a.tag.is_some()) {
            (ParamKind::Copy(t), false) => t,
            (ParamKind::Copy(t), true) => quote!(::std::option::Option<#t>),
            (ParamKind::Ref(t), false) => quote!(&#t),
            (ParamKind::Ref(t), true) => quote!(::std::option::Option<&#t>),
            (ParamKind::Class(t) | ParamKind::Proxy(t), false) => {
                quote!(::std::option::Option<&#t>)
            }
            (ParamKind::Class(t) | ParamKind::Proxy(t), true) => {
                quote!(::std::option::Option<&::std::option::Option<#t>>)
            }
        }
    }

    /// Expressions writing a proxy method's in-parameters in Ice's order.
    fn write_params(&self, ins: &[Arg], path: &[String]) -> Vec<TokenStream> {
        Self::wire_order(ins)
            .into_iter()
            .map(|a| {
                let n = &a.name;
                let kind = self.param_kind(a.ty, path);
                match a.tag {
                    Some(tag) => {
                        let tag = Literal::i32_unsuffixed(tag);
                        match kind {
                            ParamKind::Copy(_) => quote!(ice_o.write_optional(#tag, #n.as_ref())),
                            _ => quote!(ice_o.write_optional(#tag, #n)),
                        }
                    }
                    None => match kind {
                        ParamKind::Copy(_) | ParamKind::Class(_) => quote!(ice_o.write(&#n)),
                        ParamKind::Ref(_) => quote!(ice_o.write(#n)),
                        ParamKind::Proxy(_) => quote!(ice_o.write_proxy(#n)),
                    },
                }
            })
            .collect()
    }

    /// Expressions writing the outputs `ice_r` (an operation's results) in
    /// Ice's order.
    fn write_results(outs: &[Arg]) -> Vec<TokenStream> {
        let single = outs.len() == 1;
        Self::wire_order(outs)
            .into_iter()
            .map(|a| {
                let f = Self::output_field(a);
                match (a.tag, single) {
                    (Some(tag), true) => {
                        let tag = Literal::i32_unsuffixed(tag);
                        quote!(ice_o.write_optional(#tag, ice_r.as_ref()))
                    }
                    (Some(tag), false) => {
                        let tag = Literal::i32_unsuffixed(tag);
                        quote!(ice_o.write_optional(#tag, ice_r.#f.as_ref()))
                    }
                    (None, true) => quote!(ice_o.write(ice_r)),
                    (None, false) => quote!(ice_o.write(&ice_r.#f)),
                }
            })
            .collect()
    }

    /// A writing closure over `params` running `exprs` (the write
    /// expressions, then what `pending` adds), on one line when it can be.
    fn write_closure(
        params: TokenStream,
        mut exprs: Vec<TokenStream>,
        pending: bool,
    ) -> TokenStream {
        if pending {
            exprs.push(quote!(ice_o.write_pending_classes()));
        }
        match exprs.len() {
            0 => quote!(|#params| {}),
            1 => {
                let e = &exprs[0];
                quote!(|#params| #e)
            }
            _ => quote!(|#params| { #(#exprs;)* }),
        }
    }

    /// `args` in Ice's order, each with the expression reading it (without
    /// the `?`).
    fn read_exprs<'x>(args: &'x [Arg<'x>]) -> Vec<(&'x Arg<'x>, TokenStream)> {
        Self::wire_order(args)
            .into_iter()
            .map(|a| match a.tag {
                Some(tag) => {
                    let tag = Literal::i32_unsuffixed(tag);
                    (a, quote!(ice_i.read_optional(#tag)))
                }
                None => (a, quote!(ice_i.read())),
            })
            .collect()
    }

    /// A reading closure whose value is `value` (built from reads that use
    /// `?`), or the single read `single` itself when there is one and no
    /// pending instance follows.
    fn read_closure(value: TokenStream, single: Option<TokenStream>, pending: bool) -> TokenStream {
        match (single, pending) {
            (Some(read), false) => quote!(|ice_i| #read),
            (_, false) => quote!(|ice_i| ::std::result::Result::Ok(#value)),
            (_, true) => quote!(|ice_i| {
                let ice_v = #value;
                ice_i.read_pending_classes()?;
                ::std::result::Result::Ok(ice_v)
            }),
        }
    }

    /// The field of a result struct holding output `a`.
    fn output_field(a: &Arg) -> Ident {
        if a.name == "ice_ret" {
            format_ident!("return_value")
        } else {
            a.name.clone()
        }
    }

    /// The Rust type of an operation's outputs: `()`, the single output's
    /// type, or the generated result struct.
    fn outputs_type(
        &self,
        iface: &Definition,
        op: &Operation,
        outs: &[Arg],
        path: &[String],
    ) -> TokenStream {
        match outs.len() {
            0 => quote!(()),
            1 => self.arg_type(&outs[0], path),
            _ => self.path_to(path, &iface.scoped, Self::op_type(iface, op, "Result")),
        }
    }

    /// `{Interface}{Operation}{suffix}`: the result struct and the error
    /// enum of an operation, named after the interface that declares it.
    fn op_type(iface: &Definition, op: &Operation, suffix: &str) -> Ident {
        format_ident!(
            "{}{}{}",
            ident::type_name(&iface.name.name),
            ident::type_name(&op.name.name),
            suffix
        )
    }

    /// The error type of an operation: `RuntimeError`, or its generated enum.
    fn error_type(&self, iface: &Definition, op: &Operation, path: &[String]) -> TokenStream {
        if op.throws.iter().any(|(_, d)| d.is_some()) {
            self.path_to(path, &iface.scoped, Self::op_type(iface, op, "Error"))
        } else {
            let rt = rt();
            quote!(#rt::RuntimeError)
        }
    }

    /// Path to the tree root's `ice_registry` function from module `path`.
    fn registry_fn(path: &[String]) -> TokenStream {
        let supers = path.iter().map(|_| quote!(super::));
        quote!(#(#supers)* ice_registry)
    }

    /// What the runtime is told of `op` (`codegen::Op`), written from
    /// module `path`.
    fn op_info(
        iface: &Definition,
        op: &Operation,
        ins: &[Arg],
        outs: &[Arg],
        path: &[String],
    ) -> TokenStream {
        let rt = rt();
        let name = &op.name.name;
        let registry = Self::registry_fn(path);
        let mut chain = vec![quote!(#rt::Op::new(#name, #registry))];
        if op.idempotent {
            chain.push(quote!(idempotent()));
        }
        if ins.is_empty() {
            chain.push(quote!(no_params()));
        }
        if !outs.is_empty() {
            chain.push(quote!(returns()));
        }
        if op.throws.iter().any(|(_, d)| d.is_some()) {
            chain.push(quote!(throws()));
        }
        if let Some(sliced) = explicit_format(iface, op) {
            chain.push(quote!(format(#sliced)));
        }
        quote!(#(#chain).*)
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

        // Each operation is written once, in the interface declaring it;
        // the proxy and dispatcher of a derived interface call that.
        let mut prx_methods = Vec::new();
        let mut op_items = Vec::new();
        let mut arms = Vec::new();
        for iid in &chain {
            let idef = self.ast.def(*iid);
            let Some(idata) = self.service(*iid) else {
                continue;
            };
            let own = *iid == chain[0];
            for op in idata.operations {
                prx_methods.push(self.proxy_method(idef, op, path, own));
                if own {
                    op_items.extend(self.op_items(idef, op, path));
                    arms.push(self.dispatch_arm(idef, op, path));
                }
            }
            if !own && !idata.operations.is_empty() {
                // The operations of a base: its dispatcher has them.
                let names = idata.operations.iter().map(|op| &op.name.name);
                let base = self.path_to(
                    path,
                    &idef.scoped,
                    format_ident!("{}Servant", ident::type_name(&idef.name.name)),
                );
                arms.push(quote! {
                    #(#names)|* => #base::<T>::ice_dispatch(ice_imp, current, params).await,
                });
            }
        }
        let own_ops: Vec<TokenStream> = match self.service(id) {
            Some(d) => d
                .operations
                .iter()
                .map(|op| self.servant_method(def, op, path))
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

            #(#op_items)*

            #doc
            pub trait #trait_name: #bounds {
                #(#own_ops)*
            }

            #[doc = #servant_doc]
            #[derive(Debug)]
            pub struct #servant<T>(pub T);

            impl<T: #trait_name> #servant<T> {
                /// The dispatcher of `imp`, ready for `ObjectAdapter::add`.
                pub fn new(imp: T) -> ::std::sync::Arc<Self> {
                    ::std::sync::Arc::new(Self(imp))
                }

                /// Dispatches a request for one of the operations of
                /// `ice_imp` (those of the bases through their dispatchers).
                #[doc(hidden)]
                pub async fn ice_dispatch(ice_imp: &T, current: &#rt::Current, params: #rt::Encapsulation) -> #rt::DispatchResult {
                    match current.operation.as_str() {
                        #(#arms)*
                        _ => ::std::result::Result::Err(#rt::DispatchError::OperationNotExist),
                    }
                }
            }

            impl<T: #trait_name> ::ice_proto::adapter::Servant for #servant<T> {
                fn type_ids(&self) -> &[&str] {
                    &[#(#type_ids),*]
                }

                fn dispatch<'a>(
                    &'a self,
                    current: &'a #rt::Current,
                    params: #rt::Encapsulation,
                ) -> ::std::pin::Pin<::std::boxed::Box<dyn #rt::Future<Output = #rt::DispatchResult> + Send + 'a>> {
                    ::std::boxed::Box::pin(Self::ice_dispatch(&self.0, current, params))
                }
            }
        }
    }

    /// The proxy method of `op` (declared by `iface`): in the declaring
    /// proxy (`own`) it marshals and calls; in a derived proxy it calls the
    /// declaring proxy's method, so the operation is written once and has
    /// one error type wherever it is called from.
    fn proxy_method(
        &self,
        iface: &Definition,
        op: &Operation,
        path: &[String],
        own: bool,
    ) -> TokenStream {
        let mname = ident::field_name(&op.name.name);
        let (ins, outs) = self.op_args(op);
        let params: Vec<TokenStream> = ins
            .iter()
            .map(|a| {
                let n = &a.name;
                let t = self.param_type(a, path);
                quote!(#n: #t)
            })
            .collect();
        let names: Vec<&Ident> = ins.iter().map(|a| &a.name).collect();
        let out_ty = self.outputs_type(iface, op, &outs, path);
        let err_ty = self.error_type(iface, op, path);
        let doc = doc_attrs(op.doc.as_deref(), &format!("Calls `{}`.", op.name.name));
        let lints = Self::signature_lints(&mname, &ins, true, 0);
        let body = if own {
            let rt = rt();
            let info = Self::op_info(iface, op, &ins, &outs, path);
            let write = if ins.is_empty() {
                quote!(|_| {})
            } else {
                Self::write_closure(
                    quote!(ice_o),
                    self.write_params(&ins, path),
                    self.ins_use_classes(op),
                )
            };
            let reads = Self::read_exprs(&outs);
            let read = match reads.as_slice() {
                [] => quote!(|_| ::std::result::Result::Ok(())),
                [(_, read)] => Self::read_closure(
                    quote!(#read?),
                    Some(read.clone()),
                    self.outs_use_classes(op),
                ),
                _ => {
                    let ty = self.outputs_type(iface, op, &outs, path);
                    let fields = reads.iter().map(|(a, read)| {
                        let f = Self::output_field(a);
                        quote!(#f: #read?)
                    });
                    Self::read_closure(
                        quote!(#ty { #(#fields),* }),
                        None,
                        self.outs_use_classes(op),
                    )
                }
            };
            quote!(#rt::invoke(&self.proxy, #info, #write, #read).await)
        } else {
            let declaring = self.path_to(
                path,
                &iface.scoped,
                format_ident!("{}Prx", ident::type_name(&iface.name.name)),
            );
            quote!(#declaring::unchecked_cast(self.proxy.clone()).#mname(#(#names),*).await)
        };
        quote! {
            #doc
            #lints
            pub async fn #mname(&self, #(#params),*) -> ::std::result::Result<#out_ty, #err_ty> {
                #body
            }
        }
    }

    /// The items an operation declares once: the result struct of several
    /// outputs, the error enum of declared exceptions.
    fn op_items(&self, iface: &Definition, op: &Operation, path: &[String]) -> Vec<TokenStream> {
        let rt = rt();
        let opname = &op.name.name;
        let (_, outs) = self.op_args(op);
        let mut items = Vec::new();
        if outs.len() > 1 {
            let sname = Self::op_type(iface, op, "Result");
            let fields = outs.iter().map(|a| {
                let f = Self::output_field(a);
                let t = self.arg_type(a, path);
                let doc = if a.name == "ice_ret" {
                    " The return value.".to_string()
                } else {
                    format!(
                        " The out-parameter `{}`.",
                        a.name.to_string().trim_end_matches('_')
                    )
                };
                quote!(#[doc = #doc] pub #f: #t,)
            });
            let doc = format!(" The outputs of `{opname}`.");
            items.push(quote! {
                #[doc = #doc]
                #[derive(Debug, Clone, PartialEq, Default)]
                pub struct #sname {
                    #(#fields)*
                }
            });
        }
        let throws: Vec<DefId> = op.throws.iter().filter_map(|(_, d)| *d).collect();
        if !throws.is_empty() {
            let ename = Self::op_type(iface, op, "Error");
            // Most derived first, so a handler gets the most specific declared type.
            let mut sorted = throws;
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
            let listed = variants.iter().map(|(v, p, _)| quote!(#v(#p)));
            let edoc =
                format!(" Why `{opname}` failed: a runtime error or a declared user exception.");
            items.push(quote! {
                #[doc = #edoc]
                #[derive(Debug)]
                #[non_exhaustive]
                pub enum #ename {
                    /// The invocation failed in the Ice runtime.
                    Runtime(::ice_proto::RuntimeError),
                    #(#decls)*
                }

                #rt::operation_error!(#ename { #(#listed),* });
            });
        }
        items
    }

    /// Clippy lints the Slice signature decides, allowed on that one
    /// function only: more than seven arguments (the in-parameters, the
    /// receiver or proxy, and `extra`: the servant's `current`), and, for a
    /// method (`receiver`), a Slice name that Rust's conventions would give
    /// another receiver (`fromX`, `intoX`, `toXMut` taking `&self`).
    fn signature_lints(name: &Ident, ins: &[Arg], receiver: bool, extra: usize) -> TokenStream {
        let mut lints = Vec::new();
        let n = name.to_string();
        let n = n.strip_prefix("r#").unwrap_or(&n);
        if receiver
            && (n.starts_with("from_")
                || n.starts_with("into_")
                || (n.starts_with("to_") && n.ends_with("_mut")))
        {
            lints.push(quote!(clippy::wrong_self_convention));
        }
        if ins.len() + 1 + extra > 7 {
            lints.push(quote!(clippy::too_many_arguments));
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

    fn servant_method(&self, iface: &Definition, op: &Operation, path: &[String]) -> TokenStream {
        let mname = ident::field_name(&op.name.name);
        let (ins, outs) = self.op_args(op);
        let params = ins.iter().map(|a| {
            let n = &a.name;
            let t = self.arg_type(a, path);
            quote!(#n: #t)
        });
        let out_ty = self.outputs_type(iface, op, &outs, path);
        let doc = doc_attrs(
            op.doc.as_deref(),
            &format!(
                "Implements `{}`; a user exception is returned with `Err(e.into())` or `?`.",
                op.name.name
            ),
        );
        let lints = Self::signature_lints(&mname, &ins, true, 1);
        let rt = rt();
        quote! {
            #doc
            #lints
            fn #mname(
                &self,
                #(#params,)*
                current: &#rt::Current,
            ) -> impl #rt::Future<Output = ::std::result::Result<#out_ty, #rt::DispatchError>> + Send;
        }
    }

    /// The match arm dispatching `op` of this interface: reads the
    /// parameters, calls the implementation `ice_imp`, writes the results.
    fn dispatch_arm(&self, iface: &Definition, op: &Operation, path: &[String]) -> TokenStream {
        let rt = rt();
        // Called through the declaring trait's path, as written from here.
        let trait_path = self.path_to(path, &iface.scoped, Self::trait_ident(iface));
        let mname = ident::field_name(&op.name.name);
        let opname = &op.name.name;
        let (ins, outs) = self.op_args(op);
        let info = Self::op_info(iface, op, &ins, &outs, path);
        let names: Vec<&Ident> = ins.iter().map(|a| &a.name).collect();
        // `current.format` is the communicator's default format; metadata
        // overrides it for the results and user exceptions alike.
        let format = explicit_format(iface, op)
            .is_some()
            .then(|| quote!(let current = &*#rt::current_for(current, ICE_OP);));
        let reads = Self::read_exprs(&ins);
        let pending = self.ins_use_classes(op);
        let read_params = match reads.as_slice() {
            [] => quote!(#rt::no_params(current, &params, ICE_OP)?;),
            [(a, read)] => {
                let n = &a.name;
                let read = Self::read_closure(quote!(#read?), Some(read.clone()), pending);
                quote!(let #n = #rt::read_params(current, &params, ICE_OP, #read)?;)
            }
            _ => {
                // Read in Ice's order into a tuple of that order.
                let wire: Vec<&Ident> = reads.iter().map(|(a, _)| &a.name).collect();
                let values = reads.iter().map(|(_, read)| quote!(#read?));
                let read = Self::read_closure(quote!((#(#values),*)), None, pending);
                quote!(let (#(#wire),*) = #rt::read_params(current, &params, ICE_OP, #read)?;)
            }
        };
        let write = if outs.is_empty() {
            quote!(|_, _| {})
        } else {
            Self::write_closure(
                quote!(ice_o, ice_r),
                Self::write_results(&outs),
                self.outs_use_classes(op),
            )
        };
        quote! {
            #opname => {
                const ICE_OP: #rt::Op = #info;
                #format
                #read_params
                let ice_result = <T as #trait_path>::#mname(ice_imp, #(#names,)* current).await;
                #rt::reply(current, ICE_OP, ice_result, #write)
            }
        }
    }
}

/// How a proxy method takes an in-parameter (see `Gen::param_type`).
enum ParamKind {
    /// By value: numbers, `bool`, enums.
    Copy(TokenStream),
    /// By reference to this type: `str`, `[T]`, structs, dictionaries.
    Ref(TokenStream),
    /// A class instance, as `Option<&T>`.
    Class(TokenStream),
    /// A proxy, as `Option<&T>`.
    Proxy(TokenStream),
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

    /// The text of the proxy method of operation `name` (in the first
    /// proxy declaring it), up to the next method.
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
            "a: Option<&super::PPrx>",
            "b: Option<&Option<super::PPrx>>",
            "ice_o.write_proxy(a);",
            "ice_o.write_optional(1, b);",
            "impl ::std::convert::From<QPrx> for super::PPrx",
            "impl _ice::TypedProxy for QPrx",
            "super::super::ice_registry,",
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
             void more(int a, int b, int c, int d, int e, int f, int g); \
             int two(out int x); void few(int a); } }");
        let allowed =
            |lint: &str, f: &str| code.contains(&format!("#[allow(clippy::{lint})]\n        {f}("));
        // Servant methods take `&self` and `current` besides the parameters;
        // proxy methods `&self`.
        assert!(allowed("too_many_arguments", "fn many"), "{code}");
        assert!(allowed("too_many_arguments", "fn more"), "{code}");
        assert!(allowed("too_many_arguments", "pub async fn more"), "{code}");
        assert_eq!(code.matches("#[allow(clippy::").count(), 3, "{code}");
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
            ("dflt", Some("format(true)")),
            ("compact", Some("format(false)")),
            ("asked", None),
            ("plain", None),
        ];
        for (op, want) in table {
            let m = method(&code, op);
            match want {
                Some(want) => assert!(m.contains(want), "{op}: no `{want}` in\n{code}"),
                None => assert!(!m.contains("format("), "{op}: a format in\n{code}"),
            }
        }
        // Dispatch: results and user exceptions follow `current.format`,
        // which the metadata overrides and the adapter otherwise sets from
        // the communicator.
        // (`dflt` and `compact` only).
        assert_eq!(code.matches("_ice::current_for(").count(), 2, "{code}");
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
