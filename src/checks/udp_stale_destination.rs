//! `udp-stale-destination`: a client's UDP flow (the same address and
//! port) keeps being forwarded to a real server that is gone, while the
//! service's new flows reach the live ones. IPVS's connection entry for the
//! flow is refreshed by every datagram, so it never expires: DNS after a
//! CoreDNS pod restart, with a resolver that keeps its source port.
//!
//! Proves the fault (essential evidence):
//! - a UDP flow forwarded to one real server that answered it at first,
//!   then answered its datagrams with ICMP errors (port or host
//!   unreachable) while the client kept sending;
//! - flows of the same service that started after the first such error
//!   went to other real servers and were answered, and none of them to
//!   this one (the scheduler has taken it out of rotation).
//!
//! Makes it more certain (supporting, not required):
//! - the director's snapshot: the real server at weight 0, or no longer a
//!   destination of the service (config evidence).

use super::config_view::{ipvs_services, line};
use super::{Check, Context};
use crate::finding::{Evidence, EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Proto, Vaddr};
use std::collections::BTreeMap;

/// Flows remembered per service (bounded).
const MAX_FLOWS: usize = 4096;

#[derive(Clone, Copy)]
struct Seen {
    first_ts: i64,
    rs: RsKey,
    answered: bool,
}

#[derive(Clone)]
struct Stale {
    rs: RsKey,
    /// The first error after the answers.
    since: i64,
    client: String,
    errors: u16,
    evidence: [Evidence; 2],
}

#[derive(Default, Clone)]
pub struct UdpStaleDestination {
    flows: BTreeMap<Vaddr, Vec<Seen>>,
    stale: BTreeMap<Vaddr, Vec<Stale>>,
}

impl Check for UdpStaleDestination {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let f = v.flow;
        let Some(rs) = v.rs.filter(|r| *r != RsKey::Unseen) else {
            return;
        };
        if f.proto != Proto::Udp || v.forward.is_none() {
            return;
        }
        let seen = self.flows.entry(v.vaddr).or_default();
        if seen.len() < MAX_FLOWS {
            seen.push(Seen {
                first_ts: f.first_ts,
                rs,
                answered: f.synack_seen(),
            });
        }
        let Some(answer) = f
            .replies
            .iter()
            .filter(|r| !r.rst)
            .map(|r| r.at)
            .min_by_key(|e| e.time)
        else {
            return;
        };
        let Some(err) = f
            .icmp
            .iter()
            .filter(|i| i.about_request && i.at.time > answer.time)
            .min_by_key(|i| i.at.time)
        else {
            return;
        };
        let st = self.stale.entry(v.vaddr).or_default();
        if st.len() < MAX_FLOWS {
            st.push(Stale {
                rs,
                since: err.at.time,
                client: std::net::SocketAddr::new(f.client, f.cport).to_string(),
                errors: f
                    .icmp
                    .iter()
                    .filter(|i| i.about_request)
                    .map(|i| i.count)
                    .max()
                    .unwrap_or(0),
                evidence: [answer, err.at],
            });
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (va, stale) in &self.stale {
            let seen = self.flows.get(va).map(Vec::as_slice).unwrap_or_default();
            let mut by_rs: BTreeMap<RsKey, Vec<&Stale>> = BTreeMap::new();
            for s in stale {
                by_rs.entry(s.rs).or_default().push(s);
            }
            for (rs, list) in by_rs {
                let since = list.iter().map(|s| s.since).min().unwrap_or(i64::MAX);
                let later: Vec<&Seen> = seen.iter().filter(|s| s.first_ts > since).collect();
                let elsewhere = later.iter().filter(|s| s.rs != rs && s.answered).count();
                if elsewhere == 0 || later.iter().any(|s| s.rs == rs) {
                    continue;
                }
                let svc = ctx.service(*va);
                let (label, rs_id) = (ctx.rs_label(rs), ctx.rs_id(rs));
                let mut ev = EvidenceSet::default();
                for s in &list {
                    ev.extend(s.evidence);
                }
                let mut f = Finding::new(
                    "udp-stale-destination",
                    Severity::Error,
                    format!(
                        "{} UDP flow(s) to {svc} (first: {}) kept going to {label} after it stopped answering them ({} ICMP error(s)), while {elsewhere} newer flow(s) went to other real servers",
                        list.len(),
                        list[0].client,
                        list.iter().map(|s| u64::from(s.errors)).sum::<u64>()
                    ),
                )
                .service(svc)
                .maybe_real_server(rs_id)
                .evidence_set(&ev)
                .affected(list.len() as u64);
                if let Some(ip) = rs_id.and_then(|r| match r {
                    crate::model::RsId::Ip(ip) => Some(ip),
                    _ => None,
                }) {
                    let cfg: Vec<String> = ipvs_services(ctx.snapshots)
                        .filter(|(_, k, _)| *k == svc)
                        .map(
                            |(h, _, s)| match s.destinations.iter().find(|d| d.address == ip) {
                                Some(d) => line(
                                    h,
                                    format!(
                                        "{svc} -> {ip}: weight {}, {} inactive connection(s)",
                                        d.weight, d.inactive_conns
                                    ),
                                ),
                                None => line(h, format!("{svc}: {ip} is no longer a destination")),
                            },
                        )
                        .collect();
                    f = f.config(cfg);
                }
                out.push(
                    f.cause(format!("IPVS keeps a UDP flow on the real server it first chose for as long as datagrams keep coming (each one refreshes the connection entry, for the UDP timeout, 300 s by default). {label} went away (a restarted pod, a stopped server) and was taken out of rotation (weight 0 or deleted), but a client that keeps its source port, as a DNS resolver does, stays on it; only new flows are scheduled to the live real servers."))
                        .fix(format!("On the director: delete the stale entries (conntrack -D -p udp --orig-dst {label}, or ipvsadm -d the destination rather than set its weight to 0); sysctl -w net.ipv4.vs.expire_nodest_conn=1 so that entries of a deleted destination expire on their next packet; a shorter UDP timeout (ipvsadm --set <tcp> <tcpfin> <udp>) bounds how long a flow stays.")),
                );
            }
        }
    }
}
