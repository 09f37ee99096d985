//! `rs-connections-fail`: the safety net. Connections scheduled to a real
//! server failed during their handshake (no answer, a reset from either
//! side, an ICMP error) and no other check named a cause for that real
//! server: a failed connection is never silent. Runs last, over what the
//! other checks concluded; the finding says how the connections ended and
//! what answered, so the reader knows where to look.
//!
//! Proves the fault (essential evidence):
//! - connections that never completed, tied to the real server the
//!   director sent them to (its forwarded copy), or to the real server
//!   that answered them;
//! - no cause (warning or above, not a symptom) that names that real server
//!   in that service, or the whole service.
//!
//! Makes it more certain (supporting, not required):
//! - the same service's other real servers completing connections (one
//!   server's fault, not the client's or the service's);
//! - several failures (one can be a client giving up).
//!
//! A UDP flow that got no answer counts only where the service answers at
//! all (as for the no-reply checks: one-way services never answer).

use super::{words, Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Proto, Vaddr};
use std::collections::{BTreeMap, BTreeSet};

/// How a handshake ended, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    NoAnswer,
    ServerReset,
    ClientReset,
    Icmp(crate::decode::IcmpKind),
}

impl Ending {
    fn describe(self, proto: Proto) -> String {
        match self {
            Ending::NoAnswer => format!("no {}", words(proto).answer),
            Ending::ServerReset => "reset by the server".into(),
            Ending::ClientReset => "reset by the client after the answer".into(),
            Ending::Icmp(k) => format!("ICMP {}", k.as_str()),
        }
    }
}

#[derive(Default, Clone)]
pub struct RsConnectionsFail {
    failed: PerRs,
    total: PerRs,
    established: PerRs,
    endings: BTreeMap<(Vaddr, RsKey), BTreeMap<Ending, u64>>,
    /// Virtual addresses some of whose flows were answered.
    answered: BTreeSet<Vaddr>,
}

impl Check for RsConnectionsFail {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let Some(rs) = v.rs else { return };
        self.total.add(v, rs, []);
        if v.established {
            self.established.add(v, rs, []);
            if self.answered.len() < super::MAX_PER_RS {
                self.answered.insert(v.vaddr);
            }
            return;
        }
        if !v.failed {
            return;
        }
        let f = v.flow;
        let ending = if let Some(e) = f.request_error() {
            Ending::Icmp(e.kind)
        } else if f.server_rst().is_some() {
            Ending::ServerReset
        } else if f.client_rst().is_some() && f.synack_seen() {
            Ending::ClientReset
        } else {
            Ending::NoAnswer
        };
        let mut ev: Vec<_> = v.forward.map(|c| c.at).into_iter().collect();
        ev.extend(f.server_rst().map(|r| r.at));
        ev.extend(f.request_error().map(|i| i.at));
        ev.extend(f.client_rst());
        self.failed.add(v, rs, ev);
        let k = (v.vaddr, rs);
        if self.endings.len() < super::MAX_PER_RS || self.endings.contains_key(&k) {
            *self
                .endings
                .entry(k)
                .or_default()
                .entry(ending)
                .or_default() += 1;
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut found = Vec::new();
        for ((va, key), t) in self.failed.iter() {
            let Some(id) = ctx.rs_id(*key) else { continue };
            let svc = ctx.service(*va);
            let endings = self.endings.get(&(*va, *key)).cloned().unwrap_or_default();
            // UDP: unanswered flows count only where the service answers.
            let unanswered_only = endings.keys().all(|e| *e == Ending::NoAnswer);
            if va.proto == Proto::Udp && unanswered_only && !self.answered.contains(va) {
                continue;
            }
            let named = out.iter().any(|f| {
                f.severity >= Severity::Warning
                    && !f.symptom
                    && (f.service.is_none() || f.service == Some(svc))
                    && (f.real_server == Some(id)
                        || (f.real_server.is_none() && f.service == Some(svc)))
            });
            if named {
                continue;
            }
            let total = self.total.flows(&(*va, *key)).max(t.flows);
            let peers_ok: u64 = self
                .established
                .iter()
                .filter(|((v2, k2), _)| ctx.service(*v2) == svc && ctx.rs_id(*k2) != Some(id))
                .map(|(_, t)| t.flows)
                .sum();
            let how: Vec<String> = endings
                .iter()
                .map(|(e, n)| format!("{n} {}", e.describe(va.proto)))
                .collect();
            let w = words(va.proto);
            let others = if peers_ok > 0 {
                format!(" while the service's other real servers completed {peers_ok}")
            } else {
                String::new()
            };
            found.push(
                Finding::new(
                    "rs-connections-fail",
                    Severity::Warning,
                    format!("{} of {total} {} sent to {id} failed{others}: {}", t.flows, w.flows, how.join(", ")),
                )
                .service(svc)
                .real_server(id)
                .cause(format!("The {} reached {id} (or were sent to it) and the connections ended as listed, but no check recognised the pattern that would name the cause. {}", w.opens, if peers_ok > 0 { "Its peers answer, so the fault is on this real server or its path, not the client's." } else { "No other real server of the service was seen completing a connection either: the service, the clients or the capture points may be at fault; the capture cannot tell which." }))
                .evidence_set(&t.evidence)
                .affected_of(t.flows, total)
                .fix(format!("Open the evidence packets' flows (lvsdiag tui, Flows, /failed) and compare them with a healthy real server's; on {id}: {} and its firewall (nft list ruleset) for port {}.", w.ss, t.rs_port.unwrap_or(va.port))),
            );
        }
        out.extend(found);
    }
}
