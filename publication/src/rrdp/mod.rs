//! RRDP (RFC 8182) files written for static serving: `notification.xml`, and
//! per serial an immutable snapshot and delta under an unguessable path
//! (`<session>/<serial>/<random>/`, RRDPS-12). A notification never appears
//! before the files it lists (RRDPS-9).

pub mod snapshot;
mod writer;

pub use writer::{RrdpConfig, RrdpWriter};
