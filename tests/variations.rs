//! Every lab fixture, varied mechanically (issue: every check holds in every
//! shape its fault takes). Each variation is made from the fixture's own
//! packets, and what it must yield follows from the scenario's expected
//! findings, never from lvsdiag's output:
//! - addresses, MACs and ports renamed (the LVS segment and the client
//!   segment swap subnets, hosts renumbered, the service on another port):
//!   exactly the expected findings, about the renamed real servers;
//! - every capture point in one pcapng (one interface each): exactly the
//!   expected findings;
//! - fewer real servers (a healthy one's connections gone from every point)
//!   and more (a second client's copy of the traffic whose healthy real
//!   servers are new hosts): exactly the expected findings;
//! - capture points removed (each in turn; client and director only;
//!   director only): never a real server the scenario does not name, a
//!   healthy fixture stays clean, and the fault's finding survives wherever
//!   its essential evidence is still captured ([`essential`]).

mod common;

use common::rewrite::{self, Map, Rec};
use common::{describe, got, Got};
use lvsdiag::analyze::run_files;
use lvsdiag::engine::{Analysis, Options};
use lvsdiag::model::Model;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

type Points = Vec<(String, u32, Vec<Rec>)>;

struct Fixture {
    name: String,
    mode: String,
    proto: String,
    expected: Got,
    points: Points,
}

fn fixtures() -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                    .unwrap();
            let expected = common::expected_set(&v, "findings");
            let points = common::pcaps(&dir)
                .iter()
                .map(|p| {
                    let (link, recs) = rewrite::read_pcap(p);
                    let name = p.file_stem().unwrap().to_string_lossy().to_string();
                    (name, link, recs)
                })
                .collect();
            Fixture {
                name: dir.file_name().unwrap().to_string_lossy().to_string(),
                mode: v["mode"].as_str().unwrap_or("").to_string(),
                proto: v["proto"].as_str().unwrap_or("tcp").to_string(),
                expected,
                points,
            }
        })
        .collect()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsdiag-var-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Analyses the points as one pcap file each, model inferred.
fn analyze(points: &Points, tag: &str) -> Analysis {
    let d = tmpdir(tag);
    let inputs: Vec<String> = points
        .iter()
        .map(|(name, link, recs)| {
            let p = d.join(format!("{name}.pcap"));
            rewrite::write_pcap(&p, *link, recs);
            p.display().to_string()
        })
        .collect();
    let a = run_files(&inputs, Model::default(), Options::default()).expect("variation reads");
    let _ = std::fs::remove_dir_all(&d);
    a
}

fn check_exact(failures: &mut Vec<String>, name: &str, how: &str, want: &Got, a: &Analysis) {
    let g = got(a);
    if &g != want {
        failures.push(format!(
            "{name} ({how}):\n  missing: {:?}\n  extra: {:?}\n  all findings:\n{}",
            want.difference(&g).collect::<Vec<_>>(),
            g.difference(want).collect::<Vec<_>>(),
            describe(a)
        ));
    }
}

/// The renaming: the LVS segment (192.0.2.0/24) and the client segment
/// (203.0.113.0/24) swap subnets, every host number of those and of
/// 198.51.100.0/24 has bit 6 flipped (not the network or broadcast
/// address), IPv6 documentation addresses get another subnet and host
/// byte; locally administered MACs get another fourth byte; the service
/// ports move (staying below the clients' source ports: without a model a
/// UDP datagram opens a flow only towards a port no higher than its own).
fn renaming() -> Map {
    fn ip(a: IpAddr) -> Option<IpAddr> {
        match a {
            IpAddr::V4(v) => {
                let o = v.octets();
                let net = match [o[0], o[1], o[2]] {
                    [192, 0, 2] => [203, 0, 113],
                    [203, 0, 113] => [192, 0, 2],
                    [198, 51, 100] => [198, 51, 100],
                    _ => return None,
                };
                let h = if o[3] == 0 || o[3] == 255 {
                    o[3]
                } else {
                    o[3] ^ 0x40
                };
                Some(IpAddr::from([net[0], net[1], net[2], h]))
            }
            IpAddr::V6(v) => {
                let mut o = v.octets();
                if o[..4] != [0x20, 0x01, 0x0d, 0xb8] {
                    return None;
                }
                o[5] ^= 0xa0;
                o[15] ^= 0x40;
                Some(IpAddr::from(o))
            }
        }
    }
    fn mac(m: [u8; 6]) -> Option<[u8; 6]> {
        (m[0] & 0x03 == 0x02).then(|| {
            let mut n = m;
            n[3] ^= 0x5a;
            n
        })
    }
    Map {
        ip_fn: Some(ip),
        mac_fn: Some(mac),
        ports: HashMap::from([(80, 81), (53, 54), (443, 444), (8080, 8088), (9000, 9001)]),
        ..Map::default()
    }
}

/// Every frame of every point through `f` (`None`: dropped).
fn each_frame(points: &Points, mut f: impl FnMut(&str, &Rec) -> Option<Rec>) -> Points {
    points
        .iter()
        .map(|(n, l, recs)| (n.clone(), *l, recs.iter().filter_map(|r| f(n, r)).collect()))
        .collect()
}

fn rename_points(points: &Points, m: &Map) -> Points {
    each_frame(points, |_, r| {
        let mut r = r.clone();
        m.frame(&mut r.data);
        Some(r)
    })
}

