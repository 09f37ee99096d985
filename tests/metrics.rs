//! `analyze --metrics-file`: the exposition says what the report says.
//! For every fixture, from one run: each real server's connections by
//! outcome and its SYN retransmissions equal the JSON report's counts, each
//! finding is a `lvsdiag_finding` series (and no other is), every point's
//! packets are counted; VRRP masters and VIP owners are as the scenarios
//! define them. The file is written by rename: nothing is left beside it.
//! With promtool (Debian's prometheus package) each exposition is linted.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

type Series = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses the text exposition: (name, labels, value) per sample line.
fn parse(text: &str) -> Series {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (head, value) = line.rsplit_once(' ').expect("name value");
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (head, ""),
        };
        let mut m = BTreeMap::new();
        // Our label values never hold `",`: addresses, codes, names.
        for kv in labels.split("\",").filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once("=\"").expect("label");
            m.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        out.push((name.to_string(), m, value.parse().expect("number")));
    }
    out
}

fn run(dir: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let tmp = std::env::temp_dir().join(format!("lvsdiag-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join(format!(
        "{}.prom",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .args(extra)
        .arg(dir)
        .arg("--metrics-file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).expect("the metrics file");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "left beside it: {left:?}");
    std::fs::remove_file(&file).unwrap();
    (serde_json::from_slice(&o.stdout).unwrap(), text)
}

/// The service labels of a report's service string (`192.0.2.100:80/tcp`,
/// `[2001:db8::1]:80/udp`, `FWM 1`, `FWM 1 IPv6`).
fn service_labels(s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(mark) = s.strip_prefix("FWM ") {
        let mark: u32 = mark.split(' ').next().unwrap().parse().unwrap();
        m.insert("proto".into(), "FWM".into());
        m.insert("local_mark".into(), format!("{mark:08X}"));
        m.insert("local_port".into(), "0".into());
        return m;
    }
    let (addr, proto) = s.rsplit_once('/').unwrap();
    let (ip, port) = addr.rsplit_once(':').unwrap();
    m.insert("proto".into(), proto.to_uppercase());
    m.insert(
        "local_address".into(),
        ip.trim_start_matches('[').trim_end_matches(']').into(),
    );
    m.insert(
        "local_port".into(),
        if port == "*" { "0".into() } else { port.into() },
    );
    m
}

fn matches(labels: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn sum(series: &Series, name: &str, want: &BTreeMap<String, String>) -> f64 {
    series
        .iter()
        .filter(|(n, l, _)| n == name && matches(l, want))
        .map(|s| s.2)
        .sum()
}

#[test]
fn every_fixtures_exposition_says_what_its_report_says() {
    let promtool = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !common::pcaps(p).is_empty())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 40);
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (report, text) = run(dir, &[]);
        let s = parse(&text);
        for r in report["real_servers"].as_array().unwrap() {
            let mut want = service_labels(r["service"].as_str().unwrap());
            let addr = r["ip"].as_str().or(r["mac"].as_str()).unwrap();
            want.insert("remote_address".into(), addr.into());
            let n = |k: &str| r[k].as_u64().unwrap() as f64;
            let got = sum(&s, "lvsdiag_connections_total", &want);
            assert_eq!(got, n("connections"), "{name}: {want:?}");
            let mut est = want.clone();
            est.insert("outcome".into(), "established".into());
            let mut reset = want.clone();
            reset.insert("outcome".into(), "reset".into());
            assert_eq!(
                sum(&s, "lvsdiag_connections_total", &reset),
                n("resets"),
                "{name}: {want:?}"
            );
            assert!(
                sum(&s, "lvsdiag_connections_total", &est) <= n("established"),
                "{name}: {want:?}"
            );
            assert_eq!(
                sum(&s, "lvsdiag_syn_retransmits_total", &want),
                n("syn_retransmits"),
                "{name}: {want:?}"
            );
        }
        // Findings: exactly the report's (code, real server) pairs.
        let mut from_report: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_string(),
                    f["real_server"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        from_report.sort();
        from_report.dedup();
        let mut from_metrics: Vec<(String, String)> = s
            .iter()
            .filter(|x| x.0 == "lvsdiag_finding")
            .map(|x| {
                assert_eq!(x.2, 1.0);
                (
                    x.1["code"].clone(),
                    x.1.get("remote_address").cloned().unwrap_or_default(),
                )
            })
            .collect();
        from_metrics.sort();
        from_metrics.dedup();
        assert_eq!(from_metrics, from_report, "{name}");
        for p in report["inputs"].as_array().unwrap() {
            let mut want = BTreeMap::new();
            want.insert(
                "point".to_string(),
                p["point"].as_str().unwrap().to_string(),
            );
            assert_eq!(
                sum(&s, "lvsdiag_capture_packets_total", &want),
                p["packets"].as_u64().unwrap() as f64,
                "{name}: {want:?}"
            );
        }
        if promtool {
            let mut c = Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "{name}: promtool: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// vrrp-split-brain: both routers of VRID 51 advertise as master; the
/// latest is the master, and the master changed many times. dr-arp-problem:
/// the director and real server 192.0.2.12 both claim the VIP.
#[test]
fn vrrp_masters_and_vip_owners_are_as_the_scenarios_define() {
    let (_, text) = run(&common::fixture("vrrp-split-brain"), &[]);
    let s = parse(&text);
    let masters: Vec<_> = s
        .iter()
        .filter(|x| x.0 == "lvsdiag_vrrp_master" && x.1["vrid"] == "51")
        .collect();
    assert_eq!(masters.len(), 2, "{masters:?}");
    assert_eq!(masters.iter().filter(|m| m.2 == 1.0).count(), 1);
    let changes = s
        .iter()
        .find(|x| x.0 == "lvsdiag_vrrp_master_changes_total" && x.1["vrid"] == "51")
        .expect("changes");
    assert!(changes.2 >= 3.0, "{changes:?}");

    let (_, text) = run(&common::fixture("dr-arp-problem"), &[]);
    let s = parse(&text);
    let owners: Vec<_> = s
        .iter()
        .filter(|x| x.0 == "lvsdiag_vip_owner" && x.1["vip"] == "192.0.2.100")
        .collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert_eq!(owners.iter().filter(|m| m.2 == 1.0).count(), 1);
}
