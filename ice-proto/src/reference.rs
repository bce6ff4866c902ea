//! Stringified proxies: parsing `"ident -opts:endpoint:endpoint"` or
//! `"ident -opts @ adapter"` into [`ProxyData`], and printing it back the
//! way ZeroC Ice prints it.
//!
//! The rules follow what ZeroC Ice 3.7 does, checked on the table in
//! `tests/golden/proxies/`: identities and facets with Ice's escapes
//! (`\n`, `\x41`, `\101`, `\u00e9`, `\/` in identities, unknown escapes
//! kept as written), quoting with `"` or `'`, the options `-f -t -o -O -d
//! -D -s -e -p`, the endpoint types `tcp ssl udp ws wss opaque default`
//! with their options, and the defaults a communicator applies (timeout,
//! encoding, default protocol and host).
//!
//! This module works on text only; resolving hosts and connecting is the
//! communicator's job.

use std::fmt::Write as _;

use bytes::Bytes;
use thiserror::Error;

use crate::encoding::proxy::InvocationMode;
use crate::encoding::ProtocolVersion;
use crate::encoding::{
    Decode, EncodingVersion, Endpoint, Identity, InputStream, IpEndpoint, OpaqueEndpoint,
    OutputStream, ProxyData, UdpEndpoint, WsEndpoint,
};

/// Which of Ice's exceptions a parse failure corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// `Ice::ProxyParseException`: the proxy text around the endpoints.
    Proxy,
    /// `Ice::EndpointParseException`: an endpoint.
    Endpoint,
    /// `Ice::IdentityParseException`: the identity's escapes or separators.
    Identity,
    /// `Ice::IllegalIdentityException`: a category with an empty name.
    IllegalIdentity,
    /// `Ice::UnmarshalOutOfBoundsException`: an opaque endpoint of a known
    /// type whose bytes do not decode.
    Unmarshal,
}

impl ParseErrorKind {
    /// The name of the ZeroC Ice exception this corresponds to.
    #[must_use]
    pub fn ice_name(self) -> &'static str {
        match self {
            Self::Proxy => "ProxyParseException",
            Self::Endpoint => "EndpointParseException",
            Self::Identity => "IdentityParseException",
            Self::IllegalIdentity => "IllegalIdentityException",
            Self::Unmarshal => "UnmarshalOutOfBoundsException",
        }
    }
}

/// A stringified proxy or endpoint that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {reason} in `{input}`", kind.ice_name())]
pub struct ParseError {
    /// Which Ice exception this is.
    pub kind: ParseErrorKind,
    /// What was wrong.
    pub reason: String,
    /// The text being parsed.
    pub input: String,
}

/// The defaults a communicator applies while parsing (from `Ice.Default.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDefaults {
    /// `Ice.Default.Host`: used by endpoints that give no `-h`.
    pub host: Option<String>,
    /// `Ice.Default.Protocol`: what the `default` endpoint type means.
    pub protocol: String,
    /// `Ice.Default.Timeout`: the endpoint timeout when none is given.
    pub timeout: i32,
    /// `Ice.Default.EncodingVersion`: the proxy encoding when no `-e`.
    pub encoding: EncodingVersion,
}

impl Default for ParseDefaults {
    fn default() -> Self {
        Self {
            host: None,
            protocol: "tcp".to_owned(),
            timeout: 60_000,
            encoding: EncodingVersion::V1_1,
        }
    }
}

fn err(kind: ParseErrorKind, reason: impl Into<String>, input: &str) -> ParseError {
    ParseError {
        kind,
        reason: reason.into(),
        input: input.to_owned(),
    }
}

const WS: &[char] = &[' ', '\t', '\n', '\r'];

