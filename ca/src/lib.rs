//! The hosted CA: a trust anchor, the RIR's online CA and one CA per member,
//! with members' ROAs and ASPAs. State lives in SQLite; every change is one
//! transaction published as one change set through a `Publisher`.

pub mod api;
pub mod aspas;
pub mod children;
pub mod config;
pub mod contract;
pub mod delegated;
pub mod error;
pub mod export;
pub mod history;
pub mod keyroll;
pub mod members;
pub mod moves;
pub mod node;
pub mod offline_ta;
pub mod parent;
pub mod publisher;
pub mod requests;
pub mod rfc8181_client;
pub mod roa_packing;
pub mod roas;
pub mod router_certs;
pub mod service;
pub mod signer;
pub mod store;
pub mod ta_exchange;
pub mod ta_keyroll;
pub mod up_down;
pub mod work;

pub use config::CaConfig;
pub use contract::Rejection;
pub use error::CaError;
pub use service::Ca;
