//! `rs-removed-blackholes-established`: the director stopped forwarding
//! established connections to a real server (their client segments keep
//! arriving, none leaves towards it, no reset): the real server was removed
//! or quiesced, and IPVS drops the packets of its connections
//! (`expire_nodest_conn` = 0, the default).
//!
//! Proves the fault (essential evidence):
//! - an established TCP connection to this real server whose client
//!   segments kept arriving at the director (`ingress` leg) more than 200 ms
//!   after the last one it forwarded (`forward` leg), and more of them
//!   (`lifecycle::forwarding_stopped`; DR, NAT and TUN);
//! - no RST from the flow's director, and not a PMTU black hole (segments
//!   too big for the path are not forwarded either: the PMTU checks');
//! - no new connection forwarded to this real server (same VIP:port) after
//!   the latest of those stops;
//! - not every other real server of the VIP with connections stopping too
//!   with nothing forwarded after (that is the director failing as a whole).
//!
//! Makes it more certain (supporting, not required; without them the
//! finding says what would make it certain):
//! - the director still forwarding to other real servers of the VIP (any
//!   port) after the stop: their new connections, or their established
//!   connections' segments;
//! - the director's snapshot: the real server absent from the service or
//!   at weight 0 (and `expire_nodest_conn = 0`, which names the cause);
//! - the client's retransmissions (evidence).

use super::lifecycle::{self, MAX_KEPT};
use super::{Check, Context};
use crate::finding::{Evidence, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Proto, RsId, Vaddr};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Stopped {
    first_ts: i64,
    /// The last segment the director forwarded, and one it did not.
    last_forwarded: Evidence,
    unforwarded: Evidence,
    retransmitted: Option<Evidence>,
    rs_port: Option<u16>,
}

#[derive(Default, Clone)]
pub struct RsRemovedBlackholesEstablished {
    stopped: BTreeMap<(Vaddr, RsKey), Vec<Stopped>>,
    /// The latest new connection forwarded to each real server.
    newest: BTreeMap<(Vaddr, RsKey), i64>,
    /// The latest segment the director forwarded to each real server, of
    /// any of its connections.
    last_fwd: BTreeMap<(Vaddr, RsKey), i64>,
    kept: usize,
}

