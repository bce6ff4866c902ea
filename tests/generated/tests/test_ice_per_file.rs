//! Per-file output (`Builder::per_file`, `slice2rs --output-dir`): a file's
//! tree refers to the types of the files it includes in their own trees
//! (the crate compiling at all shows the paths resolve), and its registry
//! knows their classes: a `Bag` of `PerFileUse.ice` holding a `Shape` of
//! `PerFileBase.ice` and a `Circle` of its own decodes as the most-derived
//! types in both encodings.

use generated_check::per_file::{per_file_base, per_file_use};
use ice_proto::encoding::{
    Class, Decode, Encode, EncodingVersion, Format, InputStream, OutputStream,
};
use per_file_base::per_file as base;
use per_file_use::per_file as used;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn a_file_tree_uses_and_registers_the_types_of_its_includes() -> TestResult {
    let bag = used::Bag {
        shapes: vec![
            Some(Class::from_value(base::Shape { name: "s".into() })),
            Some(Class::from_value(used::Circle {
                base: base::Shape { name: "c".into() },
                center: base::Pos { x: 1, y: 2 },
                owner: None,
            })),
        ],
        at: base::Pos { x: 3, y: 4 },
    };
    for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
        let mut out = OutputStream::new(enc);
        out.start_encapsulation(enc, Format::Compact);
        bag.encode(&mut out);
        out.write_pending_classes();
        out.end_encapsulation();
        let mut input = InputStream::from_slice(out.as_slice(), enc)
            .with_registry(per_file_use::ice_registry());
        input.start_encapsulation()?;
        let got = used::Bag::decode(&mut input)?;
        input.read_pending_classes()?;
        input.end_encapsulation()?;
        let ids: Vec<_> = got
            .shapes
            .iter()
            .map(|s| s.as_ref().map(|s| s.ice_id()))
            .collect();
        assert_eq!(
            ids,
            [
                Some(base::Shape::ICE_ID.into()),
                Some(used::Circle::ICE_ID.into())
            ],
            "{enc}"
        );
        let circle = got.shapes[1]
            .as_ref()
            .and_then(|c| c.downcast::<used::Circle>())
            .ok_or("not a Circle")?;
        assert_eq!(circle.read().center, base::Pos { x: 1, y: 2 });
        assert_eq!(got.at, bag.at);
    }
    Ok(())
}
