//! What a validation run produces: validated payloads and the problems met.

use rpkit_objects::crypto::KeyId;
use rpkit_objects::der::Time;
use rpkit_objects::route_origin::RouteOrigin;
use serde::Serialize;

/// A validated ROA payload (RFC 6811 §2; ROA-9).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrp {
    /// Prefix, maxLength and origin AS.
    pub origin: RouteOrigin,
    /// Trust anchor name (the TAL file's stem).
    pub ta: std::sync::Arc<str>,
    /// Earliest expiry along the chain: certificates, manifest, CRL (as rpki-client).
    pub expires: Time,
}

/// A validated ASPA payload (ASPA-9): providers sorted, merged per customer (ASPA-6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AspaPayload {
    pub customer: u32,
    pub providers: Vec<u32>,
    pub ta: std::sync::Arc<str>,
    pub expires: Time,
}

/// A BGPsec router key (RFC 8209).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterKey {
    pub asn: u32,
    pub ski: KeyId,
    /// The SubjectPublicKeyInfo, DER (shared by the keys of one certificate).
    pub spki: std::sync::Arc<[u8]>,
    pub ta: std::sync::Arc<str>,
    pub expires: Time,
}

/// One problem: the object (or publication point), the rule and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub uri: String,
    pub rule: &'static str,
    pub detail: String,
}

/// Counts per object type, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub certificates: usize,
    pub invalid_certificates: usize,
    pub manifests: usize,
    pub failed_manifests: usize,
    pub crls: usize,
    pub roas: usize,
    pub invalid_roas: usize,
    pub aspas: usize,
    pub invalid_aspas: usize,
    pub router_certificates: usize,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.certificates += o.certificates;
        self.invalid_certificates += o.invalid_certificates;
        self.manifests += o.manifests;
        self.failed_manifests += o.failed_manifests;
        self.crls += o.crls;
        self.roas += o.roas;
        self.invalid_roas += o.invalid_roas;
        self.aspas += o.aspas;
        self.invalid_aspas += o.invalid_aspas;
        self.router_certificates += o.router_certificates;
    }
}

/// The result of validating one or more trust anchors.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub vrps: Vec<Vrp>,
    pub aspas: Vec<AspaPayload>,
    pub router_keys: Vec<RouterKey>,
    pub warnings: Vec<Warning>,
    pub counts: Counts,
    pub tals: Vec<String>,
    /// Every object met, in audit runs only (`Options::audit`).
    pub objects: Vec<crate::audit::ObjectRecord>,
    /// Every CA met, in audit runs only.
    pub cas: Vec<crate::audit::CaRecord>,
    /// The valid TAKs of trust anchors (RFC 9691), by TAL name.
    pub taks: Vec<(String, rpkit_objects::tak::TakContent)>,
}

impl Report {
    /// Add another report's payloads, warnings and counts.
    pub fn absorb(&mut self, o: Report) {
        self.vrps.extend(o.vrps);
        self.aspas.extend(o.aspas);
        self.router_keys.extend(o.router_keys);
        self.warnings.extend(o.warnings);
        self.counts.add(&o.counts);
        self.tals.extend(o.tals);
        self.objects.extend(o.objects);
        self.cas.extend(o.cas);
        self.taks.extend(o.taks);
    }

    /// Sort, deduplicate VRPs (keeping the latest expiry) and merge ASPAs per customer.
    pub fn finish(&mut self) {
        self.vrps.sort_by(|a, b| (&a.origin, &a.ta, std::cmp::Reverse(a.expires)).cmp(&(&b.origin, &b.ta, std::cmp::Reverse(b.expires))));
        self.vrps.dedup_by(|b, a| a.origin == b.origin && a.ta == b.ta);
        let mut merged: std::collections::BTreeMap<u32, AspaPayload> = Default::default();
        for a in self.aspas.drain(..) {
            match merged.get_mut(&a.customer) {
                Some(m) => {
                    m.providers.extend(a.providers);
                    m.providers.sort();
                    m.providers.dedup();
                    m.expires = m.expires.max(a.expires);
                }
                None => {
                    merged.insert(a.customer, a);
                }
            }
        }
        self.aspas = merged.into_values().collect();
        self.router_keys.sort_by(|a, b| (a.asn, &a.ski).cmp(&(b.asn, &b.ski)));
        self.router_keys.dedup_by(|b, a| a.asn == b.asn && a.ski == b.ski && a.spki == b.spki);
    }
}
