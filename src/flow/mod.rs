//! Flows: each TCP connection through a VIP, with every copy of its
//! handshake packets seen at every capture point.
//!
//! A flow is keyed by the client's address and port: LVS (NAT, DR and TUN)
//! never changes the client side, so the client→VIP leg, the forwarded leg
//! (DR: same IPs, new MAC; NAT: new destination; TUN: encapsulated) and the
//! replies all land in one flow. The same packet seen at two points, or the
//! director's forwarded copy on the same segment, is a *copy* of one event,
//! not a retransmission: a retransmission is the same copy seen again at the
//! same point.

pub mod hosts;
pub mod ladder;
pub mod neigh;
pub mod table;
pub mod view;

use crate::decode::Mac;
use crate::finding::Evidence;
use std::net::IpAddr;

/// Maximum distinct copies kept per flow and direction. A connection through
/// a director is seen at most at client, router (2), director (2) and RS.
pub const MAX_COPIES: usize = 6;

/// One distinct copy of the client's SYN (as seen at one point with one
/// link-layer and IP addressing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynCopy {
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
    /// Tunnel (source, destination) for IP-in-IP.
    pub outer: Option<(IpAddr, IpAddr)>,
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

#[derive(Debug, Clone)]
pub struct Flow {
    pub client: IpAddr,
    pub cport: u16,
    /// The client's initial sequence number (unchanged by LVS: a strong key).
    pub isn: u32,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Grown one copy at a time: most flows have a few, a flood's flows one.
    pub syns: Vec<SynCopy>,
    pub replies: Vec<ReplyCopy>,
    /// First ACK from the client after its SYN: the handshake completed.
    pub client_ack: Option<Evidence>,
    /// First RST from the client.
    pub client_rst: Option<Evidence>,
    /// The server sent something after its SYN-ACK (data, ACK, FIN).
    pub server_data: bool,
    pub fin_client: bool,
    pub fin_server: bool,
    pub closed_ts: Option<i64>,
    pub packets: u32,
    /// More distinct copies than `MAX_COPIES` were seen (extra ones ignored).
    pub copies_overflow: bool,
}

impl Flow {
    pub fn new(client: IpAddr, cport: u16, isn: u32, ts: i64) -> Flow {
        Flow {
            client,
            cport,
            isn,
            first_ts: ts,
            last_ts: ts,
            syns: Vec::new(),
            replies: Vec::new(),
            client_ack: None,
            client_rst: None,
            server_data: false,
            fin_client: false,
            fin_server: false,
            closed_ts: None,
            packets: 0,
            copies_overflow: false,
        }
    }

    /// Client SYN retransmissions: the most times one copy was seen, minus one.
    pub fn syn_retransmits(&self) -> u16 {
        self.syns
            .iter()
            .map(|c| c.count.saturating_sub(1))
            .max()
            .unwrap_or(0)
    }

    pub fn synack_seen(&self) -> bool {
        self.replies.iter().any(|r| !r.rst)
    }

    pub fn server_rst(&self) -> Option<&ReplyCopy> {
        self.replies.iter().find(|r| r.rst)
    }

    /// The handshake completed (the client acknowledged, or the server went on).
    pub fn established(&self) -> bool {
        self.client_ack.is_some() || (self.synack_seen() && self.server_data)
    }
}
