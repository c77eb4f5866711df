//! Logging set-up and the `/metrics` endpoint.

use std::io::IsTerminal;

use axum::http::header;
use axum::response::IntoResponse;
use prometheus::Encoder;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global `tracing` subscriber (stderr; text or JSON). Text carries colour only
/// when stderr is a terminal: a log file or a pipe gets plain text.
pub(crate) fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.log_level.clone()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Renders the default Prometheus registry in the text exposition format.
pub(crate) fn render_metrics() -> impl IntoResponse {
    let encoder = prometheus::TextEncoder::new();
    let mut buf = Vec::new();
    if let Err(error) = encoder.encode(&prometheus::gather(), &mut buf) {
        tracing::error!(%error, "failed to encode metrics");
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_string())],
        buf,
    )
}
