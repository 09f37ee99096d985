//! The flow table: bounded by live flows, never by capture size.

use super::life::Life;
use super::{Flow, FlowKey, IcmpCopy, OpenCopy, ReplyCopy, Transport, MAX_COPIES};
use crate::decode::{IcmpKind, Ip, Mac, Quote, Tcp, L2};
use crate::finding::Evidence;
use crate::model::Proto;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Default cap on live flows: about 0.7 KB for a handshake, 2 KB for an
/// established connection with data (its legs), so at most ~200 MB.
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
/// A closed flow lingers this long so copies at other points still join it.
const LINGER_NS: i64 = 2_000_000_000;
/// A handshake reset lingers longer: the client's SYN retransmissions
/// (1, 2, 4, 8 s apart) belong to the same connection attempt.
const RESET_LINGER_NS: i64 = 20_000_000_000;
/// A flow that never completed its handshake is retired after this idle time.
const HANDSHAKE_IDLE_NS: i64 = 60_000_000_000;
/// An established flow is retired after this idle time: longer than IPVS's
/// TCP timeout (900 s by default) and Linux's first keepalive (7200 s), so
/// that the packet after a long silence still finds its connection.
const IDLE_NS: i64 = 7_300_000_000_000;
const SWEEP_EVERY_NS: i64 = 1_000_000_000;
/// Full NAT: the director's rewritten SYN follows the client's within this
/// time (a retransmission's copy, within this time of the retransmission).
const MASQ_WINDOW_NS: i64 = 1_000_000_000;

/// A full-NAT director's side of a connection: (transport, its rewritten
/// source address and port, the real server's address and port). A
/// masquerading director reuses a source port towards other destinations.
type MasqKey = (Proto, IpAddr, u16, IpAddr, u16);

#[derive(Debug, Default, Clone, Copy)]
pub struct TableStats {
    pub flows: u64,
    /// Flows pushed out early because the table was full.
    pub evicted: u64,
    /// TCP packets that belong to no tracked connection (their SYN was not seen).
    pub untracked: u64,
    /// UDP datagrams that belong to no flow: broadcast or multicast, or an
    /// answer whose request was not seen.
    pub untracked_udp: u64,
    /// ICMP errors about no tracked flow (or quoting too little to tell).
    pub untracked_icmp: u64,
    pub peak_flows: usize,
    /// Flows whose forwarded leg had its source rewritten (full NAT).
    pub masqueraded: u64,
}

pub struct FlowTable {
    /// Boxed: a flow is about a kilobyte and must not be copied as the map grows.
    map: FxHashMap<FlowKey, Box<Flow>>,
    /// Full NAT: a rewritten source (director address and port) → the
    /// client's flow. One entry per masqueraded flow, removed with it.
    alias: FxHashMap<MasqKey, FlowKey>,
    /// TCP flows by the client's ISN, to pair a SYN whose source the
    /// director rewrote. One entry per live TCP flow, removed with it.
    by_isn: FxHashMap<u32, FlowKey>,
    /// Further flows with an ISN already in `by_isn` (rare: 2^-32 apart).
    isn_clash: FxHashMap<u32, Vec<FlowKey>>,
    /// UDP flows opened in the last [`MASQ_WINDOW_NS`], by their first
    /// datagram's (IP length, payload digest): to pair a datagram whose
    /// source the director rewrote. Pruned every sweep; at most `cap`.
    udp_recent: FxHashMap<(u16, u32), (FlowKey, i64)>,
    cap: usize,
    last_sweep: i64,
    pub stats: TableStats,
    /// Finished flows' allocations, emptied, for new flows to reuse (at
    /// most [`SPARE`]): a flow and its vectors are not allocated, grown and
    /// freed again for every connection. Boxed: they move back into the
    /// map as they are.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Flow>>,
    /// The same for the life after a handshake.
    #[allow(clippy::vec_box)]
    lives: Vec<Box<Life>>,
}

/// Spare flows and lives kept for reuse (each about a kilobyte).
const SPARE: usize = 4096;

impl FlowTable {
    pub fn new(cap: usize) -> FlowTable {
        FlowTable {
            map: FxHashMap::default(),
            alias: FxHashMap::default(),
            by_isn: FxHashMap::default(),
            isn_clash: FxHashMap::default(),
            udp_recent: FxHashMap::default(),
            cap: cap.max(16),
            last_sweep: i64::MIN,
            stats: TableStats::default(),
            spare: Vec::new(),
            lives: Vec::new(),
        }
    }

    /// Gives a finished flow's allocations back for new flows to reuse
    /// (or frees them, beyond [`SPARE`]).
    pub fn recycle(&mut self, mut f: Box<Flow>) {
        if let Transport::Tcp(t) = &mut f.state {
            if let Some(mut l) = t.life.take() {
                if self.lives.len() < SPARE {
                    l.reset();
                    self.lives.push(l);
                }
            }
        }
        if self.spare.len() < SPARE {
            f.opens.clear();
            f.replies.clear();
            f.icmp.clear();
            self.spare.push(f);
        }
    }

