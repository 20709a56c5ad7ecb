//! A small HTTP/1.1 client for webhooks and calendar feeds (hyper's client over plain
//! TCP). Plain `http://` only: TLS comes with the TLS work (rustls); until then an
//! outside gateway is reached through the municipality's relay.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a URL is `http://host[:port][/path]`.
///
/// # Errors
/// When it is not.
pub(crate) fn split_url(url: &str) -> Result<hyper::Uri> {
    let uri: hyper::Uri = url.parse().context("not a URL")?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        bail!("only http://host/... URLs are supported");
    }
    Ok(uri)
}

/// One shared client (connection reuse).
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    pub(crate) fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(TIMEOUT));
        Self { client: Client::builder(TokioExecutor::new()).build(connector) }
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
        let fut = async {
            let res = self.client.request(req).await.context("request failed")?;
            let status = res.status();
            let body = res.into_body().collect().await.context("reading the response")?.to_bytes();
            Ok::<_, anyhow::Error>((status, body))
        };
        tokio::time::timeout(TIMEOUT, fut).await.context("timed out")?
    }

    /// POST a JSON body; returns the status.
    pub(crate) async fn post_json(&self, url: &str, body: String, bearer: Option<&str>) -> Result<StatusCode> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(split_url(url)?)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _) = self.send(req.body(Full::new(Bytes::from(body)))?).await?;
        Ok(status)
    }

    /// GET a text document (an iCalendar feed); a non-2xx status is an error.
    pub(crate) async fn get_text(&self, url: &str) -> Result<String> {
        let req = Request::builder().method(Method::GET).uri(split_url(url)?).body(Full::new(Bytes::new()))?;
        let (status, body) = self.send(req).await?;
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
        String::from_utf8(body.to_vec()).context("not UTF-8 text")
    }
}
