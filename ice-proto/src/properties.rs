//! Ice properties: the `Name=value` settings that configure a communicator
//! and its object adapters.
//!
//! Properties come from config files (`Ice.Config`, the `ICE_CONFIG`
//! environment variable), from `--Name=value` command-line arguments and
//! from code. Parsing follows ZeroC Ice's rules, checked against ZeroC Ice
//! 3.7 on the table in `tests/golden/properties/`:
//!
//! - a line is `key = value`; whitespace around key and value is dropped,
//!   whitespace inside them is kept;
//! - `#` starts a comment anywhere on the line, unless escaped as `\#`;
//! - `\=`, `\#` and `\\` stand for the character itself, `\ ` keeps a space
//!   that would otherwise be trimmed (leading or trailing in the value); any
//!   other backslash is kept as it is;
//! - a line with no `=`, or with an empty key, is ignored with a warning;
//! - an empty value removes the property.
//!
//! This module knows text only; what the properties mean is up to the
//! communicator and adapters that read them.

use std::collections::BTreeMap;
use std::path::Path;

/// The property prefixes that Ice reserves for itself: `Ice.CommunicatorInit`
/// style command-line parsing takes `--<prefix>.*` arguments for these only.
pub const RESERVED_PREFIXES: &[&str] = &[
    "Ice",
    "IceBox",
    "IceBoxAdmin",
    "IceBridge",
    "IceDiscovery",
    "IceGrid",
    "IceGridAdmin",
    "IceGridDiscovery",
    "IceLocatorDiscovery",
    "IcePatch2",
    "IcePatch2Client",
    "IceSSL",
    "IceStorm",
    "IceStormAdmin",
    "IceBT",
    "IceIAP",
    "Glacier2",
];

/// A set of Ice properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    values: BTreeMap<String, String>,
}

/// What one config-file line held.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// Blank or comment only.
    Empty,
    /// `key = value`.
    Setting(String, String),
    /// Text that is not a setting (no `=`, or an empty key).
    Invalid,
}

