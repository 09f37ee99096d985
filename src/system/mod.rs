//! Live configuration: a read-only snapshot of one host's LVS-relevant state
//! (IPVS over generic netlink, links/addresses/routes/neighbours over
//! rtnetlink, sysctls), as data for the checks and as JSON (`lvsdiag snapshot`).
//!
//! Collection never writes to the kernel: only GET/dump requests are sent,
//! the IPVS family is found by dumping the controller's family list (a
//! lookup by name may make the kernel load the module), and `/proc` and
//! `/proc/sys` are only read. A network namespace is entered with `setns` on
//! a dedicated thread ([`netns`]).

pub mod collect;
pub mod command;
pub mod ipvs;
pub mod netns;
pub mod nft;
pub mod nl;
pub mod rtnl;
pub mod sockets;
pub mod sysctl;

use crate::model::{Mode, Proto, ServiceKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Version of the snapshot JSON format.
pub const FORMAT: u32 = 1;

/// One host (or network namespace) as read from its kernel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSnapshot {
    pub format: u32,
    /// The host name: the namespace name, else the UTS host name.
    pub host: String,
    /// The network namespace read (`/var/run/netns/NAME`), if not the caller's.
    #[serde(default)]
    pub netns: Option<String>,
    /// Seconds since the Unix epoch when it was taken.
    #[serde(default)]
    pub taken_at: u64,
    /// `None` when IPVS is not loaded in this namespace.
    #[serde(default)]
    pub ipvs: Option<Ipvs>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub neighbours: Vec<Neighbour>,
    /// Full sysctl name (`net.ipv4.conf.all.arp_ignore`) to value, as `sysctl` prints it.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Listening TCP sockets (`ss -ltn`); `None`: not read (older snapshot).
    #[serde(default)]
    pub listeners: Option<Vec<Listener>>,
    /// Unconnected UDP sockets (`ss -lun`); `None`: not read (older snapshot).
    #[serde(default)]
    pub udp_listeners: Option<Vec<Listener>>,
    /// The nftables ruleset as `nft -j list ruleset` prints it; `None`: not
    /// read (no `nft`, no privilege, or an older snapshot).
    #[serde(default)]
    pub nftables: Option<serde_json::Value>,
    /// The connection tracker's counters (`/proc/net/stat/nf_conntrack`,
    /// summed over CPUs); `None`: no conntrack here, or an older snapshot.
    #[serde(default)]
    pub conntrack: Option<ConntrackStats>,
    /// What could not be read, and why.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `/proc/net/stat/nf_conntrack` summed over CPUs: the counters that say a
/// full table (or a race on insert) dropped packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackStats {
    /// Packets dropped because no entry could be allocated (table full).
    pub drop: u64,
    /// Entries evicted early to make room.
    pub early_drop: u64,
    /// Entries that could not be inserted (a race, or the table full).
    pub insert_failed: u64,
}

impl ConntrackStats {
    /// Parses the file: a header line of column names, then one line of
    /// hexadecimal counters per CPU.
    pub fn parse(text: &str) -> Option<ConntrackStats> {
        let mut lines = text.lines();
        let names: Vec<&str> = lines.next()?.split_whitespace().collect();
        let col = |n: &str| names.iter().position(|x| *x == n);
        let (d, e, i) = (col("drop")?, col("early_drop")?, col("insert_failed")?);
        let mut out = ConntrackStats::default();
        for l in lines {
            let v: Vec<u64> = l
                .split_whitespace()
                .map(|x| u64::from_str_radix(x, 16))
                .collect::<Result<_, _>>()
                .ok()?;
            let at = |k: usize| v.get(k).copied().unwrap_or(0);
            out.drop = out.drop.saturating_add(at(d));
            out.early_drop = out.early_drop.saturating_add(at(e));
            out.insert_failed = out.insert_failed.saturating_add(at(i));
        }
        Some(out)
    }
}

