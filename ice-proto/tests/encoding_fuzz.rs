//! Property tests of the decoder: arbitrary bytes, and valid encodings with
//! random damage, decoded as every kind of Slice type in both encodings,
//! must give a value or an error and never panic. Valid values round-trip.
//! Bounded (a few thousand cases) so it runs in seconds with `cargo test`.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::Arc;

use ice_proto::encoding::{
    Bytes, Class, ClassRef, Decode, Encode, EncodingVersion, Format, InputStream, OutputStream,
    ProxyData, Registry, Result, UserException, UserExceptionType, Value, ValueType,
};
use proptest::prelude::*;

/// `class Node { int value; Node next; optional(1) string tag; }`
#[derive(Debug, PartialEq, Default)]
struct Node {
    value: i32,
    next: Option<Class<Node>>,
    tag: Option<String>,
}

impl Value for Node {
    fn ice_id(&self) -> &str {
        Self::TYPE_ID
    }
    fn write_slices(&self, out: &mut OutputStream) {
        out.start_slice(Self::TYPE_ID, None, true);
        out.write_i32(self.value);
        out.write(&self.next);
        out.write_optional(1, self.tag.as_ref());
        out.end_slice();
    }
    fn read_slices(&mut self, input: &mut InputStream) -> Result<()> {
        input.start_slice()?;
        self.value = input.read_i32()?;
        self.next = input.read()?;
        self.tag = input.read_optional::<String>(1)?;
        input.end_slice()
    }
    fn as_type(&self, t: TypeId) -> Option<&dyn Any> {
        (t == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
    fn as_type_mut(&mut self, t: TypeId) -> Option<&mut dyn Any> {
        (t == TypeId::of::<Self>()).then_some(self as &mut dyn Any)
    }
}

impl ValueType for Node {
    const TYPE_ID: &'static str = "::F::Node";
}

/// `exception Oops { Node n; string why; }`
#[derive(Debug, Clone)]
struct Oops {
    n: Option<Class<Node>>,
    why: String,
}

impl UserException for Oops {
    fn ice_id(&self) -> &str {
        Self::TYPE_ID
    }
    fn write_slices(&self, out: &mut OutputStream) {
        out.start_slice(Self::TYPE_ID, None, true);
        out.write(&self.n);
        out.write_string(&self.why);
        out.end_slice();
    }
    fn uses_classes(&self) -> bool {
        true
    }
    fn as_type(&self, t: TypeId) -> Option<&dyn Any> {
        (t == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
    fn clone_box(&self) -> Box<dyn UserException> {
        Box::new(self.clone())
    }
}

impl UserExceptionType for Oops {
    const TYPE_ID: &'static str = "::F::Oops";
    fn read_slices(input: &mut InputStream) -> Result<Self> {
        input.start_slice()?;
        let n = input.read()?;
        let why = input.read_string()?;
        input.end_slice()?;
        Ok(Self { n, why })
    }
}

fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    r.add_value::<Node>().add_exception::<Oops>();
    Arc::new(r)
}

fn enc(e10: bool) -> EncodingVersion {
    if e10 {
        EncodingVersion::V1_0
    } else {
        EncodingVersion::V1_1
    }
}

/// Decodes `bytes` as many different things; only the absence of panics matters.
fn decode_everything(bytes: &[u8], e10: bool) {
    let e = enc(e10);
    let reg = registry();
    let input = || InputStream::from_slice(bytes, e).with_registry(reg.clone());
    let _ = Vec::<String>::decode(&mut input());
    let _ = Vec::<i64>::decode(&mut input());
    let _ = Vec::<Vec<bool>>::decode(&mut input());
    let _ = BTreeMap::<i32, String>::decode(&mut input());
    let _ = BTreeMap::<String, Vec<f64>>::decode(&mut input());
    let _ = Bytes::decode(&mut input());
    let _ = Option::<ProxyData>::decode(&mut input());
    let _ = input().read_enum(40000, "E");
    let _ = input().read_optional::<Vec<String>>(3);
    let mut i = input();
    let _ = (|| -> Result<()> {
        i.start_encapsulation()?;
        let _ = i.read_class()?;
        let _ = i.read_optional::<Option<ClassRef>>(2)?;
        let _ = i.read_class_of::<Node>()?;
        i.read_pending_classes()?;
        i.end_encapsulation()
    })();
    let mut i = input();
    let _ = (|| -> Result<()> {
        i.start_encapsulation()?;
        let _ = i.read_exception()?;
        i.end_encapsulation()
    })();
}

fn node_graph(values: &[(i32, Option<String>)], cycle: bool) -> Option<Class<Node>> {
    let (v, tag) = values.first().cloned().unwrap_or((0, None));
    let head = Class::new(Node {
        value: v,
        next: None,
        tag,
    });
    let mut next: Option<Class<Node>> = if cycle { Some(head.clone()) } else { None };
    for (v, tag) in values.iter().skip(1).rev() {
        next = Some(Class::new(Node {
            value: *v,
            next,
            tag: tag.clone(),
        }));
    }
    head.write().next = next;
    Some(head)
}

fn encode_graph(root: &Option<Class<Node>>, e10: bool, sliced: bool) -> Vec<u8> {
    let e = enc(e10);
    let mut out = OutputStream::new(e);
    let format = if sliced {
        Format::Sliced
    } else {
        Format::Compact
    };
    out.start_encapsulation(e, format);
    out.write(root);
    out.write_exception(&Oops {
        n: root.clone(),
        why: "w".into(),
    });
    out.write_pending_classes();
    out.end_encapsulation();
    out.into_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), e10 in any::<bool>()) {
        decode_everything(&bytes, e10);
    }

    #[test]
    fn damaged_class_graphs_never_panic(
        values in proptest::collection::vec((any::<i32>(), proptest::option::of("[a-z]{0,4}")), 1..6),
        cycle in any::<bool>(),
        e10 in any::<bool>(),
        sliced in any::<bool>(),
        damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let graph = node_graph(&values, cycle);
        let mut bytes = encode_graph(&graph, e10, sliced);
        if let Some(g) = graph {
            g.write().next = None;
        }
        for (pos, x) in damage {
            let n = bytes.len();
            bytes[pos % n] ^= x;
        }
        let keep = bytes.len() - cut % (bytes.len() / 2 + 1);
        bytes.truncate(keep);
        decode_everything(&bytes, e10);
    }

    #[test]
    fn values_round_trip(
        strings in proptest::collection::vec(".{0,8}", 0..8),
        map in proptest::collection::btree_map(any::<i32>(), ".{0,6}", 0..6),
        longs in proptest::collection::vec(any::<i64>(), 0..300),
        e10 in any::<bool>(),
    ) {
        let e = enc(e10);
        let mut out = OutputStream::new(e);
        strings.encode(&mut out);
        map.encode(&mut out);
        longs.encode(&mut out);
        let mut input = InputStream::from_slice(out.as_slice(), e);
        prop_assert_eq!(Vec::<String>::decode(&mut input).ok(), Some(strings));
        prop_assert_eq!(BTreeMap::<i32, String>::decode(&mut input).ok(), Some(map));
        prop_assert_eq!(Vec::<i64>::decode(&mut input).ok(), Some(longs));
        prop_assert!(input.is_at_end());
    }
}