/// Parses a stringified proxy. `Ok(None)` is the null proxy (an empty
/// string or an empty identity).
///
/// # Errors
/// A [`ParseError`] whose kind names the exception ZeroC Ice raises.
pub fn parse(text: &str, defaults: &ParseDefaults) -> Result<Option<ProxyData>, ParseError> {
    let mut cur = Cursor { s: text, pos: 0 };
    cur.skip_ws();
    if cur.at_end() {
        return if text.is_empty() {
            Ok(None)
        } else {
            Err(err(
                ParseErrorKind::Proxy,
                "no non-whitespace characters",
                text,
            ))
        };
    }
    let idstr = cur
        .token(&[' ', '\t', '\n', '\r', ':', '@'])
        .map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?;
    let identity = parse_identity(&idstr).map_err(|(kind, reason)| err(kind, reason, text))?;
    if identity.name.is_empty() {
        if !identity.category.is_empty() {
            return Err(err(
                ParseErrorKind::IllegalIdentity,
                "empty name with a category",
                text,
            ));
        }
        cur.skip_ws();
        return if cur.at_end() {
            Ok(None)
        } else {
            Err(err(
                ParseErrorKind::Proxy,
                "invalid characters after identity",
                text,
            ))
        };
    }
    let mut proxy = ProxyData::new("");
    proxy.identity = identity;
    proxy.encoding = defaults.encoding;
    loop {
        cur.skip_ws();
        match cur.peek() {
            None => return Ok(Some(proxy)),
            Some(':') => {
                cur.bump();
                proxy.endpoints = parse_endpoint_list(cur.rest(), defaults, text)?;
                return Ok(Some(proxy));
            }
            Some('@') => {
                cur.bump();
                cur.skip_ws();
                if cur.at_end() {
                    return Err(err(ParseErrorKind::Proxy, "missing adapter id", text));
                }
                let raw = cur
                    .token(WS)
                    .map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?;
                cur.skip_ws();
                if !cur.at_end() {
                    return Err(err(
                        ParseErrorKind::Proxy,
                        "invalid trailing characters",
                        text,
                    ));
                }
                let adapter = unescape(&raw, None)
                    .map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?;
                if adapter.is_empty() {
                    return Err(err(ParseErrorKind::Proxy, "empty adapter id", text));
                }
                proxy.adapter_id = adapter;
                return Ok(Some(proxy));
            }
            Some(_) => parse_option(&mut cur, &mut proxy, text)?,
        }
    }
}

/// Parses one proxy option (`-f facet`, `-t`, ...) at the cursor.
fn parse_option(cur: &mut Cursor<'_>, proxy: &mut ProxyData, text: &str) -> Result<(), ParseError> {
    let option = cur
        .token(&[' ', '\t', '\n', '\r', ':', '@'])
        .map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?;
    let mut chars = option.chars();
    let flag = match (chars.next(), chars.next(), chars.next()) {
        (Some('-'), Some(c), None) => c,
        _ => {
            return Err(err(
                ParseErrorKind::Proxy,
                format!("expected a proxy option but found `{option}`"),
                text,
            ))
        }
    };
    // An argument follows unless the next thing is another option, an
    // endpoint list, an adapter id or the end.
    cur.skip_ws();
    let argument = match cur.peek() {
        None | Some('-' | ':' | '@') => None,
        Some(_) => Some(
            cur.token(&[' ', '\t', '\n', '\r', ':', '@'])
                .map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?,
        ),
    };
    let need = |argument: Option<String>| {
        argument.ok_or_else(|| {
            err(
                ParseErrorKind::Proxy,
                format!("no argument provided for -{flag} option"),
                text,
            )
        })
    };
    let none = |argument: &Option<String>| match argument {
        Some(a) => Err(err(
            ParseErrorKind::Proxy,
            format!("unexpected argument `{a}` provided for -{flag} option"),
            text,
        )),
        None => Ok(()),
    };
    match flag {
        'f' => {
            let raw = need(argument)?;
            proxy.facet =
                unescape(&raw, None).map_err(|reason| err(ParseErrorKind::Proxy, reason, text))?;
        }
        't' | 'o' | 'O' | 'd' | 'D' => {
            none(&argument)?;
            proxy.mode = match flag {
                't' => InvocationMode::Twoway,
                'o' => InvocationMode::Oneway,
                'O' => InvocationMode::BatchOneway,
                'd' => InvocationMode::Datagram,
                _ => InvocationMode::BatchDatagram,
            };
        }
        's' => {
            none(&argument)?;
            proxy.secure = true;
        }
        'e' => {
            let raw = need(argument)?;
            let (major, minor) = parse_version(&raw).ok_or_else(|| {
                err(
                    ParseErrorKind::Proxy,
                    format!("invalid encoding version `{raw}`"),
                    text,
                )
            })?;
            proxy.encoding = EncodingVersion { major, minor };
        }
        'p' => {
            let raw = need(argument)?;
            let (major, minor) = parse_version(&raw).ok_or_else(|| {
                err(
                    ParseErrorKind::Proxy,
                    format!("invalid protocol version `{raw}`"),
                    text,
                )
            })?;
            proxy.protocol = ProtocolVersion { major, minor };
        }
        other => {
            return Err(err(
                ParseErrorKind::Proxy,
                format!("unknown option `-{other}`"),
                text,
            ))
        }
    }
    Ok(())
}

