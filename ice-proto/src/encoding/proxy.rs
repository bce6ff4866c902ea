//! Proxies as data: what a proxy looks like inside a message.
//!
//! A proxy is an identity (a null proxy has an empty name), a facet path of
//! zero or one strings, an invocation mode, a secure flag, in encoding 1.1
//! the protocol and encoding versions, and either endpoints or an adapter
//! id (an indirect proxy). Each endpoint is a `short` type and an
//! encapsulation of type-specific data. Known types (tcp, ssl, udp, ws,
//! wss) are decoded; any other type is kept as an [`OpaqueEndpoint`] and
//! written back byte for byte. Turning these into live proxies is the
//! communicator's job, not this module's.

use bytes::Bytes;

use super::error::{Error, Result};
use super::{Decode, Encode, EncodingVersion, InputStream, OutputStream, ProtocolVersion};

/// An Ice object identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// The name; empty only in a null proxy.
    pub name: String,
    /// The category, often empty.
    pub category: String,
}

impl Encode for Identity {
    fn encode(&self, out: &mut OutputStream) {
        out.write_string(&self.name);
        out.write_string(&self.category);
    }
}

impl Decode for Identity {
    const MIN_WIRE_SIZE: usize = 2;
    fn decode(input: &mut InputStream) -> Result<Self> {
        Ok(Self {
            name: input.read_str("identity name")?.to_owned(),
            category: input.read_str("identity category")?.to_owned(),
        })
    }
}

/// How a proxy invokes (`Ice::Reference::Mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InvocationMode {
    /// Request and reply.
    #[default]
    Twoway = 0,
    /// Request only.
    Oneway = 1,
    /// Batched requests.
    BatchOneway = 2,
    /// Over UDP.
    Datagram = 3,
    /// Batched over UDP.
    BatchDatagram = 4,
}

impl InvocationMode {
    fn from_wire(v: u8) -> Result<Self> {
        Ok(match v {
            0 => Self::Twoway,
            1 => Self::Oneway,
            2 => Self::BatchOneway,
            3 => Self::Datagram,
            4 => Self::BatchDatagram,
            _ => {
                return Err(Error::InvalidProxy {
                    reason: "invocation mode out of range",
                    value: i64::from(v),
                })
            }
        })
    }
}

/// A TCP or SSL endpoint's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Timeout in milliseconds (-1: none).
    pub timeout: i32,
    /// Whether compression is on.
    pub compress: bool,
    /// `--sourceAddress`: the local address to connect from. Not sent on
    /// the wire; kept so a stringified proxy prints back as it was given.
    pub source_address: String,
}

/// A UDP endpoint's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Whether compression is on.
    pub compress: bool,
    /// `-c`: connect the socket. Not sent on the wire.
    pub connect: bool,
    /// `--ttl`: the multicast time-to-live. Not sent on the wire.
    pub ttl: Option<i32>,
    /// `--interface`: the multicast interface. Not sent on the wire.
    pub interface: String,
}

/// A WebSocket endpoint: its underlying TCP/SSL data and resource path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsEndpoint {
    /// The underlying transport's data.
    pub ip: IpEndpoint,
    /// The resource path, e.g. `/`.
    pub resource: String,
}

/// An endpoint of a type this implementation does not decode, kept intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueEndpoint {
    /// The endpoint type.
    pub kind: i16,
    /// The encoding of its encapsulation.
    pub encoding: EncodingVersion,
    /// The encapsulation body.
    pub bytes: Bytes,
}

/// A proxy endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp` (type 1).
    Tcp(IpEndpoint),
    /// `ssl` (type 2).
    Ssl(IpEndpoint),
    /// `udp` (type 3).
    Udp(UdpEndpoint),
    /// `ws` (type 4).
    Ws(WsEndpoint),
    /// `wss` (type 5).
    Wss(WsEndpoint),
    /// Any other type, kept as bytes.
    Opaque(OpaqueEndpoint),
}

impl Endpoint {
    /// The endpoint type code on the wire.
    pub fn kind(&self) -> i16 {
        match self {
            Self::Tcp(_) => 1,
            Self::Ssl(_) => 2,
            Self::Udp(_) => 3,
            Self::Ws(_) => 4,
            Self::Wss(_) => 5,
            Self::Opaque(o) => o.kind,
        }
    }
}

fn write_ip(e: &IpEndpoint, out: &mut OutputStream) {
    out.write_string(&e.host);
    out.write_i32(e.port);
    out.write_i32(e.timeout);
    out.write_bool(e.compress);
}

