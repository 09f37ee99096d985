//! Checks: each file is one check with one stable finding code (documented in
//! README.md's finding table). A check sees every finished flow
//! ([`FlowView`]) and concludes at the end of input from what it tallied and
//! from what the whole capture taught about hosts ([`Context`]).

pub mod config_view;
mod director_conntrack_full;
mod dr_forward_rewrites_ip;
mod dr_reply_via_director;
mod dr_rs_gateway_director;
mod dr_rs_no_reply;
mod failover_drops_established;
mod handshake_reset;
mod ipvs_conn_reuse_delay;
mod ipvs_dest_unseen;
mod ipvs_idle_timeout;
mod keepalived_config_drift;
mod lifecycle;
pub mod losses;
mod nat_director_not_forwarding;
mod nat_masquerade_without_vs_conntrack;
mod nat_reply_bypasses_director;
mod nat_rs_gateway_not_director;
mod nat_rs_no_reply;
mod pmtu_blackhole;
mod rp_filter_drops_asymmetric;
mod rs_arp_announce;
mod rs_arp_ignore;
mod rs_connections_fail;
mod rs_firewall_drops;
mod rs_icmp_error;
mod rs_no_listener;
mod rs_port_unreachable;
mod rs_removed_blackholes_established;
mod rs_vip_not_on_loopback;
mod syn_retransmit;
mod traffic_to_unknown_rs;
mod tun_pmtu_blackhole;
mod tun_rs_no_reply;
mod tun_rs_no_tunnel;
mod udp_flow_pinned;
mod udp_stale_destination;
mod vip_arp_failover;
mod vip_arp_multiple_owners;
mod vip_traffic_bypasses_director;
mod vrrp_common;
mod vrrp_master_flapping;
mod vrrp_split_brain;
mod vrrp_vip_owner_mismatch;
mod vrrp_vrid_conflict;
mod weight_zero_receiving;

use crate::decode::{fmt_mac, Mac};
use crate::finding::{Evidence, EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Model, Proto, RsId, ServiceKey, Vaddr};
use crate::source::PointInfo;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

pub trait Check: CheckClone + Send {
    /// Whether [`Check::on_flow`] needs to see finished flows: a check that
    /// concludes from the configuration, or from the [`Shared`] tallies
    /// only, says no, and the engine does not call it per flow.
    fn wants_flows(&self) -> bool {
        true
    }
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

/// What several checks tally from the same finished flows, kept once: the
/// engine adds every flow here, then shows it to the checks that want it.
#[derive(Debug, Default, Clone)]
pub struct Shared {
    /// Connections forwarded per real server (ipvs-dest-unseen,
    /// weight-zero-receiving, traffic-to-unknown-rs).
    pub forwarded: config_view::Forwarded,
    /// Client addresses per VIP (the route checks: dr-rs-gateway-director,
    /// nat-rs-gateway-not-director, rp-filter-drops-asymmetric).
    pub clients: config_view::Clients,
}

impl Shared {
    pub fn observe(&mut self, v: &FlowView<'_>) {
        self.forwarded.observe(v);
        self.clients.observe(v);
    }
}

/// What checks know when they conclude.
pub struct Context<'a> {
    pub model: &'a Model,
    pub hosts: &'a HostMap,
    /// The tallies several checks share.
    pub shared: &'a Shared,
    pub points: &'a [PointInfo],
    /// Host configuration snapshots (may be empty).
    pub snapshots: &'a [crate::system::HostSnapshot],
}

