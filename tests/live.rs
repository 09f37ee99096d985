//! Live sources as a user meets them, without capture privileges on a real
//! network: command streams (`--exec`), `capture -w`, and the one-line errors
//! for interfaces, namespaces and commands. (Live capture on interfaces inside
//! namespaces against real IPVS is `lab/check-live`, run by CI.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lvsdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn assert_one_line_error(o: &Output, mentions: &[&str]) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("lvsdiag: "), "{err}");
    for m in mentions {
        assert!(err.contains(m), "{err:?} should mention {m:?}");
    }
}

fn findings(json: &[u8]) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_slice(json).expect("json");
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["real_server"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Every capture of a fixture as a command stream: `--exec NAME='cat FILE'`.
fn exec_args(name: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(fixture(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    for f in files {
        args.push("--exec".to_string());
        args.push(format!(
            "{}=cat {}",
            f.file_stem().unwrap().to_string_lossy(),
            f.display()
        ));
    }
    args
}

#[test]
fn command_streams_give_the_same_findings_as_the_files() {
    for name in ["dr-rs-no-vip", "nat-rs-bypass", "dr-arp-problem"] {
        let offline = lvsdiag(&[
            "analyze",
            "--format",
            "json",
            "--fail-on",
            "never",
            fixture(name).to_str().unwrap(),
        ]);
        assert_eq!(offline.status.code(), Some(0));
        let mut args: Vec<String> = ["analyze", "--format", "json", "--fail-on", "never"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(exec_args(name));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let live = lvsdiag(&refs);
        assert_eq!(
            live.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&live.stderr)
        );
        assert_eq!(findings(&live.stdout), findings(&offline.stdout), "{name}");
        assert!(!findings(&live.stdout).is_empty());
        let v: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
        let o: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap();
        assert_eq!(v["totals"]["packets"], o["totals"]["packets"], "{name}");
        assert_eq!(
            v["totals"]["connections"], o["totals"]["connections"],
            "{name}"
        );
        // Live points carry their drop counts (zero here), never hidden.
        assert!(v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["live"]["lvsdiag_drops"] == 0));
    }
}

#[test]
fn a_stream_that_dies_midway_keeps_its_results_and_exits_2() {
    let rs3 = fixture("dr-rs-no-vip").join("director-eth0.pcap");
    // The director's stream is cut after 5000 bytes, then the command fails.
    let cmd = format!(
        "head -c 5000 {}; echo 'ssh: connection reset' >&2; exit 255",
        rs3.display()
    );
    let o = lvsdiag(&[
        "analyze",
        "--exec",
        &format!("dir={cmd}"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("the report of what was read");
    let pkts = v["inputs"][0]["packets"].as_u64().unwrap();
    assert!(pkts > 10 && pkts < 262, "{pkts}");
    // What it did not send is unseen: a loss from its last packet on.
    let losses = v["inputs"][0]["losses"].as_array().unwrap();
    assert_eq!(losses.len(), 1, "{losses:?}");
    assert_eq!(losses[0]["cause"], "ended");
    assert!(losses[0]["to"].is_null());
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().unwrap();
    assert!(
        last.contains("dir: the command's stream ended after")
            && last.contains("ssh: connection reset")
            && last.contains("the packets before it were analyzed"),
        "{err}"
    );
}

#[test]
fn capture_writes_one_pcap_per_point_for_a_later_analyze() {
    let dir = std::env::temp_dir().join(format!("lvsdiag-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args: Vec<String> = vec!["capture".into(), "-w".into(), dir.display().to_string()];
    args.extend(exec_args("nat-rs-bypass"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = lvsdiag(&refs);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("director-eth0: ") && err.contains("drops: kernel 0"),
        "{err}"
    );
    let a = lvsdiag(&[
        "analyze",
        "--format",
        "json",
        "--fail-on",
        "never",
        dir.to_str().unwrap(),
    ]);
    let b = lvsdiag(&[
        "analyze",
        "--format",
        "json",
        "--fail-on",
        "never",
        fixture("nat-rs-bypass").to_str().unwrap(),
    ]);
    assert_eq!(findings(&a.stdout), findings(&b.stdout));
    let va: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let vb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(va["totals"], vb["totals"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn live_errors_are_one_line_exit_2() {
    assert_one_line_error(
        &lvsdiag(&["analyze", "-i", "nosuch0"]),
        &["no interface nosuch0", "ip link"],
    );
    assert_one_line_error(
        &lvsdiag(&["analyze", "-i", "eth0@lvsdiag-no-such-ns"]),
        &[
            "unknown network namespace lvsdiag-no-such-ns",
            "ip netns list",
        ],
    );
    assert_one_line_error(
        &lvsdiag(&[
            "analyze",
            "--exec",
            "rs1=echo 'ssh: Could not resolve hostname rs1' >&2; exit 255",
        ]),
        &[
            "rs1: the command gave no pcap stream",
            "exit status: 255",
            "Could not resolve hostname rs1",
            "tcpdump -U",
        ],
    );
    assert_one_line_error(
        &lvsdiag(&["analyze", "--exec", "nocommand"]),
        &["NAME='COMMAND'"],
    );
    assert_one_line_error(
        &lvsdiag(&["analyze", "-i", "a/b"]),
        &["not an interface name"],
    );
    assert_one_line_error(
        &lvsdiag(&["capture", "-w", "/tmp/x"]),
        &["capture needs live sources"],
    );
    // capture takes live sources only: no file arguments, none in its help.
    let o = lvsdiag(&["capture", "-w", "/tmp/x", "-i", "lo", "fixtures/dr-healthy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unexpected argument 'fixtures/dr-healthy'")
    );
    let help = String::from_utf8_lossy(&lvsdiag(&["capture", "--help"]).stdout).to_string();
    assert!(
        help.contains("--interface") && help.contains("--exec"),
        "{help}"
    );
    assert!(!help.contains("--read") && !help.contains("PATH"), "{help}");
    assert_one_line_error(
        &lvsdiag(&["analyze", "--exec", "a=true", "--exec", "a=true"]),
        &["two capture points are named a"],
    );
    // Escape sequences from a remote command never reach the terminal raw.
    let o = lvsdiag(&["analyze", "--exec", "x=printf '\\033[2Jboom' >&2; exit 1"]);
    assert_one_line_error(&o, &["\\x1b[2Jboom"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains('\u{1b}'));
}

#[test]
fn capturing_without_privileges_says_what_is_needed() {
    // Only meaningful as root (CI): drop to nobody with a copy of the binary.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to drop privileges");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lvsdiag-nopriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("lvsdiag");
    std::fs::copy(env!("CARGO_BIN_EXE_lvsdiag"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let unprivileged = |iface: &str| {
        Command::new("/usr/bin/setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(&bin)
            .args(["analyze", "-i", iface])
            .output()
            .unwrap()
    };
    assert_one_line_error(
        &unprivileged("lo"),
        &[
            "capturing on lo needs root or CAP_NET_RAW",
            "setcap cap_net_raw",
        ],
    );
    // A missing interface is named as missing, not as a permission problem.
    assert_one_line_error(
        &unprivileged("nosuch9"),
        &["no interface nosuch9", "ip link"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `analyze --live --interval 1` on a stream that stays open for 2.5 s
/// after its packets; exits 0.
fn live_periodic(extra: &[&str]) -> Output {
    let f = fixture("dr-rs-no-vip").join("director-eth0.pcap");
    let cmd = format!("x=cat {}; sleep 2.5", f.display());
    let mut args = vec![
        "analyze",
        "--live",
        "--interval",
        "1",
        "--exec",
        &cmd,
        "--fail-on",
        "never",
    ];
    args.extend_from_slice(extra);
    let o = lvsdiag(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn analyze_live_reports_periodically_then_finally() {
    let o = live_periodic(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    let periodic = out.matches("--- lvsdiag: report after").count();
    assert!(periodic >= 1, "{out}");
    // Each report, periodic and final, leads with the verdict.
    assert_eq!(
        out.matches("DR 192.0.2.100:80/tcp").count(),
        periodic + 1,
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("drops: kernel 0, interface 0, lvsdiag 0)"),
        "{out}"
    );
}

#[test]
fn analyze_live_json_is_one_document_per_line() {
    let o = live_periodic(&["--format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let docs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not NDJSON: {e}: {l}")))
        .collect();
    assert!(docs.len() >= 2, "periodic and final: {out}");
    let (last, periodic) = docs.split_last().unwrap();
    assert_eq!(last["final"], true);
    assert!(periodic.iter().all(|d| d["final"] == false));
    assert!(!last["findings"].as_array().unwrap().is_empty());
    // The human line goes to stderr.
    assert!(String::from_utf8_lossy(&o.stderr).contains("capturing on"));
}
