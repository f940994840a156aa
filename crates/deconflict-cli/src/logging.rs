//! Logs go to stderr, filtered by `RUST_LOG` (default `info`); `DECONFLICT_LOG_FORMAT=json`
//! writes one JSON object per line for log collectors.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

/// As [`init`], with `level` when `RUST_LOG` is not set.
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("DECONFLICT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files or log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
