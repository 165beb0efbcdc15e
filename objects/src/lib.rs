//! rpkit-objects: the wire formats of the RPKI, shared by the CA, the publication
//! server and the validator. One module per object type, each with its builder
//! (encoder) beside its strict decoder. Decoding checks syntax and profile;
//! signature checks are separate calls so a validator can order its work.

// Decoders face hostile input: no unwrap, expect or explicit panic (PIT-1).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod der;
pub mod error;
pub mod oid;
pub mod resources;

pub use error::{Error, Result};
pub mod aspa;
pub mod bpki;
pub mod cert;
pub mod crl;
pub mod crypto;
pub mod export;
pub mod file_type;
pub mod hex;
pub mod json;
pub mod limits;
pub mod manifest;
pub mod name;
pub mod object;
pub mod pkcs10;
pub mod rfc8181;
pub mod rfc8183;
pub mod roa;
pub mod route_origin;
pub mod rrdp;
pub mod serial;
pub mod signed_message;
pub mod signed_object;
pub mod tak;
pub mod tal;
pub mod up_down;
pub mod uri;
pub mod valid_ca;
pub mod x509;
