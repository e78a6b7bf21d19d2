//! logpipe's own logs: JSON lines on stdout through `tracing`, so the pipeline can ingest
//! itself. Only the binary calls [`init`]; libraries only emit.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber with `filter` (a level or tracing directives, validated by
/// the configuration). librdkafka's logs arrive through the `log` bridge.
pub fn init(filter: &str) {
    let filter =
        EnvFilter::try_new(with_broker_quiet(filter)).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}

/// The embedded broker's crates (`tansu_*`) log every record they decode at `info`: they
/// get `warn` unless the filter names them itself.
fn with_broker_quiet(filter: &str) -> String {
    if filter.contains("tansu") {
        filter.to_owned()
    } else {
        format!("{filter},tansu=warn")
    }
}
