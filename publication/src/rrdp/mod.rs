//! RRDP (RFC 8182) files written for static serving: `notification.xml`, and
//! per serial an immutable snapshot and delta under an unguessable path
//! (`<session>/<serial>/<random>/`, RRDPS-12). A notification never appears
//! before the files it lists (RRDPS-9). Snapshots are kept as segments
//! shared between serials and served as one file (`segments`).

pub mod segments;
pub mod snapshot;
mod writer;

pub use writer::{RrdpConfig, RrdpWriter};
