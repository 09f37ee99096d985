//! The LVS model as lvsdiag understood it (`lvsdiag model`): services with
//! their real servers, weights, methods, scheduler and persistence, where
//! each came from, and keepalived's VRRP instances.

use super::sanitize;
use crate::model::keepalived::{Config, VsKey};
use crate::model::Model;
use serde_json::{json, Value};
use std::fmt::Write;

pub fn text(m: &Model) -> String {
    let mut o = String::new();
    for l in &m.layouts {
        let _ = writeln!(o, "Layout: {}", sanitize(l));
    }
    let _ = writeln!(o, "Services ({})", m.services.len());
    for s in &m.services {
        let mode = s.mode.map_or("mode?".to_string(), |m| m.to_string());
        let mut extra = Vec::new();
        if let Some(sch) = &s.scheduler {
            extra.push(format!("scheduler {}", sanitize(sch)));
        }
        if let Some(p) = s.persistent {
            extra.push(format!("persistent {p} s"));
        }
        if s.ops {
            extra.push("one-packet scheduling".into());
        }
        let from = match &s.origin {
            crate::model::Origin::CommandLine => "--vip".to_string(),
            crate::model::Origin::Ipvs(f) | crate::model::Origin::Keepalived(f) => sanitize(f),
            crate::model::Origin::Inferred(w) => sanitize(w),
        };
        let _ = writeln!(
            o,
            "  {mode} {}{}  (from {from})",
            s.key,
            if extra.is_empty() {
                String::new()
            } else {
                format!("  {}", extra.join(", "))
            }
        );
        for r in &s.real_servers {
            let addr = match r.port {
                Some(p) => std::net::SocketAddr::new(r.addr, p).to_string(),
                None => r.addr.to_string(),
            };
            let encap = match r.encap {
                Some(e) if e != crate::decode::tunnel::Encap::Ipip => format!(" ({})", e.name()),
                _ => String::new(),
            };
            let _ = writeln!(o, "    -> {addr:<24} {}{encap} weight {}", r.mode, r.weight);
        }
    }
    for c in &m.keepalived {
        keepalived_text(&mut o, c);
    }
    o
}

