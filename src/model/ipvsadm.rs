//! Parsers for IPVS configuration text: `ipvsadm -S -n` rules and
//! `/proc/net/ip_vs`. Unknown options, schedulers and lines are tolerated;
//! each skipped line is reported so the operator knows what was not used.

use super::{Mode, Model, Origin, Proto, RealServerCfg, Service, ServiceKey};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The parsed model and the lines that were not understood (1-based line, text).
pub struct Parsed {
    pub model: Model,
    pub skipped: Vec<(usize, String)>,
}

/// Parses either format, detected from the first line.
pub fn parse(text: &str, origin: &str) -> Parsed {
    if text
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("IP Virtual Server"))
    {
        parse_proc(text, origin)
    } else {
        parse_rules(text, origin)
    }
}

fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let sa: SocketAddr = s.parse().ok()?;
    Some((sa.ip(), sa.port()))
}

/// `ipvsadm -S -n` (also `ipvsadm-save`) output.
pub fn parse_rules(text: &str, origin: &str) -> Parsed {
    let mut services: Vec<(ServiceKey, Service)> = Vec::new();
    let mut skipped = Vec::new();
    let mut tcp_timeout = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(t) = parse_timeout_line(line) {
            tcp_timeout = Some(t);
            continue;
        }
        match parse_rule_line(line, origin) {
            Some(Rule::Service(k, s)) => {
                if !services.iter().any(|(kk, _)| *kk == k) {
                    services.push((k, s));
                }
            }
            Some(Rule::Dest(k, rs)) => match services.iter_mut().find(|(kk, _)| *kk == k) {
                Some((_, s)) => s.real_servers.push(rs),
                None => skipped.push((n + 1, line.to_string())),
            },
            None => skipped.push((n + 1, line.to_string())),
        }
    }
    let mut model = Model {
        tcp_timeout,
        ..Model::default()
    };
    for (_, mut s) in services {
        s.mode = s.effective_mode();
        model.services.push(s);
    }
    Parsed { model, skipped }
}

/// `Timeout (tcp tcpfin udp): 900 120 300` (`ipvsadm -L --timeout`): the
/// TCP timeout in seconds.
pub fn parse_timeout_line(line: &str) -> Option<u32> {
    let rest = line.strip_prefix("Timeout (tcp tcpfin udp):")?;
    rest.split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|&t| t > 0)
}

enum Rule {
    Service(ServiceKey, Service),
    Dest(ServiceKey, RealServerCfg),
}

fn parse_rule_line(line: &str, origin: &str) -> Option<Rule> {
    let toks: Vec<&str> = line.split_whitespace().collect();
    let cmd = *toks.first()?;
    let mut key = None;
    let mut sched = None;
    let mut persistent = None;
    let mut ops = false;
    let mut rs_addr = None;
    let mut mode = Mode::Dr; // ipvsadm's default forwarding method is -g
    let mut weight = 1i64;
    let (mut tun_type, mut tun_port): (Option<String>, Option<u16>) = (None, None);
    let mut v6 = false;
    let mut i = 1;
    while i < toks.len() {
        let t = toks[i];
        let arg = toks.get(i + 1).copied();
        match t {
            "-t" | "--tcp-service" | "-u" | "--udp-service" | "--sctp-service" => {
                let proto = match t {
                    "-t" | "--tcp-service" => Proto::Tcp,
                    "-u" | "--udp-service" => Proto::Udp,
                    _ => Proto::Sctp,
                };
                let (ip, port) = parse_endpoint(arg?)?;
                // Port 0 with persistence means "all ports".
                key = Some(ServiceKey::addr(proto, ip, (port != 0).then_some(port)));
                i += 2;
            }
            "-f" | "--fwmark-service" => {
                key = Some(ServiceKey::Fwmark {
                    mark: arg?.parse().ok()?,
                    v6: false,
                });
                i += 2;
            }
            "-s" | "--scheduler" => {
                sched = arg.map(str::to_string);
                i += 2;
            }
            "-o" | "--ops" => {
                ops = true;
                i += 1;
            }
            "-p" | "--persistent" => {
                // Optional argument: a timeout in seconds.
                match arg.and_then(|a| a.parse::<u32>().ok()) {
                    Some(v) => {
                        persistent = Some(v);
                        i += 2;
                    }
                    None => {
                        persistent = Some(300);
                        i += 1;
                    }
                }
            }
            "-r" | "--real-server" => {
                let a = arg?;
                rs_addr = Some(
                    parse_endpoint(a)
                        .map(|(ip, p)| (ip, Some(p)))
                        .or_else(|| a.parse::<IpAddr>().ok().map(|ip| (ip, None)))?,
                );
                i += 2;
            }
            "-6" | "--ipv6" => {
                v6 = true;
                i += 1;
            }
            "-g" | "--gatewaying" => {
                mode = Mode::Dr;
                i += 1;
            }
            "-m" | "--masquerading" => {
                mode = Mode::Nat;
                i += 1;
            }
            "-i" | "--ipip" => {
                mode = Mode::Tun;
                i += 1;
            }
            "-w" | "--weight" => {
                weight = arg?.parse().ok()?;
                i += 2;
            }
            "--tun-type" => {
                tun_type = Some(arg?.to_string());
                i += 2;
            }
            "--tun-port" => {
                tun_port = arg?.parse().ok();
                i += 2;
            }
            // Flags of their own (the tunnel's checksum options).
            "--tun-nocsum" | "--tun-csum" | "--tun-remcsum" => i += 1,
            // Options with an argument we do not use.
            "-M" | "--netmask" | "-b" | "--sched-flags" | "-x" | "--u-threshold" | "-y"
            | "--l-threshold" | "--pe" => {
                i += 2;
            }
            _ => i += 1,
        }
    }
    let key = match key? {
        ServiceKey::Fwmark { mark, .. } => ServiceKey::Fwmark { mark, v6 },
        k => k,
    };
    match cmd {
        "-A" | "--add-service" => {
            let mut s = Service::new(key, Origin::Ipvs(origin.to_string()));
            s.scheduler = sched;
            s.persistent = persistent;
            s.ops = ops;
            Some(Rule::Service(key, s))
        }
        "-a" | "--add-server" => {
            let (addr, port) = rs_addr?;
            Some(Rule::Dest(
                key,
                RealServerCfg {
                    addr,
                    port,
                    mode,
                    weight,
                    encap: (mode == Mode::Tun)
                        .then(|| encap_of(tun_type.as_deref(), tun_port))
                        .flatten(),
                },
            ))
        }
        _ => None,
    }
}

