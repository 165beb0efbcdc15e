//! `/metrics` of every server in the Prometheus text exposition format
//! (version 0.0.4): `# HELP` and `# TYPE` per family, then its samples.

use std::fmt::{Display, Write};

/// The media type of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A metrics page being written; every name gets the page's prefix.
pub struct Metrics {
    prefix: &'static str,
    out: String,
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// A page whose metric names start with `prefix` (`rpkit_`, `rpkit_ca_`).
    pub fn new(prefix: &'static str) -> Metrics {
        Metrics { prefix, out: String::new() }
    }

    /// The head of a family: `kind` is `counter` or `gauge`.
    pub fn head(&mut self, name: &str, kind: &str, help: &str) {
        let p = self.prefix;
        let _ = writeln!(self.out, "# HELP {p}{name} {help}\n# TYPE {p}{name} {kind}");
    }

    /// One sample of the family `name`.
    pub fn value(&mut self, name: &str, labels: &[(&str, &str)], v: impl Display) {
        let p = self.prefix;
        if labels.is_empty() {
            let _ = writeln!(self.out, "{p}{name} {v}");
        } else {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
            let _ = writeln!(self.out, "{p}{name}{{{}}} {v}", l.join(","));
        }
    }

    /// A family of one unlabelled sample.
    pub fn one(&mut self, name: &str, kind: &str, help: &str, v: impl Display) {
        self.head(name, kind, help);
        self.value(name, &[], v);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaped_labels() {
        let mut m = Metrics::new("rpkit_");
        m.one("runs_total", "counter", "Validation runs started.", 3);
        m.head("vrps", "gauge", "VRPs per TA.");
        m.value("vrps", &[("ta", "a\"b\\c\nd"), ("x", "y")], 1.5);
        assert_eq!(
            m.finish(),
            "# HELP rpkit_runs_total Validation runs started.\n# TYPE rpkit_runs_total counter\nrpkit_runs_total 3\n\
             # HELP rpkit_vrps VRPs per TA.\n# TYPE rpkit_vrps gauge\nrpkit_vrps{ta=\"a\\\"b\\\\c\\nd\",x=\"y\"} 1.5\n"
        );
    }
}
