//! Decode: raw captured bytes → a small typed view of what the checks need.
//!
//! Link layers are peeled here (Ethernet with 802.1Q/QinQ, Linux SLL v1 via
//! etherparse, SLL2 by hand in [`sll2`], raw IP, BSD loopback); network and
//! transport headers come from `etherparse`. IP-in-IP (LVS-TUN), and GUE and
//! GRE ([`tunnel`]), are decoded one level deep so the inner connection is
//! visible with its outer addresses.
//! Nothing here allocates: a [`Packet`] is plain `Copy` data.

pub mod link;
pub mod sll2;
pub mod tunnel;
pub mod vrrp;

use etherparse::{
    ArpOperation, EtherType, IpNumber, Ipv4HeaderSlice, Ipv6ExtensionsSlice, Ipv6HeaderSlice,
    TcpSlice, UdpHeaderSlice,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use link::LinkType;

/// A MAC address.
pub type Mac = [u8; 6];

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(m: &Mac) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Link-layer addressing of a frame, when the link type carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2 {
    pub src: Mac,
    /// `None` for Linux cooked captures, which record only the sender.
    pub dst: Option<Mac>,
    pub vlan: Option<u16>,
}

/// TCP flag bits as on the wire.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload_len: u32,
    /// The MSS option of a SYN (0: none, or not a SYN).
    pub mss: u16,
}

/// The MSS a SYN announces (0 when it has none or its options are cut).
fn syn_mss(t: &TcpSlice<'_>) -> u16 {
    t.options_iterator()
        .filter_map(Result::ok)
        .find_map(|o| match o {
            etherparse::TcpOptionElement::MaximumSegmentSize(m) => Some(m),
            _ => None,
        })
        .unwrap_or(0)
}

impl Tcp {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f == f
    }
    pub fn syn(&self) -> bool {
        self.has(tcp_flags::SYN)
    }
    pub fn ack_flag(&self) -> bool {
        self.has(tcp_flags::ACK)
    }
    pub fn rst(&self) -> bool {
        self.has(tcp_flags::RST)
    }
    pub fn fin(&self) -> bool {
        self.has(tcp_flags::FIN)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp(Tcp),
    Udp {
        sport: u16,
        dport: u16,
        /// A digest of the payload's first bytes (0: no payload): what
        /// survives a full-NAT director's rewrite of a datagram.
        digest: u32,
    },
    /// An ICMP or ICMPv6 error, with the start of the packet it is about.
    IcmpError {
        kind: IcmpKind,
        /// The quoted packet; `None` when too little of it was quoted.
        quote: Option<Quote>,
    },
    /// A non-first fragment, or a transport header cut off by the snap length.
    Incomplete,
    /// IP protocol 112: VRRP, CARP, or neither.
    P112(vrrp::P112),
    Other(u8),
}

/// What an ICMP error says (v4 and v6 mapped onto one set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IcmpKind {
    PortUnreachable,
    HostUnreachable,
    NetUnreachable,
    /// Administratively prohibited (a firewall's reject).
    Prohibited,
    /// Fragmentation needed (v4) / packet too big (v6), with the next-hop MTU.
    TooBig(u32),
    TimeExceeded,
    /// Another unreachable code.
    Unreachable(u8),
}

impl IcmpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IcmpKind::PortUnreachable => "port unreachable",
            IcmpKind::HostUnreachable => "host unreachable",
            IcmpKind::NetUnreachable => "network unreachable",
            IcmpKind::Prohibited => "administratively prohibited",
            IcmpKind::TooBig(_) => "fragmentation needed",
            IcmpKind::TimeExceeded => "time exceeded",
            IcmpKind::Unreachable(_) => "unreachable",
        }
    }
}

/// The start of the packet an ICMP error quotes: its addresses, transport
/// and ports (and, for an IP-in-IP packet, the inner ones with the tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the quoted transport.
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub outer: Option<(IpAddr, IpAddr)>,
    /// The tunnel's kind, when `outer` is set.
    pub encap: tunnel::Encap,
}

/// An IP packet (the inner one for IP-in-IP, with the tunnel in `outer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6).
    pub id: u16,
    pub tos: u8,
    /// Total length as the IP header states it.
    pub len: u16,
    pub l4: L4,
    /// Source and destination of the tunnel header, for IP-in-IP, GUE, GRE.
    pub outer: Option<(IpAddr, IpAddr)>,
    /// The tunnel's kind, when `outer` is set.
    pub encap: tunnel::Encap,
}

