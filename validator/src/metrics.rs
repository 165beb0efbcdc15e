//! `/metrics` of the validator daemon in the Prometheus text format:
//! payloads per TA, objects, run durations, fetch results per repository,
//! RTR routers and their serials.

use crate::serve::Shared;
use rpkit_serve::metrics::Metrics;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

pub fn render(s: &Shared) -> String {
    let mut o = Metrics::new("rpkit_");
    let status = s.status.lock().unwrap_or_else(|e| e.into_inner());
    o.one("runs_total", "counter", "Validation runs started.", status.runs);
    o.one("runs_failed_total", "counter", "Validation runs that failed (the previous data stays served).", status.failed_runs);
    if let Some(last) = &status.last {
        o.one("last_run_success", "gauge", "1 when the last run succeeded.", u8::from(last.ok));
        o.one("last_run_duration_seconds", "gauge", "Duration of the last run.", last.seconds);
    }
    drop(status);
    let data = s.current();
    o.one("data_ready", "gauge", "1 once a run has completed.", u8::from(data.is_some()));
    if let Some(d) = &data {
        o.one("data_age_seconds", "gauge", "Seconds since the served data was produced.", d.completed.elapsed().as_secs());
        o.one("served_run_duration_seconds", "gauge", "Duration of the run whose data is served.", d.run_secs);
        o.one("rtr_serial", "gauge", "Current RTR serial.", d.serial);
        let r = &d.report;
        let mut per_ta: BTreeMap<&str, usize> = r.tals.iter().map(|t| (t.as_str(), 0)).collect();
        for v in &r.vrps {
            *per_ta.entry(&*v.ta).or_insert(0) += 1;
        }
        o.head("vrps", "gauge", "Validated ROA payloads per trust anchor (after SLURM).");
        for (ta, n) in per_ta {
            o.value("vrps", &[("ta", ta)], n);
        }
        o.one("aspas", "gauge", "Validated ASPA payloads (one per customer).", r.aspas.len());
        o.one("router_keys", "gauge", "Validated BGPsec router keys.", r.router_keys.len());
        o.one("warnings", "gauge", "Problems found by the run.", r.warnings.len());
        let c = &r.counts;
        o.head("objects", "gauge", "Objects met by the run, by type and state.");
        for (t, state, n) in [
            ("certificate", "valid", c.certificates),
            ("certificate", "invalid", c.invalid_certificates),
            ("manifest", "valid", c.manifests),
            ("manifest", "failed", c.failed_manifests),
            ("crl", "valid", c.crls),
            ("roa", "valid", c.roas),
            ("roa", "invalid", c.invalid_roas),
            ("aspa", "valid", c.aspas),
            ("aspa", "invalid", c.invalid_aspas),
            ("router_certificate", "valid", c.router_certificates),
        ] {
            o.value("objects", &[("type", t), ("state", state)], n);
        }
        o.head("repository_fetch_ok", "gauge", "1 when the repository's last fetch succeeded.");
        for f in &d.repositories {
            o.value("repository_fetch_ok", &[("uri", &f.uri), ("method", f.method)], u8::from(f.ok));
        }
        o.head("repository_fetch_seconds", "gauge", "Duration of the repository's last fetch.");
        for f in &d.repositories {
            o.value("repository_fetch_seconds", &[("uri", &f.uri), ("method", f.method)], f.millis as f64 / 1000.0);
        }
        let failed = d.repositories.iter().filter(|f| !f.ok).count();
        o.one("repository_fetch_failures", "gauge", "Repositories whose last fetch failed.", failed);
    }
    let c = &s.clients;
    o.one("rtr_clients", "gauge", "Routers connected over RTR.", c.connected.load(Ordering::Relaxed));
    o.one("rtr_connections_total", "counter", "RTR connections accepted.", c.accepted.load(Ordering::Relaxed));
    o.one("rtr_refused_total", "counter", "RTR connections refused (too many routers).", c.refused.load(Ordering::Relaxed));
    o.one("rtr_errors_sent_total", "counter", "RTR Error Reports sent.", c.errors_sent.load(Ordering::Relaxed));
    o.head("rtr_client_serial", "gauge", "Serial of the last End of Data sent to each router.");
    for info in c.table.lock().unwrap_or_else(|e| e.into_inner()).values() {
        if let (Some(v), Some(serial)) = (info.version, info.serial) {
            o.value("rtr_client_serial", &[("peer", &info.peer.to_string()), ("version", &v.to_string())], serial);
        }
    }
    o.finish()
}
