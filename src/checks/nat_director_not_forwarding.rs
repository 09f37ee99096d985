//! `nat-director-not-forwarding`: NAT; the real servers answer (their
//! replies from the RIP reach the director) but no rewritten copy from the
//! VIP leaves it: the director does not forward them (`ip_forward` = 0 in
//! its namespace, or a FORWARD drop). Distinct from `nat-rs-no-reply`: the
//! real server did answer.
//!
//! Proves the fault (essential evidence):
//! - a flow the director rewrote to a RIP (NAT forward seen);
//! - an answer (not a RST) from the real server's address addressed to that
//!   director's MAC: the director received it;
//! - no answer from the VIP anywhere; TCP: the flow never established;
//!   UDP: a point before the director was captured (a copy to the VIP),
//!   where the rewritten answer would show.
//!
//! Makes it more certain (supporting, not required):
//! - the client's retransmissions (evidence); the share of the service's
//!   flows stuck;
//! - a director snapshot with `net.ipv4.ip_forward = 0` (the cause is then
//!   stated as established; IPv6's `net.ipv6.conf.all.forwarding` is not
//!   read).

use super::lifecycle;
use super::{words, Check, Context};
use crate::finding::{EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::{Mode, ServiceKey, Vaddr};
use std::collections::BTreeMap;

#[derive(Default, Clone)]
struct Tally {
    stuck: u64,
    total: u64,
    evidence: EvidenceSet,
}

#[derive(Default, Clone)]
pub struct NatDirectorNotForwarding {
    by_vaddr: BTreeMap<Vaddr, Tally>,
}

impl Check for NatDirectorNotForwarding {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if v.mode != Some(Mode::Nat) {
            return;
        }
        if self.by_vaddr.len() >= lifecycle::MAX_KEPT && !self.by_vaddr.contains_key(&v.vaddr) {
            return;
        }
        let t = self.by_vaddr.entry(v.vaddr).or_default();
        t.total += 1;
        // A UDP flow the real server answered counts as established; the
        // answer from the RIP alone is this fault's evidence, so UDP is
        // judged by what came back from the VIP, where the point that
        // would show it was captured (a copy to the VIP).
        let udp = v.flow.proto == crate::model::Proto::Udp;
        if (!udp && v.established) || v.replies_from_vip().next().is_some() {
            return;
        }
        if udp
            && !v
                .flow
                .opens
                .iter()
                .any(|c| c.outer.is_none() && c.dst == v.vaddr.ip)
        {
            return;
        }
        // Answers from the real server addressed to the director's MAC.
        let reached: Vec<_> = v
            .replies_not_from_vip()
            .filter(|r| !r.rst && r.outer.is_none() && lifecycle::is_flow_director(v, r.dst_mac))
            .collect();
        if reached.is_empty() {
            return;
        }
        t.stuck += 1;
        t.evidence.extend(reached.iter().map(|r| r.at));
        if let Some(c) = v
            .flow
            .opens
            .iter()
            .filter(|c| c.count > 1)
            .max_by_key(|c| c.count)
        {
            t.evidence.push(c.at);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut by_svc: BTreeMap<ServiceKey, (Tally, Option<(i64, i64)>)> = BTreeMap::new();
        for (va, t) in &self.by_vaddr {
            let (s, span) = by_svc.entry(ctx.service(*va)).or_default();
            s.stuck += t.stuck;
            s.total += t.total;
            s.evidence.extend(t.evidence.iter());
            if let Some((a, b)) = t.evidence.span() {
                *span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
        for (svc, (t, span)) in by_svc {
            if t.stuck == 0 {
                continue;
            }
            let mut config = Vec::new();
            let mut proven = false;
            // The director of this service (a DR-only director needs no
            // forwarding), and the family's forwarding switch.
            let key = if svc.vip().is_some_and(|v| v.is_ipv6()) {
                "net.ipv6.conf.all.forwarding"
            } else {
                "net.ipv4.ip_forward"
            };
            let nat_director = |s: &&crate::system::HostSnapshot| {
                s.ipvs.as_ref().is_some_and(|i| {
                    i.services.iter().any(|x| {
                        x.key().is_some_and(|k| k == svc)
                            && x.destinations
                                .iter()
                                .any(|d| d.forward == crate::system::Forward::Masq)
                    })
                })
            };
            for s in lifecycle::directors(ctx).filter(nat_director) {
                if let Some((v, line)) = lifecycle::sysctl_line(s, key) {
                    if v == "0" {
                        proven = true;
                        config.push(line);
                    }
                }
            }
            let cause = if proven {
                "Established from the director's snapshot: IP forwarding is off. IPVS rewrites the requests on input, so they still reach the real servers, but the replies are routed packets: with forwarding off they are dropped before IPVS can rewrite them back to the VIP."
            } else {
                "The director receives the replies but does not route them: net.ipv4.ip_forward = 0 in its namespace (IPVS rewrites requests on input, so they still reach the real servers, but replies are forwarded packets and are dropped before IPVS rewrites them back to the VIP), or a firewall FORWARD chain drops them."
            };
            let w = words(svc.proto().unwrap_or(crate::model::Proto::Tcp));
            let mut f = Finding::new(
                "nat-director-not-forwarding",
                Severity::Error,
                format!(
                    "{} of {} {} to {svc}: the real servers answered (their {} reached the director) but the director sent no rewritten {} to the clients",
                    t.stuck, t.total, w.flows, w.answer, w.answer
                ),
            )
            .service(svc)
            .cause(cause)
            .evidence(t.evidence.iter())
            .config(config)
            .affected_of(t.stuck, t.total)
            .absence()
            .fix("On the director: sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/); check that no FORWARD rule drops the replies: nft list ruleset | grep -A5 'hook forward'.");
            f.span = span;
            out.push(f);
        }
    }
}