impl Context<'_> {
    /// A real server as findings name it: its RIP (a MAC resolved through
    /// the captured ARP when it can be), else its MAC; `None` when no
    /// capture shows which real server it was.
    pub fn rs_id(&self, key: RsKey) -> Option<RsId> {
        match key {
            RsKey::Ip(ip) => Some(RsId::Ip(ip)),
            RsKey::Mac(m) => Some(self.mac_ip(m).map_or(RsId::Mac(m), RsId::Ip)),
            RsKey::Unseen => None,
        }
    }

    /// A real server's label for summaries: [`Context::rs_id`] as text.
    pub fn rs_label(&self, key: RsKey) -> String {
        self.rs_id(key).map_or_else(
            || "a real server not visible in these captures".into(),
            |id| id.to_string(),
        )
    }

    /// How to name a real server of `v` in a summary, and its id.
    pub fn who(&self, v: Vaddr, key: RsKey) -> (String, Option<RsId>) {
        match self.rs_id(key) {
            None => (
                format!("{} (real server not visible in these captures)", v.ip),
                None,
            ),
            Some(id) => (id.to_string(), Some(id)),
        }
    }

    /// The host address a MAC claims (never a VIP), preferring configured
    /// RIPs: by the captured ARP / ND, else by the snapshots (a running
    /// director's neighbour entries stay confirmed, so a capture of a few
    /// minutes may hold no ARP of a real server at all).
    pub fn mac_ip(&self, m: Mac) -> Option<IpAddr> {
        self.hosts
            .ip_of(
                m,
                |ip| self.model.is_vip(ip),
                |ip| self.model.real_server(ip).is_some(),
            )
            .or_else(|| self.snapshot_ip_of(m))
    }

    /// The address of the host with MAC `m` in the snapshots: the host's own
    /// (an address on the link with that MAC, a configured RIP first), else a
    /// director's neighbour entry for it.
    fn snapshot_ip_of(&self, m: Mac) -> Option<IpAddr> {
        let mac = fmt_mac(&m);
        let same = |s: &str| s.eq_ignore_ascii_case(&mac);
        let mut own: Vec<IpAddr> = self
            .snapshots
            .iter()
            .flat_map(|h| {
                h.links
                    .iter()
                    .filter(|l| l.mac.as_deref().is_some_and(same))
                    .flat_map(move |l| h.addresses.iter().filter(move |a| a.ifname == l.name))
            })
            .map(|a| a.address)
            .filter(|ip| !self.model.is_vip(*ip) && !ip.is_loopback() && !is_link_local(*ip))
            .collect();
        own.sort();
        own.iter()
            .copied()
            .find(|ip| self.model.real_server(*ip).is_some())
            .or_else(|| own.first().copied())
            .or_else(|| {
                self.snapshots
                    .iter()
                    .flat_map(|h| &h.neighbours)
                    .find(|n| n.mac.as_deref().is_some_and(same) && !self.model.is_vip(n.address))
                    .map(|n| n.address)
            })
    }

    /// The service connections to `v` belong to: the model's, else the
    /// address service with `v`'s port.
    pub fn service(&self, v: Vaddr) -> ServiceKey {
        self.model.find(v).map_or(v.key(), |s| s.key)
    }

    /// Whether connections to `v` are service `key`'s: by its address, or
    /// by what the model knows a firewall-mark service covers.
    /// The snapshot of the director that has service `svc` (else of any
    /// director).
    pub fn director_of(&self, svc: ServiceKey) -> Option<&crate::system::HostSnapshot> {
        self.model
            .services
            .iter()
            .find(|s| s.key == svc)
            .and_then(|s| config_view::director_for(self.snapshots, s))
    }

    pub fn covers(&self, key: ServiceKey, v: Vaddr) -> bool {
        key.matches(v)
            || self
                .model
                .services
                .iter()
                .any(|s| s.key == key && s.matches(v))
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
    /// The real server's port, as forwarded connections showed it.
    pub rs_port: Option<u16>,
}

/// Per (virtual address, real server) tallies, bounded.
#[derive(Debug, Default, Clone)]
pub struct PerRs(BTreeMap<(Vaddr, RsKey), Tally>);

pub(crate) const MAX_PER_RS: usize = 4096;

impl PerRs {
    pub fn add(&mut self, v: &FlowView<'_>, rs: RsKey, ev: impl IntoIterator<Item = Evidence>) {
        let k = (v.vaddr, rs);
        if self.0.len() >= MAX_PER_RS && !self.0.contains_key(&k) {
            return;
        }
        let t = self.0.entry(k).or_default();
        t.flows += 1;
        t.evidence.extend(ev);
        t.rs_port = t.rs_port.or(v.rs_port);
    }
    pub fn iter(&self) -> impl Iterator<Item = (&(Vaddr, RsKey), &Tally)> {
        self.0.iter()
    }
    pub fn flows(&self, k: &(Vaddr, RsKey)) -> u64 {
        self.0.get(k).map_or(0, |t| t.flows)
    }
}

/// Connections forwarded in one mode that failed with no answer at all,
/// out of all forwarded to the same real server: the tally behind the
/// `*-rs-no-reply` checks. A UDP service counts only when some capture
/// point shows it answering (syslog and other one-way services never do;
/// in DR and TUN the answers bypass the director, so a capture there
/// alone shows none), or when its port is a request/response protocol's
/// and a point where its answers would pass was captured: in NAT the
/// director, in DR and TUN the client's side or the real server.
#[derive(Debug, Default, Clone)]
pub struct Unanswered {
    failed: PerRs,
    total: PerRs,
    /// Virtual addresses some of whose flows were answered.
    answered: std::collections::BTreeSet<Vaddr>,
    /// Virtual addresses some of whose failed flows were seen at a point
    /// other than the director's forwarded copy's (the client's side or
    /// the real server's: where answers would pass in DR and TUN too).
    answer_path: std::collections::BTreeSet<Vaddr>,
    mode: Option<crate::model::Mode>,
}

