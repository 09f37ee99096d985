//! A flow's ladder: every copy of its handshake packets in time order, each
//! with the capture point, MACs and IPs of that leg, and the legs an LVS
//! connection must have that no capture point shows. The missing legs are
//! where the diagnosis shows (no SYN-ACK: the real server did not answer;
//! no forwarded SYN: the director did not forward).

use super::view::{FlowView, RsKey};
use super::Flow;
use crate::decode::{IcmpKind, Mac};
use crate::finding::Evidence;
use crate::model::{Mode, Proto};
use std::net::IpAddr;

/// How a connection's handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FlowState {
    Established,
    /// Unanswered so far, but still within the grace period.
    Open,
    Failed,
    Reset,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Established => "established",
            FlowState::Open => "open",
            FlowState::Failed => "failed",
            FlowState::Reset => "reset",
        }
    }
}

/// The steps of an LVS handshake, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// client → VIP, before the director.
    ClientSyn,
    /// The director's forwarded copy (DR: new MAC; NAT: new IP; TUN: IPIP).
    Forward,
    /// The gateway delivered the SYN straight to a real server.
    Bypass,
    /// A SYN-ACK (or RST) back to the client.
    Reply,
    /// An ICMP error about one of its packets.
    Icmp,
    /// The client's ACK completing the handshake.
    ClientAck,
}

impl Step {
    /// The step as a TCP handshake names it.
    pub fn as_str(self) -> &'static str {
        self.name(Proto::Tcp)
    }

    /// The step's name for a flow of `proto` (UDP: datagrams and answers).
    pub fn name(self, proto: Proto) -> &'static str {
        let udp = proto == Proto::Udp;
        match self {
            Step::ClientSyn if udp => "datagram client→VIP",
            Step::ClientSyn => "SYN client→VIP",
            Step::Forward if udp => "datagram forwarded",
            Step::Forward => "SYN forwarded",
            Step::Bypass if udp => "datagram bypassing director",
            Step::Bypass => "SYN bypassing director",
            Step::Reply if udp => "answer",
            Step::Reply => "SYN-ACK",
            Step::Icmp => "ICMP error",
            Step::ClientAck => "ACK client",
        }
    }
}

/// One copy of one handshake packet at one capture point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub step: Step,
    pub at: Evidence,
    /// Times this copy was seen there (1 + retransmissions).
    pub count: u16,
    pub src_mac: Option<Mac>,
    pub dst_mac: Option<Mac>,
    pub src: (IpAddr, u16),
    pub dst: (IpAddr, u16),
    /// IPIP tunnel (source, destination).
    pub outer: Option<(IpAddr, IpAddr)>,
    /// RST instead of SYN-ACK.
    pub rst: bool,
    /// What an ICMP error says.
    pub icmp: Option<IcmpKind>,
}

/// A connection as the flow view shows it.
#[derive(Debug, Clone)]
pub struct FlowRow {
    pub proto: Proto,
    pub client: IpAddr,
    pub cport: u16,
    pub vip: IpAddr,
    pub vport: u16,
    pub mode: Option<Mode>,
    pub rs: Option<RsKey>,
    /// The real server's RIP (or MAC), when known; set by the engine.
    pub rs_label: Option<String>,
    pub state: FlowState,
    pub syn_retransmits: u16,
    /// First SYN to first SYN-ACK at the same capture point.
    pub rtt_ns: Option<i64>,
    pub first_ts: i64,
    pub legs: Vec<Leg>,
    /// Steps no capture point shows, each with what that means.
    pub missing: Vec<(Step, String)>,
    /// The life after the handshake, folded: one entry per leg (sender,
    /// point, addressing) with its counts from first to last segment, the
    /// longest silence and the resets, in time order.
    pub life: Vec<LifeLine>,
    /// Failed or anomalous ([`crate::flow::kept::notable`]).
    pub notable: bool,
}

/// One folded stretch of a connection's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifeLine {
    /// Where it starts (time; the point and frame when one packet marks it).
    pub time: i64,
    pub at: Option<Evidence>,
    pub text: String,
    /// Something went wrong here (retransmissions, a reset).
    pub bad: bool,
}

