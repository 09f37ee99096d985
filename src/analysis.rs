//! What an analysis concludes: the result types the engine produces and
//! the reports and the TUI read (per service and real server counts,
//! verdicts, findings, ARP claims, capture points).

use crate::decode::Mac;
use crate::finding::{Evidence, Finding};
use crate::flow::ladder::FlowRow;
use crate::flow::table::TableStats;
use crate::model::{Mode, RsId, Service, ServiceKey};
use crate::source::PointInfo;
use std::net::IpAddr;

/// Counts per service or per real server.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub connections: u64,
    pub established: u64,
    pub failed: u64,
    pub syn_retransmits: u64,
    pub resets: u64,
    /// Connections answered by an ICMP error (port unreachable, …).
    pub icmp_errors: u64,
    /// Sum and count of handshake round trips (first SYN to SYN-ACK at one point).
    pub rtt_total_ns: i64,
    pub rtt_count: u64,
    /// Connections never established and not reset (no answer, an ICMP
    /// error, or still unanswered when the capture ended): with `resets`,
    /// what makes each connection's outcome one of three.
    pub unanswered: u64,
    /// Handshake round trips per bucket of [`HANDSHAKE_BUCKETS`] (the last
    /// counts those above every bound).
    pub handshake: [u64; HANDSHAKE_BUCKETS.len() + 1],
}

/// Upper bounds (seconds) of the handshake histogram: sub-millisecond LAN
/// answers up to the 1 s, 3 s and 7 s of SYN retransmissions.
pub const HANDSHAKE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.connections += o.connections;
        self.established += o.established;
        self.failed += o.failed;
        self.syn_retransmits += o.syn_retransmits;
        self.resets += o.resets;
        self.icmp_errors += o.icmp_errors;
        self.rtt_total_ns = self.rtt_total_ns.saturating_add(o.rtt_total_ns);
        self.rtt_count += o.rtt_count;
        self.unanswered += o.unanswered;
        for (a, b) in self.handshake.iter_mut().zip(o.handshake) {
            *a += b;
        }
    }

    /// Counts one handshake round trip in the histogram.
    pub fn observe_handshake(&mut self, ns: i64) {
        let secs = ns as f64 / 1e9;
        let i = HANDSHAKE_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(HANDSHAKE_BUCKETS.len());
        self.handshake[i] += 1;
    }

    /// Each connection's outcome, exclusive: (established, failed, reset).
    /// A reset ends a connection whether it was established or not.
    pub fn outcomes(&self) -> (u64, u64, u64) {
        let reset = self.resets;
        let failed = self.unanswered;
        (
            self.connections.saturating_sub(reset + failed),
            failed,
            reset,
        )
    }

    /// Mean handshake round trip in milliseconds.
    pub fn rtt_ms(&self) -> Option<f64> {
        (self.rtt_count > 0).then(|| self.rtt_total_ns as f64 / self.rtt_count as f64 / 1e6)
    }
}

/// A real server as reported.
#[derive(Debug, Clone)]
pub struct RsReport {
    pub service: ServiceKey,
    pub ip: Option<IpAddr>,
    pub mac: Option<Mac>,
    pub port: Option<u16>,
    pub mode: Option<Mode>,
    pub weight: Option<i64>,
    pub stats: Stats,
}

impl RsReport {
    /// How findings name it: its RIP, else its MAC.
    pub fn id(&self) -> Option<RsId> {
        self.ip.map(RsId::Ip).or(self.mac.map(RsId::Mac))
    }
}

/// A service as reported, with where its definition came from.
#[derive(Debug, Clone)]
pub struct SvcReport {
    pub service: Service,
    pub stats: Stats,
    /// What was seen of it, in a word, and why.
    pub verdict: Verdict,
    pub verdict_why: String,
}

/// A service's verdict says what the captures showed, never more: a service
/// none of whose connections was seen to complete is never healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Errors, or connections that never complete with the evidence why.
    Failing,
    /// Warnings.
    Degraded,
    /// Connections complete, no finding above info.
    Healthy,
    /// Connections were attempted and none was seen to complete, yet no
    /// capture point shows where they fail (or the points that would lost
    /// packets): the captures cannot tell.
    Unknown,
    /// No connection to it was seen.
    Idle,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Failing => "failing",
            Verdict::Degraded => "degraded",
            Verdict::Healthy => "healthy",
            Verdict::Unknown => "unknown",
            Verdict::Idle => "no-connections",
        }
    }
}