impl Properties {
    /// An empty set of properties.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds properties from command-line arguments as a program's
    /// communicator does: `--Ice.Config=FILES` loads those files first, then
    /// every `--<reserved prefix>.Name=value` argument is applied. Returns the
    /// properties and the arguments left over, in order.
    ///
    /// # Errors
    /// Fails when a config file named by `Ice.Config` cannot be read.
    pub fn from_args<I, S>(args: I) -> std::io::Result<(Self, Vec<String>)>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut props = Self::new();
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let (config, mut rest) = props.parse_command_line_options("Ice.Config", args);
        if let Some(files) = config.get_property("Ice.Config") {
            props.load_config_list(files)?;
        } else if let Ok(files) = std::env::var("ICE_CONFIG") {
            props.load_config_list(&files)?;
        }
        for prefix in RESERVED_PREFIXES {
            let (parsed, left) = props.parse_command_line_options(prefix, rest);
            props.values.extend(parsed.values);
            rest = left;
        }
        Ok((props, rest))
    }

    /// Loads a comma-separated list of config files, in order.
    fn load_config_list(&mut self, files: &str) -> std::io::Result<()> {
        for file in files.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            self.load(file)?;
        }
        self.set_property("Ice.Config", files);
        Ok(())
    }

    /// The value of a property, if set.
    #[must_use]
    pub fn get_property(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of a property, or `default` when it is not set.
    #[must_use]
    pub fn get_property_with_default<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get_property(key).unwrap_or(default)
    }

    /// The value of a property as an integer, or `default` when it is not set
    /// or is not an integer (Ice warns and uses the default then).
    #[must_use]
    pub fn get_property_as_int_with_default(&self, key: &str, default: i32) -> i32 {
        match self.get_property(key) {
            None => default,
            Some(text) => match text.trim().parse::<i32>() {
                Ok(n) => n,
                Err(_) => {
                    tracing::warn!(
                        property = key,
                        value = text,
                        "numeric property set to a non-numeric value, using default value"
                    );
                    default
                }
            },
        }
    }

    /// The value of a property as an integer, 0 when unset or not a number.
    #[must_use]
    pub fn get_property_as_int(&self, key: &str) -> i32 {
        self.get_property_as_int_with_default(key, 0)
    }

    /// The value of a property split into a list at whitespace and commas,
    /// with single or double quotes grouping an element; `default` when unset.
    /// Returns `None` when the value has an unbalanced quote.
    #[must_use]
    pub fn get_property_as_list_with_default(
        &self,
        key: &str,
        default: &[&str],
    ) -> Option<Vec<String>> {
        match self.get_property(key) {
            None => Some(default.iter().map(|s| (*s).to_owned()).collect()),
            Some(text) => split_list(text),
        }
    }

    /// Sets a property; an empty value removes it. The key is trimmed and an
    /// empty key is ignored.
    pub fn set_property(&mut self, key: &str, value: &str) {
        let key = key.trim();
        if key.is_empty() {
            return;
        }
        if value.is_empty() {
            self.values.remove(key);
        } else {
            self.values.insert(key.to_owned(), value.to_owned());
        }
    }

    /// Builder-style [`Properties::set_property`].
    #[must_use]
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.set_property(key, value);
        self
    }

    /// Every property whose name starts with `prefix` (all of them for "").
    #[must_use]
    pub fn get_properties_for_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.values
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Reads a config file and applies its settings in order.
    ///
    /// # Errors
    /// Fails when the file cannot be read.
    pub fn load(&mut self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let bytes = std::fs::read(path.as_ref())?;
        let text = String::from_utf8_lossy(&bytes);
        self.load_str(&text);
        Ok(())
    }

    /// Applies the settings of config-file text, line by line.
    pub fn load_str(&mut self, text: &str) {
        for line in text.split('\n') {
            self.apply_line(line);
        }
    }

    fn apply_line(&mut self, line: &str) {
        match parse_line(line) {
            Line::Empty => {}
            Line::Setting(key, value) => self.set_property(&key, &value),
            Line::Invalid => tracing::warn!(entry = line, "invalid config file entry"),
        }
    }

    /// Takes every argument that starts with `--<prefix>.` (or `--` when
    /// `prefix` is empty) and parses it as a config-file line (`--Name` alone
    /// means `Name=1`). Returns the properties read and the other arguments,
    /// in order. `self` is not changed.
    #[must_use]
    pub fn parse_command_line_options(
        &self,
        prefix: &str,
        args: Vec<String>,
    ) -> (Properties, Vec<String>) {
        let mut marker = String::from("--");
        marker.push_str(prefix);
        if !prefix.is_empty() && !prefix.ends_with('.') {
            marker.push('.');
        }
        let mut parsed = Properties::new();
        let mut rest = Vec::new();
        for arg in args {
            // `--Ice.Config` (a prefix that is a whole property name) matches
            // itself as well as `--Ice.Config.X`.
            let whole = prefix.contains('.')
                && (arg == format!("--{prefix}") || arg.starts_with(&format!("--{prefix}=")));
            if arg.starts_with(&marker) || whole {
                let mut line = arg[2..].to_owned();
                if !line.contains('=') {
                    line.push_str("=1");
                }
                parsed.apply_line(&line);
            } else {
                rest.push(arg);
            }
        }
        (parsed, rest)
    }

    /// ZeroC's `parseCommandLineOptions`: sets every `--<prefix>.Name=value`
    /// argument as a property (every `--Name=value` when `prefix` is
    /// empty) and returns the other arguments, in order. What a program
    /// does with its own prefix after building its properties
    /// (`--MyApp.Port=10000`).
    pub fn merge_command_line_options(&mut self, prefix: &str, args: Vec<String>) -> Vec<String> {
        let (parsed, rest) = self.parse_command_line_options(prefix, args);
        self.values.extend(parsed.values);
        rest
    }

    /// Applies `--Name=value` arguments for every name (Ice's
    /// `parseCommandLineOptions("", args)`) and returns the others.
    pub fn apply_command_line(&mut self, args: Vec<String>) -> Vec<String> {
        let (parsed, rest) = self.parse_command_line_options("", args);
        self.values.extend(parsed.values);
        rest
    }

    /// The number of properties set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no property is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Where the line parser is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Key,
    Value,
}

