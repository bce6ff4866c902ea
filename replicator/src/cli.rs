//! What the programs share: Ice-style arguments (`--Ice.Config=FILE`,
//! `--Name=value`), embedded default properties, logging and signals.

use ice_proto::properties::Properties;

/// Splits a program's arguments (without the program name) into Ice
/// properties and the other arguments: `--Ice.Config=FILES` is loaded first,
/// then every `--Name=value` argument is applied. `defaults` are set for the
/// names neither gave.
///
/// # Errors
/// When a config file cannot be read.
pub fn properties_from_args(
    args: Vec<String>,
    defaults: &[(&str, &str)],
) -> std::io::Result<(Properties, Vec<String>)> {
    let (mut props, rest) = Properties::from_args(args)?;
    let rest = props.apply_command_line(rest);
    for (k, v) in defaults {
        if props.get_property(k).is_none() {
            props.set_property(k, v);
        }
    }
    Ok((props, rest))
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_overrides_defaults_and_other_args_remain() {
        let args = vec![
            "--Foo.Endpoints=tcp -p 1".to_owned(),
            "status".to_owned(),
            "--Ice.Default.EncodingVersion=1.0".to_owned(),
        ];
        let (p, rest) =
            properties_from_args(args, &[("Foo.Endpoints", "tcp -p 2"), ("Bar.X", "y")])
                .unwrap_or_default();
        assert_eq!(p.get_property("Foo.Endpoints"), Some("tcp -p 1"));
        assert_eq!(p.get_property("Bar.X"), Some("y"));
        assert_eq!(p.get_property("Ice.Default.EncodingVersion"), Some("1.0"));
        assert_eq!(rest, vec!["status".to_owned()]);
    }
}
