//! A small blocking client for the CA's REST API, shared by the member and
//! operator commands: `--server`/`RPKIT_SERVER`, `--token`/`RPKIT_TOKEN`.

use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// CA API base URL.
    #[arg(long, env = "RPKIT_SERVER", default_value = "http://127.0.0.1:3000", global = true)]
    pub server: String,
    /// Bearer token (a member's, or the admin token).
    #[arg(long, env = "RPKIT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

/// A failed call: the server's reason, and each rejected entry on its own line.
pub fn describe(status: u16, body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            let mut s = v["message"].as_str().unwrap_or(body).to_string();
            if let Some(rej) = v["rejected"].as_array() {
                for r in rej {
                    s.push_str(&format!(
                        "\n  {}: {} ({})",
                        r["entry"].as_str().unwrap_or(""),
                        r["reason"].as_str().unwrap_or(""),
                        r["code"].as_str().unwrap_or("")
                    ));
                }
            }
            format!("{s} [{}, HTTP {status}]", v["code"].as_str().unwrap_or("error"))
        }
        Err(_) => format!("HTTP {status}: {}", body.trim()),
    }
}

impl Client {
    pub fn new(a: &ApiArgs) -> Result<Self, String> {
        let token = a.token.clone().ok_or("no token: pass --token or set RPKIT_TOKEN")?;
        // Bulk changes (an import of thousands of members) take minutes.
        let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(1800)).build().map_err(|e| e.to_string())?;
        Ok(Client { http, base: a.server.trim_end_matches('/').to_string(), token })
    }

    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Result<(String, Option<String>), String> {
        let resp = rb.bearer_auth(&self.token).send().map_err(|e| format!("cannot reach the CA at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.text().map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(describe(status, &body));
        }
        Ok((body, etag))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let (body, _) = self.send(self.http.get(self.url(path)))?;
        serde_json::from_str(&body).map_err(|e| format!("unexpected answer from the CA: {e}"))
    }

    pub fn get_with_etag<T: DeserializeOwned>(&self, path: &str) -> Result<(T, Option<String>), String> {
        let (body, etag) = self.send(self.http.get(self.url(path)))?;
        Ok((serde_json::from_str(&body).map_err(|e| format!("unexpected answer from the CA: {e}"))?, etag))
    }

    pub fn send_json(&self, method: reqwest::Method, path: &str, body: &Value, if_match: Option<&str>) -> Result<Value, String> {
        let mut rb = self.http.request(method, self.url(path)).json(body);
        if let Some(e) = if_match {
            rb = rb.header("If-Match", e);
        }
        let (body, _) = self.send(rb)?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|e| format!("unexpected answer from the CA: {e}"))
    }

    pub fn post_text(&self, path: &str, body: String) -> Result<Value, String> {
        let (body, _) = self.send(self.http.post(self.url(path)).body(body))?;
        serde_json::from_str(&body).map_err(|e| format!("unexpected answer from the CA: {e}"))
    }

    pub fn delete(&self, path: &str) -> Result<(), String> {
        self.send(self.http.delete(self.url(path))).map(|_| ())
    }

    /// The member this token belongs to, or `member` when the admin acts for one.
    pub fn member(&self, member: Option<&str>) -> Result<String, String> {
        let who: Value = self.get("/api/v1/whoami")?;
        match (who["member"].as_str(), member) {
            (Some(h), None) => Ok(h.to_string()),
            (Some(h), Some(m)) if h == m => Ok(h.to_string()),
            (Some(h), Some(m)) => Err(format!("this token belongs to member '{h}', not '{m}'")),
            (None, Some(m)) => Ok(m.to_string()),
            (None, None) => Err("the admin token needs --member HANDLE".into()),
        }
    }
}
