//! Compile check of slice2rs: the generated code for every non-local
//! definition in ZeroC Ice's Slice files (Ice, IceGrid, IceStorm, Glacier2,
//! ...) and in the project's `slice/` folder is included here and must build
//! with `-D warnings` (see `#![deny(warnings)]`). The build script generates
//! it with `slice_compiler::builder`.
//!
//! Types, constants, classes, exceptions, proxies, servant traits and
//! dispatchers are all checked; the tests of this crate run the generated
//! code against ZeroC Ice peers (`tests/test_ice_interop.rs` for the
//! comprehensive `slice/Test.ice`).

#![deny(warnings)]

/// Everything in `/usr/share/ice/slice`, one module tree.
pub mod ice_slice {
    include!(concat!(env!("OUT_DIR"), "/ice.rs"));
}

/// Everything in the project's `slice/` folder.
pub mod project {
    include!(concat!(env!("OUT_DIR"), "/project.rs"));
}

/// The types of the golden encoding fixtures (`tests/golden/encoding/Fixtures.ice`).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/golden.rs"));
}

/// The call shape of generated proxies and servants (`slice/ApiShape.ice`).
pub mod shape_check {
    include!(concat!(env!("OUT_DIR"), "/api_shape.rs"));
}

/// The interop test's types, proxies and servants (`slice/Codegen.ice`).
pub mod codegen {
    include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
}

/// The comprehensive interop test's types, proxies and servants (`slice/Test.ice`).
pub mod test_ice {
    include!(concat!(env!("OUT_DIR"), "/test_ice.rs"));
}

/// Slicing and `["preserve-slice"]` through a Rust relay
/// (`slice/Preserve.ice` and `slice/PreserveRustOnly.ice`).
pub mod preserve_slice {
    include!(concat!(env!("OUT_DIR"), "/preserve.rs"));
}

/// The communicator's default class format (`slice/FormatDefault.ice`).
pub mod default_format {
    include!(concat!(env!("OUT_DIR"), "/format_default.rs"));
}

/// Classes and exceptions with full Ice fidelity (`slice/Fidelity.ice`).
pub mod fidelity_full {
    include!(concat!(env!("OUT_DIR"), "/fidelity.rs"));
}

/// `slice/Fidelity.ice` as an older program knows it (`slice/FidelityOld.ice`).
pub mod fidelity_old {
    include!(concat!(env!("OUT_DIR"), "/fidelity_old.rs"));
}

/// Multiple interface inheritance (`slice/MultiInherit.ice`).
pub mod multi {
    include!(concat!(env!("OUT_DIR"), "/multi_inherit.rs"));
}

/// Per-file output (`Builder::per_file`, like `slice2rs --output-dir`):
/// each Slice file's tree in a module named after its path relative to its
/// include folder (`Ice/Identity.ice` in `ice_identity`), side by side.
pub mod per_file {
    /// `Ice/BuiltinSequences.ice`.
    pub mod ice_builtin_sequences {
        include!(concat!(
            env!("OUT_DIR"),
            "/per_file/Ice/BuiltinSequences.rs"
        ));
    }
    /// `Ice/Identity.ice`.
    pub mod ice_identity {
        include!(concat!(env!("OUT_DIR"), "/per_file/Ice/Identity.rs"));
    }
    /// `Ice/Process.ice`.
    pub mod ice_process {
        include!(concat!(env!("OUT_DIR"), "/per_file/Ice/Process.rs"));
    }
    /// `Ice/Locator.ice` (uses `Identity` and `Process*`).
    pub mod ice_locator {
        include!(concat!(env!("OUT_DIR"), "/per_file/Ice/Locator.rs"));
    }
    /// `slice/PerFileBase.ice`.
    pub mod per_file_base {
        include!(concat!(env!("OUT_DIR"), "/per_file/PerFileBase.rs"));
    }
    /// `slice/PerFileUse.ice` (uses every kind of definition of `PerFileBase.ice`).
    pub mod per_file_use {
        include!(concat!(env!("OUT_DIR"), "/per_file/PerFileUse.rs"));
    }
}

/// The generator's golden test inputs (`slice-compiler/tests/golden_codegen`).
pub mod golden_codegen {
    include!(concat!(env!("OUT_DIR"), "/golden_codegen.rs"));
}

/// Number of ZeroC Slice files compiled into [`ice_slice`].
pub const ICE_SLICE_FILES: &str = env!("ICE_SLICE_FILES");
/// Number of project Slice files compiled into [`project`].
pub const PROJECT_SLICE_FILES: &str = env!("PROJECT_SLICE_FILES");
