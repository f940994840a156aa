//! Server configuration: command-line flags, `DECONFLICT_*` environment variables and a TOML
//! file, in that order of precedence, over built-in defaults.
//!
//! ```toml
//! listen = "0.0.0.0:8082"
//! data_dir = "/var/lib/deconflict"      # relative paths are relative to this file
//! store = "sqlite"                      # or "postgres://user:password@host:5432/dss"
//! public_key = ["keys/oauth.pem"]
//! jwks_url = "https://auth.example.com/.well-known/jwks.json"
//! audience = ["dss.example.com"]
//! purge_interval_secs = 30
//!
//! [limits]
//! max_body_bytes = 4194304
//!
//! [log]
//! origin = "dss.example.org/log"         # the log's name in checkpoints and its key's name
//! cache_mib = 32                        # memory for cached block rows: proofs without a read
//!
//! [postgres]                            # only with a postgres:// store
//! max_connections = 16
//! connect_timeout_secs = 5
//!
//! [humanitarian]
//! base_url = "https://dss.example.org"   # where /uss/v1 serves the details of sites and movements
//! dss_registered_only = false           # true: unregistered subs may not write on /dss/v1 either
//! webhook_retry_max_secs = 300          # longest pause between two webhook delivery attempts
//! ack_deadline_secs = 3600              # then an unacknowledged notification is escalated
//!
//! [[humanitarian.party]]
//! id = "coord"                          # the JWT sub of the party's tokens
//! role = "coordinator"                  # armed, humanitarian, coordinator or observer
//! name = "Coordination cell"
//! contact = "+41 22 000 00 00"
//! webhook = { url = "https://coord.example/hook", secret = "at least 16 characters" }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use deconflict_core::limits::Limits;
use deconflict_humanitarian::party::Party;
use deconflict_store::PostgresOptions;
use serde::Deserialize;

/// The flags of `deconflict serve`. Each also reads a `DECONFLICT_*` variable; repeatable
/// flags take a comma-separated list there.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "DECONFLICT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8082].
    #[arg(long, env = "DECONFLICT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory of the database (and, with --dev, of the dev signing key)
    /// [default: ./deconflict-data].
    #[arg(long, env = "DECONFLICT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the data lives: `sqlite` (the embedded database in the data directory) or a
    /// `postgres://user:password@host:port/database` URL shared by a pool of instances
    /// [default: sqlite].
    #[arg(long, env = "DECONFLICT_STORE", value_name = "URL", value_parser = StoreConfig::parse)]
    pub store: Option<StoreConfig>,
    /// PEM file of a public key trusted to sign access tokens (repeatable).
    #[arg(
        long = "public-key",
        env = "DECONFLICT_PUBLIC_KEY",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub public_keys: Vec<PathBuf>,
    /// JWKS URL of the authorization server whose tokens are trusted.
    #[arg(long, env = "DECONFLICT_JWKS_URL", value_name = "URL")]
    pub jwks_url: Option<String>,
    /// Accepted token audience: the host name clients use for this DSS (repeatable).
    #[arg(
        long = "audience",
        env = "DECONFLICT_AUDIENCE",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,
    /// Development mode: trust the local dev key (created in the data directory) and the
    /// audiences `localhost` and `127.0.0.1`. Never in production.
    #[arg(
        long,
        env = "DECONFLICT_DEV",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub dev: Option<bool>,
    /// Seconds between two purges of ended entities [default: 30].
    #[arg(long, env = "DECONFLICT_PURGE_INTERVAL_SECS", value_name = "SECS")]
    pub purge_interval_secs: Option<u64>,
    /// How long past its end an entity is kept before the purge removes it [default: 300].
    #[arg(long, env = "DECONFLICT_PURGE_GRACE_SECS", value_name = "SECS")]
    pub purge_grace_secs: Option<u64>,
    /// Seconds a request may take before it is answered 503 [default: 30].
    #[arg(long, env = "DECONFLICT_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Requests a second each party (token `sub`) may send, in bursts of as many; more are
    /// answered 429 with `Retry-After` [default: no bound].
    #[arg(long, env = "DECONFLICT_PARTY_RATE", value_name = "N")]
    pub party_rate: Option<u32>,
    /// Largest request body, bytes [default: 4194304]. Other limits: `[limits]` in the file.
    #[arg(long, env = "DECONFLICT_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most entities one query may answer [default: 10000].
    #[arg(long, env = "DECONFLICT_QUERY_MAX_RESULTS", value_name = "N")]
    pub query_max_results: Option<usize>,
    /// The tamper-evident log's origin: its name in signed checkpoints, and the name of the
    /// key made for it on first start [default: deconflict/log].
    #[arg(long, env = "DECONFLICT_LOG_ORIGIN", value_name = "NAME")]
    pub log_origin: Option<String>,
    /// Memory, in MiB, for the log's cache of block rows (the hashes a proof reads; 16 KB per
    /// 256 entries): a proof whose rows are cached needs no read of the store (on PostgreSQL:
    /// no round trip). 32 keeps the newest (or most recently proved) 526,000 entries' rows;
    /// a 10,000,000-entry log's rows all take 637 MB [default: 32].
    #[arg(long, env = "DECONFLICT_LOG_CACHE_MIB", value_name = "MIB")]
    pub log_cache_mib: Option<usize>,
    /// PostgreSQL store: connections this instance holds at most for writes and blocking
    /// reads (one more catches up reads) [default: 16]. Other settings: `[postgres]` in the
    /// file.
    #[arg(long, env = "DECONFLICT_PG_MAX_CONNECTIONS", value_name = "N")]
    pub pg_max_connections: Option<u32>,
    /// PostgreSQL store: seconds to wait for a new or a free connection before a request is
    /// answered 503 [default: 5].
    #[arg(long, env = "DECONFLICT_PG_CONNECT_TIMEOUT_SECS", value_name = "SECS")]
    pub pg_connect_timeout_secs: Option<u64>,
}

