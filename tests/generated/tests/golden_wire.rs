//! Generated types against bytes written by ZeroC Ice 3.7 (the golden
//! fixtures of `tests/golden/encoding`, made by `golden.cpp` from
//! `Fixtures.ice`): slice2rs output for the same `Fixtures.ice` must encode
//! a value to exactly ZeroC's bytes and decode ZeroC's bytes to that value,
//! in encodings 1.0 and 1.1.

#![allow(clippy::panic)] // test helpers: a broken fixture or decode must fail the test

use generated_check::fixtures::golden as g;
use ice_proto::encoding::{
    Class, ClassRef, Decode, Encode, EncodingVersion, Format, InputStream, OutputStream, Registry,
    UserException,
};
use pretty_assertions::assert_eq;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

const BOTH: [(EncodingVersion, &str); 2] = [
    (EncodingVersion::V1_0, "e10"),
    (EncodingVersion::V1_1, "e11"),
];

fn fixture(case: &str, suffix: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/encoding/fixtures")
        .join(format!("{case}.{suffix}.bin"));
    match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => panic!("fixture {}: {e}", path.display()),
    }
}

fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    generated_check::fixtures::register_types(&mut r);
    Arc::new(r)
}

/// A raw (unframed) value: same bytes as ZeroC both ways.
fn raw<T: Encode + Decode + PartialEq + Debug>(case: &str, value: T) {
    for (enc, suffix) in BOTH {
        let want = fixture(case, suffix);
        let mut out = OutputStream::new(enc);
        value.encode(&mut out);
        assert_eq!(out.as_slice(), &want[..], "{case} {enc}: encoded bytes");
        let mut input = InputStream::from_slice(&want, enc);
        let got = T::decode(&mut input).unwrap_or_else(|e| panic!("{case} {enc}: {e}"));
        assert_eq!(got, value, "{case} {enc}: decoded value");
        assert!(input.is_at_end(), "{case} {enc}: bytes left");
    }
}

/// A class graph in an encapsulation, as a parameter.
fn class_case(
    case: &str,
    format: Format,
    value: &ClassRef,
    check: impl Fn(&ClassRef, EncodingVersion),
) {
    for (enc, suffix) in BOTH {
        let want = fixture(case, suffix);
        let mut out = OutputStream::new(enc);
        out.start_encapsulation(enc, format);
        Some(value.clone()).encode(&mut out);
        out.write_pending_classes();
        out.end_encapsulation();
        assert_eq!(out.as_slice(), &want[..], "{case} {enc}: encoded bytes");

        let mut input = InputStream::from_slice(&want, enc).with_registry(registry());
        input
            .start_encapsulation()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = Option::<ClassRef>::decode(&mut input).unwrap_or_else(|e| panic!("{case}: {e}"));
        input
            .read_pending_classes()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        input
            .end_encapsulation()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = got.unwrap_or_else(|| panic!("{case} {enc}: null"));
        check(&got, enc);
    }
}

/// A user exception in an encapsulation.
fn exception_case<E: UserException + PartialEq + Debug>(case: &str, format: Format, value: &E) {
    for (enc, suffix) in BOTH {
        let want = fixture(case, suffix);
        let mut out = OutputStream::new(enc);
        out.start_encapsulation(enc, format);
        out.write_exception(value);
        out.end_encapsulation();
        assert_eq!(out.as_slice(), &want[..], "{case} {enc}: encoded bytes");

        let mut input = InputStream::from_slice(&want, enc).with_registry(registry());
        input
            .start_encapsulation()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = input
            .read_exception()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        input
            .end_encapsulation()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        // A handler catching the base exception sees the derived one too.
        assert!(
            got.downcast_ref::<g::BaseError>().is_some(),
            "{case}: not a BaseError"
        );
        assert_eq!(got.downcast_ref::<E>(), Some(value), "{case} {enc}");
    }
}