/// Parses `major.minor` with each part a byte.
fn parse_version(s: &str) -> Option<(u8, u8)> {
    let (a, b) = s.split_once('.')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A position in the text being parsed.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if WS.contains(&c)) {
            self.bump();
        }
    }
    /// A token: a quoted string (quotes removed, escaped quotes kept
    /// escaped for `unescape`), or the text up to one of `stops`.
    fn token(&mut self, stops: &[char]) -> Result<String, String> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let start = self.pos;
                let mut escaped = false;
                while let Some(c) = self.peek() {
                    if c == q && !escaped {
                        let tok = self.s.get(start..self.pos).unwrap_or("").to_owned();
                        self.bump();
                        return Ok(tok);
                    }
                    escaped = c == '\\' && !escaped;
                    self.bump();
                }
                Err("mismatched quotes".to_owned())
            }
            _ => {
                let start = self.pos;
                while matches!(self.peek(), Some(c) if !stops.contains(&c)) {
                    self.bump();
                }
                Ok(self.s.get(start..self.pos).unwrap_or("").to_owned())
            }
        }
    }
}

/// Splits `category/name` at the unescaped `/` and unescapes both parts.
fn parse_identity(s: &str) -> Result<Identity, (ParseErrorKind, String)> {
    let mut slash = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if c == '/' && !escaped {
            if slash.is_some() {
                return Err((
                    ParseErrorKind::Identity,
                    format!("unescaped '/' in identity `{s}`"),
                ));
            }
            slash = Some(i);
        }
        escaped = c == '\\' && !escaped;
    }
    let id =
        |part: &str| unescape(part, Some('/')).map_err(|reason| (ParseErrorKind::Identity, reason));
    Ok(match slash {
        None => Identity {
            name: id(s)?,
            category: String::new(),
        },
        Some(i) => Identity {
            category: id(s.get(..i).unwrap_or(""))?,
            name: id(s.get(i + 1..).unwrap_or(""))?,
        },
    })
}

/// Undoes Ice's string escapes. `special` is a character that may be
/// escaped (`/` in identities). Raw control characters are rejected.
fn unescape(s: &str, special: Option<char>) -> Result<String, String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let push = |bytes: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            if (c as u32) < 0x20 || c as u32 == 0x7f {
                return Err(format!("invalid character {:#04x} in `{s}`", c as u32));
            }
            push(&mut bytes, c);
            continue;
        }
        let Some(e) = chars.next() else {
            // A lone trailing backslash stands for itself.
            bytes.push(b'\\');
            break;
        };
        match e {
            '\\' | '\'' | '"' | '?' => push(&mut bytes, e),
            'a' => bytes.push(7),
            'b' => bytes.push(8),
            'f' => bytes.push(12),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(11),
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let mut v: u32 = 0;
                for _ in 0..n {
                    let d = chars
                        .next()
                        .and_then(|d| d.to_digit(16))
                        .ok_or_else(|| format!("invalid universal character name in `{s}`"))?;
                    v = v * 16 + d;
                }
                let ch = char::from_u32(v)
                    .ok_or_else(|| format!("invalid universal character name in `{s}`"))?;
                push(&mut bytes, ch);
            }
            'x' => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    return Err(format!("invalid \\x escape in `{s}`"));
                }
                bytes.push(u8::try_from(v).unwrap_or(u8::MAX));
            }
            '0'..='7' => {
                let mut v: u32 = e.to_digit(8).unwrap_or(0);
                let mut n = 1;
                while n < 3 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                let b =
                    u8::try_from(v).map_err(|_| format!("octal value out of range in `{s}`"))?;
                bytes.push(b);
            }
            other if Some(other) == special => push(&mut bytes, other),
            other => {
                bytes.push(b'\\');
                push(&mut bytes, other);
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("escapes in `{s}` do not form UTF-8"))
}

