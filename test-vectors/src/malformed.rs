//! Hostile objects for the scenario suite (CHECKLIST 7.1–7.3, 7.5): malformed
//! DER and CMS (the FORT CVEs of 2024), bad names, numbers out of range,
//! empty and huge lists, withheld files, a key shared by two CAs. Each is made
//! from a good object by editing its encoding (and re-signing where the
//! signature must stay good, so that the rule under test is what rejects it).

use crate::scenario::{Ca, PublishSpec, World};
use rpkit_objects::crypto::{KeyId, Signer};
use rpkit_objects::der;
use rpkit_objects::manifest::{FileAndHash, ManifestContent};
use rpkit_objects::oid;
use rpkit_objects::signed_object::{self, EeSpec, Issuer};
use std::collections::{BTreeMap, BTreeSet};

/// A parsed DER value (single-byte tags, definite lengths: our own objects).
#[derive(Clone, Debug)]
pub enum Tlv {
    Prim(u8, Vec<u8>),
    Cons(u8, Vec<Tlv>),
    /// Bytes put out as they are (a BER encoding, say).
    Raw(Vec<u8>),
}

fn header(data: &[u8]) -> (u8, usize, usize) {
    let tag = data[0];
    let first = data[1] as usize;
    if first < 0x80 {
        return (tag, 2, first);
    }
    let n = first & 0x7f;
    let len = data[2..2 + n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
    (tag, 2 + n, len)
}

/// Parse one value and what follows it.
pub fn parse(data: &[u8]) -> (Tlv, &[u8]) {
    let (tag, hl, len) = header(data);
    let body = &data[hl..hl + len];
    let t = if tag & 0x20 != 0 {
        let mut kids = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (k, r) = parse(rest);
            kids.push(k);
            rest = r;
        }
        Tlv::Cons(tag, kids)
    } else {
        Tlv::Prim(tag, body.to_vec())
    };
    (t, &data[hl + len..])
}

impl Tlv {
    pub fn of(der: &[u8]) -> Tlv {
        parse(der).0
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Tlv::Prim(tag, body) => der::tlv(der::Tag(*tag), body),
            Tlv::Cons(tag, kids) => der::tlv(der::Tag(*tag), &kids.iter().flat_map(Tlv::encode).collect::<Vec<u8>>()),
            Tlv::Raw(b) => b.clone(),
        }
    }

    /// The value at `path` (child indices).
    pub fn at(&mut self, path: &[usize]) -> &mut Tlv {
        match (path.split_first(), self) {
            (None, t) => t,
            (Some((i, rest)), Tlv::Cons(_, kids)) => kids[*i].at(rest),
            (Some(_), t) => panic!("no children in {t:?}"),
        }
    }

    fn kids(&mut self) -> &mut Vec<Tlv> {
        match self {
            Tlv::Cons(_, k) => k,
            t => panic!("not constructed: {t:?}"),
        }
    }
}

/// CMS paths in our signed objects (no CRLs in SignedData).
const ENCAP: [usize; 3] = [1, 0, 2];
const SIGNED_ATTRS: [usize; 5] = [1, 0, 4, 0, 3];
/// The extensions of a TBSCertificate: [0] version, serial, alg, issuer, validity, subject, SPKI, [3].
const TBS_SPKI: usize = 6;
const TBS_EXTENSIONS: usize = 7;

/// Edit certificate `der`'s TBSCertificate and sign it again with `key`.
fn resign_cert(w: &World, der: &[u8], key: &KeyId, edit: impl FnOnce(&mut Tlv)) -> Vec<u8> {
    let mut cert = Tlv::of(der);
    let tbs = cert.at(&[0]);
    edit(tbs);
    let tbs_der = tbs.encode();
    let sig = w.sign(key, &tbs_der).expect("signature");
    let kids = cert.kids();
    kids[0] = Tlv::of(&tbs_der);
    kids[2] = Tlv::Prim(0x03, [&[0u8][..], &sig].concat());
    cert.encode()
}

/// The value of the extension with OID content `oid` in a TBSCertificate.
fn extension<'a>(tbs: &'a mut Tlv, oid_content: &[u8]) -> &'a mut Tlv {
    let exts = tbs.at(&[TBS_EXTENSIONS, 0]);
    let ext = exts
        .kids()
        .iter_mut()
        .find(|e| matches!(e, Tlv::Cons(_, k) if matches!(&k[0], Tlv::Prim(6, o) if o == oid_content)))
        .expect("extension present");
    let k = ext.kids();
    let last = k.len() - 1;
    &mut k[last]
}

const OID_AKI: [u8; 3] = [0x55, 0x1d, 0x23];
const OID_KEY_USAGE: [u8; 3] = [0x55, 0x1d, 0x0f];

