//! The flow table: bounded by live flows, never by capture size.

use super::{Flow, FlowKey, OpenCopy, ReplyCopy, Transport, MAX_COPIES};
use crate::decode::{Ip, Tcp, L2};
use crate::finding::Evidence;
use crate::model::Proto;
use rustc_hash::FxHashMap;

/// Default cap on live flows (about 0.5 KB each).
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
/// A closed flow lingers this long so copies at other points still join it.
const LINGER_NS: i64 = 2_000_000_000;
/// A handshake reset lingers longer: the client's SYN retransmissions
/// (1, 2, 4, 8 s apart) belong to the same connection attempt.
const RESET_LINGER_NS: i64 = 20_000_000_000;
/// A flow that never completed its handshake is retired after this idle time.
const HANDSHAKE_IDLE_NS: i64 = 60_000_000_000;
/// An established flow is retired after this idle time.
const IDLE_NS: i64 = 300_000_000_000;
const SWEEP_EVERY_NS: i64 = 1_000_000_000;

#[derive(Debug, Default, Clone, Copy)]
pub struct TableStats {
    pub flows: u64,
    /// Flows pushed out early because the table was full.
    pub evicted: u64,
    /// TCP packets that belong to no tracked connection (their SYN was not seen).
    pub untracked: u64,
    pub peak_flows: usize,
}

#[derive(Clone)]
pub struct FlowTable {
    /// Boxed: a flow is about a kilobyte and must not be copied as the map grows.
    map: FxHashMap<FlowKey, Box<Flow>>,
    cap: usize,
    last_sweep: i64,
    pub stats: TableStats,
}

