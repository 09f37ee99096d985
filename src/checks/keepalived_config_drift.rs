//! `keepalived-config-drift` (warning): a keepalived configuration says one
//! thing and the kernel's IPVS table another: a configured real server
//! absent from IPVS or at another weight, a declared service missing, or an
//! IPVS service that no configuration declares; and VRRP adverts for a
//! `vrrp_instance`'s VRID that announce other VIPs, another version or
//! other authentication than it declares; and, when keepalived runs VRRP,
//! a service VIP that no `vrrp_instance` carries.
//!
//! Proves the fault (essential evidence), any of:
//! - a `virtual_server` and the IPVS table it is held against (the snapshot
//!   of the host its file name contains, else every IPVS table given)
//!   disagree: service missing, real server absent or at another weight, a
//!   service or real server in IPVS that no configuration declares;
//! - adverts for an instance's VRID (the family of its first VIP) from a
//!   router that speaks another version, (v2) another auth type, or announces
//!   another address set (compared only when complete and at most 4
//!   addresses: `KEPT_ADDRS`, see AUDIT.md);
//! - VRRP instances are declared and a service VIP is in no instance's
//!   `virtual_ipaddress` (`virtual_ipaddress_excluded` is not read).
//!
//! Makes it more certain (supporting, not required):
//! - the real server's health checkers and `inhibit_on_failure` (they name
//!   the likely reason); the IPVS line beside the configuration's.

use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::keepalived::Config;
use crate::model::{Origin, RsId, Service};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct KeepalivedConfigDrift;

/// The IPVS services to hold `c` against: the snapshot of the host its file
/// is named after (`keepalived-director2.conf` ↔ `director2`), else every
/// IPVS table the model was given.
fn ipvs_for<'a>(ctx: &'a Context<'_>, c: &Config) -> (Vec<&'a Service>, String) {
    let file = c.files.first().map_or("", |f| f.as_str());
    let stem = std::path::Path::new(file)
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    let host = ctx
        .model
        .services
        .iter()
        .filter_map(|s| match &s.origin {
            Origin::Ipvs(o) => o.strip_suffix(" snapshot"),
            _ => None,
        })
        .filter(|h| stem.contains(h))
        .max_by_key(|h| h.len());
    let of_host = |s: &&Service| match (&s.origin, host) {
        (Origin::Ipvs(o), Some(h)) => o.strip_suffix(" snapshot") == Some(h),
        (Origin::Ipvs(_), None) => true,
        _ => false,
    };
    let v: Vec<&Service> = ctx.model.services.iter().filter(of_host).collect();
    let name = match host {
        Some(h) => format!("{h}'s IPVS"),
        None => "IPVS".to_string(),
    };
    (v, name)
}

