//! The command line as a user meets it: exit codes, one-line errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lvsdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs")
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lvsdiag-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn assert_one_line_error(o: &Output, mentions: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("lvsdiag: "), "{err}");
    assert!(
        err.contains(mentions),
        "{err:?} should mention {mentions:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A pcap file header (little-endian, microseconds) with the given link type.
fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&linktype.to_le_bytes());
    b
}

#[test]
fn missing_file_is_one_line_exit_2() {
    let o = lvsdiag(&["analyze", "/nonexistent/capture.pcap"]);
    assert_one_line_error(&o, "/nonexistent/capture.pcap");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"));
}

#[test]
fn not_a_capture_is_one_line_exit_2() {
    let p = tmp("notes.pcap", b"this is a text file, not a capture\n");
    let o = lvsdiag(&["analyze", p.to_str().unwrap()]);
    assert_one_line_error(&o, "notes.pcap");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a readable pcap/pcapng capture"));
}

#[test]
fn unknown_link_type_is_one_line_exit_2() {
    // LINKTYPE_USER0 (147): nothing lvsdiag can decode.
    let p = tmp("user0.pcap", &pcap_header(147));
    let o = lvsdiag(&["analyze", p.to_str().unwrap()]);
    assert_one_line_error(&o, "unsupported link type 147");
}

#[test]
fn truncated_capture_reports_what_was_read_and_exits_2() {
    let mut b = pcap_header(1);
    // One record header promising 60 bytes, followed by only 10.
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&60u32.to_le_bytes());
    b.extend_from_slice(&60u32.to_le_bytes());
    b.extend_from_slice(&[0u8; 10]);
    let p = tmp("cut.pcap", &b);
    let o = lvsdiag(&["analyze", "--format", "json", p.to_str().unwrap()]);
    assert_one_line_error(&o, "cut.pcap: capture ends early after 0 packets");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("report still printed");
    assert_eq!(v["inputs"][0]["packets"], 0);
}

#[test]
fn bad_vip_and_ipvs_files_are_usage_errors() {
    let o = lvsdiag(&["analyze", "--vip", "nonsense", "x.pcap"]);
    assert_one_line_error(&o, "--vip nonsense");
    let p = tmp("ipvs.txt", b"hello\n");
    let o = lvsdiag(&["analyze", "--ipvs", p.to_str().unwrap(), "x.pcap"]);
    assert_one_line_error(&o, "no IPVS services found");
}

