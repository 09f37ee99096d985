//! What the VRRP checks say about a router: its address and MAC, priority,
//! and whether it also claims its VIPs by ARP / neighbour discovery.

use super::Context;
use crate::decode::fmt_mac;
use crate::flow::vrrp::{Router, Run, Vrid};
use std::net::IpAddr;

/// Alternations (one master's advert between two of the other's, each
/// within the master-down interval) that make two masters at once rather
/// than a handover.
pub const MIN_ALTERNATIONS: u64 = 3;
/// Master changes (with a router coming back) that make it flapping.
const MIN_CHANGES: usize = 3;
/// Silences (longer than a takeover takes) that make it flapping.
const MIN_SILENCES: u64 = 2;

/// The pairs of routers (indices into `x.routers`) that were master at
/// once, with their longest run of alternations: at least
/// [`MIN_ALTERNATIONS`], lasting longer than one advert interval.
pub fn two_masters(x: &Vrid) -> Vec<((usize, usize), Run)> {
    x.alternations
        .iter()
        .filter_map(|(&(i, j), alt)| {
            let (a, b) = (&x.routers[i], &x.routers[j]);
            let interval = i64::from(a.interval_cs.max(b.interval_cs).max(1)) * 10_000_000;
            let run = alt.best;
            (run.count >= MIN_ALTERNATIONS && run.last.time - run.first.time > interval)
                .then_some(((i, j), run))
        })
        .collect()
}

/// How a virtual router's master kept changing, when it did enough to be
/// flapping (and no two masters at once explain it).
pub struct Flapping {
    pub changes: u64,
    /// Changes back to a router that had been master before.
    pub returns: u64,
    pub silences: u64,
}

pub fn flapping(x: &Vrid) -> Option<Flapping> {
    if !two_masters(x).is_empty() {
        return None;
    }
    let changes = x.periods.len().saturating_sub(1) as u64 + x.periods_dropped;
    let returns = (1..x.periods.len())
        .filter(|&i| {
            let p = x.periods[i].router;
            x.periods[i - 1].router != p && x.periods[..i].iter().any(|q| q.router == p)
        })
        .count() as u64;
    let f = Flapping {
        changes,
        returns,
        silences: x.gap_count,
    };
    let by_changes = f.changes >= MIN_CHANGES as u64 && f.returns > 0;
    (by_changes || f.silences >= MIN_SILENCES).then_some(f)
}

/// The VRRP finding that explains an ARP conflict over `vip` between
/// routers that advertise it: two masters at once, or a flapping master.
pub fn explains_arp(
    ctx: &Context<'_>,
    vip: IpAddr,
    macs: &[crate::decode::Mac],
) -> Option<&'static str> {
    for x in ctx.hosts.vrrp.vrids.values() {
        let of_vip: Vec<&Router> = x
            .routers
            .iter()
            .filter(|r| r.addrs.contains(&vip))
            .collect();
        let all_routers = macs
            .iter()
            .all(|m| of_vip.iter().any(|r| r.mac == Some(*m)));
        if of_vip.is_empty() || !all_routers {
            continue;
        }
        if !two_masters(x).is_empty() {
            return Some("vrrp-split-brain");
        }
        if flapping(x).is_some() {
            return Some("vrrp-master-flapping");
        }
    }
    None
}

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
