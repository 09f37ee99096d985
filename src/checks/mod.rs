//! Checks: each file is one check with one stable finding code (documented in
//! README.md's finding table). A check sees every finished flow
//! ([`FlowView`]) and concludes at the end of input from what it tallied and
//! from what the whole capture taught about hosts ([`Context`]).

pub mod config_view;
mod dr_forward_rewrites_ip;
mod dr_reply_via_director;
mod dr_rs_gateway_director;
mod dr_rs_no_reply;
mod handshake_reset;
mod ipvs_dest_unseen;
pub mod losses;
mod nat_reply_bypasses_director;
mod nat_rs_gateway_not_director;
mod nat_rs_no_reply;
mod rp_filter_drops_asymmetric;
mod rs_arp_announce;
mod rs_arp_ignore;
pub mod rs_firewall_drops;
mod rs_no_listener;
mod rs_vip_not_on_loopback;
mod syn_retransmit;
mod traffic_to_unknown_rs;
mod tun_rs_no_reply;
mod vip_arp_failover;
mod vip_arp_multiple_owners;
mod vip_traffic_bypasses_director;
mod weight_zero_receiving;

use crate::decode::{fmt_mac, Mac};
use crate::finding::{Evidence, EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{service_label, Model, Proto};
use crate::source::PointInfo;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub trait Check: CheckClone + Send {
    /// Sees one finished flow.
    fn on_flow(&mut self, _v: &FlowView<'_>, _hosts: &HostMap) {}
    /// Concludes at the end of input.
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>);
}

/// Lets the engine be cloned (a live view concludes a copy of it while the
/// original goes on).
pub trait CheckClone {
    fn clone_box(&self) -> Box<dyn Check>;
}

impl<T: Check + Clone + 'static> CheckClone for T {
    fn clone_box(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Check> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// What checks know when they conclude.
pub struct Context<'a> {
    pub model: &'a Model,
    pub hosts: &'a HostMap,
    pub points: &'a [PointInfo],
    /// Host configuration snapshots (may be empty).
    pub snapshots: &'a [crate::system::HostSnapshot],
}

impl Context<'_> {
    /// The address of a real server: its RIP, else its MAC.
    pub fn rs_label(&self, key: RsKey) -> String {
        match key {
            RsKey::Ip(ip) => ip.to_string(),
            RsKey::Mac(m) => self
                .mac_ip(m)
                .map_or_else(|| fmt_mac(&m), |ip| ip.to_string()),
            RsKey::Unseen => "a real server not visible in these captures".into(),
        }
    }

    /// How to name a real server of service `vip` in a summary, and the
    /// `real_server` field: none when the captures do not show which it was.
    pub fn who(&self, vip: IpAddr, key: RsKey) -> (String, Option<String>) {
        match key {
            RsKey::Unseen => (
                format!("{vip} (real server not visible in these captures)"),
                None,
            ),
            k => {
                let l = self.rs_label(k);
                (l.clone(), Some(l))
            }
        }
    }

    /// The host address a MAC claims (never a VIP), preferring configured RIPs.
    pub fn mac_ip(&self, m: Mac) -> Option<IpAddr> {
        self.hosts.ip_of(
            m,
            |ip| self.model.is_vip(ip),
            |ip| self.model.real_server(ip).is_some(),
        )
    }

    pub fn service(&self, vip: IpAddr, port: u16) -> String {
        service_label(vip, Some(port), Proto::Tcp)
    }

    /// `02:00:00:00:0d:00 (192.0.2.2, director)`: a MAC with what we know of it.
    pub fn describe_mac(&self, m: Mac) -> String {
        let mut parts = Vec::new();
        if let Some(ip) = self.mac_ip(m) {
            parts.push(ip.to_string());
        }
        if self.hosts.is_director(m) {
            parts.push("director".into());
        }
        if parts.is_empty() {
            fmt_mac(&m)
        } else {
            format!("{} ({})", fmt_mac(&m), parts.join(", "))
        }
    }
}

/// A count with its first evidence packets.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub flows: u64,
    pub evidence: EvidenceSet,
}

/// Per (VIP, port, real server) tallies, bounded.
#[derive(Debug, Default, Clone)]
pub struct PerRs(BTreeMap<(IpAddr, u16, RsKey), Tally>);

const MAX_PER_RS: usize = 4096;

