//! Where the load goes: a plain-HTTP URL on the loopback interface, and nothing else.
//!
//! The load generator must never send traffic off this machine, so the URL is checked before
//! any connection is made: its host must be a loopback address literal (`127.0.0.0/8`, `[::1]`)
//! or `localhost`, which is taken as `127.0.0.1` without asking a resolver.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{bail, Context, Result};
use hyper::header::HeaderValue;
use hyper::Uri;

/// A checked loopback target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The socket to connect to.
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: HeaderValue,
    /// A path prefix (without trailing slash), usually empty.
    pub base: String,
}

impl Target {
    /// Parses `url` and refuses anything that is not `http://` to a loopback host.
    pub fn parse(url: &str) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                bail!("--url: scheme {other:?} is not supported; use http:// to a loopback address")
            }
            None => bail!("--url {url:?} has no scheme; write http://127.0.0.1:PORT"),
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url:?} has no host"))?;
        let host = authority.host();
        let ip = loopback_ip(host)?;
        let port = authority.port_u16().unwrap_or(80);
        let base = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            host: HeaderValue::from_str(authority.as_str())?,
            base,
        })
    }

    /// The full request path for an API path such as `/dss/v1/...`.
    pub fn path(&self, api_path: &str) -> String {
        format!("{}{api_path}", self.base)
    }
}

/// The loopback address `host` names, or an error if it names anything else.
fn loopback_ip(host: &str) -> Result<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = literal.parse().map_err(|_| {
        anyhow::anyhow!(
            "--url host {host:?} is not a loopback address; this tool only targets 127.0.0.0/8, [::1] or localhost"
        )
    })?;
    if !ip.is_loopback() {
        bail!("--url host {host} is not a loopback address; this tool only targets 127.0.0.0/8, [::1] or localhost");
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_only() {
        let t = Target::parse("http://127.0.0.1:8082").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8082".parse().unwrap());
        assert_eq!(t.base, "");
        assert_eq!(t.path("/aux/v1/version"), "/aux/v1/version");
        let t = Target::parse("http://127.8.9.10:1/prefix/").unwrap();
        assert_eq!(t.base, "/prefix");
        assert!(Target::parse("http://[::1]:8082").is_ok());
        assert_eq!(
            Target::parse("http://localhost:9").unwrap().addr,
            "127.0.0.1:9".parse().unwrap()
        );

        for bad in [
            "http://10.0.0.1:8082",
            "http://192.168.1.1",
            "http://8.8.8.8",
            "http://example.com",
            "http://localhost.example.com",
            "http://[2001:db8::1]:80",
            "https://127.0.0.1:8443",
            "127.0.0.1:8082",
            "http://0.0.0.0:8082",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
