//! The golden cases of `golden.cpp`, rebuilt with the generated types: how each
//! case is framed, the values it writes, what a reader reads back, and the
//! helpers that encode, decode and print them. Shared by the golden and the
//! robustness tests.

use std::collections::BTreeMap;

use super::show::{ExcShow, Printer, Show};
use super::*;
use ice_proto::encoding::proxy::InvocationMode;
use ice_proto::encoding::{
    Class, ClassRef, Decode, Encode, EncodingVersion, Endpoint, Error, Format, Identity,
    InputStream, IpEndpoint, OpaqueEndpoint, OutputStream, ProxyData, Result, UdpEndpoint,
    UserException, WsEndpoint,
};
use interop_tests::golden::Encoding;

/// One parameter of a case: written, read back as the same type, printed.
pub trait Param {
    fn write(&self, out: &mut OutputStream);
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>>;
    fn show(&self, p: &mut Printer);
}

/// A plain value written with `Encode`.
pub struct V<T>(T);

impl<T: Encode + Decode + Show + 'static> Param for V<T> {
    fn write(&self, out: &mut OutputStream) {
        self.0.encode(out);
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        Ok(Box::new(V(T::decode(input)?)))
    }
    fn show(&self, p: &mut Printer) {
        self.0.show(p);
    }
}

/// An optional parameter.
pub struct Tagged<T>(i32, Option<T>);

impl<T: Encode + Decode + Show + 'static> Param for Tagged<T> {
    fn write(&self, out: &mut OutputStream) {
        out.write_optional(self.0, self.1.as_ref());
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        Ok(Box::new(Tagged(self.0, input.read_optional::<T>(self.0)?)))
    }
    fn show(&self, p: &mut Printer) {
        p.raw(&format!("tag{}=", self.0));
        self.1.show(p);
    }
}

/// A bare size.
pub struct Size(usize);

impl Param for Size {
    fn write(&self, out: &mut OutputStream) {
        out.write_size(self.0);
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        Ok(Box::new(Size(input.read_size("size")?)))
    }
    fn show(&self, p: &mut Printer) {
        p.raw(&format!("size({})", self.0));
    }
}

/// A user exception.
pub struct Exc(Box<dyn UserException>);

impl Param for Exc {
    fn write(&self, out: &mut OutputStream) {
        out.write_exception(self.0.as_ref());
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        Ok(Box::new(Exc(input.read_exception()?)))
    }
    fn show(&self, p: &mut Printer) {
        ExcShow(self.0.as_ref()).show(p);
    }
}

/// A nested encapsulation holding an int and a string.
pub struct Nest(EncodingVersion, i32, String);

impl Param for Nest {
    fn write(&self, out: &mut OutputStream) {
        out.start_encapsulation(self.0, Format::Compact);
        out.write_i32(self.1);
        out.write_string(&self.2);
        out.end_encapsulation();
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        let v = input.start_encapsulation()?;
        let a = input.read_i32()?;
        let s = input.read_string()?;
        input.end_encapsulation()?;
        Ok(Box::new(Nest(v, a, s)))
    }
    fn show(&self, p: &mut Printer) {
        p.raw(&format!("encaps({}){{{}, ", self.0, self.1));
        self.2.show(p);
        p.raw("}");
    }
}

/// An empty encapsulation.
pub struct EmptyEncaps(EncodingVersion);

impl Param for EmptyEncaps {
    fn write(&self, out: &mut OutputStream) {
        out.write_empty_encapsulation(self.0);
    }
    fn read_same(&self, input: &mut InputStream) -> Result<Box<dyn Param>> {
        let v = input.start_encapsulation()?;
        input.end_encapsulation()?;
        Ok(Box::new(EmptyEncaps(v)))
    }
    fn show(&self, p: &mut Printer) {
        p.raw(&format!("empty-encaps({})", self.0));
    }
}

pub type Params = Vec<Box<dyn Param>>;

fn v<T: Encode + Decode + Show + 'static>(x: T) -> Box<dyn Param> {
    Box::new(V(x))
}

fn t<T: Encode + Decode + Show + 'static>(tag: i32, x: Option<T>) -> Box<dyn Param> {
    Box::new(Tagged(tag, x))
}

/// How a case is framed, as in `golden.cpp`.
#[derive(Clone, Copy)]
pub struct Frame {
    pub encaps: bool,
    pub format: Format,
    pub pending: bool,
}

const RAW: Frame = Frame {
    encaps: false,
    format: Format::Compact,
    pending: false,
};
const ENCAPS: Frame = Frame {
    encaps: true,
    format: Format::Compact,
    pending: false,
};

fn classes(format: Format) -> Frame {
    Frame {
        encaps: true,
        format,
        pending: true,
    }
}