/// UDP ports whose protocol always answers a request: DNS, TFTP, NTP,
/// SNMP, CLDAP, QUIC/HTTP3, RADIUS, SIP, DNS over QUIC.
const UDP_ANSWERING: &[u16] = &[53, 69, 123, 161, 389, 443, 1812, 1813, 5060, 853];

/// The words for a transport's flows in findings.
pub struct Words {
    /// "connection(s)" / "UDP flow(s)".
    pub flows: &'static str,
    /// What opens a flow: "SYNs" / "datagrams".
    pub opens: &'static str,
    /// The server's first answer: "SYN-ACK" / "answer".
    pub answer: &'static str,
    /// Listening sockets: "ss -ltn" / "ss -lun".
    pub ss: &'static str,
}

pub fn words(p: Proto) -> Words {
    match p {
        Proto::Udp => Words {
            flows: "UDP flow(s)",
            opens: "datagrams",
            answer: "answer",
            ss: "ss -lun",
        },
        _ => Words {
            flows: "connection(s)",
            opens: "SYNs",
            answer: "SYN-ACK",
            ss: "ss -ltn",
        },
    }
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
        self.mode = Some(mode);
        if v.established && self.answered.len() < MAX_PER_RS {
            self.answered.insert(v.vaddr);
        }
        self.total.add(v, rs, []);
        if v.failed
            && self.answer_path.len() < MAX_PER_RS
            && v.flow.opens.iter().any(|c| c.at.point != fwd.at.point)
        {
            self.answer_path.insert(v.vaddr);
        }
        if v.failed && unanswered(v) {
            // The forwarded SYN as each point saw it (director and real server).
            let copies =
                v.flow.opens.iter().filter(|c| {
                    c.dst_mac == fwd.dst_mac && c.dst == fwd.dst && c.outer == fwd.outer
                });
            self.failed.add(v, rs, copies.map(|c| c.at));
        }
    }

    /// Each (virtual address, real server) with failures: the tally and the total.
    pub fn each(&self) -> impl Iterator<Item = (Vaddr, RsKey, &Tally, u64)> {
        self.failed
            .iter()
            .filter(|((va, _), _)| {
                va.proto != Proto::Udp
                    || self.answered.contains(va)
                    || (UDP_ANSWERING.contains(&va.port)
                        && (self.mode == Some(crate::model::Mode::Nat)
                            || self.answer_path.contains(va)))
            })
            .map(|(k, t)| (k.0, k.1, t, self.total.flows(k).max(t.flows)))
    }
}

/// The director command that takes a real server of `svc` out of rotation
/// (weight 0), built from typed addresses: runnable when the service and
/// the real server's address are known, else naming what is missing and
/// how to find it.
pub fn weight_zero_cmd(svc: ServiceKey, rs: Option<RsId>, rs_port: u16) -> String {
    let Some(s) = svc.ipvsadm_arg() else {
        return format!("(ipvsadm has no option for {svc}: take the real server out with the tool that manages it)");
    };
    match rs {
        Some(RsId::Ip(ip)) => format!("ipvsadm -e {s} -r {} -w 0", SocketAddr::new(ip, rs_port)),
        Some(RsId::Mac(m)) => format!(
            "ipvsadm -e {s} -r RIP:{rs_port} -w 0, where RIP is the address of the real server at MAC {} (these captures show only its MAC; on the director: ip neigh | grep -i {})",
            fmt_mac(&m),
            fmt_mac(&m)
        ),
        None => format!(
            "ipvsadm -e {s} -r RIP:{rs_port} -w 0 for the real server concerned (these captures do not show which it was; on the director, ipvsadm -Lnc lists each connection's real server)"
        ),
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// What a finding is, for ranking and joining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A root cause seen in the traffic.
    Cause,
    /// A consequence (retransmits, resets) that a cause on the same real
    /// server explains.
    Symptom,
    /// A cause read from a host's configuration (snapshots).
    Config,
}

/// One check, as the registry declares it.
pub struct Registered {
    /// The stable finding code (README's finding table).
    pub code: &'static str,
    /// What it says about a real server, after its address.
    pub headline: &'static str,
    pub kind: Kind,
    /// For configuration findings: the traffic findings whose cause they
    /// establish on the same real server.
    pub proves: &'static [&'static str],
    /// For causes: which explains a symptom first (lower first).
    pub rank: u8,
    pub make: fn() -> Box<dyn Check>,
}

