//! The REST API's contract: every request and response body, in one place.
//! The server's handlers, the `rpkit` commands (which read these types, not
//! loose JSON), `rpkit audit --expect` and the member portal share them; the
//! OpenAPI document is generated from them and the route table (`api::openapi`).

use rpkit_objects::resources::ResourceSet;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::{IntoParams, ToSchema};

pub use rpkit_objects::export::{Export, ExportAspa, ExportObject, ExportRoa};
pub use rpkit_objects::route_origin::RouteOrigin;

/// One route origin authorization a member asks for (the ROA-6 rule and
/// the text and JSON forms are `RouteOrigin`'s).
pub type RoaSpec = RouteOrigin;

/// `GET /api/v1/whoami`: `{"admin": true}` or `{"member": HANDLE}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Whoami {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// `POST /api/v1/members`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewMember {
    pub handle: String,
    /// `AS64496, 192.0.2.0/24, 2001:db8::/32` form.
    #[schema(example = "AS64496, 192.0.2.0/24, 2001:db8::/32")]
    pub resources: String,
    #[serde(default)]
    pub opaque_id: Option<String>,
}

/// `PUT /api/v1/members/{handle}/resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SetResources {
    #[schema(example = "AS64496, 192.0.2.0/24")]
    pub resources: String,
}

/// `POST /api/v1/members/{handle}/tokens`: the token, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub token: String,
}

/// A member as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberInfo {
    pub handle: String,
    pub opaque_id: Option<String>,
    pub resources: ResourceList,
    /// rsync URI of the member CA's certificate (for a delegated member, of
    /// its current certificate; empty before it asked for one).
    pub ca_certificate: String,
    /// rsync URI of the member CA's publication point.
    pub publication_point: String,
    /// `hosted` (its CA is here) or `delegated` (it runs its own, RFC 6492).
    #[serde(default = "hosted")]
    pub kind: String,
    /// A delegated member's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated: Option<ChildStatus>,
}

fn hosted() -> String {
    "hosted".into()
}

/// A delegated member as its parent sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChildStatus {
    pub suspended: bool,
    /// When it was onboarded (RFC 3339).
    pub since: String,
    /// Its last RFC 6492 message, and what it was (`list`, `issue` ...).
    pub last_contact: Option<String>,
    pub last_message: Option<String>,
    /// The certificates it holds (its current key, and its next during a key roll).
    pub certificates: Vec<ChildCertInfo>,
    /// While it moves from its hosted CA to its own: since when, and what its
    /// own CA has yet to publish before the hosted one is retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
}

/// `POST /api/v1/members/{handle}/delegate`: move a hosted member to its own CA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DelegateRequest {
    /// The member's RFC 8183 child_request (XML); left out with `complete`.
    #[serde(default)]
    pub request: Option<String>,
    /// Retire the hosted CA now: the operator confirms the member's own CA
    /// publishes its authorizations.
    #[serde(default)]
    pub complete: bool,
}

/// Where a move to the member's own CA stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MoveStatus {
    pub handle: String,
    /// The hosted CA is retired.
    pub complete: bool,
    /// What the member's own CA has yet to publish.
    pub waiting_for: Vec<String>,
}

/// The answer to starting a move: the parent_response for the member's CA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DelegateStarted {
    pub parent_response: String,
}

/// A certificate the RIR CA issued to a delegated member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChildCertInfo {
    /// The child's key identifier (hex).
    pub key: String,
    pub uri: String,
    pub not_after: String,
    pub resources: ResourceList,
    /// The publication point the child asked for (its caRepository).
    pub publication_point: String,
}

/// `POST /api/v1/children`: onboard a delegated member (RFC 8183).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewChild {
    pub handle: String,
    /// The child's RFC 8183 child_request (XML).
    pub request: String,
    /// Its resources; for a known member, its allocations when left out.
    #[serde(default)]
    #[schema(example = "AS64496, 192.0.2.0/24")]
    pub resources: Option<String>,
}

/// The RFC 8183 parent_response (XML) for the child to take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChildAdded {
    pub parent_response: String,
}

/// Resources as lists of strings per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceList {
    pub asn: Vec<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

impl From<&ResourceSet> for ResourceList {
    fn from(r: &ResourceSet) -> Self {
        ResourceList { asn: r.asn.to_strings(), ipv4: r.ipv4.to_strings(), ipv6: r.ipv6.to_strings() }
    }
}

