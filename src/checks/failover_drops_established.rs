//! `failover-drops-established`: the VIP moved to another director (the
//! ARP evidence `vip-arp-failover` reports) and connections established
//! through the old one were reset or not forwarded by the new one: it had
//! no entry for them (no connection sync).
//!
//! Proves the fault (essential evidence):
//! - the VIP's owner changed: an ARP/ND move that is a clean hand-over
//!   (`Ownership::Moves`: each owner held it 3 s or more; each move of a
//!   failback is judged on its own; a VRRP virtual MAC that does not move is
//!   not seen, see AUDIT.md);
//! - an established TCP connection begun before the new owner's first claim,
//!   whose forwarding director's MAC is known (`director_mac`: DR, NAT, TUN);
//! - at or after the move (from 200 ms before), a RST from the VIP sent by
//!   the new owner's MAC (a VIP claimant that is not the flow's director), or
//!   the client's segments re-sent to that MAC at the point where its SYN
//!   reached the director, with no server packet after them (needs the
//!   `ingress` copy: DR, NAT and TUN).
//!
//! Makes it more certain (supporting, not required):
//! - new connections that worked after the move (counted and reported);
//! - snapshots (`ipvsadm -L --daemon`) or keepalived's `lvs_sync_daemon`
//!   saying whether connection sync is configured.

