//! A small blocking client for the CA's REST API, shared by the member and
//! operator commands: `--server`/`RPKIT_SERVER`, `--token`/`RPKIT_TOKEN`.
//! Bodies are the types of `rpkit_ca::contract`, both ways.

use rpkit_ca::contract::{ErrorBody, Whoami};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// CA API base URL.
    #[arg(long, env = "RPKIT_SERVER", default_value = "http://127.0.0.1:3000", global = true)]
    pub server: String,
    /// Bearer token (a member's, or the admin token).
    #[arg(long, env = "RPKIT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// Why a call to the CA's API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no token: pass --token or set RPKIT_TOKEN")]
    NoToken,
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// No answer: the server is down, the address is wrong, the connection broke.
    #[error("cannot reach the {service} at {base}: {source}")]
    Unreachable { service: &'static str, base: String, source: reqwest::Error },
    /// The CA answered with an error in its format.
    #[error("{0}")]
    Refused(Refusal),
    /// The CA (or something in front of it) answered an error not in its format.
    #[error("HTTP {status}: {text}")]
    Status { status: u16, text: String },
    /// A success whose body is not the contract's type.
    #[error("unexpected answer from the CA: {0}")]
    Unexpected(#[source] serde_json::Error),
    /// A success that lacks what was asked for.
    #[error("{0}")]
    Incomplete(String),
    #[error("the admin token needs --member HANDLE")]
    NeedsMember,
    #[error("this token belongs to member '{token}', not '{asked}'")]
    OtherMember { token: String, asked: String },
}

/// An error answer: the server's reason, each rejected entry on its own line.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: ErrorBody,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body.message)?;
        for r in &self.body.rejected {
            write!(f, "\n  {}: {} ({})", r.entry, r.reason, r.code)?;
        }
        write!(f, " [{}, HTTP {}]", self.body.code, self.status)
    }
}

type Result<T, E = ClientError> = std::result::Result<T, E>;

pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(a: &ApiArgs) -> Result<Self> {
        let token = a.token.clone().ok_or(ClientError::NoToken)?;
        // Bulk changes (an import of thousands of members) take minutes.
        let http =
            reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(1800)).build().map_err(ClientError::Client)?;
        Ok(Client { http, base: a.server.trim_end_matches('/').to_string(), token })
    }

    /// The body and `ETag` of a successful answer.
    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Result<(String, Option<String>)> {
        let unreachable = |source| ClientError::Unreachable { service: "CA", base: self.base.clone(), source };
        let resp = rb.bearer_auth(&self.token).send().map_err(unreachable)?;
        let status = resp.status().as_u16();
        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().map_err(unreachable)?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => ClientError::Refused(Refusal { status, body }),
                Err(_) => ClientError::Status { status, text: text.trim().to_string() },
            });
        }
        Ok((text, etag))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn decode<T: DeserializeOwned>(text: &str) -> Result<T> {
        // A 204 has no body: `()` and `Option` read it as null.
        serde_json::from_str(if text.is_empty() { "null" } else { text }).map_err(ClientError::Unexpected)
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Self::decode(&self.send(self.http.get(self.url(path)))?.0)
    }

    pub fn get_with_etag<T: DeserializeOwned>(&self, path: &str) -> Result<(T, Option<String>)> {
        let (text, etag) = self.send(self.http.get(self.url(path)))?;
        Ok((Self::decode(&text)?, etag))
    }

    /// `method` with a JSON body, applied only to the state `if_match` names.
    pub fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
        if_match: Option<&str>,
    ) -> Result<T> {
        let mut rb = self.http.request(method, self.url(path)).json(body);
        if let Some(e) = if_match {
            rb = rb.header("If-Match", e);
        }
        Self::decode(&self.send(rb)?.0)
    }

    pub fn post_text<T: DeserializeOwned>(&self, path: &str, body: String) -> Result<T> {
        Self::decode(&self.send(self.http.post(self.url(path)).body(body))?.0)
    }

    pub fn delete(&self, path: &str) -> Result<()> {
        self.send(self.http.delete(self.url(path))).map(|_| ())
    }

    /// The member this token belongs to, or `member` when the admin acts for one.
    pub fn member(&self, member: Option<&str>) -> Result<String> {
        let who: Whoami = self.get("/api/v1/whoami")?;
        match (who.member, member) {
            (Some(h), None) => Ok(h),
            (Some(h), Some(m)) if h == m => Ok(h),
            (Some(h), Some(m)) => Err(ClientError::OtherMember { token: h, asked: m.to_string() }),
            (None, Some(m)) => Ok(m.to_string()),
            (None, None) => Err(ClientError::NeedsMember),
        }
    }
}
