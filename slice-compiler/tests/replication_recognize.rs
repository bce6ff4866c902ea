//! The State Replicator recogniser over the inputs in `tests/replication/`
//! and the project's three components in `slice/`: what each input is
//! recognised as, the diagnostics of misfits (golden `.err` files, file
//! and line included), and that slice2cpp accepts every input.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the `.err` files.

use std::path::{Path, PathBuf};

use slice_compiler::codegen::replication::{self, Options};
use slice_compiler::preprocess::PreprocessOptions;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replication")
}

fn project_slice() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slice")
}

fn compile(file: &Path) -> Result<slice_compiler::Compilation, String> {
    let c = slice_compiler::compile(&slice_compiler::Options {
        files: vec![file.to_path_buf()],
        preprocess: PreprocessOptions {
            include_dirs: vec![project_slice()],
            ..PreprocessOptions::default()
        },
    });
    if c.has_errors() {
        return Err(c.render_diagnostics());
    }
    Ok(c)
}

/// The summaries of the patterns recognised in `file`.
fn summaries(file: &Path, options: &Options) -> Result<Vec<String>, String> {
    let c = compile(file)?;
    let mut out = Vec::new();
    for unit in &c.units {
        let model = unit.as_ref().map_err(|d| d.render(&c.sources))?;
        let (patterns, diags) = replication::recognize(model, options);
        if diags.has_errors() {
            return Err(diags.render(&c.sources));
        }
        out.extend(patterns.iter().map(|p| p.summary(&model.ast)));
    }
    Ok(out)
}

/// The rendered diagnostics of generating glue for `file`, with the
/// folder part of file names removed.
fn glue_errors(file: &Path, options: &Options) -> Result<String, String> {
    let c = compile(file)?;
    let models: Vec<_> = c.units.iter().filter_map(|u| u.as_ref().ok()).collect();
    match replication::generate(&models, options) {
        Ok(_) => Err(format!(
            "{}: glue generated, an error was expected",
            file.display()
        )),
        Err(d) => Ok(d
            .render(&c.sources)
            .replace(&format!("{}/", dir().display()), "")),
    }
}

const ACCEPTED: &[(&str, &str)] = &[
    (
        "StateNames.ice",
        "::Acme::Presence::PresenceStateReplicator listener=::Acme::Presence::PresenceStateListener \
         add=addStateReplicatorListener remove-listener=removeStateReplicatorListener set=setState \
         remove=removeState get=getState get-all=getAllState items-set=stateSet \
         items-removed=stateRemoved item=::Acme::Presence::StateItem key=member:id removal=-",
    ),
    (
        "OtherNaming.ice",
        "::Telco::Journal listener=::Telco::Mirror add=subscribe remove-listener=unsubscribe \
         set=put remove=erase get=fetch get-all=snapshot items-set=changed items-removed=erased \
         item=::Telco::Entry key=member:recordId removal=-",
    ),
    (
        "KeyByMetadata.ice",
        "::Shop::CatalogReplicator listener=::Shop::CatalogListener add=addListener \
         remove-listener=removeListener set=setArticles remove=removeArticles get=getArticles \
         get-all=getAllArticles items-set=articlesSet items-removed=articlesRemoved \
         item=::Shop::Article key=member:sku removal=-",
    ),
    (
        "OpsByMetadata.ice",
        "::Lab::SampleStore listener=::Lab::Watcher add=join remove-listener=leave set=store \
         remove=drop get=lookup get-all=everything items-set=samplesSet \
         items-removed=samplesRemoved item=::Lab::Sample key=member:name removal=-",
    ),
    (
        "RemoveByItems.ice",
        "::Depot::ParcelReplicator listener=::Depot::ParcelListener add=addListener \
         remove-listener=removeListener set=store remove=ship(items) get=find get-all=all \
         items-set=parcelsStored items-removed=parcelsShipped item=::Depot::Parcel \
         key=member:code removal=-",
    ),
];

const PROJECT: &[(&str, &str)] = &[
    (
        "AsteriskSCF/ChannelServiceX/ChannelServiceXStateReplicationIf.ice",
        "::AsteriskSCF::ChannelServiceX::V1::ChannelServiceXStateReplicator \
         listener=::AsteriskSCF::ChannelServiceX::V1::ChannelServiceXStateReplicatorListener \
         add=addListener remove-listener=removeListener set=setStateItems remove=removeStateItems \
         get=getStateItems get-all=getAllStateItems items-set=stateItemsSet \
         items-removed=stateItemsRemoved item=::AsteriskSCF::ChannelServiceX::V1::ChannelServiceXStateItem \
         key=member:key removal=-",
    ),
    (
        "AsteriskSCF/SessionServiceY/SessionServiceYStateReplicationIf.ice",
        "::AsteriskSCF::SessionServiceY::V1::SessionServiceYStateReplicator \
         listener=::AsteriskSCF::SessionServiceY::V1::SessionServiceYStateReplicatorListener \
         add=addListener remove-listener=removeListener set=setStateItems remove=removeStateItems \
         get=getStateItems get-all=getAllStateItems items-set=stateItemsSet \
         items-removed=stateItemsRemoved item=::AsteriskSCF::SessionServiceY::V1::SessionServiceYStateItem \
         key=external:::AsteriskSCF::SessionServiceY::V1::SessionServiceYStateEntry.key removal=-",
    ),
    (
        "AsteriskSCF/BridgeServiceZ/BridgeServiceZStateReplicationIf.ice",
        "::AsteriskSCF::BridgeServiceZ::V1::BridgeServiceZStateReplicator \
         listener=::AsteriskSCF::BridgeServiceZ::V1::BridgeServiceZStateReplicatorListener \
         add=addListener remove-listener=removeListener set=setStateItems remove=- \
         get=getStateItems get-all=getAllStateItems items-set=stateItemsSet items-removed=- \
         item=::AsteriskSCF::BridgeServiceZ::V1::BridgeServiceZStateItem key=member:key \
         removal=::AsteriskSCF::BridgeServiceZ::V1::BridgeServiceZStateItemRemoval",
    ),
];

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn test_inputs_are_recognised_by_shape() -> Result<(), String> {
    for (file, expected) in ACCEPTED {
        let got = summaries(&dir().join(file), &Options::default())?;
        assert_eq!(got, vec![squash(expected)], "{file}");
    }
    Ok(())
}

