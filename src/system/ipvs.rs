//! IPVS over generic netlink (family "IPVS", `include/uapi/linux/ip_vs.h`).
//!
//! The generic netlink framing (nlmsghdr, genlmsghdr, attribute walking)
//! comes from `netlink-packet-core` / `netlink-packet-generic`; this module
//! only knows the IPVS attribute numbers and their encodings. It is tolerant:
//! unknown attributes are skipped, unknown schedulers, protocols, forwarding
//! methods and address families are reported by number. Byte order follows
//! the kernel: ports (and the IPv4 persistence netmask) are network order,
//! everything else (fwmark, timeouts, weights, counters) host order.

use super::nl::{decode_stream, Conn, NlError};
use super::{Forward, Ipvs, IpvsDest, IpvsService, Stats, SyncDaemon, Timeouts};
use crate::model::{Proto, ServiceKey};
use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NlaBuffer, NlasIterator, ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const FAMILY: &str = "IPVS";
const VERSION: u8 = 1;

// Commands.
pub const CMD_GET_SERVICE: u8 = 4;
pub const CMD_GET_DEST: u8 = 8;
pub const CMD_GET_DAEMON: u8 = 11;
pub const CMD_GET_CONFIG: u8 = 13;
pub const CMD_GET_INFO: u8 = 15;

// IPVS_CMD_ATTR_*
const CMD_ATTR_SERVICE: u16 = 1;
const CMD_ATTR_DEST: u16 = 2;
const CMD_ATTR_DAEMON: u16 = 3;
const CMD_ATTR_TIMEOUT_TCP: u16 = 4;
const CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// IPVS_SVC_ATTR_*
const SVC_AF: u16 = 1;
const SVC_PROTOCOL: u16 = 2;
const SVC_ADDR: u16 = 3;
const SVC_PORT: u16 = 4;
const SVC_FWMARK: u16 = 5;
const SVC_SCHED_NAME: u16 = 6;
const SVC_FLAGS: u16 = 7;
const SVC_TIMEOUT: u16 = 8;
const SVC_NETMASK: u16 = 9;
const SVC_STATS: u16 = 10;
const SVC_PE_NAME: u16 = 11;
const SVC_STATS64: u16 = 12;

// IPVS_DEST_ATTR_*
const DEST_ADDR: u16 = 1;
const DEST_PORT: u16 = 2;
const DEST_FWD_METHOD: u16 = 3;
const DEST_WEIGHT: u16 = 4;
const DEST_U_THRESH: u16 = 5;
const DEST_L_THRESH: u16 = 6;
const DEST_ACTIVE_CONNS: u16 = 7;
const DEST_INACT_CONNS: u16 = 8;
const DEST_PERSIST_CONNS: u16 = 9;
const DEST_STATS: u16 = 10;
const DEST_ADDR_FAMILY: u16 = 11;
const DEST_STATS64: u16 = 12;
const DEST_TUN_TYPE: u16 = 13;
const DEST_TUN_PORT: u16 = 14;
const DEST_TUN_FLAGS: u16 = 15;

// IPVS_DAEMON_ATTR_*
const DAEMON_STATE: u16 = 1;
const DAEMON_MCAST_IFN: u16 = 2;
const DAEMON_SYNC_ID: u16 = 3;

// IPVS_INFO_ATTR_*
const INFO_VERSION: u16 = 1;
const INFO_CONN_TAB_SIZE: u16 = 2;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IP_VS_SVC_F_PERSISTENT: u32 = 0x1;
/// One-packet scheduling (`ipvsadm -o`).
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x4;

/// An IPVS generic netlink message: the command and its raw attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsGenl {
    pub cmd: u8,
    pub attrs: Vec<u8>,
}

impl GenlFamily for IpvsGenl {
    fn family_name() -> &'static str {
        FAMILY
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        VERSION
    }
}

impl Emitable for IpvsGenl {
    fn buffer_len(&self) -> usize {
        self.attrs.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        buffer[..self.attrs.len()].copy_from_slice(&self.attrs);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsGenl {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(IpvsGenl {
            cmd: header.cmd,
            attrs: buf.to_vec(),
        })
    }
}

/// What identifies a service to the kernel (for GET_DEST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcKey {
    pub af: u16,
    pub protocol: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub fwmark: Option<u32>,
}