/// A listening socket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    pub protocol: Proto,
    /// The bound address; `0.0.0.0` / `::` for any.
    pub address: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ipvs {
    /// `netlink` (generic netlink family IPVS) or `proc` (`/proc/net/ip_vs`
    /// fallback: no thresholds, timeouts, sync daemons or 64-bit stats).
    pub source: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub conn_tab_size: Option<u32>,
    #[serde(default)]
    pub services: Vec<IpvsService>,
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
    #[serde(default)]
    pub daemons: Vec<SyncDaemon>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpvsService {
    /// `inet`, `inet6` or `af<N>`.
    pub af: String,
    /// `tcp`, `udp`, `sctp` or the protocol number; absent for fwmark services.
    #[serde(default)]
    pub protocol: Option<Proto>,
    #[serde(default)]
    pub address: Option<IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub fwmark: Option<u32>,
    #[serde(default)]
    pub scheduler: Option<String>,
    /// Persistence engine (`sip`).
    #[serde(default)]
    pub pe: Option<String>,
    #[serde(default)]
    pub flags: u32,
    #[serde(default)]
    pub persistent: bool,
    /// Persistence timeout, seconds.
    #[serde(default)]
    pub timeout: u32,
    /// Persistence netmask as a prefix length.
    #[serde(default)]
    pub netmask: Option<u8>,
    #[serde(default)]
    pub stats: Option<Stats>,
    #[serde(default)]
    pub destinations: Vec<IpvsDest>,
}

impl IpvsService {
    /// The service's key: a firewall mark, else protocol, address and
    /// port (port 0, a persistent any-port service: `None`).
    pub fn key(&self) -> Option<ServiceKey> {
        match (self.fwmark, self.address, self.protocol) {
            (Some(mark), _, _) => Some(ServiceKey::Fwmark {
                mark,
                v6: self.af == "inet6",
            }),
            (None, Some(a), Some(p)) => Some(ServiceKey::addr(p, a, self.port.filter(|p| *p != 0))),
            _ => None,
        }
    }

    /// `192.0.2.100:80/tcp`, `[2001:db8::100]:80/tcp` or `FWM 1`.
    pub fn label(&self) -> String {
        self.key().map_or("?".into(), |k| k.to_string())
    }
}

/// How IPVS forwards to a real server (`IP_VS_CONN_F_FWD_MASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Forward {
    /// NAT (`-m`).
    Masq,
    /// The director itself.
    Local,
    /// IP-in-IP, GUE or GRE (`-i`).
    Tunnel,
    /// DR (`-g`).
    Route,
    Bypass,
    /// A method number this build does not know.
    Other(u32),
    /// Not given.
    Unknown,
}

impl Forward {
    pub fn from_flags(f: u32) -> Forward {
        match f & 7 {
            0 => Forward::Masq,
            1 => Forward::Local,
            2 => Forward::Tunnel,
            3 => Forward::Route,
            4 => Forward::Bypass,
            n => Forward::Other(n),
        }
    }
    pub fn mode(self) -> Option<Mode> {
        match self {
            Forward::Masq => Some(Mode::Nat),
            Forward::Route | Forward::Local => Some(Mode::Dr),
            Forward::Tunnel => Some(Mode::Tun),
            _ => None,
        }
    }
}

/// `masq`, `local`, `tunnel`, `route`, `bypass`, `fwdN`, `?`.
impl std::fmt::Display for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Forward::Masq => f.write_str("masq"),
            Forward::Local => f.write_str("local"),
            Forward::Tunnel => f.write_str("tunnel"),
            Forward::Route => f.write_str("route"),
            Forward::Bypass => f.write_str("bypass"),
            Forward::Other(n) => write!(f, "fwd{n}"),
            Forward::Unknown => f.write_str("?"),
        }
    }
}

impl From<Forward> for String {
    fn from(f: Forward) -> String {
        f.to_string()
    }
}

