//! Decoding errors. Every rejection names the rule it enforces: a CHECKLIST item
//! (`CERT-13`, `MFT-7` ...) or the RFC / X.690 section, so a warning tells the
//! operator exactly what is wrong with an object.

use std::borrow::Cow;
use std::fmt;

/// Why an object was rejected.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// The rule broken: a checklist ID such as `CMS-6`, or a spec section such as
    /// `X.690 §10.1`.
    pub rule: &'static str,
    /// What exactly is wrong, for a human.
    pub detail: Cow<'static, str>,
}

impl Error {
    pub fn new(rule: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Error { rule, detail: detail.into() }
    }

    /// Prefix the detail with the place where the error occurred.
    pub fn context(mut self, what: &str) -> Self {
        self.detail = Cow::Owned(format!("{what}: {}", self.detail));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.detail, self.rule)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand: `Err(Error::new(rule, detail))`.
pub fn reject<T>(rule: &'static str, detail: impl Into<Cow<'static, str>>) -> Result<T> {
    Err(Error::new(rule, detail))
}

/// An error with its sources, for a one-line message (wrappers often repeat
/// their source's text: it is said once).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Why building an object failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Sign(#[from] crate::crypto::SignError),
    /// The built object fails our own decoder: a caller supplied invalid fields.
    #[error("built object is invalid: {0}")]
    Invalid(#[from] Error),
}
