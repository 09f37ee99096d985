//! Interpreting a finished flow: which copy is the client's packet arriving
//! at the director, which is the director's forwarded copy, which real server
//! it went to, and how the handshake ended.

use super::hosts::HostMap;
use super::{Flow, OpenCopy, ReplyCopy};
use crate::decode::Mac;
use crate::model::{Mode, Model, Proto, ServiceKey, Vaddr};
use std::net::IpAddr;

/// Where a flow was scheduled: the real server, by RIP and/or MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RsKey {
    Ip(IpAddr),
    Mac(Mac),
    /// No capture point shows which real server it was (e.g. client side only).
    Unseen,
}

/// How long a handshake may stay unanswered at the end of the capture before
/// we call it failed rather than still in progress.
pub const HANDSHAKE_GRACE_NS: i64 = 3_000_000_000;
/// The same for a UDP request: answers come within a round trip, and a
/// client does not re-send a datagram the way TCP re-sends a SYN.
pub const UDP_GRACE_NS: i64 = 1_000_000_000;

#[derive(Debug)]
pub struct FlowView<'a> {
    pub flow: &'a Flow,
    /// The service address as the client addressed it.
    pub vaddr: Vaddr,
    pub mode: Option<Mode>,
    /// The client's SYN as it arrived at the director (DR), when seen.
    pub ingress: Option<&'a OpenCopy>,
    /// The director's forwarded copy of the SYN.
    pub forward: Option<&'a OpenCopy>,
    /// The director's MAC on the segment it forwarded on.
    pub director_mac: Option<Mac>,
    pub rs: Option<RsKey>,
    pub rs_mac: Option<Mac>,
    pub rs_port: Option<u16>,
    /// The client's SYN as the gateway sent it straight to a real server.
    pub bypassed: Option<&'a OpenCopy>,
    pub established: bool,
    pub failed: bool,
}