/// The folded life of `f` after its handshake.
fn life_lines(f: &Flow, vip: IpAddr, names: &dyn Fn(Option<Mac>) -> String) -> Vec<LifeLine> {
    let Some(life) = f.tcp_state().and_then(|t| t.life.as_deref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in &life.legs {
        let dir = if l.from_client {
            format!("client → {}", l.peer)
        } else {
            format!("{} → client", l.peer)
        };
        let tunnel = l
            .outer
            .map_or(String::new(), |(s, d)| format!(" in IPIP {s} → {d}"));
        let retx = if l.retx > 0 {
            format!(
                ", {} retransmitted (smallest {} bytes)",
                l.retx, l.retx_min_len
            )
        } else {
            String::new()
        };
        out.push(LifeLine {
            time: l.first_ts,
            at: None,
            text: format!(
                "{dir}{tunnel}, {} → {}: {} segment(s), {} with data ({} bytes), largest {} bytes{retx}, until +{:.3} s",
                names(l.src_mac),
                names(l.dst_mac),
                l.segments,
                l.data,
                l.bytes,
                l.max_len,
                (l.last.time - l.first_ts) as f64 / 1e9,
            ),
            bad: l.retx > 0,
        });
    }
    if let Some(g) = &life.gap {
        out.push(LifeLine {
            time: g.before.time,
            at: Some(g.before),
            text: format!(
                "… {:.1} s without a packet (folded), then the {} at +{:.3} s{}",
                g.idle_ns as f64 / 1e9,
                if g.resumed_by_client {
                    "client"
                } else {
                    "server"
                },
                (g.resume.time - f.first_ts) as f64 / 1e9,
                if g.server_after {
                    ""
                } else {
                    "; no answer from the server after it"
                }
            ),
            bad: !g.server_after,
        });
    }
    for r in &life.server_rst {
        out.push(LifeLine {
            time: r.at.time,
            at: Some(r.at),
            text: format!(
                "RST to the client from {}{} via {}",
                r.src,
                if r.src == vip { " (the VIP)" } else { "" },
                names(r.src_mac)
            ),
            bad: true,
        });
    }
    if life.legs_overflow {
        out.push(LifeLine {
            time: f.last_ts,
            at: None,
            text: format!("(more legs than the {} kept)", super::life::MAX_LEGS),
            bad: false,
        });
    }
    out.sort_by_key(|l| l.time);
    out
}

impl FlowRow {
    /// `rs_label` names the real server (its RIP, else MAC) when known.
    pub fn new(v: &FlowView<'_>, expected_mode: Option<Mode>, rs_label: Option<String>) -> FlowRow {
        let f = v.flow;
        let mut legs = Vec::with_capacity(f.opens.len() + f.replies.len() + 1);
        for c in &f.opens {
            let step = if v.forward.is_some_and(|x| std::ptr::eq(x, c)) {
                Step::Forward
            } else if v.bypassed.is_some_and(|x| std::ptr::eq(x, c)) {
                Step::Bypass
            } else if c.outer.is_some() || (c.dst != v.vaddr.ip && v.mode == Some(Mode::Nat)) {
                // Another point's view of the forwarded copy.
                Step::Forward
            } else if v
                .forward
                .is_some_and(|x| x.dst_mac == c.dst_mac && x.dst == c.dst)
            {
                Step::Forward
            } else {
                Step::ClientSyn
            };
            legs.push(Leg {
                step,
                at: c.at,
                count: c.count,
                src_mac: c.src_mac,
                dst_mac: c.dst_mac,
                src: (f.client, f.cport),
                dst: (c.dst, c.dport),
                outer: c.outer,
                rst: false,
                icmp: None,
            });
        }
        for r in &f.replies {
            legs.push(Leg {
                step: Step::Reply,
                at: r.at,
                count: r.count,
                src_mac: r.src_mac,
                dst_mac: r.dst_mac,
                src: (r.src, r.sport),
                dst: (f.client, f.cport),
                outer: r.outer,
                rst: r.rst,
                icmp: None,
            });
        }
        for i in &f.icmp {
            legs.push(Leg {
                step: Step::Icmp,
                at: i.at,
                count: i.count,
                src_mac: i.src_mac,
                dst_mac: i.dst_mac,
                src: (i.from, 0),
                dst: if i.about_request {
                    (f.client, f.cport)
                } else {
                    (i.quoted_dst, 0)
                },
                outer: None,
                rst: false,
                icmp: Some(i.kind),
            });
        }
        if let Some(a) = f.client_ack() {
            legs.push(Leg {
                step: Step::ClientAck,
                at: a,
                count: 1,
                src_mac: None,
                dst_mac: None,
                src: (f.client, f.cport),
                dst: (v.vaddr.ip, v.vaddr.port),
                outer: None,
                rst: false,
                icmp: None,
            });
        }
        legs.sort_by_key(|l| (l.at.time, l.at.point, l.at.frame));

        let state = if v.established {
            FlowState::Established
        } else if f.server_rst().is_some() || f.client_rst().is_some() {
            FlowState::Reset
        } else if v.failed {
            FlowState::Failed
        } else {
            FlowState::Open
        };
        let mode = v.mode.or(expected_mode);
        let missing = missing_steps(v, mode, state, rs_label.as_deref());
        let names = |m: Option<Mac>| m.map_or("?".into(), |m| crate::decode::fmt_mac(&m));
        let life = life_lines(f, v.vaddr.ip, &names);
        FlowRow {
            proto: f.proto,
            client: f.client,
            cport: f.cport,
            vip: v.vaddr.ip,
            vport: v.vaddr.port,
            mode,
            rs: v.rs,
            rs_label,
            state,
            syn_retransmits: f.syn_retransmits(),
            rtt_ns: rtt(f),
            first_ts: f.first_ts,
            legs,
            missing,
            life,
            notable: crate::flow::kept::notable(v),
        }
    }
}

fn missing_steps(
    v: &FlowView<'_>,
    mode: Option<Mode>,
    state: FlowState,
    rs_label: Option<&str>,
) -> Vec<(Step, String)> {
    let f = v.flow;
    let udp = f.proto == Proto::Udp;
    let (open, answer) = if udp {
        ("datagram", "answer")
    } else {
        ("SYN", "SYN-ACK")
    };
    let mut out = Vec::new();
    if v.forward.is_none() && v.bypassed.is_none() {
        out.push((
            Step::Forward,
            match mode {
                Some(m) => format!(
                    "no capture point shows the director forwarding this {open} ({m}): capture on the director's real-server side, or the director did not schedule it (no real server available?)"
                ),
                None => format!("no capture point shows a director forwarding this {open}"),
            },
        ));
    }
    if !f.synack_seen() && f.server_rst().is_none() {
        let who = rs_label.unwrap_or("the real server");
        let why = match mode {
            Some(Mode::Dr) | Some(Mode::Tun) => {
                " (VIP not on its loopback/tunnel interface, service not listening, or rp_filter dropping it)"
            }
            Some(Mode::Nat) => " (service not listening, or a firewall dropping it)",
            None => "",
        };
        out.push((
            Step::Reply,
            format!("no {answer} at any capture point: {who} never answered{why}"),
        ));
    } else if mode == Some(Mode::Nat) && f.synack_seen() && !v.replies_from_vip().any(|r| !r.rst) {
        out.push((
            Step::Reply,
            format!("no {answer} from the VIP: the real server's reply was not rewritten by the director (it bypassed it)"),
        ));
    }
    if !udp
        && state != FlowState::Established
        && state != FlowState::Open
        && f.client_ack().is_none()
    {
        out.push((
            Step::ClientAck,
            "the client never completed the handshake".into(),
        ));
    }
    out
}

/// Handshake round trip: the first SYN to the first SYN-ACK seen at the
/// same capture point (the client-most point that saw both).
pub fn rtt(f: &Flow) -> Option<i64> {
    let mut best: Option<i64> = None;
    for s in &f.opens {
        for r in f
            .replies
            .iter()
            .filter(|r| !r.rst && r.at.point == s.at.point)
        {
            let d = r.at.time - s.at.time;
            if d >= 0 && best.is_none_or(|b| d > b) {
                // The largest span is the one seen furthest from the server.
                best = Some(d);
            }
        }
    }
    best
}
