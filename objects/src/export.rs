//! What a CA intends to publish: the CA API's `GET /api/v1/export`, read by
//! `rpkit audit --expect` to compare intent with the validated repository.

use serde::{Deserialize, Serialize};

/// Every object the CA publishes and every authorisation behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Export {
    /// When the export was taken (RFC 3339).
    pub generated: String,
    pub objects: Vec<ExportObject>,
    pub roas: Vec<ExportRoa>,
    pub aspas: Vec<ExportAspa>,
    /// Certificates issued to delegated members (RFC 6492): what validates
    /// below them is theirs, not this CA's.
    #[serde(default)]
    pub delegated: Vec<ExportDelegated>,
}

/// A delegated member's certificate: where it is published, whose, and the
/// resources it holds (`AS64496, 192.0.2.0/24` form).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ExportDelegated {
    pub uri: String,
    pub member: String,
    pub resources: String,
}

/// A published file: where, its SHA-256 (hex) and the CA whose point holds it
/// (empty for the TA certificate).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ExportObject {
    pub uri: String,
    pub sha256: String,
    pub ca: String,
}

/// One ROA prefix a CA has signed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ExportRoa {
    pub ca: String,
    pub asn: u32,
    pub prefix: String,
    pub max_length: u8,
    pub uri: String,
}

/// One ASPA a CA has signed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ExportAspa {
    pub ca: String,
    pub customer: u32,
    pub providers: Vec<u32>,
    pub uri: String,
}