/// One keepalived configuration as `lvsdiag model` prints it.
pub fn keepalived_text(o: &mut String, c: &Config) {
    let _ = writeln!(
        o,
        "\nkeepalived {}{}",
        c.files.first().map_or("", |f| f.as_str()),
        if c.files.len() > 1 {
            format!(" (+{} included)", c.files.len() - 1)
        } else {
            String::new()
        }
    );
    if let Some(r) = &c.router_id {
        let _ = writeln!(o, "  router_id {r}");
    }
    let _ = writeln!(
        o,
        "  {} virtual_server, {} virtual_server_group, {} real_server, {} vrrp_instance, {} vrrp_sync_group",
        c.virtual_servers.len(),
        c.groups.len(),
        c.virtual_servers.iter().map(|v| v.real_servers.len()).sum::<usize>(),
        c.vrrp.len(),
        c.sync_groups.len()
    );
    for v in &c.virtual_servers {
        let key = match &v.key {
            VsKey::Addr { ip, port } => match port {
                Some(p) => std::net::SocketAddr::new(*ip, *p).to_string(),
                None => ip.to_string(),
            },
            VsKey::Fwmark(m) => format!("fwmark {m}"),
            VsKey::Group(g) => format!("group {}", sanitize(g)),
        };
        let _ = writeln!(
            o,
            "  virtual_server {key} {} {} {}{}{}  ({})",
            v.protocol
                .map_or("TCP".to_string(), |p| p.name().to_uppercase()),
            v.lb_kind.as_deref().map_or("NAT", |k| k),
            v.lb_algo.as_deref().map_or("?".to_string(), sanitize),
            v.persistence_timeout
                .map_or(String::new(), |p| format!(" persistence {p}")),
            if v.inhibit_on_failure {
                " inhibit_on_failure"
            } else {
                ""
            },
            v.at
        );
        for r in &v.real_servers {
            let _ = writeln!(
                o,
                "    real_server {} weight {}{}{}",
                r.port
                    .map_or(r.ip.to_string(), |p| std::net::SocketAddr::new(r.ip, p)
                        .to_string()),
                r.weight,
                if r.inhibit_on_failure {
                    " inhibit_on_failure"
                } else {
                    ""
                },
                if r.checkers.is_empty() {
                    String::new()
                } else {
                    format!(" {}", r.checkers.join(","))
                }
            );
        }
        if let Some((ip, port)) = v.sorry_server {
            let _ = writeln!(
                o,
                "    sorry_server {ip}{}",
                port.map_or(String::new(), |p| format!(" {p}"))
            );
        }
    }
    for i in &c.vrrp {
        let vips: Vec<String> = i.virtual_ipaddress.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            o,
            "  vrrp_instance {} VRID {} priority {} {} on {} every {} s, VIPs {{{}}}{}{}  ({})",
            sanitize(&i.name),
            i.vrid.map_or("?".to_string(), |v| v.to_string()),
            i.priority.map_or("100".to_string(), |p| p.to_string()),
            i.state.as_deref().map_or("BACKUP", |s| s),
            i.interface.as_deref().map_or("?".to_string(), sanitize),
            i.advert_int.unwrap_or(1.0),
            vips.join(", "),
            if i.unicast_peers.is_empty() {
                String::new()
            } else {
                format!(
                    ", unicast to {}",
                    i.unicast_peers
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if i.nopreempt { ", nopreempt" } else { "" },
            i.at
        );
    }
    for g in &c.sync_groups {
        let _ = writeln!(
            o,
            "  vrrp_sync_group {} {{{}}}",
            sanitize(&g.name),
            sanitize(&g.instances.join(", "))
        );
    }
    if let Some(d) = &c.lvs_sync_daemon {
        let _ = writeln!(o, "  lvs_sync_daemon {d}");
    }
    for n in &c.notes {
        let _ = writeln!(o, "  note: {}", sanitize(n));
    }
}

pub fn json(m: &Model) -> String {
    let services: Vec<Value> = m
        .services
        .iter()
        .map(|s| {
            json!({
                "service": s.key.to_string(),
                "protocol": s.key.proto().map(|p| p.name()),
                "mode": s.mode.map(|m| m.to_string()),
                "scheduler": s.scheduler,
                "persistent": s.persistent,
                "ops": s.ops,
                "source": match &s.origin {
                    crate::model::Origin::CommandLine => "--vip".to_string(),
                    crate::model::Origin::Ipvs(f) | crate::model::Origin::Keepalived(f) => sanitize(f),
                    crate::model::Origin::Inferred(w) => sanitize(w),
                },
                "real_servers": s.real_servers.iter().map(|r| json!({
                    "ip": r.addr.to_string(), "port": r.port, "mode": r.mode.to_string(), "weight": r.weight,
                    "encapsulation": r.encap.map(|e| e.name()),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let keepalived: Vec<Value> = m
        .keepalived
        .iter()
        .map(|c| {
            json!({
                "files": c.files,
                "router_id": c.router_id,
                "virtual_servers": c.virtual_servers.iter().map(|v| json!({
                    "key": match &v.key {
                        VsKey::Addr { ip, port } => json!({"ip": ip.to_string(), "port": port}),
                        VsKey::Fwmark(m) => json!({"fwmark": m}),
                        VsKey::Group(g) => json!({"group": sanitize(g)}),
                    },
                    "protocol": v.protocol.map(|p| p.name()),
                    "lb_algo": v.lb_algo.as_deref().map(sanitize),
                    "lb_kind": v.lb_kind.as_deref().map(sanitize),
                    "persistence_timeout": v.persistence_timeout,
                    "inhibit_on_failure": v.inhibit_on_failure,
                    "sorry_server": v.sorry_server.map(|(ip, p)| json!({"ip": ip.to_string(), "port": p})),
                    "real_servers": v.real_servers.iter().map(|r| json!({
                        "ip": r.ip.to_string(), "port": r.port, "weight": r.weight,
                        "inhibit_on_failure": r.inhibit_on_failure, "checkers": r.checkers,
                        "at": r.at.to_string(),
                    })).collect::<Vec<_>>(),
                    "at": v.at.to_string(),
                })).collect::<Vec<_>>(),
                "virtual_server_groups": c.groups.iter().map(|g| json!({
                    "name": sanitize(&g.name),
                    "members": g.members.iter().map(|m| match m {
                        crate::model::keepalived::GroupMember::Range { first, count, port } =>
                            json!({"first": first.to_string(), "count": count, "port": port}),
                        crate::model::keepalived::GroupMember::Fwmark(f) => json!({"fwmark": f}),
                    }).collect::<Vec<_>>(),
                    "at": g.at.to_string(),
                })).collect::<Vec<_>>(),
                "vrrp_instances": c.vrrp.iter().map(|i| json!({
                    "name": sanitize(&i.name),
                    "interface": i.interface.as_deref().map(sanitize),
                    "virtual_router_id": i.vrid,
                    "priority": i.priority,
                    "state": i.state.as_deref().map(sanitize),
                    "advert_int": i.advert_int,
                    "version": i.version,
                    "auth_type": i.auth_type.as_deref().map(sanitize),
                    "virtual_ipaddress": i.virtual_ipaddress.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "unicast_peers": i.unicast_peers.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    "nopreempt": i.nopreempt,
                    "at": i.at.to_string(),
                })).collect::<Vec<_>>(),
                "vrrp_sync_groups": c.sync_groups.iter().map(|g| json!({
                    "name": sanitize(&g.name),
                    "instances": g.instances.iter().map(|i| sanitize(i)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "lvs_sync_daemon": c.lvs_sync_daemon,
                "notes": c.notes,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({
        "format": 1,
        "layouts": m.layouts,
        "services": services,
        "keepalived": keepalived,
    }))
    .expect("json");
    s.push('\n');
    s
}
