//! One HTTP/1.1 keep-alive connection per simulated client.
//!
//! Each worker owns its connection (so the set of workers is a pool of `C` persistent
//! connections) and sends one request at a time on it, which is what a closed-loop load test
//! needs and costs the generator less CPU than a shared pool. A connection that fails is
//! dropped and the next request opens a new one; a failed request is never retried here, since
//! a write may have been applied.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::target::Target;

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// What the worker needs to reach the server: one or more instances (a pool), which the
/// workers' connections are spread over in turn.
#[derive(Clone)]
pub struct Endpoint {
    pub targets: Arc<[Target]>,
    /// Which target the next client connects to.
    next: Arc<AtomicUsize>,
    /// `Bearer ...`, sent on every request when present.
    pub authorization: Option<HeaderValue>,
    pub timeout: Duration,
}

impl Endpoint {
    /// `targets` must not be empty; `token` must be printable ASCII, as a JWT is.
    pub fn new(targets: Vec<Target>, token: Option<&str>, timeout: Duration) -> Result<Self> {
        let authorization = token
            .map(|t| HeaderValue::try_from(format!("Bearer {}", t.trim())))
            .transpose()
            .context("the token cannot be sent in an HTTP header")?;
        Ok(Self {
            targets: targets.into(),
            next: Arc::new(AtomicUsize::new(0)),
            authorization,
            timeout,
        })
    }

    /// A client of the next target in turn: with two targets, clients alternate.
    pub fn client(&self) -> Client {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.targets.len();
        Client {
            ep: self.clone(),
            target: i,
            sender: None,
            last_uri: None,
        }
    }
}

/// One persistent connection, reopened on failure.
pub struct Client {
    ep: Endpoint,
    /// Index into `ep.targets`.
    target: usize,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The last API path asked for and its parsed URI: most workers ask for one path all the
    /// time, and parsing it again for every request would be the generator's cost, not the
    /// server's.
    last_uri: Option<(String, Uri)>,
}

impl Client {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let addr = self.ep.targets[self.target].addr;
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole response, within the endpoint's timeout.
    pub async fn send(
        &mut self,
        method: Method,
        api_path: &str,
        body: Option<Bytes>,
    ) -> Result<Response> {
        let timeout = self.ep.timeout;
        match tokio::time::timeout(timeout, self.send_inner(method, api_path, body)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                anyhow::bail!("no response within {timeout:?}")
            }
        }
    }

    async fn send_inner(
        &mut self,
        method: Method,
        api_path: &str,
        body: Option<Bytes>,
    ) -> Result<Response> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        let target = &self.ep.targets[self.target];
        let uri = match &self.last_uri {
            Some((path, uri)) if path == api_path => uri.clone(),
            _ => {
                let uri = Uri::try_from(target.path(api_path))?;
                self.last_uri = Some((api_path.to_owned(), uri.clone()));
                uri
            }
        };
        let has_body = body.is_some();
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.insert(HOST, target.host.clone());
        if let Some(auth) = &self.ep.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok(Response { status, body })
    }
}