macro_rules! check {
    ($code:literal, $headline:literal, $kind:ident, $rank:literal, [$($p:literal),*], $make:expr) => {
        Registered {
            code: $code,
            headline: $headline,
            kind: Kind::$kind,
            proves: &[$($p),*],
            rank: $rank,
            make: || Box::new($make),
        }
    };
}

/// Every check, in report order. Adding a check: its file, and one line here.
pub const REGISTRY: &[Registered] = &[
    check!(
        "vip-arp-multiple-owners",
        "answers ARP for the VIP",
        Cause,
        2,
        [],
        vip_arp_multiple_owners::VipArpMultipleOwners
    ),
    check!(
        "vip-arp-failover",
        "took over the VIP",
        Cause,
        2,
        [],
        vip_arp_failover::VipArpFailover
    ),
    // The control plane: VRRP on the wire.
    check!(
        "vrrp-split-brain",
        "advertises as VRRP master beside another",
        Cause,
        2,
        [],
        vrrp_split_brain::VrrpSplitBrain
    ),
    check!(
        "vrrp-master-flapping",
        "keeps losing and regaining VRRP master",
        Cause,
        3,
        [],
        vrrp_master_flapping::VrrpMasterFlapping
    ),
    check!(
        "vrrp-vrid-conflict",
        "advertises a VRID that another router uses differently",
        Cause,
        3,
        [],
        vrrp_vrid_conflict::VrrpVridConflict
    ),
    check!(
        "vrrp-vip-owner-mismatch",
        "is master but the VIP's ARP still names the old master",
        Cause,
        3,
        [],
        vrrp_vip_owner_mismatch::VrrpVipOwnerMismatch
    ),
    check!(
        "vip-traffic-bypasses-director",
        "receives VIP traffic that bypasses the director",
        Cause,
        2,
        [],
        vip_traffic_bypasses_director::VipTrafficBypassesDirector::default()
    ),
    check!(
        "dr-rs-no-reply",
        "does not answer forwarded connections (VIP not on lo? rp_filter?)",
        Cause,
        0,
        [],
        dr_rs_no_reply::DrRsNoReply::default()
    ),
    check!(
        "dr-reply-via-director",
        "replies through the director",
        Cause,
        1,
        [],
        dr_reply_via_director::DrReplyViaDirector::default()
    ),
    check!(
        "dr-forward-rewrites-ip",
        "receives rewritten packets",
        Cause,
        2,
        [],
        dr_forward_rewrites_ip::DrForwardRewritesIp::default()
    ),
    check!(
        "nat-reply-bypasses-director",
        "replies around the director",
        Cause,
        1,
        [],
        nat_reply_bypasses_director::NatReplyBypassesDirector::default()
    ),
    check!(
        "nat-rs-no-reply",
        "does not answer rewritten connections",
        Cause,
        0,
        [],
        nat_rs_no_reply::NatRsNoReply::default()
    ),
    check!(
        "tun-rs-no-reply",
        "does not answer tunnelled connections",
        Cause,
        0,
        [],
        tun_rs_no_reply::TunRsNoReply::default()
    ),
    check!(
        "nat-director-not-forwarding",
        "is behind a director that does not forward its replies",
        Cause,
        0,
        [],
        nat_director_not_forwarding::NatDirectorNotForwarding::default()
    ),
    // The life of a connection after its handshake, and over time.
    check!(
        "ipvs-idle-timeout",
        "loses idle connections to the IPVS timeout",
        Cause,
        2,
        [],
        ipvs_idle_timeout::IpvsIdleTimeout::default()
    ),
    check!(
        "failover-drops-established",
        "loses established connections in a failover",
        Cause,
        2,
        [],
        failover_drops_established::FailoverDropsEstablished::default()
    ),
    check!(
        "rs-removed-blackholes-established",
        "was removed with connections established (black-holed)",
        Cause,
        1,
        [],
        rs_removed_blackholes_established::RsRemovedBlackholesEstablished::default()
    ),
    check!(
        "tun-pmtu-blackhole",
        "stalls full-size segments in the tunnel (PMTU black hole)",
        Cause,
        2,
        [],
        tun_pmtu_blackhole::TunPmtuBlackhole::default()
    ),
    check!(
        "pmtu-blackhole",
        "stalls full-size segments (PMTU black hole)",
        Cause,
        2,
        [],
        pmtu_blackhole::PmtuBlackhole::default()
    ),
    check!(
        "handshake-reset",
        "resets connections",
        Symptom,
        2,
        [],
        handshake_reset::HandshakeReset::default()
    ),
    check!(
        "syn-retransmit",
        "needs SYN retransmissions",
        Symptom,
        2,
        [],
        syn_retransmit::SynRetransmit::default()
    ),
    // Configuration (snapshots), alone and joined with the traffic.
    check!(
        "rs-vip-not-on-loopback",
        "does not have the VIP on lo",
        Config,
        2,
        [
            "dr-rs-no-reply",
            "vip-arp-multiple-owners",
            "vip-traffic-bypasses-director"
        ],
        rs_vip_not_on_loopback::RsVipNotOnLoopback
    ),
    check!(
        "rs-arp-ignore",
        "answers ARP for the VIP (arp_ignore)",
        Config,
        2,
        ["vip-arp-multiple-owners", "vip-traffic-bypasses-director"],
        rs_arp_ignore::RsArpIgnore
    ),
    check!(
        "rs-arp-announce",
        "announces the VIP in ARP (arp_announce)",
        Config,
        2,
        [],
        rs_arp_announce::RsArpAnnounce
    ),
    check!(
        "rp-filter-drops-asymmetric",
        "drops client packets (strict rp_filter)",
        Config,
        2,
        ["dr-rs-no-reply", "tun-rs-no-reply"],
        rp_filter_drops_asymmetric::RpFilterDropsAsymmetric
    ),
    check!(
        "nat-rs-gateway-not-director",
        "does not route replies via the director",
        Config,
        2,
        ["nat-reply-bypasses-director", "nat-rs-no-reply"],
        nat_rs_gateway_not_director::NatRsGatewayNotDirector
    ),
    check!(
        "dr-rs-gateway-director",
        "routes replies via the director",
        Config,
        2,
        ["dr-reply-via-director"],
        dr_rs_gateway_director::DrRsGatewayDirector
    ),
    check!(
        "ipvs-dest-unseen",
        "gets no traffic",
        Config,
        2,
        [],
        ipvs_dest_unseen::IpvsDestUnseen
    ),
    check!(
        "traffic-to-unknown-rs",
        "receives traffic but is not in IPVS",
        Config,
        2,
        [],
        traffic_to_unknown_rs::TrafficToUnknownRs
    ),
    check!(
        "rs-port-unreachable",
        "answers ICMP port unreachable (nothing listens)",
        Cause,
        1,
        [],
        rs_port_unreachable::RsPortUnreachable::default()
    ),
    check!(
        "rs-icmp-error",
        "ends connections with an ICMP error",
        Cause,
        1,
        [],
        rs_icmp_error::RsIcmpError::default()
    ),
    check!(
        "udp-flow-pinned",
        "gets every datagram of one busy UDP client",
        Cause,
        6,
        [],
        udp_flow_pinned::UdpFlowPinned::default()
    ),
    check!(
        "weight-zero-receiving",
        "receives new connections at weight 0",
        Config,
        2,
        [],
        weight_zero_receiving::WeightZeroReceiving
    ),
    check!(
        "rs-no-listener",
        "has nothing listening on the service port",
        Config,
        2,
        ["handshake-reset", "rs-port-unreachable"],
        rs_no_listener::RsNoListener
    ),
    check!(
        "keepalived-config-drift",
        "differs from keepalived's configuration",
        Config,
        2,
        [],
        keepalived_config_drift::KeepalivedConfigDrift
    ),
    check!(
        "rs-firewall-drops",
        "firewalls the service port",
        Config,
        2,
        ["dr-rs-no-reply", "tun-rs-no-reply", "nat-rs-no-reply"],
        rs_firewall_drops::RsFirewallDrops
    ),
    check!(
        "tun-rs-no-tunnel",
        "has no IP-in-IP tunnel device up",
        Config,
        2,
        ["tun-rs-no-reply", "rs-icmp-error"],
        tun_rs_no_tunnel::TunRsNoTunnel
    ),
    check!(
        "director-conntrack-full",
        "is behind a director whose conntrack table is full",
        Cause,
        3,
        [],
        director_conntrack_full::DirectorConntrackFull::default()
    ),
    check!(
        "ipvs-conn-reuse-delay",
        "waits a SYN retransmission on reused client ports",
        Cause,
        5,
        [],
        ipvs_conn_reuse_delay::IpvsConnReuseDelay::default()
    ),
    check!(
        "nat-masquerade-without-vs-conntrack",
        "is behind a director whose masquerade never applies",
        Config,
        2,
        [],
        nat_masquerade_without_vs_conntrack::NatMasqueradeWithoutVsConntrack::default()
    ),
    check!(
        "udp-stale-destination",
        "keeps getting a UDP flow after it went away",
        Cause,
        4,
        [],
        udp_stale_destination::UdpStaleDestination::default()
    ),
    // Last: the safety net over what every other check concluded.
    check!(
        "rs-connections-fail",
        "fails connections for no cause found",
        Cause,
        9,
        [],
        rs_connections_fail::RsConnectionsFail::default()
    ),
];

