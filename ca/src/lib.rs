//! Hosted certificate authority.
pub mod delegated;
