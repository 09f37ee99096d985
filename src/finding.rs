//! Findings: what the checks conclude, with evidence, cause and fix.
//!
//! Every finding has a stable `code` (documented in README.md's finding table),
//! a severity, the service and real server it concerns, evidence packets and a fix.

use crate::model::{RsId, ServiceKey};
use std::fmt;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One packet that supports a finding: capture point, 1-based frame number
/// within that point's capture (as Wireshark numbers it), and capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub point: u16,
    pub frame: u64,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
}

/// Maximum evidence packets kept per finding.
pub const MAX_EVIDENCE: usize = 8;

/// A conclusion about the load balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// The service, when the finding concerns one.
    pub service: Option<ServiceKey>,
    /// The real server, when the finding concerns one: RIP when known, else MAC.
    pub real_server: Option<RsId>,
    pub summary: String,
    /// Why this happens: the likely causes, most likely first.
    pub cause: String,
    pub evidence: Vec<Evidence>,
    /// Concrete commands or settings that fix it.
    pub fix: String,
    /// Set when another finding explains this one (it is then downgraded to info).
    pub explained_by: Option<&'static str>,
    /// A symptom (retransmits, client resets) rather than a root cause.
    pub symptom: bool,
    /// Configuration evidence: lines from a host's snapshot, each naming the
    /// host (`rs3 snapshot: net.ipv4.conf.all.arp_ignore = 0`).
    pub config: Vec<String>,
    /// Set on a traffic finding when a configuration finding on the same
    /// real server proves its cause.
    pub confirmed_by: Option<&'static str>,
    /// When the connections it is about began: first and last (ns).
    pub span: Option<(i64, i64)>,
    /// How many connections it is about (0: not counted)...
    pub affected: u64,
    /// ... out of how many to the same real server (0: not counted).
    pub out_of: u64,
    /// It rests on something not being seen (no reply, no forwarded copy,
    /// no connection): a capture point that lost packets cannot prove that.
    pub absence: bool,
    /// What the capture points that lost packets meanwhile mean for it.
    pub losses: Option<String>,
    /// Lowered one step because those losses could explain it.
    pub weakened: bool,
    /// The moment things changed (the failover, the removal, the first
    /// reset), and what happened then.
    pub moment: Option<(i64, String)>,
}

impl Finding {
    /// The service's label (`192.0.2.100:80/tcp`), when it concerns one.
    pub fn service_label(&self) -> Option<String> {
        self.service.map(|s| s.to_string())
    }
    /// The real server's label (RIP, else MAC), when it concerns one.
    pub fn rs_label(&self) -> Option<String> {
        self.real_server.map(|r| r.to_string())
    }
    pub fn new(code: &'static str, severity: Severity, summary: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            service: None,
            real_server: None,
            summary: summary.into(),
            cause: String::new(),
            evidence: Vec::new(),
            fix: String::new(),
            explained_by: None,
            symptom: false,
            config: Vec::new(),
            confirmed_by: None,
            span: None,
            affected: 0,
            out_of: 0,
            absence: false,
            losses: None,
            weakened: false,
            moment: None,
        }
    }
    /// `n` of `total` connections are affected.
    pub fn affected_of(mut self, n: u64, total: u64) -> Self {
        self.affected = n;
        self.out_of = total;
        self
    }
    /// Marks it as resting on an absence (see [`Finding::absence`]).
    pub fn absence(mut self) -> Self {
        self.absence = true;
        self
    }
    /// `n` connections are affected.
    pub fn affected(mut self, n: u64) -> Self {
        self.affected = n;
        self
    }
    /// The evidence of a tally, with the time span of all it counted.
    pub fn evidence_set(mut self, set: &EvidenceSet) -> Self {
        self.span = set.span();
        self.evidence(set.iter())
    }
    pub fn symptom(mut self) -> Self {
        self.symptom = true;
        self
    }
    pub fn service(mut self, s: ServiceKey) -> Self {
        self.service = Some(s);
        self
    }
    pub fn real_server(mut self, r: RsId) -> Self {
        self.real_server = Some(r);
        self
    }
    /// Sets the real server when it is known.
    pub fn maybe_real_server(mut self, s: Option<RsId>) -> Self {
        self.real_server = s;
        self
    }
    pub fn cause(mut self, s: impl Into<String>) -> Self {
        self.cause = s.into();
        self
    }
    pub fn fix(mut self, s: impl Into<String>) -> Self {
        self.fix = s.into();
        self
    }
    pub fn config(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.config.extend(lines);
        self
    }
    pub fn evidence(mut self, ev: impl IntoIterator<Item = Evidence>) -> Self {
        self.evidence.extend(ev);
        self.evidence.sort_by_key(|e| (e.time, e.point, e.frame));
        self.evidence.dedup();
        self.evidence.truncate(MAX_EVIDENCE);
        self
    }
}

/// Keeps up to `MAX_EVIDENCE` evidence packets, the earliest ones, and the
/// time span of all of them.
#[derive(Debug, Clone, Default)]
pub struct EvidenceSet(Vec<Evidence>, Span);

impl EvidenceSet {
    /// First and last time of everything pushed (ns).
    pub fn span(&self) -> Span {
        self.1
    }
}

type Span = Option<(i64, i64)>;

impl EvidenceSet {
    pub fn push(&mut self, e: Evidence) {
        self.1 = Some(
            self.1
                .map_or((e.time, e.time), |(a, b)| (a.min(e.time), b.max(e.time))),
        );
        if self.0.len() < MAX_EVIDENCE && !self.0.contains(&e) {
            self.0.push(e);
        }
    }
    pub fn extend(&mut self, es: impl IntoIterator<Item = Evidence>) {
        for e in es {
            self.push(e)
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = Evidence> + '_ {
        self.0.iter().copied()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