/// The TOML file. Every key is optional; an unknown key is an error, so that a typo does not
/// silently leave a default in force.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// Checked in [`Config::merge`], not while parsing: a TOML error quotes the line, and this
    /// one may hold a password.
    pub store: Option<String>,
    #[serde(default)]
    pub public_key: Vec<PathBuf>,
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub audience: Vec<String>,
    pub dev: Option<bool>,
    pub purge_interval_secs: Option<u64>,
    pub purge_grace_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub party_rate: Option<u32>,
    pub limits: Option<Limits>,
    pub postgres: Option<PostgresFile>,
    pub humanitarian: Option<HumanitarianFile>,
    pub log: Option<LogFile>,
}

/// The `[log]` section of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub origin: Option<String>,
    pub cache_mib: Option<usize>,
}

/// The origin of a log whose origin is not configured.
pub const DEFAULT_LOG_ORIGIN: &str = "deconflict/log";

/// A log origin a signed-note key can be named by: not empty, no white space, no `+`, at most
/// 128 bytes (C2SP signed-note; the origin is conventionally a schema-less URL).
fn log_origin(origin: &str) -> Result<String, ConfigError> {
    let bad = |rule: &str| ConfigError::Invalid {
        field: "log.origin",
        rule: format!("{origin:?}: {rule}"),
    };
    if origin.is_empty() || origin.len() > 128 {
        return Err(bad("must be 1 to 128 bytes"));
    }
    if origin
        .chars()
        .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(bad("must not hold white space or '+'"));
    }
    Ok(origin.to_owned())
}

/// The `[postgres]` section of the TOML file: settings of a PostgreSQL store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresFile {
    pub max_connections: Option<u32>,
    pub connect_timeout_secs: Option<u64>,
    /// Runs of a write, the first included, before repeated serialization failures give 409.
    pub max_attempts: Option<u32>,
    /// Writes that share one transaction at most.
    pub max_batch: Option<usize>,
}

/// The `[humanitarian]` section of the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HumanitarianFile {
    pub base_url: Option<String>,
    pub dss_registered_only: Option<bool>,
    /// The longest pause between two attempts to deliver to a webhook.
    pub webhook_retry_max_secs: Option<u64>,
    pub ack_deadline_secs: Option<u64>,
    #[serde(default)]
    pub party: Vec<Party>,
}

