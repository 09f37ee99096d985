//! `ipvs-conn-reuse-delay`: new connections to a service succeed only after
//! one SYN retransmission, about a second later, and it happens on client
//! ports reused while IPVS still holds an entry for the same tuple. With
//! `net.ipv4.vs.conn_reuse_mode` = 1 IPVS expires such an entry to
//! reschedule the new connection; when the packet is attached to the old,
//! still confirmed conntrack entry (`net.ipv4.vs.conntrack` = 1), it drops
//! the SYN instead (`ip_vs_in_hook`, `ip_vs_conn_uses_old_conntrack`). Since
//! Linux 5.9 that is only when conntrack did not re-create the entry for the
//! new SYN: an old connection ended by a reset, or one conntrack did not see
//! close; older kernels dropped on every reuse with conntrack = 1.
//!
//! Proves the fault (essential evidence):
//! - connections of one service from a client address and port that an
//!   earlier connection of the same service used, less than IPVS's
//!   TIME_WAIT (120 s) before;
//! - at least two of them established after exactly one retransmission of
//!   the opening SYN (where the director is captured, the first SYN arrived
//!   and was not forwarded), and such delays are at least twice as common
//!   on reused ports as on new ones.
//!
//! Makes it more certain (supporting, not required):
//! - the director's snapshot: `conn_reuse_mode` and `conntrack` as config
//!   evidence.

use super::config_view::line;
use super::{Check, Context};
use crate::finding::{Evidence, EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::{Proto, Vaddr};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// IPVS keeps a closed TCP connection's entry this long (TIME_WAIT).
const REUSE_WINDOW_NS: i64 = 120_000_000_000;
/// Ports remembered (bounded; forgotten all at once when full).
const MAX_PORTS: usize = 65_536;

#[derive(Default, Clone, Copy)]
struct Tally {
    reused: u64,
    reused_delayed: u64,
    fresh: u64,
    fresh_delayed: u64,
}

#[derive(Default, Clone)]
pub struct IpvsConnReuseDelay {
    /// (service, client, port) → when its last connection was last seen.
    last: FxHashMap<(Vaddr, IpAddr, u16), i64>,
    svcs: BTreeMap<Vaddr, (Tally, EvidenceSet)>,
}

impl Check for IpvsConnReuseDelay {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let f = v.flow;
        if f.proto != Proto::Tcp {
            return;
        }
        let key = (v.vaddr, f.client, f.cport);
        let reused = self
            .last
            .get(&key)
            .is_some_and(|&t| t <= f.first_ts && f.first_ts - t < REUSE_WINDOW_NS);
        if self.last.len() >= MAX_PORTS && !self.last.contains_key(&key) {
            self.last.clear();
        }
        self.last.insert(key, f.last_ts);
        let delayed = v.established && f.syn_retransmits() == 1;
        // Where the director is captured: the first SYN arrived, only the
        // retransmission was forwarded.
        let dropped_first = match (v.ingress, v.forward) {
            (Some(i), Some(fw)) => i.count > fw.count,
            _ => true,
        };
        let (t, ev) = self.svcs.entry(v.vaddr).or_default();
        if reused {
            t.reused += 1;
            if delayed && dropped_first {
                t.reused_delayed += 1;
                let first: Option<Evidence> =
                    v.ingress.map(|i| i.at).or(f.opens.first().map(|o| o.at));
                for e in first.into_iter().chain(v.forward.map(|c| c.at)) {
                    ev.push(e);
                }
            }
        } else {
            t.fresh += 1;
            if delayed {
                t.fresh_delayed += 1;
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (va, (t, ev)) in &self.svcs {
            // Twice as common on reused ports as on new ones.
            let concentrated = t.reused_delayed * 4 >= t.reused
                && (t.fresh == 0 || t.reused_delayed * t.fresh >= 2 * t.fresh_delayed * t.reused);
            if t.reused_delayed < 2 || !concentrated {
                continue;
            }
            let svc = ctx.service(*va);
            let snap = ctx.director_of(svc);
            let mut f = Finding::new(
                "ipvs-conn-reuse-delay",
                Severity::Warning,
                format!(
                    "{} of {} connections to {svc} from a reused client port waited for a SYN retransmission (about 1 s) before the director forwarded them ({} of {} from new ports)",
                    t.reused_delayed, t.reused, t.fresh_delayed, t.fresh
                ),
            )
            .service(svc)
            .evidence_set(ev)
            .affected(t.reused_delayed);
            let mut established = false;
            if let Some(h) = snap {
                let mode = h.sysctl("net.ipv4.vs.conn_reuse_mode");
                let ct = h.sysctl("net.ipv4.vs.conntrack");
                if let (Some(m), Some(c)) = (mode, ct) {
                    established = m & 1 == 1 && c == 1;
                    f = f.config([line(
                        h,
                        format!("net.ipv4.vs.conn_reuse_mode = {m}, net.ipv4.vs.conntrack = {c}"),
                    )]);
                }
            }
            let why = "IPVS still held an entry for the same client address and port (TIME_WAIT or CLOSE). With net.ipv4.vs.conn_reuse_mode = 1 it expires that entry to schedule the new connection afresh, but when the SYN is still attached to the old connection's conntrack entry (net.ipv4.vs.conntrack = 1; since Linux 5.9 only if conntrack kept the old entry, as after a connection ended by a reset) it drops the SYN instead, and the client retransmits it a second later";
            f = f.cause(if established {
                format!("Established from the director's settings: {why}.")
            } else {
                format!("Likely: {why}.")
            });
            out.push(f.fix("Each setting trades something: net.ipv4.vs.conn_reuse_mode=0 stops the drop but sends a reused port to the old real server without rescheduling (a removed or weight-0 one keeps getting it); net.ipv4.vs.conntrack=0 stops it too but breaks masquerading (kube-proxy needs 1); on kernels before 5.9 upgrading removes most of it. Clients can avoid reusing ports quickly (a wider net.ipv4.ip_local_port_range, closing with FIN rather than RST).".to_string()));
        }
    }
}
