//! `vrrp-vrid-conflict` (warning): routers advertise for the same virtual
//! router with different address sets, authentication or VRRP versions, or
//! one to a unicast peer and one to the multicast group: two clusters
//! using one VRID on one segment (keepalived logs "bogus VRRP packet"), or
//! two halves of one cluster configured differently.
//!
//! Proves the fault (essential evidence):
//! - adverts for one VRID (address family and number) from two routers that
//!   differ, against the first router seen: complete address sets that
//!   differ, another version or (same version) another authentication type,
//!   or unicast against multicast.
//!
//! Makes it more certain (supporting, not required):
//! - (none checked; each differing router's first advert is the evidence).

use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::flow::vrrp::Router;

#[derive(Clone)]
pub struct VrrpVridConflict;

fn addrs(r: &Router) -> String {
    let mut v: Vec<String> = r.addrs.iter().map(|a| a.to_string()).collect();
    if usize::from(r.count) > v.len() {
        v.push(format!("+{} more", usize::from(r.count) - v.len()));
    }
    format!("{{{}}}", v.join(", "))
}

fn auth(a: Option<u8>) -> &'static str {
    match a {
        None => "none (v3)",
        Some(0) => "none",
        Some(1) => "PASS",
        Some(2) => "AH",
        Some(_) => "unknown",
    }
}

impl Check for VrrpVridConflict {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for x in ctx.hosts.vrrp.vrids.values() {
            let Some(first) = x.routers.first() else {
                continue;
            };
            let mut diffs = Vec::new();
            let mut ev = vec![first.first];
            for r in &x.routers[1..] {
                let mut d = Vec::new();
                if let (Some(a), Some(b)) = (first.set, r.set) {
                    if a != b {
                        d.push(format!("addresses {} vs {}", addrs(first), addrs(r)));
                    }
                }
                if first.version != r.version {
                    d.push(format!("VRRP version {} vs {}", first.version, r.version));
                } else if first.auth != r.auth {
                    d.push(format!(
                        "authentication {} vs {}",
                        auth(first.auth),
                        auth(r.auth)
                    ));
                }
                if first.unicast.is_some() != r.unicast.is_some() {
                    let how = |r: &Router| {
                        r.unicast.map_or("to the multicast group".to_string(), |p| {
                            format!("unicast to {p}")
                        })
                    };
                    d.push(format!("{} vs {}", how(first), how(r)));
                }
                if !d.is_empty() {
                    diffs.push(format!("{} and {}: {}", first.ip, r.ip, d.join(", ")));
                    ev.push(r.first);
                }
            }
            if diffs.is_empty() {
                continue;
            }
            out.push(
                Finding::new(
                    "vrrp-vrid-conflict",
                    Severity::Warning,
                    format!("{}: routers disagree: {}", x.key, diffs.join("; ")),
                )
                .cause("Either two clusters use the same virtual_router_id on one segment (each drops the other's adverts as bogus and both may be master), or the routers of one cluster are configured differently (virtual_ipaddress, auth_type/auth_pass, vrrp_version, unicast_peer).")
                .evidence(ev)
                .fix("Give each cluster on a segment its own virtual_router_id (1-255); within a cluster make virtual_ipaddress, authentication, vrrp_version and unicast_peer agree on every router (keepalived.conf vrrp_instance), then reload keepalived on each."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::vrrp::{parse, P112};
    use crate::finding::Evidence;
    use crate::flow::hosts::HostMap;
    use crate::model::Model;

    fn findings(adverts: &[(&str, [u8; 20], &str)]) -> Vec<Finding> {
        let mut h = HostMap::default();
        for (i, (src, b, dst)) in adverts.iter().enumerate() {
            let P112::Vrrp(v) = parse(b, false, true) else {
                panic!()
            };
            let at = Evidence {
                point: 0,
                frame: i as u64,
                time: i as i64 * 1_000_000_000,
            };
            h.vrrp
                .observe(at, src.parse().unwrap(), None, dst.parse().unwrap(), &v);
        }
        let model = Model::default();
        crate::checks::conclude(&mut VrrpVridConflict, &model, &h)
    }

    const fn adv(prio: u8, auth: u8, last: u8) -> [u8; 20] {
        [
            0x21, 51, prio, 1, auth, 1, 0, 0, 192, 0, 2, last, 0, 0, 0, 0, 0, 0, 0, 0,
        ]
    }

    #[test]
    fn routers_of_one_vrid_that_disagree() {
        // Same VIP, same auth, both multicast: one cluster, no conflict.
        assert!(findings(&[
            ("192.0.2.2", adv(150, 0, 100), "224.0.0.18"),
            ("192.0.2.3", adv(100, 0, 100), "224.0.0.18")
        ])
        .is_empty());
        // Another cluster's VIP, another auth, unicast against multicast.
        let f = findings(&[
            ("192.0.2.2", adv(150, 0, 100), "224.0.0.18"),
            ("192.0.2.9", adv(100, 1, 200), "192.0.2.2"),
        ]);
        assert_eq!(f.len(), 1);
        let s = &f[0].summary;
        assert!(
            s.contains("addresses {192.0.2.100} vs {192.0.2.200}"),
            "{s}"
        );
        assert!(s.contains("authentication none vs PASS"), "{s}");
        assert!(
            s.contains("to the multicast group vs unicast to 192.0.2.2"),
            "{s}"
        );
    }
}