/// A tunnel's encapsulation from IPVS's words for it (`ipip`, `gue` with
/// its port, `gre`); `None` when unknown.
pub fn encap_of(tun_type: Option<&str>, port: Option<u16>) -> Option<crate::decode::tunnel::Encap> {
    use crate::decode::tunnel::Encap;
    match tun_type.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ipip") => Some(Encap::Ipip),
        Some("gue") => port.map(|port| Encap::Gue { port }),
        Some("gre") => Some(Encap::Gre),
        Some(_) => None,
    }
}

/// `/proc/net/ip_vs`: addresses in hex, ports in hex.
pub fn parse_proc(text: &str, origin: &str) -> Parsed {
    let mut model = Model::default();
    let mut skipped = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty()
            || t.starts_with("IP Virtual Server")
            || t.starts_with("Prot ")
            || t.starts_with("-> RemoteAddress")
        {
            continue;
        }
        let toks: Vec<&str> = t.split_whitespace().collect();
        let ok = if toks[0] == "->" {
            let dest = toks.get(1).and_then(|a| proc_endpoint(a));
            let mode = toks.get(2).and_then(|f| match *f {
                "Masq" => Some(Mode::Nat),
                "Route" | "Local" => Some(Mode::Dr),
                "Tunnel" => Some(Mode::Tun),
                _ => None,
            });
            let weight = toks.get(3).and_then(|w| w.parse().ok());
            match (dest, mode, weight, model.services.last_mut()) {
                (Some((addr, port)), Some(mode), Some(weight), Some(svc)) => {
                    svc.real_servers.push(RealServerCfg {
                        addr,
                        port: Some(port),
                        mode,
                        weight,
                        encap: None,
                    });
                    true
                }
                _ => false,
            }
        } else {
            let proto = match toks[0] {
                "TCP" => Some(Proto::Tcp),
                "UDP" => Some(Proto::Udp),
                "SCTP" => Some(Proto::Sctp),
                "FWM" => None,
                _ => {
                    skipped.push((n + 1, line.to_string()));
                    continue;
                }
            };
            let origin = Origin::Ipvs(origin.to_string());
            let svc = match proto {
                Some(proto) => toks
                    .get(1)
                    .and_then(|a| proc_endpoint(a))
                    .map(|(ip, port)| {
                        Service::new(
                            ServiceKey::addr(proto, ip, (port != 0).then_some(port)),
                            origin,
                        )
                    }),
                None => toks
                    .get(1)
                    .and_then(|m| u32::from_str_radix(m, 16).ok())
                    .map(|mark| Service::new(ServiceKey::Fwmark { mark, v6: false }, origin)),
            };
            match svc {
                Some(mut s) => {
                    s.scheduler = toks.get(2).map(|s| s.to_string());
                    if let Some(p) = toks.iter().position(|t| *t == "persistent") {
                        s.persistent = toks.get(p + 1).and_then(|v| v.parse().ok());
                    }
                    model.services.push(s);
                    true
                }
                None => false,
            }
        };
        if !ok {
            skipped.push((n + 1, line.to_string()));
        }
    }
    for s in &mut model.services {
        s.mode = s.effective_mode();
    }
    Parsed { model, skipped }
}

