//! The life of a TCP connection after its handshake: data segments, ACKs,
//! retransmissions, resets and idle gaps, at every capture point, in space
//! bounded per connection (a connection lasting hours with millions of
//! segments keeps the same few legs and counters).
//!
//! A *leg* is what one sender's segments looked like at one point with one
//! addressing: at a DR director's interface the client's segments arrive on
//! one leg (to the director's MAC) and leave on another (to the real
//! server's MAC). Comparing the two tells whether, and until when, the
//! director forwarded the connection.

use super::OpenCopy;
use crate::decode::{Ip, Mac, Tcp};
use crate::finding::Evidence;
use std::net::IpAddr;

/// Legs kept per connection: both directions at four points, each with an
/// arriving and a forwarded copy.
pub const MAX_LEGS: usize = 8;
/// Idle gaps shorter than this are not tracked.
pub const MIN_GAP_NS: i64 = 1_000_000_000;
/// Copies of a reset kept (one per sending MAC): the copy at the point next
/// to its sender says who sent it, whichever point stamped it first.
pub const MAX_RST_COPIES: usize = 3;

/// Copies of one reset, one per sending MAC, at most [`MAX_RST_COPIES`]
/// (most connections have none: nothing is allocated for them).
pub type Resets = Vec<RstSeen>;

fn add_rst(v: &mut Resets, r: RstSeen) {
    if !v.iter().any(|x| x.src_mac == r.src_mac) && v.len() < MAX_RST_COPIES {
        v.reserve_exact(1);
        v.push(r);
    }
}

/// Sequence-space order (RFC 1982): `a` comes after `b`.
pub fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// One sender's segments at one point with one addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub from_client: bool,
    pub first_ts: i64,
    /// The latest segment.
    pub last: Evidence,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// The other end's address as this leg shows it: the destination of
    /// the client's segments (VIP, or RIP after a NAT rewrite), the source
    /// of the server's.
    pub peer: IpAddr,
    /// Tunnel (source, destination), for IP-in-IP.
    pub outer: Option<(IpAddr, IpAddr)>,
    /// Segments after the handshake, of every kind.
    pub segments: u32,
    /// Of them, with data.
    pub data: u32,
    /// Bytes of data, retransmissions included.
    pub bytes: u64,
    /// Where the data seen here ends (sequence space).
    pub max_end: u32,
    /// Data segments that re-sent bytes already seen on this leg
    /// (keepalive probes are not counted).
    pub retx: u32,
    pub first_retx: Option<Evidence>,
    /// The first retransmitted segment's sequence number.
    pub retx_seq: u32,
    /// The smallest retransmitted segment (IP total length).
    pub retx_min_len: u16,
    /// The largest segment (IP total length, the inner packet for IP-in-IP).
    pub max_len: u16,
}

impl Leg {
    /// Whether the handshake copy `c` (the client's SYN) travelled on this leg.
    pub fn carries(&self, c: &OpenCopy) -> bool {
        self.from_client
            && self.last.point == c.at.point
            && self.src_mac == c.src_mac
            && self.dst_mac == c.dst_mac
            && self.peer == c.dst
            && self.outer == c.outer
    }
}

/// A reset towards the client after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstSeen {
    pub at: Evidence,
    pub src_mac: Option<Mac>,
    pub src: IpAddr,
}

/// The longest silence after the handshake, and what came after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub idle_ns: i64,
    /// The last packet before it.
    pub before: Evidence,
    /// The first packet after it.
    pub resume: Evidence,
    pub resumed_by_client: bool,
    /// A packet from the server (not a reset) came after it.
    pub server_after: bool,
    /// The resets towards the client after it.
    pub rst_after: Resets,
}

impl Gap {
    /// `t` is after the silence: past its middle (capture points' clocks
    /// differ by milliseconds, silences last seconds).
    pub fn is_after(&self, t: i64) -> bool {
        t > self.before.time + self.idle_ns / 2
    }
}

/// What a connection did after its handshake.
#[derive(Debug, Clone, Default)]
pub struct Life {
    /// Grown one leg at a time, at most [`MAX_LEGS`].
    pub legs: Vec<Leg>,
    pub legs_overflow: bool,
    /// The highest acknowledgement each side sent.
    pub client_acked: Option<u32>,
    pub server_acked: Option<u32>,
    /// Boxed: most connections never fall silent for long.
    pub gap: Option<Box<Gap>>,
    /// The resets towards the client after the handshake.
    pub server_rst: Resets,
    /// The latest packet of the connection (any point, either side).
    last: Option<Evidence>,
    /// The latest server packet that was not a reset.
    pub last_server_ts: Option<i64>,
}