/// Address resolution: ARP for IPv4, neighbour discovery for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighOp {
    Request,
    Reply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neigh {
    pub op: NeighOp,
    pub sender_mac: Mac,
    pub sender_ip: IpAddr,
    pub target_ip: IpAddr,
    /// An unsolicited announcement (gratuitous ARP, unsolicited NA).
    pub gratuitous: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Neigh(Neigh),
    Ip(Ip),
    /// Something else (STP, LLDP, IPv6 multicast listener reports, ...).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub l2: Option<L2>,
    pub net: Net,
}

/// Why a frame could not be decoded. Counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its link-layer header.
    TruncatedLink,
    /// The network header is cut or malformed.
    BadNetwork,
}

/// Decodes one captured frame of the given link type.
pub fn decode(link: LinkType, data: &[u8]) -> Result<Packet, DecodeError> {
    let (l2, ether_type, payload) = link::peel(link, data)?;
    let net = match ether_type {
        Some(et) => decode_net(et, payload)?,
        None => decode_ip_auto(payload)?,
    };
    Ok(Packet { l2, net })
}

fn decode_ip_auto(payload: &[u8]) -> Result<Net, DecodeError> {
    decode_ip(payload, 0)
}

fn decode_net(et: EtherType, payload: &[u8]) -> Result<Net, DecodeError> {
    if et == EtherType::ARP {
        return Ok(decode_arp(payload).map(Net::Neigh).unwrap_or(Net::Other));
    }
    if et != EtherType::IPV4 && et != EtherType::IPV6 {
        return Ok(Net::Other);
    }
    decode_ip(payload, 0)
}

/// Decodes an IP packet with etherparse's header views (no copies). IP-in-IP
/// is decoded one level deep (`depth` 0 → 1).
fn decode_ip(b: &[u8], depth: u8) -> Result<Net, DecodeError> {
    let (src, dst, ttl, id, tos, len, proto, fragmented, first_fragment, body, cut) =
        match b.first().map(|v| v >> 4) {
            Some(4) => {
                let h = Ipv4HeaderSlice::from_slice(b).map_err(|_| DecodeError::BadNetwork)?;
                let hl = h.slice().len();
                // The IP length bounds the payload (Ethernet padding excluded);
                // the snap length may cut it shorter.
                let end = usize::from(h.total_len()).clamp(hl, b.len());
                (
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    h.ttl(),
                    h.identification(),
                    h.slice()[1],
                    h.total_len(),
                    h.protocol(),
                    h.is_fragmenting_payload(),
                    h.fragments_offset().value() == 0,
                    &b[hl..end],
                    usize::from(h.total_len()) > b.len(),
                )
            }
            Some(6) => {
                let h = Ipv6HeaderSlice::from_slice(b).map_err(|_| DecodeError::BadNetwork)?;
                let cut = 40 + usize::from(h.payload_length()) > b.len();
                let end = (40 + usize::from(h.payload_length())).min(b.len());
                let rest = &b[40..end];
                let (proto, fragmented, body) =
                    match Ipv6ExtensionsSlice::from_slice(h.next_header(), rest) {
                        Ok((exts, proto, body)) => (proto, exts.is_fragmenting_payload(), body),
                        Err(_) => (h.next_header(), true, &rest[..0]),
                    };
                (
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    h.hop_limit(),
                    0,
                    h.traffic_class(),
                    h.payload_length().saturating_add(40),
                    proto,
                    fragmented,
                    !fragmented,
                    body,
                    cut,
                )
            }
            _ => return Err(DecodeError::BadNetwork),
        };
    // IP-in-IP, GUE or GRE (LVS-TUN): the inner packet, with the tunnel
    // addresses.
    if depth == 0 && !fragmented {
        let inner = encapsulated(proto, body, cut);
        if let Some((Ok(Net::Ip(mut ip)), encap)) = inner.map(|(b, e)| (decode_ip(b, 1), e)) {
            ip.outer = Some((src, dst));
            ip.encap = encap;
            return Ok(Net::Ip(ip));
        }
    }
    let l4 = if fragmented && !first_fragment {
        L4::Incomplete
    } else if proto == IpNumber::TCP {
        match TcpSlice::from_slice(body) {
            Ok(t) => L4::Tcp(Tcp {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: t.slice()[13],
                payload_len: u32::from(len)
                    .saturating_sub((b.len() - body.len()) as u32 + u32::from(t.data_offset()) * 4),
                mss: if t.syn() { syn_mss(&t) } else { 0 },
            }),
            Err(_) => L4::Incomplete,
        }
    } else if proto == IpNumber::UDP {
        match UdpHeaderSlice::from_slice(body) {
            Ok(u) => L4::Udp {
                sport: u.source_port(),
                dport: u.destination_port(),
                digest: digest(body.get(8..).unwrap_or_default()),
            },
            Err(_) => L4::Incomplete,
        }
    } else if proto == IpNumber::IPV6_ICMP {
        if let Some(n) = decode_nd(src, body) {
            return Ok(Net::Neigh(n));
        }
        icmp_error(body, true).unwrap_or(L4::Other(58))
    } else if proto == IpNumber::ICMP {
        icmp_error(body, false).unwrap_or(L4::Other(1))
    } else if proto.0 == 112 {
        L4::P112(vrrp::parse(body, src.is_ipv6(), !cut && !fragmented))
    } else {
        L4::Other(proto.0)
    };
    Ok(Net::Ip(Ip {
        src,
        dst,
        ttl,
        id,
        tos,
        len,
        l4,
        outer: None,
        encap: tunnel::Encap::Ipip,
    }))
}

