//! Flows: each connection through a VIP, with every copy of its opening
//! packets (TCP: the handshake) seen at every capture point.
//!
//! A flow is keyed by its protocol and the client's address and port: LVS (NAT, DR and TUN)
//! never changes the client side, so the client→VIP leg, the forwarded leg
//! (DR: same IPs, new MAC; NAT: new destination; TUN: encapsulated) and the
//! replies all land in one flow. The same packet seen at two points, or the
//! director's forwarded copy on the same segment, is a *copy* of one event,
//! not a retransmission: a retransmission is the same copy seen again at the
//! same point.
//!
//! Full NAT (kube-proxy's masquerade) also rewrites the client's side: the
//! forwarded leg leaves from the director's address and another port. The
//! table pairs it with the client's flow by what survives the rewrite (the
//! TCP ISN, IP ID and length of the same SYN, moments later) and keys its
//! packets to the client's flow from then on.

pub mod hosts;
pub mod kept;
pub mod ladder;
pub mod life;
pub mod neigh;
pub mod table;
pub mod view;
pub mod vrrp;

use crate::decode::{IcmpKind, Mac};
use crate::finding::Evidence;
use crate::model::Proto;
use std::net::IpAddr;

/// Maximum distinct copies kept per flow and direction. A connection through
/// a director is seen at most at client, router (2), director (2) and RS.
pub const MAX_COPIES: usize = 6;

/// One distinct copy of the client's opening packet (TCP: its SYN), as seen
/// at one point with one link-layer and IP addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenCopy {
    pub at: Evidence,
    /// Times this copy was seen (1 + retransmissions).
    pub count: u16,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    pub dst: IpAddr,
    pub dport: u16,
    pub ttl: u8,
    pub id: u16,
    pub tos: u8,
    pub len: u16,
    /// Tunnel (source, destination) for IP-in-IP, GUE or GRE.
    pub outer: Option<(IpAddr, IpAddr)>,
    /// The tunnel's kind, when `outer` is set.
    pub encap: crate::decode::tunnel::Encap,
    /// Full NAT: the source (address, port) the director rewrote the
    /// client's to (kube-proxy's masquerade), when it is not the client's.
    pub masq: Option<(IpAddr, u16)>,
}

/// One distinct copy of a server→client handshake answer: SYN-ACK or RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyCopy {
    pub at: Evidence,
    pub count: u16,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    pub src: IpAddr,
    pub sport: u16,
    pub rst: bool,
    pub outer: Option<(IpAddr, IpAddr)>,
}

/// What identifies a flow: its transport and the client's address and port
/// (LVS never changes the client side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: Proto,
    pub client: IpAddr,
    pub cport: u16,
}

/// What a TCP connection showed beyond its opening copies and answers.
#[derive(Debug, Clone, Default)]
pub struct TcpState {
    /// The client's initial sequence number (unchanged by LVS: a strong key).
    pub isn: u32,
    /// The IP ID of the client's latest SYN (a retransmission has its own,
    /// which its forwarded copy keeps).
    pub last_syn_id: u16,
    pub last_syn_ts: i64,
    /// First ACK from the client after its SYN: the handshake completed.
    pub client_ack: Option<Evidence>,
    /// First RST from the client.
    pub client_rst: Option<Evidence>,
    /// The server sent something after its SYN-ACK (data, ACK, FIN).
    pub server_data: bool,
    pub fin_client: bool,
    pub fin_server: bool,
    /// The MSS each side's SYN announced (0: none seen).
    pub client_mss: u16,
    pub server_mss: u16,
    /// Everything after the handshake; allocated by its first segment (a
    /// SYN flood's flows never need it).
    pub life: Option<Box<life::Life>>,
}

/// Per-transport state of a flow.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // flows are boxed in the table
pub enum Transport {
    Tcp(TcpState),
    /// A UDP exchange: the client's datagrams are its opening copies (each
    /// copy counting the datagrams seen with that addressing at that
    /// point), the server's its answers. It ends when idle (IPVS's UDP
    /// timeout), never by a packet.
    Udp,
}