impl PerRs {
    pub fn add(&mut self, v: &FlowView<'_>, rs: RsKey, ev: impl IntoIterator<Item = Evidence>) {
        let k = (v.vip, v.vport, rs);
        if self.0.len() >= MAX_PER_RS && !self.0.contains_key(&k) {
            return;
        }
        let t = self.0.entry(k).or_default();
        t.flows += 1;
        t.evidence.extend(ev);
    }
    pub fn iter(&self) -> impl Iterator<Item = (&(IpAddr, u16, RsKey), &Tally)> {
        self.0.iter()
    }
    pub fn flows(&self, k: &(IpAddr, u16, RsKey)) -> u64 {
        self.0.get(k).map_or(0, |t| t.flows)
    }
}

/// Connections forwarded in one mode that failed with no answer at all,
/// out of all forwarded to the same real server: the tally behind the
/// `*-rs-no-reply` checks.
#[derive(Debug, Default, Clone)]
pub struct Unanswered {
    failed: PerRs,
    total: PerRs,
}

impl Unanswered {
    /// Counts a flow forwarded in `mode`; `unanswered` says it failed unanswered.
    pub fn observe(
        &mut self,
        v: &FlowView<'_>,
        mode: crate::model::Mode,
        unanswered: impl Fn(&FlowView<'_>) -> bool,
    ) {
        let (Some(m), Some(rs), Some(fwd)) = (v.mode, v.rs, v.forward) else {
            return;
        };
        if m != mode {
            return;
        }
        self.total.add(v, rs, []);
        if v.failed && unanswered(v) {
            // The forwarded SYN as each point saw it (director and real server).
            let copies =
                v.flow.syns.iter().filter(|c| {
                    c.dst_mac == fwd.dst_mac && c.dst == fwd.dst && c.outer == fwd.outer
                });
            self.failed.add(v, rs, copies.map(|c| c.at));
        }
    }

    /// Each (VIP, port, real server) with failures: the tally and the total.
    pub fn each(&self) -> impl Iterator<Item = (IpAddr, u16, RsKey, &Tally, u64)> {
        self.failed
            .iter()
            .map(|(k, t)| (k.0, k.1, k.2, t, self.total.flows(k).max(t.flows)))
    }
}

/// Every check, in report order.
pub fn all() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(vip_arp_multiple_owners::VipArpMultipleOwners),
        Box::new(vip_arp_failover::VipArpFailover),
        Box::new(vip_traffic_bypasses_director::VipTrafficBypassesDirector::default()),
        Box::new(dr_rs_no_reply::DrRsNoReply::default()),
        Box::new(dr_reply_via_director::DrReplyViaDirector::default()),
        Box::new(dr_forward_rewrites_ip::DrForwardRewritesIp::default()),
        Box::new(nat_reply_bypasses_director::NatReplyBypassesDirector::default()),
        Box::new(nat_rs_no_reply::NatRsNoReply::default()),
        Box::new(tun_rs_no_reply::TunRsNoReply::default()),
        Box::new(handshake_reset::HandshakeReset::default()),
        Box::new(syn_retransmit::SynRetransmit::default()),
        // Configuration (snapshots), alone and joined with the traffic.
        Box::new(rs_vip_not_on_loopback::RsVipNotOnLoopback),
        Box::new(rs_arp_ignore::RsArpIgnore),
        Box::new(rs_arp_announce::RsArpAnnounce),
        Box::new(rp_filter_drops_asymmetric::RpFilterDropsAsymmetric::default()),
        Box::new(nat_rs_gateway_not_director::NatRsGatewayNotDirector::default()),
        Box::new(dr_rs_gateway_director::DrRsGatewayDirector::default()),
        Box::new(ipvs_dest_unseen::IpvsDestUnseen::default()),
        Box::new(traffic_to_unknown_rs::TrafficToUnknownRs::default()),
        Box::new(weight_zero_receiving::WeightZeroReceiving::default()),
        Box::new(rs_no_listener::RsNoListener),
        Box::new(rs_firewall_drops::RsFirewallDrops),
    ]
}