/// The verdict of one service from its counts and its findings; `lossy`
/// names the capture points that lost packets.
pub(crate) fn verdict(
    key: ServiceKey,
    st: &Stats,
    findings: &[Finding],
    lossy: &[String],
) -> (Verdict, String) {
    use crate::finding::Severity;
    let mine = || findings.iter().filter(|f| f.service == Some(key));
    let errors = mine().filter(|f| f.severity == Severity::Error).count();
    let warnings = mine().filter(|f| f.severity == Severity::Warning).count();
    let proven = mine()
        .filter(|f| f.severity >= Severity::Warning && !f.weakened)
        .count();
    let drops = if lossy.is_empty() {
        String::new()
    } else {
        format!(
            "; {} lost packets, so what is missing there is not proof",
            lossy.join(", ")
        )
    };
    if errors > 0 {
        return (Verdict::Failing, format!("{errors} error(s)"));
    }
    if st.connections == 0 {
        return (Verdict::Idle, "no connections seen".into());
    }
    if st.established == 0 {
        return if proven > 0 {
            (
                Verdict::Failing,
                format!(
                    "none of {} connection(s) completed; see the findings",
                    st.connections
                ),
            )
        } else {
            (
                Verdict::Unknown,
                format!(
                    "none of {} connection attempt(s) was seen to complete, and no capture point shows where they fail{drops}; capture where the replies pass (the client, the gateway, the real servers)",
                    st.connections
                ),
            )
        };
    }
    if warnings > 0 {
        return (Verdict::Degraded, format!("{warnings} warning(s){drops}"));
    }
    // A service with failed connections is never healthy, even when no
    // capture point shows which real server they went to.
    if st.failed > 0 {
        return (
            Verdict::Degraded,
            format!(
                "{} of {} connection(s) failed, and no capture point shows which real server they went to{drops}",
                st.failed, st.connections
            ),
        );
    }
    (
        Verdict::Healthy,
        if lossy.is_empty() {
            "healthy".into()
        } else {
            format!("healthy as far as seen{drops}")
        },
    )
}

/// Who claimed a VIP by ARP / neighbour discovery.
#[derive(Debug, Clone)]
pub struct ArpRow {
    pub ip: IpAddr,
    pub mac: Mac,
    pub first: Evidence,
    pub last: Evidence,
    pub count: u32,
    pub gratuitous: u32,
    pub replies: u32,
    /// The latest claim is this MAC's.
    pub current: bool,
    pub director: bool,
    pub real_server: bool,
}

/// A new [`Overview::id`].
pub fn next_overview_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The analysis so far plus what the live views show.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Distinct for every overview built (views cache what they derive from it).
    pub id: u64,
    pub analysis: Analysis,
    /// Kept connections, oldest first: every failed or anomalous one (the
    /// newest [`crate::flow::kept::MAX_NOTABLE`]) and the newest healthy ones,
    /// finished or live.
    pub flows: Vec<FlowRow>,
    /// Failed or anomalous connections beyond the cap, not in `flows`.
    pub flows_not_kept: u64,
    pub arp: Vec<ArpRow>,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub points: Vec<PointInfo>,
    pub services: Vec<SvcReport>,
    pub real_servers: Vec<RsReport>,
    pub findings: Vec<Finding>,
    /// What the captures can and cannot show.
    pub notes: Vec<String>,
    pub packets: u64,
    pub flows: TableStats,
    /// The configuration snapshots used: host name and the capture points
    /// of that host (named `<host>` or `<host>-<iface>`).
    pub snapshots: Vec<(String, Vec<String>)>,
    /// VRRP on the wire: each virtual router's advertisers and master timeline.
    pub vrrp: crate::flow::vrrp::VrrpTable,
    /// The keepalived configurations the model was given (for the views).
    pub keepalived: Vec<crate::model::keepalived::Config>,
    /// What happened over time, in order (bounded).
    pub events: Vec<crate::timeline::Event>,
    /// Per real server new connections and failures over time.
    pub timeline: Vec<crate::timeline::RsSeries>,
}