/// FNV-1a over the first 32 bytes of a payload, never 0 for a non-empty
/// one (0: empty).
fn digest(p: &[u8]) -> u32 {
    if p.is_empty() {
        return 0;
    }
    let h = p.iter().take(32).fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    h.max(1)
}

/// The packet a tunnel carries in an IP payload of protocol `proto`
/// (IP-in-IP, GUE in UDP, GRE), with the tunnel's kind.
fn encapsulated(proto: IpNumber, body: &[u8], cut: bool) -> Option<(&[u8], tunnel::Encap)> {
    if proto == IpNumber::IPV4 || proto == IpNumber::IPV6 {
        Some((body, tunnel::Encap::Ipip))
    } else if proto == IpNumber::UDP {
        udp_gue(body, cut)
    } else if proto.0 == 47 {
        tunnel::gre_inner(body, cut).map(|b| (b, tunnel::Encap::Gre))
    } else {
        None
    }
}

/// A UDP datagram (header and payload) that carries GUE: its inner packet.
fn udp_gue(b: &[u8], cut: bool) -> Option<(&[u8], tunnel::Encap)> {
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    tunnel::gue_inner(b.get(8..)?, cut).map(|i| (i, tunnel::Encap::Gue { port }))
}

/// An ICMP (`v6`: ICMPv6) error message and its quote; `None` for other
/// ICMP messages (echo, router advertisements…).
fn icmp_error(b: &[u8], v6: bool) -> Option<L4> {
    let (&ty, &code) = (b.first()?, b.get(1)?);
    let mtu = || {
        b.get(4..8)
            .map_or(0, |m| u32::from_be_bytes(m.try_into().expect("4 bytes")))
    };
    let kind = match (v6, ty, code) {
        (false, 3, 3) | (true, 1, 4) => IcmpKind::PortUnreachable,
        (false, 3, 1) | (true, 1, 3) => IcmpKind::HostUnreachable,
        (false, 3, 0) | (true, 1, 0) => IcmpKind::NetUnreachable,
        (false, 3, 9 | 10 | 13) | (true, 1, 1) => IcmpKind::Prohibited,
        // v4: the next-hop MTU is the low 16 bits of the second word.
        (false, 3, 4) => IcmpKind::TooBig(mtu() & 0xffff),
        (true, 2, _) => IcmpKind::TooBig(mtu()),
        (false, 3, c) | (true, 1, c) => IcmpKind::Unreachable(c),
        (false, 11, _) | (true, 3, _) => IcmpKind::TimeExceeded,
        _ => return None,
    };
    Some(L4::IcmpError {
        kind,
        quote: b.get(8..).and_then(|q| quote(q, 0)),
    })
}

