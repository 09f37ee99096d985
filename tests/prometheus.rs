//! `lvsdiag watch` scraped by a real Prometheus server: a faulty fixture
//! (dr-rs-no-vip: real server 192.0.2.13 has no VIP on lo, so every
//! connection sent to it fails) is replayed live on veth pairs in a
//! namespace this test creates, `watch` captures it, and Prometheus
//! (Debian's package, on localhost with its own data directory) scrapes
//! it every second. Its HTTP query API must then return:
//! - the finding's gauge at 1 for that real server;
//! - the failed connections on it, and the established ones on the
//!   others, each equal to what `lvsdiag analyze` of the same files says;
//! - every replayed packet counted at its point, and no drops.
//!
//! `promtool check metrics` must accept the exposition; OpenMetrics is
//! served when asked for. The flight recorder must have written a pcapng
//! that `lvsdiag analyze` reads back to the same finding, and another on
//! SIGUSR1; SIGHUP reloads; SIGTERM ends it with status 0.
//!
//! Needs root, tcpreplay, prometheus and promtool. Runs when
//! LVSDIAG_NETNS_TESTS=1 (`.ci/run` sets it and installs them); then a
//! missing prerequisite fails the test. Without it the test says on one
//! line that it was not run. The namespace has no addresses and no
//! routes: the replayed frames go nowhere else; Prometheus listens on
//! 127.0.0.1 only.

mod common;

use common::netns::Netns;
use common::pcaps;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NS: &str = "lvsdiag-prom";
const BROKEN: &str = "192.0.2.13";

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn enabled() -> bool {
    if std::env::var("LVSDIAG_NETNS_TESTS").as_deref() != Ok("1") {
        let _ = writeln!(std::io::stderr(), "prometheus: not run (set LVSDIAG_NETNS_TESTS=1, as root with tcpreplay, prometheus and promtool, to scrape lvsdiag watch with a real Prometheus)");
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "LVSDIAG_NETNS_TESTS=1 needs root"
    );
    assert!(
        have("tcpreplay", "--version"),
        "needs tcpreplay (apt-get install tcpreplay)"
    );
    assert!(
        have("prometheus", "--version"),
        "needs prometheus (apt-get install prometheus)"
    );
    assert!(
        have("promtool", "--version"),
        "needs promtool (apt-get install prometheus)"
    );
    true
}

/// Kills the child on drop (a failed assertion must not leave it running).
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.0 GET on localhost: (status line and headers, body).
fn get(addr: &str, path: &str, accept: &str) -> Option<(String, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query's result: each series' labels and value.
type Vector = Vec<(serde_json::Value, f64)>;

/// Prometheus' instant query: each series' labels and value.
fn query(prom: &str, q: &str) -> Vector {
    let Some((head, body)) = get(
        prom,
        &format!("/api/v1/query?query={}", urlencode(q)),
        "*/*",
    ) else {
        return Vec::new();
    };
    assert!(head.contains(" 200 "), "{q}: {head}\n{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("query json");
    assert_eq!(v["status"], "success", "{q}: {body}");
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let val = s["value"][1]
                        .as_str()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), val)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls until `ok` holds for the query's result, or panics after `secs`.
fn wait_for(prom: &str, q: &str, secs: u64, ok: &dyn Fn(&Vector) -> bool) -> Vector {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = query(prom, q);
        if ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < until,
            "{q}: after {secs} s Prometheus says {r:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn packets(p: &Path) -> u64 {
    let mut c = pcap::Capture::from_file(p).unwrap();
    let mut n = 0;
    while c.next_packet().is_ok() {
        n += 1;
    }
    n
}

/// `lvsdiag analyze --format json` of these inputs.
fn analyze(inputs: &[String]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .args(inputs)
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

fn recordings(dir: &Path, what: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.ends_with(".pcapng") && n.contains(what)
    });
    v.sort();
    v
}

