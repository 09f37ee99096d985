//! `rs-firewall-drops`: a real server's nftables ruleset drops (or rejects)
//! the connections the director forwards to it: a base chain on the
//! prerouting or input hook has a rule that matches them with a drop/reject
//! verdict, or a drop policy that nothing before lets them through.
//!
//! Proves the fault (essential evidence):
//! - the IPVS configuration lists the real server (DR, TUN or NAT) in a TCP
//!   address service with a port, and its snapshot has a readable ruleset;
//! - the ruleset, evaluated for what the real server receives (TCP SYN, ct
//!   state new, to the VIP in DR/TUN or the RIP and its port in NAT, on the
//!   RIP's interface; TUN: interface unknown), drops or rejects it. A rule
//!   that cannot be decided (client addresses, named sets, limits, compat
//!   expressions) stops the evaluation: no finding rather than a guess.
//!
//! Makes it more certain (supporting, not required):
//! - `dr-rs-no-reply`, `tun-rs-no-reply` or `nat-rs-no-reply` on the same
//!   real server (joined by `confirm`).

use super::config_view::{arrives_at, dests, line, rip_iface};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;
use crate::model::RsId;
use crate::system::nft::{Fate, Packet, Ruleset};
use std::net::{IpAddr, SocketAddr};

#[derive(Clone)]
pub struct RsFirewallDrops;

impl Check for RsFirewallDrops {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        // Each host's ruleset parsed once, for all its real servers.
        let rulesets: Vec<Option<Ruleset>> = ctx
            .snapshots
            .iter()
            .map(|h| h.nftables.as_ref().and_then(|v| Ruleset::parse(v).ok()))
            .collect();
        for mode in [Mode::Dr, Mode::Tun, Mode::Nat] {
            for (svc, vip, rs, h) in dests(ctx, mode) {
                let Some(Some(ruleset)) = ctx
                    .snapshots
                    .iter()
                    .position(|x| std::ptr::eq(x, h))
                    .map(|i| &rulesets[i])
                else {
                    continue;
                };
                if svc.key.proto() != Some(crate::model::Proto::Tcp) {
                    continue; // the evaluator models TCP only
                }
                let (dst, Some(port)) = arrives_at(svc, vip, rs) else {
                    continue;
                };
                let iif = match mode {
                    Mode::Tun => None, // decapsulated: arrives on the tunnel device
                    _ => rip_iface(h, rs.addr).map(str::to_string),
                };
                let p = Packet { dst, port, iif };
                let Fate::Dropped {
                    what,
                    rule,
                    reject,
                    reset,
                } = ruleset.fate(&p)
                else {
                    continue;
                };
                let verb = if reject { "rejects" } else { "drops" };
                let target = SocketAddr::new(dst, port);
                let allow = match dst {
                    IpAddr::V4(_) => format!("ip daddr {dst} tcp dport {port} accept"),
                    IpAddr::V6(_) => format!("ip6 daddr {dst} tcp dport {port} accept"),
                };
                let fix = match &rule {
                    Some(del) => format!(
                        "On {}: {del} (or let the service in before it with nft insert rule … {allow}); persist it in /etc/nftables.conf",
                        h.host
                    ),
                    None => format!(
                        "On {}: nft insert rule … {allow} in that chain; persist it in /etc/nftables.conf",
                        h.host
                    ),
                };
                out.push(
                    Finding::new(
                        "rs-firewall-drops",
                        Severity::Error,
                        format!(
                            "{} ({}) firewall {} the connections the director forwards to {target}",
                            rs.addr, h.host, verb
                        ),
                    )
                    .cause(format!(
                        "Its nftables ruleset {verb} TCP SYNs to {target}{}: {}",
                        if mode == Mode::Nat {
                            ""
                        } else {
                            " (the VIP: DR/TUN keep the destination address)"
                        },
                        if reset {
                            "the clients get a TCP reset"
                        } else if reject {
                            "the clients get an ICMP port unreachable"
                        } else {
                            "the clients retransmit and time out"
                        }
                    ))
                    .config([line(h, what)])
                    .fix(fix)
                    .service(svc.key)
                    .real_server(RsId::Ip(rs.addr)),
                );
            }
        }
    }
}