/// A ROA-typed object of `ca` with `econtent` as it is, validly signed.
fn raw_roa(w: &World, ca: &mut Ca, econtent: &[u8], resources: &str) -> String {
    let serial = ca.serial();
    let key = w.one_time_key().expect("key");
    let name = format!("{}.roa", rpkit_objects::crypto::PublicKey::key_id(key.public_key()).file_stem());
    let ee = EeSpec {
        serial,
        not_before: w.now.add_secs(-3600),
        not_after: w.now.add_secs(30 * 86_400),
        object_uri: format!("{}{name}", ca.dir),
    };
    let held: rpkit_objects::resources::ResourceSet = resources.parse().expect("resources");
    let issuer = Issuer { signer: w, key: ca.key, cert: &ca.cert, cert_uri: ca.cert_uri.clone(), crl_uri: ca.crl_uri() };
    let so = signed_object::build(
        oid::CT_ROA,
        econtent,
        w.now.add_secs(-3600),
        &ee,
        key,
        rpkit_objects::resources::CertResources::explicit(&held),
        &issuer,
    )
    .expect("signed object");
    ca.files.insert(name.clone(), so.to_der().to_vec());
    name
}

/// A RouteOriginAttestation eContent from raw parts: the ASN's INTEGER content
/// and, per IPv4 prefix, the BIT STRING content and an optional maxLength.
fn roa_econtent(asn: &[u8], v4: &[(&[u8], Option<u64>)]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = v4
        .iter()
        .map(|(bits, max)| {
            let ml = max.map(der::integer_u64).unwrap_or_default();
            der::sequence(&[&der::tlv(der::Tag(0x03), bits), &ml])
        })
        .collect();
    let fam = der::sequence(&[&der::octet_string(&[0, 1]), &der::tlv(der::Tag::SEQUENCE, &items.concat())]);
    der::sequence(&[&der::tlv(der::Tag(0x02), asn), &der::sequence(&[&fam])])
}

/// 192.0.2.0/24 as BIT STRING content.
const P24: &[u8] = &[0, 192, 0, 2];

