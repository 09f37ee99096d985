//! The JSON report: the CI contract. Fields are added freely, never renamed:
//! `inputs[].{point,path,link_type,packets}`, `services[].{service,vip,port,protocol,fwmark,mode,source}`,
//! `real_servers[].{service,protocol,ip,mac,connections,established,failed,syn_retransmits}`,
//! `findings[].{code,severity,service,protocol,real_server,summary,evidence[].{point,frame,time},fix}`.

use super::{fmt_time, sanitize};
use crate::decode::fmt_mac;
use crate::engine::Analysis;
use crate::model::{Origin, ServiceKey};
use serde_json::{json, Value};

pub fn render(a: &Analysis) -> String {
    let mut s = serde_json::to_string_pretty(&value(a)).expect("json");
    s.push('\n');
    s
}

/// One line of NDJSON (`analyze --live --format json`): the report with a
/// `final` flag (false for the periodic ones) and the seconds it covers.
pub fn render_line(a: &Analysis, is_final: bool, elapsed_s: f64) -> String {
    let mut v = value(a);
    v["final"] = json!(is_final);
    v["elapsed_s"] = json!((elapsed_s * 10.0).round() / 10.0);
    let mut s = serde_json::to_string(&v).expect("json");
    s.push('\n');
    s
}

/// The report as a JSON value.
pub fn value(a: &Analysis) -> Value {
    let point = |i: u16| {
        a.points
            .get(usize::from(i))
            .map_or("?".to_string(), |p| p.name.clone())
    };
    let inputs: Vec<Value> = a
        .points
        .iter()
        .map(|p| {
            json!({
                "point": p.name,
                "path": p.path.as_ref().map(|p| sanitize(&p.display().to_string())),
                "link_type": p.link_type.name(),
                "packets": p.packets,
                "undecodable": p.undecodable,
                "error": p.error,
                "losses": p.losses.iter().map(|l| json!({
                    "from": (l.from > i64::MIN).then(|| fmt_time(l.from).parse::<f64>().unwrap_or(0.0)),
                    "to": (l.to < i64::MAX).then(|| fmt_time(l.to).parse::<f64>().unwrap_or(0.0)),
                    "packets": l.packets,
                    "cause": l.cause.as_str(),
                })).collect::<Vec<_>>(),
                "live": p.live.as_ref().map(|l| json!({
                    "source": l.what,
                    "kernel_drops": l.kernel_drops,
                    "interface_drops": l.interface_drops,
                    "lvsdiag_drops": l.lvsdiag_drops,
                })),
            })
        })
        .collect();
    let services: Vec<Value> = a
        .services
        .iter()
        .map(|s| {
            let sv = &s.service;
            let detail = match &sv.origin {
                Origin::CommandLine => "--vip".to_string(),
                Origin::Ipvs(f) | Origin::Keepalived(f) => sanitize(f),
                Origin::Inferred(why) => why.clone(),
            };
            json!({
                "service": sv.label(),
                "vip": sv.key.vip().map(|v| v.to_string()),
                "port": sv.key.port(),
                "protocol": sv.key.proto().map(|p| p.name()),
                "mode": sv.mode.map(|m| m.as_str()),
                "source": sv.origin.label(),
                "source_detail": detail,
                "fwmark": match sv.key {
                    ServiceKey::Fwmark { mark, .. } => Some(mark),
                    ServiceKey::Addr { .. } => None,
                },
                "covers": sv.covers.iter().map(|c| json!({
                    "service": c.label(),
                    "from": sanitize(&c.from),
                })).collect::<Vec<_>>(),
                "scheduler": sv.scheduler,
                "persistent": sv.persistent,
                "connections": s.stats.connections,
                "established": s.stats.established,
                "failed": s.stats.failed,
                "syn_retransmits": s.stats.syn_retransmits,
                "resets": s.stats.resets,
                "icmp_errors": s.stats.icmp_errors,
                "handshake_rtt_ms": s.stats.rtt_ms(),
                "verdict": s.verdict.as_str(),
                "verdict_reason": s.verdict_why,
            })
        })
        .collect();
    let real_servers: Vec<Value> = a
        .real_servers
        .iter()
        .map(|r| {
            json!({
                "service": r.service.to_string(),
                "protocol": r.service.proto().map(|p| p.name()),
                "ip": r.ip.map(|i| i.to_string()),
                "mac": r.mac.map(|m| fmt_mac(&m)),
                "port": r.port,
                "mode": r.mode.map(|m| m.as_str()),
                "weight": r.weight,
                "connections": r.stats.connections,
                "established": r.stats.established,
                "failed": r.stats.failed,
                "syn_retransmits": r.stats.syn_retransmits,
                "resets": r.stats.resets,
                "icmp_errors": r.stats.icmp_errors,
                "handshake_rtt_ms": r.stats.rtt_ms(),
            })
        })
        .collect();
    let findings: Vec<Value> = a
        .findings
        .iter()
        .map(|f| {
            json!({
                "code": f.code,
                "severity": f.severity.as_str(),
                "service": f.service_label(),
                "protocol": f.service.and_then(|s| s.proto()).map(|p| p.name()),
                "real_server": f.rs_label(),
                "summary": f.summary,
                "cause": f.cause,
                "evidence": f.evidence.iter().map(|e| json!({
                    "point": point(e.point),
                    "frame": e.frame,
                    "time": fmt_time(e.time).parse::<f64>().unwrap_or(0.0),
                })).collect::<Vec<_>>(),
                "fix": f.fix,
                "explained_by": f.explained_by,
                "config": f.config.iter().map(|c| sanitize(c)).collect::<Vec<_>>(),
                "confirmed_by": f.confirmed_by,
                "first": f.span.map(|(a, _)| fmt_time(a).parse::<f64>().unwrap_or(0.0)),
                "last": f.span.map(|(_, b)| fmt_time(b).parse::<f64>().unwrap_or(0.0)),
                "connections": (f.affected > 0).then_some(f.affected),
                "losses": f.losses,
                "weakened_by_losses": f.weakened,
                "moment": f.moment.as_ref().map(|(t, what)| json!({
                    "time": fmt_time(*t).parse::<f64>().unwrap_or(0.0),
                    "what": sanitize(what),
                })),
            })
        })
        .collect();
    let out = json!({
        "format": 1,
        "inputs": inputs,
        "services": services,
        "real_servers": real_servers,
        "findings": findings,
        "notes": a.notes,
        "snapshots": a.snapshots.iter().map(|(h, p)| json!({"host": sanitize(h), "points": p})).collect::<Vec<_>>(),
        "vrrp": vrrp(a, &|i| json!(point(i))),
        "events": a.events.iter().map(|e| json!({
            "time": fmt_time(e.time).parse::<f64>().unwrap_or(0.0),
            "kind": e.kind.as_str(),
            "what": sanitize(&e.what),
            "service": e.service.map(|s| s.to_string()),
            "real_server": e.real_server.map(|r| r.to_string()),
            "code": e.code,
            "evidence": e.evidence.map(|x| json!({"point": point(x.point), "frame": x.frame})),
        })).collect::<Vec<_>>(),
        "timeline": a.timeline.iter().map(|s| json!({
            "service": s.service.to_string(),
            "real_server": s.real_server.map(|r| r.to_string()),
            "start": fmt_time(s.series.start).parse::<f64>().unwrap_or(0.0),
            "bucket_s": s.series.width_ns as f64 / 1e9,
            "connections": s.series.conns,
            "failed": s.series.fails,
        })).collect::<Vec<_>>(),
        "totals": {
            "packets": a.packets,
            "connections": a.flows.flows,
            "untracked_tcp_packets": a.flows.untracked,
            "untracked_udp_datagrams": a.flows.untracked_udp,
            "untracked_icmp_errors": a.flows.untracked_icmp,
            "evicted_flows": a.flows.evicted,
            "peak_flows": a.flows.peak_flows,
        },
    });
    out
}