/// Escapes a string as Ice prints identities, facets and adapter ids.
fn escape(s: &str, special: Option<char>, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if Some(c) == special => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Appends `s`, wrapped in double quotes when it holds a space, `:` or `@`.
fn push_quoted(s: &str, out: &mut String) {
    if s.contains([' ', ':', '@']) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// An identity as Ice prints it (`category/name`, escaped, not quoted).
#[must_use]
pub fn identity_to_string(id: &Identity) -> String {
    let mut s = String::new();
    if !id.category.is_empty() {
        escape(&id.category, Some('/'), &mut s);
        s.push('/');
    }
    escape(&id.name, Some('/'), &mut s);
    s
}

/// Parses an identity as `Ice::stringToIdentity` does.
///
/// # Errors
/// [`ParseErrorKind::Identity`] for bad escapes or separators.
pub fn string_to_identity(s: &str) -> Result<Identity, ParseError> {
    parse_identity(s).map_err(|(kind, reason)| err(kind, reason, s))
}

/// Prints a proxy as ZeroC Ice's `proxyToString` does.
#[must_use]
pub fn to_string(proxy: &ProxyData) -> String {
    let mut s = String::new();
    push_quoted(&identity_to_string(&proxy.identity), &mut s);
    if !proxy.facet.is_empty() {
        s.push_str(" -f ");
        let mut f = String::new();
        escape(&proxy.facet, None, &mut f);
        push_quoted(&f, &mut s);
    }
    s.push_str(match proxy.mode {
        InvocationMode::Twoway => " -t",
        InvocationMode::Oneway => " -o",
        InvocationMode::BatchOneway => " -O",
        InvocationMode::Datagram => " -d",
        InvocationMode::BatchDatagram => " -D",
    });
    if proxy.secure {
        s.push_str(" -s");
    }
    if proxy.protocol != ProtocolVersion::V1_0 {
        let _ = write!(s, " -p {}.{}", proxy.protocol.major, proxy.protocol.minor);
    }
    let _ = write!(s, " -e {}.{}", proxy.encoding.major, proxy.encoding.minor);
    if proxy.endpoints.is_empty() {
        if !proxy.adapter_id.is_empty() {
            s.push_str(" @ ");
            let mut a = String::new();
            escape(&proxy.adapter_id, None, &mut a);
            push_quoted(&a, &mut s);
        }
    } else {
        for e in &proxy.endpoints {
            s.push(':');
            s.push_str(&endpoint_to_string(e));
        }
    }
    s
}

fn push_ip(e: &IpEndpoint, s: &mut String) {
    if !e.host.is_empty() {
        s.push_str(" -h ");
        if e.host.contains(':') {
            let _ = write!(s, "\"{}\"", e.host);
        } else {
            s.push_str(&e.host);
        }
    }
    let _ = write!(s, " -p {}", e.port);
    if !e.source_address.is_empty() {
        let _ = write!(s, " --sourceAddress {}", e.source_address);
    }
    if e.timeout == -1 {
        s.push_str(" -t infinite");
    } else {
        let _ = write!(s, " -t {}", e.timeout);
    }
    if e.compress {
        s.push_str(" -z");
    }
}

/// Prints an endpoint as Ice does (`tcp -h host -p port -t timeout`).
#[must_use]
pub fn endpoint_to_string(e: &Endpoint) -> String {
    let mut s = String::new();
    match e {
        Endpoint::Tcp(ip) | Endpoint::Ssl(ip) => {
            s.push_str(if matches!(e, Endpoint::Tcp(_)) {
                "tcp"
            } else {
                "ssl"
            });
            push_ip(ip, &mut s);
        }
        Endpoint::Ws(ws) | Endpoint::Wss(ws) => {
            s.push_str(if matches!(e, Endpoint::Ws(_)) {
                "ws"
            } else {
                "wss"
            });
            push_ip(&ws.ip, &mut s);
            let _ = write!(s, " -r {}", ws.resource);
        }
        Endpoint::Udp(u) => {
            s.push_str("udp");
            if !u.host.is_empty() {
                s.push_str(" -h ");
                if u.host.contains(':') {
                    let _ = write!(s, "\"{}\"", u.host);
                } else {
                    s.push_str(&u.host);
                }
            }
            let _ = write!(s, " -p {}", u.port);
            if !u.interface.is_empty() {
                let _ = write!(s, " --interface {}", u.interface);
            }
            if let Some(ttl) = u.ttl {
                let _ = write!(s, " --ttl {ttl}");
            }
            if u.connect {
                s.push_str(" -c");
            }
            if u.compress {
                s.push_str(" -z");
            }
        }
        Endpoint::Opaque(o) => {
            let _ = write!(
                s,
                "opaque -t {} -e {}.{} -v {}",
                o.kind,
                o.encoding.major,
                o.encoding.minor,
                base64_encode(&o.bytes)
            );
        }
    }
    s
}

/// Splits the text after the first `:` into endpoints and parses each.
/// Endpoints of unknown types are dropped with a warning unless none is
/// left, as Ice does.
fn parse_endpoint_list(
    list: &str,
    defaults: &ParseDefaults,
    text: &str,
) -> Result<Vec<Endpoint>, ParseError> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in list.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ':' => {
                pieces.push(&list[start..i]);
                start = i + 1;
            }
            None => {}
        }
    }
    if quote.is_some() {
        return Err(err(ParseErrorKind::Endpoint, "mismatched quotes", text));
    }
    pieces.push(&list[start..]);
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for piece in pieces {
        match parse_endpoint(piece, defaults)? {
            Some(e) => out.push(e),
            None => unknown.push(piece.trim().to_owned()),
        }
    }
    if out.is_empty() {
        return Err(err(
            ParseErrorKind::Endpoint,
            format!("invalid endpoint `{}`", unknown.join(":")),
            text,
        ));
    }
    if !unknown.is_empty() {
        tracing::warn!(endpoints = %unknown.join(":"), "proxy contains unknown endpoints");
    }
    Ok(out)
}