/// The settings of the humanitarian layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Humanitarian {
    /// The base URL other parties reach this server at: the `uss_base_url` of the constraints
    /// and intents it publishes for sites and movements (`/uss/v1/...` is appended). `None`:
    /// `http://` and the listen address.
    pub base_url: Option<String>,
    /// Whether a token whose `sub` is not a registered party is refused on `/dss/v1` writes
    /// too (by default the DSS stays open to any USS with a valid token, as F3548 expects).
    pub dss_registered_only: bool,
    /// How long a notification of a site or movement to an armed party may wait for its
    /// acknowledgment before the coordinators are told.
    pub ack_deadline: Duration,
    /// The parties of the configuration file; the API cannot change them.
    pub parties: Vec<Party>,
    /// The longest pause between two attempts to deliver to a webhook (`None`: 300 s).
    pub webhook_retry_max: Option<Duration>,
}

/// The default of [`Humanitarian::ack_deadline`], in seconds.
pub const DEFAULT_ACK_DEADLINE_SECS: u64 = 3600;

impl Default for Humanitarian {
    fn default() -> Self {
        Self {
            base_url: None,
            dss_registered_only: false,
            ack_deadline: Duration::from_secs(DEFAULT_ACK_DEADLINE_SECS),
            webhook_retry_max: None,
            parties: Vec::new(),
        }
    }
}

/// The resolved configuration of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub public_keys: Vec<PathBuf>,
    pub jwks_url: Option<String>,
    pub audiences: Vec<String>,
    pub dev: bool,
    pub purge_interval: Duration,
    pub purge_grace: Duration,
    pub request_timeout: Duration,
    /// Requests a second each party may send; `None`: no bound.
    pub party_rate: Option<u32>,
    pub limits: Limits,
    /// Used with a PostgreSQL store only.
    pub postgres: PostgresOptions,
    pub humanitarian: Humanitarian,
    /// The log's origin ([`DEFAULT_LOG_ORIGIN`] unless configured).
    pub log_origin: String,
    /// Memory for the log's cache of block rows ([`deconflict_tlog::DEFAULT_CACHE_BYTES`]
    /// unless configured).
    pub log_cache_bytes: usize,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8082";
pub const DEFAULT_DATA_DIR: &str = "./deconflict-data";
pub const DEFAULT_PURGE_INTERVAL_SECS: u64 = 30;
pub const DEFAULT_PURGE_GRACE_SECS: u64 = 300;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            store: StoreConfig::Sqlite,
            public_keys: Vec::new(),
            jwks_url: None,
            audiences: Vec::new(),
            dev: false,
            purge_interval: Duration::from_secs(DEFAULT_PURGE_INTERVAL_SECS),
            purge_grace: Duration::from_secs(DEFAULT_PURGE_GRACE_SECS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            party_rate: None,
            limits: Limits::default(),
            postgres: PostgresOptions::default(),
            humanitarian: Humanitarian::default(),
            log_origin: DEFAULT_LOG_ORIGIN.to_owned(),
            log_cache_bytes: deconflict_tlog::DEFAULT_CACHE_BYTES,
        }
    }
}

/// Where the DSS keeps its data.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    /// The embedded SQLite database (`deconflict.sqlite3`) in the data directory: one instance.
    #[default]
    Sqlite,
    /// A PostgreSQL database (or CockroachDB, YugabyteDB) that a pool of instances shares.
    Postgres {
        /// `postgres://user:password@host:port/database`, as given.
        url: String,
    },
}

impl StoreConfig {
    /// `sqlite`, or a `postgres://` / `postgresql://` URL.
    pub fn parse(value: &str) -> Result<Self, String> {
        let v = value.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("sqlite") {
            return Ok(Self::Sqlite);
        }
        let scheme = v.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Self::Postgres { url: v.to_owned() }),
            _ => Err(format!(
                "{:?} is not a store: give `sqlite` or a PostgreSQL URL \
                 postgres://user:password@host:port/database",
                redact(v)
            )),
        }
    }

    /// The store for messages and logs, without the password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite => "sqlite".to_owned(),
            Self::Postgres { url } => redact(url),
        }
    }
}