impl ResourceList {
    /// Every resource, ASNs first.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.asn.iter().chain(&self.ipv4).chain(&self.ipv6).map(String::as_str)
    }
}

/// What an import or a resource change did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ResourceChange>,
    pub unchanged: usize,
}

/// One member whose resources changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceChange {
    pub handle: String,
    pub added: String,
    pub removed: String,
    /// ROAs and ASPAs withdrawn because the member no longer holds their resources.
    pub withdrawn: Vec<String>,
}

/// A published ROA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoaInfo {
    #[schema(example = "192.0.2.0/24")]
    pub prefix: String,
    pub max_length: u8,
    pub asn: u32,
    /// rsync URI of the ROA object that carries it.
    pub uri: String,
    /// When its EE certificate expires (RFC 3339).
    pub not_after: String,
}

impl RoaInfo {
    /// The authorization it publishes.
    pub fn authorization(&self) -> Option<RoaSpec> {
        let prefix = self.prefix.parse().ok()?;
        Some(RouteOrigin::new(prefix, Some(self.max_length), rpkit_objects::resources::Asn(self.asn)))
    }
}

/// A set of additions and removals applied all or nothing
/// (`POST /api/v1/members/{handle}/roas/delta`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoaDelta {
    #[serde(default)]
    pub added: Vec<RoaSpec>,
    #[serde(default)]
    pub removed: Vec<RoaSpec>,
}

/// One ROA or a list of them (`POST` and `DELETE` on `/roas`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RoaBody {
    One(RoaSpec),
    Many(Vec<RoaSpec>),
}

impl RoaBody {
    pub fn into_vec(self) -> Vec<RoaSpec> {
        match self {
            RoaBody::One(r) => vec![r],
            RoaBody::Many(v) => v,
        }
    }
}

/// What a ROA change did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoaReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Additions already in place (idempotent).
    pub unchanged: Vec<String>,
    pub dry_run: bool,
}

/// `?dry_run=true` previews a ROA change without applying it.
#[derive(Clone, Copy, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeltaQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// An ASPA: a customer AS of the member and its providers (ASPA-3/4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AspaSpec {
    pub customer: u32,
    pub providers: Vec<u32>,
}

/// `PUT /api/v1/members/{handle}/aspas/{customer}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Providers {
    pub providers: Vec<u32>,
}

/// One refused entry of a bulk request, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rejection {
    pub entry: String,
    /// Stable code (`malformed`, `bad_max_length`, `not_held` ...).
    #[schema(value_type = String)]
    pub code: Cow<'static, str>,
    pub reason: String,
}

/// Every error: a stable `code`, a message for people, and for a bulk request
/// each refused entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
}

/// One entry of the CA's history (`GET /api/v1/history`): a change that was
/// applied, who asked, what was asked and what it published; `hash` covers all
/// of it and `prev_hash`, the previous entry's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub seq: u64,
    /// RFC 3339.
    pub time: String,
    /// `admin`, `member:HANDLE (token ID)`, `schedule` or `operator`.
    pub actor: String,
    pub member: Option<String>,
    /// `roa.apply`, `aspa.put`, `member.add`, `token.create`, `schedule.reissue` ...
    pub action: String,
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    pub published: Vec<HistoryObject>,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An object a change published or withdrew.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryObject {
    pub uri: String,
    /// SHA-256 of the object published, or of the one withdrawn.
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// `GET /api/v1/history?member=H&since=T`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only this member's entries (a member's token sees only its own anyway).
    pub member: Option<String>,
    /// Only entries at or after this time (RFC 3339, or a date).
    pub since: Option<String>,
}

/// A CA's key and its roll (RFC 6489): `GET|POST /api/v1/members/{handle}/keyroll`
/// and `/api/v1/rir/keyroll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyRollStatus {
    pub handle: String,
    /// `active`: one key in use; `pending`: a next key is certified and published
    /// with its own manifest and CRL, unused until `activates_at`.
    pub phase: String,
    /// The key in use (key identifier, hex).
    pub key: String,
    /// Where it lives: `software` or `hsm`.
    pub key_store: String,
    /// When it took over (RFC 3339).
    pub key_since: String,
    pub next_key: Option<String>,
    pub next_key_store: Option<String>,
    /// Why the roll began: `operator`, `schedule` or `migration` (software to HSM).
    pub reason: Option<String>,
    pub started: Option<String>,
    pub activates_at: Option<String>,
}

