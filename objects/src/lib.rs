//! rpkit-objects: the wire formats of the RPKI, shared by the CA, the publication
//! server and the validator. One module per object type, each with its builder
//! (encoder) beside its strict decoder. Decoding checks syntax and profile;
//! signature checks are separate calls so a validator can order its work.

pub mod der;
pub mod error;
pub mod oid;
pub mod resources;

pub use error::{Error, Result};
pub mod crypto;
pub mod hex;
pub mod name;
pub mod serial;
pub mod cert;
pub mod crl;
pub mod signed_object;
pub mod roa;
pub mod aspa;
pub mod manifest;
pub mod tal;
pub mod object;
pub mod json;
