//! The configuration checks on the lab's snapshots with one setting changed:
//! each change gives exactly its finding, and the kernel's rules (effective
//! value = max(all, iface)) are applied.

use lvsdiag::analyze::run_files_with;
use lvsdiag::engine::{Analysis, Options};
use lvsdiag::finding::Severity;
use lvsdiag::system::{self, command, HostSnapshot};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn snaps(name: &str) -> Vec<HostSnapshot> {
    system::load(&[fixture(name).join("snapshot").display().to_string()]).unwrap()
}

fn host<'a>(s: &'a mut [HostSnapshot], name: &str) -> &'a mut HostSnapshot {
    s.iter_mut().find(|h| h.host == name).unwrap()
}

fn set(h: &mut HostSnapshot, k: &str, v: &str) {
    assert!(h.sysctls.contains_key(k), "{k} read by the snapshot");
    h.sysctls.insert(k.into(), v.into());
}

fn found(a: &Analysis) -> BTreeSet<(String, String, String)> {
    a.findings
        .iter()
        .filter(|f| f.severity >= Severity::Info)
        .filter(|f| !["vip-arp-failover", "syn-retransmit"].contains(&f.code))
        .map(|f| {
            (
                f.code.to_string(),
                f.severity.to_string(),
                f.rs_label().unwrap_or_default(),
            )
        })
        .collect()
}

