//! X.501 Names as RFC 6487 §4.4/§4.5 profiles them (CERT-3): one CommonName and at
//! most one serialNumber, nothing else.

use crate::der::{self, Reader, Tag};
use crate::error::{reject, Error, Result};
use crate::oid;

/// A decoded Name, keeping its encoding for byte-exact chaining (CERT-5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    pub der: Vec<u8>,
    pub common_name: String,
    pub serial_number: Option<String>,
}

impl Name {
    /// A Name with a PrintableString CN (and serialNumber) in one RDN.
    pub fn new(common_name: &str, serial_number: Option<&str>) -> Result<Self> {
        for s in std::iter::once(common_name).chain(serial_number) {
            if s.is_empty() || !s.bytes().all(is_printable) {
                return reject("CERT-3", format!("'{s}' is not a PrintableString"));
            }
        }
        let mut attrs = vec![der::sequence(&[&der::oid(oid::AT_COMMON_NAME.0), &der::printable_string(common_name)])];
        if let Some(sn) = serial_number {
            attrs.push(der::sequence(&[&der::oid(oid::AT_SERIAL_NUMBER.0), &der::printable_string(sn)]));
        }
        let der = der::sequence(&[&der::set_of(attrs)]);
        Ok(Name { der, common_name: common_name.to_string(), serial_number: serial_number.map(str::to_string) })
    }

    /// Decode and profile-check a Name TLV: CN and serialNumber only, both
    /// PrintableString (CERT-3). UTF8String is accepted with a warning, as
    /// rpki-client does: Krill, rpki-client's own test objects and router
    /// certificates in the field use it.
    pub fn decode(raw: &[u8], warnings: &mut Vec<Error>) -> Result<Self> {
        let mut outer = Reader::new(raw);
        let mut rdns = outer.sequence("Name")?;
        outer.finish()?;
        let (mut cn, mut sn) = (None, None);
        while !rdns.is_empty() {
            let mut rdn = rdns.nested(Tag::SET, "RelativeDistinguishedName")?;
            if rdn.is_empty() {
                return reject("CERT-3", "empty RDN");
            }
            while !rdn.is_empty() {
                let mut atv = rdn.sequence("AttributeTypeAndValue")?;
                let ty = atv.oid("attribute type")?;
                let v = atv.any()?;
                atv.finish()?;
                let slot = if ty == oid::AT_COMMON_NAME {
                    &mut cn
                } else if ty == oid::AT_SERIAL_NUMBER {
                    &mut sn
                } else {
                    return reject("CERT-3", format!("name attribute {} is not allowed", oid::describe(&ty)));
                };
                if slot.is_some() {
                    return reject("CERT-3", "name attribute repeated");
                }
                if v.tag == Tag::UTF8_STRING {
                    warnings.push(Error::new("CERT-3", "name uses UTF8String instead of PrintableString"));
                }
                *slot = Some(string_value(v.tag, v.value)?);
            }
        }
        let common_name = cn.ok_or_else(|| Error::new("CERT-3", "name without CommonName"))?;
        Ok(Name { der: raw.to_vec(), common_name, serial_number: sn })
    }
}

fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

fn string_value(tag: Tag, v: &[u8]) -> Result<String> {
    match tag {
        Tag::PRINTABLE_STRING => {
            if !v.iter().all(|b| is_printable(*b)) {
                return reject("CERT-3", "invalid character in PrintableString");
            }
        }
        Tag::UTF8_STRING => {}
        t => return reject("CERT-3", format!("name value of type {t} is not allowed")),
    }
    let s = std::str::from_utf8(v).map_err(|_| Error::new("CERT-3", "name is not valid UTF-8"))?;
    if s.chars().any(char::is_control) {
        return reject("CERT-3", "control character in name");
    }
    Ok(s.to_string())
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CN={}", self.common_name)?;
        if let Some(sn) = &self.serial_number {
            write!(f, ", serialNumber={sn}")?;
        }
        Ok(())
    }
}