/// Parses one config-file line.
fn parse_line(line: &str) -> Line {
    let mut part = Part::Key;
    let mut key = String::new();
    let mut value = String::new();
    // Whitespace seen after text, kept only if more text follows.
    let mut pending = String::new();
    // Escaped spaces seen in the value, kept even at its start or end.
    let mut escaped = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match part {
            Part::Key => match c {
                '\\' => match chars.next() {
                    Some(e @ ('\\' | '#' | '=')) => {
                        key.push_str(&pending);
                        pending.clear();
                        key.push(e);
                    }
                    Some(' ') => {
                        if !key.is_empty() {
                            pending.push(' ');
                        }
                    }
                    Some(other) => {
                        key.push_str(&pending);
                        pending.clear();
                        key.push('\\');
                        key.push(other);
                    }
                    None => {
                        key.push_str(&pending);
                        pending.clear();
                        key.push('\\');
                    }
                },
                ' ' | '\t' | '\r' | '\n' => {
                    if !key.is_empty() {
                        pending.push(c);
                    }
                }
                '=' => {
                    pending.clear();
                    part = Part::Value;
                }
                '#' => break,
                _ => {
                    key.push_str(&pending);
                    pending.clear();
                    key.push(c);
                }
            },
            Part::Value => {
                let push_text = |value: &mut String,
                                 pending: &mut String,
                                 escaped: &mut String,
                                 text: &[char]| {
                    if value.is_empty() {
                        value.push_str(escaped);
                    } else {
                        value.push_str(pending);
                    }
                    pending.clear();
                    escaped.clear();
                    value.extend(text);
                };
                match c {
                    '\\' => match chars.next() {
                        Some(e @ ('\\' | '#' | '=')) => {
                            push_text(&mut value, &mut pending, &mut escaped, &[e])
                        }
                        Some(' ') => {
                            pending.push(' ');
                            escaped.push(' ');
                        }
                        Some(other) => {
                            push_text(&mut value, &mut pending, &mut escaped, &['\\', other])
                        }
                        None => push_text(&mut value, &mut pending, &mut escaped, &['\\']),
                    },
                    ' ' | '\t' | '\r' | '\n' => {
                        if !value.is_empty() {
                            pending.push(c);
                        }
                    }
                    '#' => break,
                    _ => push_text(&mut value, &mut pending, &mut escaped, &[c]),
                }
            }
        }
    }
    value.push_str(&escaped);
    match part {
        Part::Key if key.is_empty() => Line::Empty,
        Part::Key => Line::Invalid,
        Part::Value if key.is_empty() => Line::Invalid,
        Part::Value => Line::Setting(key, value),
    }
}

