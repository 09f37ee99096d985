//! The node tree read as keepalived reads it: virtual servers (by address,
//! firewall mark or group) with their real servers, groups and their
//! ranges, VRRP instances and sync groups.

use super::*;

pub(super) fn at_of(n: &Node, files: &[String]) -> At {
    At {
        file: files[n.word.file].clone(),
        line: n.word.line,
    }
}

pub(super) fn kids(n: &Node) -> &[Node] {
    n.block.as_deref().unwrap_or(&[])
}

pub(super) fn note_unknown(c: &mut Config, n: &Node, files: &[String], within: &str) {
    let k = n.word.text.as_str();
    if !KNOWN.contains(&k) && c.notes.len() < 256 {
        c.notes.push(format!(
            "{}: unknown keyword {} in {within}, skipped",
            at_of(n, files),
            crate::text::sanitize(k)
        ));
    }
}

pub(super) fn ip_port(args: &[String]) -> Option<(IpAddr, Option<u16>)> {
    let ip = args.first()?.parse().ok()?;
    let port = args.get(1).and_then(|p| p.parse().ok());
    Some((ip, port))
}

/// `192.168.200.3-10`: the address and how many (last byte 3 to 10; for
/// IPv6 the last 16-bit group, in hex).
pub(super) fn range(s: &str) -> Option<(IpAddr, u32)> {
    let Some((first, last)) = s.rsplit_once('-') else {
        return Some((s.parse().ok()?, 1));
    };
    let ip: IpAddr = first.parse().ok()?;
    let count = match ip {
        IpAddr::V4(a) => {
            let last: u8 = last.parse().ok()?;
            u32::from(last.checked_sub(a.octets()[3])?) + 1
        }
        IpAddr::V6(a) => {
            let last = u16::from_str_radix(last, 16).ok()?;
            u32::from(last.checked_sub(a.segments()[7])?) + 1
        }
    };
    Some((ip, count.min(MAX_RANGE)))
}

pub(super) fn interpret(nodes: &[Node], files: &[String], c: &mut Config) {
    for n in nodes {
        let at = at_of(n, files);
        match n.word.text.as_str() {
            "global_defs" => {
                for g in kids(n) {
                    match g.word.text.as_str() {
                        "router_id" => {
                            c.router_id = g.args.first().map(|s| crate::text::sanitize(s))
                        }
                        "lvs_sync_daemon" => {
                            c.lvs_sync_daemon = Some(crate::text::sanitize(&g.args.join(" ")))
                        }
                        _ => note_unknown(c, g, files, "global_defs"),
                    }
                }
            }
            "virtual_server" => {
                let key = match n.args.first().map(String::as_str) {
                    Some("group") => n.args.get(1).map(|g| VsKey::Group(g.clone())),
                    Some("fwmark") => n
                        .args
                        .get(1)
                        .and_then(|m| m.parse().ok())
                        .map(VsKey::Fwmark),
                    _ => ip_port(&n.args).map(|(ip, port)| VsKey::Addr { ip, port }),
                };
                let Some(key) = key else {
                    c.notes.push(format!(
                        "{at}: virtual_server {} not understood, skipped",
                        crate::text::sanitize(&n.args.join(" "))
                    ));
                    continue;
                };
                let v = virtual_server(n, key, at, files, c);
                c.virtual_servers.push(v);
            }
            "virtual_server_group" => {
                let mut g = Group {
                    name: n.args.first().cloned().unwrap_or_default(),
                    members: Vec::new(),
                    at,
                };
                for m in kids(n) {
                    let a = &m.word.text;
                    if a == "fwmark" {
                        if let Some(v) = m.args.first().and_then(|v| v.parse().ok()) {
                            g.members.push(GroupMember::Fwmark(v));
                        }
                        continue;
                    }
                    match range(a) {
                        Some((first, count)) => g.members.push(GroupMember::Range {
                            first,
                            count,
                            port: m.args.first().and_then(|p| p.parse().ok()),
                        }),
                        None => c.notes.push(format!(
                            "{}: group member {} not understood, skipped",
                            at_of(m, files),
                            crate::text::sanitize(a)
                        )),
                    }
                }
                c.groups.push(g);
            }
            "vrrp_instance" => {
                let v = vrrp_instance(n, at, files, c);
                c.vrrp.push(v);
            }
            "vrrp_sync_group" => {
                let mut g = SyncGroup {
                    name: n.args.first().cloned().unwrap_or_default(),
                    instances: Vec::new(),
                    at,
                };
                for k in kids(n) {
                    if k.word.text == "group" {
                        for i in kids(k) {
                            g.instances.push(i.word.text.clone());
                            g.instances.extend(i.args.iter().cloned());
                        }
                    }
                }
                c.sync_groups.push(g);
            }
            _ => note_unknown(c, n, files, "the top level"),
        }
    }
}

