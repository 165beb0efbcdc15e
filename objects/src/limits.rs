//! Every bound rpkit puts on what it reads or publishes, in one place, each
//! with its source (as rpki-client keeps its limits in one header). The
//! decoders and the validator enforce them; the CA keeps what it publishes
//! inside them.

use std::time::Duration;

// Objects.

/// Largest RPKI object (certificate, CRL, manifest, ROA, ASPA, TAK), in
/// octets (MFT-20, PIT-23). One value for what is accepted and what is
/// published: rpki-client 8.x refuses any file over 4,000,000 octets and 9.x
/// over 8,000,000. A CA must publish what every deployed validator takes, and
/// a validator that took more than the validators beside it would give VRPs
/// they do not; so the older, lower bound holds for both sides.
pub const MAX_OBJECT_SIZE: usize = 4_000_000;
/// Largest TAL (RFC 8630): a few URIs and one key.
pub const MAX_TAL_SIZE: usize = 64 * 1024;
/// Longest URI in a certificate, manifest or RRDP file (rpki-client: 2,048).
pub const MAX_URI_LEN: usize = 2048;
/// Most entries on one manifest (MFT-20; rpki-client: 100,000).
pub const MAX_MANIFEST_ENTRIES: usize = 100_000;
/// Most IP or AS entries in one RFC 3779 extension (RES-10; rpki-client: 200,000).
pub const MAX_RESOURCE_ENTRIES: usize = 200_000;
/// Deepest DER nesting: any RPKI object needs far less; deeper input is hostile.
pub const MAX_DER_DEPTH: usize = 32;
/// Deepest CA chain followed below a trust anchor (PATH-2; Routinator: 32,
/// rpki-client: 12).
pub const MAX_CA_DEPTH: usize = 32;

// Protocol messages.

/// Largest RFC 8181 message (PUB-8): a change set of many objects.
pub const MAX_RFC8181_MESSAGE: usize = 256 * 1024 * 1024;
/// Largest RFC 8183 setup document: an identity certificate and a few URIs.
pub const MAX_RFC8183_DOCUMENT: usize = 64 * 1024;
/// Largest RFC 6492 up-down message: a few certificates of one child.
pub const MAX_UPDOWN_MESSAGE: usize = 1024 * 1024;
/// Most resource classes and certificates in one up-down message.
pub const MAX_UPDOWN_ELEMENTS: usize = 64;

// RRDP (RFC 8182), as a relying party fetches it (PIT-19).

/// Largest notification file.
pub const MAX_NOTIFICATION: u64 = 32 * 1024 * 1024;
/// Largest delta file (after gzip).
pub const MAX_DELTA: u64 = 256 << 20;
/// Largest snapshot file (after gzip).
pub const MAX_SNAPSHOT: u64 = 4 << 30;
/// Largest single XML element: the largest object in base64 with line breaks.
pub const MAX_XML_ELEMENT: u64 = 8 * 1024 * 1024;
/// Most elements in one RRDP document (RFC 8182 sets none; two million
/// objects is far beyond any repository today).
pub const MAX_XML_ELEMENTS: usize = 2_000_000;
/// More deltas than this to catch up: the snapshot instead (rpki-client: 300).
pub const MAX_DELTAS: usize = 300;

// Fetching (PIT-14 to PIT-18).

/// Time one HTTP request may take at most.
pub const HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Time to connect (rpki-client: 15 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed, all within the origin (NEW-5).
pub const MAX_REDIRECTS: usize = 5;
/// Time one repository (an RRDP update or an rsync module) may take.
pub const REPOSITORY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// rsync's I/O timeout (rpki-client: 30 s).
pub const RSYNC_IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Most repositories one run contacts (PIT-17; rpki-client: 1,000 per TAL).
pub const MAX_REPOSITORIES: usize = 5000;

// The bounds fit one another: the largest object, in base64 with a line
// break every 64 characters, fits one XML element; an element fits a delta,
// a delta a snapshot.
const _: () = assert!(((MAX_OBJECT_SIZE.div_ceil(3) * 4) * 65 / 64) as u64 <= MAX_XML_ELEMENT);
const _: () = assert!(MAX_XML_ELEMENT <= MAX_DELTA && MAX_DELTA <= MAX_SNAPSHOT);
