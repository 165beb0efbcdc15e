//! One change to the CA: an SQLite transaction that records every object it
//! publishes or withdraws, re-issues the CRL and manifest of every CA it touched
//! (MFT-11, MFT-12), and yields the change set for the publisher. The caller
//! publishes, then commits; any error before the commit leaves everything as it was.

use crate::config::CaConfig;
use crate::error::{CaError, Result};
use crate::publisher::{Change, ChangeSet};
use crate::signer::{CaSigner, Stored};
use crate::store::{self, cas::MftState};
use rpkit_objects::cert::{Cert, CertBuilder, SiaSpec};
use rpkit_objects::crl::{CrlBuilder, Revoked};
use rpkit_objects::crypto::{sha256, KeyId, PublicKey, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::name::Name;
use rpkit_objects::resources::{CertResources, ResourceSet};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::Issuer;
use rpkit_serve::db::{Sql, Tx};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) use crate::store::cas::stored_key;
pub use crate::store::cas::{CaKind, CaRecord, NewCa};

/// History entries a change makes besides its own: (event, URI prefix of its objects).
pub(crate) type Notes = Vec<(crate::history::Event, String)>;

/// A pending change to one URI: the hash before this change, the object after it.
type Pending = (Option<[u8; 32]>, Option<Vec<u8>>);

/// A change in progress.
pub struct Work<'a> {
    pub tx: Tx<'a>,
    pub cfg: &'a CaConfig,
    pub signer: &'a CaSigner,
    pub now: Time,
    /// URI -> (hash before this change, object after it).
    changes: BTreeMap<String, Pending>,
    dirty: BTreeSet<i64>,
    /// Entries for the history besides the change's own: a change that acts
    /// for many members (a batch of key rolls) notes each member's part.
    notes: Vec<(crate::history::Event, String)>,
    /// Record the change in the history even if it publishes nothing (an
    /// onboarding, a suspension: decisions that must be traceable).
    pub always_recorded: bool,
}

impl<'a> Work<'a> {
    pub fn new(tx: Tx<'a>, cfg: &'a CaConfig, signer: &'a CaSigner, now: Time) -> Self {
        Work { tx, cfg, signer, now, changes: BTreeMap::new(), dirty: BTreeSet::new(), notes: Vec::new(), always_recorded: false }
    }

    /// notBefore / thisUpdate for objects issued now.
    pub fn not_before(&self) -> Time {
        self.now.add_secs(-self.cfg.backdate_secs)
    }

    pub fn ca_by_handle(&self, handle: &str) -> Result<CaRecord> {
        store::cas::by_handle(&self.tx, handle)?.ok_or_else(|| CaError::NotFound(format!("CA '{handle}'")))
    }

    pub fn ca_by_id(&self, id: i64) -> Result<CaRecord> {
        store::cas::by_id(&self.tx, id)?.ok_or_else(|| CaError::NotFound(format!("CA #{id}")))
    }

    /// The CA of `kind`; for the TA, the current one: the RIR CA's parent
    /// (during a TA key roll, RFC 9691, two TA instances exist).
    pub fn ca_of_kind(&self, kind: CaKind) -> Result<Option<CaRecord>> {
        if kind == CaKind::Ta {
            let id = store::cas::current_ta_id(&self.tx)?;
            return id.map(|id| self.ca_by_id(id)).transpose();
        }
        store::cas::by_kind(&self.tx, kind)
    }

    /// A fresh serial number in `ca`'s space (CERT-2).
    pub fn next_serial(&self, ca_id: i64) -> Result<Serial> {
        let n = store::cas::next_serial(&self.tx, ca_id)?;
        Ok(Serial::from_u64(n as u64))
    }

