//! What the configuration checks share: finding the director's and each real
//! server's snapshot, the clients seen per VIP, and evidence lines.

use super::Context;
use crate::flow::view::FlowView;
use crate::model::{Mode, RealServerCfg, RsId, Service, ServiceKey, Vaddr};
use crate::system::{HostSnapshot, Route};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Does this snapshot hold IPVS services (a director)?
pub fn is_director(s: &HostSnapshot) -> bool {
    s.ipvs.as_ref().is_some_and(|i| !i.services.is_empty())
}

/// The snapshot of the host that owns `rip` on a real interface (not a director).
pub fn rs_host(snaps: &[HostSnapshot], rip: IpAddr) -> Option<&HostSnapshot> {
    snaps
        .iter()
        .find(|s| !is_director(s) && s.owns_on_wire(rip))
}

/// The director's snapshot for a service: the one whose IPVS has it, else any director.
pub fn director_for<'a>(snaps: &'a [HostSnapshot], svc: &Service) -> Option<&'a HostSnapshot> {
    snaps
        .iter()
        .find(|s| {
            s.ipvs.as_ref().is_some_and(|i| {
                i.services.iter().filter_map(|x| x.key()).any(|k| {
                    k == svc.key
                        || (k.vip().is_some()
                            && k.vip() == svc.key.vip()
                            && svc.key.port().is_none_or(|p| k.port() == Some(p)))
                })
            })
        })
        .or_else(|| snaps.iter().find(|s| is_director(s)))
}

/// Each configured real server (of an address service) in `mode` that has a snapshot.
pub fn dests<'a>(
    ctx: &Context<'a>,
    mode: Mode,
) -> Vec<(&'a Service, IpAddr, &'a RealServerCfg, &'a HostSnapshot)> {
    let mut out = Vec::new();
    for s in &ctx.model.services {
        let Some(vip) = s.key.vip() else { continue };
        for r in s.real_servers.iter().filter(|r| r.mode == mode) {
            if let Some(h) = rs_host(ctx.snapshots, r.addr) {
                out.push((s, vip, r, h));
            }
        }
    }
    out
}

/// A DR real server over IPv4 that has the VIP, whose effective ARP
/// sysctl `key` on its RIP interface is below `min`.
pub struct ArpSetting<'a> {
    pub svc: &'a Service,
    pub vip: IpAddr,
    pub rs: &'a RealServerCfg,
    pub host: &'a HostSnapshot,
    pub dev: &'a str,
    pub value: i64,
    /// The evidence line.
    pub config: String,
}

pub fn arp_settings_below<'a>(ctx: &Context<'a>, key: &str, min: i64) -> Vec<ArpSetting<'a>> {
    let mut out = Vec::new();
    // TUN real servers on a director's segment hold the VIP too (on
    // tunl0), and answer ARP for it there the same way.
    let on_director_segment = |ip: IpAddr| {
        ctx.snapshots.iter().filter(|s| is_director(s)).any(|d| {
            d.addresses
                .iter()
                .filter(|a| !d.is_loopback(&a.ifname))
                .any(|a| crate::system::prefix_contains(a.address, a.prefix_len, ip))
        })
    };
    let tun = dests(ctx, Mode::Tun)
        .into_iter()
        .filter(|(_, _, rs, _)| on_director_segment(rs.addr));
    for (svc, vip, rs, h) in dests(ctx, Mode::Dr).into_iter().chain(tun) {
        // NDP has no ARP sysctls; without the VIP there is nothing to answer for.
        if !vip.is_ipv4() || !h.holds(vip) {
            continue;
        }
        let Some(dev) = rip_iface(h, rs.addr) else {
            continue;
        };
        match h.effective_max(dev, key) {
            Some((value, shown)) if value < min => out.push(ArpSetting {
                svc,
                vip,
                rs,
                host: h,
                dev,
                value,
                config: line(h, format!("{shown} (effective {value})")),
            }),
            _ => {}
        }
    }
    out
}

/// An evidence line naming the host: `rs3 snapshot: …`.
pub fn line(h: &HostSnapshot, text: impl std::fmt::Display) -> String {
    format!("{} snapshot: {text}", h.host)
}

/// The interface that carries a real server's RIP.
pub fn rip_iface(h: &HostSnapshot, rip: IpAddr) -> Option<&str> {
    h.ifaces_with(rip).into_iter().find(|i| !h.is_loopback(i))
}

const MAX_VIPS: usize = 256;
const MAX_CLIENTS: usize = 8;