fn exc(format: Format) -> Frame {
    Frame {
        encaps: true,
        format,
        pending: false,
    }
}

pub struct Spec {
    pub frame: Frame,
    pub write: Params,
    /// What the reader reads (defaults to `write`'s types).
    pub read: Option<Params>,
}

pub fn version(e: Encoding) -> EncodingVersion {
    match e {
        Encoding::V1_0 => EncodingVersion::V1_0,
        Encoding::V1_1 => EncodingVersion::V1_1,
    }
}

pub fn encode(spec: &Spec, enc: EncodingVersion) -> Vec<u8> {
    let mut out = OutputStream::new(enc);
    if spec.frame.encaps {
        out.start_encapsulation(enc, spec.frame.format);
    }
    for p in &spec.write {
        p.write(&mut out);
    }
    if spec.frame.encaps {
        if spec.frame.pending {
            out.write_pending_classes();
        }
        out.end_encapsulation();
    }
    out.into_vec()
}

pub fn show_params(params: &[Box<dyn Param>], e10: bool) -> String {
    let mut p = Printer::new(e10);
    for (i, x) in params.iter().enumerate() {
        if i > 0 {
            p.raw("; ");
        }
        x.show(&mut p);
    }
    p.out
}

/// Decodes `bytes` as the case's reader parameters and prints them.
pub fn decode_show(spec: &Spec, enc: EncodingVersion, bytes: &[u8]) -> Result<String> {
    let mut input = InputStream::from_slice(bytes, enc)
        .with_registry(registry())
        .with_communicator(communicator());
    let templates = spec.read.as_ref().unwrap_or(&spec.write);
    let mut got = Vec::new();
    if spec.frame.encaps {
        let v = input.start_encapsulation()?;
        if v != enc {
            return Err(Error::UnsupportedEncoding {
                what: "fixture encapsulation",
                major: v.major,
                minor: v.minor,
            });
        }
    }
    for t in templates {
        got.push(t.read_same(&mut input)?);
    }
    if spec.frame.encaps {
        if spec.frame.pending {
            input.read_pending_classes()?;
        }
        input.end_encapsulation()?;
    }
    if !input.is_at_end() {
        return Err(Error::EncapsulationMismatch {
            unread: input.remaining() as i64,
        });
    }
    Ok(show_params(&got, enc == EncodingVersion::V1_0))
}

// ------------------------------------------------------------------- values

fn ip(host: &str, port: i32, timeout: i32, compress: bool) -> IpEndpoint {
    IpEndpoint {
        host: host.into(),
        port,
        timeout,
        compress,
        ..IpEndpoint::default()
    }
}

fn tcp(host: &str, port: i32) -> Endpoint {
    Endpoint::Tcp(ip(host, port, 60000, false))
}

fn udp(host: &str, port: i32, compress: bool) -> Endpoint {
    Endpoint::Udp(UdpEndpoint {
        host: host.into(),
        port,
        compress,
        ..UdpEndpoint::default()
    })
}

fn opaque(kind: i16, enc: EncodingVersion, bytes: &[u8]) -> Endpoint {
    Endpoint::Opaque(OpaqueEndpoint {
        kind,
        encoding: enc,
        bytes: Bytes::copy_from_slice(bytes),
    })
}

fn prx(name: &str, endpoints: Vec<Endpoint>) -> ProxyData {
    let mut p = ProxyData::new(name);
    p.endpoints = endpoints;
    p
}

fn with_mode(mut p: ProxyData, mode: InvocationMode) -> ProxyData {
    p.mode = mode;
    p
}

fn proxy(p: ProxyData) -> Box<dyn Param> {
    v(Some(p))
}

fn s(x: &str) -> String {
    x.to_string()
}

fn small(name: &str, value: f64) -> Small {
    Small {
        name: name.into(),
        value,
    }
}

fn fixed(flag: bool, b: u8, s: i16, i: i32, l: i64, f: f32, d: f64) -> Fixed {
    Fixed {
        flag,
        b,
        s,
        i,
        l,
        f,
        d,
    }
}

fn node(value: i32, next: Option<Class<Node>>) -> Class<Node> {
    Class::new(Node { value, next })
}