use super::lifecycle::{self, MAX_KEPT};
use super::{Check, Context};
use crate::decode::Mac;
use crate::finding::{Evidence, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::neigh::Ownership;
use crate::flow::view::FlowView;
use crate::model::{Proto, Vaddr};

#[derive(Clone, Copy)]
struct Lost {
    vaddr: Vaddr,
    first_ts: i64,
    /// The MAC that reset or swallowed it.
    by: Mac,
    at: Evidence,
    reset: bool,
}

#[derive(Default, Clone)]
pub struct FailoverDropsEstablished {
    lost: Vec<Lost>,
    /// Start times of established connections (bounded sample): who
    /// worked after the failover.
    started: Vec<(Vaddr, i64)>,
    overflow: u64,
}

impl Check for FailoverDropsEstablished {
    fn on_flow(&mut self, v: &FlowView<'_>, hosts: &HostMap) {
        if v.flow.proto != Proto::Tcp || !v.established {
            return;
        }
        if self.started.len() < 4 * MAX_KEPT {
            self.started.push((v.vaddr, v.flow.first_ts));
        }
        let Some(life) = lifecycle::life(v) else {
            return;
        };
        if v.director_mac.is_none() {
            return; // which director forwarded it is not seen
        }
        // Reset from the VIP by a MAC that is not the forwarding director's.
        // (The copy whose MAC is a VIP owner's: at the gateway's point the
        // same reset carries the gateway's MAC.)
        let reset = life.server_rst.iter().find(|r| {
            r.src == v.vaddr.ip
                && r.src_mac.is_some_and(|m| {
                    !lifecycle::is_flow_director(v, Some(m))
                        && hosts
                            .neigh
                            .claims(v.vaddr.ip)
                            .is_some_and(|c| c.by_mac.iter().any(|c| c.mac == m))
                })
        });
        let lost = if let Some(r) = reset {
            Some((r.src_mac.expect("checked"), r.at, true))
        } else {
            // Or the client's segments went to another MAC, were re-sent,
            // and nothing came back after they started.
            life.legs
                .iter()
                .filter(|l| {
                    l.from_client
                        && l.retx > 0
                        && l.peer == v.vaddr.ip
                        && l.dst_mac.is_some()
                        && !lifecycle::is_flow_director(v, l.dst_mac)
                        && v.ingress.is_some_and(|i| i.at.point == l.last.point)
                        && life.last_server_ts.is_none_or(|t| t < l.first_ts)
                })
                .find_map(|l| Some((l.dst_mac?, l.first_retx?, false)))
        };
        let Some((by, at, reset)) = lost else {
            return;
        };
        if self.lost.len() >= MAX_KEPT {
            self.overflow += 1;
            return;
        }
        self.lost.push(Lost {
            vaddr: v.vaddr,
            first_ts: v.flow.first_ts,
            by,
            at,
            reset,
        });
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut vips: Vec<_> = self.lost.iter().map(|l| l.vaddr.ip).collect();
        vips.sort();
        vips.dedup();
        for vip in vips {
            let Some(claims) = ctx.hosts.neigh.claims(vip) else {
                continue;
            };
            let Ownership::Moves(moves) = claims.ownership() else {
                continue;
            };
            for (i, m) in moves.iter().enumerate() {
                let (from, to, switch) = (m.from, m.to, m.at);
                let next = moves.get(i + 1).map_or(i64::MAX, |n| n.at.time);
                // Established before the move, lost to the new owner after it.
                let lost: Vec<&Lost> = self
                    .lost
                    .iter()
                    .filter(|l| l.vaddr.ip == vip && l.by == to && l.first_ts < switch.time)
                    .filter(|l| l.at.time >= switch.time - lifecycle::STOP_NS && l.at.time < next)
                    .collect();
                if lost.is_empty() {
                    continue;
                }
                let svc = ctx.service(lost[0].vaddr);
                let n = lost.len() as u64;
                let resets = lost.iter().filter(|l| l.reset).count();
                let after = self
                    .started
                    .iter()
                    .filter(|(va, t)| va.ip == vip && *t >= switch.time && *t < next)
                    .count();
                let what = match (resets, lost.len() - resets) {
                    (_, 0) => "reset them".to_string(),
                    (0, _) => "did not forward them".to_string(),
                    (r, d) => format!("reset {r} and did not forward {d}"),
                };
                // Connection sync, as the snapshots and keepalived show it.
                let mut config = Vec::new();
                let mut synced = false;
                for s in lifecycle::directors(ctx) {
                    let d = &s.ipvs.as_ref().expect("a director").daemons;
                    if d.is_empty() {
                        config.push(format!(
                        "{} snapshot: no IPVS connection sync daemon (ipvsadm -L --daemon is empty)",
                        s.host
                    ));
                    } else {
                        synced = true;
                        for x in d {
                            config.push(format!(
                                "{} snapshot: sync daemon {} on {}",
                                s.host,
                                x.state,
                                x.interface.as_deref().unwrap_or("?")
                            ));
                        }
                    }
                }
                for k in &ctx.model.keepalived {
                    if let Some(l) = &k.lvs_sync_daemon {
                        synced = true;
                        config.push(format!(
                            "{}: lvs_sync_daemon {l}",
                            k.files.first().map_or("keepalived.conf", |f| f.as_str())
                        ));
                    }
                }
                let sync = if config.is_empty() {
                    "Most likely no connection sync runs between the directors (no snapshot shows it either way)."
                } else if synced {
                    "A sync daemon is configured, yet the new director had no entry for these connections: the backup was not receiving the sync messages (multicast filtered, wrong --mcast-interface or syncid), or it started after they were synced."
                } else {
                    "No connection sync runs between the directors, so the new one knows none of the old one's connections."
                };
                let mut ev: Vec<Evidence> = vec![switch];
                ev.extend(lost.iter().take(6).map(|l| l.at));
                let span = lifecycle::span(lost.iter().map(|l| l.first_ts));
                let mut f = Finding::new(
                "failover-drops-established",
                Severity::Error,
                format!(
                    "VIP {vip} moved from {} to {} and the new director {what}: {n} connection(s) established before the failover were lost; {after} new connection(s) after it worked",
                    ctx.describe_mac(from),
                    ctx.describe_mac(to),
                ),
            )
            .service(svc)
            .cause(format!(
                "After a failover the new director sees packets of connections it never scheduled. IPVS does not schedule a packet that is not a SYN, so it goes to the new director's own stack, which now holds the VIP and answers with a reset (or drops it). {sync}"
            ))
            .evidence(ev)
            .config(config)
            .affected(n)
            .fix("Sync connections between the directors: on the active one ipvsadm --start-daemon master --mcast-interface IFACE --syncid 1, on the standby ipvsadm --start-daemon backup --mcast-interface IFACE --syncid 1 (with keepalived: lvs_sync_daemon IFACE VI_1 in global_defs, on both); check with ipvsadm -Lnc on the standby that the connections appear there before failing over.");
                f.span = span;
                f.moment = Some((
                    switch.time,
                    format!("VIP {vip} taken over by {}", ctx.describe_mac(to)),
                ));
                if self.overflow > 0 {
                    f.summary
                        .push_str(&format!(" (and {} more not kept)", self.overflow));
                }
                if resets < lost.len() {
                    f = f.absence();
                }
                out.push(f);
            }
        }
    }
}
