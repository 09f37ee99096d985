//! `director-conntrack-full`: the director receives new connections for a
//! service and forwards only some of them; the others vanish at the
//! director, with no reset and no ICMP error, while the forwarded ones
//! spread over every real server. The established cause is a connection
//! tracking table at its limit (`nf_conntrack_max`): a new entry cannot be
//! allocated, so netfilter drops the SYN in PREROUTING, before IPVS sees
//! it. A masquerading director (kube-proxy) tracks every connection.
//!
//! Proves the fault (essential evidence):
//! - connections of the service that the director forwarded, and their
//!   client's packets as they arrived at the director's MAC at a capture
//!   point (the `ingress` copy);
//! - at that same point, other connections' opening packets to the
//!   director's MAC that the director never forwarded, each re-sent
//!   (TCP: SYN retransmissions) or left unanswered, with no reset or ICMP
//!   error about it: at least two of them.
//!
//! Makes it more certain (supporting, not required):
//! - the director's snapshot: `nf_conntrack_count` at `nf_conntrack_max`,
//!   or `drop` / `insert_failed` counters above zero (then the cause is
//!   established, and a snapshot alone at 90 % of the limit is a warning).

use super::config_view::line;
use super::{words, Check, Context};
use crate::finding::{EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Vaddr;
use crate::system::HostSnapshot;
use std::collections::{BTreeMap, BTreeSet};

/// A snapshot's table this full (of its limit, in percent) is a warning.
const WARN_FILL_PCT: i64 = 90;
/// Services tracked (bounded: a scan's VIPs stay few).
const MAX_SERVICES: usize = 1024;

#[derive(Default, Clone)]
struct Tally {
    forwarded: u64,
    real_servers: BTreeSet<crate::flow::view::RsKey>,
    /// Points where forwarded connections arrived at the director.
    ingress_points: BTreeSet<u16>,
    dropped: Vec<(u16, crate::finding::Evidence)>,
}

#[derive(Default, Clone)]
pub struct DirectorConntrackFull {
    svcs: BTreeMap<Vaddr, Tally>,
}

impl Check for DirectorConntrackFull {
    fn on_flow(&mut self, v: &FlowView<'_>, hosts: &HostMap) {
        if !self.svcs.contains_key(&v.vaddr) && self.svcs.len() >= MAX_SERVICES {
            return;
        }
        let t = self.svcs.entry(v.vaddr).or_default();
        if v.forward.is_some() {
            t.forwarded += 1;
            t.real_servers.extend(v.rs);
            if let Some(i) = v.ingress {
                t.ingress_points.insert(i.at.point);
            }
            return;
        }
        let f = v.flow;
        let silent = f.replies.is_empty() && f.icmp.is_empty() && f.client_rst().is_none();
        if !v.failed || !silent {
            return;
        }
        // Its opening packet, sent to a director's MAC.
        if let Some(c) = f.opens.iter().find(|c| {
            c.outer.is_none()
                && c.dst == v.vaddr.ip
                && c.dst_mac.is_some_and(|m| hosts.is_director(m))
        }) {
            if t.dropped.len() < 4096 {
                t.dropped.push((c.at.point, c.at));
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut reported = BTreeSet::new();
        for (va, t) in &self.svcs {
            let dropped: Vec<_> = t
                .dropped
                .iter()
                .filter(|(p, _)| t.ingress_points.contains(p))
                .collect();
            if t.forwarded == 0 || dropped.len() < 2 {
                continue;
            }
            let svc = ctx.service(*va);
            let w = words(va.proto);
            let snap = ctx.director_of(svc);
            let full = snap.and_then(full_table);
            let mut ev = EvidenceSet::default();
            for (_, e) in &dropped {
                ev.push(*e);
            }
            let spread = if t.real_servers.len() > 1 {
                format!(
                    "while the {} it forwarded went to {} real servers",
                    t.forwarded,
                    t.real_servers.len()
                )
            } else {
                format!("while it forwarded {}", t.forwarded)
            };
            let mut f = Finding::new(
                "director-conntrack-full",
                Severity::Error,
                format!(
                    "the director received {} new {} for {} that it never forwarded, with no reset or ICMP error, {spread}",
                    dropped.len(),
                    w.flows,
                    svc
                ),
            )
            .service(svc)
            .evidence_set(&ev)
            .affected(dropped.len() as u64);
            let how = "netfilter cannot allocate a connection tracking entry for the new connection, so it drops the opening packet in PREROUTING, before IPVS schedules it (the kernel logs \"nf_conntrack: table full, dropping packet\"); the client retransmits into the same full table";
            f = match (snap, full) {
                (Some(h), Some(text)) => f
                    .cause(format!("The director's connection tracking table is full: {text}. {how}."))
                    .config([line(h, text)]),
                _ => f.cause(format!("Likely the director's connection tracking table at its limit (nf_conntrack_max): {how}. Drops before scheduling that spare established connections and spread over every real server have no other usual cause; the director's snapshot (lvsdiag snapshot) or conntrack -S shows the drop counter.")),
            };
            out.push(f.fix("On the director: conntrack -S (drop, insert_failed); sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max; raise the limit (sysctl -w net.netfilter.nf_conntrack_max=<4x the peak>; kube-proxy: conntrack.maxPerCore / conntrack.min) and shorten what fills it (net.netfilter.nf_conntrack_tcp_timeout_time_wait).".to_string()));
            if let Some(h) = snap {
                reported.insert(h.host.clone());
            }
        }
        // A snapshot alone: the table nearly full.
        for h in ctx.snapshots {
            if reported.contains(&h.host) || h.ipvs.as_ref().is_none_or(|i| i.services.is_empty()) {
                continue;
            }
            let Some((count, max)) = h.conntrack_fill() else {
                continue;
            };
            let full = full_table(h);
            if full.is_none() && count * 100 < max * WARN_FILL_PCT {
                continue;
            }
            let text = full.unwrap_or_else(|| format!("{count} of {max} entries in use"));
            out.push(
                Finding::new(
                    "director-conntrack-full",
                    Severity::Warning,
                    format!("director {}: connection tracking table nearly or at its limit ({text})", h.host),
                )
                .cause("At its limit, netfilter drops every new connection's first packet before IPVS sees it (\"nf_conntrack: table full, dropping packet\"); new connections then fail or wait for retransmissions.")
                .config([line(h, &text)])
                .fix("sysctl -w net.netfilter.nf_conntrack_max=<4x the peak> (kube-proxy: conntrack.maxPerCore / conntrack.min); conntrack -S shows the drops.".to_string()),
            );
        }
    }
}

/// What the snapshot shows of a full table: the count at the limit, or
/// the drop / insert_failed counters.
fn full_table(h: &HostSnapshot) -> Option<String> {
    let fill = h.conntrack_fill();
    let stats = h.conntrack.filter(|s| s.drop > 0 || s.insert_failed > 0);
    let at_max = fill.filter(|(c, m)| c >= m);
    if at_max.is_none() && stats.is_none() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some((c, m)) = fill {
        parts.push(format!(
            "net.netfilter.nf_conntrack_count = {c} of nf_conntrack_max = {m}"
        ));
    }
    if let Some(s) = h.conntrack {
        parts.push(format!(
            "conntrack drop = {}, insert_failed = {}, early_drop = {}",
            s.drop, s.insert_failed, s.early_drop
        ));
    }
    Some(parts.join("; "))
}
