//! A CA certificate that validation has accepted, as the objects it issues
//! are checked against it (RFC 6487 §7.2, RFC 6488 §3): its name and key
//! identifier (CERT-5), key, SIA and expiry. Each object's own checks are
//! beside its decoder (`SignedObject::check`, `Roa::check`, `Aspa::check`,
//! `Manifest::check`, `Crl::check`, `Cert::check_issued`); a relying party
//! calls them with this and the CA's CRL, resources and time.

use crate::cert::{Cert, Sia};
use crate::crl::Crl;
use crate::crypto::{KeyId, PublicKey};
use crate::der::Time;
use crate::name::Name;
use crate::resources::ResourceSet;

/// What checking a CA's products needs of its certificate. The certificate's
/// DER is not kept: a CA with 10,000 children holds 10,000 of these while
/// their points wait their turn.
#[derive(Clone, Debug)]
pub struct ValidCa {
    pub subject: Name,
    pub ski: KeyId,
    pub public_key: PublicKey,
    pub sia: Sia,
    pub not_after: Time,
}

impl ValidCa {
    pub fn of(c: Cert) -> ValidCa {
        ValidCa { subject: c.subject, ski: c.ski, public_key: c.public_key, sia: c.sia, not_after: c.not_after }
    }

    /// CERT-5: `issuer` and `aki` (of a certificate or CRL) name this CA.
    pub fn is_issuer_of(&self, issuer: &Name, aki: Option<&KeyId>) -> bool {
        self.subject.der == issuer.der && aki == Some(&self.ski)
    }
}

/// Checking one object published at a CA's point: the CA, the resources it
/// holds (`inherit` resolved), its current CRL and the time.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub ca: &'a ValidCa,
    pub held: &'a ResourceSet,
    pub crl: &'a Crl,
    pub now: Time,
}