#[test]
fn the_project_components_are_recognised() -> Result<(), String> {
    for (file, expected) in PROJECT {
        let got = summaries(&project_slice().join(file), &Options::default())?;
        assert_eq!(got, vec![squash(expected)], "{file}");
    }
    // The service interface and Replica are not replicators (Replica has
    // a listener pair but no items).
    for file in [
        "AsteriskSCF/ChannelServiceX/ChannelServiceXIf.ice",
        "AsteriskSCF/System/Component/ReplicaIf.ice",
    ] {
        assert_eq!(
            summaries(&project_slice().join(file), &Options::default())?,
            Vec::<String>::new(),
            "{file}"
        );
    }
    Ok(())
}

#[test]
fn an_ambiguous_key_is_an_error_unless_an_option_names_it() -> Result<(), String> {
    let file = dir().join("KeyAmbiguous.ice");
    let err = summaries(&file, &Options::default())
        .err()
        .unwrap_or_default();
    assert!(
        err.contains(
            "KeyAmbiguous.ice:11: error: members `name` and `sku` of `Article` both fit the key"
        ),
        "{err}"
    );
    let by_option = Options {
        keys: vec![("Shop::Article".into(), "sku".into())],
        ..Options::default()
    };
    let got = summaries(&file, &by_option)?;
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("key=member:sku"), "{got:?}");
    let by_interface = Options {
        keys: vec![("::Shop::CatalogReplicator".into(), "name".into())],
        ..Options::default()
    };
    assert!(summaries(&file, &by_interface)?[0].contains("key=member:name"));
    Ok(())
}

#[test]
fn misfits_have_golden_diagnostics() -> Result<(), String> {
    let cases: &[(&str, Options)] = &[
        ("Misfit.ice", Options::default()),
        ("MisfitShape.ice", Options::default()),
        (
            "AmbiguousOps.ice",
            Options {
                enabled: true,
                ..Options::default()
            },
        ),
        (
            "StateNames.ice",
            Options {
                interfaces: vec!["Acme::Presence::PresenceStateListener".into()],
                ..Options::default()
            },
        ),
    ];
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (file, options) in cases {
        let got = glue_errors(&dir().join(file), options)?;
        let golden = dir().join(format!(
            "{}{}.err",
            file.trim_end_matches(".ice"),
            if options.interfaces.is_empty() {
                ""
            } else {
                ".named"
            }
        ));
        if update {
            std::fs::write(&golden, &got).map_err(|e| e.to_string())?;
        }
        let want =
            std::fs::read_to_string(&golden).map_err(|e| format!("{}: {e}", golden.display()))?;
        assert_eq!(got, want, "{file}");
    }
    Ok(())
}

#[test]
fn replication_asked_for_with_nothing_fitting_is_an_error() -> Result<(), String> {
    let file = project_slice().join("AsteriskSCF/System/Component/ReplicaIf.ice");
    let options = Options {
        enabled: true,
        ..Options::default()
    };
    let c = compile(&file)?;
    let models: Vec<_> = c.units.iter().filter_map(|u| u.as_ref().ok()).collect();
    let err = replication::generate(&models, &options)
        .err()
        .map(|d| d.render(&c.sources))
        .unwrap_or_default();
    assert!(err.contains("no interface fits the pattern"), "{err}");
    // Without asking, nothing is generated and nothing fails.
    assert_eq!(
        replication::generate(&models, &Options::default()).map_err(|d| d.render(&c.sources))?,
        ""
    );
    Ok(())
}

#[test]
fn generated_glue_parses_for_every_accepted_input() -> Result<(), String> {
    let files: Vec<PathBuf> = ACCEPTED
        .iter()
        .map(|(f, _)| dir().join(f))
        .chain(PROJECT.iter().map(|(f, _)| project_slice().join(f)))
        .collect();
    for file in files {
        let c = compile(&file)?;
        let models: Vec<_> = c.units.iter().filter_map(|u| u.as_ref().ok()).collect();
        let glue = replication::generate(
            &models,
            &Options {
                enabled: true,
                ..Options::default()
            },
        )
        .map_err(|d| d.render(&c.sources))?;
        assert!(glue.contains("pub mod replication"), "{}", file.display());
        for item in [
            "pub struct Item",
            "impl ::replicator::Keyed for Item",
            "pub struct ListenerProxy",
            "pub struct ReplicatorServant",
            "pub struct Client",
            "pub struct MemberListener",
        ] {
            assert!(glue.contains(item), "{}: no `{item}`", file.display());
        }
    }
    Ok(())
}

#[test]
fn slice2cpp_accepts_every_input() -> Result<(), String> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ice"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    for f in files {
        let r = std::process::Command::new("slice2cpp")
            .arg("-I")
            .arg(project_slice())
            .arg("--output-dir")
            .arg(out.path())
            .arg(&f)
            .output()
            .map_err(|e| format!("slice2cpp (install zeroc-ice-compilers): {e}"))?;
        assert!(
            r.status.success(),
            "slice2cpp rejected {}: {}",
            f.display(),
            String::from_utf8_lossy(&r.stderr)
        );
    }
    Ok(())
}
