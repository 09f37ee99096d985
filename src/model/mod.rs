//! The LVS model: virtual services, their real servers and forwarding modes.
//!
//! It comes from the command line (`--vip`), from IPVS configuration text
//! (`ipvsadm -S -n`, `/proc/net/ip_vs`, see [`ipvsadm`]), or is inferred from
//! the traffic by the engine. Checks take it as an input.

pub mod ipvsadm;
pub mod keepalived;

use crate::decode::{fmt_mac, Mac};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Nat,
    Dr,
    Tun,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Nat => "nat",
            Mode::Dr => "dr",
            Mode::Tun => "tun",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "nat" | "masq" | "m" => Some(Mode::Nat),
            "dr" | "route" | "g" | "l2dsr" => Some(Mode::Dr),
            "tun" | "ipip" | "i" => Some(Mode::Tun),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_uppercase())
    }
}

/// A transport protocol, as IPVS keys services by it (`-t`, `-u`,
/// `--sctp-service`); any other protocol number is kept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
    Other(u16),
}

impl Proto {
    pub fn from_number(n: u16) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            132 => Proto::Sctp,
            n => Proto::Other(n),
        }
    }
    pub fn number(self) -> u16 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
            Proto::Other(n) => n,
        }
    }
    /// `tcp`, `udp`, `sctp`, or the protocol number.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Proto::Tcp => "tcp".into(),
            Proto::Udp => "udp".into(),
            Proto::Sctp => "sctp".into(),
            Proto::Other(n) => n.to_string().into(),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<Proto> for String {
    fn from(p: Proto) -> String {
        p.name().into_owned()
    }
}

/// `tcp`, `udp`, `sctp` or a protocol number (anything else is number 0).
impl From<String> for Proto {
    fn from(s: String) -> Proto {
        match s.as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "sctp" => Proto::Sctp,
            n => Proto::from_number(n.parse().unwrap_or(0)),
        }
    }
}

/// What IPVS keys a virtual service by: protocol, address and port, or a
/// firewall mark (`ipvsadm -A -f MARK`) per address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Addr {
        proto: Proto,
        vip: IpAddr,
        /// `None`: any port (`--vip ADDR` without port, or a persistent
        /// port-0 service).
        port: Option<u16>,
    },
    Fwmark {
        mark: u32,
        v6: bool,
    },
}

impl ServiceKey {
    pub fn addr(proto: Proto, vip: IpAddr, port: Option<u16>) -> ServiceKey {
        ServiceKey::Addr { proto, vip, port }
    }
    /// The VIP, for an address service.
    pub fn vip(&self) -> Option<IpAddr> {
        match *self {
            ServiceKey::Addr { vip, .. } => Some(vip),
            ServiceKey::Fwmark { .. } => None,
        }
    }
    pub fn port(&self) -> Option<u16> {
        match *self {
            ServiceKey::Addr { port, .. } => port,
            ServiceKey::Fwmark { .. } => None,
        }
    }
    pub fn proto(&self) -> Option<Proto> {
        match *self {
            ServiceKey::Addr { proto, .. } => Some(proto),
            ServiceKey::Fwmark { .. } => None,
        }
    }
    /// Whether a connection to `v` is this service's (a firewall-mark
    /// service cannot be matched from addresses alone).
    pub fn matches(&self, v: Vaddr) -> bool {
        match *self {
            ServiceKey::Addr { proto, vip, port } => {
                vip == v.ip && proto == v.proto && port.is_none_or(|p| p == v.port)
            }
            ServiceKey::Fwmark { .. } => false,
        }
    }
    /// The service as ipvsadm names it in a command: `-t 192.0.2.100:80`,
    /// `-u [2001:db8::100]:53`, `-f 1`; `None` for a protocol ipvsadm has
    /// no option for.
    pub fn ipvsadm_arg(&self) -> Option<String> {
        match *self {
            ServiceKey::Addr { proto, vip, port } => {
                let opt = match proto {
                    Proto::Tcp => "-t",
                    Proto::Udp => "-u",
                    Proto::Sctp => "--sctp-service",
                    Proto::Other(_) => return None,
                };
                Some(format!("{opt} {}", SocketAddr::new(vip, port.unwrap_or(0))))
            }
            ServiceKey::Fwmark { mark, v6 } => {
                Some(format!("-f {mark}{}", if v6 { " -6" } else { "" }))
            }
        }
    }
}

