//! Robustness over the shared corpus of real public captures
//! (`../shared/corpus/public/`, described by its MANIFEST.tsv): every file is
//! analyzed or rejected with one clear line and exit 2 — never a panic, never
//! a hang — and where tshark reads a file whole, lvsdiag counts the same
//! number of packets.
//!
//! The corpus is found through LVSDIAG_CORPUS (`.ci/run` sets it to
//! `../shared/corpus/public`); when it is set and the corpus is not there the
//! tests fail, and without it they say on one line that they were not run.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn corpus() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("LVSDIAG_CORPUS") else {
        // Straight to stderr, past the test harness's capture: a skipped run
        // must be visible.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "corpus: not run (set LVSDIAG_CORPUS to a directory of captures with a MANIFEST.tsv, e.g. ../shared/corpus/public)");
        return None;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "LVSDIAG_CORPUS={} has no MANIFEST.tsv",
        dir.display()
    );
    Some(dir)
}

struct Row {
    file: String,
    packets: Option<u64>,
    tshark_ok: bool,
}

fn manifest(corpus: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (f, p, t) = (col("file"), col("packets"), col("tshark_status"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                file: c[f].to_string(),
                packets: c[p].trim().parse().ok(),
                tshark_ok: c[t].starts_with("ok"),
            }
        })
        .collect()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(path: &Path) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("{}: still running after 60 s (hang?)", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

#[test]
fn every_corpus_file_is_analyzed_or_rejected_cleanly() {
    let Some(corpus) = corpus() else { return };
    let rows = manifest(&corpus);
    assert!(rows.len() >= 40, "corpus has {} files", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let path = corpus.join(&row.file);
        let r = run(&path);
        match r.code {
            Some(0) => {}
            Some(2) => {
                let lines: Vec<&str> = r.stderr.lines().collect();
                if lines.len() != 1
                    || !lines[0].starts_with("lvsdiag: ")
                    || !lines[0].contains(&row.file)
                {
                    failures.push(format!(
                        "{}: exit 2 needs one line naming the file, got {:?}",
                        row.file, r.stderr
                    ));
                }
            }
            other => failures.push(format!(
                "{}: exit {other:?}, stderr {:?}",
                row.file, r.stderr
            )),
        }
        if r.stderr.contains("panicked")
            || r.stdout.contains('\u{1b}')
            || r.stderr.contains('\u{1b}')
        {
            failures.push(format!("{}: panic or raw escape in output", row.file));
        }
        if let (true, Some(want)) = (row.tshark_ok, row.packets) {
            let got = serde_json::from_str::<serde_json::Value>(&r.stdout)
                .ok()
                .and_then(|v| {
                    v["inputs"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|i| i["packets"].as_u64()).sum::<u64>())
                });
            if got != Some(want) {
                failures.push(format!(
                    "{}: tshark reads {want} packets, lvsdiag {got:?} ({})",
                    row.file,
                    r.stderr.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The drops pcapng files record in their Interface Statistics Blocks are
/// read (isb_ifdrop + isb_osdrop, the last value of each counter per
/// interface and section) and put on the point of their interface, as a
/// reading of the blocks by hand shows: le_test202 and be_test101 (the
/// pcapng test suite) record 10 and 1 + 42 drops; many_interfaces-1 and
/// pcapng-example record none. Each interface is a point named by its
/// if_name (a name two interfaces share, or none, gets #ID).
#[test]
fn pcapng_interfaces_are_points_with_their_recorded_losses() {
    let Some(corpus) = corpus() else { return };
    for (file, points, want) in [
        (
            "le_test202.pcapng",
            vec![
                "eth0#0",
                "null1#1",
                "silly ethernet interface 2",
                "eth0#3",
                "null1#4",
            ],
            vec![("eth0#3", 43), ("silly ethernet interface 2", 10)],
        ),
        (
            "be_test101.pcapng",
            vec!["eth0", "null1", "silly ethernet interface 2"],
            vec![("eth0", 43), ("silly ethernet interface 2", 10)],
        ),
        ("many_interfaces-1.pcapng", vec![], vec![]),
        (
            "pcapng-example.pcapng",
            vec!["lo", "pcapng-example#1"],
            vec![],
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(["analyze", "--format", "json", "--fail-on", "never"])
            .arg(corpus.join(file))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect(file);
        let inputs = v["inputs"].as_array().unwrap();
        let names: Vec<&str> = inputs
            .iter()
            .map(|i| i["point"].as_str().unwrap())
            .collect();
        if !points.is_empty() {
            assert_eq!(names, points, "{file}");
        }
        let mut got: Vec<(&str, u64)> = inputs
            .iter()
            .flat_map(|i| {
                i["losses"].as_array().unwrap().iter().map(move |l| {
                    assert_eq!(l["cause"], "recorded");
                    (i["point"].as_str().unwrap(), l["packets"].as_u64().unwrap())
                })
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{file}");
    }
}

/// VRRP on real captures from tcpdump's test suite: the per-VRID master
/// timeline (who advertised, at which priority, in which order) is what
/// tshark shows field by field; tcpdump's sample (routers taking over one
/// after another with rising priorities) is no split brain, no flapping and
/// no VRID conflict; CARP (same IP protocol) and cut adverts are counted,
/// never judged as VRRP.
#[test]
fn vrrp_master_timelines_match_tshark() {
    let Some(dir) = corpus() else { return };
    let file = dir.join("vrrp.pcap");
    // tshark: per VRID (and family), the runs of (advertiser, priority).
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&file)
        .args([
            "-Y",
            "vrrp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "vrrp.virt_rtr_id",
            "-e",
            "vrrp.prio",
        ])
        .output()
        .expect("tshark runs");
    assert!(out.status.success());
    let mut want: std::collections::BTreeMap<String, Vec<(String, u64, u64)>> = Default::default();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = l.split('\t').collect();
        let (src, fam) = if c[0].is_empty() {
            (c[1], "ipv6")
        } else {
            (c[0], "ipv4")
        };
        let key = format!("{fam} {}", c[2]);
        let prio: u64 = c[3].parse().unwrap();
        let runs = want.entry(key).or_default();
        match runs.last_mut() {
            Some((s, p, n)) if s == src && *p == prio => *n += 1,
            _ => runs.push((src.to_string(), prio, 1)),
        }
    }
    assert_eq!(want.len(), 5, "{want:?}");
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: std::collections::BTreeMap<String, Vec<(String, u64, u64)>> = Default::default();
    for x in v["vrrp"]["virtual_routers"].as_array().unwrap() {
        let key = format!("{} {}", x["family"].as_str().unwrap(), x["vrid"]);
        let runs = x["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["router"].as_str().unwrap().to_string(),
                    p["priority"].as_u64().unwrap(),
                    p["adverts"].as_u64().unwrap(),
                )
            })
            .collect();
        got.insert(key, runs);
    }
    assert_eq!(got, want);
    let codes = common::codes(&v);
    assert!(codes.iter().all(|c| !c.starts_with("vrrp-")), "{codes:?}");
    // CARP and cut adverts.
    for (name, carp, malformed) in [("carp.pcap", 5, 0), ("vrrp-vrrp_print-oobr-2.pcap", 0, 10)] {
        let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(["analyze", "--format", "json"])
            .arg(dir.join(name))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let x = &v["vrrp"];
        assert_eq!(
            (
                x["virtual_routers"].as_array().unwrap().len(),
                x["carp_adverts"].as_u64(),
                x["malformed"].as_u64()
            ),
            (0, Some(carp), Some(malformed)),
            "{name}"
        );
        assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{name}");
    }
}

/// keepalived's own sample configurations (`../shared/corpus/keepalived/`,
/// found through LVSDIAG_KEEPALIVED_CORPUS): every one parses, and the
/// model holds what each declares, counted here from the file's own lines
/// (virtual servers, groups, real servers, VRRP instances, sync groups).
#[test]
fn keepalived_samples_parse_and_the_model_holds_what_they_declare() {
    let Some(dir) = std::env::var_os("LVSDIAG_KEEPALIVED_CORPUS") else {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "keepalived corpus: not run (set LVSDIAG_KEEPALIVED_CORPUS, e.g. ../shared/corpus/keepalived)");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "{} has no MANIFEST.md",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("keepalived.conf")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 25, "{} samples", files.len());
    for f in &files {
        // Count from the text: first words of lines, comments cut.
        let text = std::fs::read_to_string(f).unwrap();
        let mut count = std::collections::BTreeMap::<&str, usize>::new();
        for l in text.lines() {
            let l = l.split(['#', '!']).next().unwrap();
            let first = l.split_whitespace().next().unwrap_or("");
            for k in [
                "virtual_server",
                "virtual_server_group",
                "real_server",
                "vrrp_instance",
                "vrrp_sync_group",
            ] {
                if first == k {
                    *count.entry(k).or_default() += 1;
                }
            }
        }
        let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(["model", "--format", "json", "--keepalived"])
            .arg(f)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let k = &v["keepalived"][0];
        let n = |key: &str| k[key].as_array().unwrap().len();
        let rs: usize = k["virtual_servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["real_servers"].as_array().unwrap().len())
            .sum();
        let got = [
            ("real_server", rs),
            ("virtual_server", n("virtual_servers")),
            ("virtual_server_group", n("virtual_server_groups")),
            ("vrrp_instance", n("vrrp_instances")),
            ("vrrp_sync_group", n("vrrp_sync_groups")),
        ];
        for (key, g) in got {
            assert_eq!(
                g,
                count.get(key).copied().unwrap_or(0),
                "{}: {key}",
                f.display()
            );
        }
    }
    // What a few declare, read by hand.
    let model = |name: &str, extra: &[&str]| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(["model", "--format", "json", "--keepalived"])
            .arg(dir.join(name))
            .args(extra)
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // VSG_1: 10.0.0.1:8080, 10.0.0.2:80, 192.168.200.1:1358, 192.168.200.3-10:80, fwmark 1 and 2.
    let v = model("keepalived.conf.virtual_server_group", &[]);
    assert_eq!(v["services"].as_array().unwrap().len(), 3 + 8 + 2);
    let m = &v["keepalived"][0]["virtual_server_groups"][0]["members"];
    assert_eq!(
        m[3],
        serde_json::json!({"first": "192.168.200.3", "count": 8, "port": 80})
    );
    // @high / @low lines: only with --keepalived-id.
    let v = model("keepalived.conf.conditional_conf", &[]);
    assert!(v["keepalived"][0]["vrrp_instances"][0]["priority"].is_null());
    let v = model(
        "keepalived.conf.conditional_conf",
        &["--keepalived-id", "low"],
    );
    assert_eq!(v["keepalived"][0]["vrrp_instances"][0]["priority"], 85);
    let v = model("keepalived.conf.fwmark", &[]);
    assert!(
        v["services"][0]["service"]
            .as_str()
            .unwrap()
            .starts_with("FWM"),
        "{v}"
    );
}
