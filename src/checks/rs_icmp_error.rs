//! `rs-icmp-error`: connections (TCP or UDP) scheduled to a real server end
//! with an ICMP error instead of an answer: from the real server itself,
//! from a router on the way, or from the director relaying the error a
//! tunnel endpoint sent it (IPVS re-sends a TUN real server's error to the
//! client from the VIP). The kind and who sent it name the cause: port or
//! protocol unreachable for IP-in-IP (no tunnel device up to take it), a
//! firewall's reject (port unreachable to TCP, administratively
//! prohibited), host or network unreachable (down, or no route), time
//! exceeded (a routing loop). UDP port unreachable alone is
//! `rs-port-unreachable`'s (nothing listens); fragmentation needed is the
//! PMTU checks'.
//!
//! Proves the fault (essential evidence):
//! - a connection that never completed, and an ICMP error (of any type but
//!   fragmentation needed) whose quote is one of its client's packets;
//! - the real server it was scheduled to: the director's forwarded copy, or
//!   the error's sender when that is a known real server (not the VIP).
//!
//! Makes it more certain (supporting, not required):
//! - the same error at several capture points (the real server's own and
//!   the director's relay), and its count against the real server's total;
//! - other real servers of the service answering (one server's fault, not
//!   the service's).

use super::{weight_zero_cmd, words, Check, Context, PerRs};
use crate::decode::tunnel::Encap;
use crate::decode::IcmpKind;
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::flow::IcmpCopy;
use crate::model::{Mode, Proto, Vaddr};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Distinct (kind, sender) pairs kept per real server.
const MAX_KINDS: usize = 8;

#[derive(Debug, Default, Clone)]
struct Seen {
    /// (kind, sender, the director's relay: from the VIP by a director's
    /// MAC) → flows.
    kinds: BTreeMap<(IcmpKind, IpAddr, bool), u64>,
    mode: Option<Mode>,
    /// The tunnel the director forwarded in (TUN).
    encap: Option<Encap>,
}

#[derive(Default, Clone)]
pub struct RsIcmpError {
    failed: PerRs,
    /// Failed connections to the same real servers with no answer and no
    /// error at all (ICMP errors are rate-limited).
    unanswered: PerRs,
    total: PerRs,
    seen: BTreeMap<(Vaddr, RsKey), Seen>,
}

/// Whether this check (and not `rs-port-unreachable` or the PMTU checks)
/// speaks for an error of `kind` on a flow of `proto`.
pub fn is_ours(proto: Proto, kind: IcmpKind) -> bool {
    !matches!(kind, IcmpKind::TooBig(_))
        && (proto != Proto::Udp || kind != IcmpKind::PortUnreachable)
}

/// The error that ended a failed flow: the one a real server (or a hop
/// before it) sent, else the relay the client got.
fn ending<'a>(v: &FlowView<'a>) -> Option<&'a IcmpCopy> {
    let mine = |i: &&IcmpCopy| i.about_request && is_ours(v.flow.proto, i.kind);
    v.flow
        .icmp
        .iter()
        .filter(mine)
        .find(|i| i.from != v.vaddr.ip)
        .or_else(|| v.flow.icmp.iter().find(mine))
}