/// `C0000264:0050` or `[2001:0db8:...:0100]:0050`.
fn proc_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.rsplit_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if let Some(v6) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)
    } else {
        if addr.len() != 8 {
            return None;
        }
        IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?))
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipvsadm_save() {
        let text = "-A -t 192.0.2.100:80 -s rr\n\
                    -a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 1\n\
                    -a -t 192.0.2.100:80 -r 192.0.2.12:80 -g -w 0\n\
                    -A -u [2001:db8::100]:53 -s wrr -p 60\n\
                    -a -u [2001:db8::100]:53 -r [2001:db8::11]:5353 -m -w 3\n\
                    -A -f 7 -s sh\n\
                    -a -f 7 -r 192.0.2.13:0 -i -w 1\n\
                    garbage here\n";
        let p = parse(text, "t");
        assert_eq!(p.skipped, vec![(8, "garbage here".to_string())]);
        let s = &p.model.services;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label(), "192.0.2.100:80/tcp");
        assert_eq!(s[0].mode, Some(Mode::Dr));
        assert_eq!(s[0].real_servers.len(), 2);
        assert_eq!(s[0].real_servers[1].weight, 0);
        assert_eq!(s[1].label(), "[2001:db8::100]:53/udp");
        assert_eq!(s[1].persistent, Some(60));
        assert_eq!(s[1].scheduler.as_deref(), Some("wrr"));
        assert_eq!(s[1].real_servers[0].port, Some(5353));
        assert_eq!(s[1].mode, Some(Mode::Nat));
        assert_eq!(s[2].key, ServiceKey::Fwmark { mark: 7, v6: false });
        assert_eq!(s[2].mode, Some(Mode::Tun));
    }

    #[test]
    fn parses_proc_net_ip_vs() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port Scheduler Flags\n\
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
TCP  C0000264:0050 rr persistent 300\n\
  -> C000020B:0050      Route   1      0          0\n\
  -> C6336410:1F90      Masq    2      3          4\n\
TCP  [2001:0db8:0000:0000:0000:0000:0000:0100]:0050 rr\n\
  -> [2001:0db8:0000:0000:0000:0000:0000:0011]:0050      Tunnel  1      0          0\n\
FWM  00000001 wrr\n";
        let p = parse(text, "proc");
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        let s = &p.model.services;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label(), "192.0.2.100:80/tcp");
        assert_eq!(s[0].persistent, Some(300));
        assert_eq!(
            s[0].real_servers[0].addr,
            "192.0.2.11".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            s[0].real_servers[1].addr,
            "198.51.100.16".parse::<IpAddr>().unwrap()
        );
        assert_eq!(s[0].real_servers[1].port, Some(8080));
        assert_eq!(s[0].real_servers[1].mode, Mode::Nat);
        assert_eq!(s[0].mode, None, "mixed modes have no single mode");
        assert_eq!(s[1].label(), "[2001:db8::100]:80/tcp");
        assert_eq!(s[1].mode, Some(Mode::Tun));
        assert_eq!(s[2].key, ServiceKey::Fwmark { mark: 1, v6: false });
    }

    #[test]
    fn tolerates_truncated_and_garbage_lines() {
        for text in [
            "-A -t",
            "-a -t 1.2.3.4:80 -r",
            "-A -t notanaddr -s rr",
            "\u{1b}[2J",
            "-w -w -w",
        ] {
            let p = parse(text, "x");
            assert!(p.model.services.is_empty());
            assert_eq!(p.skipped.len(), 1, "{text:?}");
        }
    }

    #[test]
    fn tunnel_types_and_checksum_flags_are_read() {
        let m = parse_rules(
            "-A -t 192.0.2.100:80 -s rr\n\
             -a -t 192.0.2.100:80 -r 192.0.2.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n\
             -a -t 192.0.2.100:80 -r 192.0.2.12:80 -i --tun-type gre --tun-csum -w 2\n\
             -a -t 192.0.2.100:80 -r 192.0.2.13:80 -i -w 3\n",
            "test",
        )
        .model;
        use crate::decode::tunnel::Encap;
        let rs: Vec<_> = m.services[0]
            .real_servers
            .iter()
            .map(|r| (r.encap, r.weight))
            .collect();
        assert_eq!(
            rs,
            vec![
                (Some(Encap::Gue { port: 6080 }), 1),
                (Some(Encap::Gre), 2),
                (Some(Encap::Ipip), 3)
            ],
            "a flag without an argument does not swallow the next option"
        );
    }
}