fn set_of(v: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

fn with_traffic(name: &str, s: Vec<HostSnapshot>) -> Analysis {
    let model = system::to_model(&s);
    run_files_with(
        &[fixture(name).display().to_string()],
        model,
        Options::default(),
        s,
    )
    .unwrap()
}

#[test]
fn arp_sysctls_use_the_effective_value() {
    let mut s = snaps("dr-healthy");
    assert!(found(&command::check(s.clone())).is_empty());
    // rs1: both 0 -> answers ARP and announces the VIP.
    for k in ["all", "eth0"] {
        set(
            host(&mut s, "rs1"),
            &format!("net.ipv4.conf.{k}.arp_ignore"),
            "0",
        );
        set(
            host(&mut s, "rs1"),
            &format!("net.ipv4.conf.{k}.arp_announce"),
            "0",
        );
    }
    // rs2: eth0 at 0 but all at 1: max(all, eth0) = 1, fine.
    set(host(&mut s, "rs2"), "net.ipv4.conf.eth0.arp_ignore", "0");
    set(host(&mut s, "rs2"), "net.ipv4.conf.eth0.arp_announce", "0");
    // rs3: all at 0 but eth0 at 1: still fine.
    set(host(&mut s, "rs3"), "net.ipv4.conf.all.arp_ignore", "0");
    let a = command::check(s);
    assert_eq!(
        found(&a),
        set_of(&[
            ("rs-arp-ignore", "error", "192.0.2.11"),
            ("rs-arp-announce", "warning", "192.0.2.11"),
        ])
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "rs-arp-ignore")
        .unwrap();
    assert_eq!(
        f.config,
        ["rs1 snapshot: net.ipv4.conf.all.arp_ignore = 0, net.ipv4.conf.eth0.arp_ignore = 0 (effective 0)"]
    );
    assert!(f.fix.contains("sysctl -w net.ipv4.conf.all.arp_ignore=1"));
}

#[test]
fn rp_filter_only_when_strict_and_the_route_back_is_elsewhere() {
    // dr-rp-filter's rs3 in loose mode: no finding.
    let mut s = snaps("dr-rp-filter");
    for k in ["all", "eth0"] {
        set(
            host(&mut s, "rs3"),
            &format!("net.ipv4.conf.{k}.rp_filter"),
            "2",
        );
    }
    assert!(found(&command::check(s)).is_empty());
    // dr-healthy's rs1 strict, but its route back uses eth0: no finding.
    let mut s = snaps("dr-healthy");
    set(host(&mut s, "rs1"), "net.ipv4.conf.all.rp_filter", "1");
    assert!(found(&command::check(s)).is_empty());
}

#[test]
fn ipvs_table_against_the_traffic() {
    // The director's IPVS no longer lists 192.0.2.13, and has 192.0.2.12 at weight 0.
    let mut s = snaps("dr-healthy");
    let d = host(&mut s, "director");
    let svc = &mut d.ipvs.as_mut().unwrap().services[0];
    svc.destinations
        .retain(|x| x.address.to_string() != "192.0.2.13");
    for x in &mut svc.destinations {
        if x.address.to_string() == "192.0.2.12" {
            x.weight = 0;
        }
    }
    let a = with_traffic("dr-healthy", s);
    assert_eq!(
        found(&a),
        set_of(&[
            ("traffic-to-unknown-rs", "warning", "192.0.2.13"),
            ("weight-zero-receiving", "warning", "192.0.2.12"),
        ])
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "traffic-to-unknown-rs")
        .unwrap();
    assert!(!f.evidence.is_empty(), "names the forwarded packets");
    assert_eq!(
        f.config,
        ["director snapshot: 192.0.2.100:80/tcp real servers: 192.0.2.11, 192.0.2.12"]
    );
}

#[test]
fn unseen_destination_live_and_in_the_captures() {
    // Live: IPVS's own counters say 192.0.2.11 was never scheduled.
    let mut s = snaps("dr-healthy");
    let svc = &mut host(&mut s, "director").ipvs.as_mut().unwrap().services[0];
    let total = svc.stats.unwrap().conns;
    assert!(total >= 6, "{total}");
    for x in &mut svc.destinations {
        if x.address.to_string() == "192.0.2.11" {
            x.stats.as_mut().unwrap().conns = 0;
        }
    }
    assert_eq!(
        found(&command::check(s)),
        set_of(&[("ipvs-dest-unseen", "warning", "192.0.2.11")])
    );
    // Captures: the director's IPVS has a fourth real server nobody forwarded to.
    let mut s = snaps("dr-healthy");
    let svc = &mut host(&mut s, "director").ipvs.as_mut().unwrap().services[0];
    let mut extra = svc.destinations[0].clone();
    extra.address = "192.0.2.14".parse().unwrap();
    svc.destinations.push(extra);
    assert_eq!(
        found(&with_traffic("dr-healthy", s)),
        set_of(&[("ipvs-dest-unseen", "warning", "192.0.2.14")])
    );
}

#[test]
fn a_proof_must_fit_the_traffic_finding() {
    // dr-rp-filter's rs3 also gets arp_announce 0: dr-rs-no-reply is
    // confirmed by rp-filter-drops-asymmetric, never by rs-arp-announce.
    let mut s = snaps("dr-rp-filter");
    for k in ["all", "eth0"] {
        set(
            host(&mut s, "rs3"),
            &format!("net.ipv4.conf.{k}.arp_announce"),
            "0",
        );
    }
    let a = with_traffic("dr-rp-filter", s.clone());
    assert!(a.findings.iter().any(|f| f.code == "rs-arp-announce"));
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "dr-rs-no-reply")
        .unwrap();
    assert_eq!(f.confirmed_by, Some("rp-filter-drops-asymmetric"));
    // rs3 in loose mode: the arp_announce finding alone confirms nothing.
    for k in ["all", "eth0"] {
        set(
            host(&mut s, "rs3"),
            &format!("net.ipv4.conf.{k}.rp_filter"),
            "2",
        );
    }
    let a = with_traffic("dr-rp-filter", s.clone());
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "dr-rs-no-reply")
        .unwrap();
    assert_eq!(f.confirmed_by, None);
    // Without rs3's snapshot nothing is confirmed and the cause stays a list.
    s.retain(|h| h.host != "rs3");
    let a = with_traffic("dr-rp-filter", s);
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "dr-rs-no-reply")
        .unwrap();
    assert_eq!(f.confirmed_by, None);
    assert!(f.config.is_empty());
    assert!(f.cause.contains("most often the VIP is not configured"));
}