impl SvcKey {
    /// The nested IPVS_CMD_ATTR_SERVICE that selects this service.
    fn attrs(&self) -> Vec<u8> {
        let mut inner = vec![DefaultNla::new(SVC_AF, self.af.to_ne_bytes().to_vec())];
        match self.fwmark {
            Some(m) => inner.push(DefaultNla::new(SVC_FWMARK, m.to_ne_bytes().to_vec())),
            None => {
                inner.push(DefaultNla::new(
                    SVC_PROTOCOL,
                    self.protocol.to_ne_bytes().to_vec(),
                ));
                inner.push(DefaultNla::new(SVC_ADDR, self.addr.to_vec()));
                inner.push(DefaultNla::new(SVC_PORT, self.port.to_be_bytes().to_vec()));
            }
        }
        let mut value = vec![0u8; inner.as_slice().buffer_len()];
        inner.as_slice().emit(&mut value);
        let outer = [DefaultNla::new(CMD_ATTR_SERVICE | NLA_F_NESTED, value)];
        let mut out = vec![0u8; outer.as_slice().buffer_len()];
        outer.as_slice().emit(&mut out);
        out
    }
}

// ----------------------------------------------------------------- decoding

/// Walks the attributes of `buf`, calling `f(kind, value)` for each.
fn walk(buf: &[u8], mut f: impl FnMut(u16, &[u8])) -> Result<(), String> {
    for nla in NlasIterator::new(buf) {
        let nla: NlaBuffer<&[u8]> = nla.map_err(|e| e.to_string())?;
        f(nla.kind(), nla.value());
    }
    Ok(())
}

