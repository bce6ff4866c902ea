//! Helpers shared by the unit tests of several modules.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::RuntimeError;

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `test` on its own current-thread runtime with a `tracing`
/// subscriber (up to `info`, as the default subscriber) that captures its
/// output, and returns that output as text.
pub(crate) fn captured_traces(
    test: impl Future<Output = Result<(), RuntimeError>>,
) -> Result<String, RuntimeError> {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RuntimeError::io("runtime", e))?;
    tracing::subscriber::with_default(subscriber, || runtime.block_on(test))?;
    Ok(capture
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default())
}
