//! RRDP (RFC 8182): the notification, snapshot and delta documents, read and
//! written in one place. The publication server writes them (`write`); the
//! validator reads them (`read`, streaming and bounded) and checks what it
//! fetched against them (`notification`).

pub mod notification;
pub mod read;
pub mod write;

/// The namespace of all three documents, version 1 (RFC 8182 §3.5).
pub const NS: &str = "http://www.ripe.net/rpki/rrdp";

/// Which document is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Notification,
    Snapshot,
    Delta,
}

impl Kind {
    /// The document's root element.
    pub fn root(self) -> &'static str {
        match self {
            Kind::Notification => "notification",
            Kind::Snapshot => "snapshot",
            Kind::Delta => "delta",
        }
    }
}

/// One element of a document, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// The root: session and serial (RFC 8182 §3.5.1.3).
    Root {
        session: String,
        serial: u64,
    },
    SnapshotRef {
        uri: String,
        hash: [u8; 32],
    },
    DeltaRef {
        serial: u64,
        uri: String,
        hash: [u8; 32],
    },
    Publish {
        uri: String,
        hash: Option<[u8; 32]>,
        data: Vec<u8>,
    },
    Withdraw {
        uri: String,
        hash: [u8; 32],
    },
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

pub(crate) fn bad<T>(s: impl Into<String>) -> Result<T, XmlError> {
    Err(XmlError(s.into()))
}

/// A reference to a snapshot or delta file in a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub uri: String,
    pub hash: [u8; 32],
}
