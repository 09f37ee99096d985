//! `tun-rs-no-tunnel`: TUN (IP-in-IP); a real server's snapshot has no
//! tunnel device up that takes the director's encapsulated packets (IPv4:
//! an `ipip` device such as `tunl0`; IPv6: an `ip6tnl` device such as
//! `ip6tnl0`). Its kernel then answers each one with ICMP port unreachable
//! (no tunnel handler took it), or protocol unreachable (no ipip module).
//!
//! Proves the fault (essential evidence):
//! - the real server is in IPVS in tunnel mode (the model: snapshot,
//!   `--ipvs`, keepalived), with the IP-in-IP encapsulation (not GUE/GRE,
//!   which other devices take);
//! - its snapshot lists its links, and none of the tunnel's kind is up.
//!
//! Makes it more certain (supporting, not required):
//! - the traffic: the real server's ICMP errors quoting the tunnelled
//!   packets (`rs-icmp-error`), which this finding then confirms.

use super::config_view::{dests, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::{Mode, RsId};

#[derive(Clone)]
pub struct TunRsNoTunnel;

impl Check for TunRsNoTunnel {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (svc, vip, rs, h) in dests(ctx, Mode::Tun) {
            // GUE and GRE tunnels end on other devices: not judged here.
            let other_encap = ctx
                .snapshots
                .iter()
                .filter_map(|s| s.ipvs.as_ref())
                .any(|i| {
                    i.services.iter().flat_map(|s| &s.destinations).any(|d| {
                        d.address == rs.addr
                            && d.tun_type
                                .as_deref()
                                .is_some_and(|t| !t.eq_ignore_ascii_case("ipip"))
                    })
                });
            if other_encap || h.links.is_empty() {
                continue;
            }
            let kind = if vip.is_ipv6() { "ip6tnl" } else { "ipip" };
            let tunnels: Vec<_> = h
                .links
                .iter()
                .filter(|l| l.kind.as_deref() == Some(kind))
                .collect();
            if tunnels.iter().any(|l| l.up) {
                continue;
            }
            let (state, fix) = if tunnels.is_empty() {
                (
                    format!("no {kind} device (the {kind} module is not loaded, or the fallback device is not created in this namespace)"),
                    format!("modprobe {}; ip link set {} up", if vip.is_ipv6() { "ip6_tunnel" } else { "ipip" }, if vip.is_ipv6() { "ip6tnl0" } else { "tunl0" }),
                )
            } else {
                let names: Vec<&str> = tunnels.iter().map(|l| l.name.as_str()).collect();
                (
                    format!(
                        "{} {} down",
                        names.join(", "),
                        if names.len() > 1 { "are" } else { "is" }
                    ),
                    format!("ip link set {} up", names[0]),
                )
            };
            let dev = tunnels
                .first()
                .map_or(if vip.is_ipv6() { "ip6tnl0" } else { "tunl0" }, |l| {
                    l.name.as_str()
                });
            out.push(
                Finding::new(
                    "tun-rs-no-tunnel",
                    Severity::Error,
                    format!("{} ({}) has no {kind} tunnel device up: it cannot take the director's IP-in-IP packets for {vip}", rs.addr, h.host),
                )
                .cause(format!("In TUN the director encapsulates each packet to {} (IP protocol {}). Without a {kind} device that is up, no tunnel handler takes it and the kernel answers with ICMP port unreachable (protocol unreachable without the module): every connection IPVS schedules there is refused.", rs.addr, if vip.is_ipv6() { 41 } else { 4 }))
                .config([line(h, state)])
                .fix(format!("On {}: {fix}; ip addr add {vip}/{} dev {dev}; sysctl -w net.ipv4.conf.{dev}.rp_filter=0 net.ipv4.conf.all.rp_filter=0.", h.host, if vip.is_ipv6() { 128 } else { 32 }))
                .service(svc.key)
                .real_server(RsId::Ip(rs.addr)),
            );
        }
    }
}