/// Which configuration findings prove the cause of which traffic findings.
const PROOFS: &[(&str, &[&str])] = &[
    (
        "dr-rs-no-reply",
        &[
            "rs-vip-not-on-loopback",
            "rp-filter-drops-asymmetric",
            "rs-firewall-drops",
        ],
    ),
    (
        "tun-rs-no-reply",
        &["rp-filter-drops-asymmetric", "rs-firewall-drops"],
    ),
    (
        "nat-reply-bypasses-director",
        &["nat-rs-gateway-not-director"],
    ),
    (
        "nat-rs-no-reply",
        &["nat-rs-gateway-not-director", "rs-firewall-drops"],
    ),
    ("handshake-reset", &["rs-no-listener"]),
    ("dr-reply-via-director", &["dr-rs-gateway-director"]),
    (
        "vip-arp-multiple-owners",
        &["rs-vip-not-on-loopback", "rs-arp-ignore"],
    ),
    (
        "vip-traffic-bypasses-director",
        &["rs-vip-not-on-loopback", "rs-arp-ignore"],
    ),
];

/// Joins traffic and configuration: a traffic finding whose real server has
/// a configuration finding that explains it gets that configuration as
/// evidence, its cause stated as established (not as a list of guesses) and
/// that finding's precise fix.
pub fn confirm(findings: &mut [Finding]) {
    let proofs: Vec<Finding> = findings
        .iter()
        .filter(|f| !f.config.is_empty() && f.real_server.is_some())
        .cloned()
        .collect();
    for f in findings.iter_mut() {
        let Some((_, codes)) = PROOFS.iter().find(|(c, _)| *c == f.code) else {
            continue;
        };
        let found = proofs.iter().find(|p| {
            codes.contains(&p.code)
                && p.real_server == f.real_server
                && (p.service.is_none() || p.service == f.service)
        });
        if let Some(p) = found {
            f.confirmed_by = Some(p.code);
            f.cause = format!("Established from the configuration: {}.", p.summary);
            f.config.extend(p.config.iter().cloned());
            f.fix.clone_from(&p.fix);
        }
    }
}

/// Codes of symptoms that a root cause on the same real server explains.
const SYMPTOMS: &[&str] = &["syn-retransmit", "handshake-reset"];

/// Downgrades symptom findings to info where a root-cause finding (warning or
/// above) names the same service and real server, and says which explains it.
pub fn explain(findings: &mut [Finding]) {
    let mut causes: Vec<(Option<String>, Option<String>, &'static str)> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning && !f.symptom)
        .map(|f| (f.service.clone(), f.real_server.clone(), f.code))
        .collect();
    // The most direct cause first: a real server that does not answer, then
    // a broken return path, then the rest.
    let rank = |c: &str| match c {
        "dr-rs-no-reply" | "nat-rs-no-reply" | "tun-rs-no-reply" => 0,
        "nat-reply-bypasses-director" | "dr-reply-via-director" => 1,
        _ => 2,
    };
    causes.sort_by_key(|(_, _, c)| rank(c));
    for f in findings.iter_mut() {
        if !f.symptom || !SYMPTOMS.contains(&f.code) || f.real_server.is_none() {
            continue;
        }
        if let Some((_, _, code)) = causes.iter().find(|(s, r, c)| {
            *c != f.code && *r == f.real_server && (s.is_none() || *s == f.service)
        }) {
            f.severity = Severity::Info;
            f.explained_by = Some(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(code: &'static str, sev: Severity, rs: &str, symptom: bool) -> Finding {
        let f = Finding::new(code, sev, "x")
            .service("192.0.2.100:80/tcp")
            .real_server(rs);
        if symptom {
            f.symptom()
        } else {
            f
        }
    }

    #[test]
    fn symptoms_are_explained_only_by_a_cause_on_the_same_real_server() {
        let mut v = vec![
            f("dr-rs-no-reply", Severity::Error, "192.0.2.13", false),
            f(
                "vip-arp-multiple-owners",
                Severity::Error,
                "192.0.2.13",
                false,
            ),
            f("syn-retransmit", Severity::Warning, "192.0.2.13", true),
            f("syn-retransmit", Severity::Warning, "192.0.2.12", true),
            f("handshake-reset", Severity::Error, "192.0.2.11", false),
        ];
        explain(&mut v);
        assert_eq!(v[2].severity, Severity::Info);
        assert_eq!(
            v[2].explained_by,
            Some("dr-rs-no-reply"),
            "the most direct cause is named"
        );
        assert_eq!(v[3].severity, Severity::Warning, "no cause on 192.0.2.12");
        assert_eq!(
            v[4].severity,
            Severity::Error,
            "a server reset is a cause, not a symptom"
        );
        assert_eq!(v[0].severity, Severity::Error);
    }
}