impl FlowTable {
    pub fn new(cap: usize) -> FlowTable {
        FlowTable {
            map: FxHashMap::default(),
            cap: cap.max(16),
            last_sweep: i64::MIN,
            stats: TableStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds one TCP segment. Flows that end are appended to `retired`.
    pub fn observe_tcp(
        &mut self,
        at: Evidence,
        l2: Option<L2>,
        ip: &Ip,
        tcp: &Tcp,
        retired: &mut Vec<Box<Flow>>,
    ) {
        let ts = at.time;
        if ts.saturating_sub(self.last_sweep) >= SWEEP_EVERY_NS {
            self.sweep(ts, retired);
            self.last_sweep = ts;
        }
        let ck = FlowKey {
            proto: Proto::Tcp,
            client: ip.src,
            cport: tcp.sport,
        };
        let (src_mac, dst_mac) = (l2.map(|l| l.src), l2.and_then(|l| l.dst));

        if let Some(f) = self.map.get_mut(&ck) {
            if tcp.syn() && !tcp.ack_flag() && f.tcp_state().is_some_and(|t| tcp.seq != t.isn) {
                // Port reused for a new connection: the old one is over.
                let old = self.map.remove(&ck).expect("present");
                retired.push(old);
            } else {
                client_packet(f, at, src_mac, dst_mac, ip, tcp);
                return;
            }
        }
        let sk = FlowKey {
            proto: Proto::Tcp,
            client: ip.dst,
            cport: tcp.dport,
        };
        if let Some(f) = self.map.get_mut(&sk) {
            server_packet(f, at, src_mac, dst_mac, ip, tcp);
            return;
        }
        if tcp.syn() && !tcp.ack_flag() {
            if self.map.len() >= self.cap {
                self.evict(ts, retired);
            }
            let mut f = Box::new(Flow::tcp(ip.src, tcp.sport, tcp.seq, ts));
            client_packet(&mut f, at, src_mac, dst_mac, ip, tcp);
            self.map.insert(ck, f);
            self.stats.flows += 1;
            self.stats.peak_flows = self.stats.peak_flows.max(self.map.len());
        } else {
            self.stats.untracked += 1;
        }
    }

    #[allow(clippy::vec_box)] // boxes move between map and list as pointers
    fn sweep(&mut self, now: i64, retired: &mut Vec<Box<Flow>>) {
        if self.map.is_empty() {
            return;
        }
        retired.extend(
            self.map
                .extract_if(|_, f| match f.closed_ts {
                    Some(c) if f.established() => now - c > LINGER_NS,
                    Some(c) => now - c > RESET_LINGER_NS,
                    None if f.established() => now - f.last_ts > IDLE_NS,
                    None => now - f.last_ts > HANDSHAKE_IDLE_NS,
                })
                .map(|(_, f)| f),
        );
    }

    /// Table full: retire the flows idle longest (the oldest tenth).
    #[allow(clippy::vec_box)]
    fn evict(&mut self, now: i64, retired: &mut Vec<Box<Flow>>) {
        self.sweep(now, retired);
        if self.map.len() < self.cap {
            return;
        }
        let mut ages: Vec<i64> = self.map.values().map(|f| f.last_ts).collect();
        let n = (self.cap / 10).max(1);
        let (_, cutoff, _) = ages.select_nth_unstable(n - 1);
        let cutoff = *cutoff;
        let before = self.map.len();
        retired.extend(
            self.map
                .extract_if(|_, f| f.last_ts <= cutoff)
                .map(|(_, f)| f),
        );
        self.stats.evicted += (before - self.map.len()) as u64;
    }

    /// End of input: every flow is retired.
    pub fn drain(&mut self, retired: &mut Vec<Box<Flow>>) {
        retired.extend(self.map.drain().map(|(_, f)| f));
    }
}

fn client_packet(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<crate::decode::Mac>,
    dst_mac: Option<crate::decode::Mac>,
    ip: &Ip,
    tcp: &Tcp,
) {
    f.packets = f.packets.saturating_add(1);
    f.last_ts = f.last_ts.max(at.time);
    if tcp.syn() && !tcp.ack_flag() {
        let same = |c: &OpenCopy| {
            c.at.point == at.point
                && c.src_mac == src_mac
                && c.dst_mac == dst_mac
                && c.dst == ip.dst
                && c.dport == tcp.dport
                && c.outer == ip.outer
        };
        // A retransmitted SYN reopens a connection its reset had closed.
        f.closed_ts = None;
        if let Some(c) = f.opens.iter_mut().find(|c| same(c)) {
            c.count = c.count.saturating_add(1);
        } else if f.opens.len() < MAX_COPIES {
            f.opens.reserve_exact(1);
            f.opens.push(OpenCopy {
                at,
                count: 1,
                src_mac,
                dst_mac,
                dst: ip.dst,
                dport: tcp.dport,
                ttl: ip.ttl,
                id: ip.id,
                tos: ip.tos,
                len: ip.len,
                outer: ip.outer,
            });
        } else {
            f.copies_overflow = true;
        }
        return;
    }
    let Transport::Tcp(t) = &mut f.state;
    if tcp.rst() {
        t.client_rst.get_or_insert(at);
        f.closed_ts = Some(at.time);
        return;
    }
    if tcp.ack_flag() && t.client_ack.is_none() {
        t.client_ack = Some(at);
    }
    if tcp.fin() {
        t.fin_client = true;
        if t.fin_server {
            f.closed_ts.get_or_insert(at.time);
        }
    }
}

fn server_packet(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<crate::decode::Mac>,
    dst_mac: Option<crate::decode::Mac>,
    ip: &Ip,
    tcp: &Tcp,
) {
    f.packets = f.packets.saturating_add(1);
    f.last_ts = f.last_ts.max(at.time);
    let synack = tcp.syn() && tcp.ack_flag();
    if synack || (tcp.rst() && !f.established()) {
        let rst = !synack;
        let same = |c: &ReplyCopy| {
            c.at.point == at.point
                && c.src_mac == src_mac
                && c.dst_mac == dst_mac
                && c.src == ip.src
                && c.sport == tcp.sport
                && c.rst == rst
                && c.outer == ip.outer
        };
        if let Some(c) = f.replies.iter_mut().find(|c| same(c)) {
            c.count = c.count.saturating_add(1);
        } else if f.replies.len() < MAX_COPIES {
            f.replies.reserve_exact(1);
            f.replies.push(ReplyCopy {
                at,
                count: 1,
                src_mac,
                dst_mac,
                src: ip.src,
                sport: tcp.sport,
                rst,
                outer: ip.outer,
            });
        } else {
            f.copies_overflow = true;
        }
        if rst {
            f.closed_ts = Some(at.time);
        }
        return;
    }
    if tcp.rst() {
        f.closed_ts.get_or_insert(at.time);
        return;
    }
    let Transport::Tcp(t) = &mut f.state;
    t.server_data = true;
    if tcp.fin() {
        t.fin_server = true;
        if t.fin_client {
            f.closed_ts.get_or_insert(at.time);
        }
    }
}