/// Never prints the password of a URL.
impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite => f.write_str("Sqlite"),
            Self::Postgres { .. } => write!(f, "Postgres({})", self.describe()),
        }
    }
}

/// `url` with the password of its user part and any `password=` parameter replaced by `***`.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((name, _)) => format!("{name}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
}

impl Config {
    /// Reads the file named by `--config` (if any) and applies the flags and environment over
    /// it.
    pub fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            None => FileConfig::default(),
            Some(path) => FileConfig::read(path)?,
        };
        Self::merge(args, file)
    }

    /// Flags (and environment, which clap has already folded into them) over `file` over the
    /// defaults.
    pub fn merge(args: &ServeArgs, file: FileConfig) -> Result<Self, ConfigError> {
        let d = Config::default();
        let mut limits = file.limits.unwrap_or_default();
        if let Some(n) = args.max_body_bytes {
            limits.max_body_bytes = n;
        }
        if let Some(n) = args.query_max_results {
            limits.query_max_results = n;
        }
        let secs = |flag: Option<u64>, file: Option<u64>, default: u64, field: &'static str| {
            let s = flag.or(file).unwrap_or(default);
            if s == 0 {
                return Err(ConfigError::Invalid {
                    field,
                    rule: "must be at least 1 second".into(),
                });
            }
            Ok(Duration::from_secs(s))
        };
        let config = Config {
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or(d.data_dir),
            store: match (&args.store, &file.store) {
                (Some(store), _) => store.clone(),
                (None, Some(text)) => {
                    StoreConfig::parse(text).map_err(|rule| ConfigError::Invalid {
                        field: "store",
                        rule,
                    })?
                }
                (None, None) => d.store,
            },
            public_keys: if args.public_keys.is_empty() {
                file.public_key
            } else {
                args.public_keys.clone()
            },
            jwks_url: args.jwks_url.clone().or(file.jwks_url),
            audiences: if args.audiences.is_empty() {
                file.audience
            } else {
                args.audiences.clone()
            },
            dev: args.dev.or(file.dev).unwrap_or(false),
            purge_interval: secs(
                args.purge_interval_secs,
                file.purge_interval_secs,
                DEFAULT_PURGE_INTERVAL_SECS,
                "purge_interval_secs",
            )?,
            purge_grace: Duration::from_secs(
                args.purge_grace_secs
                    .or(file.purge_grace_secs)
                    .unwrap_or(DEFAULT_PURGE_GRACE_SECS),
            ),
            request_timeout: secs(
                args.request_timeout_secs,
                file.request_timeout_secs,
                DEFAULT_REQUEST_TIMEOUT_SECS,
                "request_timeout_secs",
            )?,
            party_rate: match args.party_rate.or(file.party_rate) {
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        field: "party_rate",
                        rule: "must be at least 1 request a second (leave it out for no bound)"
                            .into(),
                    })
                }
                n => n,
            },
            limits,
            postgres: postgres_options(args, file.postgres.unwrap_or_default())?,
            humanitarian: {
                let h = file.humanitarian.unwrap_or_default();
                if let Some(url) = &h.base_url {
                    deconflict_core::parse::uss_base_url("humanitarian.base_url", url).map_err(
                        |e| ConfigError::Invalid {
                            field: "humanitarian.base_url",
                            rule: e.to_string(),
                        },
                    )?;
                }
                deconflict_humanitarian::party::Registry::new(h.party.clone()).map_err(|e| {
                    ConfigError::Invalid {
                        field: "humanitarian",
                        rule: e.to_string(),
                    }
                })?;
                Humanitarian {
                    base_url: h.base_url,
                    dss_registered_only: h.dss_registered_only.unwrap_or(false),
                    ack_deadline: secs(
                        None,
                        h.ack_deadline_secs,
                        DEFAULT_ACK_DEADLINE_SECS,
                        "humanitarian.ack_deadline_secs",
                    )?,
                    parties: h.party,
                    webhook_retry_max: match h.webhook_retry_max_secs {
                        Some(0) => {
                            return Err(ConfigError::Invalid {
                                field: "humanitarian.webhook_retry_max_secs",
                                rule: "must be at least 1".into(),
                            })
                        }
                        s => s.map(Duration::from_secs),
                    },
                }
            },
            log_origin: log_origin(
                args.log_origin
                    .as_deref()
                    .or(file.log.as_ref().and_then(|l| l.origin.as_deref()))
                    .unwrap_or(DEFAULT_LOG_ORIGIN),
            )?,
            log_cache_bytes: args
                .log_cache_mib
                .or(file.log.as_ref().and_then(|l| l.cache_mib))
                .map_or(deconflict_tlog::DEFAULT_CACHE_BYTES, |m| {
                    m.saturating_mul(1 << 20)
                }),
        };
        if config.limits.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                field: "max_body_bytes",
                rule: "must be at least 1024 bytes".into(),
            });
        }
        Ok(config)
    }
}