/// Client addresses seen per VIP (a few each).
#[derive(Debug, Default, Clone)]
pub struct Clients(BTreeMap<IpAddr, Vec<IpAddr>>);

impl Clients {
    pub fn observe(&mut self, v: &FlowView<'_>) {
        if self.0.len() >= MAX_VIPS && !self.0.contains_key(&v.vaddr.ip) {
            return;
        }
        let c = self.0.entry(v.vaddr.ip).or_default();
        if c.len() < MAX_CLIENTS && !c.contains(&v.flow.client) {
            c.push(v.flow.client);
        }
    }

    /// The destinations to route-check for replies from VIP `vip`: the
    /// clients seen, else `None` (any remote client: the default route).
    pub fn probes(&self, vip: IpAddr) -> Vec<Option<IpAddr>> {
        match self.0.get(&vip) {
            Some(c) if !c.is_empty() => c.iter().copied().map(Some).collect(),
            _ => vec![None],
        }
    }
}

/// The route a host uses towards a client (`None`: its default route).
pub fn route_for(h: &HostSnapshot, client: Option<IpAddr>, v6: bool) -> Option<&Route> {
    match client {
        Some(c) => h.route_to(c),
        None => h
            .routes
            .iter()
            .filter(|r| r.table == "main" && r.kind == "unicast" && r.prefix_len == 0)
            .filter(|r| r.dst.is_ipv6() == v6)
            .min_by_key(|r| r.metric.unwrap_or(0)),
    }
}

/// The clients seen for `vip` (else: remote clients, by the default route)
/// whose route back from `h` fails `ok`: their names and, as evidence, the
/// routes (at most 4).
pub fn bad_routes_back(
    h: &HostSnapshot,
    clients: &Clients,
    vip: IpAddr,
    ok: impl Fn(Option<&Route>) -> bool,
) -> (Vec<String>, Vec<String>) {
    let (mut names, mut lines) = (Vec::new(), Vec::new());
    for p in clients.probes(vip) {
        let r = route_for(h, p, vip.is_ipv6());
        if !ok(r) {
            names.push(probe_name(p));
            lines.push(line(
                h,
                format!(
                    "route to {}: {}",
                    probe_name(p),
                    r.map_or("none".into(), HostSnapshot::describe_route)
                ),
            ));
            if lines.len() >= 4 {
                break;
            }
        }
    }
    (names, lines)
}

/// `203.0.113.10` or `remote clients` for a probe.
pub fn probe_name(p: Option<IpAddr>) -> String {
    p.map_or("remote clients".into(), |c| c.to_string())
}

/// The `ip addr add` for a VIP on an interface.
pub fn addr_cmd(verb: &str, vip: IpAddr, dev: &str) -> String {
    match vip {
        IpAddr::V4(_) => format!("ip addr {verb} {vip}/32 dev {dev}"),
        IpAddr::V6(_) => format!("ip -6 addr {verb} {vip}/128 dev {dev}"),
    }
}

/// Connections the director was seen forwarding, per (VIP, port, real server),
/// with when the newest began (bounded), and the real servers whose
/// established connections the director stopped forwarding mid-capture.
#[derive(Debug, Default, Clone)]
pub struct Forwarded(
    super::PerRs,
    BTreeMap<(Vaddr, super::RsKey), Starts>,
    std::collections::BTreeSet<(Vaddr, super::RsKey)>,
);

/// The newest start times kept per real server for
/// [`Forwarded::stopped_during_capture`]: enough to count "more than two
/// rounds" of new connections after another real server's last one.
const RECENT_STARTS: usize = 32;

/// The newest [`RECENT_STARTS`] start times of one real server's connections.
#[derive(Debug, Default, Clone)]
struct Starts(arrayvec::ArrayVec<i64, RECENT_STARTS>);

impl Starts {
    fn add(&mut self, t: i64) {
        if !self.0.is_full() {
            self.0.push(t);
        } else if let Some(oldest) = self.0.iter_mut().min() {
            *oldest = (*oldest).max(t);
        }
    }
    fn last(&self) -> Option<i64> {
        self.0.iter().copied().max()
    }
    /// Starts after `t` (at most [`RECENT_STARTS`]: at least that many when full).
    fn after(&self, t: i64) -> usize {
        self.0.iter().filter(|&&s| s > t).count()
    }
}