/// The lab's real servers: name, addresses (DR/TUN, NAT, IPv6 DR, IPv6
/// NAT) and MAC prefix (lab/README.md's topology).
fn lab_rs(n: u8) -> (BTreeSet<IpAddr>, [u8; 5]) {
    let ips = [
        format!("192.0.2.1{n}"),
        format!("198.51.100.1{n}"),
        format!("2001:db8::1{n}"),
        format!("2001:db8:1::1{n}"),
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    (ips, [0x02, 0, 0, 0, 0x10 + n])
}

fn rs_macs(points: &Points, prefix: [u8; 5]) -> BTreeSet<[u8; 6]> {
    let mut out = BTreeSet::new();
    for (_, _, recs) in points {
        for r in recs {
            for m in [&r.data[0..6], &r.data[6..12]] {
                if m[..5] == prefix {
                    out.insert(<[u8; 6]>::try_from(m).unwrap());
                }
            }
        }
    }
    out
}

/// A lab real server the scenario does not name (healthy), with traffic.
fn healthy_rs(fx: &Fixture) -> Option<u8> {
    let named: BTreeSet<&str> = fx.expected.iter().map(|(_, _, r)| r.as_str()).collect();
    (1..=3).find(|n| {
        let (ips, prefix) = lab_rs(*n);
        !ips.iter().any(|i| named.contains(i.to_string().as_str()))
            && !rs_macs(&fx.points, prefix).is_empty()
    })
}

/// Capture point subsets: each point removed in turn, client and director
/// only, director only.
fn subsets(points: &Points) -> Vec<(String, BTreeSet<String>)> {
    let names: BTreeSet<String> = points.iter().map(|p| p.0.clone()).collect();
    let mut out: Vec<(String, BTreeSet<String>)> = names
        .iter()
        .map(|n| {
            let mut s = names.clone();
            s.remove(n);
            (format!("without {n}"), s)
        })
        .collect();
    let only = |pre: &[&str]| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| pre.iter().any(|p| n.starts_with(p)))
            .cloned()
            .collect()
    };
    out.push((
        "client and director only".into(),
        only(&["client", "director"]),
    ));
    out.push(("director only".into(), only(&["director"])));
    out.retain(|(_, s)| !s.is_empty() && s.len() < names.len());
    out
}

/// Whether a fault's essential evidence is still captured at `kept`: the
/// points that carry it (the audit in each check's doc comment).
fn essential(fx: &Fixture, code: &str, kept: &BTreeSet<String>, all: &BTreeSet<String>) -> bool {
    let has = |p: &str| kept.iter().any(|k| k.starts_with(p));
    let director = has("director-");
    // Where the real servers' answers pass: in NAT the director, in DR and
    // TUN the client's side (and the real servers).
    let answers = has("client") || has("router") || has("rs") || (director && fx.mode == "nat");
    match code {
        // The forwarded SYN (the director's or the real server's point) and
        // the absence of an answer where answers pass. TCP: the client's
        // ACK crosses the director even in DR, so the director alone tells
        // answered from unanswered; UDP has no such ACK.
        "dr-rs-no-reply" | "tun-rs-no-reply" | "nat-rs-no-reply" => {
            (director || has("rs")) && (fx.proto == "tcp" || answers)
        }
        // The rewritten SYN-ACK from the RIP, seen outside the director.
        "nat-reply-bypasses-director" => has("client") || has("router") || has("rs"),
        // The RST answering the forwarded SYN, where it passes.
        "handshake-reset" => answers,
        // Replies from the real server to the director's MAC.
        "dr-reply-via-director" => director || has("rs"),
        // The director's legs of each connection.
        "rs-removed-blackholes-established" | "ipvs-idle-timeout" => director,
        // The client's view of the connection and the ARP claims.
        "failover-drops-established" => director || has("client") || has("router"),
        "vip-arp-multiple-owners" => {
            all.iter()
                .filter(|p| p.starts_with("router") || p.starts_with("client"))
                .all(|p| kept.contains(p))
                && director
        }
        "vip-traffic-bypasses-director" => has("router-eth1") || has("rs"),
        "rs-port-unreachable" | "rs-icmp-error" => director || has("rs"),
        "nat-director-not-forwarding" => director,
        "udp-flow-pinned" => director,
        // Adverts at the point that hears every router.
        "vrrp-split-brain" | "vrrp-master-flapping" => kept == all,
        // Re-sent full-size segments and what acknowledges them.
        "pmtu-blackhole" | "tun-pmtu-blackhole" => kept == all,
        _ => kept == all,
    }
}

/// Faults defined against the service's other flows: one flow's share of
/// the datagrams, newer flows going elsewhere, a port's earlier connection
/// (which may have gone to another real server). Removing a real server's
/// connections changes what they are.
const AGAINST_PEERS: &[&str] = &[
    "udp-flow-pinned",
    "udp-stale-destination",
    "ipvs-conn-reuse-delay",
];

/// The faults of a connection's life after its handshake, and the
/// scenarios that are their healthy counterparts.
const LIFECYCLE: &[&str] = &[
    "rs-removed-blackholes-established",
    "ipvs-idle-timeout",
    "failover-drops-established",
];
const LIFECYCLE_HEALTHY: &[&str] = &["dr-idle-keepalive", "dr-failover-sync", "dr-rs-drained"];

/// The scenarios whose VIP moves once from director to director2 (not the
/// VRRP ones: the ten seconds between the capture and its copy would be a
/// silence of the adverts, which VRRP's checks rightly call flapping).
const FAILOVERS: &[&str] = &[
    "dr-director-failover",
    "dr-failover-no-sync",
    "dr-failover-sync",
];

/// Every client endpoint that opened a TCP connection (a SYN), with when.
fn syns(points: &Points) -> Vec<(i64, (IpAddr, u16))> {
    let mut first: HashMap<(IpAddr, u16), i64> = HashMap::new();
    for (_, _, recs) in points {
        for r in recs {
            if rewrite::tcp_flags(&r.data).is_some_and(|f| f & 0x12 == 0x02) {
                let (s, _) = rewrite::endpoints(&r.data).expect("tcp");
                let t = first.entry(s).or_insert(r.ts_ns);
                *t = (*t).min(r.ts_ns);
            }
        }
    }
    let mut v: Vec<_> = first.into_iter().map(|(c, t)| (t, c)).collect();
    v.sort();
    v
}

fn every_client(points: &Points) -> BTreeSet<(IpAddr, u16)> {
    syns(points).into_iter().map(|(_, c)| c).collect()
}

/// The clients of the first burst of connections: up to the first pause
/// of more than a second between two new connections.
fn first_burst(points: &Points) -> BTreeSet<(IpAddr, u16)> {
    let v = syns(points);
    let mut out = BTreeSet::new();
    let mut last = None;
    for (t, c) in v {
        if last.is_some_and(|l: i64| t - l > 1_000_000_000) {
            break;
        }
        out.insert(c);
        last = Some(t);
    }
    out
}