fn read_ip(input: &mut InputStream) -> Result<IpEndpoint> {
    Ok(IpEndpoint {
        host: input.read_str("endpoint host")?.to_owned(),
        port: input.read_i32()?,
        timeout: input.read_i32()?,
        compress: input.read_bool()?,
        ..IpEndpoint::default()
    })
}

impl Encode for Endpoint {
    fn encode(&self, out: &mut OutputStream) {
        out.write_i16(self.kind());
        if let Self::Opaque(o) = self {
            out.write_encapsulation(o.encoding, &o.bytes);
            return;
        }
        let encoding = out.encoding();
        out.start_encapsulation(encoding, out.format());
        match self {
            Self::Tcp(e) | Self::Ssl(e) => write_ip(e, out),
            Self::Udp(e) => {
                out.write_string(&e.host);
                out.write_i32(e.port);
                if encoding.is_1_0() {
                    out.write_u8(ProtocolVersion::V1_0.major);
                    out.write_u8(ProtocolVersion::V1_0.minor);
                    out.write_u8(EncodingVersion::V1_0.major);
                    out.write_u8(EncodingVersion::V1_0.minor);
                }
                out.write_bool(e.compress);
            }
            Self::Ws(e) | Self::Wss(e) => {
                write_ip(&e.ip, out);
                out.write_string(&e.resource);
            }
            Self::Opaque(_) => {}
        }
        out.end_encapsulation();
    }
}

impl Decode for Endpoint {
    const MIN_WIRE_SIZE: usize = 8;
    fn decode(input: &mut InputStream) -> Result<Self> {
        let kind = input.read_i16()?;
        if !(1..=5).contains(&kind) {
            let (encoding, bytes) = input.read_encapsulation()?;
            return Ok(Self::Opaque(OpaqueEndpoint {
                kind,
                encoding,
                bytes,
            }));
        }
        let encoding = input.start_encapsulation()?;
        let e = match kind {
            1 => Self::Tcp(read_ip(input)?),
            2 => Self::Ssl(read_ip(input)?),
            3 => {
                let host = input.read_str("endpoint host")?.to_owned();
                let port = input.read_i32()?;
                if encoding.is_1_0() {
                    input.skip(4, "udp protocol and encoding")?;
                }
                let compress = input.read_bool()?;
                Self::Udp(UdpEndpoint {
                    host,
                    port,
                    compress,
                    ..UdpEndpoint::default()
                })
            }
            4 | 5 => {
                let ip = read_ip(input)?;
                let resource = input.read_str("ws resource")?.to_owned();
                let ws = WsEndpoint { ip, resource };
                if kind == 4 {
                    Self::Ws(ws)
                } else {
                    Self::Wss(ws)
                }
            }
            _ => {
                return Err(Error::InvalidProxy {
                    reason: "endpoint type",
                    value: i64::from(kind),
                })
            }
        };
        input.end_encapsulation()?;
        Ok(e)
    }
}

/// A non-null proxy as it travels in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyData {
    /// The target object's identity (its name is not empty).
    pub identity: Identity,
    /// The facet; empty for the default facet.
    pub facet: String,
    /// The invocation mode.
    pub mode: InvocationMode,
    /// Whether only secure endpoints may be used.
    pub secure: bool,
    /// Protocol version (written in encoding 1.1 only; 1.0 when read from 1.0).
    pub protocol: ProtocolVersion,
    /// Encoding version (written in encoding 1.1 only; 1.0 when read from 1.0).
    pub encoding: EncodingVersion,
    /// The endpoints; empty for an indirect proxy.
    pub endpoints: Vec<Endpoint>,
    /// The adapter id of an indirect proxy (written only without endpoints).
    pub adapter_id: String,
}

impl ProxyData {
    /// A twoway proxy to `name` with no endpoints and no adapter id
    /// (a well-known proxy), protocol 1.0 and encoding 1.1.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            identity: Identity {
                name: name.into(),
                category: String::new(),
            },
            facet: String::new(),
            mode: InvocationMode::Twoway,
            secure: false,
            protocol: ProtocolVersion::V1_0,
            encoding: EncodingVersion::V1_1,
            endpoints: Vec::new(),
            adapter_id: String::new(),
        }
    }
}

impl Encode for ProxyData {
    fn encode(&self, out: &mut OutputStream) {
        self.identity.encode(out);
        if self.facet.is_empty() {
            out.write_size(0);
        } else {
            out.write_size(1);
            out.write_string(&self.facet);
        }
        out.write_u8(self.mode as u8);
        out.write_bool(self.secure);
        if !out.encoding().is_1_0() {
            out.write_u8(self.protocol.major);
            out.write_u8(self.protocol.minor);
            out.write_u8(self.encoding.major);
            out.write_u8(self.encoding.minor);
        }
        out.write_size(self.endpoints.len());
        if self.endpoints.is_empty() {
            out.write_string(&self.adapter_id);
        } else {
            for e in &self.endpoints {
                e.encode(out);
            }
        }
    }
}

