//! Who claims which IP address on the wire: ARP (IPv4) and neighbour
//! discovery (IPv6) senders, with when and how (reply, request, gratuitous).
//! Bounded: at most `MAX_IPS` addresses and `MAX_CLAIMANTS` MACs each.

use crate::decode::{Mac, Neigh, NeighOp};
use crate::finding::{Evidence, EvidenceSet};
use arrayvec::ArrayVec;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

pub const MAX_IPS: usize = 65_536;
pub const MAX_CLAIMANTS: usize = 4;
/// Moves of one address kept (a flapping one has more: a conflict anyway).
pub const MAX_MOVES: usize = 16;
/// Two moves closer than this are a conflict (two claimants answering in
/// turn), not hand-overs: a VRRP backup takes over after 3 adverts (3 s
/// at keepalived's default interval) at the earliest.
pub const MIN_HOLD_NS: i64 = 3_000_000_000;
/// Copies of one frame at different capture points arrive this close together.
const SAME_FRAME_NS: i64 = 1_000_000;

/// One MAC claiming one IP address.
#[derive(Debug, Clone)]
pub struct Claim {
    pub mac: Mac,
    pub first: Evidence,
    pub last: Evidence,
    pub count: u32,
    /// Gratuitous announcements among them.
    pub gratuitous: u32,
    /// Replies to somebody's request among them.
    pub replies: u32,
    pub evidence: EvidenceSet,
}

/// The claimant of an address changed: from one MAC to another, at the
/// new one's first claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub from: Mac,
    pub to: Mac,
    pub at: Evidence,
}

#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub by_mac: ArrayVec<Claim, MAX_CLAIMANTS>,
    /// The MAC of the latest claim, and how often the claimant changed.
    pub current: Option<Mac>,
    pub switches: u32,
    /// Evidence of each change of claimant (first few).
    pub switch_evidence: EvidenceSet,
    /// Each change of claimant, in order (the first [`MAX_MOVES`]).
    pub moves: ArrayVec<Move, MAX_MOVES>,
}

#[derive(Debug, Default, Clone)]
pub struct NeighTable {
    ips: FxHashMap<IpAddr, Claims>,
    /// Claims dropped because the table or an entry was full.
    pub dropped: u64,
    pub observed: u64,
}

impl NeighTable {
    pub fn observe(&mut self, n: &Neigh, at: Evidence) {
        self.observed += 1;
        if n.sender_ip.is_unspecified() || n.sender_mac == [0; 6] {
            return; // ARP probes claim nothing
        }
        let len = self.ips.len();
        let claims = match self.ips.get_mut(&n.sender_ip) {
            Some(c) => c,
            None if len < MAX_IPS => self.ips.entry(n.sender_ip).or_default(),
            None => {
                self.dropped += 1;
                return;
            }
        };
        // The same frame captured at several points is one claim.
        if let Some(c) = claims.by_mac.iter().find(|c| c.mac == n.sender_mac) {
            if c.last.point != at.point && (at.time - c.last.time).abs() < SAME_FRAME_NS {
                return;
            }
        }
        if let Some(from) = claims.current.filter(|m| *m != n.sender_mac) {
            claims.switches += 1;
            claims.switch_evidence.push(at);
            let _ = claims.moves.try_push(Move {
                from,
                to: n.sender_mac,
                at,
            });
        }
        claims.current = Some(n.sender_mac);
        let c = match claims.by_mac.iter_mut().position(|c| c.mac == n.sender_mac) {
            Some(i) => &mut claims.by_mac[i],
            None if !claims.by_mac.is_full() => {
                claims.by_mac.push(Claim {
                    mac: n.sender_mac,
                    first: at,
                    last: at,
                    count: 0,
                    gratuitous: 0,
                    replies: 0,
                    evidence: EvidenceSet::default(),
                });
                claims.by_mac.last_mut().expect("pushed")
            }
            None => {
                self.dropped += 1;
                return;
            }
        };
        c.last = at;
        c.count += 1;
        c.evidence.push(at);
        if n.gratuitous {
            c.gratuitous += 1;
        } else if n.op == NeighOp::Reply {
            c.replies += 1;
        }
    }

    pub fn claims(&self, ip: IpAddr) -> Option<&Claims> {
        self.ips.get(&ip)
    }