fn small(name: &str, value: f64) -> g::Small {
    g::Small {
        name: name.into(),
        value,
    }
}

fn base(id: i32, name: &str) -> g::Base {
    g::Base {
        id,
        name: name.into(),
    }
}

fn derived(id: i32, name: &str, weight: f64, values: &[i32]) -> g::Derived {
    g::Derived {
        base: base(id, name),
        weight,
        values: values.to_vec(),
    }
}

#[test]
fn structs_match_zeroc() {
    raw("struct_small", small("small", 1.5));
    raw("struct_small_empty", g::Small::default());
    raw(
        "struct_fixed",
        g::Fixed {
            flag: true,
            b: 254,
            s: -300,
            i: -70000,
            l: -5000000000,
            f: 3.5,
            d: -1e300,
        },
    );
    raw(
        "struct_point",
        g::Point {
            x: -1,
            y: 2147483647,
        },
    );
    let names: g::IntStringDict = BTreeMap::from([
        (-7, "minus seven".into()),
        (1, "one".into()),
        (100, "hundred".into()),
    ]);
    raw(
        "struct_nested",
        g::Nested {
            small: small("inner", -0.5),
            point: g::Point { x: 3, y: 4 },
            color: g::Color::Blue,
            ints: vec![1, -1, 65536],
            names,
            label: "nested ✓".into(),
        },
    );
    raw("struct_nested_empty", g::Nested::default());
    assert_eq!(<g::Fixed as Encode>::FIXED_SIZE, Some(28));
    assert_eq!(<g::Small as Encode>::FIXED_SIZE, None);
}

#[test]
fn enums_use_zeroc_sizes_in_both_encodings() {
    raw("enum_color_blue", g::Color::Blue);
    raw("enum_sparse_100", g::Sparse::SparseHundred);
    raw("enum_sparse_5", g::Sparse::SparseFive);
    raw("enum_max126_hi", g::Max126::Hi126);
    raw("enum_max127_hi", g::Max127::Hi127);
    raw("enum_max127_lo", g::Max127::Lo127);
    raw("enum_max32766_hi", g::Max32766::Hi32766);
    raw("enum_max32767_hi", g::Max32767::Hi32767);
    raw("enum_big_mid", g::BigEnum::BigMid);
    raw("enum_big_max", g::BigEnum::BigMax);
    assert_eq!(g::Sparse::from_value(4), None);
    let mut input = InputStream::from_slice(&[4], EncodingVersion::V1_1);
    assert!(
        g::Sparse::decode(&mut input).is_err(),
        "value 4 is no Sparse enumerator"
    );
}

#[test]
fn sequences_and_dictionaries_match_zeroc() {
    raw(
        "seq_color",
        vec![
            g::Color::Blue,
            g::Color::Red,
            g::Color::Green,
            g::Color::Blue,
        ],
    );
    let seq: g::SmallSeq = vec![small("a", 1.0), small("", -2.5), small("€", 0.001)];
    raw("seq_small", seq);
    raw(
        "seq_point",
        vec![g::Point { x: 1, y: 2 }, g::Point { x: -3, y: -4 }],
    );
    let bytes: g::ByteSeq = ice_proto::encoding::Bytes::from((0..254u8).collect::<Vec<_>>());
    raw("seq_byte_254", bytes);
    let d: g::StringSmallDict = BTreeMap::from([
        (String::new(), small("", 0.0)),
        ("alpha".into(), small("a", 1.0)),
        ("beta".into(), small("b", -1.0)),
    ]);
    raw("dict_string_small", d);
    let d: g::StringIntSeqDict =
        BTreeMap::from([("empty".into(), vec![]), ("three".into(), vec![1, 2, 3])]);
    raw("dict_string_int_seq", d);
}