impl Life {
    /// As new ([`Life::default`]), keeping the room of its vectors.
    pub fn reset(&mut self) {
        let (mut legs, mut rst) = (
            std::mem::take(&mut self.legs),
            std::mem::take(&mut self.server_rst),
        );
        legs.clear();
        rst.clear();
        *self = Life {
            legs,
            server_rst: rst,
            ..Life::default()
        };
    }

    /// Counts one segment after the handshake; `established` says the
    /// handshake had completed (only then are idle gaps tracked).
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        at: Evidence,
        src_mac: Option<Mac>,
        dst_mac: Option<Mac>,
        ip: &Ip,
        tcp: &Tcp,
        from_client: bool,
        established: bool,
    ) {
        // The silence before this packet.
        if let Some(prev) = self.last {
            let idle = at.time - prev.time;
            if established
                && idle >= MIN_GAP_NS
                && self.gap.as_ref().is_none_or(|g| idle > g.idle_ns)
            {
                self.gap = Some(Box::new(Gap {
                    idle_ns: idle,
                    before: prev,
                    resume: at,
                    resumed_by_client: from_client,
                    server_after: false,
                    rst_after: Resets::new(),
                }));
            }
        }
        if self.last.is_none_or(|p| at.time >= p.time) {
            self.last = Some(at);
        }
        if tcp.ack_flag() {
            let acked = if from_client {
                &mut self.client_acked
            } else {
                &mut self.server_acked
            };
            if acked.is_none_or(|a| seq_after(tcp.ack, a)) {
                *acked = Some(tcp.ack);
            }
        }
        if !from_client {
            if tcp.rst() {
                let r = RstSeen {
                    at,
                    src_mac,
                    src: ip.src,
                };
                add_rst(&mut self.server_rst, r);
                if let Some(g) = &mut self.gap {
                    if g.is_after(at.time) {
                        add_rst(&mut g.rst_after, r);
                    }
                }
            } else {
                self.last_server_ts = Some(self.last_server_ts.map_or(at.time, |t| t.max(at.time)));
                if let Some(g) = &mut self.gap {
                    if g.is_after(at.time) {
                        g.server_after = true;
                    }
                }
            }
        }
        let peer = if from_client { ip.dst } else { ip.src };
        let same = |l: &Leg| {
            l.from_client == from_client
                && l.last.point == at.point
                && l.src_mac == src_mac
                && l.dst_mac == dst_mac
                && l.peer == peer
                && l.outer == ip.outer
        };
        let leg = match self.legs.iter_mut().position(|l| same(l)) {
            Some(i) => &mut self.legs[i],
            None if self.legs.len() < MAX_LEGS => {
                // A connection through a director has four legs or more
                // (arriving and forwarded, each way): grown in two steps.
                self.legs.reserve_exact(if self.legs.is_empty() {
                    4
                } else {
                    MAX_LEGS - self.legs.len()
                });
                self.legs.push(Leg {
                    from_client,
                    first_ts: at.time,
                    last: at,
                    src_mac,
                    dst_mac,
                    peer,
                    outer: ip.outer,
                    segments: 0,
                    data: 0,
                    bytes: 0,
                    max_end: tcp.seq,
                    retx: 0,
                    first_retx: None,
                    retx_seq: 0,
                    retx_min_len: 0,
                    max_len: 0,
                });
                self.legs.last_mut().expect("pushed")
            }
            None => {
                self.legs_overflow = true;
                return;
            }
        };
        leg.segments = leg.segments.saturating_add(1);
        if at.time >= leg.last.time {
            leg.last = at;
        }
        leg.max_len = leg.max_len.max(ip.len);
        let len = tcp.payload_len;
        if len == 0 {
            return;
        }
        let end = tcp.seq.wrapping_add(len);
        // A keepalive probe re-sends the last byte (or none): not a loss.
        let keepalive = len == 1 && end == leg.max_end;
        if leg.data > 0 && !seq_after(end, leg.max_end) {
            if !keepalive {
                leg.retx = leg.retx.saturating_add(1);
                if leg.first_retx.is_none() {
                    leg.first_retx = Some(at);
                    leg.retx_seq = tcp.seq;
                    leg.retx_min_len = ip.len;
                }
                leg.retx_min_len = leg.retx_min_len.min(ip.len);
            }
        } else {
            leg.max_end = end;
        }
        leg.data = leg.data.saturating_add(1);
        leg.bytes = leg.bytes.saturating_add(u64::from(len));
    }

    /// The leg the client's SYN copy `c` travelled on, once data followed.
    pub fn leg_of(&self, c: &OpenCopy) -> Option<&Leg> {
        self.legs.iter().find(|l| l.carries(c))
    }

    /// Whether the retransmitted data starting at `seq` was ever
    /// acknowledged by the other side.
    pub fn acked_past(&self, from_client: bool, seq: u32) -> bool {
        let acked = if from_client {
            self.server_acked
        } else {
            self.client_acked
        };
        acked.is_some_and(|a| seq_after(a, seq))
    }

    /// The sender's leg with the most retransmissions (its nearest point
    /// shows them all).
    pub fn worst_retx(&self, from_client: bool) -> Option<&Leg> {
        self.legs
            .iter()
            .filter(|l| l.from_client == from_client && l.retx > 0)
            .max_by_key(|l| (l.retx, std::cmp::Reverse(l.last.point)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{tcp_flags, L4};

    fn seg(seq: u32, len: u32, flags: u8) -> (Ip, Tcp) {
        let tcp = Tcp {
            sport: 40000,
            dport: 80,
            seq,
            ack: 1,
            flags,
            payload_len: len,
            mss: 0,
        };
        let ip = Ip {
            src: "203.0.113.10".parse().unwrap(),
            dst: "192.0.2.100".parse().unwrap(),
            ttl: 63,
            id: 0,
            tos: 0,
            len: 40 + len as u16,
            l4: L4::Tcp(tcp),
            outer: None,
            encap: Default::default(),
        };
        (ip, tcp)
    }

    fn at(time: i64) -> Evidence {
        Evidence {
            point: 0,
            frame: time as u64,
            time,
        }
    }

    #[test]
    fn retransmissions_are_counted_across_sequence_wrap_and_keepalives_are_not() {
        let mut l = Life::default();
        let ack = tcp_flags::ACK;
        let start = u32::MAX - 1000;
        let mut t = 0;
        let mut send = |l: &mut Life, seq: u32, len: u32| {
            t += 1;
            let (ip, tcp) = seg(seq, len, ack);
            l.segment(at(t), None, None, &ip, &tcp, true, true);
        };
        send(&mut l, start, 1448);
        // Wrapped past 2^32: new data, not a retransmission.
        send(&mut l, start.wrapping_add(1448), 1448);
        assert_eq!(l.legs[0].retx, 0);
        // A keepalive probe: one byte ending where the data ends.
        send(&mut l, start.wrapping_add(2895), 1);
        assert_eq!(l.legs[0].retx, 0);
        // The second segment again: one retransmission.
        send(&mut l, start.wrapping_add(1448), 1448);
        assert_eq!(l.legs[0].retx, 1);
        assert_eq!(l.legs[0].retx_seq, start.wrapping_add(1448));
        assert_eq!(l.legs[0].data, 4);
        assert_eq!(l.legs.len(), 1, "one leg for one point and addressing");
    }

    #[test]
    fn the_longest_gap_remembers_what_followed_it() {
        let mut l = Life::default();
        let (ip, tcp) = seg(1, 10, tcp_flags::ACK);
        l.segment(at(0), None, None, &ip, &tcp, true, true);
        l.segment(at(2_000_000_000), None, None, &ip, &tcp, true, true);
        // The reset from the VIP after the gap.
        let (mut rip, rtcp) = seg(1, 0, tcp_flags::RST);
        std::mem::swap(&mut rip.src, &mut rip.dst);
        l.segment(
            at(2_000_100_000),
            Some([2, 0, 0, 0, 0xd, 0]),
            None,
            &rip,
            &rtcp,
            false,
            true,
        );
        let g = l.gap.clone().expect("a 2 s gap");
        assert_eq!(g.idle_ns, 2_000_000_000);
        assert!(g.resumed_by_client && !g.server_after);
        assert_eq!(g.rst_after[0].src_mac, Some([2, 0, 0, 0, 0xd, 0]));
        // A shorter gap later does not replace it.
        l.segment(at(3_500_000_000), None, None, &ip, &tcp, true, true);
        assert_eq!(l.gap.unwrap().idle_ns, 2_000_000_000);
    }

    #[test]
    fn legs_are_bounded() {
        let mut l = Life::default();
        for p in 0..20u16 {
            let (ip, tcp) = seg(1, 10, tcp_flags::ACK);
            let mut e = at(i64::from(p));
            e.point = p;
            l.segment(e, None, None, &ip, &tcp, true, true);
        }
        assert_eq!(l.legs.len(), MAX_LEGS);
        assert!(l.legs_overflow);
    }
}
