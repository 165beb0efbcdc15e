//! The notification file (RFC 8182 §3.5.1): session, serial, the snapshot and
//! the deltas on offer; snapshot and deltas must share the notification's
//! origin (RFC 9674, RRDPC-3).

use super::xml::{self, Item, Kind};
use crate::http::origin;

/// A reference to a snapshot or delta file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub uri: String,
    pub hash: [u8; 32],
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub session: String,
    pub serial: u64,
    pub snapshot: FileRef,
    /// By serial, ascending.
    pub deltas: Vec<(u64, FileRef)>,
}

pub use rpkit_objects::limits::MAX_NOTIFICATION;

impl Notification {
    /// Parse a notification fetched from `notify_uri`.
    pub fn parse(body: impl std::io::Read, notify_uri: &str) -> Result<Notification, String> {
        let (mut session, mut serial, mut snapshot, mut deltas) = (String::new(), 0, None, Vec::new());
        let home = origin(notify_uri);
        xml::read(body, MAX_NOTIFICATION, Kind::Notification, |item| {
            let same = |uri: &str| {
                if home.is_some() && origin(uri) == home {
                    Ok(())
                } else {
                    Err(xml::XmlError(format!("{uri} is not on the notification's origin (RFC 9674)")))
                }
            };
            match item {
                Item::Root { session: s, serial: n } => (session, serial) = (s, n),
                Item::SnapshotRef { uri, hash } => {
                    same(&uri)?;
                    snapshot = Some(FileRef { uri, hash });
                }
                Item::DeltaRef { serial, uri, hash } => {
                    same(&uri)?;
                    deltas.push((serial, FileRef { uri, hash }));
                }
                _ => return Err(xml::XmlError("unexpected element".into())),
            }
            Ok(())
        })
        .map_err(|e| format!("notification {notify_uri}: {e}"))?;
        let snapshot = snapshot.ok_or_else(|| format!("notification {notify_uri}: no snapshot"))?;
        deltas.sort_by_key(|(s, _)| *s);
        if deltas.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(format!("notification {notify_uri}: two deltas with one serial"));
        }
        if deltas.last().is_some_and(|(s, _)| *s > serial) {
            return Err(format!("notification {notify_uri}: a delta beyond the notification's serial"));
        }
        Ok(Notification { session, serial, snapshot, deltas })
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