/// `192.0.2.100:80/tcp`, `[2001:db8::100]:80/tcp`, `192.0.2.100:*/tcp`,
/// `FWM 1`, `FWM 1 IPv6` (as `ipvsadm -L` names them).
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ServiceKey::Addr { proto, vip, port } => {
                let p = port.map_or("*".to_string(), |p| p.to_string());
                match vip {
                    IpAddr::V4(a) => write!(f, "{a}:{p}/{proto}"),
                    IpAddr::V6(a) => write!(f, "[{a}]:{p}/{proto}"),
                }
            }
            ServiceKey::Fwmark { mark, v6 } => {
                write!(f, "FWM {mark}{}", if v6 { " IPv6" } else { "" })
            }
        }
    }
}

/// The virtual address a connection was made to, as the client addressed
/// it: what IPVS looks a service up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vaddr {
    pub proto: Proto,
    pub ip: IpAddr,
    pub port: u16,
}

impl Vaddr {
    /// The address service this connection would belong to, with its port.
    pub fn key(self) -> ServiceKey {
        ServiceKey::addr(self.proto, self.ip, Some(self.port))
    }
}

/// A real server as findings name it: its RIP, else (DR, when no capture
/// shows its address) its MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RsId {
    Ip(IpAddr),
    Mac(Mac),
}

impl RsId {
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            RsId::Ip(ip) => Some(ip),
            RsId::Mac(_) => None,
        }
    }
}

impl fmt::Display for RsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RsId::Ip(ip) => write!(f, "{ip}"),
            RsId::Mac(m) => f.write_str(&fmt_mac(m)),
        }
    }
}

/// Where a service definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--vip` on the command line.
    CommandLine,
    /// An IPVS configuration file (path).
    Ipvs(String),
    /// A keepalived configuration (`FILE:LINE` of the virtual_server).
    Keepalived(String),
    /// Inferred from traffic; the text says from which packets.
    Inferred(String),
}

impl Origin {
    pub fn label(&self) -> &'static str {
        match self {
            Origin::CommandLine => "cli",
            Origin::Ipvs(_) => "ipvs",
            Origin::Keepalived(_) => "keepalived",
            Origin::Inferred(_) => "inferred",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerCfg {
    pub addr: IpAddr,
    pub port: Option<u16>,
    pub mode: Mode,
    pub weight: i64,
    /// Tunnel mode: the encapsulation (`None`: not said, IP-in-IP).
    pub encap: Option<crate::decode::tunnel::Encap>,
}

/// What a firewall-mark service covers on the wire: traffic to this VIP
/// (and port, and protocol, when known). The mark itself never is on the
/// wire; where the cover was learnt is kept to say so in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// `None`: any protocol.
    pub proto: Option<Proto>,
    pub vip: IpAddr,
    /// `None`: any port.
    pub port: Option<u16>,
    /// `--fwmark`, a director's nftables rule, or the traffic.
    pub from: String,
}

impl Cover {
    pub fn matches(&self, v: Vaddr) -> bool {
        self.vip == v.ip
            && self.proto.is_none_or(|p| p == v.proto)
            && self.port.is_none_or(|p| p == v.port)
    }