/// Splits a list-valued property at whitespace and commas, with quotes
/// grouping; `None` on an unbalanced quote.
fn split_list(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' && chars.peek() == Some(&q) {
                    current.push(q);
                    chars.next();
                } else if c == q {
                    quote = None;
                } else {
                    current.push(c);
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '\\' if matches!(chars.peek(), Some('"' | '\'')) => {
                    if let Some(q) = chars.next() {
                        current.push(q);
                    }
                }
                ' ' | '\t' | '\r' | '\n' | ',' => {
                    if !current.is_empty() {
                        out.push(std::mem::take(&mut current));
                    }
                }
                _ => current.push(c),
            },
        }
    }
    if quote.is_some() {
        return None;
    }
    if !current.is_empty() {
        out.push(current);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(k: &str, v: &str) -> Line {
        Line::Setting(k.to_owned(), v.to_owned())
    }

    #[test]
    fn lines_parse_as_ice_parses_them() {
        let table = [
            ("A=1", setting("A", "1")),
            ("  Key  =  a  b  ", setting("Key", "a  b")),
            ("A=1 # c", setting("A", "1")),
            ("# only a comment", Line::Empty),
            ("", Line::Empty),
            ("A=x\\#y", setting("A", "x#y")),
            ("K\\=P=v", setting("K=P", "v")),
            ("A=\\ \\ x", setting("A", "  x")),
            ("A=x\\ \\ ", setting("A", "x  ")),
            ("A=C:\\dir", setting("A", "C:\\dir")),
            ("A=a\\\\b", setting("A", "a\\b")),
            ("A=end\\", setting("A", "end\\")),
            ("NoEquals", Line::Invalid),
            ("=v", Line::Invalid),
            ("A#b=1", Line::Invalid),
            ("A=", setting("A", "")),
        ];
        for (line, want) in table {
            assert_eq!(parse_line(line), want, "line {line:?}");
        }
    }

    #[test]
    fn empty_value_removes_and_prefix_lookup_works() {
        let mut p = Properties::new();
        p.load_str("A.x=1\nA.y=2\nB=3\nA.x=\n");
        assert_eq!(p.get_property("A.x"), None);
        let a: Vec<_> = p.get_properties_for_prefix("A.").into_keys().collect();
        assert_eq!(a, vec!["A.y".to_owned()]);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn command_line_options() {
        let p = Properties::new();
        let args = ["--A=1", "--B", "plain", "--Ice.X=2"]
            .map(String::from)
            .to_vec();
        let (parsed, rest) = p.parse_command_line_options("Ice", args);
        assert_eq!(parsed.get_property("Ice.X"), Some("2"));
        assert_eq!(parsed.get_property("A"), None);
        assert_eq!(rest, vec!["--A=1", "--B", "plain"]);
        let (parsed, rest) = p.parse_command_line_options("", rest);
        assert_eq!(parsed.get_property("A"), Some("1"));
        assert_eq!(parsed.get_property("B"), Some("1"));
        assert_eq!(rest, vec!["plain"]);
    }

    #[test]
    fn ints_and_lists() {
        let p = Properties::new()
            .with("N", " 42 ")
            .with("Bad", "4x")
            .with("L", "a, b 'c d' \"e,f\"");
        assert_eq!(p.get_property_as_int("N"), 42);
        assert_eq!(p.get_property_as_int_with_default("Bad", 7), 7);
        assert_eq!(p.get_property_as_int_with_default("Missing", 9), 9);
        assert_eq!(
            p.get_property_as_list_with_default("L", &[]),
            Some(vec!["a".into(), "b".into(), "c d".into(), "e,f".into()])
        );
        assert_eq!(
            Properties::new()
                .with("Q", "'open")
                .get_property_as_list_with_default("Q", &[]),
            None
        );
    }

    #[test]
    fn config_file_named_on_the_command_line_is_loaded_first() {
        let dir = std::env::temp_dir().join(format!("ice-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("a.cfg");
        std::fs::write(&file, "Ice.Trace.Network=1\nApp.Name=file\n").ok();
        let args = vec![
            format!("--Ice.Config={}", file.display()),
            "--Ice.Trace.Network=3".to_owned(),
            "other".to_owned(),
        ];
        let (p, rest) = Properties::from_args(args)
            .map_err(|e| e.to_string())
            .unwrap_or_default();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(p.get_property("App.Name"), Some("file"));
        assert_eq!(p.get_property("Ice.Trace.Network"), Some("3"));
        assert_eq!(rest, vec!["other".to_owned()]);
    }
}