/// Parses a quoted packet: an IP header (options and v6 extension headers
/// skipped) and the first four bytes of its transport (the ports of TCP,
/// UDP and SCTP). IP-in-IP is followed one level. A quote lies as easily as
/// any packet: only its headers are read, never trusted for lengths.
fn quote(b: &[u8], depth: u8) -> Option<Quote> {
    let (src, dst, proto, rest) = match b.first()? >> 4 {
        4 => {
            let h = Ipv4HeaderSlice::from_slice(b).ok()?;
            let hl = h.slice().len();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.protocol(),
                b.get(hl..)?,
            )
        }
        6 => {
            let h = Ipv6HeaderSlice::from_slice(b).ok()?;
            let (_, proto, body) =
                Ipv6ExtensionsSlice::from_slice(h.next_header(), b.get(40..)?).ok()?;
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                proto,
                body,
            )
        }
        _ => return None,
    };
    // A quote may stop anywhere: an encapsulated one is judged as cut.
    let inner = encapsulated(proto, rest, true);
    if let Some((inner, encap)) = inner.filter(|_| depth == 0) {
        if let Some(mut q) = quote(inner, 1) {
            q.outer = Some((src, dst));
            q.encap = encap;
            return Some(q);
        }
        if proto == IpNumber::IPV4 || proto == IpNumber::IPV6 {
            return None;
        }
    }
    let ports = rest.get(..4)?;
    Some(Quote {
        src,
        dst,
        proto: proto.0,
        sport: u16::from_be_bytes([ports[0], ports[1]]),
        dport: u16::from_be_bytes([ports[2], ports[3]]),
        outer: None,
        encap: tunnel::Encap::Ipip,
    })
}

fn decode_arp(b: &[u8]) -> Option<Neigh> {
    let a = etherparse::ArpPacketSlice::from_slice(b).ok()?;
    if a.hw_addr_size() != 6 || a.proto_addr_size() != 4 || a.proto_addr_type() != EtherType::IPV4 {
        return None;
    }
    let op = match a.operation() {
        ArpOperation::REQUEST => NeighOp::Request,
        ArpOperation::REPLY => NeighOp::Reply,
        _ => return None,
    };
    let mac: Mac = a.sender_hw_addr().try_into().ok()?;
    let spa: [u8; 4] = a.sender_protocol_addr().try_into().ok()?;
    let tpa: [u8; 4] = a.target_protocol_addr().try_into().ok()?;
    Some(Neigh {
        op,
        sender_mac: mac,
        sender_ip: IpAddr::V4(Ipv4Addr::from(spa)),
        target_ip: IpAddr::V4(Ipv4Addr::from(tpa)),
        gratuitous: spa == tpa,
    })
}