#[test]
fn listeners_where_the_forwarded_connections_arrive() {
    let base = snaps("dr-rs-refuses");
    assert_eq!(
        found(&command::check(base.clone())),
        set_of(&[("rs-no-listener", "error", "192.0.2.11")])
    );
    // rs2 bound to its RIP only: DR connections arrive for the VIP, so it
    // refuses them too. rs1's sockets not read: no finding, not a guess.
    let mut s = base.clone();
    let l = host(&mut s, "rs2").listeners.as_mut().unwrap();
    l[0].address = "192.0.2.12".parse().unwrap();
    host(&mut s, "rs1").listeners = None;
    let a = command::check(s);
    assert_eq!(
        found(&a),
        set_of(&[("rs-no-listener", "error", "192.0.2.12")])
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "rs-no-listener")
        .unwrap();
    assert_eq!(
        f.config,
        ["rs2 snapshot: port 80 is bound only to 192.0.2.12:80, not to 192.0.2.100"]
    );
    assert!(
        f.fix
            .contains("ipvsadm -e -t 192.0.2.100:80 -r 192.0.2.12:80 -w 0"),
        "{}",
        f.fix
    );
    // With a listener on rs1, the traffic's reset is no longer confirmed.
    let mut s = base;
    host(&mut s, "rs1").listeners = host(&mut s, "rs3").listeners.clone();
    let a = with_traffic("dr-rs-refuses", s);
    let r = a
        .findings
        .iter()
        .find(|f| f.code == "handshake-reset")
        .unwrap();
    assert_eq!(r.confirmed_by, None);
    assert!(!a.findings.iter().any(|f| f.code == "rs-no-listener"));
}

#[test]
fn nftables_rules_for_the_forwarded_packets() {
    let base = snaps("nat-rs-firewall");
    assert_eq!(
        found(&command::check(base.clone())),
        set_of(&[("rs-firewall-drops", "error", "198.51.100.13")])
    );
    let rule = |s: &mut Vec<HostSnapshot>| -> serde_json::Value {
        host(s, "rs3").nftables.as_ref().unwrap()["nftables"][3]["rule"]["expr"][0]["match"]
            ["right"]
            .clone()
    };
    let mut s = base.clone();
    assert_eq!(
        rule(&mut s),
        serde_json::json!(80),
        "the lab's rule: tcp dport 80 drop"
    );
    // The same rule for another port: nothing.
    host(&mut s, "rs3").nftables.as_mut().unwrap()["nftables"][3]["rule"]["expr"][0]["match"]
        ["right"] = serde_json::json!(22);
    assert!(found(&command::check(s.clone())).is_empty());
    // rs3's ruleset on rs1 (whose snapshot had an empty ruleset) as a reject.
    let mut s = base.clone();
    let mut r = host(&mut s, "rs3").nftables.clone().unwrap();
    r["nftables"][3]["rule"]["expr"][1] = serde_json::json!({"reject": null});
    host(&mut s, "rs1").nftables = Some(r);
    let a = command::check(s);
    assert_eq!(
        found(&a),
        set_of(&[
            ("rs-firewall-drops", "error", "198.51.100.11"),
            ("rs-firewall-drops", "error", "198.51.100.13"),
        ])
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.rs_label().as_deref() == Some("198.51.100.11"))
        .unwrap();
    assert!(f.summary.contains("rejects"), "{}", f.summary);
    assert_eq!(
        f.config,
        ["rs1 snapshot: nft inet filter input (hook input): tcp dport 80 reject  # handle 2"]
    );
    // An earlier accept for established traffic and the loopback does not
    // let a new SYN on eth0 through; one that matches the client's address
    // cannot be decided, so nothing is said.
    let mut s = base;
    let items = host(&mut s, "rs3").nftables.as_mut().unwrap()["nftables"]
        .as_array_mut()
        .unwrap();
    let mut early = items[3].clone();
    early["rule"]["handle"] = serde_json::json!(7);
    early["rule"]["expr"] = serde_json::json!([
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": {"set": ["established", "related"]}}},
        {"accept": null}
    ]);
    let mut lo = early.clone();
    lo["rule"]["expr"] = serde_json::json!([
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}
    ]);
    items.insert(3, early);
    items.insert(4, lo);
    let a = with_traffic("nat-rs-firewall", s.clone());
    let nr = a
        .findings
        .iter()
        .find(|f| f.code == "nat-rs-no-reply")
        .unwrap();
    assert_eq!(nr.confirmed_by, Some("rs-firewall-drops"));
    let items = host(&mut s, "rs3").nftables.as_mut().unwrap()["nftables"]
        .as_array_mut()
        .unwrap();
    items[3]["rule"]["expr"] = serde_json::json!([
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "203.0.113.10"}},
        {"accept": null}
    ]);
    assert!(found(&command::check(s)).is_empty());
}

