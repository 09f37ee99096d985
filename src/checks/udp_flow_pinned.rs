//! `udp-flow-pinned`: UDP; one client address and port carries most of a
//! service's datagrams, and IPVS sends them all to one real server: a UDP
//! "connection" is scheduled once and its entry lives as long as datagrams
//! keep coming (the UDP timeout), so a busy client (a resolver, a syslog
//! relay, a SIP proxy) loads one real server while the others idle. IPVS's
//! one-packet scheduling (`-o`) schedules each datagram on its own.
//!
//! Proves the fault (essential evidence):
//! - UDP flows to one VIP:port seen forwarded (real server known), 20
//!   datagrams or more in all;
//! - one client address and port's flow carries at least half of them, all
//!   to one real server;
//! - the service can spread: 2 or more real servers of weight above 0 in
//!   the configuration, or 2 or more seen getting flows; and the
//!   configuration does not say one-packet scheduling (`-o`).
//!
//! Makes it more certain (supporting, not required):
//! - the configured scheduler (named in the fix).

use super::{Check, Context};
use crate::finding::{Evidence, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Proto, Vaddr};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Fewer datagrams than this say nothing about balance.
const MIN_DATAGRAMS: u64 = 20;
const MAX_SERVICES: usize = 1024;

#[derive(Debug, Default, Clone)]
struct Tally {
    datagrams: u64,
    /// Real servers seen getting its flows (a few are enough).
    servers: Vec<RsKey>,
    /// The busiest flow: client, port, real server, datagrams, first seen.
    top: Option<(IpAddr, u16, RsKey, u64, Evidence)>,
}

#[derive(Default, Clone)]
pub struct UdpFlowPinned(BTreeMap<Vaddr, Tally>);

impl Check for UdpFlowPinned {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let (Proto::Udp, Some(rs), Some(fwd)) = (v.flow.proto, v.rs, v.forward) else {
            return;
        };
        if self.0.len() >= MAX_SERVICES && !self.0.contains_key(&v.vaddr) {
            return;
        }
        let t = self.0.entry(v.vaddr).or_default();
        let n = u64::from(v.flow.datagrams());
        t.datagrams += n;
        if t.servers.len() < 8 && !t.servers.contains(&rs) {
            t.servers.push(rs);
        }
        if t.top.as_ref().is_none_or(|x| n > x.3) {
            t.top = Some((v.flow.client, v.flow.cport, rs, n, fwd.at));
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (va, t) in &self.0 {
            let Some((client, cport, rs, n, at)) = t.top else {
                continue;
            };
            let svc = ctx.model.find(*va);
            if svc.is_some_and(|s| s.ops) || t.datagrams < MIN_DATAGRAMS {
                continue;
            }
            // Real servers it could spread over: configured, else seen.
            let servers = svc
                .map_or(0, |s| {
                    s.real_servers.iter().filter(|r| r.weight > 0).count()
                })
                .max(t.servers.len());
            if servers < 2 || n * 2 < t.datagrams {
                continue;
            }
            let share = n * 100 / t.datagrams;
            let key = ctx.service(*va);
            let (who, id) = ctx.who(*va, rs);
            let sched = svc
                .and_then(|s| s.scheduler.clone())
                .unwrap_or_else(|| "rr".into());
            out.push(
                Finding::new(
                    "udp-flow-pinned",
                    if share >= 50 { Severity::Warning } else { Severity::Info },
                    format!(
                        "{} carries {share}% of {key}'s datagrams ({n} of {}), all to {who}, while the service has {servers} real servers",
                        std::net::SocketAddr::new(client, cport),
                        t.datagrams
                    ),
                )
                .service(key)
                .maybe_real_server(id)
                .cause("IPVS schedules a UDP flow (client address and port) once and keeps its entry while datagrams keep coming, so every datagram of one busy client socket goes to the same real server; the service does not use one-packet scheduling (-o).")
                .evidence([at])
                .affected(1)
                .fix(match key.ipvsadm_arg() {
                    Some(arg) => format!(
                        "On the director, if each datagram is a request of its own (DNS, RADIUS, syslog): ipvsadm -E {arg} -s {sched} -o (keepalived: ops in the virtual_server). Not when datagrams of one client belong together (QUIC, DTLS, SIP dialogs, fragmented datagrams): there, spread the clients (more source ports) instead."
                    ),
                    None => "Use one-packet scheduling (-o) if each datagram is a request of its own.".into(),
                }),
            );
        }
    }
}