/// IPv6 neighbour solicitation (135) / advertisement (136) with their
/// link-layer address options, mapped onto the same shape as ARP.
fn decode_nd(src: IpAddr, icmp: &[u8]) -> Option<Neigh> {
    let ty = *icmp.first()?;
    if ty != 135 && ty != 136 {
        return None;
    }
    let target: [u8; 16] = icmp.get(8..24)?.try_into().ok()?;
    let target = IpAddr::V6(Ipv6Addr::from(target));
    // Options: type, length in units of 8 bytes.
    let want = if ty == 135 { 1 } else { 2 };
    let mut opts = icmp.get(24..)?;
    let mut mac = None;
    while opts.len() >= 8 {
        let olen = usize::from(opts[1]) * 8;
        if olen == 0 || olen > opts.len() {
            break;
        }
        if opts[0] == want && olen >= 8 {
            mac = opts[2..8].try_into().ok();
        }
        opts = &opts[olen..];
    }
    let sender_mac = mac?;
    Some(if ty == 135 {
        Neigh {
            op: NeighOp::Request,
            sender_mac,
            sender_ip: src,
            target_ip: target,
            gratuitous: false,
        }
    } else {
        // An advertisement announces `target` as being at `sender_mac`.
        Neigh {
            op: NeighOp::Reply,
            sender_mac,
            sender_ip: target,
            target_ip: target,
            gratuitous: icmp.get(4).is_some_and(|f| f & 0x40 == 0),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const C: Mac = [2, 0, 0, 0, 0x0c, 0];
    const D: Mac = [2, 0, 0, 0, 0x0d, 0];

    #[test]
    fn icmp_errors_carry_their_kind_and_the_quoted_ports() {
        // The datagram a real server could not deliver: client → VIP:53.
        let mut quoted = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 10], [192, 0, 2, 100], 63)
            .udp(40000, 53)
            .write(&mut quoted, &[0; 20])
            .unwrap();
        for (ty, kind) in [
            (
                etherparse::Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ),
                IcmpKind::PortUnreachable,
            ),
            (
                etherparse::Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                        next_hop_mtu: 1400,
                    },
                ),
                IcmpKind::TooBig(1400),
            ),
        ] {
            let mut f = Vec::new();
            PacketBuilder::ethernet2(D, C)
                .ipv4([192, 0, 2, 100], [203, 0, 113, 10], 64)
                .icmpv4(ty.clone())
                .write(&mut f, &quoted)
                .unwrap();
            let p = decode(LinkType::Ethernet, &f).unwrap();
            let Net::Ip(ip) = p.net else { panic!() };
            let L4::IcmpError {
                kind: k,
                quote: Some(q),
            } = ip.l4
            else {
                panic!("{:?}", ip.l4)
            };
            assert_eq!(k, kind);
            assert_eq!(
                (q.src, q.dst, q.proto, q.sport, q.dport),
                (
                    "203.0.113.10".parse().unwrap(),
                    "192.0.2.100".parse().unwrap(),
                    17,
                    40000,
                    53
                )
            );
            // A quote cut short is no quote, never a panic.
            for cut in 0..quoted.len() {
                let mut f = Vec::new();
                PacketBuilder::ethernet2(D, C)
                    .ipv4([192, 0, 2, 100], [203, 0, 113, 10], 64)
                    .icmpv4(ty.clone())
                    .write(&mut f, &quoted[..cut])
                    .unwrap();
                let _ = decode(LinkType::Ethernet, &f);
            }
        }
        // An echo request is not an error.
        let mut f = Vec::new();
        PacketBuilder::ethernet2(C, D)
            .ipv4([203, 0, 113, 10], [192, 0, 2, 100], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut f, &[])
            .unwrap();
        let Net::Ip(ip) = decode(LinkType::Ethernet, &f).unwrap().net else {
            panic!()
        };
        assert_eq!(ip.l4, L4::Other(1));
    }

    fn syn(vlan: Option<u16>) -> Vec<u8> {
        let mut out = Vec::new();
        let b = PacketBuilder::ethernet2(C, D);
        let b = match vlan {
            Some(v) => b.single_vlan(etherparse::VlanId::try_new(v).unwrap()).ipv4(
                [203, 0, 113, 10],
                [192, 0, 2, 100],
                64,
            ),
            None => b.ipv4([203, 0, 113, 10], [192, 0, 2, 100], 64),
        };
        b.tcp(40000, 80, 1000, 64240)
            .syn()
            .write(&mut out, &[])
            .unwrap();
        out
    }

    fn tcp_of(p: &Packet) -> (Ip, Tcp) {
        let Net::Ip(ip) = p.net else {
            panic!("not ip: {p:?}")
        };
        let L4::Tcp(t) = ip.l4 else {
            panic!("not tcp: {ip:?}")
        };
        (ip, t)
    }

    #[test]
    fn ethernet_tcp_syn() {
        let p = decode(LinkType::Ethernet, &syn(None)).unwrap();
        assert_eq!(
            p.l2,
            Some(L2 {
                src: C,
                dst: Some(D),
                vlan: None
            })
        );
        let (ip, t) = tcp_of(&p);
        assert_eq!(ip.src, "203.0.113.10".parse::<IpAddr>().unwrap());
        assert_eq!(ip.dst, "192.0.2.100".parse::<IpAddr>().unwrap());
        assert_eq!(ip.ttl, 64);
        assert_eq!((t.sport, t.dport, t.seq), (40000, 80, 1000));
        assert!(t.syn() && !t.ack_flag() && !t.rst());
        assert_eq!(t.payload_len, 0);
        assert_eq!(ip.outer, None);
    }

    #[test]
    fn vlan_tag_is_read() {
        let p = decode(LinkType::Ethernet, &syn(Some(42))).unwrap();
        assert_eq!(p.l2.unwrap().vlan, Some(42));
        tcp_of(&p);
    }

    #[test]
    fn ipip_keeps_inner_connection_and_outer_addresses() {
        let mut inner = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 10], [192, 0, 2, 100], 63)
            .tcp(40000, 80, 7, 1000)
            .syn()
            .write(&mut inner, &[])
            .unwrap();
        let mut frame = Vec::new();
        let b = PacketBuilder::ethernet2(D, C).ip(etherparse::IpHeaders::Ipv4(
            etherparse::Ipv4Header::new(
                0,
                64,
                etherparse::IpNumber::IPV4,
                [192, 0, 2, 2],
                [192, 0, 2, 11],
            )
            .unwrap(),
            Default::default(),
        ));
        b.write(&mut frame, etherparse::IpNumber::IPV4, &inner)
            .unwrap();
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        let (ip, t) = tcp_of(&p);
        assert_eq!(ip.dst, "192.0.2.100".parse::<IpAddr>().unwrap());
        assert_eq!(
            ip.outer,
            Some(("192.0.2.2".parse().unwrap(), "192.0.2.11".parse().unwrap()))
        );
        assert_eq!(t.seq, 7);
    }

    #[test]
    fn arp_reply_and_gratuitous() {
        let arp = |op: u16, spa: [u8; 4], tpa: [u8; 4]| {
            let mut f = Vec::new();
            f.extend_from_slice(&[0xff; 6]);
            f.extend_from_slice(&D);
            f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
            f.extend_from_slice(&op.to_be_bytes());
            f.extend_from_slice(&D);
            f.extend_from_slice(&spa);
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&tpa);
            f
        };
        let p = decode(
            LinkType::Ethernet,
            &arp(2, [192, 0, 2, 100], [192, 0, 2, 1]),
        )
        .unwrap();
        let Net::Neigh(n) = p.net else { panic!() };
        assert_eq!(n.op, NeighOp::Reply);
        assert_eq!(n.sender_mac, D);
        assert_eq!(n.sender_ip, "192.0.2.100".parse::<IpAddr>().unwrap());
        assert!(!n.gratuitous);
        let p = decode(
            LinkType::Ethernet,
            &arp(1, [192, 0, 2, 100], [192, 0, 2, 100]),
        )
        .unwrap();
        let Net::Neigh(n) = p.net else { panic!() };
        assert!(n.gratuitous && n.op == NeighOp::Request);
    }

    #[test]
    fn ipv6_neighbour_advertisement() {
        // ICMPv6 NA (type 136), flags S=0 (unsolicited), target 2001:db8::100, TLLA option.
        let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
        icmp.extend_from_slice(&"2001:db8::100".parse::<Ipv6Addr>().unwrap().octets());
        icmp.extend_from_slice(&[2, 1]);
        icmp.extend_from_slice(&D);
        let mut f = Vec::new();
        PacketBuilder::ethernet2(D, [0x33, 0x33, 0, 0, 0, 1])
            .ipv6(
                "2001:db8::100".parse::<Ipv6Addr>().unwrap().octets(),
                "ff02::1".parse::<Ipv6Addr>().unwrap().octets(),
                255,
            )
            .write(&mut f, etherparse::IpNumber::IPV6_ICMP, &icmp)
            .unwrap();
        let p = decode(LinkType::Ethernet, &f).unwrap();
        let Net::Neigh(n) = p.net else {
            panic!("{p:?}")
        };
        assert_eq!(n.op, NeighOp::Reply);
        assert_eq!(n.sender_ip, "2001:db8::100".parse::<IpAddr>().unwrap());
        assert_eq!(n.sender_mac, D);
        assert!(n.gratuitous);
    }

    #[test]
    fn sll2_and_raw_ip() {
        let eth = syn(None);
        let ip = &eth[14..];
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
        sll2.extend_from_slice(&C);
        sll2.extend_from_slice(&[0, 0]);
        sll2.extend_from_slice(ip);
        let p = decode(LinkType::LinuxSll2, &sll2).unwrap();
        assert_eq!(
            p.l2,
            Some(L2 {
                src: C,
                dst: None,
                vlan: None
            })
        );
        tcp_of(&p);
        let p = decode(LinkType::RawIp, ip).unwrap();
        assert_eq!(p.l2, None);
        tcp_of(&p);
    }

    #[test]
    fn garbage_never_panics() {
        let eth = syn(None);
        for link in [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::RawIp,
            LinkType::Null,
        ] {
            for n in 0..eth.len() {
                let _ = decode(link, &eth[..n]);
            }
            let mut x: u32 = 0x1234_5678;
            for len in [0usize, 1, 13, 14, 20, 40, 60, 200] {
                let mut b = vec![0u8; len];
                for byte in b.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    *byte = x as u8;
                }
                let _ = decode(link, &b);
            }
        }
    }
}
