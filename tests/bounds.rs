//! Memory stays bounded by the documented caps, whatever the input:
//! a 1 M-flow SYN flood, a 1 M-port UDP flood, connections carrying a
//! million segments over hours with sequence numbers wrapping, a reset
//! storm, a 100k-MAC ARP storm, 100k connections open at once, and ten
//! times the file (generated captures).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lvsdiag")
}

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsdiag-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn generate(kind: &str, n: u64) -> PathBuf {
    let p = tmpdir().join(format!("{kind}.pcap"));
    let st = Command::new(bin())
        .args(["generate", kind, &n.to_string()])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    p
}

/// Runs `lvsdiag analyze --format json` and returns the report and the
/// child's own peak RSS in KiB (wait4: not the other tests' children).
fn analyze(args: &[&str], path: &PathBuf) -> (serde_json::Value, i64) {
    use std::io::Read;
    // Reaped by wait4 below, which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(bin())
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .args(args)
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout).unwrap();
    let stderr = e.join().unwrap();
    // SAFETY: wait4 reaps our own child and only writes into the locals we pass.
    let (status, rss) = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let mut st = 0;
        let r = libc::wait4(child.id() as libc::pid_t, &mut st, 0, &mut ru);
        assert_eq!(r, child.id() as libc::pid_t);
        (st, ru.ru_maxrss)
    };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{stderr}"
    );
    (serde_json::from_slice(&stdout).unwrap(), rss)
}

#[test]
fn syn_flood_of_a_million_flows_stays_under_the_flow_cap() {
    let p = generate("syn-flood", 1_000_000);
    let (v, rss) = analyze(&[], &p);
    let t = &v["totals"];
    assert_eq!(t["packets"], 1_000_000);
    assert_eq!(t["connections"], 1_000_000);
    assert_eq!(t["peak_flows"], 100_000, "the default cap");
    assert_eq!(t["evicted_flows"], 900_000);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("evicted")),
        "evictions are reported"
    );
    assert!(rss < 96 * 1024, "peak RSS {rss} KiB");
    // A smaller cap holds.
    let (v, _) = analyze(&["--max-flows", "1000"], &p);
    assert_eq!(v["totals"]["peak_flows"], 1000);
    std::fs::remove_file(p).ok();
}

#[test]
fn udp_flood_of_a_million_client_ports_stays_under_the_flow_cap() {
    let p = generate("udp-flood", 1_000_000);
    let (v, rss) = analyze(&[], &p);
    let t = &v["totals"];
    assert_eq!(t["packets"], 1_000_000);
    assert_eq!(t["connections"], 1_000_000, "each client port is a flow");
    assert_eq!(t["peak_flows"], 100_000, "the default cap");
    assert_eq!(t["evicted_flows"], 900_000);
    assert_eq!(v["services"][0]["service"], "192.0.2.100:53/udp");
    assert!(rss < 96 * 1024, "peak RSS {rss} KiB");
    std::fs::remove_file(p).ok();
}

#[test]
fn a_million_segments_over_hours_with_sequence_wrap_stay_small_and_healthy() {
    let p = generate("long-lived", 1_000_000);
    let (v, rss) = analyze(&[], &p);
    let t = &v["totals"];
    assert_eq!(t["packets"], 3_000_050);
    assert_eq!(t["connections"], 10);
    assert_eq!(t["peak_flows"], 10);
    // Wrapping past 2^32 is not a retransmission, hours are no idle timeout.
    assert_eq!(v["findings"], serde_json::json!([]), "{}", v["findings"]);
    assert_eq!(v["services"][0]["established"], 10);
    // Memory is the process's, not the capture's (200 MB of segments).
    assert!(rss < 32 * 1024, "peak RSS {rss} KiB");
    std::fs::remove_file(p).ok();
}

#[test]
fn a_reset_storm_is_counted_not_kept() {
    let p = generate("rst-storm", 1_000_000);
    let (v, rss) = analyze(&[], &p);
    let t = &v["totals"];
    assert_eq!(t["packets"], 1_000_050);
    assert_eq!(t["connections"], 10);
    assert_eq!(
        t["untracked_tcp_packets"], 500_000,
        "resets to no connection"
    );
    assert!(rss < 32 * 1024, "peak RSS {rss} KiB");
    std::fs::remove_file(p).ok();
}

#[test]
fn arp_storm_of_100k_macs_is_bounded_and_still_flags_the_vip() {
    let p = generate("arp-storm", 100_000);
    let (v, rss) = analyze(&["--vip", "192.0.2.100:80"], &p);
    assert_eq!(v["totals"]["packets"], 200_000);
    let f = v["findings"].as_array().unwrap();
    assert!(
        f.iter()
            .any(|f| f["code"] == "vip-arp-multiple-owners" && f["severity"] == "error"),
        "the conflict is still reported: {f:?}"
    );
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("not tracked")),
        "dropped claims are reported"
    );
    assert!(rss < 96 * 1024, "peak RSS {rss} KiB");
    std::fs::remove_file(p).ok();
}

/// A hundred thousand connections that stay open (handshake and data, no
/// FIN; one in twenty failed): all tracked at once, bounded by the flow cap
/// at about 2 KB each, and the broken real server still found.
#[test]
fn a_hundred_thousand_open_connections_are_tracked_within_bounds() {
    let p = generate("dr-open", 100_000);
    let (v, rss) = analyze(&[], &p);
    let t = &v["totals"];
    assert_eq!(t["connections"], 100_000);
    assert_eq!(t["peak_flows"], 100_000, "all live at once");
    assert_eq!(t["evicted_flows"], 0);
    let codes = common::codes(&v);
    assert!(codes.contains(&"dr-rs-no-reply"), "{codes:?}");
    assert!(rss < 256 * 1024, "peak RSS {rss} KiB");
    std::fs::remove_file(p).ok();
}

/// Memory is bounded by live flows, not by the file: ten times the
/// connections (and the file) stays under the same 64 MB.
#[test]
fn memory_stays_flat_at_ten_times_the_file() {
    let small = generate("dr", 20_000);
    let (_, rss1) = analyze(&[], &small);
    std::fs::remove_file(small).ok();
    let big = generate("dr", 200_000);
    let (v, rss10) = analyze(&[], &big);
    std::fs::remove_file(big).ok();
    assert_eq!(v["totals"]["connections"], 200_000);
    assert!(rss10 < 64 * 1024, "peak RSS at 10x: {rss10} KiB");
    assert!(
        rss10 < rss1 + rss1 / 2,
        "peak RSS {rss1} KiB at 1x, {rss10} KiB at 10x"
    );
}