#[test]
fn prometheus_scrapes_watch_during_a_faulty_replay() {
    if !enabled() {
        return;
    }
    let dir = common::fixture("dr-rs-no-vip");
    let files = pcaps(&dir);
    let tmp = std::env::temp_dir().join(format!("lvsdiag-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let rec = tmp.join("recordings");
    let _ns = Netns::new(NS, files.len());

    // What the offline analysis says of the same files.
    let offline = analyze(
        &files
            .iter()
            .map(|f| format!("{}={}", stem(f), f.display()))
            .collect::<Vec<_>>(),
    );
    let rs_stat = |ip: &str, k: &str| {
        offline["real_servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ip"] == ip)
            .and_then(|r| r[k].as_u64())
            .unwrap_or_else(|| panic!("offline analysis has no {k} for {ip}"))
    };
    let failed = rs_stat(BROKEN, "failed");
    assert!(failed > 0);

    let mut args: Vec<String> = vec!["watch".into()];
    for (i, f) in files.iter().enumerate() {
        args.push("-i".into());
        args.push(format!("{}=b{i}@{NS}", stem(f)));
    }
    args.extend(
        [
            "--metrics",
            "127.0.0.1:0",
            "--window",
            "60s",
            "--record",
            &rec.display().to_string(),
            "--record-window",
            "60s",
            "--snapshot-netns",
            NS,
            "--snapshot-every",
            "5s",
        ]
        .map(String::from),
    );
    let mut watch = Kill(
        Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(&args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("lvsdiag watch starts"),
    );
    let mut err = std::io::BufReader::new(watch.0.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split("metrics at http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .unwrap_or_else(|| panic!("no metrics address in: {line}"))
        .to_string();
    // The rest of its log, for the end.
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });

    let port = free_port();
    let prom = format!("127.0.0.1:{port}");
    let cfg = tmp.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: lvsdiag\n    static_configs:\n      - targets: ['{addr}']\n"),
    )
    .unwrap();
    let _prometheus = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.join("data").display()
            ))
            .arg(format!("--web.listen-address={prom}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus starts"),
    );
    let until = Instant::now() + Duration::from_secs(60);
    while get(&prom, "/-/ready", "*/*").is_none_or(|(h, _)| !h.contains(" 200 ")) {
        assert!(
            Instant::now() < until,
            "prometheus not ready: {}",
            std::fs::read_to_string(tmp.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    wait_for(&prom, "up{job=\"lvsdiag\"}", 30, &|r| {
        r.len() == 1 && r[0].1 == 1.0
    });

    // Replay every point at once (the fixture's points start within a second).
    let senders: Vec<Child> = files
        .iter()
        .enumerate()
        .map(|(i, f)| common::netns::replay(NS, i, f))
        .collect();
    for mut s in senders {
        assert!(s.wait().unwrap().success(), "tcpreplay failed");
    }

    // The finding's gauge, labelled as node_exporter labels the real server.
    let q = format!("lvsdiag_finding{{code=\"dr-rs-no-reply\",remote_address=\"{BROKEN}\"}}");
    let r = wait_for(&prom, &q, 60, &|r| !r.is_empty());
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].1, 1.0);
    assert_eq!(r[0].0["severity"], "error");
    assert_eq!(r[0].0["local_address"], "192.0.2.100");
    assert_eq!(r[0].0["local_port"], "80");
    assert_eq!(r[0].0["proto"], "TCP");
    let first = query(
        &prom,
        "lvsdiag_finding_first_seen_timestamp_seconds{code=\"dr-rs-no-reply\"}",
    );
    assert_eq!(first.len(), 1, "{first:?}");

    // Every replayed packet counted at its point; nothing dropped.
    for f in &files {
        let q = format!("lvsdiag_capture_packets_total{{point=\"{}\"}}", stem(f));
        let want = packets(f) as f64;
        wait_for(&prom, &q, 30, &|r| r.len() == 1 && r[0].1 == want);
    }
    let drops = query(&prom, "sum(lvsdiag_capture_drops_total)");
    assert_eq!(drops.first().map(|d| d.1), Some(0.0), "{drops:?}");

    // Unanswered handshakes are counted once they end: idle for a minute.
    let q = format!("lvsdiag_connections_total{{remote_address=\"{BROKEN}\",outcome=\"failed\"}}");
    wait_for(&prom, &q, 150, &|r| r.len() == 1 && r[0].1 == failed as f64);
    for ok in ["192.0.2.11", "192.0.2.12"] {
        let q =
            format!("lvsdiag_connections_total{{remote_address=\"{ok}\",outcome=\"established\"}}");
        let want = rs_stat(ok, "established") as f64;
        wait_for(&prom, &q, 10, &|r| r.len() == 1 && r[0].1 == want);
        let q = format!("lvsdiag_connections_total{{remote_address=\"{ok}\",outcome=\"failed\"}}");
        wait_for(&prom, &q, 10, &|r| r.len() == 1 && r[0].1 == 0.0);
    }
    let q = format!("lvsdiag_syn_retransmits_total{{remote_address=\"{BROKEN}\"}}");
    let want = rs_stat(BROKEN, "syn_retransmits") as f64;
    wait_for(&prom, &q, 10, &|r| r.len() == 1 && r[0].1 == want);
    wait_for(&prom, "lvsdiag_snapshot_age_seconds", 10, &|r| {
        r.len() == 1 && r[0].1 < 30.0
    });
    wait_for(&prom, "lvsdiag_build_info", 10, &|r| r.len() == 1);

    // The exposition passes promtool's lint; OpenMetrics when asked.
    let (head, text) = get(&addr, "/metrics", "text/plain").unwrap();
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = lint.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let (head, om) = get(
        &addr,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    )
    .unwrap();
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(om.ends_with("# EOF\n"));

    // The flight recorder's pcapng reads back to the same finding.
    let recs = recordings(&rec, "dr-rs-no-reply");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(recs[0].with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(json["finding"]["code"], "dr-rs-no-reply");
    assert_eq!(json["finding"]["real_server"], BROKEN);
    let back = analyze(&[recs[0].display().to_string()]);
    let found = back["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "dr-rs-no-reply" && f["real_server"] == BROKEN);
    assert!(found, "the recording gives {}", back["findings"]);

    // SIGUSR1 records now; SIGHUP reloads; SIGTERM ends it cleanly.
    let pid = watch.0.id() as libc::pid_t;
    // SAFETY: signals our own child.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    let until = Instant::now() + Duration::from_secs(10);
    while recordings(&rec, "sigusr1").is_empty() {
        assert!(Instant::now() < until, "no recording after SIGUSR1");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let st = watch.0.wait().unwrap();
    let log = log.join().unwrap();
    assert!(st.success(), "watch exited with {st}: {log}");
    assert!(log.contains("SIGHUP: configuration reloaded"), "{log}");
    assert!(log.contains("SIGUSR1: recorded"), "{log}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The shipped alerting rules are valid Prometheus rules, and their own
/// unit tests (ops/lvsdiag.rules.test.yml) pass: each alert fires on the
/// series that should fire it, not before its `for`.
#[test]
fn the_alerting_rules_pass_promtool() {
    if !have("promtool", "--version") {
        if std::env::var("LVSDIAG_NETNS_TESTS").as_deref() == Ok("1") {
            panic!("needs promtool (apt-get install prometheus)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "prometheus: rules not checked (no promtool; apt-get install prometheus)"
        );
        return;
    }
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("ops");
    for args in [
        vec!["check", "rules", "lvsdiag.rules.yml"],
        vec!["test", "rules", "lvsdiag.rules.test.yml"],
    ] {
        let o = Command::new("promtool")
            .args(&args)
            .current_dir(&ops)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