    /// A new CA key, recorded in the same transaction: a software key's PKCS#1
    /// DER, a token key's identifier only. (A token key whose transaction rolls
    /// back stays in the token unused.)
    pub fn create_key(&self) -> Result<KeyId> {
        let key = self.signer.create_key()?;
        match self.signer.stored(&key)? {
            Stored::Software(der) => store::keys::put_software(&self.tx, &key.hex(), &der)?,
            Stored::Token => {
                let label = self.cfg.signer.token_label.clone().unwrap_or_default();
                store::keys::put_token(&self.tx, &key.hex(), &label)?;
            }
        }
        Ok(key)
    }

    /// A history entry for `event`, whose published objects are this change's
    /// below `prefix` (a member's publication point).
    pub fn note(&mut self, event: crate::history::Event, prefix: String) {
        self.notes.push((event, prefix));
    }

    /// The notes made, taken out (after `finish`, by the change).
    fn take_notes(&mut self) -> Vec<(crate::history::Event, String)> {
        std::mem::take(&mut self.notes)
    }

    pub fn mark_dirty(&mut self, ca_id: i64) {
        self.dirty.insert(ca_id);
    }

    /// Store (or replace) a published object.
    pub fn put_object(&mut self, ca_id: Option<i64>, uri: &str, der: Vec<u8>) -> Result<()> {
        let old = store::objects::hash(&self.tx, uri)?;
        let name = uri.rsplit('/').next().unwrap_or(uri).to_string();
        let hash = sha256(&der);
        store::objects::put(&self.tx, uri, ca_id, &name, &der, &hash)?;
        let entry = self.changes.entry(uri.to_string()).or_insert((old.and_then(|h| h.try_into().ok()), None));
        entry.1 = Some(der);
        if let Some(id) = ca_id {
            self.dirty.insert(id);
        }
        Ok(())
    }

    /// Withdraw a published object.
    pub fn remove_object(&mut self, uri: &str) -> Result<()> {
        let Some((hash, ca_id)) = store::objects::hash_and_owner(&self.tx, uri)? else { return Ok(()) };
        store::objects::delete(&self.tx, uri)?;
        let entry = self.changes.entry(uri.to_string()).or_insert((hash.try_into().ok(), None));
        entry.1 = None;
        if let Some(id) = ca_id {
            self.dirty.insert(id);
        }
        Ok(())
    }

    /// Put a certificate `ca_id`'s current key issued on its CRL until `expires` (CRL-3).
    pub fn revoke(&mut self, ca_id: i64, serial: &Serial, expires: Time) -> Result<()> {
        let key = store::cas::key_id(&self.tx, ca_id)?;
        self.revoke_by(ca_id, &key, serial, expires)
    }

    /// Put a certificate that key `key` (hex) of `ca_id` issued on that key's CRL.
    pub fn revoke_by(&mut self, ca_id: i64, key: &str, serial: &Serial, expires: Time) -> Result<()> {
        if expires > self.now {
            let s = serial.to_u128().and_then(|v| i64::try_from(v).ok()).unwrap_or(i64::MAX);
            store::revocations::insert(&self.tx, ca_id, s, self.now.0, expires.0, key)?;
        }
        self.dirty.insert(ca_id);
        Ok(())
    }

    pub fn issuer<'b>(&'b self, ca: &'b CaRecord) -> Issuer<'b> {
        Issuer { signer: self.signer, key: ca.key, cert: &ca.cert, cert_uri: ca.cert_uri.clone(), crl_uri: ca.crl_uri(self.cfg) }
    }