    /// The addresses a MAC claims (its own IPs, and any VIP it answers for).
    pub fn ips_of(&self, mac: Mac) -> impl Iterator<Item = IpAddr> + '_ {
        self.ips
            .iter()
            .filter(move |(_, c)| c.by_mac.iter().any(|m| m.mac == mac))
            .map(|(ip, _)| *ip)
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }
}

/// How ownership of one address played out over the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// One MAC (or none) claimed it.
    Single,
    /// Ownership moved from one MAC to another, cleanly, once or more (a
    /// failover, a failback, maintenance): each owner stopped claiming it
    /// before the next took it, and held it for a while.
    Moves(Vec<Move>),
    /// Several MACs claimed it at the same time, or it flapped back and forth.
    Conflict { macs: Vec<Mac> },
}

impl Claims {
    pub fn ownership(&self) -> Ownership {
        if self.by_mac.len() < 2 {
            return Ownership::Single;
        }
        let counted = self.moves.len() as u32 == self.switches;
        let held = self
            .moves
            .windows(2)
            .all(|w| w[1].at.time - w[0].at.time >= MIN_HOLD_NS);
        if counted && !self.moves.is_empty() && held {
            return Ownership::Moves(self.moves.to_vec());
        }
        Ownership::Conflict {
            macs: self.by_mac.iter().map(|c| c.mac).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64) -> Evidence {
        Evidence {
            point: 0,
            frame: t as u64,
            time: t,
        }
    }
    fn claim(t: &mut NeighTable, mac: u8, at: i64, grat: bool) {
        let n = Neigh {
            op: NeighOp::Reply,
            sender_mac: [2, 0, 0, 0, mac, 0],
            sender_ip: "192.0.2.100".parse().unwrap(),
            target_ip: if grat { "192.0.2.100" } else { "192.0.2.1" }
                .parse()
                .unwrap(),
            gratuitous: grat,
        };
        t.observe(&n, ev(at));
    }

    #[test]
    fn single_failover_and_conflict() {
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        let mut t = NeighTable::default();
        claim(&mut t, 0x0d, 1, false);
        claim(&mut t, 0x0d, 2, false);
        assert_eq!(t.claims(vip).unwrap().ownership(), Ownership::Single);
        claim(&mut t, 0x0f, 3, true);
        claim(&mut t, 0x0f, 4, false);
        let (d, d2) = ([2, 0, 0, 0, 0x0d, 0], [2, 0, 0, 0, 0x0f, 0]);
        assert_eq!(
            t.claims(vip).unwrap().ownership(),
            Ownership::Moves(vec![Move {
                from: d,
                to: d2,
                at: ev(3)
            }])
        );
        // Back a moment later: two claimants in turn, not a failback.
        claim(&mut t, 0x0d, 5, false);
        assert!(matches!(
            t.claims(vip).unwrap().ownership(),
            Ownership::Conflict { .. }
        ));
    }

    #[test]
    fn a_failback_is_two_moves() {
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        let s = 1_000_000_000;
        let mut t = NeighTable::default();
        claim(&mut t, 0x0d, s, false);
        claim(&mut t, 0x0f, 10 * s, true);
        claim(&mut t, 0x0f, 20 * s, false);
        claim(&mut t, 0x0d, 30 * s, true);
        let (d, d2) = ([2, 0, 0, 0, 0x0d, 0], [2, 0, 0, 0, 0x0f, 0]);
        assert_eq!(
            t.claims(vip).unwrap().ownership(),
            Ownership::Moves(vec![
                Move {
                    from: d,
                    to: d2,
                    at: ev(10 * s)
                },
                Move {
                    from: d2,
                    to: d,
                    at: ev(30 * s)
                }
            ])
        );
        // Each answering the gateway's requests in turn: a conflict.
        claim(&mut t, 0x0f, 30 * s + 2, false);
        assert!(matches!(
            t.claims(vip).unwrap().ownership(),
            Ownership::Conflict { .. }
        ));
    }

    #[test]
    fn bounded() {
        let mut t = NeighTable::default();
        for i in 0..(MAX_IPS as u32 + 10) {
            let n = Neigh {
                op: NeighOp::Request,
                sender_mac: [2, 1, 2, 3, 4, 5],
                sender_ip: IpAddr::V6(std::net::Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                )),
                target_ip: "192.0.2.1".parse().unwrap(),
                gratuitous: false,
            };
            t.observe(&n, ev(1));
        }
        assert_eq!(t.len(), MAX_IPS);
        assert_eq!(t.dropped, 10);
    }
}