/// The flags over the `[postgres]` section over the defaults; every count at least 1.
fn postgres_options(args: &ServeArgs, file: PostgresFile) -> Result<PostgresOptions, ConfigError> {
    let d = PostgresOptions::default();
    let at_least_one = |field: &'static str, n: u64| {
        if n == 0 {
            Err(ConfigError::Invalid {
                field,
                rule: "must be at least 1".into(),
            })
        } else {
            Ok(())
        }
    };
    let options = PostgresOptions {
        max_connections: args
            .pg_max_connections
            .or(file.max_connections)
            .unwrap_or(d.max_connections),
        connect_timeout: args
            .pg_connect_timeout_secs
            .or(file.connect_timeout_secs)
            .map_or(d.connect_timeout, Duration::from_secs),
        max_attempts: file.max_attempts.unwrap_or(d.max_attempts),
        max_batch: file.max_batch.unwrap_or(d.max_batch),
    };
    at_least_one("postgres.max_connections", options.max_connections.into())?;
    at_least_one(
        "postgres.connect_timeout_secs",
        options.connect_timeout.as_secs(),
    )?;
    at_least_one("postgres.max_attempts", options.max_attempts.into())?;
    at_least_one("postgres.max_batch", options.max_batch as u64)?;
    Ok(options)
}