    /// `192.0.2.100:80/tcp`, `192.0.2.100:*/any`.
    pub fn label(&self) -> String {
        let p = self.port.map_or("*".to_string(), |p| p.to_string());
        let proto = self.proto.map_or("any".into(), |p| p.name());
        match self.vip {
            IpAddr::V4(a) => format!("{a}:{p}/{proto}"),
            IpAddr::V6(a) => format!("[{a}]:{p}/{proto}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    /// A firewall-mark service: the addresses it covers, as far as known.
    pub covers: Vec<Cover>,
    pub scheduler: Option<String>,
    pub persistent: Option<u32>,
    /// One-packet scheduling (`ipvsadm -o`, UDP): each datagram is
    /// scheduled on its own.
    pub ops: bool,
    pub mode: Option<Mode>,
    pub origin: Origin,
    pub real_servers: Vec<RealServerCfg>,
}

impl Service {
    pub fn new(key: ServiceKey, origin: Origin) -> Service {
        Service {
            key,
            covers: Vec::new(),
            scheduler: None,
            persistent: None,
            ops: false,
            mode: None,
            origin,
            real_servers: Vec::new(),
        }
    }

    /// Whether a connection to `v` is this service's: by its address, or,
    /// for a firewall-mark service, by what it is known to cover.
    pub fn matches(&self, v: Vaddr) -> bool {
        self.key.matches(v) || self.covers.iter().any(|c| c.matches(v))
    }

    /// Adds a cover unless one for the same address is there.
    pub fn cover(&mut self, c: Cover) {
        if !self
            .covers
            .iter()
            .any(|x| (x.proto, x.vip, x.port) == (c.proto, c.vip, c.port))
        {
            self.covers.push(c);
        }
    }

    /// `192.0.2.100:80/tcp`, `[2001:db8::100]:80/tcp`, `192.0.2.100:*/tcp`, `FWM 1`.
    pub fn label(&self) -> String {
        self.key.to_string()
    }

    /// The configured mode, else the mode common to its real servers.
    pub fn effective_mode(&self) -> Option<Mode> {
        self.mode.or_else(|| {
            let first = self.real_servers.first()?.mode;
            self.real_servers
                .iter()
                .all(|r| r.mode == first)
                .then_some(first)
        })
    }
}

/// The services to check. Empty means: infer them from the traffic.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub services: Vec<Service>,
    /// keepalived configurations read (`--keepalived`): what they declare,
    /// kept apart from the services so that they can be held against IPVS.
    pub keepalived: Vec<keepalived::Config>,
    /// IPVS's TCP (established) timeout in seconds, when given
    /// (`--ipvs-timeout`, or a `Timeout (tcp tcpfin udp)` line of
    /// `ipvsadm -L --timeout` in an `--ipvs` file).
    pub tcp_timeout: Option<u32>,
    /// Known layouts the snapshots show, one per director: `node1:
    /// kube-proxy (IPVS mode): …`.
    pub layouts: Vec<String>,
}

impl Model {
    pub fn find(&self, v: Vaddr) -> Option<&Service> {
        self.services.iter().find(|s| s.matches(v))
    }

    /// Every VIP and real server address, when they are all the traffic
    /// there is to see (`None` without services, or with a firewall-mark
    /// service, whose addresses are not known).
    pub fn addresses(&self) -> Option<Vec<IpAddr>> {
        let unknown = |s: &Service| s.key.vip().is_none() && s.covers.is_empty();
        if self.services.is_empty() || self.services.iter().any(unknown) {
            return None;
        }
        let mut v: Vec<IpAddr> = self
            .services
            .iter()
            .flat_map(|s| {
                s.key
                    .vip()
                    .into_iter()
                    .chain(s.covers.iter().map(|c| c.vip))
                    .chain(s.real_servers.iter().map(|r| r.addr))
            })
            .collect();
        v.sort();
        v.dedup();
        Some(v)
    }

    pub fn is_vip(&self, ip: IpAddr) -> bool {
        self.services
            .iter()
            .any(|s| s.key.vip() == Some(ip) || s.covers.iter().any(|c| c.vip == ip))
    }

    /// The real server configured at `ip`, in any service.
    /// The service a connection to real server `ip` on `port` over `proto`
    /// belongs to: one whose real server has that address and port (or no
    /// port) and whose protocol is `proto`, else any with that address.
    pub fn service_of_rs(
        &self,
        ip: IpAddr,
        port: u16,
        proto: Proto,
    ) -> Option<(&Service, &RealServerCfg)> {
        self.services
            .iter()
            .filter(|s| s.key.proto().is_none_or(|p| p == proto))
            .find_map(|s| {
                s.real_servers
                    .iter()
                    .find(|r| r.addr == ip && r.port.is_none_or(|p| p == port))
                    .map(|r| (s, r))
            })
            .or_else(|| self.real_server(ip))
    }

    pub fn real_server(&self, ip: IpAddr) -> Option<(&Service, &RealServerCfg)> {
        self.services
            .iter()
            .find_map(|s| s.real_servers.iter().find(|r| r.addr == ip).map(|r| (s, r)))
    }

    /// Adds or merges a service (same key).
    pub fn add(&mut self, svc: Service) {
        if let Some(existing) = self.services.iter_mut().find(|s| s.key == svc.key) {
            for c in svc.covers {
                existing.cover(c);
            }
            for r in svc.real_servers {
                if !existing
                    .real_servers
                    .iter()
                    .any(|e| e.addr == r.addr && e.port == r.port)
                {
                    existing.real_servers.push(r);
                }
            }
            existing.mode = existing.mode.or(svc.mode);
        } else {
            self.services.push(svc);
        }
    }
}

/// Parses `--fwmark MARK=ADDR[:PORT][/PROTO][,ADDR…]`: what the director's
/// firewall marks with MARK (each target as `--vip` takes it).
pub fn parse_fwmark(s: &str) -> Result<(u32, Vec<Cover>), String> {
    let bad = |why: &str| {
        format!("--fwmark {s}: {why}; use MARK=ADDR[:PORT][/tcp|udp][,ADDR…], e.g. 1=192.0.2.100:80,192.0.2.100:443")
    };
    let (mark, targets) = s.split_once('=').ok_or_else(|| bad("no ="))?;
    let mark = mark
        .trim()
        .parse::<u32>()
        .map_err(|_| bad("the mark is not a number"))?;
    let mut covers = Vec::new();
    for t in targets.split(',').filter(|t| !t.trim().is_empty()) {
        let k = parse_vip(t.trim()).map_err(|_| bad(&format!("{t} is not ADDR[:PORT][/PROTO]")))?;
        if let ServiceKey::Addr { proto, vip, port } = k {
            covers.push(Cover {
                proto: Some(proto),
                vip,
                port,
                from: "--fwmark".into(),
            });
        }
    }
    if covers.is_empty() {
        return Err(bad("no address"));
    }
    Ok((mark, covers))
}

/// Parses `--vip ADDR[:PORT][/PROTO]` (IPv6 as `[ADDR]:PORT` or bare
/// `ADDR`; PROTO `tcp` (the default), `udp` or `sctp`), the way services
/// are labelled.
pub fn parse_vip(s: &str) -> Result<ServiceKey, String> {
    let bad = || {
        format!(
            "--vip {s}: not an address; use ADDR[:PORT][/tcp|udp|sctp], e.g. 192.0.2.100:80, 192.0.2.100:53/udp or [2001:db8::100]:80"
        )
    };
    let (addr, proto) = match s.rsplit_once('/') {
        Some((a, "tcp")) => (a, Proto::Tcp),
        Some((a, "udp")) => (a, Proto::Udp),
        Some((a, "sctp")) => (a, Proto::Sctp),
        Some(_) => return Err(bad()),
        None => (s, Proto::Tcp),
    };
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Ok(ServiceKey::addr(proto, ip, None));
    }
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(ServiceKey::addr(proto, sa.ip(), Some(sa.port())));
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vips() {
        let v4 = "192.0.2.100".parse().unwrap();
        let v6 = "2001:db8::100".parse().unwrap();
        let ok = |s: &str| parse_vip(s).unwrap();
        assert_eq!(
            ok("192.0.2.100:80"),
            ServiceKey::addr(Proto::Tcp, v4, Some(80))
        );
        assert_eq!(ok("192.0.2.100"), ServiceKey::addr(Proto::Tcp, v4, None));
        assert_eq!(
            ok("[2001:db8::100]:443"),
            ServiceKey::addr(Proto::Tcp, v6, Some(443))
        );
        assert_eq!(ok("2001:db8::100"), ServiceKey::addr(Proto::Tcp, v6, None));
        assert_eq!(
            ok("192.0.2.100:53/udp"),
            ServiceKey::addr(Proto::Udp, v4, Some(53))
        );
        assert_eq!(
            ok("[2001:db8::100]:53/udp"),
            ServiceKey::addr(Proto::Udp, v6, Some(53))
        );
        // What a label says is what --vip takes.
        for k in [ok("192.0.2.100:53/udp"), ok("[2001:db8::100]:80/tcp")] {
            assert_eq!(ok(&k.to_string()), k);
        }
        assert!(parse_vip("vip").is_err());
        assert!(parse_vip("192.0.2.100:99999").is_err());
        assert!(parse_vip("192.0.2.100:53/icmp").is_err());
    }

    #[test]
    fn a_real_server_in_several_services_is_found_by_port_and_protocol() {
        let m = crate::model::ipvsadm::parse(
            "-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 198.51.100.11:8080 -m -w 1\n\
             -A -t 192.0.2.100:443 -s rr\n-a -t 192.0.2.100:443 -r 198.51.100.11:8443 -m -w 1\n\
             -A -u 192.0.2.100:53 -s rr\n-a -u 192.0.2.100:53 -r 198.51.100.11:53 -m -w 1\n",
            "test",
        )
        .model;
        let rip = "198.51.100.11".parse().unwrap();
        let port = |p, proto| m.service_of_rs(rip, p, proto).map(|(s, _)| s.key.port());
        assert_eq!(port(8443, Proto::Tcp), Some(Some(443)));
        assert_eq!(port(8080, Proto::Tcp), Some(Some(80)));
        assert_eq!(port(53, Proto::Udp), Some(Some(53)));
        // The first with that address, as before, when no port matches.
        assert_eq!(port(9999, Proto::Tcp), Some(Some(80)));
        assert_eq!(
            m.real_server(rip).map(|(s, _)| s.key.port()),
            Some(Some(80))
        );
    }

    #[test]
    fn service_matching_and_labels() {
        let vip = "192.0.2.100".parse().unwrap();
        let va = |proto, port| Vaddr {
            proto,
            ip: vip,
            port,
        };
        let s = Service::new(
            ServiceKey::addr(Proto::Tcp, vip, Some(80)),
            Origin::CommandLine,
        );
        assert!(s.matches(va(Proto::Tcp, 80)));
        assert!(!s.matches(va(Proto::Tcp, 443)));
        assert!(!s.matches(va(Proto::Udp, 80)));
        assert_eq!(s.label(), "192.0.2.100:80/tcp");
        assert_eq!(s.key.ipvsadm_arg().unwrap(), "-t 192.0.2.100:80");
        let v6 = "2001:db8::100".parse().unwrap();
        let any = Service::new(ServiceKey::addr(Proto::Udp, v6, None), Origin::CommandLine);
        assert!(any.matches(Vaddr {
            proto: Proto::Udp,
            ip: v6,
            port: 53
        }));
        assert_eq!(any.label(), "[2001:db8::100]:*/udp");
        assert_eq!(any.key.ipvsadm_arg().unwrap(), "-u [2001:db8::100]:0");
        let fwm = ServiceKey::Fwmark { mark: 1, v6: false };
        assert!(!fwm.matches(va(Proto::Tcp, 80)));
        assert_eq!(fwm.to_string(), "FWM 1");
        assert_eq!(fwm.ipvsadm_arg().unwrap(), "-f 1");
        assert_eq!(Proto::from(String::from("47")), Proto::Other(47));
        assert_eq!(String::from(Proto::Udp), "udp");
    }
}