fn int_string(entries: &[(i32, &str)]) -> BTreeMap<i32, String> {
    entries.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn both_formats(cases: &mut BTreeMap<String, Spec>, name: &str, make: impl Fn() -> Params) {
    cases.insert(
        format!("{name}_sliced"),
        Spec {
            frame: classes(Format::Sliced),
            write: make(),
            read: None,
        },
    );
    cases.insert(
        format!("{name}_compact"),
        Spec {
            frame: classes(Format::Compact),
            write: make(),
            read: None,
        },
    );
}

/// Every non-hidden case of `golden.cpp`, built with the generated types.
pub fn cases() -> BTreeMap<String, Spec> {
    let mut c: BTreeMap<String, Spec> = BTreeMap::new();
    let mut raw = |name: &str, write: Params| {
        c.insert(
            name.to_string(),
            Spec {
                frame: RAW,
                write,
                read: None,
            },
        );
    };
    // primitives
    raw("bool_true", vec![v(true)]);
    raw("bool_false", vec![v(false)]);
    raw("byte_0", vec![v(0u8)]);
    raw("byte_255", vec![v(255u8)]);
    raw("byte_127", vec![v(127u8)]);
    raw("short_0", vec![v(0i16)]);
    raw("short_neg1", vec![v(-1i16)]);
    raw("short_min", vec![v(i16::MIN)]);
    raw("short_max", vec![v(i16::MAX)]);
    raw("int_0", vec![v(0i32)]);
    raw("int_1", vec![v(1i32)]);
    raw("int_neg1", vec![v(-1i32)]);
    raw("int_min", vec![v(i32::MIN)]);
    raw("int_max", vec![v(i32::MAX)]);
    raw("int_0x01020304", vec![v(0x01020304i32)]);
    raw("long_0", vec![v(0i64)]);
    raw("long_neg1", vec![v(-1i64)]);
    raw("long_min", vec![v(i64::MIN)]);
    raw("long_max", vec![v(i64::MAX)]);
    raw("long_0x0102030405060708", vec![v(0x0102030405060708i64)]);
    raw("float_0", vec![v(0.0f32)]);
    raw("float_neg0", vec![v(-0.0f32)]);
    raw("float_1_5", vec![v(1.5f32)]);
    raw("float_neg_pi", vec![v(-std::f32::consts::PI)]);
    raw("float_max", vec![v(f32::MAX)]);
    raw("float_min_positive", vec![v(f32::MIN_POSITIVE)]);
    raw("float_inf", vec![v(f32::INFINITY)]);
    raw("double_0", vec![v(0.0f64)]);
    raw("double_neg0", vec![v(-0.0f64)]);
    raw("double_1_5", vec![v(1.5f64)]);
    raw("double_neg_e", vec![v(-std::f64::consts::E)]);
    raw("double_max", vec![v(f64::MAX)]);
    raw("double_denorm_min", vec![v(f64::from_bits(1))]);
    raw("double_neg_inf", vec![v(f64::NEG_INFINITY)]);
    raw(
        "primitives_all",
        vec![
            v(true),
            v(0xabu8),
            v(-2i16),
            v(-3i32),
            v(-4i64),
            v(0.25f32),
            v(-0.125f64),
        ],
    );
    // sizes
    for (name, n) in [
        ("size_0", 0usize),
        ("size_1", 1),
        ("size_254", 254),
        ("size_255", 255),
        ("size_256", 256),
        ("size_65536", 65536),
        ("size_max", i32::MAX as usize),
    ] {
        raw(name, vec![Box::new(Size(n))]);
    }
    // strings
    raw("string_empty", vec![v(s(""))]);
    raw("string_ascii", vec![v(s("hello, world"))]);
    raw("string_utf8", vec![v(s("héllo wörld € 𝄞 日本"))]);
    raw("string_nul_inside", vec![v(s("a\0b"))]);
    raw("string_254", vec![v("x".repeat(254))]);
    raw("string_255", vec![v("y".repeat(255))]);
    raw("string_256", vec![v("z".repeat(256))]);
    raw("string_1000", vec![v("q".repeat(1000))]);
    raw("string_two", vec![v(s("first")), v(s("second"))]);
    // structs
    raw("struct_small", vec![v(small("small", 1.5))]);
    raw("struct_small_empty", vec![v(small("", 0.0))]);
    raw(
        "struct_fixed",
        vec![v(fixed(
            true,
            0xfe,
            -300,
            -70000,
            -5000000000,
            3.5,
            -1.0e300,
        ))],
    );
    raw("struct_point", vec![v(Point { x: -1, y: i32::MAX })]);
    raw(
        "struct_nested",
        vec![v(Nested {
            small: small("inner", -0.5),
            point: Point { x: 3, y: 4 },
            color: Color::Blue,
            ints: vec![1, -1, 65536],
            names: int_string(&[(1, "one"), (-7, "minus seven"), (100, "hundred")]),
            label: s("nested ✓"),
        })],
    );
    raw("struct_nested_empty", vec![v(Nested::default())]);
    // enums
    raw("enum_color_red", vec![v(Color::Red)]);
    raw("enum_color_blue", vec![v(Color::Blue)]);
    raw("enum_sparse_100", vec![v(Sparse::SparseHundred)]);
    raw("enum_sparse_5", vec![v(Sparse::SparseFive)]);
    raw("enum_max126_hi", vec![v(Max126::Hi126)]);
    raw("enum_max127_hi", vec![v(Max127::Hi127)]);
    raw("enum_max127_lo", vec![v(Max127::Lo127)]);
    raw("enum_max32766_hi", vec![v(Max32766::Hi32766)]);
    raw("enum_max32767_hi", vec![v(Max32767::Hi32767)]);
    raw("enum_max32767_lo", vec![v(Max32767::Lo32767)]);
    raw("enum_big_mid", vec![v(BigEnum::BigMid)]);
    raw("enum_big_max", vec![v(BigEnum::BigMax)]);
    raw("enum_big_zero", vec![v(BigEnum::BigZero)]);
    // sequences
    raw("seq_bool", vec![v(vec![true, false, true, true])]);
    raw("seq_byte_empty", vec![v(Bytes::new())]);
    raw(
        "seq_byte_254",
        vec![v(Bytes::from(
            (0..254).map(|k| k as u8).collect::<Vec<u8>>(),
        ))],
    );
    raw(
        "seq_byte_255",
        vec![v(Bytes::from(
            (0..255).map(|k| (255 - k) as u8).collect::<Vec<u8>>(),
        ))],
    );
    raw(
        "seq_byte_1000",
        vec![v(Bytes::from(
            (0..1000)
                .map(|k| ((k * 7) & 0xff) as u8)
                .collect::<Vec<u8>>(),
        ))],
    );
    raw("seq_short", vec![v(vec![0i16, -1, 32767, -32768])]);
    raw("seq_int", vec![v(vec![0i32, 1, -1, i32::MAX, i32::MIN])]);
    raw("seq_int_empty", vec![v(Vec::<i32>::new())]);
    raw(
        "seq_int_255",
        vec![v((0..255).map(|k| k * 1000 - 3).collect::<Vec<i32>>())],
    );
    raw("seq_long", vec![v(vec![0i64, -1, 1 << 40, i64::MIN])]);
    raw("seq_float", vec![v(vec![0.0f32, -1.25, 1e10])]);
    raw("seq_double", vec![v(vec![0.0f64, -1.25, 1e100, 5e-324])]);
    raw(
        "seq_string",
        vec![v(vec![s(""), s("a"), s("été"), "s".repeat(300)])],
    );
    raw("seq_string_empty", vec![v(Vec::<String>::new())]);
    raw(
        "seq_string_254",
        vec![v((0..254).map(|k| k.to_string()).collect::<Vec<String>>())],
    );
    raw(
        "seq_small",
        vec![v(vec![small("a", 1.0), small("", -2.5), small("€", 1e-3)])],
    );
    raw(
        "seq_fixed",
        vec![v(vec![
            fixed(false, 1, 2, 3, 4, 5.0, 6.0),
            fixed(true, 255, -2, -3, -4, -5.0, -6.0),
        ])],
    );
    raw(
        "seq_point",
        vec![v(vec![Point { x: 1, y: 2 }, Point { x: -3, y: -4 }])],
    );
    raw(
        "seq_color",
        vec![v(vec![Color::Blue, Color::Red, Color::Green, Color::Blue])],
    );
    raw("seq_int_seq", vec![v(vec![vec![], vec![1i32], vec![2, 3]])]);
    raw(
        "seq_string_seq",
        vec![v(vec![vec![s("x")], vec![], vec![s("y"), s("z")]])],
    );
    // dictionaries
    raw(
        "dict_int_string",
        vec![v(int_string(&[
            (-5, "minus five"),
            (0, ""),
            (42, "forty-two"),
            (i32::MAX, "max"),
        ]))],
    );
    raw(
        "dict_int_string_empty",
        vec![v(BTreeMap::<i32, String>::new())],
    );
    raw(
        "dict_string_small",
        vec![v([
            (s("alpha"), small("a", 1.0)),
            (s("beta"), small("b", -1.0)),
            (s(""), small("", 0.0)),
        ]
        .into_iter()
        .collect::<BTreeMap<String, Small>>())],
    );
    raw(
        "dict_string_int_seq",
        vec![v([(s("empty"), vec![]), (s("three"), vec![1i32, 2, 3])]
            .into_iter()
            .collect::<BTreeMap<String, Vec<i32>>>())],
    );
    // proxies
    let e10 = EncodingVersion::V1_0;
    let e11 = EncodingVersion::V1_1;
    raw("proxy_null", vec![v(None::<ProxyData>)]);
    raw(
        "proxy_tcp",
        vec![proxy(prx("hello", vec![tcp("127.0.0.1", 10000)]))],
    );
    raw(
        "proxy_tcp_timeout_compress",
        vec![proxy(prx(
            "hello",
            vec![Endpoint::Tcp(ip("example.com", 4061, 15000, true))],
        ))],
    );
    raw(
        "proxy_tcp_ipv6",
        vec![proxy(prx(
            "hello",
            vec![Endpoint::Tcp(ip("::1", 10001, -1, false))],
        ))],
    );
    raw(
        "proxy_ssl",
        vec![proxy(prx(
            "secure",
            vec![Endpoint::Ssl(ip("10.0.0.1", 10002, 60000, false))],
        ))],
    );
    raw(
        "proxy_udp",
        vec![proxy(prx("dgram", vec![udp("239.255.1.1", 10003, false)]))],
    );
    raw(
        "proxy_udp_datagram",
        vec![proxy(with_mode(
            prx("dgram", vec![udp("127.0.0.1", 10004, true)]),
            InvocationMode::Datagram,
        ))],
    );
    raw(
        "proxy_ws",
        vec![proxy(prx(
            "web",
            vec![Endpoint::Ws(WsEndpoint {
                ip: ip("localhost", 8080, 60000, false),
                resource: s("/path/to"),
            })],
        ))],
    );
    raw(
        "proxy_wss",
        vec![proxy(prx(
            "websec",
            vec![Endpoint::Wss(WsEndpoint {
                ip: ip("localhost", 8443, 5000, false),
                resource: s("/secure"),
            })],
        ))],
    );
    raw(
        "proxy_opaque",
        vec![proxy(prx(
            "other",
            vec![opaque(
                99,
                e11,
                &[9, 48, 136, 65, 52, 98, 84, 101, 115, 116],
            )],
        ))],
    );
    raw(
        "proxy_opaque_e10",
        vec![proxy(prx("other", vec![opaque(42, e10, &[1, 2, 3, 4])]))],
    );
    raw(
        "proxy_multi_endpoints",
        vec![proxy(prx(
            "multi",
            vec![
                tcp("127.0.0.1", 1),
                udp("127.0.0.1", 2, false),
                Endpoint::Ssl(ip("127.0.0.1", 3, 60000, false)),
                Endpoint::Ws(WsEndpoint {
                    ip: ip("127.0.0.1", 4, 60000, false),
                    resource: s("/x"),
                }),
                opaque(77, e11, &[0]),
            ],
        ))],
    );
    let mut indirect = prx("object", vec![]);
    indirect.adapter_id = s("MyAdapter");
    raw("proxy_indirect_adapter", vec![proxy(indirect)]);
    raw("proxy_well_known", vec![proxy(prx("wellknown", vec![]))]);
    let mut cat = prx("name", vec![tcp("127.0.0.1", 5)]);
    cat.identity.category = s("cat");
    raw("proxy_category", vec![proxy(cat)]);
    let mut utf = prx("", vec![]);
    utf.identity = Identity {
        name: s("näme with space"),
        category: s("cät"),
    };
    utf.adapter_id = s("Adapter.Name");
    raw("proxy_identity_utf8", vec![proxy(utf)]);
    let mut facet = prx("obj", vec![tcp("127.0.0.1", 6)]);
    facet.facet = s("myfacet");
    raw("proxy_facet", vec![proxy(facet)]);
    raw(
        "proxy_oneway",
        vec![proxy(with_mode(
            prx("obj", vec![tcp("127.0.0.1", 7)]),
            InvocationMode::Oneway,
        ))],
    );
    raw(
        "proxy_batch_oneway",
        vec![proxy(with_mode(
            prx("obj", vec![tcp("127.0.0.1", 7)]),
            InvocationMode::BatchOneway,
        ))],
    );
    raw(
        "proxy_datagram",
        vec![proxy(with_mode(
            prx("obj", vec![udp("127.0.0.1", 8, false)]),
            InvocationMode::Datagram,
        ))],
    );
    raw(
        "proxy_batch_datagram",
        vec![proxy(with_mode(
            prx("obj", vec![udp("127.0.0.1", 8, false)]),
            InvocationMode::BatchDatagram,
        ))],
    );
    let mut secure = prx("obj", vec![Endpoint::Ssl(ip("127.0.0.1", 9, 60000, false))]);
    secure.secure = true;
    raw("proxy_secure", vec![proxy(secure)]);
    let mut enc10 = prx("obj", vec![tcp("127.0.0.1", 10)]);
    enc10.encoding = e10;
    raw("proxy_encoding_10", vec![proxy(enc10)]);
    let mut proto10 = prx("obj", vec![tcp("127.0.0.1", 11)]);
    proto10.encoding = e10;
    proto10.facet = s("f");
    raw("proxy_protocol_10", vec![proxy(proto10)]);
    raw(
        "proxy_in_struct",
        vec![v(ProxyBox {
            prx: Some(FromProxyData::from_proxy_data(prx(
                "boxed",
                vec![tcp("127.0.0.1", 12)],
            ))),
            tag: s("tag"),
        })],
    );
    raw(
        "proxy_in_struct_null",
        vec![v(ProxyBox {
            prx: None,
            tag: s("none"),
        })],
    );
    // encapsulations
    let mut encaps = |name: &str, write: Params| {
        c.insert(
            name.to_string(),
            Spec {
                frame: ENCAPS,
                write,
                read: None,
            },
        );
    };
    encaps("encaps_empty", vec![]);
    encaps("encaps_int", vec![v(7i32)]);
    encaps(
        "encaps_nested_e10",
        vec![v(1i32), Box::new(Nest(e10, 2, s("inner 1.0"))), v(3i32)],
    );
    encaps(
        "encaps_nested_e11",
        vec![v(1i32), Box::new(Nest(e11, 2, s("inner 1.1"))), v(3i32)],
    );
    encaps("encaps_empty_inner_e10", vec![Box::new(EmptyEncaps(e10))]);
    encaps("encaps_empty_inner_e11", vec![Box::new(EmptyEncaps(e11))]);
    // optional parameters
    encaps(
        "optparams_all_formats",
        vec![
            v(1i32),
            t(1, Some(2u8)),
            t(2, Some(false)),
            t(3, Some(3i16)),
            t(4, Some(4i32)),
            t(5, Some(5.5f32)),
            t(6, Some(6i64)),
            t(7, Some(7.5f64)),
            t(8, Some(Color::Blue)),
            t(9, Some(s("nine"))),
            t(10, Some(Bytes::from_static(&[10]))),
            t(11, Some(Point { x: 11, y: 11 })),
            t(12, Some(vec![12i32])),
            t(13, Some(small("thirteen", 13.0))),
            t(14, Some(vec![s("fourteen")])),
            t(15, Some(int_string(&[(15, "fifteen")]))),
            t(16, Some(vec![Fixed::default()])),
            t(
                17,
                Some(
                    [(s("k"), small("v", 17.0))]
                        .into_iter()
                        .collect::<BTreeMap<String, Small>>(),
                ),
            ),
        ],
    );
    encaps(
        "optparams_unset",
        vec![v(1i32), t::<i32>(1, None), t::<String>(2, None)],
    );
    encaps(
        "optparams_large_tags",
        vec![
            t(29, Some(29i32)),
            t(30, Some(30i32)),
            t(254, Some(254i32)),
            t(255, Some(255i32)),
            t(100000, Some(s("big tag"))),
        ],
    );
    c.insert(
        s("optparams_class"),
        Spec {
            frame: classes(Format::Compact),
            write: vec![v(1i32), t(1, Some(cref(base(2, "opt"))))],
            read: None,
        },
    );
    c.insert(
        s("optparams_unknown_skipped"),
        Spec {
            frame: ENCAPS,
            write: vec![
                v(5i32),
                t(1, Some(1i32)),
                t(2, Some(s("kept"))),
                t(3, Some(small("x", 3.0))),
                t(4, Some(Bytes::from_static(&[4, 4]))),
                t(5, Some(5i64)),
                t(6, Some(Point { x: 6, y: 6 })),
                t(7, Some(int_string(&[(7, "7")]))),
                t(8, Some(8.0f64)),
            ],
            read: Some(vec![v(5i32), t::<String>(2, None), t::<Point>(6, None)]),
        },
    );
    // exceptions
    let base_error = |code: i32, reason: &str| BaseError {
        code,
        reason: reason.into(),
    };
    let mut exception = |name: &str, format: Format, e: Box<dyn UserException>| {
        let template: Box<dyn UserException> = Box::new(BaseError::default());
        c.insert(
            name.to_string(),
            Spec {
                frame: exc(format),
                write: vec![Box::new(Exc(e))],
                read: Some(vec![Box::new(Exc(template))]),
            },
        );
    };
    exception(
        "exc_base_sliced",
        Format::Sliced,
        Box::new(base_error(1, "base error")),
    );
    exception(
        "exc_base_compact",
        Format::Compact,
        Box::new(base_error(1, "base error")),
    );
    let derived_error = || DerivedError {
        base: base_error(2, "derived"),
        obj: tcref(derived(3, "member", 1.0, &[1])),
        amount: 9.5,
    };
    exception(
        "exc_derived_sliced",
        Format::Sliced,
        Box::new(derived_error()),
    );
    exception(
        "exc_derived_compact",
        Format::Compact,
        Box::new(derived_error()),
    );
    exception(
        "exc_derived_null_member_sliced",
        Format::Sliced,
        Box::new(DerivedError {
            base: base_error(4, "null"),
            obj: None,
            amount: 0.0,
        }),
    );
    exception(
        "exc_opt_set_sliced",
        Format::Sliced,
        Box::new(OptError {
            base: base_error(5, "opt"),
            oi: Some(6),
            os: Some(s("six")),
        }),
    );
    exception(
        "exc_opt_unset_sliced",
        Format::Sliced,
        Box::new(OptError {
            base: base_error(7, "opt"),
            oi: None,
            os: None,
        }),
    );
    // classes
    let b = |id, n: &str| cref(base(id, n));
    let tb = |id, n: &str| tcref(base(id, n));
    both_formats(&mut c, "class_null", || vec![v(None::<ClassRef>)]);
    both_formats(&mut c, "class_base", || vec![v(b(1, "base"))]);
    both_formats(&mut c, "class_derived", || {
        vec![v(cref(derived(2, "derived", 2.5, &[1, 2, 3])))]
    });
    both_formats(&mut c, "class_more_derived", || {
        vec![v(cref(more(3, "more", -1.0, &[], "extra")))]
    });
    both_formats(&mut c, "class_empty", || vec![v(cref(Empty {}))]);
    both_formats(&mut c, "class_pair_shared", || {
        let shared = tb(10, "shared");
        vec![v(cref(Pair {
            first: shared.clone(),
            second: shared,
            tag: s("same twice"),
        }))]
    });
    both_formats(&mut c, "class_pair_distinct", || {
        vec![v(cref(Pair {
            first: tb(11, "first"),
            second: tcref(derived(12, "second", 0.5, &[9])),
            tag: s("two"),
        }))]
    });
    both_formats(&mut c, "class_pair_nulls", || {
        vec![v(cref(Pair {
            first: None,
            second: None,
            tag: s("none"),
        }))]
    });
    both_formats(&mut c, "class_two_params_shared", || {
        let p1 = cref(derived(13, "param", 1.0, &[4]));
        vec![v(p1.clone()), v(p1)]
    });
    both_formats(&mut c, "class_three_params", || {
        vec![v(b(14, "a")), v(99i32), v(b(15, "b"))]
    });
    both_formats(&mut c, "class_node_chain", || {
        vec![v(Some(node(1, Some(node(2, Some(node(3, None)))))))]
    });
    for (name, n, first) in [
        ("class_node_chain_50", 50, 1),
        ("class_node_chain_100", 100, 1),
        ("class_node_chain_101_rejected", 101, 0),
    ] {
        both_formats(&mut c, name, || {
            let mut next = None;
            for value in (first..first + n).rev() {
                next = Some(node(value, next));
            }
            vec![v(next)]
        });
    }
    // Invalid UTF-8 (ZeroC C++ passes it through; we must reject it): read
    // as a string; nothing to write.
    for name in [
        "string_invalid_utf8_byte",
        "string_invalid_utf8_overlong",
        "string_invalid_utf8_surrogate",
        "string_invalid_utf8_truncated",
    ] {
        c.insert(
            s(name),
            Spec {
                frame: RAW,
                write: Vec::new(),
                read: Some(vec![v(String::new())]),
            },
        );
    }
    both_formats(&mut c, "class_node_cycle", || {
        let a = node(1, None);
        let bb = node(2, Some(a.clone()));
        a.write().next = Some(bb);
        vec![v(Some(a))]
    });
    both_formats(&mut c, "class_node_self", || {
        let a = node(7, None);
        a.write().next = Some(a.clone());
        vec![v(Some(a))]
    });
    both_formats(&mut c, "class_seq", || {
        let tw = b(20, "twice");
        vec![v(vec![
            b(21, "b"),
            cref(derived(22, "d", 3.0, &[5, 6])),
            None,
            tw.clone(),
            cref(more(23, "m", 4.0, &[7], "x")),
            tw,
        ])]
    });
    both_formats(&mut c, "class_dict", || {
        let tw = b(20, "twice");
        let d: BTreeMap<String, Option<ClassRef>> = [
            (s("a"), tw.clone()),
            (s("b"), cref(derived(24, "d", 0.0, &[]))),
            (s("c"), tw),
            (s("n"), None),
        ]
        .into_iter()
        .collect();
        vec![v(d)]
    });
    both_formats(&mut c, "class_in_struct", || {
        vec![v(BaseBox {
            item: tb(20, "twice"),
            n: 5,
        })]
    });
    both_formats(&mut c, "class_optionals_all", || {
        vec![v(cref(Optionals {
            req: 1,
            ob: Some(0x7f),
            obool: Some(true),
            os: Some(-2),
            oi: Some(3),
            of: Some(4.5),
            ol: Some(-5),
            od: Some(6.25),
            oe: Some(Color::Green),
            ostr: Some(s("opt é")),
            obytes: Some(Bytes::from_static(&[1, 2, 3])),
            opoint: Some(Point { x: 7, y: -8 }),
            oints: Some(vec![9, 10]),
            osmall: Some(small("s", 11.5)),
            ostrs: Some(vec![s("p"), s("q")]),
            odict: Some(int_string(&[(1, "i"), (2, "ii")])),
            ocls: Some(tb(12, "optional class")),
            ofar: Some(300),
        }))]
    });
    both_formats(&mut c, "class_optionals_none", || {
        vec![v(cref(Optionals {
            req: -1,
            ..Optionals::default()
        }))]
    });
    both_formats(&mut c, "class_optionals_some", || {
        vec![v(cref(Optionals {
            req: 2,
            oi: Some(-1),
            ostr: Some(s("")),
            obytes: Some(Bytes::new()),
            ostrs: Some(vec![]),
            ocls: Some(None),
            ..Optionals::default()
        }))]
    });
    both_formats(&mut c, "class_opt_derived", || {
        vec![v(cref(OptDerived {
            base: base(30, "optderived"),
            note: Some(s("note")),
            count: None,
        }))]
    });
    both_formats(&mut c, "class_compact_id", || {
        vec![v(cref(Compact { k: 77 }))]
    });
    both_formats(&mut c, "class_compact_derived", || {
        vec![v(cref(CompactDerived {
            base: Compact { k: 78 },
            label: s("cd"),
        }))]
    });
    both_formats(&mut c, "class_compact_seq_twice", || {
        vec![
            v(None::<ClassRef>),
            v(cref(Compact { k: 1 })),
            v(cref(Compact { k: 2 })),
        ]
    });
    both_formats(&mut c, "class_type_id_twice", || {
        vec![
            v(cref(derived(40, "x", 0.0, &[]))),
            v(cref(derived(41, "y", 0.0, &[]))),
        ]
    });
    both_formats(&mut c, "class_preserved_base", || {
        vec![v(cref(Preserved { pv: 50 }))]
    });
    both_formats(&mut c, "class_preserved_known", || {
        vec![v(cref(PreservedKnown {
            base: Preserved { pv: 51 },
            known: s("known"),
        }))]
    });
    c
}

/// The reader of a hidden case (its writer is C++ only).
pub fn hidden_spec(name: &str) -> Spec {
    let format = if name.ends_with("_compact") {
        Format::Compact
    } else {
        Format::Sliced
    };
    let read: Params = if name.starts_with("exc_") {
        vec![Box::new(Exc(Box::new(BaseError::default())))]
    } else if name.contains("in_seq") {
        vec![v(Vec::<Option<ClassRef>>::new())]
    } else if name.contains("preserved_shared") {
        vec![
            v(None::<ClassRef>),
            v(None::<ClassRef>),
            v(None::<ClassRef>),
        ]
    } else {
        vec![v(None::<ClassRef>)]
    };
    Spec {
        frame: if name.starts_with("exc_") {
            exc(format)
        } else {
            classes(format)
        },
        write: Vec::new(),
        read: Some(read),
    }
}

/// Decodes a hidden case and re-encodes what was decoded (preserved slices
/// included), returning (printed value, re-encoded bytes).
pub fn decode_reencode(
    spec: &Spec,
    enc: EncodingVersion,
    bytes: &[u8],
) -> Result<(String, Vec<u8>)> {
    let mut input = InputStream::from_slice(bytes, enc)
        .with_registry(registry())
        .with_communicator(communicator());
    input.start_encapsulation()?;
    let mut got = Vec::new();
    for t in spec.read.as_ref().unwrap_or(&spec.write) {
        got.push(t.read_same(&mut input)?);
    }
    if spec.frame.pending {
        input.read_pending_classes()?;
    }
    input.end_encapsulation()?;
    let printed = show_params(&got, enc == EncodingVersion::V1_0);
    let again = encode(
        &Spec {
            frame: spec.frame,
            write: got,
            read: None,
        },
        enc,
    );
    Ok((printed, again))
}

/// `value` without `golden.cpp`'s `[sliced from ::Type]` notes (our printer
/// shows the type a value was sliced to; which type it was sliced from is
/// not kept unless the slices are preserved).
pub fn without_sliced_from(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("[sliced from ") {
        out.push_str(&rest[..i]);
        match rest[i..].find(']') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