/// Splits endpoint text into arguments, honouring quotes.
fn endpoint_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = Cursor { s, pos: 0 };
    loop {
        cur.skip_ws();
        if cur.at_end() {
            return Ok(args);
        }
        args.push(cur.token(WS)?);
    }
}

/// Parses one endpoint. `Ok(None)` for an unknown endpoint type.
///
/// # Errors
/// [`ParseErrorKind::Endpoint`] for a malformed endpoint.
pub fn parse_endpoint(s: &str, defaults: &ParseDefaults) -> Result<Option<Endpoint>, ParseError> {
    let fail = |reason: String| err(ParseErrorKind::Endpoint, reason, s);
    let args = endpoint_args(s).map_err(fail)?;
    let Some((kind, opts)) = args.split_first() else {
        return Err(fail("value has no non-whitespace characters".to_owned()));
    };
    let kind = if kind == "default" {
        defaults.protocol.as_str()
    } else {
        kind.as_str()
    };
    // Options and their arguments: an argument is the next word unless it
    // starts with '-'.
    let mut pairs: Vec<(&str, Option<&str>)> = Vec::new();
    let mut i = 0;
    while i < opts.len() {
        let opt = opts[i].as_str();
        if !opt.starts_with('-') {
            return Err(fail(format!("unrecognized argument `{opt}`")));
        }
        let arg = opts
            .get(i + 1)
            .map(String::as_str)
            .filter(|a| !a.starts_with('-'));
        i += if arg.is_some() { 2 } else { 1 };
        pairs.push((opt, arg));
    }
    let need = |opt: &str, arg: Option<&str>| {
        arg.map(str::to_owned)
            .ok_or_else(|| fail(format!("no argument provided for {opt} option")))
    };
    let host = |h: String| {
        if h == "*" {
            Err(fail("`-h *` not valid for proxy endpoint".to_owned()))
        } else {
            Ok(h)
        }
    };
    let port = |p: &str| {
        p.parse::<i32>()
            .ok()
            .filter(|p| (0..=65535).contains(p))
            .ok_or_else(|| fail(format!("invalid port value `{p}`")))
    };
    let flag = |opt: &str, arg: Option<&str>| match arg {
        Some(a) => Err(fail(format!(
            "unexpected argument `{a}` provided for {opt} option"
        ))),
        None => Ok(()),
    };
    match kind {
        "tcp" | "ssl" | "ws" | "wss" => {
            let mut ip = IpEndpoint {
                timeout: defaults.timeout,
                ..IpEndpoint::default()
            };
            let mut resource = None;
            let ws = kind == "ws" || kind == "wss";
            for (opt, arg) in pairs {
                match opt {
                    "-h" => ip.host = host(need(opt, arg)?)?,
                    "-p" => ip.port = port(&need(opt, arg)?)?,
                    "-t" => {
                        let t = need(opt, arg)?;
                        ip.timeout = if t == "infinite" {
                            -1
                        } else {
                            t.parse::<i32>()
                                .ok()
                                .filter(|t| *t >= 1)
                                .ok_or_else(|| fail(format!("invalid timeout value `{t}`")))?
                        };
                    }
                    "-z" => {
                        flag(opt, arg)?;
                        ip.compress = true;
                    }
                    "--sourceAddress" => ip.source_address = need(opt, arg)?,
                    "-r" if ws => resource = Some(need(opt, arg)?),
                    _ => return Err(fail(format!("unrecognized argument `{opt}`"))),
                }
            }
            if ip.host.is_empty() {
                if let Some(h) = &defaults.host {
                    ip.host.clone_from(h);
                }
            }
            Ok(Some(match kind {
                "tcp" => Endpoint::Tcp(ip),
                "ssl" => Endpoint::Ssl(ip),
                _ => {
                    let w = WsEndpoint {
                        ip,
                        resource: resource.unwrap_or_else(|| "/".to_owned()),
                    };
                    if kind == "ws" {
                        Endpoint::Ws(w)
                    } else {
                        Endpoint::Wss(w)
                    }
                }
            }))
        }
        "udp" => {
            let mut u = UdpEndpoint::default();
            for (opt, arg) in pairs {
                match opt {
                    "-h" => u.host = host(need(opt, arg)?)?,
                    "-p" => u.port = port(&need(opt, arg)?)?,
                    "-c" => {
                        flag(opt, arg)?;
                        u.connect = true;
                    }
                    "-z" => {
                        flag(opt, arg)?;
                        u.compress = true;
                    }
                    "--ttl" => {
                        let t = need(opt, arg)?;
                        u.ttl = Some(
                            t.parse::<i32>()
                                .map_err(|_| fail(format!("invalid TTL value `{t}`")))?,
                        );
                    }
                    "--interface" => u.interface = need(opt, arg)?,
                    _ => return Err(fail(format!("unrecognized argument `{opt}`"))),
                }
            }
            if u.host.is_empty() {
                if let Some(h) = &defaults.host {
                    u.host.clone_from(h);
                }
            }
            Ok(Some(Endpoint::Udp(u)))
        }
        "opaque" => parse_opaque(&pairs, s).map(Some),
        _ => Ok(None),
    }
}

