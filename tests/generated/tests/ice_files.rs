//! The generated code for ZeroC Ice's own Slice files is really there (the
//! crate compiling proves it has no error or warning) and agrees with the
//! hand-written runtime types it duplicates.

use generated_check::ice_slice;
use ice_proto::encoding::{Encode, EncodingVersion, OutputStream};

#[test]
fn every_zeroc_slice_file_was_compiled() {
    let n: usize = generated_check::ICE_SLICE_FILES.parse().unwrap_or(0);
    // Debian's zeroc-ice-slice 3.7 ships 67 files (Ice, IceGrid, IceStorm,
    // Glacier2, IceBox, IceBT, IceIAP, IcePatch2, IceSSL).
    assert!(
        n >= 60,
        "only {n} Slice files under /usr/share/ice/slice: is zeroc-ice-slice installed?"
    );
    let p: usize = generated_check::PROJECT_SLICE_FILES.parse().unwrap_or(0);
    assert!(p >= 1, "no project Slice file compiled");
}

#[test]
fn generated_identity_encodes_like_the_runtime_identity() {
    let ours = ice_slice::ice::Identity {
        name: "hello".into(),
        category: "cat".into(),
    };
    let theirs = ice_proto::encoding::Identity {
        name: "hello".into(),
        category: "cat".into(),
    };
    for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
        let mut a = OutputStream::new(enc);
        ours.encode(&mut a);
        let mut b = OutputStream::new(enc);
        theirs.encode(&mut b);
        assert_eq!(a.as_slice(), b.as_slice());
    }
    assert_eq!(ice_slice::ice::Identity::ICE_ID, "::Ice::Identity");
}

#[test]
fn type_ids_and_constants_come_from_the_slice_files() {
    assert_eq!(
        ice_slice::ice_grid::ObjectInfo::ICE_ID,
        "::IceGrid::ObjectInfo"
    );
    assert_eq!(
        ice_slice::ice_storm::NoSuchTopic::ICE_ID,
        "::IceStorm::NoSuchTopic"
    );
    assert_eq!(
        ice_slice::glacier2::CannotCreateSessionException::ICE_ID,
        "::Glacier2::CannotCreateSessionException"
    );
    // An enum with Ice's values, in declaration order.
    use ice_slice::ice_grid::ServerState;
    assert_eq!(ServerState::Inactive.value(), 0);
    assert_eq!(ServerState::from_value(1), Some(ServerState::Activating));
}
