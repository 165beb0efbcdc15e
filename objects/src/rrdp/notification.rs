//! The notification file (RFC 8182 §3.5.1): session, serial, the snapshot and
//! the deltas on offer. Where the files may be (RFC 9674's same origin) is the
//! relying party's check, made on what this returns.

use super::read::read;
use super::{FileRef, Item, Kind, XmlError};
use crate::limits::MAX_NOTIFICATION;

#[derive(Clone, Debug)]
pub struct Notification {
    pub session: String,
    pub serial: u64,
    pub snapshot: FileRef,
    /// By serial, ascending.
    pub deltas: Vec<(u64, FileRef)>,
}

impl Notification {
    /// Parse a notification document (at most `MAX_NOTIFICATION` octets).
    pub fn parse(body: impl std::io::Read) -> Result<Notification, XmlError> {
        let (mut session, mut serial, mut snapshot, mut deltas) = (String::new(), 0, None, Vec::new());
        read(body, MAX_NOTIFICATION, Kind::Notification, |item| {
            match item {
                Item::Root { session: s, serial: n } => (session, serial) = (s, n),
                Item::SnapshotRef { uri, hash } => snapshot = Some(FileRef { uri, hash }),
                Item::DeltaRef { serial, uri, hash } => deltas.push((serial, FileRef { uri, hash })),
                _ => return Err(XmlError("unexpected element".into())),
            }
            Ok(())
        })?;
        let snapshot = snapshot.ok_or_else(|| XmlError("no snapshot".into()))?;
        deltas.sort_by_key(|(s, _)| *s);
        if deltas.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(XmlError("two deltas with one serial".into()));
        }
        if deltas.last().is_some_and(|(s, _)| *s > serial) {
            return Err(XmlError("a delta beyond the notification's serial".into()));
        }
        Ok(Notification { session, serial, snapshot, deltas })
    }

    /// The URIs of the snapshot and the deltas.
    pub fn file_uris(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.snapshot.uri.as_str()).chain(self.deltas.iter().map(|(_, f)| f.uri.as_str()))
    }

    /// The deltas from `from + 1` to the current serial, if all are listed.
    pub fn deltas_after(&self, from: u64) -> Option<Vec<&(u64, FileRef)>> {
        let needed: Vec<_> = self.deltas.iter().filter(|(s, _)| *s > from).collect();
        let contiguous = from < self.serial
            && needed.len() as u64 == self.serial - from
            && needed.iter().zip(from + 1..).all(|((s, _), want)| *s == want);
        contiguous.then_some(needed)
    }
}
