//! What the VRRP checks say about a router: its address and MAC, priority,
//! and whether it also claims its VIPs by ARP / neighbour discovery.

use super::Context;
use crate::decode::fmt_mac;
use crate::flow::vrrp::Router;
use std::net::IpAddr;

/// The router's VIPs whose ARP / ND claims the captures show coming from
/// its MAC.
pub fn vip_claims(ctx: &Context<'_>, r: &Router) -> Vec<IpAddr> {
    let Some(mac) = r.mac else {
        return Vec::new();
    };
    r.addrs
        .iter()
        .copied()
        .filter(|vip| {
            ctx.hosts
                .neigh
                .claims(*vip)
                .is_some_and(|c| c.by_mac.iter().any(|m| m.mac == mac))
        })
        .collect()
}

/// `192.0.2.2 (02:00:00:00:0d:00, priority 150, also claims 192.0.2.100 by ARP)`.
pub fn describe_router(_ctx: &Context<'_>, r: &Router, claims: &[IpAddr]) -> String {
    let mut parts = Vec::new();
    if let Some(m) = r.mac {
        parts.push(fmt_mac(&m));
    }
    parts.push(format!("priority {}", r.priority));
    if let Some(p) = r.unicast {
        parts.push(format!("unicast to {p}"));
    }
    if !claims.is_empty() {
        let v: Vec<String> = claims.iter().map(|c| c.to_string()).collect();
        parts.push(format!("claims {} by ARP", v.join(", ")));
    } else if r.mac.is_some() {
        parts.push("no ARP claim for its VIPs seen".into());
    }
    format!("{} ({})", r.ip, parts.join(", "))
}