    /// `new` in a spare flow's allocation (keeping its vectors' room), or
    /// in a new one.
    fn make(&mut self, new: Flow) -> Box<Flow> {
        let Some(mut b) = self.spare.pop() else {
            return Box::new(new);
        };
        let (opens, replies, icmp) = (
            std::mem::take(&mut b.opens),
            std::mem::take(&mut b.replies),
            std::mem::take(&mut b.icmp),
        );
        *b = new;
        debug_assert!(b.opens.is_empty() && b.replies.is_empty() && b.icmp.is_empty());
        b.opens = opens;
        b.replies = replies;
        b.icmp = icmp;
        b
    }

    /// The live flows, in no order.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.map.values().map(|f| &**f)
    }

    /// An empty table with the same cap and counters.
    pub fn empty_like(&self) -> FlowTable {
        FlowTable {
            map: FxHashMap::default(),
            alias: FxHashMap::default(),
            by_isn: FxHashMap::default(),
            isn_clash: FxHashMap::default(),
            udp_recent: FxHashMap::default(),
            cap: self.cap,
            last_sweep: self.last_sweep,
            stats: self.stats,
            spare: Vec::new(),
            lives: Vec::new(),
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

        let syn = tcp.syn() && !tcp.ack_flag();
        if let Some(f) = self.map.get_mut(&ck) {
            if syn && f.tcp_state().is_some_and(|t| tcp.seq != t.isn) {
                // Port reused for a new connection: the old one is over.
                let old = self.map.remove(&ck).expect("present");
                self.forget(&old);
                retired.push(old);
            } else {
                client_packet(f, at, src_mac, dst_mac, ip, tcp, None, &mut self.lives);
                return;
            }
        }
        // The client's side as the director rewrote it (full NAT).
        let ak = (Proto::Tcp, ip.src, tcp.sport, ip.dst, tcp.dport);
        if let Some(orig) = self.alias.get(&ak).copied() {
            match self.map.get_mut(&orig) {
                Some(f) if !(syn && f.tcp_state().is_some_and(|t| tcp.seq != t.isn)) => {
                    client_packet(
                        f,
                        at,
                        src_mac,
                        dst_mac,
                        ip,
                        tcp,
                        Some((ip.src, tcp.sport)),
                        &mut self.lives,
                    );
                    return;
                }
                _ => {
                    // A new connection from the director's port.
                    self.alias.remove(&ak);
                }
            }
        }
        let sk = FlowKey {
            proto: Proto::Tcp,
            client: ip.dst,
            cport: tcp.dport,
        };
        if let Some(f) = self.map.get_mut(&sk) {
            server_packet(f, at, src_mac, dst_mac, ip, tcp, &mut self.lives);
            return;
        }
        let sak = (Proto::Tcp, ip.dst, tcp.dport, ip.src, tcp.sport);
        if let Some(f) = self.alias.get(&sak).and_then(|o| self.map.get_mut(o)) {
            server_packet(f, at, src_mac, dst_mac, ip, tcp, &mut self.lives);
            return;
        }
        if syn {
            if self.pair_masqueraded(ck, at, src_mac, dst_mac, ip, tcp) {
                return;
            }
            if self.map.len() >= self.cap {
                self.evict(ts, retired);
            }
            let mut f = self.make(Flow::tcp(ip.src, tcp.sport, tcp.seq, ts));
            client_packet(&mut f, at, src_mac, dst_mac, ip, tcp, None, &mut self.lives);
            self.map.insert(ck, f);
            self.index_isn(tcp.seq, ck);
            self.stats.flows += 1;
            self.stats.peak_flows = self.stats.peak_flows.max(self.map.len());
        } else {
            self.stats.untracked += 1;
        }
    }

    /// Full NAT: a SYN from a new source that is another flow's SYN with
    /// its source rewritten: the same ISN, IP ID and length, moments after
    /// it. The copy nearer the client (the higher TTL) keeps the flow; the
    /// other source becomes its alias. Returns whether it was paired.
    fn pair_masqueraded(
        &mut self,
        ck: FlowKey,
        at: Evidence,
        src_mac: Option<Mac>,
        dst_mac: Option<Mac>,
        ip: &Ip,
        tcp: &Tcp,
    ) -> bool {
        let first = self.by_isn.get(&tcp.seq).copied();
        let more = self.isn_clash.get(&tcp.seq);
        // The earliest flow this SYN can be a rewrite of.
        let Some(other) = first
            .into_iter()
            .chain(more.into_iter().flatten().copied())
            .find(|k| {
                self.map
                    .get(k)
                    .is_some_and(|f| masquerade_of(f, ck, at, ip, tcp))
            })
        else {
            return false;
        };
        let nearest = self.map[&other]
            .opens
            .iter()
            .map(|o| o.ttl)
            .max()
            .unwrap_or(0);
        if ip.ttl > nearest {
            // The rewritten copy was seen first (clocks differ between
            // points): this SYN is the client's, the flow its masquerade.
            let mut f = self.map.remove(&other).expect("present");
            self.forget(&f);
            let to = f
                .opens
                .first()
                .map_or((ip.dst, tcp.dport), |o| (o.dst, o.dport));
            f.client = ip.src;
            f.cport = tcp.sport;
            f.masq = Some((other.client, other.cport, to.0, to.1));
            for o in &mut f.opens {
                o.masq = Some((other.client, other.cport));
            }
            client_packet(&mut f, at, src_mac, dst_mac, ip, tcp, None, &mut self.lives);
            self.map.insert(ck, f);
            self.alias
                .insert((Proto::Tcp, other.client, other.cport, to.0, to.1), ck);
            self.index_isn(tcp.seq, ck);
        } else {
            let f = self.map.get_mut(&other).expect("present");
            f.masq = Some((ip.src, tcp.sport, ip.dst, tcp.dport));
            client_packet(
                f,
                at,
                src_mac,
                dst_mac,
                ip,
                tcp,
                Some((ip.src, tcp.sport)),
                &mut self.lives,
            );
            self.alias
                .insert((Proto::Tcp, ip.src, tcp.sport, ip.dst, tcp.dport), other);
        }
        self.stats.masqueraded += 1;
        true
    }

    fn index_isn(&mut self, isn: u32, k: FlowKey) {
        match self.by_isn.get(&isn) {
            Some(o) if *o != k && self.map.contains_key(o) => {
                self.isn_clash.entry(isn).or_default().push(k)
            }
            _ => {
                self.by_isn.insert(isn, k);
            }
        }
    }

    /// Drops a retired flow's index entries.
    fn forget(&mut self, f: &Flow) {
        let k = f.key();
        if let Some((ip, port, to, to_port)) = f.masq {
            if self.alias.get(&(f.proto, ip, port, to, to_port)) == Some(&k) {
                self.alias.remove(&(f.proto, ip, port, to, to_port));
            }
        }
        if let Some(t) = f.tcp_state() {
            if self.by_isn.get(&t.isn) == Some(&k) {
                self.by_isn.remove(&t.isn);
            }
            if let Some(v) = self.isn_clash.get_mut(&t.isn) {
                v.retain(|o| *o != k);
                if v.is_empty() {
                    self.isn_clash.remove(&t.isn);
                }
            }
        }
    }

    /// Drops the index entries of the flows retired since `from`.
    #[allow(clippy::vec_box)]
    fn forget_from(&mut self, retired: &[Box<Flow>], from: usize) {
        if self.alias.is_empty() && self.by_isn.is_empty() {
            return;
        }
        for f in &retired[from..] {
            self.forget(f);
        }
    }

    /// Adds one UDP datagram. A datagram from a port that has a flow is
    /// its client's; to such a port, its server's. Otherwise it opens a
    /// flow when it looks like a request: to a port no higher than its
    /// source port (services listen on low ports, clients send from
    /// ephemeral ones), to a unicast address. An answer whose request was
    /// not seen opens nothing.
    pub fn observe_udp(
        &mut self,
        at: Evidence,
        l2: Option<L2>,
        ip: &Ip,
        (sport, dport, digest): (u16, u16, u32),
        retired: &mut Vec<Box<Flow>>,
    ) {
        let ts = at.time;
        if ts.saturating_sub(self.last_sweep) >= SWEEP_EVERY_NS {
            self.sweep(ts, retired);
            self.last_sweep = ts;
        }
        let (src_mac, dst_mac) = (l2.map(|l| l.src), l2.and_then(|l| l.dst));
        // Broadcast and multicast (by address or by frame) belong to no flow.
        if !unicast(ip.dst) || !unicast(ip.src) || dst_mac.is_some_and(|m| m[0] & 1 == 1) {
            self.stats.untracked_udp += 1;
            return;
        }
        let ck = FlowKey {
            proto: Proto::Udp,
            client: ip.src,
            cport: sport,
        };
        if let Some(f) = self.map.get_mut(&ck) {
            f.packets = f.packets.saturating_add(1);
            f.last_ts = f.last_ts.max(ts);
            add_open(f, at, src_mac, dst_mac, ip, dport, None);
            return;
        }
        let sk = FlowKey {
            proto: Proto::Udp,
            client: ip.dst,
            cport: dport,
        };
        if let Some(f) = self.map.get_mut(&sk) {
            f.packets = f.packets.saturating_add(1);
            f.last_ts = f.last_ts.max(ts);
            add_reply(f, at, src_mac, dst_mac, ip, sport, false);
            return;
        }
        // Full NAT: from and to the client's source as the director
        // rewrote it.
        let masq = Some((ip.src, sport));
        if let Some(f) = self
            .alias
            .get(&(Proto::Udp, ip.src, sport, ip.dst, dport))
            .and_then(|o| self.map.get_mut(o))
        {
            f.packets = f.packets.saturating_add(1);
            f.last_ts = f.last_ts.max(ts);
            add_open(f, at, src_mac, dst_mac, ip, dport, masq);
            return;
        }
        if let Some(f) = self
            .alias
            .get(&(Proto::Udp, ip.dst, dport, ip.src, sport))
            .and_then(|o| self.map.get_mut(o))
        {
            f.packets = f.packets.saturating_add(1);
            f.last_ts = f.last_ts.max(ts);
            add_reply(f, at, src_mac, dst_mac, ip, sport, false);
            return;
        }
        // A flow's first datagram, re-addressed by a full-NAT director: the
        // same length and payload moments later, to another destination
        // with another TTL.
        let recent = (digest != 0)
            .then(|| self.udp_recent.get(&(ip.len, digest)).copied())
            .flatten()
            .filter(|(k, t)| *k != ck && (ts - t).abs() <= MASQ_WINDOW_NS);
        if let Some((orig, _)) = recent {
            // Not an answer from where the flow's datagrams went.
            if let Some(f) = self.map.get_mut(&orig).filter(|f| {
                f.masq.is_none()
                    && f.opens
                        .iter()
                        .all(|o| o.dst != ip.dst && o.ttl != ip.ttl && o.dst != ip.src)
            }) {
                let nearest = f.opens.iter().map(|o| o.ttl).max().unwrap_or(0);
                f.packets = f.packets.saturating_add(1);
                f.last_ts = f.last_ts.max(ts);
                if ip.ttl < nearest {
                    f.masq = Some((ip.src, sport, ip.dst, dport));
                    add_open(f, at, src_mac, dst_mac, ip, dport, masq);
                    self.alias
                        .insert((Proto::Udp, ip.src, sport, ip.dst, dport), orig);
                } else {
                    // The rewritten copy was seen first: this is the
                    // client's datagram, the flow its masquerade.
                    let mut f = self.map.remove(&orig).expect("present");
                    let to = f
                        .opens
                        .first()
                        .map_or((ip.dst, dport), |o| (o.dst, o.dport));
                    f.client = ip.src;
                    f.cport = sport;
                    f.masq = Some((orig.client, orig.cport, to.0, to.1));
                    for o in &mut f.opens {
                        o.masq = Some((orig.client, orig.cport));
                    }
                    add_open(&mut f, at, src_mac, dst_mac, ip, dport, None);
                    self.map.insert(ck, f);
                    self.alias
                        .insert((Proto::Udp, orig.client, orig.cport, to.0, to.1), ck);
                }
                self.udp_recent.remove(&(ip.len, digest));
                self.stats.masqueraded += 1;
                return;
            }
        }
        if dport > sport {
            self.stats.untracked_udp += 1;
            return;
        }
        if self.map.len() >= self.cap {
            self.evict(ts, retired);
        }
        if digest != 0 && self.udp_recent.len() < self.cap {
            self.udp_recent.insert((ip.len, digest), (ck, ts));
        }
        let mut f = self.make(Flow::udp(ip.src, sport, ts));
        f.packets = 1;
        add_open(&mut f, at, src_mac, dst_mac, ip, dport, None);
        self.map.insert(ck, f);
        self.stats.flows += 1;
        self.stats.peak_flows = self.stats.peak_flows.max(self.map.len());
    }

    /// Adds an ICMP error to the flow whose packet it quotes: one from its
    /// client (the error is about a request) or to it (about an answer). An
    /// error about a packet never seen, or whose quote does not fit the
    /// flow's own packets, is counted and dropped. Copies are bounded per
    /// flow (a storm of one error is one copy with a count).
    pub fn observe_icmp(
        &mut self,
        at: Evidence,
        l2: Option<L2>,
        ip: &Ip,
        kind: IcmpKind,
        quote: Option<Quote>,
    ) {
        let Some(q) = quote else {
            self.stats.untracked_icmp += 1;
            return;
        };
        let proto = Proto::from_number(u16::from(q.proto));
        // A quote from or to a full-NAT director's rewritten source is
        // about the client's flow.
        // (from, its port, to, its port): the flow of the client that sent
        // it, directly or through its masquerade.
        let resolve = |from: IpAddr, fp: u16, to: IpAddr, tp: u16| {
            let k = FlowKey {
                proto,
                client: from,
                cport: fp,
            };
            match self.alias.get(&(proto, from, fp, to, tp)) {
                Some(o) if !self.map.contains_key(&k) => *o,
                _ => k,
            }
        };
        let about_request = resolve(q.src, q.sport, q.dst, q.dport);
        let about_answer = resolve(q.dst, q.dport, q.src, q.sport);
        // The quote must be one of the flow's own packets: a request to
        // where its copies went (the VIP, or the RIP after a NAT rewrite),
        // or an answer from where its answers came. A quote that only
        // shares the client's address and port proves nothing about it.
        let request_fits = |f: &Flow| f.opens.iter().any(|o| o.dst == q.dst && o.dport == q.dport);
        let answer_fits = |f: &Flow| {
            f.replies
                .iter()
                .any(|r| r.src == q.src && r.sport == q.sport)
                || f.opens.iter().any(|o| o.dst == q.src && o.dport == q.sport)
        };
        let about_request = if self
            .map
            .get(&about_request)
            .is_some_and(|f| request_fits(f))
        {
            Some((about_request, true))
        } else if self.map.get(&about_answer).is_some_and(|f| answer_fits(f)) {
            Some((about_answer, false))
        } else {
            None
        };
        let Some((f, about_request)) =
            about_request.and_then(|(k, r)| self.map.get_mut(&k).map(|f| (f, r)))
        else {
            self.stats.untracked_icmp += 1;
            return;
        };
        f.packets = f.packets.saturating_add(1);
        f.last_ts = f.last_ts.max(at.time);
        let (src_mac, dst_mac) = (l2.map(|l| l.src), l2.and_then(|l| l.dst));
        let same = |c: &IcmpCopy| {
            c.at.point == at.point
                && c.kind == kind
                && c.from == ip.src
                && c.src_mac == src_mac
                && c.about_request == about_request
        };
        if let Some(c) = f.icmp.iter_mut().find(|c| same(c)) {
            c.count = c.count.saturating_add(1);
        } else if f.icmp.len() < MAX_COPIES {
            f.icmp.reserve_exact(1);
            f.icmp.push(IcmpCopy {
                at,
                count: 1,
                kind,
                from: ip.src,
                src_mac,
                dst_mac,
                about_request,
                quoted_dst: if about_request { q.dst } else { q.src },
            });
        } else {
            f.copies_overflow = true;
        }
    }

    /// Retires what has been idle long enough at time `now`, packets or
    /// not (a live capture's clock goes on between packets).
    #[allow(clippy::vec_box)]
    pub fn expire(&mut self, now: i64, retired: &mut Vec<Box<Flow>>) {
        self.sweep(now, retired);
    }

    #[allow(clippy::vec_box)] // boxes move between map and list as pointers
    fn sweep(&mut self, now: i64, retired: &mut Vec<Box<Flow>>) {
        if !self.udp_recent.is_empty() {
            self.udp_recent
                .retain(|_, (_, t)| now - *t <= MASQ_WINDOW_NS);
        }
        if self.map.is_empty() {
            return;
        }
        let from = retired.len();
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
        self.forget_from(retired, from);
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
        let from = retired.len();
        retired.extend(
            self.map
                .extract_if(|_, f| f.last_ts <= cutoff)
                .map(|(_, f)| f),
        );
        self.forget_from(retired, from);
        self.stats.evicted += (before - self.map.len()) as u64;
    }

    /// End of input: every flow is retired.
    pub fn drain(&mut self, retired: &mut Vec<Box<Flow>>) {
        retired.extend(self.map.drain().map(|(_, f)| f));
        self.alias.clear();
        self.by_isn.clear();
        self.isn_clash.clear();
        self.udp_recent.clear();
    }
}

