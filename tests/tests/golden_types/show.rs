//! A printer producing `golden.cpp`'s value notation (the manifest's
//! `value` column) from Rust values: `{a, b}` for structs, `[..]` for
//! sequences, `bytes(n):hex`, `#n ::Type{..}` for a class instance the first
//! time and `@n` after, `unset` for optional values (always in 1.0), floats
//! as C's `%.9g` and doubles as `%.17g`.

use std::collections::BTreeMap;

use ice_proto::encoding::proxy::InvocationMode;
use ice_proto::encoding::{
    Bytes, Class, ClassRef, EncodingVersion, Endpoint, ProxyData, UserException, Value,
};

/// Accumulates the printed text of one case.
pub struct Printer {
    /// Whether the case is read in encoding 1.0 (optionals print `unset`).
    pub e10: bool,
    seen: Vec<(ClassRef, usize)>,
    firsts: Vec<bool>,
    /// The text so far.
    pub out: String,
}

impl Printer {
    /// A printer for encoding 1.0 (`e10`) or 1.1.
    pub fn new(e10: bool) -> Self {
        Self {
            e10,
            seen: Vec::new(),
            firsts: Vec::new(),
            out: String::new(),
        }
    }

    /// Appends text.
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Opens `{`.
    pub fn open(&mut self) {
        self.out.push('{');
        self.firsts.push(true);
    }

    /// Prints one item of the innermost `{...}`.
    pub fn item(&mut self, v: &dyn Show) {
        if let Some(first) = self.firsts.last_mut() {
            if !*first {
                self.out.push_str(", ");
            }
            *first = false;
        }
        v.show(self);
    }

    /// Closes `}`.
    pub fn close(&mut self) {
        self.firsts.pop();
        self.out.push('}');
    }
}

/// A value printable in the golden notation.
pub trait Show {
    /// Prints `self`.
    fn show(&self, p: &mut Printer);
}

/// C's `%.<prec>g`.
pub fn format_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if exp < -4 || exp >= prec as i32 {
        let m = strip(mant.to_string());
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip(format!("{:.*}", decimals, v))
    }
}

impl Show for bool {
    fn show(&self, p: &mut Printer) {
        p.raw(if *self { "true" } else { "false" });
    }
}

macro_rules! show_int {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self, p: &mut Printer) {
                p.raw(&self.to_string());
            }
        }
    )*};
}
show_int!(u8, i16, i32, i64);

impl Show for f32 {
    fn show(&self, p: &mut Printer) {
        p.raw(&format_g(f64::from(*self), 9));
        p.raw("f");
    }
}

impl Show for f64 {
    fn show(&self, p: &mut Printer) {
        p.raw(&format_g(*self, 17));
    }
}

/// Quotes like `golden.cpp`: `"` and `\` escaped, control bytes as `\xNN`.
pub fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl Show for String {
    fn show(&self, p: &mut Printer) {
        p.raw(&quote(self));
    }
}

impl Show for Bytes {
    fn show(&self, p: &mut Printer) {
        p.raw(&format!("bytes({}):", self.len()));
        for b in self.iter() {
            p.raw(&format!("{b:02x}"));
        }
    }
}

impl<T: Show> Show for Vec<T> {
    fn show(&self, p: &mut Printer) {
        p.raw("[");
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                p.raw(", ");
            }
            v.show(p);
        }
        p.raw("]");
    }
}

impl<K: Show, V: Show> Show for BTreeMap<K, V> {
    fn show(&self, p: &mut Printer) {
        p.raw("{");
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                p.raw(", ");
            }
            k.show(p);
            p.raw(": ");
            v.show(p);
        }
        p.raw("}");
    }
}

/// An optional value: `unset` when absent or read in 1.0.
impl<T: Show> Show for Option<T> {
    fn show(&self, p: &mut Printer) {
        match self {
            Some(v) if !p.e10 => v.show(p),
            _ => p.raw("unset"),
        }
    }
}

/// A class reference (not an optional): `null`, `@n` or `#n ::Type{..}`.
pub struct ClassShow<'a>(pub Option<&'a ClassRef>);

impl Show for ClassShow<'_> {
    fn show(&self, p: &mut Printer) {
        let Some(r) = self.0 else {
            p.raw("null");
            return;
        };
        if let Some((_, n)) = p.seen.iter().find(|(s, _)| ClassRef::ptr_eq(s, r)) {
            let n = *n;
            p.raw(&format!("@{n}"));
            return;
        }
        let n = p.seen.len() + 1;
        p.seen.push((r.clone(), n));
        p.raw(&format!(
            "#{n} {}",
            r.ice_id().unwrap_or_else(|| "<pending>".into())
        ));
        p.open();
        use super::*;
        macro_rules! try_class {
            ($($t:ty),*) => {
                $(if let Some(v) = r.downcast::<$t>() {
                    v.read().show_fields(p);
                } else)* {
                    p.close();
                    p.raw("?");
                    p.firsts.push(true);
                }
            };
        }
        try_class!(
            MoreDerived,
            Derived,
            OptDerived,
            Base,
            Pair,
            Node,
            Optionals,
            CompactDerived,
            Compact,
            PreservedKnown,
            Preserved,
            Empty
        );
        p.close();
    }
}