#[test]
fn every_fixture_holds_under_every_variation() {
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut cut_after_event = 0;
    let mut converted_v6 = 0;
    for fx in fixtures() {
        let name = fx.name.as_str();
        let all: BTreeSet<String> = fx.points.iter().map(|p| p.0.clone()).collect();
        let named: BTreeSet<String> = fx.expected.iter().map(|(_, _, r)| r.clone()).collect();

        // Renamed addresses, MACs and ports.
        let m = renaming();
        let want: Got = fx
            .expected
            .iter()
            .map(|(c, s, r)| {
                let r = r
                    .parse::<IpAddr>()
                    .map_or(r.clone(), |ip| m.ip(ip).to_string());
                (c.clone(), s.clone(), r)
            })
            .collect();
        let a = analyze(&rename_points(&fx.points, &m), "renamed");
        check_exact(&mut failures, name, "renamed", &want, &a);

        // The same capture over IPv6 (every IPv4 fixture but VRRP's:
        // keepalived's VRRPv2 adverts have no mechanical IPv6 form).
        if !is_v6(&fx.points) && !name.starts_with("vrrp") && name != "keepalived-drift" {
            let v6 = over_v6(&fx.points);
            let want: Got = fx
                .expected
                .iter()
                .map(|(c, s, r)| {
                    let r = r
                        .parse::<std::net::Ipv4Addr>()
                        .ok()
                        .and_then(rewrite::v6_of)
                        .map_or(r.clone(), |v| v.to_string());
                    (c.clone(), s.clone(), r)
                })
                .collect();
            let a = analyze(&v6, "v6");
            check_exact(&mut failures, name, "over IPv6", &want, &a);
            // The services found are the IPv6 ones.
            let vips: Vec<_> = a
                .services
                .iter()
                .filter_map(|s| s.service.key.vip())
                .collect();
            if vips.is_empty() || vips.iter().any(|v| v.is_ipv4()) {
                failures.push(format!("{name} (over IPv6): services {vips:?}"));
            }
            converted_v6 += 1;
        }

        // One pcapng, an interface per point.
        let d = tmpdir("ng");
        let ng = d.join("all.pcapng");
        rewrite::write_pcapng(&ng, &fx.points);
        let a = run_files(
            &[ng.display().to_string()],
            Model::default(),
            Options::default(),
        )
        .expect("pcapng reads");
        let _ = std::fs::remove_dir_all(&d);
        check_exact(&mut failures, name, "one pcapng", &fx.expected, &a);

        // Fewer real servers: a healthy one's connections gone (not for a
        // fault defined against the service's other flows).
        let against_peers = fx
            .expected
            .iter()
            .any(|(c, _, _)| AGAINST_PEERS.contains(&c.as_str()));
        if let Some(n) = healthy_rs(&fx).filter(|_| !against_peers) {
            let (ips, prefix) = lab_rs(n);
            let macs = rs_macs(&fx.points, prefix);
            let clients = rewrite::clients_of(&fx.points, &ips, &macs);
            let mut fewer = fx.points.clone();
            for (_, _, recs) in &mut fewer {
                rewrite::drop_clients(recs, &clients);
            }
            let a = analyze(&fewer, "fewer");
            check_exact(
                &mut failures,
                name,
                &format!("without rs{n}'s connections"),
                &fx.expected,
                &a,
            );
        }

        // Only the faulty real server's connections: no peer answers to
        // compare with (a service whose every real server fails, or that
        // has one). A fault defined against its peers (one flow's share of
        // the service) is not that fault any more.
        let faulty: BTreeSet<u8> = (1..=3u8)
            .filter(|n| lab_rs(*n).0.iter().any(|i| named.contains(&i.to_string())))
            .collect();
        if faulty.len() == 1 && !against_peers {
            let mut only = fx.points.clone();
            for n in (1..=3u8).filter(|n| !faulty.contains(n)) {
                let (ips, prefix) = lab_rs(n);
                let macs = rs_macs(&fx.points, prefix);
                let clients = rewrite::clients_of(&fx.points, &ips, &macs);
                for (_, _, recs) in &mut only {
                    rewrite::drop_clients(recs, &clients);
                }
            }
            let a = analyze(&only, "only");
            check_exact(
                &mut failures,
                name,
                "only the faulty real server's connections",
                &fx.expected,
                &a,
            );
        }

        // More real servers: other clients' copy whose healthy real
        // servers are new hosts (rsN -> rs(N+4), .1N -> .1(N+4)).
        {
            let mut m = Map::default();
            // Every client (the client segment's hosts but its router, and
            // the kube scenarios' client pods, 198.51.100.130-150).
            for h in 130u8..=150 {
                m.ips.insert(
                    IpAddr::from([198, 51, 100, h]),
                    IpAddr::from([198, 51, 100, h + 40]),
                );
            }
            for h in 2u8..100 {
                m.ips.insert(
                    IpAddr::from([203, 0, 113, h]),
                    IpAddr::from([203, 0, 113, h + 100]),
                );
                let mut a = "2001:db8:c::"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets();
                a[15] = h;
                let mut b = a;
                b[15] = h + 100;
                m.ips.insert(IpAddr::from(a), IpAddr::from(b));
            }
            for n in 1..=3u8 {
                let (ips, prefix) = lab_rs(n);
                if ips.iter().any(|i| named.contains(&i.to_string())) {
                    continue;
                }
                for ip in ips {
                    let new = match ip {
                        IpAddr::V4(v) => {
                            let mut o = v.octets();
                            o[3] += 4;
                            IpAddr::from(o)
                        }
                        IpAddr::V6(v) => {
                            let mut o = v.octets();
                            o[15] += 4;
                            IpAddr::from(o)
                        }
                    };
                    m.ips.insert(ip, new);
                }
                for mac in rs_macs(&fx.points, prefix) {
                    let mut new = mac;
                    new[4] += 4;
                    m.macs.insert(mac, new);
                }
            }
            let copy = rename_points(&fx.points, &m);
            let more: Points = fx
                .points
                .iter()
                .zip(copy)
                .map(|((n, l, a), (_, _, b))| {
                    let mut recs: Vec<Rec> = a.iter().cloned().chain(b).collect();
                    recs.sort_by_key(|r| r.ts_ns);
                    (n.clone(), *l, recs)
                })
                .collect();
            let a = analyze(&more, "more");
            // A fault defined by a share of the service's traffic (one flow
            // carrying half of it) is not the same fault with a second
            // client's traffic beside it.
            let want: Got = fx
                .expected
                .iter()
                .filter(|(c, _, _)| c != "udp-flow-pinned")
                .cloned()
                .collect();
            let mut g = got(&a);
            g.retain(|(c, _, _)| c != "udp-flow-pinned");
            if g != want {
                failures.push(format!(
                    "{name} (with a second client's copy on new real servers):\n  missing: {:?}\n  extra: {:?}\n{}",
                    want.difference(&g).collect::<Vec<_>>(),
                    g.difference(&want).collect::<Vec<_>>(),
                    describe(&a)
                ));
            }
        }

        // Traffic after the event: only the connections open before it
        // (the lifecycle scenarios open their long connections in a first
        // burst, and new ones after the event).
        if fx
            .expected
            .iter()
            .any(|(c, _, _)| LIFECYCLE.contains(&c.as_str()))
            || LIFECYCLE_HEALTHY.contains(&name)
        {
            let first = first_burst(&fx.points);
            let all_clients = every_client(&fx.points);
            let later: BTreeSet<(IpAddr, u16)> = all_clients.difference(&first).copied().collect();
            // (none: the fixture is that shape already)
            let mut only = fx.points.clone();
            for (_, _, recs) in &mut only {
                rewrite::drop_clients(recs, &later);
            }
            if !later.is_empty() {
                cut_after_event += 1;
                let a = analyze(&only, "before");
                check_exact(
                    &mut failures,
                    name,
                    "no new connections after the event",
                    &fx.expected,
                    &a,
                );
            }
        }

        // A NAT reply that bypasses the director, at a client that drops
        // it silently (no RST: its firewall, a NAT gateway in front of it),
        // with every point, and with only the client's side (client and
        // router: neither the director nor the real servers).
        if fx
            .expected
            .iter()
            .any(|(c, _, _)| c == "nat-reply-bypasses-director")
        {
            let client_ips: BTreeSet<IpAddr> = ["203.0.113.10", "2001:db8:c::10"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
            let quiet = each_frame(&fx.points, |_, r| {
                let rst = rewrite::tcp_flags(&r.data).is_some_and(|f| f & 0x04 != 0);
                let from_client =
                    rewrite::endpoints(&r.data).is_some_and(|(s, _)| client_ips.contains(&s.0));
                (!(rst && from_client)).then(|| r.clone())
            });
            let a = analyze(&quiet, "quiet");
            check_exact(
                &mut failures,
                name,
                "the client drops the stray answers silently",
                &fx.expected,
                &a,
            );
            let outside: Points = quiet
                .into_iter()
                .filter(|p| p.0.starts_with("client") || p.0.starts_with("router"))
                .collect();
            let a = analyze(&outside, "quiet-outside");
            check_exact(
                &mut failures,
                name,
                "the client drops the stray answers silently, only the client's side captured",
                &fx.expected,
                &a,
            );
        }

        // A failback: the same capture again ten seconds after its end,
        // with the two directors' parts swapped and other clients, so the
        // VIP moves back (keepalived preempts by default). Each move is a
        // failover of its own; neither is a conflict.
        if FAILOVERS.contains(&name) {
            let mut m = Map::default();
            let (a, b): (IpAddr, IpAddr) =
                ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
            m.ips.insert(a, b);
            m.ips.insert(b, a);
            for h in 2u8..100 {
                m.ips.insert(
                    IpAddr::from([203, 0, 113, h]),
                    IpAddr::from([203, 0, 113, h + 100]),
                );
            }
            let (d, d2) = ([2u8, 0, 0, 0, 0x0d, 0], [2u8, 0, 0, 0, 0x0f, 0]);
            m.macs.insert(d, d2);
            m.macs.insert(d2, d);
            let end = fx
                .points
                .iter()
                .filter_map(|p| p.2.last().map(|r| r.ts_ns))
                .max()
                .unwrap_or(0);
            let back = shifted(&rename_points(&fx.points, &m), end + 10_000_000_000, 0);
            // The directors' points trade places too.
            let back: Points = back
                .into_iter()
                .map(|(n, l, recs)| {
                    let n = if let Some(r) = n.strip_prefix("director2-") {
                        format!("director-{r}")
                    } else if let Some(r) = n.strip_prefix("director-") {
                        format!("director2-{r}")
                    } else {
                        n
                    };
                    (n, l, recs)
                })
                .collect();
            let a = analyze(&merge(&fx.points, &[back]), "failback");
            check_exact(
                &mut failures,
                name,
                "failed back ten seconds later",
                &fx.expected,
                &a,
            );
            let moves = a
                .findings
                .iter()
                .filter(|f| f.code == "vip-arp-failover")
                .count();
            if moves != 2 {
                failures.push(format!("{name} (failed back ten seconds later): {moves} vip-arp-failover finding(s), not one per move\n{}", describe(&a)));
            }
        }

        // Capture points removed.
        for (how, kept) in subsets(&fx.points) {
            let pts: Points = fx
                .points
                .iter()
                .filter(|p| kept.contains(&p.0))
                .cloned()
                .collect();
            let a = analyze(&pts, "subset");
            let g = got(&a);
            let wrong_rs: Vec<_> = g
                .iter()
                .filter(|(_, _, r)| !r.is_empty() && !named.contains(r))
                .collect();
            if !wrong_rs.is_empty() {
                failures.push(format!(
                    "{name} ({how}): names a real server the scenario does not: {wrong_rs:?}\n{}",
                    describe(&a)
                ));
            }
            if fx.expected.is_empty() {
                let noisy: Vec<_> = g
                    .iter()
                    .filter(|(c, _, r)| !(r.is_empty() && c == "syn-retransmit"))
                    .collect();
                if !noisy.is_empty() {
                    failures.push(format!(
                        "{name} ({how}): a healthy fixture is not clean: {noisy:?}\n{}",
                        describe(&a)
                    ));
                }
            }
            for (code, _, rs) in &fx.expected {
                if !essential(&fx, code, &kept, &all) {
                    continue;
                }
                if !g
                    .iter()
                    .any(|(c, _, r)| c == code && (r == rs || rs.is_empty()))
                {
                    failures.push(format!("{name} ({how}): {code} [{rs}] lost though its essential evidence is captured\n{}", describe(&a)));
                }
            }
        }
        ran += 1;
    }
    assert!(ran >= 30, "only {ran} fixtures varied");
    assert!(
        cut_after_event >= 4,
        "only {cut_after_event} lifecycle fixtures cut after their event"
    );
    assert!(
        converted_v6 >= 25,
        "only {converted_v6} fixtures converted to IPv6"
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Interleaves `other`'s packets into `base`'s points of the same name
/// (points only `other` has are left out: they were not captured).
fn merge(base: &Points, others: &[Points]) -> Points {
    base.iter()
        .map(|(n, l, recs)| {
            let mut all = recs.clone();
            for o in others {
                if let Some((_, _, more)) = o.iter().find(|p| &p.0 == n) {
                    all.extend(more.iter().cloned());
                }
            }
            all.sort_by_key(|r| r.ts_ns);
            (n.clone(), *l, all)
        })
        .collect()
}

/// `points` moved in time so that they start at `start` plus `offset_ns`.
fn shifted(points: &Points, start: i64, offset_ns: i64) -> Points {
    let first = points
        .iter()
        .filter_map(|p| p.2.first().map(|r| r.ts_ns))
        .min()
        .unwrap_or(0);
    points
        .iter()
        .map(|(n, l, recs)| {
            let recs = recs
                .iter()
                .map(|r| Rec {
                    ts_ns: r.ts_ns - first + start + offset_ns,
                    data: r.data.clone(),
                })
                .collect();
            (n.clone(), *l, recs)
        })
        .collect()
}

fn start_of(points: &Points) -> i64 {
    points
        .iter()
        .filter_map(|p| p.2.first().map(|r| r.ts_ns))
        .min()
        .unwrap_or(0)
}

/// Whether a capture is IPv6 (its first IP frames are).
fn is_v6(points: &Points) -> bool {
    points.iter().any(|p| {
        p.2.iter()
            .take(200)
            .any(|r| r.data.len() > 20 && r.data[12..14] == [0x86, 0xdd] && r.data[20] == 6)
    })
}

/// The healthy lab fixture with the same topology (mode, transport, IP
/// version) as a faulty one.
fn counterpart(fx: &Fixture, v6: bool) -> Option<&'static str> {
    match (fx.mode.as_str(), fx.proto.as_str(), v6) {
        ("dr", "tcp", false) => Some("dr-healthy"),
        ("nat", "tcp", false) => Some("nat-healthy"),
        ("tun", "tcp", false) => Some("tun-healthy"),
        ("dr", "udp", false) => Some("udp-dr-healthy"),
        ("dr", "tcp", true) => Some("dr-ipv6"),
        ("nat", "tcp", true) => Some("nat6-healthy"),
        _ => None,
    }
}

/// A healthy counterpart's connections as other clients' (203.0.113.10 ->
/// 203.0.113.`client`, 2001:db8:c::10 -> ::`client`), optionally on
/// another service port and VIP. Its ARP and neighbour discovery are left
/// out: who owns the VIP (and when) is the fault capture's to say.
fn as_other_traffic(points: &Points, client: u8, port: Option<u16>, vip: bool) -> Points {
    let points = each_frame(points, |_, r| {
        rewrite::endpoints(&r.data).is_some().then(|| r.clone())
    });
    let mut m = Map::default();
    m.ips.insert(
        "203.0.113.10".parse().unwrap(),
        IpAddr::from([203, 0, 113, client]),
    );
    let mut c6 = "2001:db8:c::"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    c6[15] = client;
    m.ips
        .insert("2001:db8:c::10".parse().unwrap(), IpAddr::from(c6));
    if vip {
        m.ips.insert(
            "192.0.2.100".parse().unwrap(),
            "192.0.2.101".parse().unwrap(),
        );
        m.ips.insert(
            "2001:db8::100".parse().unwrap(),
            "2001:db8::101".parse().unwrap(),
        );
    }
    if let Some(p) = port {
        for from in [80, 53, 9000] {
            m.ports.insert(from, p);
        }
    }
    rename_points(&points, &m)
}

/// Each fault beside other traffic on the same hosts: a second service on
/// the same VIP, a second VIP, and a busy service (a healthy counterpart's
/// connections many times over, from other clients). The fault's finding
/// must stand exactly as in its own capture.
#[test]
fn every_fault_holds_beside_other_traffic() {
    let all = fixtures();
    let by_name = |n: &str| all.iter().find(|f| f.name == n);
    let mut failures = Vec::new();
    let mut ran = 0;
    for fx in &all {
        let v6 = is_v6(&fx.points);
        let Some(other) = counterpart(fx, v6).and_then(by_name) else {
            continue;
        };
        if other.name == fx.name {
            continue;
        }
        let name = fx.name.as_str();
        let start = start_of(&fx.points);
        // A share of the service's traffic defines this fault: other
        // traffic on the same service changes it (and a second service or
        // VIP does not).
        let share_fault =
            |how: &str| how == "busy" && fx.expected.iter().any(|(c, _, _)| c == "udp-flow-pinned");
        let variants: Vec<(&str, Points)> = vec![
            (
                "a second service on the VIP",
                merge(
                    &fx.points,
                    &[shifted(
                        &as_other_traffic(&other.points, 30, Some(8000), false),
                        start,
                        0,
                    )],
                ),
            ),
            (
                "a second VIP",
                merge(
                    &fx.points,
                    &[shifted(
                        &as_other_traffic(&other.points, 31, None, true),
                        start,
                        0,
                    )],
                ),
            ),
            ("busy", {
                let copies: Vec<Points> = (0..64u8)
                    .map(|k| {
                        shifted(
                            &as_other_traffic(&other.points, 100 + k, None, false),
                            start,
                            i64::from(k) * 37_000_000,
                        )
                    })
                    .collect();
                merge(&fx.points, &copies)
            }),
        ];
        for (how, pts) in variants {
            if share_fault(how) {
                continue;
            }
            let a = analyze(&pts, "beside");
            check_exact(&mut failures, name, how, &fx.expected, &a);
        }
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} fixtures had a healthy counterpart");
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A healthy fixture's frames, changed where a fault would change them.
fn modified(fx: &Fixture, mut f: impl FnMut(&str, &mut Rec) -> bool) -> Points {
    each_frame(&fx.points, |n, r| {
        let mut r = r.clone();
        f(n, &mut r).then_some(r)
    })
}

/// The client endpoints of a fixture's connections to lab real server `n`,
/// and the first time each sent `flags` (the earliest copy, any point).
fn first_with_flags(
    fx: &Fixture,
    n: u8,
    from_client: bool,
    flags: u8,
) -> HashMap<(IpAddr, u16), i64> {
    let (ips, prefix) = lab_rs(n);
    let victims = rewrite::clients_of(&fx.points, &ips, &rs_macs(&fx.points, prefix));
    let mut at: HashMap<(IpAddr, u16), i64> = HashMap::new();
    for (_, _, recs) in &fx.points {
        for r in recs {
            let Some((s, d)) = rewrite::endpoints(&r.data) else {
                continue;
            };
            let client = if from_client { s } else { d };
            if victims.contains(&client) && rewrite::tcp_flags(&r.data) == Some(flags) {
                let t = at.entry(client).or_insert(r.ts_ns);
                *t = (*t).min(r.ts_ns);
            }
        }
    }
    at
}

/// The fixture's connections to real server `n` ended at their first
/// segment with `flags` sent by the client (`from_client`) or the server:
/// its copies (within half a millisecond, every point) get `new_flags`,
/// everything of those connections after it is gone.
fn ended_at(fx: &Fixture, n: u8, from_client: bool, flags: u8, new_flags: u8) -> (Points, usize) {
    let at = first_with_flags(fx, n, from_client, flags);
    let mut changed = BTreeSet::new();
    let pts = modified(fx, |_, r| {
        let Some((s, d)) = rewrite::endpoints(&r.data) else {
            return true;
        };
        let (client, sent_by_client) = if at.contains_key(&s) {
            (s, true)
        } else if at.contains_key(&d) {
            (d, false)
        } else {
            return true;
        };
        // The earliest copy (any point) is the first: what came before it
        // stays.
        let t = at[&client];
        if r.ts_ns < t {
            return true;
        }
        if sent_by_client == from_client
            && rewrite::tcp_flags(&r.data) == Some(flags)
            && r.ts_ns < t + 500_000
        {
            let o = rewrite::tcp_flags_at(&r.data).expect("tcp");
            r.data[o] = new_flags;
            changed.insert(client);
            return true;
        }
        false
    });
    (pts, changed.len())
}

/// A server's SYN-ACK frame (untunnelled IPv4) turned into the ICMP
/// unreachable (`code`) its sender would send instead, quoting the SYN it
/// answers (addresses and ports, the SYN-ACK's reversed).
fn synack_as_icmp(f: &[u8], code: u8) -> Option<Vec<u8>> {
    if f.len() < 34 || f[12..14] != [8, 0] || f[23] != 6 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let ip = &f[14..];
    let tcp = ip.get(ihl..ihl + 8)?;
    let (src, dst, ttl) = (&ip[12..16], &ip[16..20], ip[8]);
    let mut quote = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0];
    quote.extend(dst);
    quote.extend(src);
    quote.extend(&tcp[2..4]);
    quote.extend(&tcp[0..2]);
    let ack = u32::from_be_bytes(ip[ihl + 8..ihl + 12].try_into().ok()?);
    quote.extend(ack.wrapping_sub(1).to_be_bytes());
    let mut icmp = vec![3, code, 0, 0, 0, 0, 0, 0];
    icmp.extend(quote);
    let total = (20 + icmp.len()) as u16;
    let mut out = f[..14].to_vec();
    out.extend([0x45, 0]);
    out.extend(total.to_be_bytes());
    out.extend([0, 0, 0, 0, ttl, 1, 0, 0]);
    out.extend(src);
    out.extend(dst);
    out.extend(icmp);
    Some(out)
}

fn over_v6(pts: &Points) -> Points {
    each_frame(pts, |_, r| {
        rewrite::to_v6(&r.data).map(|data| Rec {
            ts_ns: r.ts_ns,
            data,
        })
    })
}

/// Faults no real IPVS makes on demand, made from the healthy lab captures
/// (DR, NAT, TUN) by changing exactly the frames the fault changes: what
/// is found follows from the change.
#[test]
fn faults_made_from_healthy_captures() {
    let all = fixtures();
    let set = |v: &[(&str, &str, &str)]| -> Got {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    let mut failures = Vec::new();

    // DR: the director's forwarded copies to rs2 carry another TOS than
    // the frames it received (a DR director must not touch the IP header).
    let dr = all
        .iter()
        .find(|f| f.name == "dr-healthy")
        .expect("dr-healthy");
    let (rs2, director) = ([0x02u8, 0, 0, 0, 0x12, 0], [0x02u8, 0, 0, 0, 0x0d, 0]);
    let pts = modified(dr, |_, r| {
        let d = &mut r.data;
        if d.len() > 34 && d[0..6] == rs2 && d[6..12] == director && d[12..14] == [8, 0] {
            d[15] ^= 0x10;
        }
        true
    });
    let a = analyze(&pts, "rewrite");
    check_exact(
        &mut failures,
        "dr-healthy",
        "the director rewrites the TOS of what it forwards to rs2",
        &set(&[("dr-forward-rewrites-ip", "error", "192.0.2.12")]),
        &a,
    );

    for (name, rip) in [
        ("dr-healthy", "192.0.2.1"),
        ("nat-healthy", "198.51.100.1"),
        ("tun-healthy", "192.0.2.1"),
    ] {
        let fx = all
            .iter()
            .find(|f| f.name == name)
            .expect("healthy fixture");
        let v6 = |ip: &str| rewrite::v6_of(ip.parse().unwrap()).unwrap().to_string();

        // rs1 refuses: its SYN-ACKs become RSTs (nothing listens).
        let rs1 = format!("{rip}1");
        let (pts, n) = ended_at(fx, 1, false, 0x12, 0x14);
        assert!(n >= 6, "{name}: only {n} connections refused");
        let a = analyze(&pts, "refused");
        check_exact(
            &mut failures,
            name,
            "rs1 refuses",
            &set(&[("handshake-reset", "error", &rs1)]),
            &a,
        );
        let a = analyze(&over_v6(&pts), "refused-v6");
        check_exact(
            &mut failures,
            name,
            "rs1 refuses, over IPv6",
            &set(&[("handshake-reset", "error", &v6(&rs1))]),
            &a,
        );

        // A firewall on rs3's path rejects its connections: each SYN-ACK
        // becomes an ICMP administratively prohibited from its sender (in
        // NAT the director relays it to the client from the VIP).
        let rs3 = format!("{rip}3");
        let at = first_with_flags(fx, 3, false, 0x12);
        let mut rejected = BTreeSet::new();
        let pts = modified(fx, |_, r| {
            let Some((s, d)) = rewrite::endpoints(&r.data) else {
                return true;
            };
            let client = if at.contains_key(&s) {
                s
            } else if at.contains_key(&d) {
                d
            } else {
                return true;
            };
            if r.ts_ns < at[&client] {
                return true;
            }
            if d == client && rewrite::tcp_flags(&r.data) == Some(0x12) {
                if let Some(icmp) = synack_as_icmp(&r.data, 13) {
                    r.data = icmp;
                    rejected.insert(client);
                    return true;
                }
            }
            false
        });
        // (TUN's SYN-ACKs leave the real server untunnelled, as DR's.)
        assert!(
            rejected.len() >= 6,
            "{name}: only {} connections rejected",
            rejected.len()
        );
        for (how, pts, label) in [
            (
                "rs3's connections rejected by ICMP",
                pts.clone(),
                rs3.clone(),
            ),
            (
                "rs3's connections rejected by ICMP, over IPv6",
                over_v6(&pts),
                v6(&rs3),
            ),
        ] {
            let a = analyze(&pts, "icmp");
            check_exact(
                &mut failures,
                name,
                how,
                &set(&[("rs-icmp-error", "error", &label)]),
                &a,
            );
        }

        // The client rejects rs2's SYN-ACKs: its ACK becomes a RST and its
        // connection ends there. No check names a cause for that (a
        // client's reset is a symptom), so the safety net names rs2 and
        // what happened.
        let rs2 = format!("{rip}2");
        let (pts, n) = ended_at(fx, 2, true, 0x10, 0x14);
        assert!(n >= 6, "{name}: only {n} connections reset");
        for (how, pts, label) in [
            ("the client resets rs2's SYN-ACKs", pts.clone(), rs2.clone()),
            (
                "the client resets rs2's SYN-ACKs, over IPv6",
                over_v6(&pts),
                v6(&rs2),
            ),
        ] {
            let a = analyze(&pts, "client-rst");
            check_exact(
                &mut failures,
                name,
                how,
                &set(&[("rs-connections-fail", "warning", &label)]),
                &a,
            );
            let explained = a
                .findings
                .iter()
                .filter(|f| f.code == "handshake-reset")
                .all(|f| f.explained_by == Some("rs-connections-fail"));
            if !explained {
                failures.push(format!(
                    "{name} ({how}): the client's resets are not explained by the safety net:\n{}",
                    describe(&a)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The point is on a NAT director's private side (its real servers'
/// segment): the director's second interface, the real servers, the
/// router's leg on that segment.
fn private_side(point: &str) -> bool {
    point.starts_with("director-eth1")
        || point.starts_with("rs")
        || point.starts_with("router-eth2")
}

/// Every NAT fixture as full NAT (kube-proxy's masquerade, issue #24): on
/// the real servers' segment the client's address becomes the director's
/// own there and every client port another one, as a MASQUERADE rule
/// rewrites them after IPVS. Every NAT check must hold: exactly the
/// expected findings, and each connection paired with its rewritten leg
/// (as many connections as the plain capture has, each masqueraded one
/// counted once).
#[test]
fn nat_fixtures_hold_as_full_nat() {
    let mut failures = Vec::new();
    let mut tried = 0;
    for fx in fixtures()
        .into_iter()
        .filter(|f| f.mode == "nat" && !f.name.starts_with("kube-"))
    {
        let v6 = is_v6(&fx.points);
        let node: IpAddr = if v6 { "2001:db8:1::1" } else { "198.51.100.1" }
            .parse()
            .unwrap();
        // The clients: TCP by their SYNs; UDP by the datagrams from the
        // client segment (203.0.113.0/24, 2001:db8:c::/64).
        let mut clients = every_client(&fx.points);
        let client_net = |ip: &IpAddr| match ip {
            IpAddr::V4(a) => a.octets()[..3] == [203, 0, 113],
            IpAddr::V6(a) => a.segments()[..4] == [0x2001, 0xdb8, 0xc, 0],
        };
        for (_, _, recs) in &fx.points {
            for r in recs {
                if rewrite::tcp_flags(&r.data).is_none() {
                    if let Some((s, _)) =
                        rewrite::endpoints(&r.data).filter(|(s, _)| client_net(&s.0))
                    {
                        clients.insert(s);
                    }
                }
            }
        }
        let mut m = Map::default();
        for (ip, port) in &clients {
            m.ips.insert(*ip, node);
            m.ports.insert(*port, port ^ 0x1000);
        }
        let pts = each_frame(&fx.points, |point, r| {
            let mut r = r.clone();
            if private_side(point) {
                m.frame(&mut r.data);
            }
            Some(r)
        });
        let plain = analyze(&fx.points, "plain");
        let a = analyze(&pts, "fullnat");
        check_exact(&mut failures, &fx.name, "full NAT", &fx.expected, &a);
        if a.flows.flows != plain.flows.flows {
            failures.push(format!(
                "{} (full NAT): {} connections, the plain capture has {}",
                fx.name, a.flows.flows, plain.flows.flows
            ));
        }
        let forwarded = pts
            .iter()
            .any(|(p, _, recs)| p.starts_with("director-eth1") && !recs.is_empty());
        if forwarded && a.flows.masqueraded == 0 {
            failures.push(format!(
                "{} (full NAT): no leg paired as masqueraded",
                fx.name
            ));
        }
        tried += 1;
    }
    assert!(tried >= 9, "only {tried} NAT fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue #24's false findings, each made from a lab capture and failing
/// before the fix:
/// - a director that drops a client's first SYN and forwards its
///   retransmission (a full conntrack table, IPVS's connection reuse): the
///   two are different packets, not one packet whose header the director
///   rewrote (`dr-forward-rewrites-ip`);
/// - a director that forwards nothing for a VIP it holds, while it forwards
///   another service: it is not a real server that the VIP's traffic
///   bypasses the director to (`vip-traffic-bypasses-director`, or any
///   finding naming the director as a real server).
#[test]
fn a_director_dropping_syns_is_neither_rewriting_nor_a_real_server() {
    let all = fixtures();
    let mut failures = Vec::new();

    // dr-healthy: every connection to rs2 had a first SYN, one second
    // before the one the director forwarded (IP ID one less, as Linux
    // numbers a socket's packets), that the director dropped: seen where
    // the client's SYN is seen, never forwarded.
    let dr = all
        .iter()
        .find(|f| f.name == "dr-healthy")
        .expect("dr-healthy");
    let rs2 = [0x02u8, 0, 0, 0, 0x12, 0];
    let director = [0x02u8, 0, 0, 0, 0x0d, 0];
    let to_rs2: BTreeSet<(IpAddr, u16)> = dr
        .points
        .iter()
        .flat_map(|(_, _, recs)| recs)
        .filter(|r| r.data.len() > 12 && r.data[0..6] == rs2 && r.data[6..12] == director)
        .filter_map(|r| rewrite::endpoints(&r.data).map(|(s, _)| s))
        .collect();
    assert!(!to_rs2.is_empty());
    let pts: Points = dr
        .points
        .iter()
        .map(|(n, l, recs)| {
            let mut out = Vec::new();
            for r in recs {
                let syn = rewrite::tcp_flags(&r.data).is_some_and(|f| f & 0x12 == 0x02);
                let forwarded = r.data[0..6] == rs2;
                let ours = rewrite::endpoints(&r.data).is_some_and(|(s, _)| to_rs2.contains(&s));
                if syn && ours && !forwarded {
                    let mut first = r.clone();
                    first.ts_ns -= 1_000_000_000;
                    let id = u16::from_be_bytes([first.data[18], first.data[19]]).wrapping_sub(1);
                    first.data[18..20].copy_from_slice(&id.to_be_bytes());
                    out.push(first);
                }
                out.push(r.clone());
            }
            out.sort_by_key(|r| r.ts_ns);
            (n.clone(), *l, out)
        })
        .collect();
    let a = analyze(&pts, "dropped-first-syn");
    let g = got(&a);
    if g.iter().any(|(c, _, _)| c != "syn-retransmit") {
        failures.push(format!(
            "dr-healthy with rs2's first SYNs dropped by the director: {}",
            describe(&a)
        ));
    }

    // kube-healthy: the node forwards the ClusterIP's connections (from
    // the client pod) but none of those to the LoadBalancer IP it holds:
    // only their SYNs and the ARP remain, where the client side sees them.
    let kube = all
        .iter()
        .find(|f| f.name == "kube-healthy")
        .expect("kube-healthy");
    let lb: IpAddr = "192.0.2.100".parse().unwrap();
    let node_port: IpAddr = "192.0.2.2".parse().unwrap();
    let lb_clients: BTreeSet<(IpAddr, u16)> = kube
        .points
        .iter()
        .flat_map(|(_, _, recs)| recs)
        .filter_map(|r| rewrite::endpoints(&r.data))
        .filter(|(_, (d, _))| *d == lb || *d == node_port)
        .map(|(s, _)| s)
        .collect();
    let pts = each_frame(&kube.points, |point, r| {
        let Some((s, d)) = rewrite::endpoints(&r.data) else {
            return Some(r.clone()); // ARP
        };
        let client_syn = lb_clients.contains(&s)
            && rewrite::tcp_flags(&r.data).is_some_and(|f| f & 0x12 == 0x02);
        let lb_flow = lb_clients.contains(&s) || lb_clients.contains(&d);
        let masq = point.starts_with("node1-eth1")
            || point.starts_with("rs")
            || point.starts_with("router-eth2");
        let lb_masq = masq
            && (s.0 == "198.51.100.1".parse::<IpAddr>().unwrap()
                || d.0 == "198.51.100.1".parse::<IpAddr>().unwrap());
        if lb_masq || ((masq || !client_syn) && lb_flow) {
            return None;
        }
        Some(r.clone())
    });
    let a = analyze(&pts, "director-forwards-nothing");
    let node = ["192.0.2.2", "02:00:00:00:0d:00"];
    let named = a.findings.iter().any(|f| {
        f.code == "vip-traffic-bypasses-director"
            || f.real_server
                .is_some_and(|r| node.contains(&r.to_string().as_str()))
    });
    if named || !a.notes.iter().any(|n| n.contains("192.0.2.100:80")) {
        failures.push(format!(
            "kube-healthy with no LoadBalancer connection forwarded: {}\nnotes: {:?}",
            describe(&a),
            a.notes
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
