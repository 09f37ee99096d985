//! `rs-no-listener`: a real server's snapshot shows no TCP socket listening
//! on the address and port its forwarded connections arrive at (the VIP in
//! DR/TUN, the RIP in NAT): the kernel answers each SYN with a RST.
//!
//! Proves the fault (essential evidence):
//! - the IPVS configuration lists the real server in an address service with
//!   a port, and its snapshot lists that protocol's sockets;
//! - the real server holds the destination (the VIP in DR/TUN, the RIP in
//!   NAT: that exact address) and has no nftables redirect/DNAT;
//! - no listener of that protocol takes destination and port (exact, the
//!   wildcard, or the dual-stack `::`).
//!
//! Makes it more certain (supporting, not required):
//! - `handshake-reset` / `rs-port-unreachable` on the same real server
//!   (joined by `confirm`).

use super::config_view::{arrives_at, dests, line};
use super::{weight_zero_cmd, words, Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;
use crate::model::{Mode, Proto};
use crate::system::nft::Ruleset;
use crate::system::Listener;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone)]
pub struct RsNoListener;

/// Does `l` accept TCP connections to `dst:port`? A wildcard `::` socket
/// takes IPv4 too (the Linux default, `net.ipv6.bindv6only = 0`).
pub fn accepts(l: &Listener, proto: Proto, dst: IpAddr, port: u16) -> bool {
    if l.protocol != proto || l.port != port {
        return false;
    }
    match (l.address, dst) {
        (a, d) if a == d => true,
        (IpAddr::V4(a), IpAddr::V4(_)) => a.is_unspecified(),
        (IpAddr::V6(a), IpAddr::V6(_)) => a.is_unspecified(),
        (IpAddr::V6(a), IpAddr::V4(d)) => a.is_unspecified() || a.to_ipv4_mapped() == Some(d),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn show(l: &Listener) -> String {
    SocketAddr::new(l.address, l.port).to_string()
}

impl Check for RsNoListener {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for mode in [Mode::Dr, Mode::Tun, Mode::Nat] {
            for (svc, vip, rs, h) in dests(ctx, mode) {
                let proto = svc.key.proto();
                let listeners = match proto {
                    Some(Proto::Tcp) => &h.listeners,
                    Some(Proto::Udp) => &h.udp_listeners,
                    _ => &None,
                };
                let (Some(listeners), Some(proto)) = (listeners, proto) else {
                    continue; // not read (an older snapshot), or not TCP/UDP
                };
                let w = words(proto);
                let udp = proto == Proto::Udp;
                let (dst, port) = arrives_at(svc, vip, rs);
                let Some(port) = port else {
                    continue; // any port: nothing to look for
                };
                // Without the VIP the packets are not local at all
                // (rs-vip-not-on-loopback says so); a DNAT/redirect may take
                // them to a socket elsewhere (a container, another port).
                if !h.holds(dst)
                    || h.nftables
                        .as_ref()
                        .is_some_and(|v| Ruleset::parse(v).is_ok_and(|r| r.redirects()))
                {
                    continue;
                }
                if listeners.iter().any(|l| accepts(l, proto, dst, port)) {
                    continue;
                }
                let same_port: Vec<String> = listeners
                    .iter()
                    .filter(|l| l.port == port)
                    .map(show)
                    .collect();
                let all: Vec<String> = listeners.iter().take(12).map(show).collect();
                let seen = if !same_port.is_empty() {
                    format!(
                        "port {port} is bound only to {}, not to {dst}",
                        same_port.join(", ")
                    )
                } else if all.is_empty() {
                    format!("no {} socket listens at all", proto.name().to_uppercase())
                } else {
                    format!(
                        "nothing listens on port {port}; listening: {}{}",
                        all.join(", "),
                        if listeners.len() > all.len() {
                            ", …"
                        } else {
                            ""
                        }
                    )
                };
                let target = SocketAddr::new(dst, port);
                out.push(
                    Finding::new(
                        "rs-no-listener",
                        Severity::Error,
                        format!(
                            "{} ({}) has nothing listening on {target}{}: it {} the director sends it",
                            rs.addr,
                            h.host,
                            if udp { "/udp" } else { "" },
                            if udp { "refuses every datagram" } else { "resets every connection" }
                        ),
                    )
                    .cause(format!(
                        "{} forwarded to {} arrive addressed to {target}{}; with no socket listening there the kernel answers each {}.",
                        if udp { "Datagrams" } else { "Connections" },
                        rs.addr,
                        if mode == Mode::Nat { "" } else { " (the VIP: DR/TUN keep the destination address)" },
                        if udp { "with ICMP port unreachable" } else { "SYN with a RST" }
                    ))
                    .config([line(h, seen)])
                    .fix(format!(
                        "On {}: start the service listening on {target} (or on any address, port {port}); check with {} 'sport = :{port}'. Until then, on the director: {}",
                        h.host,
                        w.ss,
                        weight_zero_cmd(svc.key, Some(RsId::Ip(rs.addr)), rs.port.unwrap_or(port))
                    ))
                    .service(svc.key)
                    .real_server(RsId::Ip(rs.addr)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(a: &str, port: u16) -> Listener {
        Listener {
            protocol: Proto::Tcp,
            address: a.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn wildcards_exact_and_mapped_addresses() {
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        assert!(accepts(&l("0.0.0.0", 80), Proto::Tcp, vip, 80));
        assert!(
            accepts(&l("::", 80), Proto::Tcp, vip, 80),
            "dual-stack wildcard"
        );
        assert!(accepts(&l("192.0.2.100", 80), Proto::Tcp, vip, 80));
        assert!(accepts(&l("::ffff:192.0.2.100", 80), Proto::Tcp, vip, 80));
        assert!(
            !accepts(&l("192.0.2.11", 80), Proto::Tcp, vip, 80),
            "bound to the RIP only"
        );
        assert!(!accepts(&l("0.0.0.0", 8080), Proto::Tcp, vip, 80));
        let v6: IpAddr = "2001:db8::100".parse().unwrap();
        assert!(accepts(&l("::", 80), Proto::Tcp, v6, 80));
        assert!(!accepts(&l("0.0.0.0", 80), Proto::Tcp, v6, 80));
        // A TCP listener does not take UDP datagrams.
        assert!(!accepts(&l("0.0.0.0", 80), Proto::Udp, vip, 80));
    }
}