impl FileConfig {
    /// Parses `path`; relative paths inside it are taken relative to its directory.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file: FileConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        if let Some(d) = &file.data_dir {
            file.data_dir = Some(base.join(d));
        }
        file.public_key = file.public_key.iter().map(|p| base.join(p)).collect();
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn args(flags: &[&str]) -> ServeArgs {
        let mut argv = vec!["deconflict"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).expect("flags parse").args
    }

    fn write_file(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("deconflict.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let c = Config::merge(&ServeArgs::default(), FileConfig::default()).expect("valid");
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.limits.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.party_rate, None, "no bound unless configured");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(
            dir.path(),
            r#"
listen = "127.0.0.1:9000"
data_dir = "data"
audience = ["file.example"]
public_key = ["k.pem"]
purge_interval_secs = 7
party_rate = 50
[limits]
oi_max_vertices = 12
max_body_bytes = 2048
[log]
cache_mib = 100
"#,
        );
        let file_only = args(&["--config", path.to_str().expect("utf-8")]);
        let c = Config::load(&file_only).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.public_keys, vec![dir.path().join("k.pem")]);
        assert_eq!(c.audiences, vec!["file.example".to_owned()]);
        assert_eq!(c.purge_interval, Duration::from_secs(7));
        assert_eq!(c.limits.oi_max_vertices, 12);
        assert_eq!(c.limits.max_body_bytes, 2048);
        assert_eq!(c.log_cache_bytes, 100 << 20);
        assert_eq!(c.party_rate, Some(50));
        assert_eq!(
            c.limits.constraint_max_vertices, 1000,
            "unset limits keep defaults"
        );
        assert!(!c.dev);

        let flagged = args(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:9001",
            "--audience",
            "a.example",
            "--audience",
            "b.example",
            "--max-body-bytes",
            "4096",
            "--log-cache-mib",
            "0",
            "--party-rate",
            "200",
            "--dev",
        ]);
        let c = Config::load(&flagged).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(
            c.audiences,
            vec!["a.example".to_owned(), "b.example".to_owned()]
        );
        assert_eq!(c.limits.max_body_bytes, 4096);
        assert_eq!(c.limits.oi_max_vertices, 12);
        assert_eq!(c.log_cache_bytes, 0, "the log keeps one row then");
        assert_eq!(c.party_rate, Some(200));
        assert!(c.dev);
    }

    #[test]
    fn postgres_settings_come_from_the_file_and_flags_and_zero_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(
            dir.path(),
            r#"
[postgres]
max_connections = 4
connect_timeout_secs = 2
max_attempts = 3
max_batch = 8
"#,
        );
        let config = path.to_str().expect("utf-8");
        let c = Config::load(&args(&["--config", config])).expect("valid");
        assert_eq!(
            c.postgres,
            PostgresOptions {
                max_connections: 4,
                connect_timeout: Duration::from_secs(2),
                max_attempts: 3,
                max_batch: 8,
            }
        );
        let c = Config::load(&args(&[
            "--config",
            config,
            "--pg-max-connections",
            "32",
            "--pg-connect-timeout-secs",
            "9",
        ]))
        .expect("valid");
        assert_eq!(c.postgres.max_connections, 32);
        assert_eq!(c.postgres.connect_timeout, Duration::from_secs(9));
        assert_eq!(c.postgres.max_batch, 8);

        let e = Config::load(&args(&["--config", config, "--pg-max-connections", "0"]))
            .expect_err("zero connections");
        assert_eq!(
            e.to_string(),
            "postgres.max_connections: must be at least 1"
        );
        let bad = write_file(dir.path(), "[postgres]\nmax_conections = 4\n");
        let e = Config::load(&args(&["--config", bad.to_str().expect("utf-8")]))
            .expect_err("a misspelt key");
        assert!(e.to_string().contains("max_conections"), "{e}");
    }

    #[test]
    fn environment_sits_between_flags_and_file() {
        // The only test that sets a variable, and it is one no other test reads.
        std::env::set_var("DECONFLICT_JWKS_URL", "https://env.example/jwks.json");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(
            dir.path(),
            "jwks_url = \"https://file.example/jwks.json\"\n",
        );
        let p = path.to_str().expect("utf-8");
        let from_env = Config::load(&args(&["--config", p])).expect("valid");
        let from_flag = Config::load(&args(&[
            "--config",
            p,
            "--jwks-url",
            "https://flag.example/jwks.json",
        ]))
        .expect("valid");
        std::env::remove_var("DECONFLICT_JWKS_URL");
        let from_file = Config::load(&args(&["--config", p])).expect("valid");
        assert_eq!(
            from_env.jwks_url.as_deref(),
            Some("https://env.example/jwks.json")
        );
        assert_eq!(
            from_flag.jwks_url.as_deref(),
            Some("https://flag.example/jwks.json")
        );
        assert_eq!(
            from_file.jwks_url.as_deref(),
            Some("https://file.example/jwks.json")
        );
    }

    #[test]
    fn unknown_keys_and_zero_intervals_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let typo = write_file(dir.path(), "purge_intervall_secs = 3\n");
        let err = Config::load(&args(&["--config", typo.to_str().expect("utf-8")]))
            .expect_err("typo refused");
        assert!(err.to_string().contains("purge_intervall_secs"), "{err}");
        let err = Config::load(&args(&["--purge-interval-secs", "0"])).expect_err("zero");
        assert!(err.to_string().contains("purge_interval_secs"), "{err}");
        let err = Config::load(&args(&["--party-rate", "0"])).expect_err("zero");
        assert!(err.to_string().contains("party_rate"), "{err}");
        let err = Config::load(&args(&["--config", "/nonexistent/deconflict.toml"]))
            .expect_err("missing file");
        assert!(
            err.to_string().contains("/nonexistent/deconflict.toml"),
            "{err}"
        );
    }

    #[test]
    fn the_demo_configuration_of_the_readme_loads_with_one_party_of_each_role() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/deconflict.toml");
        let c = Config::load(&args(&["--config", demo.to_str().expect("utf-8")]))
            .expect("the README's run command loads demo/deconflict.toml");
        let role_of = |id: &str| {
            c.humanitarian
                .parties
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.role)
        };
        use deconflict_humanitarian::party::Role;
        assert_eq!(role_of("coord"), Some(Role::Coordinator));
        assert_eq!(role_of("cell"), Some(Role::Humanitarian));
        assert_eq!(role_of("alpha"), Some(Role::Armed));
        assert_eq!(role_of("bravo"), Some(Role::Armed));
        assert_eq!(role_of("monitor"), Some(Role::Observer));
    }

    #[test]
    fn parties_come_from_the_humanitarian_section() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = write_file(
            dir.path(),
            "[humanitarian]\nbase_url = \"https://dss.example.org\"\n\
             [[humanitarian.party]]\nid = \"coord\"\nrole = \"coordinator\"\nname = \"Cell\"\n\
             [[humanitarian.party]]\nid = \"ngo\"\nrole = \"humanitarian\"\n",
        );
        let c = Config::load(&args(&["--config", ok.to_str().expect("utf-8")])).expect("valid");
        assert_eq!(c.humanitarian.parties.len(), 2);
        assert_eq!(
            c.humanitarian.base_url.as_deref(),
            Some("https://dss.example.org")
        );
        assert!(!c.humanitarian.dss_registered_only);
        for (text, names) in [
            (
                "[[humanitarian.party]]\nid = \"x\"\nrole = \"general\"\n",
                "general",
            ),
            (
                "[[humanitarian.party]]\nid = \"x\"\nrole = \"armed\"\n\
                 [[humanitarian.party]]\nid = \"x\"\nrole = \"observer\"\n",
                "party[1].id",
            ),
            (
                "[humanitarian]\nbase_url = \"ftp://x\"\n",
                "humanitarian.base_url",
            ),
        ] {
            let bad = write_file(dir.path(), text);
            let err = Config::load(&args(&["--config", bad.to_str().expect("utf-8")]))
                .expect_err("refused");
            assert!(err.to_string().contains(names), "{err}");
        }
    }

    #[test]
    fn the_store_is_sqlite_unless_a_postgres_url_is_given() {
        assert_eq!(
            Config::load(&args(&[])).expect("valid").store,
            StoreConfig::Sqlite
        );
        assert_eq!(
            args(&["--store", "sqlite"]).store,
            Some(StoreConfig::Sqlite)
        );
        let url = "postgresql://dss:s3cret@db.example:5432/dss?sslmode=disable&password=s3cret";
        let c = Config::load(&args(&["--store", url])).expect("valid");
        assert_eq!(
            c.store,
            StoreConfig::Postgres {
                url: url.to_owned()
            }
        );
        let shown = format!("{c:?} {}", c.store.describe());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgresql://dss:***@db.example:5432/dss"),
            "{shown}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "store = \"postgres://u@localhost/dss\"\n");
        let c = Config::load(&args(&["--config", path.to_str().expect("utf-8")])).expect("valid");
        assert_eq!(
            c.store,
            StoreConfig::Postgres {
                url: "postgres://u@localhost/dss".into()
            }
        );
        let flagged = args(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--store",
            "sqlite",
        ]);
        assert_eq!(
            Config::load(&flagged).expect("valid").store,
            StoreConfig::Sqlite
        );

        let bad = write_file(dir.path(), "store = \"mysql://u:pw@h/db\"\n");
        let err =
            Config::load(&args(&["--config", bad.to_str().expect("utf-8")])).expect_err("refused");
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(!err.to_string().contains("pw@"), "{err}");
        let mut cli = vec!["deconflict", "--store", "redis://h"];
        assert!(Cli::try_parse_from(cli.drain(..)).is_err());
    }

    #[test]
    fn dev_accepts_explicit_false() {
        assert_eq!(args(&["--dev=false"]).dev, Some(false));
        assert_eq!(args(&["--dev"]).dev, Some(true));
        assert_eq!(args(&[]).dev, None);
    }
}