impl Show for Option<ClassRef> {
    fn show(&self, p: &mut Printer) {
        ClassShow(self.as_ref()).show(p);
    }
}

impl<T: Value> Show for Option<Class<T>> {
    fn show(&self, p: &mut Printer) {
        ClassShow(self.as_ref().map(Class::as_class_ref)).show(p);
    }
}

/// A user exception: `exception ::Type{..}`.
pub struct ExcShow<'a>(pub &'a dyn UserException);

impl Show for ExcShow<'_> {
    fn show(&self, p: &mut Printer) {
        use super::*;
        p.raw(&format!("exception {}", self.0.ice_id()));
        p.open();
        let e = self.0;
        if let Some(v) = e.downcast_ref::<DerivedError>() {
            v.show_fields(p);
        } else if let Some(v) = e.downcast_ref::<OptError>() {
            v.show_fields(p);
        } else if let Some(v) = e.downcast_ref::<BaseError>() {
            v.show_fields(p);
        }
        p.close();
    }
}

fn ident_needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c == ' ' || c == ':' || c == '@' || c == '"' || c == '\'' || c == '\t')
}

fn escape_ident_part(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '/' | '\\' | '\'' | '"' => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

fn host(h: &str) -> String {
    if h.contains(':') {
        format!("\"{h}\"")
    } else {
        h.to_string()
    }
}

fn timeout(t: i32) -> String {
    if t == -1 {
        "infinite".into()
    } else {
        t.to_string()
    }
}

fn base64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                o.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// `Ice::Communicator::proxyToString` for the proxies of the fixtures.
pub fn proxy_to_string(p: &ProxyData, e10: bool) -> String {
    let mut id = escape_ident_part(&p.identity.name);
    if !p.identity.category.is_empty() {
        id = format!("{}/{}", escape_ident_part(&p.identity.category), id);
    }
    let mut s = if ident_needs_quotes(&id) {
        format!("\"{id}\"")
    } else {
        id
    };
    if !p.facet.is_empty() {
        s.push_str(&format!(" -f {}", p.facet));
    }
    s.push_str(match p.mode {
        InvocationMode::Twoway => " -t",
        InvocationMode::Oneway => " -o",
        InvocationMode::BatchOneway => " -O",
        InvocationMode::Datagram => " -d",
        InvocationMode::BatchDatagram => " -D",
    });
    if p.secure {
        s.push_str(" -s");
    }
    let enc = if e10 {
        EncodingVersion::V1_0
    } else {
        p.encoding
    };
    if p.protocol.major != 1 || p.protocol.minor != 0 {
        s.push_str(&format!(" -p {}.{}", p.protocol.major, p.protocol.minor));
    }
    s.push_str(&format!(" -e {enc}"));
    if p.endpoints.is_empty() {
        if !p.adapter_id.is_empty() {
            let a = &p.adapter_id;
            if ident_needs_quotes(a) {
                s.push_str(&format!(" @ \"{a}\""));
            } else {
                s.push_str(&format!(" @ {a}"));
            }
        }
        return s;
    }
    for e in &p.endpoints {
        s.push(':');
        let ip = |kind: &str, e: &ice_proto::encoding::IpEndpoint| {
            let mut t = format!(
                "{kind} -h {} -p {} -t {}",
                host(&e.host),
                e.port,
                timeout(e.timeout)
            );
            if e.compress {
                t.push_str(" -z");
            }
            t
        };
        match e {
            Endpoint::Tcp(e) => s.push_str(&ip("tcp", e)),
            Endpoint::Ssl(e) => s.push_str(&ip("ssl", e)),
            Endpoint::Udp(e) => {
                s.push_str(&format!("udp -h {} -p {}", host(&e.host), e.port));
                if e.compress {
                    s.push_str(" -z");
                }
            }
            Endpoint::Ws(w) => s.push_str(&format!("{} -r {}", ip("ws", &w.ip), w.resource)),
            Endpoint::Wss(w) => s.push_str(&format!("{} -r {}", ip("wss", &w.ip), w.resource)),
            Endpoint::Opaque(o) => s.push_str(&format!(
                "opaque -t {} -e {} -v {}",
                o.kind,
                o.encoding,
                base64(&o.bytes)
            )),
        }
    }
    s
}

impl Show for Option<ProxyData> {
    fn show(&self, p: &mut Printer) {
        match self {
            None => p.raw("null-proxy"),
            Some(x) => {
                let s = proxy_to_string(x, p.e10);
                p.raw(&format!("proxy({})", quote(&s)));
            }
        }
    }
}

impl Show for Option<ice_proto::proxy::ObjectPrx> {
    fn show(&self, p: &mut Printer) {
        self.as_ref().map(|x| x.data().clone()).show(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_g_format() {
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(-std::f64::consts::E, 17), "-2.7182818284590451");
        assert_eq!(format_g(f64::MAX, 17), "1.7976931348623157e+308");
        assert_eq!(format_g(1e10, 9), "1e+10");
        assert_eq!(format_g(0.001, 17), "0.001");
        assert_eq!(format_g(f64::from(f32::MIN_POSITIVE), 9), "1.17549435e-38");
    }
}
