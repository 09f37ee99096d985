//! What the lifecycle checks share: the director's two legs of a
//! connection (the client's segments arriving, and leaving forwarded), the
//! director's own MACs for a flow, what the snapshots say about IPVS's
//! timeouts, sync daemons and sysctls, and a bounded list of connections.

use super::Context;
use crate::decode::Mac;
use crate::flow::life::{Leg, Life};
use crate::flow::view::FlowView;
use crate::system::HostSnapshot;

/// Connections kept per check for concluding (the rest are only counted).
pub const MAX_KEPT: usize = 4096;
/// The client's segments kept arriving this long after the last one the
/// director forwarded: it stopped forwarding.
pub const STOP_NS: i64 = 200_000_000;
/// IPVS's default TCP (established) timeout, in seconds.
pub const DEFAULT_TCP_TIMEOUT: u32 = 900;

/// A TCP flow's life after its handshake.
pub fn life<'a>(v: &FlowView<'a>) -> Option<&'a Life> {
    v.flow.tcp_state().and_then(|t| t.life.as_deref())
}

/// The director's MACs for a flow: the one it forwarded from, and the one
/// the client's packets were addressed to on arrival (NAT: its outside
/// interface).
pub fn director_macs(v: &FlowView<'_>) -> [Option<Mac>; 2] {
    [v.director_mac, v.ingress.and_then(|i| i.dst_mac)]
}

/// Whether `mac` is one of the flow's director's.
pub fn is_flow_director(v: &FlowView<'_>, mac: Option<Mac>) -> bool {
    mac.is_some() && director_macs(v).contains(&mac)
}

/// The legs at the director: the client's segments arriving (where its SYN
/// arrived) and leaving forwarded (where the forwarded SYN went).
pub fn director_legs<'a>(v: &FlowView<'a>) -> Option<(&'a Leg, &'a Leg)> {
    let life = life(v)?;
    let ingress = life.leg_of(v.ingress?)?;
    let forward = life.leg_of(v.forward?)?;
    Some((ingress, forward))
}

/// The director stopped forwarding the connection: its client's segments
/// went on arriving after the last one it forwarded.
pub fn forwarding_stopped<'a>(v: &FlowView<'a>) -> Option<(&'a Leg, &'a Leg)> {
    let (i, f) = director_legs(v)?;
    (i.last.time > f.last.time + STOP_NS && i.segments > f.segments).then_some((i, f))
}

/// A director's IPVS TCP timeout in seconds and where it comes from: a
/// snapshot, else `--ipvs-timeout`; `None`: not known (the default applies).
pub fn tcp_timeout(ctx: &Context<'_>) -> Option<(u32, String)> {
    for s in directors(ctx) {
        if let Some(t) = s.ipvs.as_ref().and_then(|i| i.timeouts.as_ref()) {
            if t.tcp > 0 {
                return Some((
                    t.tcp,
                    format!(
                        "{} snapshot: ipvsadm -L --timeout: tcp {} tcpfin {} udp {}",
                        s.host, t.tcp, t.tcp_fin, t.udp
                    ),
                ));
            }
        }
    }
    ctx.model
        .tcp_timeout
        .map(|t| (t, format!("--ipvs-timeout {t}")))
}

/// The snapshots of hosts that run IPVS with services (the directors).
pub fn directors<'a>(ctx: &'a Context<'_>) -> impl Iterator<Item = &'a HostSnapshot> {
    ctx.snapshots
        .iter()
        .filter(|s| s.ipvs.as_ref().is_some_and(|i| !i.services.is_empty()))
}

/// `rs1 snapshot: net.ipv4.ip_forward = 0`, when the snapshot has it.
pub fn sysctl_line(s: &HostSnapshot, key: &str) -> Option<(String, String)> {
    s.sysctls
        .get(key)
        .map(|v| (v.clone(), format!("{} snapshot: {key} = {v}", s.host)))
}

/// The first and last of some times (ns).
pub fn span(ts: impl Iterator<Item = i64>) -> Option<(i64, i64)> {
    ts.fold(None, |s, t| {
        Some(s.map_or((t, t), |(a, b): (i64, i64)| (a.min(t), b.max(t))))
    })
}