/// Concludes one check on a model and what the traffic taught (tests).
#[cfg(test)]
pub(crate) fn conclude(c: &mut dyn Check, model: &Model, hosts: &HostMap) -> Vec<Finding> {
    let ctx = Context {
        model,
        hosts,
        shared: &Shared::default(),
        points: &[],
        snapshots: &[],
    };
    let mut out = Vec::new();
    c.finish(&ctx, &mut out);
    out
}

/// Every check, in report order.
pub fn all() -> Vec<Box<dyn Check>> {
    REGISTRY.iter().map(|r| (r.make)()).collect()
}

/// The registry's entry for a code.
pub fn registered(code: &str) -> Option<&'static Registered> {
    REGISTRY.iter().find(|r| r.code == code)
}

/// What a finding says about its real server, after the address.
pub fn headline(code: &str) -> &'static str {
    registered(code).map_or("has a problem", |r| r.headline)
}

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
        let found = proofs.iter().find(|p| {
            registered(p.code).is_some_and(|r| r.proves.contains(&f.code))
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

/// The no-reply checks: connections forwarded and never answered.
const NO_REPLY: &[&str] = &["dr-rs-no-reply", "nat-rs-no-reply", "tun-rs-no-reply"];

/// Downgrades symptom findings to info where a root-cause finding (warning or
/// above) names the same service and real server, and says which explains it.
/// A real server that refuses most of its failed connections with an ICMP
/// error and leaves the others unanswered shows one fault, not two: the
/// kernel rate-limits ICMP errors (`net.ipv4.icmp_ratelimit`, one per
/// second per destination by default), so the unanswered ones are
/// explained by `rs-icmp-error`.
pub fn explain(findings: &mut [Finding]) {
    let refused: Vec<(Option<ServiceKey>, Option<RsId>, u64)> = findings
        .iter()
        .filter(|f| f.code == "rs-icmp-error" && f.severity >= Severity::Warning)
        .map(|f| (f.service, f.real_server, f.affected))
        .collect();
    for f in findings.iter_mut() {
        if !NO_REPLY.contains(&f.code) || f.real_server.is_none() {
            continue;
        }
        if refused
            .iter()
            .any(|(s, r, n)| *s == f.service && *r == f.real_server && *n >= f.affected)
        {
            f.severity = Severity::Info;
            f.explained_by = Some("rs-icmp-error");
        }
    }
    let mut causes: Vec<(Option<ServiceKey>, Option<RsId>, &'static str)> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning && !f.symptom)
        .map(|f| (f.service, f.real_server, f.code))
        .collect();
    // The most direct cause first (the registry's rank): a real server that
    // does not answer, then a broken return path, then the rest.
    causes.sort_by_key(|(_, _, c)| registered(c).map_or(u8::MAX, |r| r.rank));
    let symptom = |c: &str| registered(c).is_some_and(|r| r.kind == Kind::Symptom);
    for f in findings.iter_mut() {
        if !f.symptom || !symptom(f.code) {
            continue;
        }
        // A cause on the same real server, or one about the whole service
        // (the director's: it explains every real server's symptoms).
        if let Some((_, _, code)) = causes.iter().find(|(s, r, c)| {
            *c != f.code
                && ((f.real_server.is_some()
                    && *r == f.real_server
                    && (s.is_none() || *s == f.service))
                    || (r.is_none() && s.is_some() && *s == f.service))
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
            .service(ServiceKey::addr(
                crate::model::Proto::Tcp,
                "192.0.2.100".parse().unwrap(),
                Some(80),
            ))
            .real_server(RsId::Ip(rs.parse().unwrap()));
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