fn ne_u16(v: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?))
}
fn be_u16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?))
}
fn ne_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))
}
/// A counter sent as u32 or u64.
fn counter(v: &[u8]) -> Option<u64> {
    match v.len() {
        4 => ne_u32(v).map(u64::from),
        n if n >= 8 => Some(u64::from_ne_bytes(v[..8].try_into().ok()?)),
        _ => None,
    }
}
fn string(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}
fn addr(af: u16, v: &[u8]) -> Option<IpAddr> {
    match af {
        AF_INET => {
            let b: [u8; 4] = v.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        AF_INET6 => {
            let b: [u8; 16] = v.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}
fn af_name(af: u16) -> String {
    match af {
        AF_INET => "inet".into(),
        AF_INET6 => "inet6".into(),
        n => format!("af{n}"),
    }
}
fn decode_stats(v: &[u8]) -> Result<Stats, String> {
    let mut s = Stats::default();
    walk(v, |k, v| {
        let Some(n) = counter(v) else { return };
        match k {
            1 => s.conns = n,
            2 => s.inpkts = n,
            3 => s.outpkts = n,
            4 => s.inbytes = n,
            5 => s.outbytes = n,
            6 => s.cps = n,
            7 => s.inpps = n,
            8 => s.outpps = n,
            9 => s.inbps = n,
            10 => s.outbps = n,
            _ => {}
        }
    })?;
    Ok(s)
}

/// Decodes the nested service attributes (IPVS_CMD_ATTR_SERVICE).
pub fn decode_service(v: &[u8]) -> Result<(IpvsService, SvcKey), String> {
    let mut af = 0u16;
    let mut proto = None;
    let mut raw_addr: Option<Vec<u8>> = None;
    let mut port = None;
    let mut s = IpvsService::default();
    let mut raw_netmask = None;
    let (mut stats, mut stats64) = (None, None);
    let mut nested_err = None;
    walk(v, |k, v| match k {
        SVC_AF => af = ne_u16(v).unwrap_or(0),
        SVC_PROTOCOL => proto = ne_u16(v),
        SVC_ADDR => raw_addr = Some(v.to_vec()),
        SVC_PORT => port = be_u16(v),
        SVC_FWMARK => s.fwmark = ne_u32(v),
        SVC_SCHED_NAME => s.scheduler = Some(string(v)),
        SVC_PE_NAME => s.pe = Some(string(v)).filter(|p| !p.is_empty()),
        SVC_FLAGS => s.flags = ne_u32(v).unwrap_or(0),
        SVC_TIMEOUT => s.timeout = ne_u32(v).unwrap_or(0),
        SVC_NETMASK => raw_netmask = v.get(..4).map(|b| [b[0], b[1], b[2], b[3]]),
        SVC_STATS => match decode_stats(v) {
            Ok(st) => stats = Some(st),
            Err(e) => nested_err = Some(e),
        },
        SVC_STATS64 => match decode_stats(v) {
            Ok(st) => stats64 = Some(st),
            Err(e) => nested_err = Some(e),
        },
        _ => {}
    })?;
    if let Some(e) = nested_err {
        return Err(format!("service statistics: {e}"));
    }
    s.af = af_name(af);
    s.persistent = s.flags & IP_VS_SVC_F_PERSISTENT != 0;
    s.stats = stats64.or(stats);
    // IPv4: a network-order mask; IPv6: a prefix length in host order.
    s.netmask = raw_netmask.map(|b| match af {
        AF_INET6 => u32::from_ne_bytes(b).min(128) as u8,
        _ => u32::from_be_bytes(b).count_ones() as u8,
    });
    let mut key = SvcKey {
        af,
        protocol: proto.unwrap_or(0),
        addr: [0; 16],
        port: port.unwrap_or(0),
        fwmark: s.fwmark,
    };
    if s.fwmark.is_none() {
        s.protocol = proto.map(Proto::from_number);
        s.port = port;
        if let Some(a) = &raw_addr {
            s.address = addr(af, a);
            let n = a.len().min(16);
            key.addr[..n].copy_from_slice(&a[..n]);
        }
    }
    Ok((s, key))
}

/// Decodes the nested destination attributes (IPVS_CMD_ATTR_DEST); `svc_af`
/// is the service's family, used when the kernel sends no ADDR_FAMILY.
pub fn decode_dest(v: &[u8], svc_af: u16) -> Result<Option<IpvsDest>, String> {
    let mut af = None;
    let mut raw_addr = None;
    let mut d = IpvsDest::default();
    let (mut stats, mut stats64) = (None, None);
    let mut fwd = None;
    walk(v, |k, v| match k {
        DEST_ADDR => raw_addr = Some(v.to_vec()),
        DEST_PORT => d.port = be_u16(v).unwrap_or(0),
        DEST_FWD_METHOD => fwd = ne_u32(v),
        // The kernel's weight is an int sent as u32.
        DEST_WEIGHT => d.weight = ne_u32(v).map_or(0, |w| i64::from(w as i32)),
        DEST_U_THRESH => d.u_threshold = ne_u32(v),
        DEST_L_THRESH => d.l_threshold = ne_u32(v),
        DEST_ACTIVE_CONNS => d.active_conns = ne_u32(v).unwrap_or(0),
        DEST_INACT_CONNS => d.inactive_conns = ne_u32(v).unwrap_or(0),
        DEST_PERSIST_CONNS => d.persistent_conns = ne_u32(v),
        DEST_STATS => stats = decode_stats(v).ok(),
        DEST_STATS64 => stats64 = decode_stats(v).ok(),
        DEST_ADDR_FAMILY => af = ne_u16(v),
        DEST_TUN_TYPE => {
            d.tun_type = v.first().map(|t| match t {
                0 => "ipip".to_string(),
                1 => "gue".to_string(),
                2 => "gre".to_string(),
                n => format!("tun{n}"),
            })
        }
        DEST_TUN_PORT => d.tun_port = be_u16(v).filter(|p| *p != 0),
        DEST_TUN_FLAGS => d.tun_flags = ne_u16(v),
        _ => {}
    })?;
    let Some(a) = raw_addr.and_then(|a| addr(af.unwrap_or(svc_af), &a)) else {
        return Ok(None);
    };
    d.address = a;
    d.forward = fwd.map_or(Forward::Unknown, Forward::from_flags);
    if d.forward != Forward::Tunnel {
        d.tun_type = None;
        d.tun_port = None;
    }
    d.stats = stats64.or(stats);
    Ok(Some(d))
}

fn messages(stream: &[u8]) -> Result<Vec<IpvsGenl>, String> {
    Ok(decode_stream::<GenlMessage<IpvsGenl>>(stream)?
        .into_iter()
        .map(|m| m.payload)
        .collect())
}

/// A GET_SERVICE dump reply: every service with the key to ask for its dests.
pub fn decode_services(stream: &[u8]) -> Result<Vec<(IpvsService, SvcKey)>, String> {
    let mut out = Vec::new();
    for m in messages(stream)? {
        let mut found = Vec::new();
        walk(&m.attrs, |k, v| {
            if k == CMD_ATTR_SERVICE {
                found.push(v.to_vec());
            }
        })?;
        for v in found {
            out.push(decode_service(&v)?);
        }
    }
    Ok(out)
}

/// A GET_DEST dump reply.
pub fn decode_dests(stream: &[u8], svc_af: u16) -> Result<Vec<IpvsDest>, String> {
    let mut out = Vec::new();
    for m in messages(stream)? {
        let mut found = Vec::new();
        walk(&m.attrs, |k, v| {
            if k == CMD_ATTR_DEST {
                found.push(v.to_vec());
            }
        })?;
        for v in found {
            out.extend(decode_dest(&v, svc_af)?);
        }
    }
    Ok(out)
}

/// A GET_CONFIG reply: the connection timeouts.
pub fn decode_config(stream: &[u8]) -> Result<Option<Timeouts>, String> {
    let mut t = None;
    for m in messages(stream)? {
        let mut tt = Timeouts::default();
        walk(&m.attrs, |k, v| match k {
            CMD_ATTR_TIMEOUT_TCP => tt.tcp = ne_u32(v).unwrap_or(0),
            CMD_ATTR_TIMEOUT_TCP_FIN => tt.tcp_fin = ne_u32(v).unwrap_or(0),
            CMD_ATTR_TIMEOUT_UDP => tt.udp = ne_u32(v).unwrap_or(0),
            _ => {}
        })?;
        t = Some(tt);
    }
    Ok(t)
}

/// A GET_DAEMON dump reply: the sync daemons running.
pub fn decode_daemons(stream: &[u8]) -> Result<Vec<SyncDaemon>, String> {
    let mut out = Vec::new();
    for m in messages(stream)? {
        let mut found = Vec::new();
        walk(&m.attrs, |k, v| {
            if k == CMD_ATTR_DAEMON {
                found.push(v.to_vec());
            }
        })?;
        for v in found {
            let mut d = SyncDaemon::default();
            walk(&v, |k, v| match k {
                DAEMON_STATE => {
                    d.state = match ne_u32(v) {
                        Some(1) => "master".into(),
                        Some(2) => "backup".into(),
                        Some(n) => format!("state{n}"),
                        None => "?".into(),
                    }
                }
                DAEMON_MCAST_IFN => d.interface = Some(string(v)),
                DAEMON_SYNC_ID => d.sync_id = ne_u32(v),
                _ => {}
            })?;
            out.push(d);
        }
    }
    Ok(out)
}

/// A GET_INFO reply: IPVS version (`1.2.1`) and connection table size.
pub fn decode_info(stream: &[u8]) -> Result<(Option<String>, Option<u32>), String> {
    let (mut ver, mut size) = (None, None);
    for m in messages(stream)? {
        walk(&m.attrs, |k, v| match k {
            INFO_VERSION => {
                ver = ne_u32(v).map(|v| format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff))
            }
            INFO_CONN_TAB_SIZE => size = ne_u32(v),
            _ => {}
        })?;
    }
    Ok((ver, size))
}

/// The generic netlink controller's family dump: the id of family `name`.
/// Walked here (CTRL_ATTR_FAMILY_ID = 1, CTRL_ATTR_FAMILY_NAME = 2) rather
/// than with `netlink-packet-generic`'s `GenlCtrl` parser, which panics on
/// some malformed policy attributes (found by the ipvs_netlink fuzz target).
pub fn decode_family_id(stream: &[u8], name: &str) -> Result<Option<u16>, String> {
    for m in messages(stream)? {
        let (mut id, mut is) = (None, false);
        walk(&m.attrs, |k, v| match k {
            1 => id = ne_u16(v),
            2 => is = string(v) == name,
            _ => {}
        })?;
        if is {
            return Ok(id);
        }
    }
    Ok(None)
}

/// Everything a whole IPVS reading decodes to, from the recorded streams.
/// `dests[i]` is the GET_DEST reply for the i-th service.
pub struct Streams {
    pub services: Vec<u8>,
    pub dests: Vec<Vec<u8>>,
    pub config: Option<Vec<u8>>,
    pub daemons: Option<Vec<u8>>,
    pub info: Option<Vec<u8>>,
}

/// Why IPVS could not be read over netlink.
pub enum Unavailable {
    /// No IPVS generic netlink family: the ip_vs module is not loaded.
    NotLoaded,
    /// EPERM: the caller lacks CAP_NET_ADMIN.
    Permission,
    Other(String),
}

/// Reads IPVS from the kernel. Returns the decoded state and the raw streams.
pub fn read(conn: &mut Conn) -> Result<Ipvs, Unavailable> {
    let other = |what: &str, e: NlError| match e {
        NlError::Errno(libc::EPERM) | NlError::Errno(libc::EACCES) => Unavailable::Permission,
        e => Unavailable::Other(format!("{what}: {e}")),
    };
    // A dump of every family, never a lookup by name: that one may make the
    // kernel load the module (request_module), and we change nothing.
    let fams = conn
        .request(
            "genl-families",
            GenlMessage::from_payload(GenlCtrl {
                cmd: GenlCtrlCmd::GetFamily,
                nlas: vec![],
            }),
            true,
        )
        .map_err(|e| other("generic netlink families", e))?;
    let id = decode_family_id(&fams, FAMILY)
        .map_err(Unavailable::Other)?
        .ok_or(Unavailable::NotLoaded)?;
    let mut req = |name: &str, cmd: u8, attrs: Vec<u8>, dump: bool| {
        let mut m = GenlMessage::from_payload(IpvsGenl { cmd, attrs });
        m.set_resolved_family_id(id);
        conn.request(name, m, dump)
    };
    let services = req("ipvs-services", CMD_GET_SERVICE, vec![], true)
        .map_err(|e| other("IPVS services", e))?;
    let svcs = decode_services(&services).map_err(Unavailable::Other)?;
    let mut dests = Vec::new();
    for (i, (_, key)) in svcs.iter().enumerate() {
        dests.push(
            req(&format!("ipvs-dests-{i}"), CMD_GET_DEST, key.attrs(), true)
                .map_err(|e| other("IPVS destinations", e))?,
        );
    }
    let config = req("ipvs-config", CMD_GET_CONFIG, vec![], false).ok();
    let daemons = req("ipvs-daemons", CMD_GET_DAEMON, vec![], true).ok();
    let info = req("ipvs-info", CMD_GET_INFO, vec![], false).ok();
    decode_all(&Streams {
        services,
        dests,
        config,
        daemons,
        info,
    })
    .map_err(Unavailable::Other)
}

/// Decodes a complete reading (live or recorded).
pub fn decode_all(s: &Streams) -> Result<Ipvs, String> {
    let mut services = Vec::new();
    for (i, (mut svc, key)) in decode_services(&s.services)?.into_iter().enumerate() {
        if let Some(d) = s.dests.get(i) {
            svc.destinations = decode_dests(d, key.af)?;
        }
        services.push(svc);
    }
    let (version, conn_tab_size) = match &s.info {
        Some(i) => decode_info(i)?,
        None => (None, None),
    };
    Ok(Ipvs {
        source: "netlink".into(),
        version,
        conn_tab_size,
        services,
        timeouts: match &s.config {
            Some(c) => decode_config(c)?,
            None => None,
        },
        daemons: match &s.daemons {
            Some(d) => decode_daemons(d)?,
            None => Vec::new(),
        },
    })
}

/// The `/proc/net/ip_vs` fallback (no thresholds, timeouts, daemons or stats).
pub fn from_proc(text: &str) -> Ipvs {
    let parsed = crate::model::ipvsadm::parse_proc(text, "/proc/net/ip_vs");
    // Active/inactive connection columns, in destination order.
    let mut conns = text.lines().map(str::split_whitespace).filter_map(|mut t| {
        (t.next() == Some("->")).then(|| {
            let v: Vec<&str> = t.collect();
            (
                v.get(3).and_then(|x| x.parse().ok()).unwrap_or(0),
                v.get(4).and_then(|x| x.parse().ok()).unwrap_or(0),
            )
        })
    });
    let _header = conns.next(); // "-> RemoteAddress:Port Forward Weight ActiveConn InActConn"
    let services = parsed
        .model
        .services
        .into_iter()
        .map(|s| IpvsService {
            af: match s.key {
                ServiceKey::Addr { vip, .. } if vip.is_ipv6() => "inet6",
                ServiceKey::Fwmark { v6: true, .. } => "inet6",
                _ => "inet",
            }
            .into(),
            protocol: s.key.proto(),
            address: s.key.vip(),
            port: s.key.vip().map(|_| s.key.port().unwrap_or(0)),
            fwmark: match s.key {
                ServiceKey::Fwmark { mark, .. } => Some(mark),
                ServiceKey::Addr { .. } => None,
            },
            scheduler: s.scheduler.clone(),
            persistent: s.persistent.is_some(),
            timeout: s.persistent.unwrap_or(0),
            destinations: s
                .real_servers
                .iter()
                .map(|r| {
                    let (a, i) = conns.next().unwrap_or((0, 0));
                    IpvsDest {
                        address: r.addr,
                        port: r.port.unwrap_or(0),
                        forward: match r.mode {
                            crate::model::Mode::Nat => Forward::Masq,
                            crate::model::Mode::Dr => Forward::Route,
                            crate::model::Mode::Tun => Forward::Tunnel,
                        },
                        weight: r.weight,
                        active_conns: a,
                        inactive_conns: i,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Ipvs {
        source: "proc".into(),
        services,
        ..Default::default()
    }
}