    /// Certificate fields for a CA certificate `parent` issues to `key`.
    pub fn ca_cert_builder(
        &self,
        parent: Option<&CaRecord>,
        handle: &str,
        key: PublicKey,
        resources: &ResourceSet,
        days: i64,
    ) -> Result<CertBuilder> {
        let subject = Name::new(&key.key_id().hex(), None).map_err(|e| CaError::invalid("bad_name", e.to_string()))?;
        let key_id = key.key_id();
        let sia = SiaSpec::Ca {
            repository: self.cfg.pp_uri(handle),
            manifest: format!("{}{}", self.cfg.pp_uri(handle), FileType::Manifest.file_name(&key_id.file_stem())),
            notify: self.cfg.rrdp_notify.clone(),
        };
        let serial = match parent {
            Some(p) => self.next_serial(p.id)?,
            // A self-signed TA: its issue time keeps re-issues distinct.
            None => Serial::from_u64(self.now.0.max(1) as u64),
        };
        Ok(CertBuilder {
            serial,
            issuer: parent.map(|p| p.cert.subject.clone()).unwrap_or_else(|| subject.clone()),
            subject,
            not_before: self.not_before(),
            not_after: self.now.add_secs(days * 86400),
            public_key: key,
            ca: true,
            aki: parent.map(|p| p.cert.ski),
            crl_uri: parent.map(|p| p.crl_uri(self.cfg)),
            ca_issuer: parent.map(|p| p.cert_uri.clone()),
            sia,
            resources: CertResources::explicit(resources),
            bgpsec_router: false,
        })
    }

    /// Insert the RIR CA, certified under `parent` (the offline TA) or by an
    /// RFC 6492 parent (`None`), with the key the pool set aside for it.
    pub fn insert_rir(&mut self, parent: Option<i64>, key: KeyId, cert: &Cert, cert_uri: &str) -> Result<i64> {
        let handle = self.cfg.rir_handle.clone();
        let resources = cert.resources.explicit_set();
        let id = self.insert_ca(NewCa {
            handle: &handle,
            kind: CaKind::Rir,
            parent,
            key,
            resources: &resources,
            cert,
            cert_uri,
            opaque_id: None,
        })?;
        store::settings::forget_rir_key(&self.tx)?;
        self.mark_dirty(id);
        Ok(id)
    }

    /// Insert a CA row.
    pub fn insert_ca(&self, c: NewCa<'_>) -> Result<i64> {
        store::cas::insert(&self.tx, &c, self.now.0)
    }

    /// Re-issue the CRL and manifest of every CA this change touched, then
    /// return the change set to publish.
    pub fn finish(mut self) -> Result<(Tx<'a>, ChangeSet, Notes, bool)> {
        let dirty: Vec<i64> = std::mem::take(&mut self.dirty).into_iter().collect();
        for id in dirty {
            if store::cas::exists(&self.tx, id)? {
                self.republish(id)?;
            }
        }
        let mut cs = ChangeSet::default();
        for (uri, (old, new)) in std::mem::take(&mut self.changes) {
            match (old, new) {
                (None, Some(der)) => cs.changes.push(Change::Publish { uri, der, replaces: None }),
                (Some(h), Some(der)) if sha256(&der) != h => cs.changes.push(Change::Publish { uri, der, replaces: Some(h) }),
                (Some(hash), None) => cs.changes.push(Change::Withdraw { uri, hash }),
                _ => {}
            }
        }
        let notes = self.take_notes();
        Ok((self.tx, cs, notes, self.always_recorded))
    }

    /// New CRL and manifest for one CA (MFT-6, MFT-11, CRL-3, CRL-5): for its
    /// current key, and for its next key while a roll is pending (keyroll.rs).
    pub fn republish(&mut self, ca_id: i64) -> Result<()> {
        let ca = self.ca_by_id(ca_id)?;
        if ca.kind == CaKind::Ta && self.cfg.ta_offline {
            // An offline TA's CRL and manifest come signed in its answers.
            self.dirty.remove(&ca_id);
            return Ok(());
        }
        self.sign_crl_and_manifest(&ca, KeyState::Current)?;
        if let Some(next) = crate::keyroll::pending_view(self, &ca)? {
            self.sign_crl_and_manifest(&next, KeyState::Pending)?;
        }
        self.dirty.remove(&ca_id);
        Ok(())
    }

    /// New CRL and manifest for `ca`'s pending next key only (a roll's start).
    pub fn republish_pending(&mut self, ca: &CaRecord) -> Result<()> {
        match crate::keyroll::pending_view(self, ca)? {
            Some(next) => self.sign_crl_and_manifest(&next, KeyState::Pending),
            None => Ok(()),
        }
    }