impl Check for RsRemovedBlackholesEstablished {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let (Some(rs), Some(_)) = (v.rs, v.forward) else {
            return;
        };
        if v.flow.proto != Proto::Tcp || matches!(rs, RsKey::Unseen) {
            return;
        }
        let k = (v.vaddr, rs);
        if self.newest.len() < MAX_KEPT || self.newest.contains_key(&k) {
            let t = self.newest.entry(k).or_insert(i64::MIN);
            *t = (*t).max(v.flow.first_ts);
        }
        if !v.established {
            return;
        }
        let Some(life) = lifecycle::life(v) else {
            return;
        };
        if let Some((_, fwd)) = lifecycle::director_legs(v) {
            if self.last_fwd.len() < MAX_KEPT || self.last_fwd.contains_key(&k) {
                let t = self.last_fwd.entry(k).or_insert(i64::MIN);
                *t = (*t).max(fwd.last.time);
            }
        }
        let Some((ingress, forward)) = lifecycle::forwarding_stopped(v) else {
            return;
        };
        // Segments too big for the path are not forwarded either.
        if lifecycle::pmtu_victim(v).is_some()
            || v.flow
                .icmp
                .iter()
                .any(|i| matches!(i.kind, crate::decode::IcmpKind::TooBig(_)))
        {
            return;
        }
        // A reset from the director is a lost entry (timeout, failover), not this.
        if life
            .server_rst
            .iter()
            .any(|r| lifecycle::is_flow_director(v, r.src_mac))
        {
            return;
        }
        if self.kept >= MAX_KEPT {
            return;
        }
        self.kept += 1;
        self.stopped.entry(k).or_default().push(Stopped {
            first_ts: v.flow.first_ts,
            last_forwarded: forward.last,
            unforwarded: ingress.last,
            retransmitted: ingress.first_retx,
            rs_port: v.rs_port,
        });
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (&(va, rs), stopped) in &self.stopped {
            // The removal came after the last segment forwarded on any of
            // them (each connection's stop is only an upper bound of it).
            let stop = stopped
                .iter()
                .map(|s| s.last_forwarded.time)
                .max()
                .expect("not empty");
            // No new connection went to it after it stopped.
            if self.newest.get(&(va, rs)).is_some_and(|&t| t > stop) {
                continue;
            }
            // The other real servers of the VIP (any port): new connections
            // to them after the stop, or segments of theirs still forwarded.
            let others = |m: &BTreeMap<(Vaddr, RsKey), i64>| -> std::collections::BTreeSet<RsKey> {
                m.iter()
                    .filter(|((v2, r2), &t)| v2.ip == va.ip && *r2 != rs && t > stop)
                    .map(|((_, r2), _)| *r2)
                    .collect()
            };
            let new_elsewhere = others(&self.newest);
            let mut active = others(&self.last_fwd);
            active.extend(new_elsewhere.iter().copied());
            // Every other real server stopped too, with nothing forwarded
            // after: the director failed as a whole, not this real server.
            let others_stopped = self
                .stopped
                .keys()
                .filter(|(v2, r2)| v2.ip == va.ip && *r2 != rs)
                .count();
            if active.is_empty() && others_stopped > 0 {
                continue;
            }
            let svc = ctx.service(va);
            let rs_id = ctx.rs_id(rs);
            let label = ctx.rs_label(rs);
            let n = stopped.len() as u64;
            // What the director's snapshot says.
            let mut config = Vec::new();
            for s in lifecycle::directors(ctx) {
                if let Some((v, line)) = lifecycle::sysctl_line(s, "net.ipv4.vs.expire_nodest_conn")
                {
                    if v == "0" {
                        config.push(line);
                    }
                }
                if let (Some(ipvs), Some(RsId::Ip(ip))) = (&s.ipvs, rs_id) {
                    for x in ipvs.services.iter().filter(|x| {
                        x.address.is_some_and(|a| a == va.ip) && x.port == Some(va.port)
                    }) {
                        match x.destinations.iter().find(|d| d.address == ip) {
                            None => config.push(format!(
                                "{} snapshot: {ip} is not a real server of {svc} in IPVS",
                                s.host
                            )),
                            Some(d) if d.weight == 0 => config
                                .push(format!("{} snapshot: {ip} has weight 0 in {svc}", s.host)),
                            Some(_) => {}
                        }
                    }
                }
            }
            let mut ev = Vec::new();
            for s in stopped.iter().take(3) {
                ev.extend([s.last_forwarded, s.unforwarded]);
                ev.extend(s.retransmitted);
            }
            let span = lifecycle::span(stopped.iter().map(|s| s.first_ts));
            let removed_in_config = config.iter().any(|c| !c.contains("expire_nodest_conn"));
            let support = if !active.is_empty() {
                format!(
                    "while after that it kept forwarding to {} other real server(s){}",
                    active.len(),
                    if new_elsewhere.is_empty() {
                        " (their established connections; no new connection arrived)".to_string()
                    } else {
                        format!(" (new connections to {})", new_elsewhere.len())
                    }
                )
            } else if removed_in_config {
                "; the director's snapshot no longer has it in the service".to_string()
            } else {
                "; nothing shows the director still forwarding to other real servers after it: would be certain with traffic to the others after it, or the director's snapshot".to_string()
            };
            let mut f = Finding::new(
                "rs-removed-blackholes-established",
                Severity::Error,
                format!(
                    "The director stopped forwarding {n} established connection(s) to {label} (their packets keep arriving and are dropped, no reset) {support}"
                ),
            )
            .service(svc)
            .maybe_real_server(rs_id)
            .cause(format!(
                "{label} was removed from the service (or quiesced and then removed) while connections to it were established. IPVS keeps their entries but, with net.ipv4.vs.expire_nodest_conn = 0 (the default), silently drops their packets until the entries expire: the clients retransmit until they give up."
            ))
            .evidence(ev)
            .config(config)
            .affected(n)
            .absence()
            .fix(format!(
                "On the director: sysctl -w net.ipv4.vs.expire_nodest_conn=1, so that IPVS expires the connections of a removed real server at their next packet and the clients reconnect at once. To retire a real server, quiesce it first ({}) and remove it once ipvsadm -Lnc shows none of its connections.",
                super::weight_zero_cmd(svc, rs_id, stopped[0].rs_port.unwrap_or(va.port))
            ));
            f.span = span;
            f.moment = Some((
                stop,
                format!("the director forwards the last segment to {label}"),
            ));
            out.push(f);
        }
    }
}
