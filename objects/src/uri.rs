//! rsync URIs that are safe to map onto a file system and to hand to rsync: one
//! rule used wherever a URI becomes a path or an argument (RSYNC-3, PIT-14,
//! PIT-30): a DNS name or IPv4 host with an optional port, no userinfo, not
//! starting with `-`; segments of `[A-Za-z0-9._+~=-]` that are neither `.` nor
//! `..` nor empty (a leading `-` is common in base64url names, and rsync gets
//! URIs after `--`); no percent-escapes, backslashes or controls; bounded length.

/// The part after `rsync://` (`HOST/MODULE/path`) if every part is safe.
pub fn rsync_safe(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("rsync://")?;
    if uri.len() > crate::limits::MAX_URI_LEN {
        return None;
    }
    let mut parts = rest.split('/');
    let host = parts.next()?;
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let host_ok = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let segment_ok =
        |s: &str| !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+~=-".contains(&b));
    (host_ok && parts.all(segment_ok)).then_some(rest)
}

/// `rsync://HOST/MODULE/` of a safe rsync URI: the unit rsync fetches.
pub fn rsync_module(uri: &str) -> Option<String> {
    let rest = rsync_safe(uri.strip_suffix('/').unwrap_or(uri))?;
    let mut parts = rest.splitn(3, '/');
    let (host, module) = (parts.next()?, parts.next()?);
    Some(format!("rsync://{host}/{module}/"))
}

#[cfg(test)]
mod tests {
    use super::{rsync_module, rsync_safe};

    /// RSYNC-3, PIT-14: each of these is refused before any path or argument is made.
    #[test]
    fn rsync_3_unsafe_uris_are_refused() {
        assert_eq!(rsync_safe("rsync://h/m/a.roa"), Some("h/m/a.roa"));
        assert_eq!(rsync_safe("rsync://h/m/-hs7hfnpZ9rg.crl"), Some("h/m/-hs7hfnpZ9rg.crl"));
        assert_eq!(rsync_safe("rsync://rpki.test:873/repo/x_y-z~1=+.cer"), Some("rpki.test:873/repo/x_y-z~1=+.cer"));
        for bad in [
            "https://h/m/a",
            "rsync://h/m/../x",
            "rsync://h/../m/x",
            "rsync://h/m/../../etc",
            "rsync://h//x",
            "rsync://h/m/./x",
            "rsync://h/m/a b",
            "rsync://h/m/a\\..\\x",
            "rsync://h/m/a/%2e%2e/x",
            "rsync://h/m/a\0b",
            "rsync://h/m/\u{e1}",
            "rsync://-e sh/x",
            "rsync://-esh/x",
            "rsync://user@h/m",
            "rsync://h:x/m",
            "rsync:///m/x",
        ] {
            assert_eq!(rsync_safe(bad), None, "{bad:?}");
        }
        let long = format!("rsync://h/m/{}", "a".repeat(3000));
        assert_eq!(rsync_safe(&long), None);
    }

    #[test]
    fn module_of_a_uri() {
        assert_eq!(rsync_module("rsync://h/repo/ca/x.mft").as_deref(), Some("rsync://h/repo/"));
        assert_eq!(rsync_module("rsync://h/repo/").as_deref(), Some("rsync://h/repo/"));
        assert_eq!(rsync_module("rsync://h/../x"), None);
    }
}