#[test]
fn classes_match_zeroc() {
    let more = g::MoreDerived {
        base: derived(3, "more", -1.0, &[]),
        extra: "extra".into(),
    };
    for (case, format) in [
        ("class_more_derived_sliced", Format::Sliced),
        ("class_more_derived_compact", Format::Compact),
    ] {
        class_case(case, format, &ClassRef::new(more.clone()), |got, enc| {
            assert_eq!(
                got.downcast::<g::MoreDerived>().map(|c| c.read().clone()),
                Some(more.clone()),
                "{case} {enc}"
            );
            // Borrowed as its bases, as a handler of `Base` would.
            assert_eq!(
                got.downcast::<g::Base>().map(|c| c.read().clone()),
                Some(more.base.base.clone()),
                "{case} {enc}"
            );
            assert_eq!(got.ice_id().as_deref(), Some("::Golden::MoreDerived"));
        });
    }
    // A two-node cycle: 1 -> 2 -> 1.
    for (case, format) in [
        ("class_node_cycle_sliced", Format::Sliced),
        ("class_node_cycle_compact", Format::Compact),
    ] {
        let first = Class::new(g::Node {
            value: 1,
            next: None,
        });
        let second = Class::new(g::Node {
            value: 2,
            next: Some(first.clone()),
        });
        first.write().next = Some(second);
        class_case(case, format, first.as_class_ref(), |got, enc| {
            let n1 = got
                .downcast::<g::Node>()
                .unwrap_or_else(|| panic!("{case} {enc}: not a Node"));
            let n1 = n1.read().clone();
            assert_eq!(n1.value, 1);
            let n2_ref = n1
                .next
                .as_ref()
                .unwrap_or_else(|| panic!("{case}: next is null"));
            let n2 = n2_ref.read().clone();
            assert_eq!(n2.value, 2);
            let back = n2
                .next
                .as_ref()
                .unwrap_or_else(|| panic!("{case}: no cycle"));
            assert!(
                ClassRef::ptr_eq(back.as_class_ref(), got),
                "{case} {enc}: the cycle is one shared instance"
            );
            back.write().next = None;
        });
        first.write().next = None;
    }
    // Optional members of a derived class (1.0 drops them, as ZeroC does).
    for (case, format) in [
        ("class_opt_derived_sliced", Format::Sliced),
        ("class_opt_derived_compact", Format::Compact),
    ] {
        let v = g::OptDerived {
            base: base(30, "optderived"),
            note: Some("note".into()),
            count: None,
        };
        class_case(case, format, &ClassRef::new(v.clone()), |got, enc| {
            let got = got
                .downcast::<g::OptDerived>()
                .unwrap_or_else(|| panic!("{case}: type"));
            let got = got.read().clone();
            let want_note = if enc == EncodingVersion::V1_0 {
                None
            } else {
                Some("note".to_string())
            };
            assert_eq!(got.note, want_note, "{case} {enc}");
            assert_eq!(got.base, v.base);
        });
    }
    assert_eq!(
        <g::CompactDerived as ice_proto::encoding::ValueType>::COMPACT_ID,
        Some(8)
    );
}

#[test]
fn exceptions_match_zeroc() {
    let base_error = |code, reason: &str| g::BaseError {
        code,
        reason: reason.into(),
    };
    exception_case(
        "exc_base_sliced",
        Format::Sliced,
        &base_error(1, "base error"),
    );
    exception_case(
        "exc_base_compact",
        Format::Compact,
        &base_error(1, "base error"),
    );
    exception_case(
        "exc_derived_null_member_sliced",
        Format::Sliced,
        &g::DerivedError {
            base: base_error(4, "null"),
            obj: None,
            amount: 0.0,
        },
    );
    exception_case(
        "exc_opt_unset_sliced",
        Format::Sliced,
        &g::OptError {
            base: base_error(7, "opt"),
            oi: None,
            os: None,
        },
    );
    let e: Box<dyn std::error::Error> = Box::new(base_error(1, "x"));
    assert_eq!(e.to_string(), "::Golden::BaseError");
}