/// `opaque -t TYPE [-e X.Y] -v BASE64`. A known type is decoded into its
/// real endpoint, as Ice does.
fn parse_opaque(pairs: &[(&str, Option<&str>)], s: &str) -> Result<Endpoint, ParseError> {
    let fail = |reason: String| err(ParseErrorKind::Endpoint, reason, s);
    let mut kind: Option<i16> = None;
    let mut encoding = EncodingVersion::V1_0;
    let mut value: Option<Vec<u8>> = None;
    for (opt, arg) in pairs {
        let arg = arg.ok_or_else(|| fail(format!("no argument provided for {opt} option")))?;
        match *opt {
            "-t" => {
                if kind.is_some() {
                    return Err(fail("multiple -t options".to_owned()));
                }
                let t = arg
                    .parse::<i32>()
                    .map_err(|_| fail(format!("invalid type value `{arg}`")))?;
                kind = Some(
                    i16::try_from(t)
                        .ok()
                        .filter(|t| *t >= 0)
                        .ok_or_else(|| fail(format!("type value `{arg}` out of range")))?,
                );
            }
            "-e" => {
                let (major, minor) = parse_version(arg)
                    .ok_or_else(|| fail(format!("invalid encoding version `{arg}`")))?;
                encoding = EncodingVersion { major, minor };
            }
            "-v" => {
                if value.is_some() {
                    return Err(fail("multiple -v options".to_owned()));
                }
                value = Some(base64_decode(arg).map_err(fail)?);
            }
            other => return Err(fail(format!("unrecognized argument `{other}`"))),
        }
    }
    let kind = kind.ok_or_else(|| fail("no -t option".to_owned()))?;
    let bytes = Bytes::from(value.ok_or_else(|| fail("no -v option".to_owned()))?);
    if (1..=5).contains(&kind) {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.write_i16(kind);
        out.write_encapsulation(encoding, &bytes);
        let mut input = InputStream::new(out.finish(), EncodingVersion::V1_1);
        return Endpoint::decode(&mut input)
            .map_err(|e| err(ParseErrorKind::Unmarshal, e.to_string(), s));
    }
    Ok(Endpoint::Opaque(OpaqueEndpoint {
        kind,
        encoding,
        bytes,
    }))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with padding, as Ice prints opaque endpoint values.
fn base64_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                s.push(char::from(B64[((n >> shift) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Ice's lenient base64 reading: groups of four characters, missing ones
/// read as `A`, a `=` in the third or fourth place ends the group early,
/// any other `=` reads as the value 63; other characters are errors.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let chars: Vec<u8> = s.bytes().collect();
    if let Some(bad) = chars
        .iter()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')))
    {
        return Err(format!("invalid base64 character `{}`", char::from(*bad)));
    }
    let mut out = Vec::with_capacity(chars.len() / 4 * 3 + 3);
    for group in chars.chunks(4) {
        let c = [
            group[0],
            group.get(1).copied().unwrap_or(b'A'),
            group.get(2).copied().unwrap_or(b'A'),
            group.get(3).copied().unwrap_or(b'A'),
        ];
        let v = c.map(value);
        out.push(((v[0] << 2) | (v[1] >> 4)) as u8);
        if c[2] != b'=' {
            out.push((((v[1] & 0xf) << 4) | (v[2] >> 2)) as u8);
        }
        if c[3] != b'=' {
            out.push((((v[2] & 0x3) << 6) | v[3]) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> Result<Option<String>, ParseErrorKind> {
        parse(s, &ParseDefaults::default())
            .map(|p| p.map(|p| to_string(&p)))
            .map_err(|e| e.kind)
    }

    #[test]
    fn a_few_proxies_print_as_ice_prints_them() {
        let table: &[(&str, Result<Option<&str>, ParseErrorKind>)] = &[
            (
                "hello:tcp -h 127.0.0.1 -p 10000",
                Ok(Some("hello -t -e 1.1:tcp -h 127.0.0.1 -p 10000 -t 60000")),
            ),
            (
                "cat/id -f fac -o @ adapter",
                Ok(Some("cat/id -f fac -o -e 1.1 @ adapter")),
            ),
            ("", Ok(None)),
            ("hello -x", Err(ParseErrorKind::Proxy)),
            ("hello:tcp -p 70000", Err(ParseErrorKind::Endpoint)),
            ("a/b/c", Err(ParseErrorKind::Identity)),
            ("cat/", Err(ParseErrorKind::IllegalIdentity)),
        ];
        for (input, want) in table {
            assert_eq!(round(input), want.map(|o| o.map(str::to_owned)), "{input}");
        }
    }

    #[test]
    fn base64_is_as_lenient_as_ice() {
        assert_eq!(
            base64_encode(&base64_decode("ab==").unwrap_or_default()),
            "aQ=="
        );
        assert_eq!(
            base64_encode(&base64_decode("a=b").unwrap_or_default()),
            "a/bA"
        );
        assert_eq!(
            base64_encode(&base64_decode("abcde").unwrap_or_default()),
            "abcdeAAA"
        );
        assert!(base64_decode("!!!!").is_err());
    }
}