/// Whether the SYN `ip`/`tcp` from `ck` is flow `f`'s SYN with its source
/// (and destination) rewritten by a full-NAT director: the same ISN, IP ID
/// (a retransmission has its own) and length, moments after it, to
/// another destination with another TTL (it crossed the director). A copy
/// of the same bytes from another client to the same place is not one.
/// The flow may look established already: another point's clock may
/// stamp the client's ACK before the director's copy of its SYN.
fn masquerade_of(f: &Flow, ck: FlowKey, at: Evidence, ip: &Ip, tcp: &Tcp) -> bool {
    let Some(t) = f.tcp_state() else {
        return false;
    };
    f.key() != ck
        && t.isn == tcp.seq
        && f.masq.is_none()
        && (at.time - t.last_syn_ts).abs() <= MASQ_WINDOW_NS
        && f.opens
            .iter()
            .any(|o| o.len == ip.len && (o.id == ip.id || t.last_syn_id == ip.id))
        && f.opens.iter().all(|o| o.dst != ip.dst && o.ttl != ip.ttl)
}

/// A packet from the client (or from its source as a full-NAT director
/// rewrote it: `masq`).
#[allow(clippy::vec_box, clippy::too_many_arguments)] // the spare lives move into flows as they are
fn client_packet(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<Mac>,
    dst_mac: Option<Mac>,
    ip: &Ip,
    tcp: &Tcp,
    masq: Option<(IpAddr, u16)>,
    lives: &mut Vec<Box<Life>>,
) {
    f.packets = f.packets.saturating_add(1);
    f.last_ts = f.last_ts.max(at.time);
    if tcp.syn() && !tcp.ack_flag() {
        // A retransmitted SYN reopens a connection its reset had closed.
        f.closed_ts = None;
        if let Transport::Tcp(t) = &mut f.state {
            t.client_mss = tcp.mss;
            if masq.is_none() {
                t.last_syn_id = ip.id;
                t.last_syn_ts = at.time;
            }
        }
        add_open(f, at, src_mac, dst_mac, ip, tcp.dport, masq);
        return;
    }
    let established = f.established();
    let Transport::Tcp(t) = &mut f.state else {
        return;
    };
    t.life
        .get_or_insert_with(|| lives.pop().unwrap_or_default())
        .segment(at, src_mac, dst_mac, ip, tcp, true, established);
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

#[allow(clippy::vec_box)]
fn server_packet(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<Mac>,
    dst_mac: Option<Mac>,
    ip: &Ip,
    tcp: &Tcp,
    lives: &mut Vec<Box<Life>>,
) {
    f.packets = f.packets.saturating_add(1);
    f.last_ts = f.last_ts.max(at.time);
    let synack = tcp.syn() && tcp.ack_flag();
    let established = f.established();
    if synack || (tcp.rst() && !established) {
        let rst = !synack;
        if let (true, Transport::Tcp(t)) = (synack, &mut f.state) {
            t.server_mss = tcp.mss;
        }
        add_reply(f, at, src_mac, dst_mac, ip, tcp.sport, rst);
        if rst {
            f.closed_ts = Some(at.time);
        }
        return;
    }
    let Transport::Tcp(t) = &mut f.state else {
        return;
    };
    t.life
        .get_or_insert_with(|| lives.pop().unwrap_or_default())
        .segment(at, src_mac, dst_mac, ip, tcp, false, established);
    if tcp.rst() {
        f.closed_ts.get_or_insert(at.time);
        return;
    }
    t.server_data = true;
    if tcp.fin() {
        t.fin_server = true;
        if t.fin_client {
            f.closed_ts.get_or_insert(at.time);
        }
    }
}

/// Counts a client packet of the flow's opening kind: one more at a copy
/// already seen (same point and addressing), else a new copy.
fn add_open(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<Mac>,
    dst_mac: Option<Mac>,
    ip: &Ip,
    dport: u16,
    masq: Option<(IpAddr, u16)>,
) {
    let same = |c: &OpenCopy| {
        c.at.point == at.point
            && c.src_mac == src_mac
            && c.dst_mac == dst_mac
            && c.dst == ip.dst
            && c.dport == dport
            && c.outer == ip.outer
            && c.masq == masq
    };
    if let Some(c) = f.opens.iter_mut().find(|c| same(c)) {
        c.count = c.count.saturating_add(1);
    } else if f.opens.len() < MAX_COPIES {
        f.opens.reserve_exact(grow(f.opens.len()));
        f.opens.push(OpenCopy {
            at,
            count: 1,
            src_mac,
            dst_mac,
            dst: ip.dst,
            dport,
            ttl: ip.ttl,
            id: ip.id,
            tos: ip.tos,
            len: ip.len,
            outer: ip.outer,
            encap: ip.encap,
            masq,
        });
    } else {
        f.copies_overflow = true;
    }
}

/// Counts a server answer (TCP: SYN-ACK or RST; UDP: a datagram).
fn add_reply(
    f: &mut Flow,
    at: Evidence,
    src_mac: Option<Mac>,
    dst_mac: Option<Mac>,
    ip: &Ip,
    sport: u16,
    rst: bool,
) {
    let same = |c: &ReplyCopy| {
        c.at.point == at.point
            && c.src_mac == src_mac
            && c.dst_mac == dst_mac
            && c.src == ip.src
            && c.sport == sport
            && c.rst == rst
            && c.outer == ip.outer
    };
    if let Some(c) = f.replies.iter_mut().find(|c| same(c)) {
        c.count = c.count.saturating_add(1);
    } else if f.replies.len() < MAX_COPIES {
        f.replies.reserve_exact(grow(f.replies.len()));
        f.replies.push(ReplyCopy {
            at,
            count: 1,
            src_mac,
            dst_mac,
            src: ip.src,
            sport,
            rst,
            outer: ip.outer,
        });
    } else {
        f.copies_overflow = true;
    }
}

/// Not multicast, broadcast, unspecified or loopback.
/// Room to reserve for one more copy: the capacity doubles from one (a
/// flood's flows have one copy, a mirror port's two), never past the cap.
fn grow(len: usize) -> usize {
    len.clamp(1, MAX_COPIES.saturating_sub(len).max(1))
}

fn unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_multicast() || a.is_broadcast() || a.is_unspecified() || a.is_loopback())
        }
        IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified() || a.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::L4;
    use crate::flow::hosts::HostMap;
    use crate::flow::view::{FlowView, RsKey};
    use crate::model::{Mode, Model};

    const CLIENT: [u8; 6] = [2, 0, 0, 0, 0x0c, 0];
    const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];
    const DIRECTOR: [u8; 6] = [2, 0, 0, 0, 0x0d, 0];
    const RS: [u8; 6] = [2, 0, 0, 0, 0x13, 0];

    #[allow(clippy::too_many_arguments, clippy::vec_box)]
    fn dgram(
        t: &mut FlowTable,
        point: u16,
        time: i64,
        (src_mac, dst_mac): ([u8; 6], [u8; 6]),
        (src, sport): (&str, u16),
        (dst, dport): (&str, u16),
        (ttl, id): (u8, u16),
        out: &mut Vec<Box<Flow>>,
    ) {
        let ip = Ip {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl,
            id,
            tos: 0,
            len: 60,
            l4: L4::Udp {
                sport,
                dport,
                digest: 7,
            },
            outer: None,
            encap: Default::default(),
        };
        let l2 = L2 {
            src: src_mac,
            dst: Some(dst_mac),
            vlan: None,
        };
        let at = Evidence {
            point,
            frame: time as u64,
            time,
        };
        t.observe_udp(at, Some(l2), &ip, (sport, dport, 7), out);
    }

    /// An ICMP error from `src` (MAC `mac`) quoting `q_src` → `q_dst`.
    fn icmp(
        t: &mut FlowTable,
        time: i64,
        (src, mac): (&str, [u8; 6]),
        (q_src, q_dst): ((&str, u16), (&str, u16)),
    ) {
        let ip = Ip {
            src: src.parse().unwrap(),
            dst: q_src.0.parse().unwrap(),
            ttl: 64,
            id: 0,
            tos: 0,
            len: 88,
            l4: L4::Other(1),
            outer: None,
            encap: Default::default(),
        };
        let q = Quote {
            src: q_src.0.parse().unwrap(),
            dst: q_dst.0.parse().unwrap(),
            proto: 17,
            sport: q_src.1,
            dport: q_dst.1,
            outer: None,
            encap: Default::default(),
        };
        let at = Evidence {
            point: 0,
            frame: time as u64,
            time,
        };
        let l2 = L2 {
            src: mac,
            dst: Some(ROUTER),
            vlan: None,
        };
        t.observe_icmp(at, Some(l2), &ip, IcmpKind::PortUnreachable, Some(q));
    }

    #[test]
    fn icmp_errors_are_trusted_only_as_far_as_their_quote_fits() {
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        let c = ("203.0.113.10", 40000);
        let vip = ("192.0.2.100", 53);
        dgram(&mut t, 0, 1, (ROUTER, DIRECTOR), c, vip, (63, 7), &mut out);
        dgram(&mut t, 0, 2, (DIRECTOR, RS), c, vip, (63, 7), &mut out);
        // rs3 says nothing listens: tied to the flow.
        icmp(&mut t, 3, ("192.0.2.13", RS), (c, vip));
        // Same client port, but a packet this flow never sent (another
        // destination), and one about a packet never seen at all: counted,
        // not tied.
        icmp(&mut t, 4, ("192.0.2.13", RS), (c, ("198.51.100.99", 53)));
        icmp(&mut t, 5, ("192.0.2.13", RS), (("203.0.113.11", 1), vip));
        assert_eq!(t.stats.untracked_icmp, 2);
        // A storm of the same error is one copy with a (saturating) count;
        // errors from many senders are bounded per flow.
        for i in 0..100_000 {
            icmp(&mut t, 6 + i, ("192.0.2.13", RS), (c, vip));
        }
        for i in 0..1000u32 {
            let src = format!("198.51.100.{}", i % 250);
            icmp(
                &mut t,
                200_000 + i64::from(i),
                (&src, [2, 0, 0, 0, 0x42, (i % 250) as u8]),
                (c, vip),
            );
        }
        t.drain(&mut out);
        let f = &out[0];
        assert!(f.icmp.len() <= MAX_COPIES, "{}", f.icmp.len());
        assert_eq!(f.icmp[0].count, u16::MAX);
        assert!(f
            .icmp
            .iter()
            .all(|i| i.quoted_dst.to_string() == "192.0.2.100"));
        assert!(f.copies_overflow);
    }

    #[test]
    fn a_udp_request_and_its_answer_are_one_flow_seen_forwarded_in_dr() {
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        let c = ("203.0.113.10", 40000);
        let vip = ("192.0.2.100", 53);
        // The gateway's frame to the director, the director's copy to rs3
        // (same datagram: IP ID and length), rs3's answer.
        dgram(&mut t, 0, 1, (ROUTER, DIRECTOR), c, vip, (63, 7), &mut out);
        dgram(&mut t, 0, 2, (DIRECTOR, RS), c, vip, (63, 7), &mut out);
        dgram(&mut t, 0, 3, (RS, ROUTER), vip, c, (64, 0), &mut out);
        // An answer whose request was not seen, and a broadcast: no flow.
        dgram(
            &mut t,
            0,
            4,
            (RS, ROUTER),
            vip,
            ("203.0.113.11", 40001),
            (64, 0),
            &mut out,
        );
        dgram(
            &mut t,
            0,
            5,
            (CLIENT, [0xff; 6]),
            c,
            ("203.0.113.255", 137),
            (64, 1),
            &mut out,
        );
        assert_eq!((t.len(), t.stats.untracked_udp), (1, 2));
        t.drain(&mut out);
        let f = &out[0];
        assert_eq!(f.proto, Proto::Udp);
        assert!(f.established());
        let mut hosts = HostMap::default();
        hosts.neigh.observe(
            &crate::decode::Neigh {
                op: crate::decode::NeighOp::Reply,
                sender_mac: DIRECTOR,
                sender_ip: "192.0.2.100".parse().unwrap(),
                target_ip: "192.0.2.1".parse().unwrap(),
                gratuitous: false,
            },
            Evidence {
                point: 0,
                frame: 0,
                time: 0,
            },
        );
        let v = FlowView::new(f, &Model::default(), &hosts, 10);
        assert_eq!(v.mode, Some(Mode::Dr));
        assert_eq!(v.rs, Some(RsKey::Mac(RS)));
        assert_eq!(v.vaddr.proto, Proto::Udp);
    }

    #[test]
    fn one_client_socket_talking_to_two_servers_is_not_a_nat_rewrite() {
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        let c = ("203.0.113.10", 123);
        // Two NTP servers from one socket: different datagrams (IP IDs), same TTL.
        dgram(
            &mut t,
            0,
            1,
            (CLIENT, ROUTER),
            c,
            ("192.0.2.100", 123),
            (64, 1),
            &mut out,
        );
        dgram(
            &mut t,
            0,
            2,
            (CLIENT, ROUTER),
            c,
            ("198.51.100.7", 123),
            (64, 2),
            &mut out,
        );
        t.drain(&mut out);
        let v = FlowView::new(&out[0], &Model::default(), &HostMap::default(), 10);
        assert_eq!(v.mode, None);
        // The same datagram one hop later, re-addressed: that is NAT.
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        dgram(
            &mut t,
            0,
            1,
            (ROUTER, DIRECTOR),
            c,
            ("192.0.2.100", 53),
            (63, 9),
            &mut out,
        );
        dgram(
            &mut t,
            1,
            2,
            (DIRECTOR, RS),
            c,
            ("198.51.100.13", 53),
            (62, 9),
            &mut out,
        );
        t.drain(&mut out);
        let v = FlowView::new(&out[0], &Model::default(), &HostMap::default(), 10);
        assert_eq!(v.mode, Some(Mode::Nat));
        assert_eq!(v.rs, Some(RsKey::Ip("198.51.100.13".parse().unwrap())));
    }

    #[test]
    fn unanswered_udp_retries_count_as_retransmits_answered_ones_do_not() {
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        let c = ("203.0.113.10", 40000);
        let vip = ("192.0.2.100", 53);
        for i in 0..3 {
            dgram(
                &mut t,
                0,
                i,
                (ROUTER, DIRECTOR),
                c,
                vip,
                (63, i as u16),
                &mut out,
            );
        }
        t.drain(&mut out);
        assert_eq!(out[0].syn_retransmits(), 2);
        assert!(!out[0].established());
        let mut t = FlowTable::new(100);
        let mut out = Vec::new();
        for i in 0..3 {
            dgram(
                &mut t,
                0,
                2 * i,
                (ROUTER, DIRECTOR),
                c,
                vip,
                (63, i as u16),
                &mut out,
            );
            dgram(
                &mut t,
                0,
                2 * i + 1,
                (DIRECTOR, ROUTER),
                vip,
                c,
                (64, 0),
                &mut out,
            );
        }
        t.drain(&mut out);
        assert_eq!((out[0].syn_retransmits(), out[0].datagrams()), (0, 3));
    }
}