/// `1.5 s`, `12 min`, `2.0 h`.
pub fn fmt_duration(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Retransmissions of full-size segments that make a PMTU black hole.
pub const PMTU_MIN_RETX: u32 = 3;
/// Segments this small fit any path (IPv6's minimum MTU): never a victim.
pub const PMTU_MIN_LEN: u16 = 1280;

/// A connection whose full-size segments never got through.
#[derive(Debug, Clone, Copy)]
pub struct PmtuVictim {
    pub vaddr: crate::model::Vaddr,
    pub first_ts: i64,
    pub from_client: bool,
    /// The captures show the tunnel (the encapsulated copy).
    pub tunnel: bool,
    /// Its encapsulation, as the forwarded copy shows it.
    pub encap: crate::decode::tunnel::Encap,
    /// The captures show how the director forwarded it (any mode).
    pub mode_seen: bool,
    pub retx: u32,
    /// The smallest retransmitted segment (IP total length).
    pub retx_len: u16,
    /// The MSS the sender's peer announced (what sized the segments).
    pub peer_mss: u16,
    pub first_retx: crate::finding::Evidence,
    /// An ICMP fragmentation-needed / packet-too-big about its packets:
    /// the MTU it names, who sent it, and the first copy.
    pub icmp: Option<(u32, std::net::IpAddr, crate::finding::Evidence, u16)>,
}

/// The sender (either side) of `v` that re-sent full-size segments at
/// least [`PMTU_MIN_RETX`] times and never had them acknowledged.
pub fn pmtu_victim(v: &FlowView<'_>) -> Option<PmtuVictim> {
    let life = life(v)?;
    if !v.established {
        return None;
    }
    [true, false].into_iter().find_map(|from_client| {
        let leg = life.worst_retx(from_client)?;
        let first = leg.first_retx?;
        if leg.retx < PMTU_MIN_RETX
            || leg.retx_min_len < PMTU_MIN_LEN
            || life.acked_past(from_client, leg.retx_seq)
        {
            return None;
        }
        let icmp = v
            .flow
            .icmp
            .iter()
            .filter(|c| c.about_request == from_client)
            .find_map(|c| match c.kind {
                crate::decode::IcmpKind::TooBig(m) => Some((m, c.from, c.at, c.count)),
                _ => None,
            });
        Some(PmtuVictim {
            vaddr: v.vaddr,
            first_ts: v.flow.first_ts,
            from_client,
            tunnel: v.mode == Some(crate::model::Mode::Tun) && from_client,
            encap: v.forward.map(|f| f.encap).unwrap_or_default(),
            mode_seen: v.mode.is_some(),
            retx: leg.retx,
            retx_len: leg.retx_min_len,
            peer_mss: v.flow.tcp_state().map_or(0, |t| {
                if from_client {
                    t.server_mss
                } else {
                    t.client_mss
                }
            }),
            first_retx: first,
            icmp,
        })
    })
}

/// Whether a black hole's segments went through an IP-in-IP tunnel: the
/// captures show it, or (no capture shows the forwarding) the client's
/// segments of a service the configuration says is TUN.
/// The encapsulation a tunnelled victim went through: as captured, else as
/// the model's real servers of its service say.
pub fn encap_of(ctx: &Context<'_>, x: &PmtuVictim) -> crate::decode::tunnel::Encap {
    if x.tunnel {
        return x.encap;
    }
    ctx.model
        .find(x.vaddr)
        .and_then(|s| s.real_servers.iter().find_map(|r| r.encap))
        .unwrap_or_default()
}

pub fn through_tunnel(ctx: &Context<'_>, x: &PmtuVictim) -> bool {
    x.tunnel
        || (!x.mode_seen
            && x.from_client
            && ctx.model.find(x.vaddr).and_then(|s| s.effective_mode())
                == Some(crate::model::Mode::Tun))
}

/// The MTUs of the directors' interfaces, as their snapshots show them.
pub fn director_mtus(ctx: &Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for s in directors(ctx) {
        for l in s.links.iter().filter(|l| l.up && l.name != "lo") {
            if let Some(m) = l.mtu {
                out.push(format!("{} snapshot: {} mtu {m}", s.host, l.name));
            }
        }
    }
    out
}