/// `POST .../keyroll`: start a roll, or (`activate`) end a pending roll's staging now.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct KeyRollRequest {
    #[serde(default)]
    pub activate: bool,
}

/// A BGPsec router certificate (RFC 8209): `GET /api/v1/members/{handle}/router-certs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouterCertInfo {
    pub asn: u32,
    /// The router key's identifier (SKI, hex).
    pub key_id: String,
    pub uri: String,
    pub not_after: String,
    /// The certificate's subject common name (`ROUTER-` and the AS number in hex).
    pub subject: String,
}

/// `POST /api/v1/members/{handle}/router-certs`: a PKCS#10 request (PEM, or
/// base64 DER) for a P-256 router key, and the AS it speaks for.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NewRouterCert {
    pub asn: u32,
    pub csr: String,
}

/// What importing the offline TA's answer did: `POST /api/v1/ta/response`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaImport {
    /// Objects in the TA's publication set.
    pub objects: usize,
    /// The RIR CA's certificate is new (first, renewed or re-issued).
    pub rir_certified: bool,
    /// What the answer did to a key roll of the RIR CA, if anything.
    pub keyroll: Option<String>,
    /// When the TA's manifest and CRL run out (RFC 3339).
    pub next_update: Option<String>,
}

/// The offline TA as the online CA sees it: `GET /api/v1/ta/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaStatus {
    pub offline: bool,
    /// When the TA's manifest and CRL run out.
    pub next_update: Option<String>,
    /// When the next signing session is due (`ta_warn_days` before that).
    pub signing_due: Option<String>,
    /// The signing session is due now.
    pub overdue: bool,
    /// The TA's manifest and CRL have run out: validators reject the whole tree.
    pub expired: bool,
    pub pending_request: Option<String>,
    pub pending_valid_until: Option<String>,
}

/// A signed file for or from the offline TA, its DER in base64:
/// `POST /api/v1/ta/request` answers one, `POST /api/v1/ta/response` takes one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaFile {
    pub file: String,
}

/// The trust anchor's key and its roll (RFC 9691): `GET|POST /api/v1/ta/keyroll`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaKeyRollStatus {
    /// `none`; `staging`: the successor is announced in TAK objects, the
    /// current key still certifies the RIR CA; `active`: the successor took
    /// over, the old key still publishes for relying parties on the old TAL
    /// until it is retired.
    pub phase: String,
    /// The current key (TAL key) and its certificate URIs.
    pub key: String,
    pub uris: Vec<String>,
    pub successor: Option<String>,
    pub successor_uris: Vec<String>,
    /// The old key, while it is still published (phase `active`).
    pub predecessor: Option<String>,
    pub started: Option<String>,
    pub activates_at: Option<String>,
    /// The current TAL (RFC 8630).
    pub tal: String,
}

/// `POST /api/v1/ta/keyroll`: start a roll; `activate` ends the staging now;
/// `retire` withdraws the old key's tree once relying parties moved.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TaKeyRollRequest {
    #[serde(default)]
    pub activate: bool,
    #[serde(default)]
    pub retire: bool,
}

/// `GET /api/v1/parent`: this CA's RFC 6492 parent and how syncs with it go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParentStatus {
    pub parent_handle: String,
    /// This CA's handle at the parent.
    pub child_handle: String,
    pub service_uri: String,
    pub last_contact: Option<String>,
    pub last_success: Option<String>,
    /// Why the last sync failed, while it does.
    pub last_error: Option<String>,
    /// What the parent certified for the top CA.
    pub resources: Option<ResourceList>,
    pub certificate_not_after: Option<String>,
}

/// `POST /api/v1/parent/sync`: what one sync with the parent did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParentSync {
    /// The entitlement offered (none: the parent offers nothing).
    pub entitled: Option<ResourceList>,
    /// The top CA's certificate was issued or replaced.
    pub certified: bool,
    /// A key roll moved on.
    pub keyroll: Option<String>,
    /// Members cut down to what the parent still certifies, and what they lost.
    pub shrunk: Vec<ResourceChange>,
    /// Members left holding nothing certified.
    pub uncovered: Vec<String>,
}
