//! rsync URIs that are safe to map onto a file system: one rule used wherever a
//! URI becomes a path (CHECKLIST 7.3: no `..`, empty or `.` segments, no
//! backslashes, controls or non-ASCII; bounded length).

/// The part after `rsync://` (`HOST/MODULE/path`) if every segment is safe.
pub fn rsync_safe(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("rsync://")?;
    let ok = uri.len() <= crate::cert::MAX_URI_LEN
        && rest.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'));
    ok.then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::rsync_safe;

    #[test]
    fn unsafe_uris_are_refused() {
        assert_eq!(rsync_safe("rsync://h/m/a.roa"), Some("h/m/a.roa"));
        for bad in [
            "https://h/m/a",
            "rsync://h/m/../x",
            "rsync://h//x",
            "rsync://h/m/./x",
            "rsync://h/m/a b",
            "rsync://h/m/a\\b",
            "rsync://h/m/\u{e1}",
        ] {
            assert_eq!(rsync_safe(bad), None, "{bad}");
        }
    }
}
