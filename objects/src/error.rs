//! Decoding errors. Every rejection names the rule it enforces: a CHECKLIST item
//! (`CERT-13`, `MFT-7` ...) or the RFC / X.690 section, so a warning tells the
//! operator exactly what is wrong with an object.

use std::borrow::Cow;
use std::fmt;

/// What kind of fault an [`Error`] is, for callers that act on it (counts in
/// reports and metrics, an HTTP status) without parsing rule IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Not DER, or not the ASN.1 structure of the object's module (X.690).
    Encoding,
    /// Well-formed, but breaks the RPKI profile (RFC 6487, 6488, 9286 ...).
    Profile,
    /// An algorithm RFC 7935 does not allow (ALG-*).
    Algorithm,
    /// A signature that does not verify (CMS-11, PATH-1, CRL-6 ...).
    Signature,
    /// Not valid at this time: expired, not yet valid, or stale (CERT-6, MFT-13).
    Time,
    /// Malformed resources, or resources the issuer does not hold (RFC 3779, RES-*).
    Resources,
}

impl Kind {
    /// The kind a rule ID implies; a signature or time check names its kind
    /// with [`Error::of_kind`] instead.
    fn of_rule(rule: &str) -> Kind {
        if rule.starts_with("X.690") {
            Kind::Encoding
        } else if rule.starts_with("ALG-") {
            Kind::Algorithm
        } else if rule.starts_with("RES-") || rule.starts_with("RFC 3779") {
            Kind::Resources
        } else {
            Kind::Profile
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Encoding => "encoding",
            Kind::Profile => "profile",
            Kind::Algorithm => "algorithm",
            Kind::Signature => "signature",
            Kind::Time => "time",
            Kind::Resources => "resources",
        }
    }
}

/// Why an object was rejected.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of fault this is.
    pub kind: Kind,
    /// The rule broken: a checklist ID such as `CMS-6`, or a spec section such as
    /// `X.690 §10.1`.
    pub rule: &'static str,
    /// What exactly is wrong, for a human.
    pub detail: Cow<'static, str>,
}

impl Error {
    pub fn new(rule: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Error { kind: Kind::of_rule(rule), rule, detail: detail.into() }
    }

    /// The same error, of kind `kind` (a signature or time check).
    pub fn of_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// The same fault, reported under `rule` (a wrapper's rule over a DER reader's).
    pub fn with_rule(mut self, rule: &'static str) -> Self {
        self.rule = rule;
        self
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

/// Shorthand: `Err(Error::new(rule, detail).of_kind(kind))`.
pub fn reject_as<T>(kind: Kind, rule: &'static str, detail: impl Into<Cow<'static, str>>) -> Result<T> {
    Err(Error::new(rule, detail).of_kind(kind))
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
