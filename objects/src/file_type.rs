//! The types of file an RPKI repository holds, named by their extension (RFC
//! 6481 §2 and IANA's "RPKI Repository Name Schemes"; MFT-7). One list for the
//! CA naming what it publishes, the publication server serving it and the
//! validator dispatching on it.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileType {
    /// `.cer`: a CA, BGPsec router or TA certificate (RFC 6487, RFC 8209).
    Certificate,
    /// `.crl` (RFC 6487 §5).
    Crl,
    /// `.mft` (RFC 9286).
    Manifest,
    /// `.roa` (RFC 9582).
    Roa,
    /// `.asa`: ASPA (draft-ietf-sidrops-aspa-profile).
    Aspa,
    /// `.gbr`: Ghostbusters record (RFC 6493).
    Ghostbusters,
    /// `.sig`: RPKI signed checklist (RFC 9323).
    SignedChecklist,
    /// `.tak`: trust anchor key (RFC 9691).
    TrustAnchorKey,
    /// `.spl`: signed prefix list (draft-ietf-sidrops-rpki-prefixlist).
    SignedPrefixList,
}

impl FileType {
    pub const ALL: [FileType; 9] = [
        FileType::Certificate,
        FileType::Crl,
        FileType::Manifest,
        FileType::Roa,
        FileType::Aspa,
        FileType::Ghostbusters,
        FileType::SignedChecklist,
        FileType::TrustAnchorKey,
        FileType::SignedPrefixList,
    ];

    /// The registered extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Certificate => "cer",
            FileType::Crl => "crl",
            FileType::Manifest => "mft",
            FileType::Roa => "roa",
            FileType::Aspa => "asa",
            FileType::Ghostbusters => "gbr",
            FileType::SignedChecklist => "sig",
            FileType::TrustAnchorKey => "tak",
            FileType::SignedPrefixList => "spl",
        }
    }

    /// The type of a registered extension.
    pub fn from_extension(ext: &str) -> Option<FileType> {
        FileType::ALL.into_iter().find(|t| t.extension() == ext)
    }

    /// The type a file name (or URI) announces by its extension.
    pub fn of_name(name: &str) -> Option<FileType> {
        FileType::from_extension(name.rsplit_once('.')?.1)
    }

    /// `STEM.EXT`.
    pub fn file_name(self, stem: &str) -> String {
        format!("{stem}.{}", self.extension())
    }

    /// The media type an HTTP server gives the file: RFC 2585's for
    /// certificates (a TAL's https URI names one, RFC 8630 §2.2), else octets.
    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Certificate => "application/pkix-cert",
            _ => "application/octet-stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mft_7_extensions_and_names_map_both_ways() {
        for t in FileType::ALL {
            assert_eq!(FileType::from_extension(t.extension()), Some(t));
            assert_eq!(FileType::of_name(&t.file_name("rsync://h/m/ab-CD_1")), Some(t));
        }
        assert_eq!(FileType::of_name("x.ROA"), None);
        assert_eq!(FileType::of_name("roa"), None);
        assert_eq!(FileType::of_name("x.txt"), None);
    }
}
