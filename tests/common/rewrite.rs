//! Mechanical variations of a lab capture (tests only): read and write
//! classic pcap and multi-interface pcapng, rename addresses, MACs and
//! ports in every header that carries them (Ethernet, ARP, IPv4, IPv6,
//! IP-in-IP, TCP/UDP, the packet an ICMP error quotes, IPv6 neighbour
//! discovery, VRRP's address list), and drop the connections of one real
//! server. Checksums are left as they were: lvsdiag does not read them.
#![allow(dead_code)]

use lvsdiag::decode::tunnel::gue_inner;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

#[derive(Clone)]
pub struct Rec {
    pub ts_ns: i64,
    pub data: Vec<u8>,
}

/// A classic pcap file: its link type and records.
pub fn read_pcap(path: &Path) -> (u32, Vec<Rec>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() >= 24, "{}: not a pcap", path.display());
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let (le, nano) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        m => panic!("{}: not a classic pcap (magic {m:#x})", path.display()),
    };
    let u32_at = |o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = u32_at(20);
    let mut recs = Vec::new();
    let mut o = 24;
    while o + 16 <= b.len() {
        let (s, f, caplen) = (
            u32_at(o) as i64,
            u32_at(o + 4) as i64,
            u32_at(o + 8) as usize,
        );
        if o + 16 + caplen > b.len() {
            break;
        }
        let ts_ns = s * 1_000_000_000 + if nano { f } else { f * 1000 };
        recs.push(Rec {
            ts_ns,
            data: b[o + 16..o + 16 + caplen].to_vec(),
        });
        o += 16 + caplen;
    }
    (link, recs)
}

