//! Metadata and `slice2rs`: directives for other languages, on every kind
//! of place ZeroC's compilers accept them, give no warning and leave the
//! generated Rust unchanged; an unknown `["rs:..."]` directive gets a
//! `file:line: warning:` line (and the file is still generated). Checked
//! through the command line with `--output-dir`.

use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A Slice file with `META(place)` markers where metadata may be written.
const TEMPLATE: &str = r#"FILEMETA
module M
{
    META(module) module Inner
    {
        META(enum) enum Color { Red, Green }
        META(struct) struct Point
        {
            META(member) string label;
            int x;
        }
        META(sequence) sequence<META(element) string> Names;
        META(dictionary) dictionary<string, META(value) Names> Index;
        META(class) class Shape
        {
            META(member) Names names;
        }
        META(exception) exception Failure
        {
            META(member) string reason;
        }
        META(interface) interface Drawer
        {
            META(operation) string draw(META(param) string s, out META(param) Names n)
                throws Failure;
        }
        META(const) const string Hello = "hi";
    }
}
"#;

/// Foreign metadata, one per place kind: each language's usual directives.
const FOREIGN: &[&str] = &[
    "cpp:type:wstring",
    "cpp:array",
    "cpp:const",
    "cpp:view-type:std::string_view",
    "java:type:java.util.LinkedList<String>",
    "java:getset",
    "python:seq:tuple",
    "python:package:a.b",
    "cs:generic:List",
    "cs:property",
    "objc:prefix:XY",
    "js:module:x",
    "swift:module:X:Y",
    "matlab:identifier:x",
    "php:identifier:x",
    "ruby:identifier:x",
];

fn fill(meta: &str, file_meta: &str) -> String {
    let mut text = TEMPLATE.replace("FILEMETA", file_meta);
    for place in [
        "module",
        "enum",
        "struct",
        "member",
        "sequence",
        "element",
        "dictionary",
        "value",
        "class",
        "exception",
        "interface",
        "operation",
        "param",
        "const",
    ] {
        text = text.replace(&format!("META({place})"), meta);
    }
    text
}

/// Runs `slice2rs --output-dir` on `text` as `M.ice`; returns the exit
/// success, stderr and the generated Rust.
fn slice2rs(text: &str) -> Result<(bool, String, String), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let ice = dir.path().join("M.ice");
    std::fs::write(&ice, text)?;
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir)?;
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("--output-dir")
        .arg(&out_dir)
        .arg(&ice)
        .output()?;
    let rs = std::fs::read_to_string(out_dir.join("M.rs")).unwrap_or_default();
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        rs,
    ))
}

#[test]
fn foreign_metadata_gives_no_warning_and_changes_nothing() -> TestResult {
    let (ok, stderr, plain) = slice2rs(&fill("", ""))?;
    assert!(ok && stderr.is_empty(), "{stderr}");
    assert!(plain.contains("pub struct Point"), "{plain}");
    let all = FOREIGN
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let file_meta = FOREIGN
        .iter()
        .map(|m| format!("[[\"{m}\"]]"))
        .collect::<Vec<_>>()
        .join("\n");
    let (ok, stderr, with) = slice2rs(&fill(&format!("[{all}]"), &file_meta))?;
    assert!(ok, "{stderr}");
    assert_eq!(stderr, "", "foreign metadata warned");
    assert!(
        with == plain,
        "foreign metadata changed the generated Rust:\n{with}"
    );
    Ok(())
}

#[test]
fn unknown_rs_metadata_is_warned_with_file_and_line() -> TestResult {
    let text = fill("", "[[\"rs:whole-file\"]]")
        .replace("struct Point", "[\"rs:derive:Copy\"] struct Point");
    let (ok, stderr, rs) = slice2rs(&text)?;
    assert!(ok, "a warning must not fail the build: {stderr}");
    assert!(rs.contains("pub struct Point"), "file not generated");
    let line = text
        .lines()
        .position(|l| l.contains("rs:derive:Copy"))
        .map(|i| i + 1)
        .ok_or("no marked line")?;
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].ends_with("M.ice:1: warning: ignoring invalid metadata `rs:whole-file'"),
        "{stderr}"
    );
    assert!(
        lines[1].ends_with(&format!(
            "M.ice:{line}: warning: ignoring invalid metadata `rs:derive:Copy'"
        )),
        "{stderr}"
    );
    Ok(())
}