impl<'a> FlowView<'a> {
    /// Interprets `flow`; `end_ts` is the end of the capture.
    pub fn new(flow: &'a Flow, model: &Model, hosts: &HostMap, end_ts: i64) -> FlowView<'a> {
        // The VIP: a copy addressed to a configured VIP, else the copy
        // nearest the client, the one with the highest TTL (every router and
        // the director decrement it). Not the first seen: capture points'
        // clocks differ by milliseconds, and a NAT director's rewritten copy
        // can carry an earlier time than the client's own.
        let nearest = flow
            .opens
            .iter()
            .filter(|c| c.outer.is_none())
            .max_by_key(|c| (c.ttl, std::cmp::Reverse(c.at.time)))
            .or(flow.opens.first());
        let addressed = flow
            .opens
            .iter()
            .find(|c| c.outer.is_none() && model.is_vip(c.dst))
            .or(nearest);
        let (mut vip, mut vport) = addressed.map_or((flow.client, 0), |c| (c.dst, c.dport));
        // Only the real-server leg seen: map a configured RIP back to its VIP.
        if !model.is_vip(vip) {
            if let Some((ServiceKey::Addr { vip: v, port, .. }, _)) = model
                .service_of_rs(vip, vport, flow.proto)
                .map(|(s, r)| (s.key, r))
            {
                if let Some(p) = port {
                    vport = p;
                }
                vip = v;
            }
        }
        let mut v = FlowView {
            flow,
            vaddr: Vaddr {
                proto: flow.proto,
                ip: vip,
                port: vport,
            },
            mode: None,
            ingress: None,
            forward: None,
            director_mac: None,
            rs: None,
            rs_mac: None,
            rs_port: None,
            bypassed: None,
            established: flow.established(),
            failed: false,
        };
        v.find_forward(hosts);
        let grace = if flow.proto == Proto::Udp {
            UDP_GRACE_NS
        } else {
            HANDSHAKE_GRACE_NS
        };
        let answered = flow.synack_seen();
        v.failed = !v.established
            && (flow.server_rst().is_some()
                || flow.request_error().is_some()
                || flow.client_rst().is_some()
                || (!answered && (flow.syn_retransmits() > 0 || end_ts - flow.first_ts >= grace)));
        v
    }

    fn find_forward(&mut self, hosts: &HostMap) {
        let syns = &self.flow.opens;
        // TUN: the SYN encapsulated towards the real server.
        if let Some(c) = syns
            .iter()
            .find(|c| c.outer.is_some() && c.dst == self.vaddr.ip)
        {
            let (_, rip) = c.outer.expect("checked");
            self.set(Mode::Tun, c, Some(RsKey::Ip(rip)), Some(c.dport));
            // The director holds the VIP as in DR: the encapsulated copy
            // leaves from its MAC, and the client's copy arrived addressed
            // to that MAC (else one TTL hop before the inner packet).
            self.director_mac = c.src_mac;
            let vip = self.vaddr.ip;
            let plain = |i: &&OpenCopy| i.outer.is_none() && i.dst == vip && i.dst_mac.is_some();
            self.ingress = syns
                .iter()
                .filter(plain)
                .find(|i| c.src_mac.is_some() && i.dst_mac == c.src_mac)
                .or_else(|| {
                    syns.iter()
                        .filter(plain)
                        .find(|i| i.ttl == c.ttl.saturating_add(1))
                });
            return;
        }
        // NAT: the same client SYN (same ISN) re-addressed to a real server.
        // UDP has no ISN: a copy to the VIP must be the same datagram (IP ID
        // and length) a hop earlier, or a client socket that talks to two
        // servers would look like a rewrite.
        let udp = self.flow.proto == Proto::Udp;
        let same_datagram =
            |i: &OpenCopy, c: &OpenCopy| i.id == c.id && i.len == c.len && i.ttl > c.ttl;
        if let Some(c) = syns.iter().find(|c| {
            c.outer.is_none()
                && c.dst != self.vaddr.ip
                && (!udp
                    || syns.iter().any(|i| {
                        i.outer.is_none() && i.dst == self.vaddr.ip && same_datagram(i, c)
                    }))
        }) {
            self.set(Mode::Nat, c, Some(RsKey::Ip(c.dst)), Some(c.dport));
            self.director_mac = c.src_mac;
            // The copy that reached the director: to the VIP, with the
            // rewritten copy's TTL, or one more (IPVS's NAT decrements it as
            // a router does; the lab's kernel does).
            let vip = self.vaddr.ip;
            let arriving = |ttl: u8| {
                syns.iter().find(|i| {
                    i.outer.is_none() && i.dst == vip && i.ttl == ttl && i.dst_mac.is_some()
                })
            };
            self.ingress = arriving(c.ttl).or_else(|| arriving(c.ttl.saturating_add(1)));
            return;
        }
        // DR: copy `b` is copy `a` re-sent by the host `a` was addressed to,
        // IP header kept (IPVS decrements the TTL, as a router would). What
        // tells the director from a router: it re-sends on the same segment
        // (both copies at one point), or it is the VIP's owner (it answers
        // ARP for the destination), or it is already known to forward.
        for a in syns.iter() {
            for b in syns.iter() {
                let (Some(ad), Some(bs), Some(bd)) = (a.dst_mac, b.src_mac, b.dst_mac) else {
                    continue;
                };
                if bs != ad
                    || bd == ad
                    || a.dst != b.dst
                    || a.outer.is_some()
                    || b.outer.is_some()
                    || (udp && (a.id != b.id || a.len != b.len))
                {
                    continue;
                }
                let director =
                    a.at.point == b.at.point || claims(hosts, a.dst, ad) || hosts.is_director(ad);
                if director {
                    self.ingress = Some(a);
                    self.set(Mode::Dr, b, Some(RsKey::Mac(bd)), Some(b.dport));
                    self.director_mac = Some(ad);
                    return;
                }
            }
        }
        // Only the forwarded copy seen (e.g. a capture on the real server):
        // it comes from a MAC known to forward for VIPs.
        if let Some(c) = syns.iter().find(|c| {
            c.src_mac.is_some_and(|m| hosts.is_director(m))
                && c.dst_mac.is_some_and(|m| !hosts.is_director(m))
        }) {
            let d = c.dst_mac.expect("checked");
            self.set(Mode::Dr, c, Some(RsKey::Mac(d)), Some(c.dport));
            self.director_mac = c.src_mac;
            self.ingress = syns.iter().find(|i| i.dst_mac == c.src_mac);
            return;
        }
        // Not forwarded at all: delivered by the gateway straight to a real
        // server (one that received forwarded traffic, or claims the VIP
        // beside another claimant). Only once a director is known: else the
        // VIP's owner is the director; and the one host that claims it is
        // its owner, a director that forwarded nothing here.
        if !hosts.has_director() {
            return;
        }
        if let Some(c) = syns.iter().find(|c| {
            c.outer.is_none()
                && c.dst == self.vaddr.ip
                && !c.src_mac.is_some_and(|m| hosts.is_director(m))
                && c.dst_mac.is_some_and(|d| {
                    !hosts.is_director(d)
                        && (hosts.is_real_server(d)
                            || claims_beside_another(hosts, self.vaddr.ip, d))
                })
        }) {
            let d = c.dst_mac.expect("checked");
            self.bypassed = Some(c);
            self.rs = Some(RsKey::Mac(d));
            self.rs_mac = Some(d);
            self.rs_port = Some(c.dport);
        }
    }

    fn set(&mut self, mode: Mode, c: &'a OpenCopy, rs: Option<RsKey>, port: Option<u16>) {
        self.mode = Some(mode);
        self.forward = Some(c);
        self.rs = rs;
        self.rs_mac = c.dst_mac;
        self.rs_port = port;
    }

    /// Teaches the host map what this flow shows (director and RS MACs, RIPs).
    pub fn learn(&self, hosts: &mut HostMap) {
        let Some(fwd) = self.forward else { return };
        match self.mode {
            Some(Mode::Dr) => {
                if let Some(d) = self.director_mac {
                    if self.ingress.is_some() {
                        hosts.director(d, fwd.at);
                    }
                }
                if let Some(m) = self.rs_mac {
                    hosts.real_server(m, fwd.at);
                }
            }
            Some(Mode::Nat) => {
                if let Some(d) = fwd.src_mac {
                    hosts.director(d, fwd.at);
                }
                if let Some(d) = self.ingress.and_then(|i| i.dst_mac) {
                    hosts.director(d, fwd.at);
                }
                if let Some(m) = fwd.dst_mac {
                    hosts.real_server(m, fwd.at);
                }
                if let Some(RsKey::Ip(ip)) = self.rs {
                    hosts.rips.insert(ip, Mode::Nat);
                }
            }
            Some(Mode::Tun) => {
                if let (Some(d), Some(_)) = (self.director_mac, self.ingress) {
                    hosts.director(d, fwd.at);
                }
                if let Some((src, dst)) = fwd.outer {
                    *hosts.tunnel_sources.entry(src).or_default() += 1;
                    hosts.rips.insert(dst, Mode::Tun);
                }
            }
            None => {}
        }
    }

    /// Handshake answers that came from the VIP (DR/TUN replies, NAT after rewrite).
    pub fn replies_from_vip(&self) -> impl Iterator<Item = &'a ReplyCopy> + '_ {
        let vip = self.vaddr.ip;
        self.flow.replies.iter().filter(move |r| r.src == vip)
    }

    /// Handshake answers from another address than the VIP (NAT before rewrite, or bypassing it).
    pub fn replies_not_from_vip(&self) -> impl Iterator<Item = &'a ReplyCopy> + '_ {
        let vip = self.vaddr.ip;
        self.flow.replies.iter().filter(move |r| r.src != vip)
    }
}

/// Whether `mac` claims `ip` (ARP / neighbour discovery) beside another
/// MAC: what makes a claimant of a VIP a real server rather than the VIP's
/// one owner, a director.
pub fn claims_beside_another(hosts: &HostMap, ip: IpAddr, mac: Mac) -> bool {
    hosts.neigh.claims(ip).is_some_and(|c| c.by_mac.len() > 1) && claims(hosts, ip, mac)
}

/// Whether `mac` answers ARP / neighbour discovery for `ip`.
fn claims(hosts: &HostMap, ip: IpAddr, mac: Mac) -> bool {
    hosts
        .neigh
        .claims(ip)
        .is_some_and(|c| c.by_mac.iter().any(|c| c.mac == mac))
}
