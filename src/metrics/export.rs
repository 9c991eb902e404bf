//! The series every AuthConfig has from its first load on (checks by decision, bypassed
//! failures, connections in use, checks waiting for one; with https auth services, failed TLS
//! handshakes by reason and certificate expiries), kept as plain atomics in its
//! [`ConfigMetrics`](super::ConfigMetrics) (or read from its TLS material) and turned into
//! metric families at scrape time.
//!
//! A labelled series of the prometheus crate keeps its own copy of its family's description
//! and labels, about 700 bytes; seven per AuthConfig came to about 20 MB with 10,000
//! AuthConfigs. Here a series costs its atomic, and its labels exist only during a scrape.

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::auth_config::{ConfigFamilies, OWN_DECISIONS};
use super::{MetricsError, BYPASS_FAILURE};
use crate::tls::TlsFailure;

/// `extauth_checks_total`: shared with the check endpoint's own counters (the registry merges
/// the families of one name), so its help must be this text everywhere.
pub(super) const CHECKS: (&str, &str) = (
    "extauth_checks_total",
    "Checks answered, by AuthConfig (empty when none applied) and decision.",
);
const BYPASS_HELP: &str = "Auth service errors (5xx, timeout, connection failure) that \
                           failureModeAllow turned into an allow; Gloo's \
                           extauth.solo.io/http_passthrough_bypass_failure.";
const IN_USE: (&str, &str) = (
    "extauth_passthrough_connections_in_use",
    "Connections to the auth services of an AuthConfig carrying a call now.",
);
const WAITING: (&str, &str) = (
    "extauth_passthrough_checks_waiting_for_connection",
    "Checks waiting for a connection to an auth service of an AuthConfig \
     (connectionPool.maxConns reached).",
);

const TLS_FAILURES: (&str, &str) = (
    "extauth_passthrough_tls_handshake_failures_total",
    "Failed TLS handshakes with the https auth services of an AuthConfig, by reason \
     (unknown_ca, bad_name, expired, client_cert_required, client_cert_rejected, \
     protocol_version, other).",
);
const CERT_EXPIRY: (&str, &str) = (
    "extauth_passthrough_tls_cert_expiry_timestamp_seconds",
    "When the certificates in use for an https auth service expire: the earliest notAfter \
     of each CA bundle (caFile, or HTTPS_PASSTHROUGH_CA_CERT) and client certificate chain \
     (certFile), in seconds since the epoch.",
);

/// The collector the registry holds: it reads the AuthConfigs in force from `families`.
pub(super) struct ConfigExport {
    families: Arc<ConfigFamilies>,
    descs: Vec<Desc>,
}

impl ConfigExport {
    /// A collector over `families`; describes the families it alone exports (the checks
    /// family is described by the check endpoint's counter vector).
    pub(super) fn new(families: Arc<ConfigFamilies>) -> Result<Self, MetricsError> {
        let desc = |(name, help): (&str, &str)| {
            Desc::new(
                name.into(),
                help.into(),
                vec!["auth_config".into()],
                Default::default(),
            )
        };
        let descs = vec![
            desc((BYPASS_FAILURE, BYPASS_HELP))?,
            desc(IN_USE)?,
            desc(WAITING)?,
            desc(TLS_FAILURES)?,
            desc(CERT_EXPIRY)?,
        ];
        Ok(ConfigExport { families, descs })
    }
}

impl Collector for ConfigExport {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let configs = self.families.in_force();
        let mut checks = Vec::with_capacity(configs.len() * OWN_DECISIONS.len());
        let (mut bypass, mut in_use, mut waiting) = (vec![], vec![], vec![]);
        let (mut tls_failures, mut expiries) = (vec![], vec![]);
        for m in &configs {
            for (decision, count) in OWN_DECISIONS.iter().zip(m.decision_counts()) {
                let labels = vec![
                    label("auth_config", m.label()),
                    label("decision", decision.as_str()),
                ];
                checks.push(counter(labels, count));
            }
            let labels = || vec![label("auth_config", m.label())];
            bypass.push(counter(labels(), m.bypass_count()));
            in_use.push(gauge(labels(), m.in_use_now()));
            waiting.push(gauge(labels(), m.waiting_now()));
            let Some(tls) = m.tls_now() else {
                continue;
            };
            for (reason, count) in TlsFailure::ALL.iter().zip(tls.failures) {
                let labels = vec![
                    label("auth_config", m.label()),
                    label("reason", reason.as_str()),
                ];
                tls_failures.push(counter(labels, count));
            }
            for (step, e) in tls.expiries {
                let labels = vec![
                    label("auth_config", m.label()),
                    label("kind", e.kind.as_str()),
                    label("source", &e.source),
                    label("step", &step),
                ];
                expiries.push(gauge(labels, e.not_after));
            }
        }
        vec![
            family(CHECKS, MetricType::COUNTER, checks),
            family((BYPASS_FAILURE, BYPASS_HELP), MetricType::COUNTER, bypass),
            family(IN_USE, MetricType::GAUGE, in_use),
            family(WAITING, MetricType::GAUGE, waiting),
            family(TLS_FAILURES, MetricType::COUNTER, tls_failures),
            family(CERT_EXPIRY, MetricType::GAUGE, expiries),
        ]
    }
}

/// A label pair of a series built at scrape time.
pub(super) fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.into());
    pair.set_value(value.into());
    pair
}

/// A counter series with `labels`.
pub(super) fn counter(labels: Vec<LabelPair>, value: u64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value as f64);
    let mut m = Metric::from_label(labels);
    m.set_counter(c);
    m
}

/// A gauge series with `labels`.
pub(super) fn gauge(labels: Vec<LabelPair>, value: i64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value as f64);
    let mut m = Metric::from_label(labels);
    m.set_gauge(g);
    m
}

/// A family of `kind` named and described by `(name, help)`.
pub(super) fn family(
    (name, help): (&str, &str),
    kind: MetricType,
    metrics: Vec<Metric>,
) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.into());
    f.set_help(help.into());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}