/// VRRP on the wire against each `vrrp_instance`: adverts for its VRID
/// that announce other addresses, or another VRRP version or
/// authentication, than the instance declares.
fn vrrp_against_config(ctx: &Context<'_>, c: &Config, out: &mut Vec<Finding>) {
    for i in &c.vrrp {
        let (Some(vrid), Some(first)) = (i.vrid, i.virtual_ipaddress.first()) else {
            continue;
        };
        let key = crate::flow::vrrp::VridKey {
            v6: first.is_ipv6(),
            vrid,
        };
        let Some(x) = ctx.hosts.vrrp.vrids.get(&key) else {
            continue;
        };
        let mut declared: Vec<_> = i.virtual_ipaddress.clone();
        declared.sort();
        for r in &x.routers {
            let mut d = Vec::new();
            // Complete sets of at most the addresses kept compare exactly.
            if r.set.is_some() && usize::from(r.count) == r.addrs.len() {
                let mut seen = r.addrs.clone();
                seen.sort();
                if seen != declared {
                    let l = |v: &[std::net::IpAddr]| {
                        v.iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    d.push(format!(
                        "announces {{{}}}, the instance declares {{{}}}",
                        l(&seen),
                        l(&declared)
                    ));
                }
            }
            let want_version = i.version.unwrap_or(2);
            if r.version != want_version {
                d.push(format!(
                    "speaks VRRP version {}, the instance {want_version}",
                    r.version
                ));
            }
            let want_auth = match i.auth_type.as_deref() {
                Some(a) if a.eq_ignore_ascii_case("PASS") => Some(1),
                Some(a) if a.eq_ignore_ascii_case("AH") => Some(2),
                _ => Some(0),
            };
            if r.version == 2 && r.auth.is_some() && r.auth != want_auth {
                d.push(format!(
                    "uses authentication type {}, the instance {}",
                    r.auth.unwrap_or(0),
                    i.auth_type.as_deref().unwrap_or("none")
                ));
            }
            if d.is_empty() {
                continue;
            }
            out.push(
                Finding::new(
                    "keepalived-config-drift",
                    Severity::Warning,
                    format!("{}: adverts from {} {}", x.key, r.ip, d.join("; ")),
                )
                .cause("The router advertising is not running this configuration: another cluster uses the same virtual_router_id on the segment, the other director's configuration differs, or keepalived was not reloaded after a change.")
                .evidence([r.first])
                .config([format!("{}: vrrp_instance {} virtual_router_id {vrid}", i.at, crate::text::sanitize(&i.name))])
                .fix("Make every router of the instance declare the same virtual_ipaddress, vrrp_version and authentication (or give another cluster its own virtual_router_id), then reload keepalived on each."),
            );
        }
    }
}

/// The services' VIPs against the VRRP instances: when keepalived runs VRRP,
/// a service whose VIP no `vrrp_instance` carries does not move with a
/// failover.
fn vips_without_instance(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let instances: Vec<_> = ctx
        .model
        .keepalived
        .iter()
        .flat_map(|c| c.vrrp.iter())
        .collect();
    if instances.is_empty() {
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &ctx.model.services {
        let Some(vip) = s.key.vip() else { continue };
        if !seen.insert(vip) || instances.iter().any(|i| i.virtual_ipaddress.contains(&vip)) {
            continue;
        }
        let names: Vec<String> = instances
            .iter()
            .map(|i| format!("{} ({})", crate::text::sanitize(&i.name), i.at))
            .collect();
        out.push(
            Finding::new(
                "keepalived-config-drift",
                Severity::Warning,
                format!("VIP {vip} of {} is in no vrrp_instance's virtual_ipaddress ({})", s.key, names.join(", ")),
            )
            .service(s.key)
            .cause("keepalived moves only the addresses its VRRP instances list: this VIP stays where it was configured by hand, and a failover leaves its service behind (or it is held by every director at once).")
            .config(instances.iter().map(|i| format!("{}: vrrp_instance {} virtual_ipaddress", i.at, crate::text::sanitize(&i.name))))
            .fix(format!("Add {vip} to the virtual_ipaddress of the vrrp_instance on the directors' service interface, and remove it from their static configuration; reload keepalived.")),
        );
    }
}

impl Check for KeepalivedConfigDrift {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        vips_without_instance(ctx, out);
        for c in &ctx.model.keepalived {
            vrrp_against_config(ctx, c, out);
            let declared = c.expanded();
            if declared.is_empty() {
                continue;
            }
            let (ipvs, where_) = ipvs_for(ctx, c);
            if ipvs.is_empty() {
                continue;
            }
            for (key, v) in &declared {
                let Some(s) = ipvs.iter().find(|s| s.key == *key) else {
                    out.push(
                        Finding::new(
                            "keepalived-config-drift",
                            Severity::Warning,
                            format!("{key} is declared at {} but not in {where_}", v.at),
                        )
                        .service(*key)
                        .cause("keepalived did not program it: the running keepalived has an older configuration (not reloaded, or the reload failed on an error elsewhere in the file), or every real server failed its health check and there is no sorry_server, or it was deleted by hand.")
                        .config([format!("{}: virtual_server", v.at)])
                        .fix("Check keepalived's log for the last reload (journalctl -u keepalived | grep -i -e reload -e error), validate the file (keepalived -t -f FILE), reload (systemctl reload keepalived), then compare ipvsadm -Ln."),
                    );
                    continue;
                };
                // The IPVS side, as evidence beside the configuration's line.
                let ipvs_line = format!(
                    "{}: IPVS {key} -> {}",
                    match &s.origin {
                        Origin::Ipvs(o) => crate::text::sanitize(o),
                        _ => "IPVS".to_string(),
                    },
                    if s.real_servers.is_empty() {
                        "no real server".to_string()
                    } else {
                        s.real_servers
                            .iter()
                            .map(|x| {
                                let a = x.port.map_or(x.addr.to_string(), |p| {
                                    SocketAddr::new(x.addr, p).to_string()
                                });
                                format!("{a} weight {}", x.weight)
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                for r in &v.real_servers {
                    let addr = match r.port {
                        Some(p) => SocketAddr::new(r.ip, p).to_string(),
                        None => r.ip.to_string(),
                    };
                    let live = s
                        .real_servers
                        .iter()
                        .find(|x| x.addr == r.ip && (r.port.is_none() || x.port == r.port));
                    let (summary, cause) = match live {
                        None => (
                            format!("real server {addr} of {key} (weight {}, {}) is not in {where_}", r.weight, r.at),
                            if r.checkers.is_empty() {
                                "Not programmed although it has no health checker: the running keepalived has an older configuration, or it was removed by hand.".to_string()
                            } else {
                                format!("keepalived's health checker ({}) found it failing and removed it (no inhibit_on_failure), or the running configuration is older.", r.checkers.join(", "))
                            },
                        ),
                        Some(x) if x.weight != r.weight => (
                            format!("real server {addr} of {key} has weight {} in {where_}, {} in the configuration ({})", x.weight, r.weight, r.at),
                            if x.weight == 0 && r.inhibit_on_failure {
                                "inhibit_on_failure: keepalived's health checker found it failing and set its weight to 0 instead of removing it.".to_string()
                            } else {
                                "Changed by hand (ipvsadm -e) or by a dynamic weight (MISC_CHECK misc_dynamic), or the running configuration is older.".to_string()
                            },
                        ),
                        Some(_) => continue,
                    };
                    out.push(
                        Finding::new("keepalived-config-drift", Severity::Warning, summary)
                            .service(*key)
                            .real_server(RsId::Ip(r.ip))
                            .cause(cause)
                            .config([format!("{}: real_server {addr} weight {}", r.at, r.weight), ipvs_line.clone()])
                            .fix(format!("Look at why the health check fails (keepalived's log: grep {} ), fix the real server, or reload keepalived if the configuration changed.", r.ip)),
                    );
                }
                for x in &s.real_servers {
                    if !v
                        .real_servers
                        .iter()
                        .any(|r| r.ip == x.addr && (r.port.is_none() || r.port == x.port))
                    {
                        let addr = x.port.map_or(x.addr.to_string(), |p| {
                            SocketAddr::new(x.addr, p).to_string()
                        });
                        out.push(
                            Finding::new(
                                "keepalived-config-drift",
                                Severity::Warning,
                                format!("real server {addr} of {key} is in {where_} but not in the configuration ({})", v.at),
                            )
                            .service(*key)
                            .real_server(RsId::Ip(x.addr))
                            .cause("Added by hand (ipvsadm -a), or left over from an older configuration that a reload did not clean up, or another keepalived instance programs this service too.")
                            .config([format!("{}: virtual_server without {addr}", v.at), ipvs_line.clone()])
                            .fix(format!("Declare it in the configuration or remove it: ipvsadm -d {} -r {addr}", key.ipvsadm_arg().unwrap_or_default())),
                        );
                    }
                }
            }
            for s in &ipvs {
                if !declared.iter().any(|(k, _)| *k == s.key) {
                    out.push(
                        Finding::new(
                            "keepalived-config-drift",
                            Severity::Warning,
                            format!("{} is in {where_} but no keepalived configuration declares it ({})", s.key, c.files.first().map_or("", |f| f.as_str())),
                        )
                        .service(s.key)
                        .cause("Added by hand, by another tool, or left over from an older configuration (keepalived removes only what it programmed).")
                        .fix(format!("Declare it or remove it: ipvsadm -D {}", s.key.ipvsadm_arg().unwrap_or_default())),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ipvsadm, keepalived, Model};

    #[test]
    fn configuration_against_ipvs() {
        let ipvs = ipvsadm::parse(
            "-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 1\n-a -t 192.0.2.100:80 -r 192.0.2.12:80 -g -w 0\n-a -t 192.0.2.100:80 -r 192.0.2.14:80 -g -w 1\n-A -t 192.0.2.200:80 -s rr\n",
            "ipvsadm-S.txt",
        );
        let conf = keepalived::parse_str(
            "virtual_server 192.0.2.100 80 {\n lb_kind DR\n inhibit_on_failure\n real_server 192.0.2.11 80 { weight 1 }\n real_server 192.0.2.12 80 { weight 1\n TCP_CHECK { }\n }\n real_server 192.0.2.13 80 { weight 1\n TCP_CHECK { }\n }\n}\nvirtual_server 192.0.2.101 80 { }\n",
            "keepalived.conf",
        )
        .unwrap();
        let model = Model {
            services: ipvs.model.services,
            keepalived: vec![conf],
            ..Model::default()
        };
        let out = crate::checks::conclude(&mut KeepalivedConfigDrift, &model, &Default::default());
        let got: Vec<String> = out.iter().map(|f| f.summary.clone()).collect();
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(
            got[0].contains("192.0.2.12:80")
                && got[0].contains("weight 0 in IPVS, 1 in the configuration"),
            "{got:#?}"
        );
        assert!(out[0].cause.contains("inhibit_on_failure"));
        assert!(got[1].contains("192.0.2.13:80") && got[1].contains("not in IPVS"));
        assert!(out[1].cause.contains("TCP_CHECK"));
        assert!(got[2].contains("192.0.2.14:80") && got[2].contains("not in the configuration"));
        assert!(got[3].contains("192.0.2.101:80/tcp is declared at keepalived.conf:12"));
        assert!(got[4].contains("192.0.2.200:80/tcp is in IPVS but no keepalived"));
        assert!(out.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn vrrp_adverts_against_the_instance() {
        use crate::decode::vrrp::{parse, P112};
        let conf = keepalived::parse_str(
            "vrrp_instance VI_1 {\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.100/32\n }\n}\n",
            "k.conf",
        )
        .unwrap();
        let model = Model {
            services: Vec::new(),
            keepalived: vec![conf],
            ..Model::default()
        };
        let mut hosts = crate::flow::hosts::HostMap::default();
        for (src, addr) in [("192.0.2.2", 100u8), ("192.0.2.9", 101)] {
            let b = [
                0x21, 51, 100, 1, 0, 1, 0, 0, 192, 0, 2, addr, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            let P112::Vrrp(v) = parse(&b, false, true) else {
                panic!()
            };
            let at = crate::finding::Evidence {
                point: 0,
                frame: 1,
                time: 1,
            };
            hosts.vrrp.observe(
                at,
                src.parse().unwrap(),
                None,
                "224.0.0.18".parse().unwrap(),
                &v,
            );
        }
        let out = crate::checks::conclude(&mut KeepalivedConfigDrift, &model, &hosts);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert!(out[0].summary.contains("adverts from 192.0.2.9 announces {192.0.2.101}, the instance declares {192.0.2.100}"), "{}", out[0].summary);
        assert!(out[0].config[0].contains("k.conf:1: vrrp_instance VI_1"));
        // A service VIP no instance carries.
        let mut model = model;
        model.services.push(crate::model::Service::new(
            crate::model::ServiceKey::addr(
                crate::model::Proto::Tcp,
                "192.0.2.200".parse().unwrap(),
                Some(80),
            ),
            crate::model::Origin::CommandLine,
        ));
        let out = crate::checks::conclude(&mut KeepalivedConfigDrift, &model, &hosts);
        assert!(
            out[0]
                .summary
                .contains("VIP 192.0.2.200 of 192.0.2.200:80/tcp is in no vrrp_instance"),
            "{}",
            out[0].summary
        );
    }
}