/// A nullable proxy (`Object*`): `None` is written as an empty identity.
impl Encode for Option<ProxyData> {
    fn encode(&self, out: &mut OutputStream) {
        match self {
            Some(p) => p.encode(out),
            None => Identity::default().encode(out),
        }
    }
}

impl Decode for Option<ProxyData> {
    const MIN_WIRE_SIZE: usize = 2;
    fn decode(input: &mut InputStream) -> Result<Self> {
        let identity = Identity::decode(input)?;
        if identity.name.is_empty() {
            return Ok(None);
        }
        let facets = input.read_count("proxy facet path", 1)?;
        let facet = match facets {
            0 => String::new(),
            1 => input.read_str("proxy facet")?.to_owned(),
            n => {
                return Err(Error::InvalidProxy {
                    reason: "facet path longer than one",
                    value: n as i64,
                })
            }
        };
        let mode = InvocationMode::from_wire(input.read_u8()?)?;
        let secure = input.read_bool()?;
        let (protocol, encoding) = if input.encoding().is_1_0() {
            (ProtocolVersion::V1_0, EncodingVersion::V1_0)
        } else {
            let p = ProtocolVersion {
                major: input.read_u8()?,
                minor: input.read_u8()?,
            };
            let e = EncodingVersion {
                major: input.read_u8()?,
                minor: input.read_u8()?,
            };
            (p, e)
        };
        let count = input.read_count("proxy endpoints", Endpoint::MIN_WIRE_SIZE)?;
        let mut endpoints = Vec::with_capacity(count);
        let mut adapter_id = String::new();
        if count == 0 {
            adapter_id = input.read_str("proxy adapter id")?.to_owned();
        } else {
            for _ in 0..count {
                endpoints.push(Endpoint::decode(input)?);
            }
        }
        Ok(Some(ProxyData {
            identity,
            facet,
            mode,
            secure,
            protocol,
            encoding,
            endpoints,
            adapter_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn round(p: Option<ProxyData>, enc: EncodingVersion) -> Vec<u8> {
        let mut out = OutputStream::new(enc);
        p.encode(&mut out);
        let mut input = InputStream::from_slice(out.as_slice(), enc);
        assert_eq!(Option::<ProxyData>::decode(&mut input), Ok(p));
        assert!(input.is_at_end());
        out.into_vec()
    }

    #[test]
    fn null_proxy_is_an_empty_identity() {
        assert_eq!(round(None, EncodingVersion::V1_1), vec![0, 0]);
    }

    #[test]
    fn tcp_proxy_1_1() {
        let mut p = ProxyData::new("a");
        p.endpoints.push(Endpoint::Tcp(IpEndpoint {
            host: "h".into(),
            port: 10000,
            timeout: -1,
            compress: false,
            ..IpEndpoint::default()
        }));
        let bytes = round(Some(p), EncodingVersion::V1_1);
        assert_eq!(
            bytes,
            vec![
                1, b'a', 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 17, 0, 0, 0, 1, 1, 1, b'h', 0x10, 0x27,
                0, 0, 0xff, 0xff, 0xff, 0xff, 0
            ]
        );
    }

    #[test]
    fn udp_1_0_and_opaque_round_trip() {
        let mut p = ProxyData::new("u");
        p.encoding = EncodingVersion::V1_0;
        p.endpoints.push(Endpoint::Udp(UdpEndpoint {
            host: "h".into(),
            port: 1,
            compress: true,
            ..UdpEndpoint::default()
        }));
        p.endpoints.push(Endpoint::Opaque(OpaqueEndpoint {
            kind: 99,
            encoding: EncodingVersion::V1_1,
            bytes: Bytes::from_static(&[9, 9]),
        }));
        round(Some(p), EncodingVersion::V1_0);
    }

    #[test]
    fn bad_mode_and_facets_fail() {
        let mut input = InputStream::from_slice(&[1, b'a', 0, 0, 9, 0], EncodingVersion::V1_0);
        assert!(matches!(
            Option::<ProxyData>::decode(&mut input),
            Err(Error::InvalidProxy { .. })
        ));
        let mut input =
            InputStream::from_slice(&[1, b'a', 0, 2, 0, 0, 0, 0], EncodingVersion::V1_0);
        assert!(matches!(
            Option::<ProxyData>::decode(&mut input),
            Err(Error::InvalidProxy { .. })
        ));
    }
}