#[test]
fn empty_directory_is_one_line_exit_2() {
    let dir = std::env::temp_dir().join(format!("lvsdiag-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = lvsdiag(&["analyze", dir.to_str().unwrap()]);
    assert_one_line_error(&o, "no capture files");
}

#[test]
fn file_names_are_sanitized_in_errors() {
    let p = tmp("evil\u{1b}[2J.pcap", b"junk");
    let o = lvsdiag(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains('\u{1b}'),
        "escape reached the terminal: {err:?}"
    );
    assert!(err.contains("evil\\x1b[2J.pcap"), "{err}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[test]
fn exit_status_follows_fail_on() {
    let broken = fixture("dr-rs-no-vip");
    let healthy = fixture("dr-healthy");
    let b = broken.to_str().unwrap();
    let h = healthy.to_str().unwrap();
    assert_eq!(lvsdiag(&["analyze", b]).status.code(), Some(1));
    assert_eq!(
        lvsdiag(&["analyze", "--fail-on", "never", b]).status.code(),
        Some(0)
    );
    assert_eq!(lvsdiag(&["analyze", h]).status.code(), Some(0));
    assert_eq!(
        lvsdiag(&["analyze", "--fail-on", "error", h]).status.code(),
        Some(0)
    );
}

#[test]
fn json_report_keeps_the_ci_contract() {
    let o = lvsdiag(&[
        "analyze",
        "--format",
        "json",
        fixture("dr-rs-no-vip").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["point", "path", "link_type", "packets"] {
        assert!(v["inputs"][0].get(k).is_some(), "inputs[].{k}");
    }
    for k in ["vip", "port", "protocol", "mode", "source"] {
        assert!(v["services"][0].get(k).is_some(), "services[].{k}");
    }
    for k in [
        "service",
        "ip",
        "mac",
        "connections",
        "established",
        "failed",
        "syn_retransmits",
    ] {
        assert!(v["real_servers"][0].get(k).is_some(), "real_servers[].{k}");
    }
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "dr-rs-no-reply")
        .expect("dr-rs-no-reply");
    for k in [
        "code",
        "severity",
        "service",
        "real_server",
        "summary",
        "evidence",
        "fix",
    ] {
        assert!(f.get(k).is_some(), "findings[].{k}");
    }
    let e = &f["evidence"][0];
    assert!(
        e["point"].is_string()
            && e["frame"].as_u64().unwrap() >= 1
            && e["time"].as_f64().unwrap() > 0.0
    );
    assert_eq!(v["services"][0]["mode"], "dr");
    assert_eq!(v["services"][0]["source"], "inferred");
}

#[test]
fn text_report_leads_with_the_verdict() {
    let o = lvsdiag(&["analyze", fixture("dr-rs-no-vip").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("DR 192.0.2.100:80/tcp — 1 of 3 real servers broken: 192.0.2.13"),
        "{first}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no colour when NO_COLOR is set / not a terminal"
    );
}

/// The text report's Timeline folds a split brain's master changes into
/// one line that names the finding explaining them; the JSON keeps every
/// event.
#[test]
fn text_timeline_folds_runs_and_json_keeps_every_event() {
    let dir = fixture("vrrp-split-brain");
    let dir = dir.to_str().unwrap();
    let o = lvsdiag(&["analyze", "--fail-on", "never", dir]);
    let out = String::from_utf8_lossy(&o.stdout);
    let timeline: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Timeline (UTC"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let vrrp: Vec<&&str> = timeline
        .iter()
        .filter(|l| l.contains("vrrp-master"))
        .collect();
    assert_eq!(vrrp.len(), 1, "{timeline:#?}");
    assert!(
        vrrp[0].contains("VRRP VRID 51: 192.0.2.3 ⇄ 192.0.2.2, 24 master changes, 06:44:54–06:45:05 (vrrp-split-brain)"),
        "{}",
        vrrp[0]
    );
    let o = lvsdiag(&["analyze", "--fail-on", "never", "--format", "json", dir]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let masters = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "vrrp-master")
        .count();
    assert_eq!(masters, 24);
}

#[test]
fn snapshot_of_this_host_is_json_with_its_links() {
    let o = lvsdiag(&["snapshot"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["format"], 1);
    assert!(v["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["link_type"] == "loopback"));
    assert!(v["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["address"] == "127.0.0.1" && a["prefix_len"] == 8));
    assert!(v["sysctls"]["net.ipv4.conf.all.rp_filter"].is_string());
}

#[test]
fn unknown_namespace_and_bad_snapshots_are_one_line_exit_2() {
    assert_one_line_error(
        &lvsdiag(&["snapshot", "--netns", "no-such-ns"]),
        "no-such-ns",
    );
    assert_one_line_error(&lvsdiag(&["check", "--netns", "no-such-ns"]), "no-such-ns");
    assert_one_line_error(&lvsdiag(&["snapshot", "--netns", "\u{1b}[2J"]), "\\x1b[2J");
    let not_json = tmp("notes.json", b"hello");
    assert_one_line_error(
        &lvsdiag(&["check", "--snapshot", not_json.to_str().unwrap()]),
        "not a snapshot",
    );
    let other_json = tmp("other.json", b"{\"findings\":[]}");
    assert_one_line_error(
        &lvsdiag(&["check", "--snapshot", other_json.to_str().unwrap()]),
        "not an lvsdiag snapshot",
    );
    let d = fixture("dr-healthy");
    assert_one_line_error(
        &lvsdiag(&[
            "analyze",
            "--snapshot",
            "/nonexistent/snap.json",
            d.to_str().unwrap(),
        ]),
        "/nonexistent/snap.json",
    );
}

#[test]
fn check_of_saved_snapshots_names_the_host_and_setting() {
    let snaps = fixture("dr-rs-no-vip").join("snapshot");
    let o = lvsdiag(&["check", "--snapshot", snaps.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "an error was found");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ERROR rs-vip-not-on-loopback [192.0.2.13]"),
        "{out}"
    );
    assert!(
        out.contains("config: rs3 snapshot: 192.0.2.100 is on no interface"),
        "{out}"
    );
    assert!(
        out.contains("fix: On rs3: ip addr add 192.0.2.100/32 dev lo"),
        "{out}"
    );
    assert!(out.contains("no captures"), "{out}");
    let ok = lvsdiag(&[
        "check",
        "--snapshot",
        fixture("dr-healthy").join("snapshot").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

#[test]
fn analyze_with_snapshots_confirms_the_traffic_cause_in_json() {
    let d = fixture("dr-rp-filter");
    let o = lvsdiag(&[
        "analyze",
        "--format",
        "json",
        "--snapshot",
        d.join("snapshot").to_str().unwrap(),
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "dr-rs-no-reply")
        .expect("traffic finding");
    assert_eq!(f["confirmed_by"], "rp-filter-drops-asymmetric");
    assert!(f["cause"]
        .as_str()
        .unwrap()
        .starts_with("Established from the configuration"));
    assert!(f["config"].as_array().unwrap().iter().any(|c| c
        .as_str()
        .unwrap()
        .contains("rs3 snapshot: net.ipv4.conf.all.rp_filter = 1")));
    assert!(f["fix"]
        .as_str()
        .unwrap()
        .starts_with("On rs3: sysctl -w net.ipv4.conf.all.rp_filter=2"));
    // Snapshots are matched to the capture points of their host.
    let rs3 = v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "rs3")
        .unwrap();
    assert_eq!(rs3["points"], serde_json::json!(["rs3-eth0", "rs3-eth1"]));
    // Snapshot files among the inputs are the same as --snapshot.
    let mut args = vec!["analyze".to_string(), "--format".into(), "json".into()];
    args.push(d.to_str().unwrap().into());
    for h in ["director", "rs3"] {
        args.push(
            d.join("snapshot")
                .join(format!("{h}.json"))
                .to_str()
                .unwrap()
                .into(),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o2 = lvsdiag(&args);
    let v2: serde_json::Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert!(v2["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["confirmed_by"] == "rp-filter-drops-asymmetric"));
    assert_eq!(v2["snapshots"].as_array().unwrap().len(), 2);
    // The services come from the director's snapshot.
    assert!(v["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["source"] == "ipvs" && s["source_detail"] == "director snapshot"));
}

#[test]
fn check_needs_a_director_and_sanitizes_snapshot_strings() {
    // Real servers only: nothing to check against, one line, exit 2.
    let d = fixture("dr-rs-no-vip").join("snapshot");
    let rs3 = d.join("rs3.json");
    assert_one_line_error(
        &lvsdiag(&["check", "--snapshot", rs3.to_str().unwrap()]),
        "no IPVS services in rs3",
    );
    // A host name with an escape sequence is shown escaped.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&rs3).unwrap()).unwrap();
    v["host"] = serde_json::json!("rs3\u{1b}[2J");
    let evil = tmp("evil-rs3.json", v.to_string().as_bytes());
    let o = lvsdiag(&[
        "check",
        "--snapshot",
        d.join("director.json").to_str().unwrap(),
        "--snapshot",
        evil.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(
        out.contains("rs3\\x1b[2J snapshot: 192.0.2.100 is on no interface"),
        "{out}"
    );
}

#[test]
fn a_mistyped_command_is_named_with_what_was_meant() {
    let o = lvsdiag(&["analyse", "x.pcap"]);
    assert_one_line_error(&o, "did you mean 'analyze'?");
    let o = lvsdiag(&["captur", "-i", "eth0"]);
    assert_one_line_error(&o, "did you mean 'capture'?");
    // A word far from every command is still taken as a capture file.
    let o = lvsdiag(&["analyze", "no-such-file.pcap"]);
    assert_one_line_error(&o, "no such file");
}

#[test]
fn nonsense_values_are_refused() {
    for args in [
        &["analyze", "--max-flows", "0", "x.pcap"][..],
        &["analyze", "-s", "300000", "-i", "eth0"],
        &["analyze", "-B", "1", "-i", "eth0"],
    ] {
        let o = lvsdiag(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = lvsdiag(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("lvsdiag") && out.contains("analyze"),
            "{shell}"
        );
    }
    let o = lvsdiag(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let man = String::from_utf8_lossy(&o.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH lvsdiag"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("analyze") && man.contains("capture"));
}

#[test]
fn dash_r_reads_a_capture_file_as_tcpdump_does() {
    let dir = fixture("dr-rs-no-vip");
    let mut args = vec!["analyze", "--format", "json", "--fail-on", "never"];
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .map(|p| p.display().to_string())
        .collect();
    for f in &files {
        args.push("-r");
        args.push(f);
    }
    let o = lvsdiag(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inputs"].as_array().unwrap().len(), files.len());
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "dr-rs-no-reply"));
}

/// `--expect` on every fixture: its own expected.json passes (exit 0, also
/// for the broken ones); one finding taken away or added fails with exit 1
/// and says which.
#[test]
fn expect_passes_a_capture_set_that_yields_exactly_its_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut n = 0;
    for d in std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()) {
        let exp = d.join("expected.json");
        if !exp.is_file() {
            continue;
        }
        // The captures alone (no snapshots): the "findings" list.
        let mut args = vec![
            "analyze".to_string(),
            "--expect".into(),
            exp.display().to_string(),
        ];
        let mut pcaps: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .map(|p| p.display().to_string())
            .collect();
        pcaps.sort();
        args.extend(pcaps.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = lvsdiag(&refs);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            d.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        n += 1;
    }
    assert!(n >= 15);
    // A broken set against the expectation of a healthy one, and back.
    let broken = fixture("dr-rs-no-vip");
    let healthy = fixture("dr-healthy").join("expected.json");
    let o = lvsdiag(&[
        "analyze",
        "--expect",
        healthy.to_str().unwrap(),
        broken.join("director-eth0.pcap").to_str().unwrap(),
        broken.join("rs3-eth0.pcap").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("differ") && err.contains("unexpected: error dr-rs-no-reply [192.0.2.13]"),
        "{err}"
    );
    let exp = tmp("expect-missing.json", br#"{"findings":[{"code":"vip-arp-multiple-owners","severity":"error","real_server":"192.0.2.12"}]}"#);
    let o = lvsdiag(&[
        "analyze",
        "--expect",
        exp.to_str().unwrap(),
        fixture("dr-healthy").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("missing:    error vip-arp-multiple-owners [192.0.2.12]"),
        "{err}"
    );
    // Not an expectation: one line, exit 2.
    let bad = tmp("expect-bad.json", b"[1,2]");
    let o = lvsdiag(&[
        "analyze",
        "--expect",
        bad.to_str().unwrap(),
        fixture("dr-healthy").to_str().unwrap(),
    ]);
    assert_one_line_error(&o, "no \"findings\" list");
}

/// `--format junit`: well-formed JUnit XML in the shape the common test
/// reporters read (testsuites > testsuite > testcase, failure with type and
/// message, counts that add up), checked with Python's XML parser; a
/// failing set (a failure on the broken real server) and a passing one.
#[test]
fn junit_reports_a_test_case_per_service_and_real_server() {
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
assert root.tag == "testsuites", root.tag
total = fails = 0
out = []
for s in root.findall("testsuite"):
    cases = s.findall("testcase")
    f = [c for c in cases if c.find("failure") is not None]
    assert int(s.get("tests")) == len(cases) and int(s.get("failures")) == len(f)
    for c in cases:
        assert c.get("name") and c.get("classname")
        for x in c.findall("failure"):
            assert x.get("type") and x.get("message")
            out.append(c.get("name") + " " + x.get("type"))
    total += len(cases); fails += len(f)
assert int(root.get("tests")) == total and int(root.get("failures")) == fails
print(total, fails, ";".join(out))
"#;
    for (fixture_name, want) in [
        ("dr-rs-no-vip", "4 1 real server 192.0.2.13 dr-rs-no-reply"),
        ("dr-healthy", "4 0 "),
    ] {
        let o = lvsdiag(&[
            "analyze",
            "--format",
            "junit",
            fixture(fixture_name).to_str().unwrap(),
        ]);
        let py = Command::new("python3")
            .args(["-c", check])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        use std::io::Write;
        py.stdin.as_ref().unwrap().write_all(&o.stdout).unwrap();
        let r = py.wait_with_output().unwrap();
        assert!(
            r.status.success(),
            "{fixture_name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert_eq!(
            String::from_utf8_lossy(&r.stdout).trim_end(),
            want.trim_end(),
            "{fixture_name}"
        );
        junit_valid_by_schema(fixture_name, &o.stdout);
    }
}

/// Validates JUnit XML against Jenkins' JUnit schema (junit-10.xsd, the one
/// Jenkins, GitLab and the common reporters accept), when
/// `LVSDIAG_JUNIT_XSD` names it (`.ci/run` fetches it from pytest's source
/// package, which tests its own JUnit output with it); says so otherwise.
fn junit_valid_by_schema(name: &str, xml: &[u8]) {
    let Some(xsd) = std::env::var_os("LVSDIAG_JUNIT_XSD") else {
        // Straight to stderr, past the test harness's capture: a skipped
        // check must be visible.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "junit schema validation: not run (set LVSDIAG_JUNIT_XSD to Jenkins' junit-10.xsd; .ci/run does)"
        );
        return;
    };
    assert!(
        Path::new(&xsd).is_file(),
        "LVSDIAG_JUNIT_XSD={} is set but is no file",
        Path::new(&xsd).display()
    );
    let f = tmp(&format!("junit-{name}.xml"), xml);
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(&f)
        .output()
        .expect("xmllint (libxml2-utils) runs");
    assert!(
        o.status.success(),
        "{name}: not valid by {}: {}",
        Path::new(&xsd).display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `lvsdiag model`: what lvsdiag understood of a keepalived configuration;
/// a broken one is one line naming the file and line, exit 2.
#[test]
fn model_prints_the_keepalived_model_and_rejects_broken_configurations() {
    let conf = tmp(
        "ka-model.conf",
        b"vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 150\n  virtual_ipaddress {\n    192.0.2.100/32 dev eth0\n  }\n}\nvirtual_server 192.0.2.100 80 {\n  lb_algo wrr\n  lb_kind DR\n  real_server 192.0.2.11 80 { weight 2 }\n  real_server 192.0.2.12 80 { weight 0 }\n}\n",
    );
    let o = lvsdiag(&["model", "--keepalived", conf.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("DR 192.0.2.100:80/tcp  scheduler wrr"),
        "{out}"
    );
    assert!(
        out.contains("192.0.2.12:80") && out.contains("weight 0"),
        "{out}"
    );
    assert!(
        out.contains("vrrp_instance VI_1 VRID 51 priority 150 MASTER on eth0"),
        "{out}"
    );
    let o = lvsdiag(&[
        "model",
        "--format",
        "json",
        "--keepalived",
        conf.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["services"][0]["real_servers"][0]["weight"], 2);
    assert_eq!(
        v["keepalived"][0]["vrrp_instances"][0]["virtual_router_id"],
        51
    );
    // Unbalanced, binary, too large, missing: one line each.
    let bad = tmp(
        "ka-bad.conf",
        b"global_defs {\n  router_id x\n\nvrrp_instance VI_1 {\n}\n",
    );
    assert_one_line_error(
        &lvsdiag(&["model", "--keepalived", bad.to_str().unwrap()]),
        "ka-bad.conf:1: '{' of global_defs is never closed",
    );
    let bin = tmp("ka-bin.conf", &[0u8, 159, 146, 150, 0, 1]);
    assert_one_line_error(
        &lvsdiag(&["model", "--keepalived", bin.to_str().unwrap()]),
        "binary data",
    );
    let big = tmp("ka-big.conf", b"");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    assert_one_line_error(
        &lvsdiag(&["model", "--keepalived", big.to_str().unwrap()]),
        "is not a keepalived configuration",
    );
    assert_one_line_error(
        &lvsdiag(&["model", "--keepalived", "/nonexistent/keepalived.conf"]),
        "cannot read keepalived configuration",
    );
    assert_one_line_error(&lvsdiag(&["model"]), "model needs a source");
}
