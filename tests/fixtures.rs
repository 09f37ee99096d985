//! Every lab fixture yields exactly the findings its expected.json lists
//! (at warning and above: none missing, none extra), with the model inferred
//! from the traffic, given with --vip, and read from the director's
//! `ipvsadm -S -n`; and with only some capture points, never a false finding.

use lvsdiag::analyze::{build_model, run_files, run_files_with};
use lvsdiag::engine::{Analysis, Options};
use lvsdiag::finding::Severity;
use lvsdiag::model::Model;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;

use common::{describe, got, Got};

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
            .expect("fixtures/ exists")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("expected.json").is_file())
            .collect();
    v.sort();
    v
}

fn expected(dir: &Path) -> (Value, Got) {
    expected_list(dir, "findings")
}

fn expected_list(dir: &Path, key: &str) -> (Value, Got) {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let set = common::expected_set(&v, key);
    (v, set)
}

fn analyze(inputs: &[PathBuf], model: Model) -> Analysis {
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    run_files(&inputs, model, Options::default()).expect("fixture reads")
}

#[test]
fn fixtures_exist() {
    let n = fixtures().len();
    assert!(n >= 10, "expected at least 10 lab fixtures, found {n}");
}

#[test]
fn every_fixture_yields_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    for dir in fixtures() {
        let (exp, want) = expected(&dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let vip = exp["vip"].as_str().unwrap();
        let port = exp["port"].as_u64().unwrap();
        let proto = exp["proto"].as_str().unwrap_or("tcp");
        let vip_arg = if vip.contains(':') {
            format!("[{vip}]:{port}/{proto}")
        } else {
            format!("{vip}:{port}/{proto}")
        };
        let ipvs = dir.join("ipvsadm-S.txt");
        let mut variants = vec![
            ("inferred", Model::default()),
            ("--vip", build_model(&[vip_arg], &[]).unwrap().0),
        ];
        if ipvs.is_file() {
            variants.push((
                "--ipvs",
                build_model(&[], &[ipvs.display().to_string()]).unwrap().0,
            ));
        }
        for (how, model) in variants {
            let a = analyze(std::slice::from_ref(&dir), model);
            let g = got(&a);
            if g != want {
                failures.push(format!(
                    "{name} ({how}):\n missing: {:?}\n extra: {:?}\n all findings:\n{}",
                    want.difference(&g).collect::<Vec<_>>(),
                    g.difference(&want).collect::<Vec<_>>(),
                    describe(&a)
                ));
            }
            // The service is found with the right mode: by its address, or
            // (a firewall-mark scenario, given its IPVS) as the FWM service
            // covering that address.
            let fwmark = exp["fwmark"].as_u64().filter(|_| how == "--ipvs");
            let svc = a.services.iter().find(|s| match fwmark {
                Some(m) => {
                    s.service.key
                        == lvsdiag::model::ServiceKey::Fwmark {
                            mark: m as u32,
                            v6: false,
                        }
                        && s.service
                            .covers
                            .iter()
                            .any(|c| c.vip.to_string() == vip && c.port == Some(port as u16))
                }
                None => {
                    s.service.key.vip().is_some_and(|v| v.to_string() == vip)
                        && s.service.key.port() == Some(port as u16)
                }
            });
            match svc {
                None => failures.push(format!("{name} ({how}): service {vip}:{port} not reported")),
                Some(s) => {
                    let mode = s.service.mode.map(|m| m.as_str().to_string());
                    if mode.as_deref() != exp["mode"].as_str() {
                        failures.push(format!(
                            "{name} ({how}): mode {mode:?}, expected {}",
                            exp["mode"]
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// With only some capture points, the report never claims what it cannot see
/// (no finding outside the expected ones) and says what it cannot conclude.
#[test]
fn partial_capture_points_never_give_false_findings() {
    let mut failures = Vec::new();
    for dir in fixtures() {
        let (_, want) = expected(&dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        pcaps.sort();
        // The kube scenarios' directors are nodes, and a client pod is a client.
        let only = |prefixes: &[&str]| -> Vec<PathBuf> {
            pcaps
                .iter()
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    prefixes.iter().any(|x| n.starts_with(x))
                })
                .cloned()
                .collect()
        };
        for (subset, files) in [
            ("director only", only(&["director-", "node1-", "node2-"])),
            ("client only", only(&["client-", "cpod-"])),
            ("router only", only(&["router-"])),
        ] {
            if files.is_empty() {
                continue;
            }
            let a = analyze(&files, Model::default());
            let g = got(&a);
            let codes: BTreeSet<&str> = want.iter().map(|(c, _, _)| c.as_str()).collect();
            let extra: Vec<_> = g
                .difference(&want)
                .filter(|(code, _, rs)| {
                    // Allowed: the scenario's own finding, or a symptom, when these
                    // points cannot show which real server it concerns.
                    let unattributed = rs.is_empty()
                        && (codes.contains(code.as_str()) || code == "syn-retransmit");
                    // From the director alone a NAT reply that bypasses it looks
                    // like no reply at all (the report says both are possible).
                    let nat_director_view = subset == "director only"
                        && code == "nat-rs-no-reply"
                        && want
                            .iter()
                            .any(|(c, _, r)| c == "nat-reply-bypasses-director" && r == rs);
                    // Without the director's point the tunnel is not visible:
                    // a TUN black hole is then reported as the general one.
                    let tunnel_unseen = subset != "director only"
                        && code == "pmtu-blackhole"
                        && codes.contains("tun-pmtu-blackhole");
                    !unattributed && !nat_director_view && !tunnel_unseen
                })
                .collect();
            if !extra.is_empty() {
                failures.push(format!(
                    "{name} ({subset}): findings the scenario does not have: {extra:?}\n{}",
                    describe(&a)
                ));
            }
            if subset == "client only" && a.notes.iter().all(|n| !n.contains("director forwarding"))
            {
                failures.push(format!("{name} (client only): the report does not say that the director's forwarding is not visible: {:?}", a.notes));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Codes that only configuration snapshots can give; of those, the ones that
/// also need traffic.
const CONFIG_CODES: &[&str] = &[
    "rs-vip-not-on-loopback",
    "rs-arp-ignore",
    "rs-arp-announce",
    "rp-filter-drops-asymmetric",
    "nat-rs-gateway-not-director",
    "dr-rs-gateway-director",
    "ipvs-dest-unseen",
    "traffic-to-unknown-rs",
    "weight-zero-receiving",
    "rs-no-listener",
    "rs-firewall-drops",
    "tun-rs-no-tunnel",
    "nat-masquerade-without-vs-conntrack",
];
/// Traffic findings that a snapshot alone also gives, at this severity: a
/// conntrack table at its limit (issue #24: 90 % of the limit or drops).
const SNAPSHOT_ALONE: &[(&str, &str)] = &[("director-conntrack-full", "warning")];
const JOINED_CODES: &[&str] = &["traffic-to-unknown-rs", "weight-zero-receiving"];

fn snapshots(dir: &Path) -> Option<Vec<lvsdiag::system::HostSnapshot>> {
    let d = dir.join("snapshot");
    d.is_dir()
        .then(|| lvsdiag::system::load(&[d.display().to_string()]).expect("snapshots load"))
}

/// With every host's configuration snapshot, each fixture yields exactly
/// `findings_with_snapshots`: the traffic findings plus the configuration
/// side of the same fault; and a traffic root cause that the configuration
/// proves says so (`confirmed_by`, config evidence).
#[test]
fn every_fixture_with_snapshots_yields_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    let mut with = 0;
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let Some(snaps) = snapshots(&dir) else {
            failures.push(format!("{name}: no snapshot/ directory"));
            continue;
        };
        with += 1;
        let (_, want) = expected_list(&dir, "findings_with_snapshots");
        let mut model = lvsdiag::system::to_model(&snaps);
        // The configuration side includes keepalived's, as the command line
        // reads it from the directory.
        let ka = lvsdiag::analyze::keepalived_in(&[dir.display().to_string()]);
        lvsdiag::analyze::add_keepalived(&mut model, &ka, None).expect("keepalived.conf reads");
        let inputs = vec![dir.display().to_string()];
        let a = run_files_with(&inputs, model, Options::default(), snaps.clone())
            .expect("fixture reads");
        let g = got(&a);
        if g != want {
            failures.push(format!(
                "{name} (with snapshots):\n missing: {:?}\n extra: {:?}\n all findings:\n{}",
                want.difference(&g).collect::<Vec<_>>(),
                g.difference(&want).collect::<Vec<_>>(),
                describe(&a)
            ));
        }
        for f in &a.findings {
            if CONFIG_CODES.contains(&f.code) && f.severity >= Severity::Warning {
                let host_named = f.config.iter().any(|c| c.contains(" snapshot: "));
                if !host_named {
                    failures.push(format!(
                        "{name}: {} has no config evidence naming a host: {:?}",
                        f.code, f.config
                    ));
                }
            }
            // A traffic finding on a real server with a proving config finding is confirmed.
            let proven = a.findings.iter().any(|c| {
                c.real_server == f.real_server
                    && matches!(
                        (f.code, c.code),
                        (
                            "dr-rs-no-reply",
                            "rs-vip-not-on-loopback" | "rp-filter-drops-asymmetric"
                        ) | ("tun-rs-no-reply", "rp-filter-drops-asymmetric")
                            | ("nat-reply-bypasses-director", "nat-rs-gateway-not-director")
                            | ("vip-arp-multiple-owners", "rs-vip-not-on-loopback")
                            | ("handshake-reset", "rs-no-listener")
                            | (
                                "dr-rs-no-reply" | "nat-rs-no-reply" | "tun-rs-no-reply",
                                "rs-firewall-drops"
                            )
                            | ("tun-rs-no-reply" | "rs-icmp-error", "tun-rs-no-tunnel")
                    )
            });
            if proven && (f.confirmed_by.is_none() || f.config.is_empty()) {
                failures.push(format!(
                    "{name}: {} [{:?}] is proven by the configuration but not confirmed",
                    f.code, f.real_server
                ));
            }
        }
        // The live check (configuration only) finds the configuration side.
        let c = lvsdiag::system::command::check(snaps);
        let gc = got(&c);
        let mut want_cfg: Got = want
            .iter()
            .filter(|(code, _, _)| {
                CONFIG_CODES.contains(&code.as_str()) && !JOINED_CODES.contains(&code.as_str())
            })
            .cloned()
            .collect();
        // A traffic finding whose state the snapshot alone shows, as the
        // check defines it at a lower severity.
        for (code, sev) in SNAPSHOT_ALONE {
            if want.iter().any(|(c, _, _)| c == code) {
                want_cfg.insert((code.to_string(), sev.to_string(), String::new()));
            }
        }
        if gc != want_cfg {
            failures.push(format!(
                "{name} (lvsdiag check):\n missing: {:?}\n extra: {:?}\n all findings:\n{}",
                want_cfg.difference(&gc).collect::<Vec<_>>(),
                gc.difference(&want_cfg).collect::<Vec<_>>(),
                describe(&c)
            ));
        }
    }
    assert!(with >= 10, "only {with} fixtures have snapshots");
    // Most were taken with listening sockets and the nftables ruleset, so
    // rs-no-listener and rs-firewall-drops meet healthy hosts too.
    let full = fixtures()
        .iter()
        .filter_map(|d| snapshots(d))
        .filter(|s| {
            s.iter()
                .all(|h| h.listeners.is_some() && h.nftables.is_some())
        })
        .count();
    assert!(
        full >= 11,
        "only {full} fixtures have listeners and nftables in every snapshot"
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A firewall-mark service is matched on the wire by what it covers: the
/// director's nftables mark rule (snapshots), `--fwmark`, or the traffic
/// forwarded to its real servers (`--ipvs` alone).
#[test]
fn fwmark_service_covers_what_the_director_marks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dr-fwmark");
    let fwm = lvsdiag::model::ServiceKey::Fwmark { mark: 1, v6: false };
    let covers = |a: &Analysis| -> Vec<(String, String)> {
        let s = a
            .services
            .iter()
            .find(|s| s.service.key == fwm)
            .expect("FWM 1 reported");
        let mut v: Vec<_> = s
            .service
            .covers
            .iter()
            .map(|c| {
                let from = c.from.split(':').next().unwrap_or("").to_string();
                (c.label(), from)
            })
            .collect();
        v.sort();
        v
    };
    let pcaps = [dir.clone()];
    // Snapshots: from the director's nftables rule.
    let snaps = lvsdiag::system::load(&[dir.join("snapshot").display().to_string()]).unwrap();
    let model = lvsdiag::system::to_model(&snaps);
    let inputs = vec![dir.display().to_string()];
    let a = run_files_with(&inputs, model, Options::default(), snaps).unwrap();
    assert_eq!(
        covers(&a),
        [
            (
                "192.0.2.100:443/tcp".to_string(),
                "director snapshot".to_string()
            ),
            (
                "192.0.2.100:80/tcp".to_string(),
                "director snapshot".to_string()
            ),
        ]
    );
    assert_eq!(a.services.len(), 1, "no other service inferred");
    assert_eq!(got(&a), Got::new());
    let s = &a.services[0];
    assert_eq!((s.stats.connections, s.stats.established), (24, 24));
    // --ipvs alone: learnt from the traffic; --fwmark names one port.
    let (mut model, _) =
        build_model(&[], &[dir.join("ipvsadm-S.txt").display().to_string()]).unwrap();
    lvsdiag::analyze::add_fwmarks(&mut model, &["1=192.0.2.100:80".to_string()]).unwrap();
    let a = analyze(&pcaps, model);
    assert_eq!(
        covers(&a),
        [
            ("192.0.2.100:443/tcp".to_string(), "inferred".to_string()),
            ("192.0.2.100:80/tcp".to_string(), "--fwmark".to_string()),
        ]
    );
    assert_eq!(got(&a), Got::new());
    // A bad --fwmark is one line.
    let mut m = Model::default();
    let e = lvsdiag::analyze::add_fwmarks(&mut m, &["x=192.0.2.100".to_string()]).unwrap_err();
    assert!(e.to_string().contains("--fwmark x=192.0.2.100"), "{e}");
}

/// From the client's side alone the tunnel is not on the wire; with the
/// director's IPVS configuration the service is still known to be TUN, so
/// the black hole is the tunnel's (with its arithmetic), not the general one.
#[test]
fn a_tun_black_hole_seen_from_the_client_side_is_the_tunnels_with_the_configuration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tun-pmtu-blackhole");
    let client: Vec<PathBuf> = ["client-eth0.pcap", "router-eth0.pcap"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let codes = |a: &Analysis| -> Vec<&str> {
        a.findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.code)
            .collect()
    };
    let inferred = analyze(&client, Model::default());
    assert_eq!(
        codes(&inferred),
        ["pmtu-blackhole"],
        "{}",
        describe(&inferred)
    );
    let ipvs = build_model(&[], &[dir.join("ipvsadm-S.txt").display().to_string()])
        .unwrap()
        .0;
    let configured = analyze(&client, ipvs);
    assert_eq!(
        codes(&configured),
        ["tun-pmtu-blackhole"],
        "{}",
        describe(&configured)
    );
}

/// A running director keeps its neighbour entries confirmed, so a capture
/// may hold no ARP from a real server at all. With the snapshots, each
/// fixture whose fault is not about ARP yields exactly
/// `findings_with_snapshots` from captures without any ARP or neighbour
/// discovery: a real server known only by its MAC on the wire is named by
/// the snapshots (its own link, or the director's neighbour entry).
#[test]
fn without_arp_in_the_captures_the_snapshots_name_the_real_servers() {
    use common::rewrite;
    let arp_faults = [
        "vip-arp-multiple-owners",
        "vip-traffic-bypasses-director",
        "failover-drops-established",
        "vrrp-vip-owner-mismatch",
    ];
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let Some(snaps) = snapshots(&dir) else {
            continue;
        };
        let (_, want) = expected_list(&dir, "findings_with_snapshots");
        // Faults shown by ARP, and moves of the VIP (they are ARP's to see).
        if want
            .iter()
            .any(|(c, _, _)| arp_faults.contains(&c.as_str()))
            || name.contains("failover")
            || name.starts_with("vrrp")
        {
            continue;
        }
        let tmp = std::env::temp_dir().join(format!("lvsdiag-noarp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let mut inputs = Vec::new();
        for p in common::pcaps(&dir) {
            let (link, mut recs) = rewrite::read_pcap(&p);
            recs.retain(|r| !rewrite::is_neighbour_discovery(&r.data));
            let out = tmp.join(p.file_name().unwrap());
            rewrite::write_pcap(&out, link, &recs);
            inputs.push(out.display().to_string());
        }
        let mut model = lvsdiag::system::to_model(&snaps);
        let ka = lvsdiag::analyze::keepalived_in(&[dir.display().to_string()]);
        lvsdiag::analyze::add_keepalived(&mut model, &ka, None).expect("keepalived.conf reads");
        let a = run_files_with(&inputs, model, Options::default(), snaps).expect("reads");
        let _ = std::fs::remove_dir_all(&tmp);
        let g = got(&a);
        if g != want {
            failures.push(format!(
                "{name} (no ARP, with snapshots):\n missing: {:?}\n extra: {:?}\n all findings:\n{}",
                want.difference(&g).collect::<Vec<_>>(),
                g.difference(&want).collect::<Vec<_>>(),
                describe(&a)
            ));
        }
        ran += 1;
    }
    assert!(ran >= 25, "only {ran} fixtures without ARP");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Captured only at the gateway's LVS-side interface, nothing shows the
/// director forwarding; with the snapshots the MAC the gateway sends client
/// frames to is known as rs2's, so the bypass is still named.
#[test]
fn a_bypass_seen_only_at_the_gateway_is_named_with_the_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dr-arp-problem");
    let gw = vec![dir.join("router-eth1.pcap").display().to_string()];
    let code = "vip-traffic-bypasses-director";
    let has = |a: &Analysis| {
        a.findings
            .iter()
            .any(|f| f.code == code && f.rs_label().as_deref() == Some("192.0.2.12"))
    };
    let plain = run_files(&gw, Model::default(), Options::default()).unwrap();
    assert!(
        !has(&plain),
        "without the configuration the frames may be the director's own:\n{}",
        describe(&plain)
    );
    let snaps = snapshots(&dir).unwrap();
    let model = lvsdiag::system::to_model(&snaps);
    let a = run_files_with(&gw, model, Options::default(), snaps).unwrap();
    assert!(has(&a), "{}", describe(&a));
    // Nothing named but the real server of the scenario.
    for f in a
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        assert!(
            f.rs_label().is_none_or(|r| r == "192.0.2.12"),
            "{}",
            describe(&a)
        );
    }
}
