//! The LVS model: virtual services, their real servers and forwarding modes.
//!
//! It comes from the command line (`--vip`), from IPVS configuration text
//! (`ipvsadm -S -n`, `/proc/net/ip_vs`, see [`ipvsadm`]), or is inferred from
//! the traffic by the engine. Checks take it as an input.

pub mod ipvsadm;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
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
    /// Inferred from traffic; the text says from which packets.
    Inferred(String),
}

impl Origin {
    pub fn label(&self) -> &'static str {
        match self {
            Origin::CommandLine => "cli",
            Origin::Ipvs(_) => "ipvs",
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub vip: IpAddr,
    /// `None`: any port (a `--vip ADDR` without port, or a persistent port-0 service).
    pub port: Option<u16>,
    pub proto: Proto,
    /// Firewall-mark services match by mark; we cannot see marks on the wire.
    pub fwmark: Option<u32>,
    pub scheduler: Option<String>,
    pub persistent: Option<u32>,
    pub mode: Option<Mode>,
    pub origin: Origin,
    pub real_servers: Vec<RealServerCfg>,
}

impl Service {
    pub fn new(vip: IpAddr, port: Option<u16>, proto: Proto, origin: Origin) -> Service {
        Service {
            vip,
            port,
            proto,
            fwmark: None,
            scheduler: None,
            persistent: None,
            mode: None,
            origin,
            real_servers: Vec::new(),
        }
    }

    pub fn matches(&self, ip: IpAddr, port: u16, proto: u8) -> bool {
        self.vip == ip && self.proto.number() == proto && self.port.is_none_or(|p| p == port)
    }

    /// `192.0.2.100:80/tcp`, `[2001:db8::100]:80/tcp`, `192.0.2.100:*/tcp`.
    pub fn label(&self) -> String {
        service_label(self.vip, self.port, self.proto)
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

pub fn service_label(vip: IpAddr, port: Option<u16>, proto: Proto) -> String {
    let p = port.map_or("*".to_string(), |p| p.to_string());
    match vip {
        IpAddr::V4(a) => format!("{a}:{p}/{}", proto.as_str()),
        IpAddr::V6(a) => format!("[{a}]:{p}/{}", proto.as_str()),
    }
}

/// The services to check. Empty means: infer them from the traffic.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub services: Vec<Service>,
}

impl Model {
    pub fn find(&self, ip: IpAddr, port: u16, proto: u8) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.matches(ip, port, proto))
    }

    /// Every VIP and real server address, when they are all the traffic
    /// there is to see (`None` without services, or with a firewall-mark
    /// service, whose addresses are not known).
    pub fn addresses(&self) -> Option<Vec<IpAddr>> {
        if self.services.is_empty() || self.services.iter().any(|s| s.fwmark.is_some()) {
            return None;
        }
        let mut v: Vec<IpAddr> = self
            .services
            .iter()
            .flat_map(|s| std::iter::once(s.vip).chain(s.real_servers.iter().map(|r| r.addr)))
            .collect();
        v.sort();
        v.dedup();
        Some(v)
    }

    pub fn is_vip(&self, ip: IpAddr) -> bool {
        self.services.iter().any(|s| s.vip == ip)
    }

    /// The real server configured at `ip`, in any service.
    pub fn real_server(&self, ip: IpAddr) -> Option<(&Service, &RealServerCfg)> {
        self.services
            .iter()
            .find_map(|s| s.real_servers.iter().find(|r| r.addr == ip).map(|r| (s, r)))
    }

    /// Adds or merges a service (same VIP, port, protocol).
    pub fn add(&mut self, svc: Service) {
        if let Some(existing) = self
            .services
            .iter_mut()
            .find(|s| s.vip == svc.vip && s.port == svc.port && s.proto == svc.proto)
        {
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

/// Parses `--vip ADDR[:PORT]` (IPv6 as `[ADDR]:PORT` or bare `ADDR`).
pub fn parse_vip(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    Err(format!(
        "--vip {s}: not an address; use ADDR or ADDR:PORT, e.g. 192.0.2.100:80 or [2001:db8::100]:80"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vips() {
        assert_eq!(
            parse_vip("192.0.2.100:80").unwrap(),
            ("192.0.2.100".parse().unwrap(), Some(80))
        );
        assert_eq!(
            parse_vip("192.0.2.100").unwrap(),
            ("192.0.2.100".parse().unwrap(), None)
        );
        assert_eq!(
            parse_vip("[2001:db8::100]:443").unwrap(),
            ("2001:db8::100".parse().unwrap(), Some(443))
        );
        assert_eq!(
            parse_vip("2001:db8::100").unwrap(),
            ("2001:db8::100".parse().unwrap(), None)
        );
        assert!(parse_vip("vip").is_err());
        assert!(parse_vip("192.0.2.100:99999").is_err());
    }

    #[test]
    fn service_matching_and_labels() {
        let s = Service::new(
            "192.0.2.100".parse().unwrap(),
            Some(80),
            Proto::Tcp,
            Origin::CommandLine,
        );
        assert!(s.matches("192.0.2.100".parse().unwrap(), 80, 6));
        assert!(!s.matches("192.0.2.100".parse().unwrap(), 443, 6));
        assert!(!s.matches("192.0.2.100".parse().unwrap(), 80, 17));
        assert_eq!(s.label(), "192.0.2.100:80/tcp");
        let any = Service::new(
            "2001:db8::100".parse().unwrap(),
            None,
            Proto::Udp,
            Origin::CommandLine,
        );
        assert!(any.matches("2001:db8::100".parse().unwrap(), 53, 17));
        assert_eq!(any.label(), "[2001:db8::100]:*/udp");
    }
}