pub(super) fn virtual_server(
    n: &Node,
    key: VsKey,
    at: At,
    files: &[String],
    c: &mut Config,
) -> VirtualServer {
    let mut v = VirtualServer {
        key,
        protocol: None,
        lb_algo: None,
        lb_kind: None,
        persistence_timeout: None,
        inhibit_on_failure: false,
        sorry_server: None,
        real_servers: Vec::new(),
        at,
    };
    for k in kids(n) {
        let arg = k.args.first();
        match k.word.text.as_str() {
            "protocol" => v.protocol = arg.map(|p| Proto::from(p.to_ascii_lowercase())),
            "lb_algo" | "lvs_sched" => v.lb_algo = arg.cloned(),
            "lb_kind" | "lvs_method" => v.lb_kind = arg.map(|k| k.to_ascii_uppercase()),
            "persistence_timeout" => {
                // Without a value keepalived uses 360 s.
                v.persistence_timeout = Some(arg.and_then(|t| t.parse().ok()).unwrap_or(360))
            }
            "inhibit_on_failure" => v.inhibit_on_failure = true,
            "sorry_server" => v.sorry_server = ip_port(&k.args),
            "real_server" => {
                let Some((ip, port)) = ip_port(&k.args) else {
                    c.notes.push(format!(
                        "{}: real_server {} not understood, skipped",
                        at_of(k, files),
                        crate::text::sanitize(&k.args.join(" "))
                    ));
                    continue;
                };
                let mut r = RealServer {
                    ip,
                    port,
                    weight: 1,
                    inhibit_on_failure: v.inhibit_on_failure,
                    checkers: Vec::new(),
                    at: at_of(k, files),
                };
                for x in kids(k) {
                    match x.word.text.as_str() {
                        "weight" => {
                            if let Some(w) = x.args.first().and_then(|w| w.parse().ok()) {
                                r.weight = w;
                            }
                        }
                        "inhibit_on_failure" => r.inhibit_on_failure = true,
                        w if w.ends_with("_CHECK") || w == "HTTP_GET" || w == "SSL_GET" => {
                            r.checkers.push(w.to_string())
                        }
                        _ => note_unknown(c, x, files, "real_server"),
                    }
                }
                v.real_servers.push(r);
            }
            _ => note_unknown(c, k, files, "virtual_server"),
        }
    }
    // inhibit_on_failure given after the real servers applies to them too.
    if v.inhibit_on_failure {
        for r in &mut v.real_servers {
            r.inhibit_on_failure = true;
        }
    }
    v
}

pub(super) fn vrrp_instance(n: &Node, at: At, files: &[String], c: &mut Config) -> VrrpInstance {
    let mut v = VrrpInstance {
        name: n.args.first().cloned().unwrap_or_default(),
        interface: None,
        vrid: None,
        priority: None,
        state: None,
        advert_int: None,
        version: None,
        auth_type: None,
        virtual_ipaddress: Vec::new(),
        unicast_peers: Vec::new(),
        nopreempt: false,
        at,
    };
    for k in kids(n) {
        let arg = k.args.first();
        match k.word.text.as_str() {
            "interface" => v.interface = arg.cloned(),
            "virtual_router_id" => v.vrid = arg.and_then(|x| x.parse().ok()),
            "priority" => v.priority = arg.and_then(|x| x.parse().ok()),
            "state" => v.state = arg.map(|s| s.to_ascii_uppercase()),
            "advert_int" => v.advert_int = arg.and_then(|x| x.parse().ok()),
            "version" => v.version = arg.and_then(|x| x.parse().ok()),
            "nopreempt" => v.nopreempt = true,
            "lvs_sync_daemon_interface" => {
                c.lvs_sync_daemon = Some(format!(
                    "{} {}",
                    crate::text::sanitize(arg.map_or("", |s| s)),
                    v.name
                ))
            }
            "authentication" => {
                for a in kids(k) {
                    if a.word.text == "auth_type" {
                        v.auth_type = a.args.first().cloned();
                    }
                }
            }
            "virtual_ipaddress" => {
                for a in kids(k) {
                    let addr = a.word.text.split('/').next().unwrap_or("");
                    match addr.parse() {
                        Ok(ip) => v.virtual_ipaddress.push(ip),
                        Err(_) => c.notes.push(format!(
                            "{}: virtual_ipaddress {} not understood, skipped",
                            at_of(a, files),
                            crate::text::sanitize(&a.word.text)
                        )),
                    }
                }
            }
            "unicast_peer" => {
                v.unicast_peers.extend(
                    kids(k)
                        .iter()
                        .filter_map(|p| p.word.text.parse::<IpAddr>().ok()),
                );
            }
            _ => note_unknown(c, k, files, "vrrp_instance"),
        }
    }
    v
}

pub(super) fn first_is_v6(v: &VirtualServer) -> bool {
    v.real_servers.first().is_some_and(|r| r.ip.is_ipv6())
}

/// The `i`-th address from `first` (last byte / last group counted up).
pub(super) fn nth(first: IpAddr, i: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(a) => {
            let o = a.octets();
            let last = u8::try_from(u32::from(o[3]) + i).ok()?;
            Some(IpAddr::from([o[0], o[1], o[2], last]))
        }
        IpAddr::V6(a) => {
            let mut g = a.segments();
            g[7] = u16::try_from(u32::from(g[7]) + i).ok()?;
            Some(IpAddr::from(g))
        }
    }
}