/// VRRP on the wire: per virtual router its advertisers and master timeline.
fn vrrp(a: &Analysis, point: &dyn Fn(u16) -> Value) -> Value {
    let t = |ns: i64| fmt_time(ns).parse::<f64>().unwrap_or(0.0);
    let ev = |e: &crate::finding::Evidence| json!({"point": point(e.point), "frame": e.frame, "time": t(e.time)});
    let vrids: Vec<Value> = a
        .vrrp
        .vrids
        .values()
        .map(|x| {
            let routers: Vec<Value> = x
                .routers
                .iter()
                .map(|r| {
                    let pts: Vec<Value> = (0..a.points.len() as u16)
                        .filter(|&i| r.points.contains(i))
                        .map(point)
                        .collect();
                    json!({
                        "ip": r.ip.to_string(),
                        "mac": r.mac.map(|m| fmt_mac(&m)),
                        "priority": r.priority,
                        "version": r.version,
                        "interval_s": f64::from(r.interval_cs) / 100.0,
                        "auth": r.auth,
                        "addresses": r.addrs.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                        "address_count": r.count,
                        "unicast_peer": r.unicast.map(|p| p.to_string()),
                        "adverts": r.adverts,
                        "resigned": r.resigned,
                        "first": ev(&r.first),
                        "last": ev(&r.last),
                        "points": pts,
                    })
                })
                .collect();
            json!({
                "vrid": x.key.vrid,
                "family": if x.key.v6 { "ipv6" } else { "ipv4" },
                "master": x.master().map(|r| r.ip.to_string()),
                "routers": routers,
                "timeline": x.periods.iter().map(|p| json!({
                    "router": x.routers[p.router].ip.to_string(),
                    "priority": p.priority,
                    "resigned": p.resigned,
                    "from": ev(&p.from),
                    "to": ev(&p.to),
                    "adverts": p.adverts,
                })).collect::<Vec<_>>(),
                "timeline_dropped": x.periods_dropped,
                "silences": x.gaps.iter().map(|g| json!({"last": ev(&g.0), "next": ev(&g.1)})).collect::<Vec<_>>(),
                "silence_count": x.gap_count,
                "routers_not_kept": x.routers_overflow,
            })
        })
        .collect();
    json!({
        "virtual_routers": vrids,
        "virtual_routers_not_kept": a.vrrp.vrids_overflow,
        "carp_adverts": a.vrrp.carp,
        "malformed": a.vrrp.malformed,
    })
}