/// What a case changes, given the base scenario's parts: `a` (holding
/// 192.0.2.0/24 and AS64496-AS64511) with ROA `a1` for 192.0.2.0/24 AS64496,
/// and `b`. Returns true when `name` is a case of this module.
#[allow(clippy::too_many_arguments)]
pub fn before_publish(
    name: &str,
    w: &mut World,
    ta: &mut Ca,
    a: &mut Ca,
    b: &mut Ca,
    a1: &str,
    spec_a: &mut PublishSpec,
    vrps: &mut BTreeSet<String>,
    aspas: &mut BTreeMap<u32, Vec<u32>>,
    warnings: &mut Vec<(&'static str, String)>,
) -> bool {
    let a1_uri = format!("{}{a1}", a.dir);
    let a1_vrp = "192.0.2.0/24-24 AS64496";
    let point_a = ["192.0.2.0/24-24 AS64496", "2001:db8::/32-48 AS64497"];
    let mut edit_a1 = |f: &mut dyn FnMut(&mut Tlv)| {
        let mut t = Tlv::of(&a.files[a1]);
        f(&mut t);
        a.files.insert(a1.to_string(), t.encode());
    };
    match name {
        "ber-signed-attrs" => {
            edit_a1(&mut |t| {
                let attrs = t.at(&SIGNED_ATTRS).encode();
                let (_, hl, len) = header(&attrs);
                let mut ber = vec![attrs[0], 0x82, (len >> 8) as u8, len as u8];
                ber.extend_from_slice(&attrs[hl..]);
                *t.at(&SIGNED_ATTRS) = Tlv::Raw(ber);
            });
            vrps.remove(a1_vrp);
            warnings.push(("CMS-1", a1_uri));
        }
        "empty-signed-attrs" => {
            edit_a1(&mut |t| *t.at(&SIGNED_ATTRS) = Tlv::Cons(0xa0, Vec::new()));
            vrps.remove(a1_vrp);
            warnings.push(("CMS-6", a1_uri));
        }
        "no-econtent" => {
            edit_a1(&mut |t| {
                t.at(&ENCAP).kids().truncate(1);
            });
            vrps.remove(a1_vrp);
            warnings.push(("CMS-3", a1_uri));
        }
        "trailing-garbage" => {
            a.files.get_mut(a1).expect("a1").extend_from_slice(&[0, 0]);
            vrps.remove(a1_vrp);
            warnings.push(("CMS-1", a1_uri));
        }
        "aki-without-keyid" | "long-key-usage" | "bad-spki" => {
            let b_name = b.cert_uri.rsplit('/').next().unwrap_or_default().to_string();
            let der = ta.files[&b_name].clone();
            let fixed = resign_cert(w, &der, &ta.key, |tbs| match name {
                "aki-without-keyid" => *extension(tbs, &OID_AKI) = Tlv::Prim(0x04, der::sequence(&[])),
                "long-key-usage" => *extension(tbs, &OID_KEY_USAGE) = Tlv::Prim(0x04, vec![0x03, 0x04, 0x01, 0x06, 0x00, 0x00]),
                _ => *tbs.at(&[TBS_SPKI, 1]) = Tlv::Prim(0x03, vec![0x00, 0x30, 0x03, 0x02, 0x01, 0x00]),
            });
            ta.files.insert(b_name, fixed);
            vrps.remove("198.51.100.0/24-24 AS64512");
            let rule = match name {
                "aki-without-keyid" => "CERT-12",
                "long-key-usage" => "CERT-13",
                _ => "ALG-7",
            };
            warnings.push((rule, b.cert_uri.clone()));
        }
        "empty-manifest" => {
            spec_a.edit = Some(|m| m.files.clear());
            for v in point_a {
                vrps.remove(v);
            }
            aspas.clear();
            warnings.push(("MFT-20", a.mft_uri()));
        }
        "non-ascii-name" | "dotdot-name" => {
            spec_a.edit = Some(if name == "non-ascii-name" {
                |m| m.files.push(FileAndHash { file: "r\u{e9}sum\u{e9}.roa".into(), hash: [1; 32] })
            } else {
                |m| m.files.push(FileAndHash { file: "../../x.roa".into(), hash: [1; 32] })
            });
            for v in point_a {
                vrps.remove(v);
            }
            aspas.clear();
            warnings.push(("MFT-7", a.mft_uri()));
        }
        "max-length-over" | "max-length-under" | "prefix-too-long" | "asn-2-32" => {
            let econtent = match name {
                "max-length-over" => roa_econtent(&[0, 0xfb, 0xf0], &[(P24, Some(33))]),
                "max-length-under" => roa_econtent(&[0, 0xfb, 0xf0], &[(P24, Some(23))]),
                // 33 bits of an IPv4 address.
                "prefix-too-long" => roa_econtent(&[0, 0xfb, 0xf0], &[(&[7, 192, 0, 2, 0, 0x80], None)]),
                _ => roa_econtent(&[1, 0, 0, 0, 0], &[(P24, None)]),
            };
            let n = raw_roa(w, a, &econtent, "192.0.2.0/24");
            let rule = match name {
                "asn-2-32" => "ROA-3",
                "prefix-too-long" => "ROA-5",
                _ => "ROA-6",
            };
            warnings.push((rule, format!("{}{n}", a.dir)));
        }
        "as0-and-max-asn" => {
            // AS0 (RFC 6483 §4) and the largest ASN are both valid origins.
            w.roa(a, 0, &["192.0.2.0/25"], |_| {});
            w.roa(a, u32::MAX, &["192.0.2.128/25"], |_| {});
            vrps.insert("192.0.2.0/25-25 AS0".into());
            vrps.insert("192.0.2.128/25-25 AS4294967295".into());
        }
        "shared-key" => {
            // Two CAs under different parents with one key: each validates on its own (PIT-26).
            let mut c = w.child(a, "c", "AS64496, 192.0.2.0/25", |_| {});
            let key = c.key;
            let public = c.cert.public_key.clone();
            let d_dir = format!("{}d/", w.base);
            let mut d = w.child(b, "d", "AS64512, 198.51.100.0/25", |cb| {
                cb.public_key = public;
                cb.sia = rpkit_objects::cert::SiaSpec::Ca {
                    repository: d_dir.clone(),
                    manifest: format!("{d_dir}{}.mft", key.file_stem()),
                    notify: None,
                };
            });
            d.key = key;
            w.roa(&mut c, 64496, &["192.0.2.0/25"], |_| {});
            w.roa(&mut d, 64512, &["198.51.100.0/25"], |_| {});
            w.publish(&mut c, &PublishSpec::default());
            w.publish(&mut d, &PublishSpec::default());
            vrps.insert("192.0.2.0/25-25 AS64496".into());
            vrps.insert("198.51.100.0/25-25 AS64512".into());
        }
        _ => return false,
    }
    true
}

/// Changes to the published repository (after manifests are made).
pub fn after_publish(
    name: &str,
    objects: &mut BTreeMap<String, Vec<u8>>,
    a: &Ca,
    vrps: &mut BTreeSet<String>,
    aspas: &mut BTreeMap<u32, Vec<u32>>,
    warnings: &mut Vec<(&'static str, String)>,
) -> bool {
    match name {
        "withheld-crl" | "huge-manifest" => {
            if name == "withheld-crl" {
                objects.remove(&a.crl_uri());
            } else {
                // Over the object size limit, which comes before any parsing (PIT-23).
                objects.insert(a.mft_uri(), [&[0x30, 0x83, 0x50, 0x00, 0x00][..], &vec![0x04; 5 << 20]].concat());
            }
            for v in ["192.0.2.0/24-24 AS64496", "2001:db8::/32-48 AS64497"] {
                vrps.remove(v);
            }
            aspas.clear();
            warnings.push(if name == "withheld-crl" { ("MFT-13", a.crl_uri()) } else { ("MFT-20", a.mft_uri()) });
            true
        }
        _ => false,
    }
}

/// Manifest content edits are plain functions (PublishSpec stays `Clone`).
pub type ManifestEdit = fn(&mut ManifestContent);