impl Forwarded {
    pub fn observe(&mut self, v: &FlowView<'_>) {
        if let (Some(rs), Some(f)) = (v.rs, v.forward) {
            self.0.add(v, rs, [f.at]);
            let k = (v.vaddr, rs);
            if self.1.len() < super::MAX_PER_RS || self.1.contains_key(&k) {
                self.1.entry(k).or_default().add(v.flow.first_ts);
            }
            if (self.2.len() < super::MAX_PER_RS || self.2.contains(&k))
                && v.established
                && super::lifecycle::forwarding_stopped(v).is_some()
            {
                self.2.insert(k);
            }
        }
    }

    /// Real server `rs` of `svc` left the service during the capture: the
    /// director stopped forwarding its established connections, or after
    /// its last new connection the service's other real servers got more
    /// than two rounds of new ones. Its weight or membership may then have
    /// changed in between (drained, removed), so a snapshot taken after the
    /// capture proves nothing about those connections.
    pub fn stopped_during_capture(&self, ctx: &Context<'_>, svc: ServiceKey, rs: IpAddr) -> bool {
        if self
            .2
            .iter()
            .any(|(va, k)| ctx.covers(svc, *va) && ctx.rs_id(*k).and_then(RsId::ip) == Some(rs))
        {
            return true;
        }
        let starts = || {
            self.1
                .iter()
                .filter(|((va, _), _)| ctx.covers(svc, *va))
                .filter_map(|((_, k), s)| Some((ctx.rs_id(*k).and_then(RsId::ip)?, s)))
        };
        let Some(last) = starts()
            .filter(|(ip, _)| *ip == rs)
            .filter_map(|(_, s)| s.last())
            .max()
        else {
            return false;
        };
        let mut others = std::collections::BTreeSet::new();
        let mut after = 0usize;
        for (ip, s) in starts().filter(|(ip, _)| *ip != rs) {
            others.insert(ip);
            after += s.after(last);
        }
        !others.is_empty() && after > 2 * others.len()
    }

    /// (virtual address, real server address if known, tally) for each.
    pub fn each<'a>(
        &'a self,
        ctx: &'a Context<'_>,
    ) -> impl Iterator<Item = (Vaddr, Option<IpAddr>, &'a super::Tally)> + 'a {
        self.0
            .iter()
            .map(move |((va, key), t)| (*va, ctx.rs_id(*key).and_then(RsId::ip), t))
    }

    /// Forwarded connections of service `svc`: in all, and to `rs`.
    pub fn count(&self, ctx: &Context<'_>, svc: ServiceKey, rs: Option<IpAddr>) -> u64 {
        self.each(ctx)
            .filter(|(va, ip, _)| ctx.covers(svc, *va) && (rs.is_none() || *ip == rs))
            .map(|(_, _, t)| t.flows)
            .sum()
    }
}

/// Each IPVS service in a director snapshot, with its director and key.
pub fn ipvs_services(
    snaps: &[HostSnapshot],
) -> impl Iterator<Item = (&HostSnapshot, ServiceKey, &crate::system::IpvsService)> {
    snaps.iter().flat_map(|h| {
        h.ipvs
            .iter()
            .flat_map(|i| i.services.iter())
            .filter_map(move |s| Some((h, s.key()?, s)))
    })
}

/// `-> 192.0.2.13:80 route weight 1, 3 active, 5 inactive, 8 scheduled`: a
/// destination as the director's snapshot shows it.
pub fn describe_dest(d: &crate::system::IpvsDest) -> String {
    let addr = std::net::SocketAddr::new(d.address, d.port);
    let mut s = format!(
        "-> {addr} {} weight {}, {} active, {} inactive",
        d.forward, d.weight, d.active_conns, d.inactive_conns
    );
    if let Some(st) = d.stats {
        s.push_str(&format!(", {} connections scheduled", st.conns));
    }
    s
}

/// Where a connection forwarded to real server `rs` arrives: the VIP in
/// DR/TUN (the destination is kept), the RIP (and its port) in NAT. The port
/// is `None` for an any-port service.
pub fn arrives_at(svc: &Service, vip: IpAddr, rs: &RealServerCfg) -> (IpAddr, Option<u16>) {
    match rs.mode {
        Mode::Nat => (rs.addr, rs.port.or(svc.key.port())),
        _ => (vip, svc.key.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_start_times_are_kept_whatever_order_they_come_in() {
        let mut s = Starts::default();
        // Out of order, as flows retire: 0..100 shuffled by a stride.
        for i in 0..100i64 {
            s.add((i * 37) % 100);
        }
        assert_eq!(s.last(), Some(99));
        assert_eq!(s.after(67), RECENT_STARTS, "68..=99 are the newest 32");
        assert_eq!(s.after(90), 9);
        assert_eq!(s.after(99), 0);
    }
}