impl From<String> for Forward {
    fn from(s: String) -> Forward {
        match s.as_str() {
            "masq" => Forward::Masq,
            "local" => Forward::Local,
            "tunnel" => Forward::Tunnel,
            "route" => Forward::Route,
            "bypass" => Forward::Bypass,
            o => o
                .strip_prefix("fwd")
                .and_then(|n| n.parse().ok())
                .map_or(Forward::Unknown, Forward::Other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpvsDest {
    pub address: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: i64,
    #[serde(default)]
    pub u_threshold: Option<u32>,
    #[serde(default)]
    pub l_threshold: Option<u32>,
    #[serde(default)]
    pub active_conns: u32,
    #[serde(default)]
    pub inactive_conns: u32,
    #[serde(default)]
    pub persistent_conns: Option<u32>,
    #[serde(default)]
    pub stats: Option<Stats>,
    /// Tunnel type for `tunnel` (`ipip`, `gue`, `gre`).
    #[serde(default)]
    pub tun_type: Option<String>,
    #[serde(default)]
    pub tun_port: Option<u16>,
    /// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`: 1 csum, 2 remcsum; 0 nocsum).
    #[serde(default)]
    pub tun_flags: Option<u16>,
}

impl Default for IpvsDest {
    fn default() -> Self {
        IpvsDest {
            address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
            forward: Forward::Unknown,
            weight: 0,
            u_threshold: None,
            l_threshold: None,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: None,
            stats: None,
            tun_type: None,
            tun_port: None,
            tun_flags: None,
        }
    }
}

impl IpvsDest {
    pub fn mode(&self) -> Option<Mode> {
        self.forward.mode()
    }
}

/// IPVS counters (the 64-bit ones when the kernel sends them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemon {
    /// `master` or `backup`.
    pub state: String,
    pub interface: Option<String>,
    pub sync_id: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    #[serde(default)]
    pub mac: Option<String>,
    /// Operational state (`up`, `down`, `unknown`, …).
    pub state: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    /// `veth`, `bridge`, `ipip`, … (IFLA_INFO_KIND); absent for plain devices.
    #[serde(default)]
    pub kind: Option<String>,
    /// `loopback`, `ether`, `tunnel`, … (link-layer type).
    #[serde(default)]
    pub link_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub ifindex: u32,
    pub ifname: String,
    pub address: IpAddr,
    pub prefix_len: u8,
    /// `host`, `link`, `global`, …
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix; `0.0.0.0/0` or `::/0` for the default route.
    pub dst: IpAddr,
    pub prefix_len: u8,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub prefsrc: Option<IpAddr>,
    /// `main`, `local` or the table number.
    pub table: String,
    /// `unicast`, `local`, `broadcast`, …
    pub kind: String,
    #[serde(default)]
    pub metric: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    pub address: IpAddr,
    #[serde(default)]
    pub mac: Option<String>,
    pub dev: String,
    pub state: String,
}

impl HostSnapshot {
    /// The interfaces that carry `ip` (its address or a prefix-less /32,/128).
    pub fn ifaces_with(&self, ip: IpAddr) -> Vec<&str> {
        self.addresses
            .iter()
            .filter(|a| a.address == ip)
            .map(|a| a.ifname.as_str())
            .collect()
    }

    /// The loopback interface through which this host accepts `ip` without
    /// having it as an address: a prefix on a loopback link that contains
    /// it (`ip addr add 192.0.2.96/28 dev lo`), or a `local` route of the
    /// local table through one (AnyIP: `ip route add local 192.0.2.0/24
    /// dev lo`).
    pub fn local_via_loopback(&self, ip: IpAddr) -> Option<&str> {
        self.addresses
            .iter()
            .find(|a| self.is_loopback(&a.ifname) && prefix_contains(a.address, a.prefix_len, ip))
            .map(|a| a.ifname.as_str())
            .or_else(|| {
                self.routes
                    .iter()
                    .filter(|r| r.table == "local" && r.kind == "local")
                    .filter(|r| r.dev.as_deref().is_some_and(|d| self.is_loopback(d)))
                    .find(|r| prefix_contains(r.dst, r.prefix_len, ip))
                    .and_then(|r| r.dev.as_deref())
            })
    }

    /// Whether the host accepts packets to `ip` as its own: an address on
    /// some interface, or through the loopback ([`Self::local_via_loopback`]).
    pub fn holds(&self, ip: IpAddr) -> bool {
        !self.ifaces_with(ip).is_empty() || self.local_via_loopback(ip).is_some()
    }

    /// Does this host own `ip` on an interface other than the loopback?
    pub fn owns_on_wire(&self, ip: IpAddr) -> bool {
        self.ifaces_with(ip).iter().any(|i| !self.is_loopback(i))
    }

    pub fn is_loopback(&self, ifname: &str) -> bool {
        self.links
            .iter()
            .find(|l| l.name == ifname)
            .map_or(ifname == "lo", |l| l.link_type == "loopback")
    }

    /// The dummy interface that holds `ip` (kube-proxy's `kube-ipvs0`).
    pub fn dummy_with(&self, ip: IpAddr) -> Option<&str> {
        self.ifaces_with(ip).into_iter().find(|i| {
            self.links
                .iter()
                .any(|l| l.name == *i && l.kind.as_deref() == Some("dummy"))
        })
    }

    /// The layout this host's IPVS follows, when it is a known one: the
    /// service addresses on a dummy interface, as kube-proxy (`kube-ipvs0`)
    /// and kube-router (`kube-dummy-if`) bind them, masquerading or not.
    pub fn layout(&self) -> Option<String> {
        let ipvs = self.ipvs.as_ref().filter(|i| !i.services.is_empty())?;
        let dummy = ipvs
            .services
            .iter()
            .filter_map(|s| s.address)
            .find_map(|a| self.dummy_with(a))?;
        let masq = if self.masquerades() {
            ", masquerading"
        } else {
            ""
        };
        Some(match dummy {
            "kube-ipvs0" => {
                format!("kube-proxy (IPVS mode): service addresses on kube-ipvs0{masq}")
            }
            "kube-dummy-if" => format!("kube-router: service addresses on kube-dummy-if{masq}"),
            d => format!(
                "service addresses on the dummy interface {}{masq}",
                crate::text::sanitize(d)
            ),
        })
    }

    /// Masquerades what IPVS forwards: a masquerade/SNAT rule that can
    /// apply (`net.ipv4.vs.conntrack` = 1 keeps IPVS traffic tracked).
    pub fn masquerades(&self) -> bool {
        self.sysctl("net.ipv4.vs.conntrack") == Some(1)
            && self
                .nftables
                .as_ref()
                .is_some_and(|d| !nft::source_nat_rules(d).is_empty())
    }

    /// The connection table's fill: (entries, limit), when read.
    pub fn conntrack_fill(&self) -> Option<(i64, i64)> {
        let count = self.sysctl("net.netfilter.nf_conntrack_count")?;
        let max = self
            .sysctl("net.netfilter.nf_conntrack_max")
            .or_else(|| self.sysctl("net.nf_conntrack_max"))?;
        (max > 0).then_some((count, max))
    }

    pub fn sysctl(&self, key: &str) -> Option<i64> {
        self.sysctls.get(key).and_then(|v| v.trim().parse().ok())
    }

    /// The value the kernel uses for a per-interface IPv4 setting that it
    /// combines as max(all, iface): arp_ignore, arp_announce, rp_filter.
    pub fn effective_max(&self, ifname: &str, key: &str) -> Option<(i64, String)> {
        // sysctl names write a '.' in an interface name (VLANs) as '/'.
        let ifname = ifname.replace('.', "/");
        let all = self.sysctl(&format!("net.ipv4.conf.all.{key}"));
        let dev = self.sysctl(&format!("net.ipv4.conf.{ifname}.{key}"));
        let v = match (all, dev) {
            (Some(a), Some(d)) => a.max(d),
            (Some(v), None) | (None, Some(v)) => v,
            (None, None) => return None,
        };
        Some((
            v,
            format!(
                "net.ipv4.conf.all.{key} = {}, net.ipv4.conf.{ifname}.{key} = {}",
                all.map_or("?".into(), |v| v.to_string()),
                dev.map_or("?".into(), |v| v.to_string())
            ),
        ))
    }

    /// The route the kernel would pick for `dst` in the main table (longest
    /// prefix, then lowest metric). Policy routing is not evaluated.
    pub fn route_to(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.table == "main" && r.kind == "unicast")
            .filter(|r| prefix_contains(r.dst, r.prefix_len, dst))
            .min_by_key(|r| (std::cmp::Reverse(r.prefix_len), r.metric.unwrap_or(0)))
    }

    /// `ip route` style text of a route.
    pub fn describe_route(r: &Route) -> String {
        let dst = if r.prefix_len == 0 {
            "default".to_string()
        } else {
            format!("{}/{}", r.dst, r.prefix_len)
        };
        let mut s = dst;
        if let Some(g) = r.gateway {
            s.push_str(&format!(" via {g}"));
        }
        if let Some(d) = &r.dev {
            s.push_str(&format!(" dev {d}"));
        }
        s
    }

    /// `ip addr` style list of the addresses on one interface.
    pub fn describe_iface(&self, ifname: &str) -> String {
        let a: Vec<String> = self
            .addresses
            .iter()
            .filter(|a| a.ifname == ifname)
            .map(|a| format!("{}/{}", a.address, a.prefix_len))
            .collect();
        if a.is_empty() {
            format!("{ifname} has no address")
        } else {
            format!("{ifname} has {}", a.join(", "))
        }
    }
}

/// The entry names of a directory, sorted; `None` if it cannot be listed.
pub(crate) fn dir_names(dir: &std::path::Path) -> Option<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Some(v)
}

pub fn prefix_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Reads snapshot JSON files: each holds one host object or an array of them.
/// A directory means every `*.json` in it.
pub fn load(paths: &[String]) -> Result<Vec<HostSnapshot>, String> {
    use crate::text::sanitize;
    let mut files = Vec::new();
    for p in paths {
        let path = std::path::Path::new(p);
        if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: cannot list directory: {e}", sanitize(p)))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            v.sort();
            if v.is_empty() {
                return Err(format!(
                    "{}: no snapshot files (*.json) in this directory; take them with lvsdiag snapshot --out DIR",
                    sanitize(p)
                ));
            }
            files.extend(v);
        } else {
            files.push(path.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let shown = sanitize(&f.display().to_string());
        let text = std::fs::read(&f).map_err(|e| format!("{shown}: cannot read snapshot: {e}"))?;
        out.extend(parse(&text).map_err(|e| format!("{shown}: {e}"))?);
    }
    Ok(out)
}

/// Parses snapshot JSON: one host object or an array of them.
pub fn parse(text: &[u8]) -> Result<Vec<HostSnapshot>, String> {
    let v: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| format!("not a snapshot (not JSON: {e}); take one with lvsdiag snapshot"))?;
    let items = match v {
        serde_json::Value::Array(a) => a,
        o => vec![o],
    };
    let mut out = Vec::new();
    for it in items {
        if it.get("format").is_none() || it.get("host").is_none() {
            return Err(
                "not an lvsdiag snapshot (no \"format\" and \"host\" fields); take one with lvsdiag snapshot"
                    .into(),
            );
        }
        let s: HostSnapshot =
            serde_json::from_value(it).map_err(|e| format!("not a valid lvsdiag snapshot: {e}"))?;
        if s.format > FORMAT {
            return Err(format!(
                "snapshot format {} is newer than this lvsdiag understands ({FORMAT}); upgrade lvsdiag",
                s.format
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// Renders snapshots as JSON: one object for one host, else an array.
pub fn to_json(snaps: &[HostSnapshot]) -> String {
    let mut s = if snaps.len() == 1 {
        serde_json::to_string_pretty(&snaps[0])
    } else {
        serde_json::to_string_pretty(snaps)
    }
    .expect("snapshot serializes");
    s.push('\n');
    s
}

/// The LVS model (services, real servers, modes) from the IPVS of every
/// snapshot that has one.
pub fn to_model(snaps: &[HostSnapshot]) -> crate::model::Model {
    use crate::model::{Model, Origin, RealServerCfg, Service};
    let mut m = Model::default();
    for h in snaps {
        if let Some(l) = h.layout() {
            m.layouts
                .push(format!("{}: {l}", crate::text::sanitize(&h.host)));
        }
        let Some(ipvs) = &h.ipvs else { continue };
        for s in &ipvs.services {
            let origin = Origin::Ipvs(format!("{} snapshot", h.host));
            let Some(key) = s.key() else { continue };
            let mut svc = Service::new(key, origin);
            svc.scheduler = s.scheduler.clone();
            svc.persistent = s.persistent.then_some(s.timeout);
            svc.ops = s.flags & crate::system::ipvs::IP_VS_SVC_F_ONEPACKET != 0;
            svc.real_servers = s
                .destinations
                .iter()
                .filter_map(|d| {
                    let mode = d.mode()?;
                    Some(RealServerCfg {
                        addr: d.address,
                        port: Some(d.port),
                        mode,
                        weight: d.weight,
                        encap: (mode == Mode::Tun)
                            .then(|| {
                                crate::model::ipvsadm::encap_of(d.tun_type.as_deref(), d.tun_port)
                            })
                            .flatten(),
                    })
                })
                .collect();
            svc.mode = svc.effective_mode();
            // A firewall-mark service covers what this host's nftables marks.
            if let (ServiceKey::Fwmark { mark, .. }, Some(rules)) = (key, &h.nftables) {
                for r in nft::eval::mark_rules(rules)
                    .into_iter()
                    .filter(|r| r.mark == mark)
                {
                    let ports: Vec<Option<u16>> = if r.ports.is_empty() {
                        vec![None]
                    } else {
                        r.ports.iter().copied().map(Some).collect()
                    };
                    for vip in &r.daddrs {
                        for port in &ports {
                            svc.cover(crate::model::Cover {
                                proto: r.proto,
                                vip: *vip,
                                port: *port,
                                from: format!("{} snapshot: nft rule `{}`", h.host, r.text),
                            });
                        }
                    }
                }
            }
            m.add(svc);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_counters_are_summed_over_cpus() {
        let t = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
0000001a  00000000 00000000 00000000 00000003 00000000 00000000 00000000 00000000 00000001 00000012 00000000 00000000  00000000 00000000 00000000 00000000\n\
0000001a  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000004 00000000  00000000 00000000 00000000 00000000\n";
        let s = ConntrackStats::parse(t).unwrap();
        assert_eq!((s.drop, s.early_drop, s.insert_failed), (0x14, 4, 1));
        assert_eq!(
            ConntrackStats::parse("entries drop\nzz 1\n"),
            None,
            "not hex"
        );
        assert_eq!(
            ConntrackStats::parse("entries\n1\n"),
            None,
            "no drop column"
        );
    }

    fn host() -> HostSnapshot {
        let mut h = HostSnapshot {
            format: FORMAT,
            host: "rs1".into(),
            ..Default::default()
        };
        h.sysctls
            .insert("net.ipv4.conf.all.rp_filter".into(), "0".into());
        h.sysctls
            .insert("net.ipv4.conf.eth0.rp_filter".into(), "1".into());
        h.sysctls
            .insert("net.ipv4.conf.all.arp_ignore".into(), "2".into());
        h.sysctls
            .insert("net.ipv4.conf.eth0.arp_ignore".into(), "1".into());
        for (dst, len, gw, dev) in [
            ("0.0.0.0", 0, Some("192.0.2.1"), "eth0"),
            ("192.0.2.0", 24, None, "eth0"),
            ("198.51.100.0", 24, None, "eth1"),
        ] {
            h.routes.push(Route {
                dst: dst.parse().unwrap(),
                prefix_len: len,
                gateway: gw.map(|g| g.parse().unwrap()),
                dev: Some(dev.into()),
                prefsrc: None,
                table: "main".into(),
                kind: "unicast".into(),
                metric: None,
            });
        }
        h
    }

    #[test]
    fn effective_value_is_the_max_of_all_and_iface() {
        let h = host();
        assert_eq!(h.effective_max("eth0", "rp_filter").unwrap().0, 1);
        assert_eq!(h.effective_max("eth0", "arp_ignore").unwrap().0, 2);
        assert_eq!(h.effective_max("eth9", "rp_filter").unwrap().0, 0);
        assert!(h.effective_max("eth0", "proxy_arp").is_none());
        let mut v = h.clone();
        v.sysctls
            .insert("net.ipv4.conf.eth0/100.rp_filter".into(), "1".into());
        assert_eq!(v.effective_max("eth0.100", "rp_filter").unwrap().0, 1);
    }

    #[test]
    fn route_lookup_is_longest_prefix() {
        let h = host();
        let r = h.route_to("198.51.100.7".parse().unwrap()).unwrap();
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        let r = h.route_to("203.0.113.10".parse().unwrap()).unwrap();
        assert_eq!(
            SnapshotRouteText(r).to_string(),
            "default via 192.0.2.1 dev eth0"
        );
        assert!(h.route_to("2001:db8::1".parse().unwrap()).is_none());
    }

    struct SnapshotRouteText<'a>(&'a Route);
    impl std::fmt::Display for SnapshotRouteText<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&HostSnapshot::describe_route(self.0))
        }
    }

    #[test]
    fn parse_rejects_what_is_not_a_snapshot() {
        assert!(parse(b"not json").unwrap_err().contains("not JSON"));
        assert!(parse(b"{\"a\":1}")
            .unwrap_err()
            .contains("not an lvsdiag snapshot"));
        assert!(parse(b"{\"format\":99,\"host\":\"x\"}")
            .unwrap_err()
            .contains("newer"));
        let h = host();
        let back = parse(to_json(std::slice::from_ref(&h)).as_bytes()).unwrap();
        assert_eq!(back, vec![h.clone()]);
        let two = parse(to_json(&[h.clone(), h]).as_bytes()).unwrap();
        assert_eq!(two.len(), 2);
    }
}