    /// The CRL and manifest of one key of `ca` (`ca.key`). A current key's
    /// manifest lists everything in the publication point that the CA's current
    /// key signed; a pending key's lists only its CRL, and neither of its
    /// products is on the current manifest (RFC 6489 section 2).
    fn sign_crl_and_manifest(&mut self, ca: &CaRecord, state: KeyState) -> Result<()> {
        let key = ca.key.hex();
        let before = match state {
            KeyState::Current => store::cas::mft_state(&self.tx, ca.id)?,
            KeyState::Pending => store::keyrolls::mft_state(&self.tx, ca.id)?,
        };
        let (mft_this, mft_num, crl_num) = (before.this_update, before.manifest_number, before.crl_number);
        // The manifest being replaced is revoked (MFT-11).
        if let (Some(s), Some(n)) = (before.mft_ee_serial, before.next_update) {
            self.revoke_by(ca.id, &key, &Serial::from_u64(s as u64), Time(n))?;
        }
        store::revocations::delete_expired(&self.tx, ca.id, self.now.0)?;
        let revoked: Vec<Revoked> = match state {
            KeyState::Current => store::revocations::of_current_key(&self.tx, ca.id, &key)?,
            KeyState::Pending => store::revocations::of_key(&self.tx, ca.id, &key)?,
        };
        // thisUpdate increases across manifests of this key (MFT-16), one
        // second at a time, but never past now: GeneralizedTime has whole
        // seconds, so a second change within one second keeps it (its higher
        // manifestNumber makes it the newer; rpki-client's rule), where a
        // forced step would carry a busy CA's CRLs into the future.
        let this_update = match mft_this {
            Some(t) => Time(self.not_before().0.max((t + 1).min(self.now.0)).max(t)),
            None => self.not_before(),
        };
        let next_update = self.now.add_secs(self.cfg.next_update_secs);
        let crl = CrlBuilder {
            issuer: ca.cert.subject.clone(),
            aki: ca.cert.ski,
            this_update,
            next_update,
            crl_number: Serial::from_u64(crl_num as u64 + 1),
            revoked,
        }
        .sign(self.signer, &ca.key)?;
        let crl_uri = ca.crl_uri(self.cfg);
        let crl_der = crl.to_der().to_vec();
        let files: Vec<FileAndHash> = match state {
            KeyState::Current => {
                self.put_object(Some(ca.id), &crl_uri, crl_der)?;
                store::objects::manifest_files(&self.tx, ca.id, &ca.mft_name())?
            }
            KeyState::Pending => {
                let hash = sha256(&crl_der);
                self.put_object(None, &crl_uri, crl_der)?;
                vec![FileAndHash { file: ca.crl_name(), hash }]
            }
        };
        let content = ManifestContent { manifest_number: Serial::from_u64(mft_num as u64 + 1), this_update, next_update, files };
        let ee_serial = self.next_serial(ca.id)?;
        let mft_uri = ca.mft_uri(self.cfg);
        let mft = Manifest::build(&content, &self.issuer(ca), ee_serial.clone(), &mft_uri)?;
        let owner = (state == KeyState::Current).then_some(ca.id);
        self.put_object(owner, &mft_uri, mft.signed.to_der().to_vec())?;
        let after = MftState {
            manifest_number: mft_num + 1,
            crl_number: crl_num + 1,
            mft_ee_serial: Some(ee_serial.to_u128().unwrap_or(0) as i64),
            this_update: Some(this_update.0),
            next_update: Some(next_update.0),
        };
        match state {
            KeyState::Current => store::cas::set_mft_state(&self.tx, ca.id, &after),
            KeyState::Pending => store::keyrolls::set_mft_state(&self.tx, ca.id, &after),
        }
    }
}

/// Which of a CA's keys a CRL and manifest are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Current,
    Pending,
}

/// The RIR CA, read outside a change.
pub(crate) fn rir_record(c: &impl Sql) -> Result<CaRecord> {
    store::cas::rir(c)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))
}