/// Writes a classic little-endian microsecond pcap.
pub fn write_pcap(path: &Path, link: u32, recs: &[Rec]) {
    let mut out = Vec::new();
    out.extend(0xa1b2c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(262144u32.to_le_bytes());
    out.extend(link.to_le_bytes());
    for r in recs {
        out.extend(((r.ts_ns / 1_000_000_000) as u32).to_le_bytes());
        out.extend((((r.ts_ns % 1_000_000_000) / 1000) as u32).to_le_bytes());
        out.extend((r.data.len() as u32).to_le_bytes());
        out.extend((r.data.len() as u32).to_le_bytes());
        out.extend(&r.data);
    }
    std::fs::write(path, out).unwrap();
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = (12 + body.len()) as u32;
    out.extend(kind.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(len.to_le_bytes());
}

/// Writes one pcapng with an interface per point (`if_name` = its name,
/// nanosecond timestamps) and every point's packets in time order.
pub fn write_pcapng(path: &Path, points: &[(String, u32, Vec<Rec>)]) {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1a2b3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    block(&mut out, 0x0a0d0d0a, &shb);
    for (name, link, _) in points {
        let mut idb = Vec::new();
        idb.extend((*link as u16).to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(262144u32.to_le_bytes());
        // if_name
        idb.extend(2u16.to_le_bytes());
        idb.extend((name.len() as u16).to_le_bytes());
        idb.extend(name.as_bytes());
        pad4(&mut idb);
        // if_tsresol: nanoseconds
        idb.extend(9u16.to_le_bytes());
        idb.extend(1u16.to_le_bytes());
        idb.extend([9u8, 0, 0, 0]);
        idb.extend([0u8; 4]);
        block(&mut out, 1, &idb);
    }
    let mut all: Vec<(i64, usize, &Rec)> = points
        .iter()
        .enumerate()
        .flat_map(|(i, (_, _, recs))| recs.iter().map(move |r| (r.ts_ns, i, r)))
        .collect();
    all.sort_by_key(|(t, i, _)| (*t, *i));
    for (t, i, r) in all {
        let mut epb = Vec::new();
        epb.extend((i as u32).to_le_bytes());
        epb.extend(((t as u64 >> 32) as u32).to_le_bytes());
        epb.extend((t as u64 as u32).to_le_bytes());
        epb.extend((r.data.len() as u32).to_le_bytes());
        epb.extend((r.data.len() as u32).to_le_bytes());
        epb.extend(&r.data);
        pad4(&mut epb);
        block(&mut out, 6, &epb);
    }
    std::fs::write(path, out).unwrap();
}

pub type IpRename = fn(IpAddr) -> Option<IpAddr>;
pub type MacRename = fn([u8; 6]) -> Option<[u8; 6]>;

/// What a variation renames.
#[derive(Default, Clone)]
pub struct Map {
    pub ips: HashMap<IpAddr, IpAddr>,
    /// Renames the addresses `ips` does not name (`None`: kept).
    pub ip_fn: Option<IpRename>,
    pub macs: HashMap<[u8; 6], [u8; 6]>,
    /// Renames the MACs `macs` does not name.
    pub mac_fn: Option<MacRename>,
    pub ports: HashMap<u16, u16>,
}

impl Map {
    /// What `ip` becomes.
    pub fn ip(&self, ip: IpAddr) -> IpAddr {
        self.ips
            .get(&ip)
            .copied()
            .or_else(|| self.ip_fn.and_then(|f| f(ip)))
            .unwrap_or(ip)
    }
    fn ip4(&self, b: &mut [u8]) {
        let a: [u8; 4] = b[..4].try_into().unwrap();
        if let IpAddr::V4(n) = self.ip(IpAddr::from(a)) {
            b[..4].copy_from_slice(&n.octets());
        }
    }
    fn ip6(&self, b: &mut [u8]) {
        let a: [u8; 16] = b[..16].try_into().unwrap();
        if let IpAddr::V6(n) = self.ip(IpAddr::from(a)) {
            b[..16].copy_from_slice(&n.octets());
        }
    }
    fn mac(&self, b: &mut [u8]) {
        let a: [u8; 6] = b[..6].try_into().unwrap();
        if let Some(n) = self
            .macs
            .get(&a)
            .copied()
            .or_else(|| self.mac_fn.and_then(|f| f(a)))
        {
            b[..6].copy_from_slice(&n);
        }
    }
    fn port(&self, b: &mut [u8]) {
        let p = u16::from_be_bytes([b[0], b[1]]);
        if let Some(n) = self.ports.get(&p) {
            b[..2].copy_from_slice(&n.to_be_bytes());
        }
    }

    /// Renames what this map names in one Ethernet frame, in place.
    pub fn frame(&self, f: &mut [u8]) {
        if f.len() < 14 {
            return;
        }
        self.mac(&mut f[0..6]);
        self.mac(&mut f[6..12]);
        let mut off = 12;
        let mut et = u16::from_be_bytes([f[12], f[13]]);
        while (et == 0x8100 || et == 0x88a8) && f.len() >= off + 6 {
            et = u16::from_be_bytes([f[off + 4], f[off + 5]]);
            off += 4;
        }
        let l3 = &mut f[off + 2..];
        match et {
            0x0806 if l3.len() >= 28 => {
                self.mac(&mut l3[8..14]);
                self.ip4(&mut l3[14..18]);
                self.mac(&mut l3[18..24]);
                self.ip4(&mut l3[24..28]);
            }
            0x0800 => self.ipv4(l3),
            0x86dd => self.ipv6(l3),
            _ => {}
        }
    }

    fn ipv4(&self, p: &mut [u8]) {
        if p.len() < 20 || p[0] >> 4 != 4 {
            return;
        }
        let ihl = ((p[0] & 0x0f) as usize) * 4;
        let proto = p[9];
        let first = u16::from_be_bytes([p[6], p[7]]) & 0x1fff == 0;
        self.ip4(&mut p[12..16]);
        self.ip4(&mut p[16..20]);
        if p.len() < ihl || !first {
            return;
        }
        let l4 = &mut p[ihl..];
        self.l4(proto, l4, false);
    }

    fn ipv6(&self, p: &mut [u8]) {
        if p.len() < 40 || p[0] >> 4 != 6 {
            return;
        }
        let nh = p[6];
        self.ip6(&mut p[8..24]);
        self.ip6(&mut p[24..40]);
        self.l4(nh, &mut p[40..], true);
    }

    fn l4(&self, proto: u8, l4: &mut [u8], v6: bool) {
        match proto {
            6 | 17 if l4.len() >= 4 => {
                self.port(&mut l4[0..2]);
                self.port(&mut l4[2..4]);
                // GUE: the packet inside, too.
                let inner = l4
                    .get(8..)
                    .and_then(|b| gue_inner(b, true))
                    .map(<[u8]>::len);
                if let (17, Some(n)) = (proto, inner) {
                    let at = l4.len() - n;
                    if v6 {
                        self.ipv6(&mut l4[at..]);
                    } else {
                        self.ipv4(&mut l4[at..]);
                    }
                }
            }
            4 => self.ipv4(l4),
            41 => self.ipv6(l4),
            1 if !v6 && l4.len() >= 8 && matches!(l4[0], 3 | 4 | 5 | 11 | 12) => {
                self.ipv4(&mut l4[8..])
            }
            58 if v6 && l4.len() >= 8 => match l4[0] {
                1..=4 => self.ipv6(&mut l4[8..]),
                // Neighbour solicitation / advertisement: the target and
                // the link-layer address options.
                135 | 136 if l4.len() >= 24 => {
                    self.ip6(&mut l4[8..24]);
                    let mut o = 24;
                    while o + 8 <= l4.len() {
                        let len = l4[o + 1] as usize * 8;
                        if len == 0 || o + len > l4.len() {
                            break;
                        }
                        if matches!(l4[o], 1 | 2) {
                            self.mac(&mut l4[o + 2..o + 8]);
                        }
                        o += len;
                    }
                }
                _ => {}
            },
            112 if l4.len() >= 8 => {
                let n = l4[3] as usize;
                let w = if v6 { 16 } else { 4 };
                for i in 0..n {
                    let o = 8 + i * w;
                    if o + w > l4.len() {
                        break;
                    }
                    if v6 {
                        self.ip6(&mut l4[o..o + 16]);
                    } else {
                        self.ip4(&mut l4[o..o + 4]);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The transport endpoints (address, port) of a frame's innermost IP
/// packet that is not an ICMP error: (src, dst).
pub fn endpoints(f: &[u8]) -> Option<((IpAddr, u16), (IpAddr, u16))> {
    if f.len() < 14 {
        return None;
    }
    let et = u16::from_be_bytes([f[12], f[13]]);
    let mut p = &f[14..];
    let mut v6 = match et {
        0x0800 => false,
        0x86dd => true,
        _ => return None,
    };
    loop {
        let (src, dst, proto, l4): (IpAddr, IpAddr, u8, &[u8]) = if !v6 {
            if p.len() < 20 {
                return None;
            }
            let ihl = ((p[0] & 0x0f) as usize) * 4;
            let s: [u8; 4] = p[12..16].try_into().unwrap();
            let d: [u8; 4] = p[16..20].try_into().unwrap();
            (s.into(), d.into(), p[9], p.get(ihl..)?)
        } else {
            if p.len() < 40 {
                return None;
            }
            let s: [u8; 16] = p[8..24].try_into().unwrap();
            let d: [u8; 16] = p[24..40].try_into().unwrap();
            (s.into(), d.into(), p[6], &p[40..])
        };
        match proto {
            4 => {
                v6 = false;
                p = l4;
            }
            41 => {
                v6 = true;
                p = l4;
            }
            6 | 17 if l4.len() >= 4 => {
                let sp = u16::from_be_bytes([l4[0], l4[1]]);
                let dp = u16::from_be_bytes([l4[2], l4[3]]);
                return Some(((src, sp), (dst, dp)));
            }
            _ => return None,
        }
    }
}

/// The destination MAC of a frame.
pub fn dst_mac(f: &[u8]) -> Option<[u8; 6]> {
    f.get(0..6).map(|m| m.try_into().unwrap())
}

/// The client endpoints of the connections that a real server (any of its
/// addresses or MACs) sent or received, at any point (service ports are
/// below 32768, the clients' above).
pub fn clients_of(
    points: &[(String, u32, Vec<Rec>)],
    ips: &BTreeSet<IpAddr>,
    macs: &BTreeSet<[u8; 6]>,
) -> BTreeSet<(IpAddr, u16)> {
    // Service ports are below the ephemeral range the lab's clients use.
    let service = |p: u16| p < 32768;
    let mut out = BTreeSet::new();
    for (_, _, recs) in points {
        for r in recs {
            let Some((s, d)) = endpoints(&r.data) else {
                continue;
            };
            let to_rs = ips.contains(&d.0)
                || dst_mac(&r.data).is_some_and(|m| macs.contains(&m))
                || outer_dst(&r.data).is_some_and(|o| ips.contains(&o));
            let from_rs = ips.contains(&s.0)
                || r.data
                    .get(6..12)
                    .is_some_and(|m| macs.contains(<&[u8; 6]>::try_from(m).unwrap()));
            if to_rs && service(d.1) {
                out.insert(s);
            } else if from_rs && service(s.1) {
                out.insert(d);
            }
        }
    }
    out
}

/// The outer destination of an IPv4 IP-in-IP packet.
fn outer_dst(f: &[u8]) -> Option<IpAddr> {
    let p = f.get(14..)?;
    if u16::from_be_bytes([f[12], f[13]]) != 0x0800 || p.len() < 20 || p[9] != 4 {
        return None;
    }
    let d: [u8; 4] = p[16..20].try_into().unwrap();
    Some(d.into())
}

/// Drops every frame of the connections of these client endpoints.
pub fn drop_clients(recs: &mut Vec<Rec>, clients: &BTreeSet<(IpAddr, u16)>) {
    recs.retain(|r| {
        endpoints(&r.data).is_none_or(|(s, d)| !clients.contains(&s) && !clients.contains(&d))
    });
}

/// The TCP flags byte of a frame's innermost TCP segment.
pub fn tcp_flags(f: &[u8]) -> Option<u8> {
    tcp_flags_at(f).map(|o| f[o])
}

/// Where the flags byte of a frame's innermost TCP segment is (through
/// IP-in-IP, IPv4 or IPv6).
pub fn tcp_flags_at(f: &[u8]) -> Option<usize> {
    if f.len() < 14 {
        return None;
    }
    let mut v6 = match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => false,
        0x86dd => true,
        _ => return None,
    };
    let mut off = 14;
    loop {
        let p = f.get(off..)?;
        let (proto, hl) = if !v6 {
            (*p.get(9)?, usize::from(p.first()? & 0x0f) * 4)
        } else {
            (*p.get(6)?, 40)
        };
        off += hl;
        match proto {
            4 => v6 = false,
            41 => v6 = true,
            6 => return Some(off + 13).filter(|o| *o < f.len()),
            _ => return None,
        }
    }
}

/// Whether a frame is ARP or IPv6 neighbour discovery (solicitation,
/// advertisement).
pub fn is_neighbour_discovery(f: &[u8]) -> bool {
    if f.len() < 14 {
        return false;
    }
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0806 => true,
        0x86dd => f.len() > 54 && f[14 + 6] == 58 && matches!(f[54], 135 | 136),
        _ => false,
    }
}

/// The IPv6 address an IPv4 documentation address becomes in [`to_v6`]:
/// 192.0.2.X -> 2001:db8:0:2::X, 198.51.100.X -> 2001:db8:0:64::X,
/// 203.0.113.X -> 2001:db8:0:71::X (X the last hextet); `None` for others.
pub fn v6_of(ip: std::net::Ipv4Addr) -> Option<std::net::Ipv6Addr> {
    let o = ip.octets();
    let net = match [o[0], o[1], o[2]] {
        [192, 0, 2] => 0x2,
        [198, 51, 100] => 0x64,
        [203, 0, 113] => 0x71,
        _ => return None,
    };
    Some(std::net::Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        net,
        0,
        0,
        0,
        u16::from(o[3]),
    ))
}

fn v6_bytes(b: &[u8]) -> Option<[u8; 16]> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    v6_of(a.into()).map(|v| v.octets())
}

/// An IPv4 packet (possibly cut short, as an ICMP error quotes it) as the
/// same packet over IPv6: addresses by [`v6_of`], TTL as hop limit, TOS as
/// traffic class, IP-in-IP as IPv6-in-IPv6, ICMP errors as ICMPv6 with the
/// quote converted; `None` for what has no IPv6 form here (fragments,
/// echo, VRRP, other addresses).
fn packet_v6(p: &[u8], quoted: bool) -> Option<Vec<u8>> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if frag & 0x3fff != 0 && !quoted {
        return None; // a fragment
    }
    let (src, dst) = (v6_bytes(&p[12..16])?, v6_bytes(&p[16..20])?);
    let body = p.get(ihl..total.min(p.len()).max(ihl))?;
    let (next, payload): (u8, Vec<u8>) = match p[9] {
        17 => (17, gue_v6(body, quoted).unwrap_or_else(|| body.to_vec())),
        6 => (6, body.to_vec()),
        4 => (41, packet_v6(body, quoted)?),
        1 => (58, icmp_v6(body)?),
        _ => return None,
    };
    // The payload length: the whole packet's, even when cut short.
    let full = if quoted {
        let gue = p[9] == 17 && body.get(8..).and_then(|b| gue_inner(b, true)).is_some();
        total.saturating_sub(ihl) + if p[9] == 4 || gue { 20 } else { 0 }
    } else {
        payload.len()
    };
    let mut out = Vec::with_capacity(40 + payload.len());
    out.extend([0x60 | (p[1] >> 4), p[1] << 4, 0, 0]);
    out.extend((full as u16).to_be_bytes());
    out.push(next);
    out.push(p[8]);
    out.extend(src);
    out.extend(dst);
    out.extend(payload);
    Some(out)
}

/// A UDP datagram carrying GUE with an IPv4 packet inside, as the same
/// datagram carrying the packet over IPv6 (GUE's protocol 41, the UDP
/// length grown); `None` when it carries no GUE.
fn gue_v6(udp: &[u8], quoted: bool) -> Option<Vec<u8>> {
    let inner = gue_inner(udp.get(8..)?, true)?;
    let hdr_len = udp.len() - 8 - inner.len();
    let mut hdr = udp[8..8 + hdr_len].to_vec();
    if let Some(b) = hdr.get_mut(1).filter(|_| hdr_len >= 4) {
        *b = 41;
    }
    let v6 = packet_v6(inner, quoted)?;
    let mut out = udp[..8].to_vec();
    out[4..6].copy_from_slice(&((8 + hdr_len + v6.len()) as u16).to_be_bytes());
    out[6..8].copy_from_slice(&[0, 0]); // no checksum
    out.extend(hdr);
    out.extend(v6);
    Some(out)
}

/// An ICMPv4 error as ICMPv6 (unreachable codes mapped, fragmentation
/// needed as packet too big, time exceeded); `None` for other messages.
fn icmp_v6(b: &[u8]) -> Option<Vec<u8>> {
    if b.len() < 8 {
        return None;
    }
    let (ty, code, word): (u8, u8, [u8; 4]) = match (b[0], b[1]) {
        (3, 4) => {
            // The next-hop MTU, grown by the 20 bytes IPv6 adds.
            let mtu = u32::from(u16::from_be_bytes([b[6], b[7]])) + 20;
            (2, 0, mtu.to_be_bytes())
        }
        (3, 0) => (1, 0, [0; 4]),
        (3, 1) => (1, 3, [0; 4]),
        (3, 3) => (1, 4, [0; 4]),
        (3, 9 | 10 | 13) => (1, 1, [0; 4]),
        (3, c) => (1, c, [0; 4]),
        (11, _) => (3, 0, [0; 4]),
        _ => return None,
    };
    let mut out = vec![ty, code, 0, 0];
    out.extend(word);
    out.extend(packet_v6(&b[8..], true)?);
    Some(out)
}

fn solicited_node(ip: &[u8; 16]) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = 0xff;
    m[1] = 0x02;
    m[11] = 0x01;
    m[12] = 0xff;
    m[13..16].copy_from_slice(&ip[13..16]);
    m
}

/// An Ethernet frame of an IPv4 capture as the same frame in an IPv6 world
/// (see [`packet_v6`]); ARP requests become neighbour solicitations, replies
/// and gratuitous ARP neighbour advertisements. `None`: dropped.
pub fn to_v6(f: &[u8]) -> Option<Vec<u8>> {
    if f.len() < 14 {
        return None;
    }
    let mut out = Vec::with_capacity(f.len() + 20);
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => {
            let p = packet_v6(&f[14..], false)?;
            out.extend(&f[..12]);
            out.extend([0x86, 0xdd]);
            out.extend(p);
        }
        0x0806 => {
            let a = f.get(14..42)?;
            let (op, smac) = (u16::from_be_bytes([a[6], a[7]]), &a[8..14]);
            let (spa, tpa) = (v6_bytes(&a[14..18])?, v6_bytes(&a[24..28])?);
            let gratuitous = spa == tpa;
            let all_nodes = {
                let mut m = [0u8; 16];
                m[0] = 0xff;
                m[1] = 0x02;
                m[15] = 1;
                m
            };
            let (ty, dst, target, flags, opt) = if op == 1 && !gratuitous {
                (135u8, solicited_node(&tpa), tpa, 0u8, 1u8)
            } else if op == 2 && !gratuitous {
                (136, spa_peer(a)?, spa, 0x60, 2)
            } else {
                (136, all_nodes, spa, 0x20, 2)
            };
            let mut icmp = vec![ty, 0, 0, 0, flags, 0, 0, 0];
            icmp.extend(target);
            icmp.extend([opt, 1]);
            icmp.extend(smac);
            let dmac: [u8; 6] = if dst[0] == 0xff {
                [0x33, 0x33, dst[12], dst[13], dst[14], dst[15]]
            } else {
                f[0..6].try_into().ok()?
            };
            out.extend(dmac);
            out.extend(&f[6..12]);
            out.extend([0x86, 0xdd]);
            out.extend([0x60, 0, 0, 0]);
            out.extend((icmp.len() as u16).to_be_bytes());
            out.extend([58, 255]);
            out.extend(spa);
            out.extend(dst);
            out.extend(icmp);
        }
        _ => return None,
    }
    Some(out)
}

/// An ARP reply's destination: the requester's address.
fn spa_peer(a: &[u8]) -> Option<[u8; 16]> {
    v6_bytes(&a[24..28])
}