/// One distinct copy of an ICMP error about one of the flow's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpCopy {
    pub at: Evidence,
    pub count: u16,
    pub kind: IcmpKind,
    /// Who sent it.
    pub from: IpAddr,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    /// About a packet from the client (else about one to it).
    pub about_request: bool,
    /// The quoted packet's destination (where the client's packet was
    /// going when it failed: the VIP, or the RIP after a NAT rewrite).
    pub quoted_dst: IpAddr,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub proto: Proto,
    pub client: IpAddr,
    pub cport: u16,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Copies of the packet that opened the flow (TCP: the client's SYN).
    /// Grown one copy at a time: most flows have a few, a flood's flows one.
    pub opens: Vec<OpenCopy>,
    /// Copies of the server's answer (TCP: SYN-ACK or RST).
    pub replies: Vec<ReplyCopy>,
    /// ICMP errors about its packets (grown one copy at a time; most flows
    /// have none).
    pub icmp: Vec<IcmpCopy>,
    pub closed_ts: Option<i64>,
    pub packets: u32,
    /// More distinct copies than `MAX_COPIES` were seen (extra ones ignored).
    pub copies_overflow: bool,
    /// Full NAT: the source the director rewrote the client's to and the
    /// real server's end (address, port, address, port); packets between
    /// them belong to this flow.
    pub masq: Option<(IpAddr, u16, IpAddr, u16)>,
    pub state: Transport,
}

impl Flow {
    /// A TCP connection opened by a SYN with sequence number `isn`.
    pub fn tcp(client: IpAddr, cport: u16, isn: u32, ts: i64) -> Flow {
        Flow::new(
            Proto::Tcp,
            client,
            cport,
            ts,
            Transport::Tcp(TcpState {
                isn,
                ..TcpState::default()
            }),
        )
    }

    /// A UDP exchange opened by a datagram from `client:cport`.
    pub fn udp(client: IpAddr, cport: u16, ts: i64) -> Flow {
        Flow::new(Proto::Udp, client, cport, ts, Transport::Udp)
    }

    fn new(proto: Proto, client: IpAddr, cport: u16, ts: i64, state: Transport) -> Flow {
        Flow {
            proto,
            client,
            cport,
            first_ts: ts,
            last_ts: ts,
            opens: Vec::new(),
            replies: Vec::new(),
            icmp: Vec::new(),
            closed_ts: None,
            packets: 0,
            copies_overflow: false,
            masq: None,
            state,
        }
    }

    pub fn key(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            client: self.client,
            cport: self.cport,
        }
    }

    /// The TCP state, for a TCP flow.
    pub fn tcp_state(&self) -> Option<&TcpState> {
        match &self.state {
            Transport::Tcp(t) => Some(t),
            Transport::Udp => None,
        }
    }

    /// The client's first RST (TCP).
    pub fn client_rst(&self) -> Option<Evidence> {
        self.tcp_state().and_then(|t| t.client_rst)
    }

    /// The client's first ACK after its SYN (TCP).
    pub fn client_ack(&self) -> Option<Evidence> {
        self.tcp_state().and_then(|t| t.client_ack)
    }

    /// The client re-sent its opening packet: the most times one copy was
    /// seen, minus one (TCP: SYN retransmissions; UDP: datagrams re-sent
    /// while no answer came, none once one did).
    pub fn syn_retransmits(&self) -> u16 {
        if matches!(self.state, Transport::Udp) && self.synack_seen() {
            return 0;
        }
        self.datagrams().saturating_sub(1)
    }

    /// Client packets of its opening kind (TCP: SYNs; UDP: datagrams) as
    /// the best-placed point saw them.
    pub fn datagrams(&self) -> u16 {
        self.opens.iter().map(|c| c.count).max().unwrap_or(0)
    }

    /// The server answered (TCP: a SYN-ACK).
    pub fn synack_seen(&self) -> bool {
        self.replies.iter().any(|r| !r.rst)
    }

    /// An ICMP error about the client's packets (port unreachable, …).
    pub fn request_error(&self) -> Option<&IcmpCopy> {
        self.icmp.iter().find(|i| i.about_request)
    }

    pub fn server_rst(&self) -> Option<&ReplyCopy> {
        self.replies.iter().find(|r| r.rst)
    }

    /// The exchange completed (TCP: the client acknowledged, or the server
    /// went on).
    pub fn established(&self) -> bool {
        match &self.state {
            Transport::Tcp(t) => t.client_ack.is_some() || (self.synack_seen() && t.server_data),
            Transport::Udp => self.synack_seen(),
        }
    }
}
