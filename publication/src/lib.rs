//! Publication server: RFC 8181, RRDP and the rsync tree.