/// A real server holds the VIP through a prefix on lo or a local route
/// (AnyIP), not only as an exact address: no false `rs-vip-not-on-loopback`,
/// and the ARP sysctls are still judged.
#[test]
fn a_vip_held_by_a_prefix_or_a_local_route_on_lo() {
    let vip: std::net::IpAddr = "192.0.2.100".parse().unwrap();
    let base = snaps("dr-healthy");
    let without = |s: &mut Vec<HostSnapshot>| {
        let h = host(s, "rs1");
        h.addresses.retain(|a| a.address != vip);
        h.routes.retain(|r| !(r.table == "local" && r.dst == vip));
    };
    // No VIP at all: the finding.
    let mut s = base.clone();
    without(&mut s);
    assert_eq!(
        found(&command::check(s)),
        set_of(&[("rs-vip-not-on-loopback", "error", "192.0.2.11")])
    );
    // A /28 on lo that contains it.
    let mut s = base.clone();
    without(&mut s);
    let h = host(&mut s, "rs1");
    let lo = h
        .addresses
        .iter()
        .find(|a| a.ifname == "lo")
        .unwrap()
        .clone();
    h.addresses.push(system::Address {
        address: "192.0.2.96".parse().unwrap(),
        prefix_len: 28,
        ..lo
    });
    assert!(found(&command::check(s.clone())).is_empty());
    // ... and arp_ignore is still judged for it.
    set(host(&mut s, "rs1"), "net.ipv4.conf.all.arp_ignore", "0");
    set(host(&mut s, "rs1"), "net.ipv4.conf.eth0.arp_ignore", "0");
    assert_eq!(
        found(&command::check(s)),
        set_of(&[("rs-arp-ignore", "error", "192.0.2.11")])
    );
    // AnyIP: a local route for a block of VIPs through lo.
    let mut s = base.clone();
    without(&mut s);
    let h = host(&mut s, "rs1");
    let local = h
        .routes
        .iter()
        .find(|r| r.table == "local" && r.dev.as_deref() == Some("lo"))
        .unwrap()
        .clone();
    h.routes.push(system::Route {
        dst: "192.0.2.96".parse().unwrap(),
        prefix_len: 28,
        kind: "local".into(),
        ..local
    });
    assert!(found(&command::check(s)).is_empty());
}

/// A TUN real server on the director's segment answers ARP for the VIP it
/// holds on tunl0 just as a DR one does.
#[test]
fn arp_sysctls_of_a_tun_real_server_on_the_directors_segment() {
    let mut s = snaps("tun-healthy");
    assert!(found(&command::check(s.clone())).is_empty());
    set(host(&mut s, "rs2"), "net.ipv4.conf.all.arp_ignore", "0");
    set(host(&mut s, "rs2"), "net.ipv4.conf.eth0.arp_ignore", "0");
    assert_eq!(
        found(&command::check(s)),
        set_of(&[("rs-arp-ignore", "error", "192.0.2.12")])
    );
}

/// The VIP on a dummy device (NOARP, as kube-ipvs0) is held as on lo: no
/// rs-vip-not-on-loopback; on eth0 it is the finding.
#[test]
fn a_vip_on_a_dummy_device_is_held_quietly() {
    let vip: std::net::IpAddr = "192.0.2.100".parse().unwrap();
    let moved = |kind: &str, name: &str| {
        let mut s = snaps("dr-healthy");
        let h = host(&mut s, "rs1");
        let eth0 = h.links.iter().find(|l| l.name == "eth0").unwrap().clone();
        if name != "eth0" {
            h.links.push(system::Link {
                index: 99,
                name: name.into(),
                kind: Some(kind.into()),
                ..eth0
            });
        }
        for a in h.addresses.iter_mut().filter(|a| a.address == vip) {
            a.ifname = name.into();
            a.ifindex = if name == "eth0" { a.ifindex } else { 99 };
        }
        found(&command::check(s))
    };
    assert!(moved("dummy", "vip0").is_empty());
    assert_eq!(
        moved("veth", "eth0"),
        set_of(&[("rs-vip-not-on-loopback", "error", "192.0.2.11")])
    );
}