impl Check for RsIcmpError {
    fn on_flow(&mut self, v: &FlowView<'_>, hosts: &HostMap) {
        if let Some(rs) = v.rs {
            self.total.add(v, rs, []);
        }
        if v.established || !v.failed {
            return;
        }
        let Some(e) = ending(v) else {
            if let Some(rs) = v.rs {
                if v.flow.replies.is_empty() && v.flow.request_error().is_none() {
                    self.unanswered.add(v, rs, []);
                }
            }
            return;
        };
        // The real server: where the director sent it, else the error's
        // sender when it is a real server (a NAT real server's own error
        // seen before the rewrite, a tunnel endpoint's).
        let rs = v.rs.unwrap_or(
            if e.from != v.vaddr.ip && hosts.rips.contains_key(&e.from) {
                RsKey::Ip(e.from)
            } else {
                RsKey::Unseen
            },
        );
        if v.rs.is_none() {
            self.total.add(v, rs, []);
        }
        let fwd = v.forward.map(|f| f.at);
        let errors = v
            .flow
            .icmp
            .iter()
            .filter(|i| i.about_request && is_ours(v.flow.proto, i.kind));
        self.failed
            .add(v, rs, fwd.into_iter().chain(errors.clone().map(|i| i.at)));
        let k = (v.vaddr, rs);
        if self.seen.len() >= super::MAX_PER_RS && !self.seen.contains_key(&k) {
            return;
        }
        let s = self.seen.entry(k).or_default();
        s.mode = s.mode.or(v.mode);
        s.encap = s
            .encap
            .or(v.forward.filter(|f| f.outer.is_some()).map(|f| f.encap));
        // Once per flow each (the same error is seen at several points).
        // From the VIP by a director's MAC: the director's relay; by another
        // MAC (a DR real server, which holds the VIP): its own.
        let relay = |i: &IcmpCopy| {
            i.from == v.vaddr.ip
                && i.src_mac
                    .is_some_and(|m| Some(m) == v.director_mac || hosts.is_director(m))
        };
        let mut keys: Vec<_> = errors.map(|i| (i.kind, i.from, relay(i))).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            if s.kinds.len() < MAX_KINDS || s.kinds.contains_key(&key) {
                *s.kinds.entry(key).or_default() += 1;
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for ((va, key), t) in self.failed.iter() {
            let seen = self.seen.get(&(*va, *key)).cloned().unwrap_or_default();
            let (rs, id) = ctx.who(*va, *key);
            let w = words(va.proto);
            let total = self.total.flows(&(*va, *key)).max(t.flows);
            // The error as its first sender sent it (not the relay: from
            // another address than the VIP where one is seen, as a relay
            // routed on keeps the VIP but not the director's MAC), else
            // the relay.
            let first = seen
                .kinds
                .iter()
                .max_by_key(|((_, from, relay), n)| (!*relay, *from != va.ip, **n))
                .map(|((k, from, relay), _)| (*k, *from, *relay));
            let Some((kind, from, from_relay)) = first else {
                continue;
            };
            // Who sent it, in words: a DR real server's own error comes from
            // the VIP it holds.
            let vip = va.ip;
            let sender = if from == vip && !from_relay {
                format!("{rs} (from the VIP it holds)")
            } else {
                from.to_string()
            };
            let relayed = seen.kinds.keys().any(|(_, _, relay)| *relay);
            let silent = self.unanswered.flows(&(*va, *key));
            let rate_limited = if silent > 0 {
                format!(" {silent} more got no answer and no error at all: the kernel rate-limits its ICMP errors (net.ipv4.icmp_ratelimit, one per second per destination by default), so the same fault leaves some connections unanswered.")
            } else {
                String::new()
            };
            let senders: Vec<String> = seen
                .kinds
                .iter()
                .map(|((k, f, relay), n)| {
                    let who = if *relay {
                        format!("{f} (the VIP: the director)")
                    } else if *f == vip {
                        format!("{f} (the VIP, by {rs})")
                    } else {
                        f.to_string()
                    };
                    format!("{} from {who} in {n} connection(s)", k.as_str())
                })
                .collect();
            let port = t.rs_port.unwrap_or(va.port);
            let svc = ctx.service(*va);
            let from_rs = id.is_some_and(|r| r == crate::model::RsId::Ip(from))
                || (from == vip && !from_relay);
            let tun = seen.mode == Some(Mode::Tun);
            let (cause, fix) = match kind {
                IcmpKind::PortUnreachable | IcmpKind::Unreachable(2) if tun && from_rs => {
                    let relay = if relayed { "; the director relays the error to the client from the VIP, which sees the connection refused" } else { "" };
                    let off = weight_zero_cmd(svc, id, port);
                    match seen.encap.unwrap_or_default() {
                        Encap::Ipip => (
                            format!("{rs} receives the director's IP-in-IP packets but no tunnel device that is up takes them (tunl0 down or absent, or the ipip module not loaded), so its kernel answers each with ICMP {}{relay}.", kind.as_str()),
                            format!("On {rs}: modprobe ipip; ip link set tunl0 up; ip addr add {vip}/32 dev tunl0; sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0. Until then, on the director: {off}."),
                        ),
                        Encap::Gue { port: up } => (
                            format!("{rs} receives the director's GUE packets on UDP port {up} but nothing listens there for them (no fou/GUE receiver on that port), so its kernel answers each with ICMP {}{relay}.", kind.as_str()),
                            format!("On {rs}: modprobe fou; ip fou add port {up} gue; and a tunnel device up with the VIP (ip link set tunl0 up; ip addr add {vip}/32 dev tunl0; rp_filter 0 on it). Until then, on the director: {off}."),
                        ),
                        Encap::Gre => (
                            format!("{rs} receives the director's GRE packets but no GRE device that is up takes them (the ip_gre module not loaded, gre0 down), so its kernel answers each with ICMP {}{relay}.", kind.as_str()),
                            format!("On {rs}: modprobe ip_gre; ip link set gre0 up; ip addr add {vip}/32 dev gre0; sysctl -w net.ipv4.conf.gre0.rp_filter=0 net.ipv4.conf.all.rp_filter=0. Until then, on the director: {off}."),
                        ),
                    }
                }
                IcmpKind::PortUnreachable => (
                    format!("{sender} answers the {} for port {port} with ICMP port unreachable, which a TCP stack never does for a closed port (it resets): a firewall rule rejects them (iptables REJECT's default is icmp-port-unreachable).", w.opens),
                    format!("On {sender}: find the reject rule (nft list ruleset; iptables -S | grep REJECT) and let {} port {port} in. Until then, on the director: {}.", va.proto, weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::Prohibited => (
                    format!("{sender} rejects the {} with ICMP administratively prohibited: a firewall's reject rule (firewalld's and iptables' reject-with icmp-host-prohibited, nftables' reject with icmp admin-prohibited).", w.opens),
                    format!("On {sender}: find the reject rule (nft list ruleset; iptables -S) and let {} port {port} in. Until then, on the director: {}.", va.proto, weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::HostUnreachable => (
                    format!("{from} cannot reach {rs}: it gets no ARP/ND answer from it (down, unplugged, or on another segment than the director thinks), or a firewall rejects with host unreachable."),
                    format!("From {from}: ip neigh show {}; ping it. If it is down, take it out on the director: {}; a health check (keepalived) would have.", id.map_or(rs.clone(), |i| i.to_string()), weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::NetUnreachable => (
                    format!("{from} has no route towards {rs} (or back to the client), so it answers ICMP network unreachable."),
                    format!("On {from}: ip route get {}; add the missing route. Until then, on the director: {}.", id.map_or(rs.clone(), |i| i.to_string()), weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::TimeExceeded => (
                    format!("The packets loop between routers until their TTL runs out; {from} reports time exceeded: a routing loop between the director, {rs} and their gateways."),
                    format!("traceroute from the director to {rs} and from {rs} to the client; fix the route that points back. Until then: {}.", weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::Unreachable(c) => (
                    format!("{sender} answers with ICMP unreachable (code {c}) instead of {rs} answering."),
                    format!("On {sender}: check its firewall and routes for {} port {port}. Until then, on the director: {}.", va.proto, weight_zero_cmd(svc, id, port)),
                ),
                IcmpKind::TooBig(_) => continue,
            };
            out.push(
                Finding::new(
                    "rs-icmp-error",
                    Severity::Error,
                    format!(
                        "{} of {total} {} sent to {rs} ended with ICMP {} from {sender}{}",
                        t.flows,
                        w.flows,
                        kind.as_str(),
                        if relayed && from != vip {
                            ", relayed to the client by the director"
                        } else {
                            ""
                        }
                    ),
                )
                .service(svc)
                .maybe_real_server(id)
                .cause(format!(
                    "{cause} Seen: {}.{rate_limited}",
                    senders.join(", ")
                ))
                .evidence_set(&t.evidence)
                .affected_of(t.flows, total)
                .fix(fix),
            );
        }
    }
}
