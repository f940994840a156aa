//! The HTTP side of the client commands: one request to the DSS's `/dss/v1` API, and an error
//! that keeps what the server said when it said no.

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, Context};
use deconflict_core::wire::AirspaceConflictResponse;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Conn;

/// A DSS at a base URL, called with one bearer token.
pub struct Dss {
    http: reqwest::Client,
    base: Url,
    token: String,
    /// The path of the API under the base URL: `/dss/v1` unless [`Dss::at`] says otherwise.
    prefix: &'static [&'static str],
}

/// A 2xx answer: the body as sent (for `--json`) and as read.
pub struct Reply<T> {
    pub raw: Value,
    pub body: T,
}

/// The server answered with an error status.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    /// The `message` of the body, or the body itself if it had none.
    pub message: String,
    /// The body of a 409 for an airspace conflict, with what the caller did not know about.
    pub conflict: Option<AirspaceConflictResponse>,
    /// The body as received, printed as is with `--json`.
    pub raw: String,
    /// What to try, for the errors whose fix is on this side.
    pub hint: Option<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.message, self.status)
    }
}

impl std::error::Error for Refused {}

impl Dss {
    pub fn new(conn: &Conn) -> anyhow::Result<Dss> {
        let mut base = Url::parse(&conn.url).with_context(|| format!("--url {}", conn.url))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            anyhow::bail!("--url {}: give an http:// or https:// URL", conn.url);
        }
        // `path_segments_mut` below appends to the path; a trailing slash would leave an
        // empty segment in it.
        base.path_segments_mut()
            .map_err(|()| anyhow!("--url {}: not a base URL", conn.url))?
            .pop_if_empty();
        let token = conn
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "no token: pass --token or set DECONFLICT_TOKEN (for a server run with --dev: \
                 deconflict dev-token --sub uss1 --scope utm.strategic_coordination)"
                )
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("deconflict/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Dss {
            http,
            base,
            token: token.trim().to_owned(),
            prefix: &["dss", "v1"],
        })
    }

    /// The same server, for the API under `prefix` (`&["v1"]`: the humanitarian layer).
    pub fn at(mut self, prefix: &'static [&'static str]) -> Dss {
        self.prefix = prefix;
        self
    }

    /// `<prefix>/<segments>`; each segment is escaped, so an id cannot change the path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(self.prefix).extend(segments);
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> anyhow::Result<Reply<T>> {
        self.call(Method::GET, segments, None::<&()>).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<Reply<T>> {
        self.call(Method::PUT, segments, Some(body)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<Reply<T>> {
        self.call(Method::POST, segments, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, segments: &[&str]) -> anyhow::Result<Reply<T>> {
        self.call(Method::DELETE, segments, None::<&()>).await
    }

    /// `GET` of a document that is not JSON (a report in Markdown or HTML): its text as sent.
    pub async fn get_text(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let mut url = self.url(segments);
        url.query_pairs_mut().extend_pairs(query);
        self.send(Method::GET, url, None::<&()>).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<Reply<T>> {
        let url = self.url(segments);
        let text = self.send(method.clone(), url.clone(), body).await?;
        let raw: Value = serde_json::from_str(&text)
            .with_context(|| format!("{method} {url}: the response is not JSON: {text:.200}"))?;
        let body = serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
            anyhow!(
                "{method} {url}: unexpected response at `{}`: {}",
                e.path(),
                e.inner()
            )
        })?;
        Ok(Reply { raw, body })
    }

    /// Sends one request; the body of a 2xx answer as text, a [`Refused`] for any other.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<String> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| unreachable(&self.base, e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{method} {url}: reading the response"))?;
        if !status.is_success() {
            return Err(self.refused(status, text).into());
        }
        Ok(text)
    }

    fn refused(&self, status: StatusCode, raw: String) -> Refused {
        let json: Option<Value> = serde_json::from_str(&raw).ok();
        let message = json
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| (!raw.trim().is_empty()).then(|| raw.trim().chars().take(500).collect()))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
        let conflict = json
            .filter(|v| {
                status == StatusCode::CONFLICT && v.get("missing_operational_intents").is_some()
            })
            .and_then(|v| serde_json::from_value(v).ok());
        let hint = match status {
            StatusCode::UNAUTHORIZED => Some(format!(
                "check --token / DECONFLICT_TOKEN: it must be unexpired, signed by a key the \
                 server trusts, and issued for the audience `{}`",
                self.base.host_str().unwrap_or("?")
            )),
            _ => None,
        };
        Refused {
            status,
            message,
            conflict,
            raw,
            hint,
        }
    }
}

fn unreachable(base: &Url, e: reqwest::Error) -> anyhow::Error {
    let why = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "no answer in time"
    } else {
        "request failed"
    };
    // The innermost cause ("Connection refused") is the useful part of reqwest's chain.
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    anyhow!(
        "{why} to the DSS at {base} ({cause}); is it running? (--url or DECONFLICT_URL says where)"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dss(url: &str) -> Dss {
        Dss::new(&Conn {
            url: url.to_owned(),
            token: Some("t".to_owned()),
            json: false,
        })
        .unwrap()
    }

    #[test]
    fn segments_are_escaped_under_the_base_path() {
        assert_eq!(
            dss("http://h:1/").url(&["x", "a/b?c"]).as_str(),
            "http://h:1/dss/v1/x/a%2Fb%3Fc"
        );
        assert_eq!(
            dss("https://h/prefix").url(&["q"]).as_str(),
            "https://h/prefix/dss/v1/q"
        );
    }

    #[test]
    fn refusals_keep_the_message_and_the_conflict() {
        let d = dss("http://localhost:8082");
        let r = d.refused(
            StatusCode::CONFLICT,
            r#"{"message": "m", "missing_operational_intents": [], "missing_constraints": []}"#
                .to_owned(),
        );
        assert_eq!(r.message, "m");
        assert!(r.conflict.is_some());
        assert_eq!(r.to_string(), "m (HTTP 409 Conflict)");
        let r = d.refused(StatusCode::BAD_GATEWAY, String::new());
        assert_eq!(r.message, "Bad Gateway");
        let r = d.refused(StatusCode::UNAUTHORIZED, "nope".to_owned());
        assert_eq!(r.message, "nope");
        assert!(r.hint.unwrap().contains("`localhost`"));
        assert!(Dss::new(&Conn {
            url: "http://h".to_owned(),
            token: None,
            json: false
        })
        .is_err());
    }
}
