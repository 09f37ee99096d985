//! Several live points merge like files: every fixture, replayed live at its
//! captured speed (one veth pair per capture point in a network namespace
//! this test creates, each point's pcap sent with `tcpreplay` at its own
//! offset from the first packet of the set), captured by one
//! `lvsdiag analyze -i NAME=IFACE@NETNS ...`, gives the findings that the
//! offline analysis of the same files gives, with no packet lost.
//!
//! Needs root and tcpreplay. Runs when LVSDIAG_NETNS_TESTS=1 (`.ci/run` sets
//! it); then a missing prerequisite fails the test. Without it the test
//! says on one line that it was not run. The namespace has no addresses and
//! no routes: the replayed frames go nowhere else.

mod common;

use common::netns::Netns;
use common::{findings, pcaps};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NS: &str = "lvsdiag-replay";

fn enabled() -> bool {
    match std::env::var("LVSDIAG_NETNS_TESTS") {
        Ok(v) if v == "1" => {
            // SAFETY: geteuid has no preconditions.
            assert_eq!(
                unsafe { libc::geteuid() },
                0,
                "LVSDIAG_NETNS_TESTS=1 needs root"
            );
            let ok = Command::new("tcpreplay")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                ok,
                "LVSDIAG_NETNS_TESTS=1 needs tcpreplay (apt-get install tcpreplay)"
            );
            true
        }
        _ => {
            // Straight to stderr, past the test harness's capture: a skipped run
            // must be visible.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "live_replay: not run (set LVSDIAG_NETNS_TESTS=1, as root with tcpreplay, to replay every fixture live)");
            false
        }
    }
}

/// The binary under test (LVSDIAG_REPLAY_BIN: another build, to compare).
fn bin() -> String {
    std::env::var("LVSDIAG_REPLAY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lvsdiag").into())
}

/// The first packet's time of a capture file, in nanoseconds.
fn first_ts(path: &Path) -> Option<i64> {
    let mut c = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).ok()?;
    let p = c.next_packet().ok()?;
    Some(p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec)
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Replays one fixture live and returns (offline, live) reports.
fn replay(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let files = pcaps(dir);
    let _ns = Netns::new(NS, files.len());
    let mut off = vec![
        "analyze".to_string(),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "never".into(),
    ];
    let mut live = off.clone();
    for (i, f) in files.iter().enumerate() {
        off.push(format!("{}={}", stem(f), f.display()));
        live.push("-i".into());
        live.push(format!("{}=b{i}@{NS}", stem(f)));
    }
    let o = Command::new(bin()).args(&off).output().expect("runs");
    let offline: serde_json::Value = serde_json::from_slice(&o.stdout).expect("offline json");

    let mut cap = Command::new(bin())
        .args(&live)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lvsdiag starts");
    // Capturing once it says so (stderr's first line).
    {
        use std::io::BufRead;
        let mut line = String::new();
        let mut err = std::io::BufReader::new(cap.stderr.take().unwrap());
        err.read_line(&mut line).unwrap();
        assert!(line.contains("capturing on"), "{}: {line}", dir.display());
    }
    let starts: Vec<Option<i64>> = files.iter().map(|f| first_ts(f)).collect();
    let t0 = starts.iter().flatten().min().copied().unwrap_or(0);
    let begin = Instant::now() + Duration::from_millis(300);
    let mut order: Vec<(Duration, usize)> = starts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (Duration::from_nanos((s - t0) as u64), i)))
        .collect();
    order.sort();
    let mut senders: Vec<Child> = Vec::new();
    for (at, i) in order {
        let when = begin + at;
        let now = Instant::now();
        if when > now {
            std::thread::sleep(when - now);
        }
        senders.push(common::netns::replay(NS, i, &files[i]));
    }
    for mut s in senders {
        assert!(
            s.wait().unwrap().success(),
            "tcpreplay failed in {}",
            dir.display()
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signals our own child.
    unsafe { libc::kill(cap.id() as libc::pid_t, libc::SIGINT) };
    let out = cap.wait_with_output().expect("lvsdiag ends");
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: live json: {e}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (offline, live)
}

#[test]
fn every_fixture_replayed_live_gives_its_offline_findings() {
    if !enabled() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| !pcaps(d).is_empty())
        .collect();
    // LVSDIAG_REPLAY_ONLY=a,b: just these fixtures (by hand, when debugging).
    let only = std::env::var("LVSDIAG_REPLAY_ONLY").unwrap_or_default();
    let whole = only.is_empty();
    dirs.retain(|d| whole || only.split(',').any(|o| d.ends_with(o)));
    dirs.sort();
    assert!(
        !whole || dirs.len() >= 15,
        "fixtures with captures: {}",
        dirs.len()
    );
    let mut failed = Vec::new();
    for d in &dirs {
        let (offline, live) = replay(d);
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        // Every packet of every point arrived, and none was dropped.
        let pk = |v: &serde_json::Value| -> Vec<(String, u64)> {
            v["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["point"].as_str().unwrap().to_string(),
                        i["packets"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        let drops: u64 = live["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                ["kernel_drops", "interface_drops", "lvsdiag_drops"]
                    .iter()
                    .map(|k| i["live"][k].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .sum();
        let (fo, fl) = (findings(&offline), findings(&live));
        eprintln!(
            "{name}: offline {} finding(s), live {} ({} drops)",
            fo.len(),
            fl.len(),
            drops
        );
        if pk(&offline) != pk(&live) || drops != 0 || fo != fl {
            failed.push(format!(
                "{name}:\n  packets offline {:?}\n  packets live    {:?}\n  drops {drops}\n  offline {fo:?}\n  live    {fl:?}",
                pk(&offline),
                pk(&live)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "live replay differs:\n{}",
        failed.join("\n")
    );
}

/// Sends one Ethernet frame on `iface` (in this thread's namespace).
fn send_frame(iface: &str) {
    let frame: Vec<u8> = [
        &[0x02, 0, 0, 0, 0, 0x01][..], // dst
        &[0x02, 0, 0, 0, 0, 0x02],     // src
        &[0x88, 0xb5],                 // local experimental ethertype
        &[0u8; 46],
    ]
    .concat();
    // SAFETY: a raw packet socket, bound to one interface, sends one frame.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "packet socket");
        let name = std::ffi::CString::new(iface).unwrap();
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        addr.sll_halen = 6;
        let n = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        libc::close(fd);
        assert_eq!(n as usize, frame.len(), "sent");
    }
}

/// A quiet interface's packet reaches the analysis within about 100 ms,
/// with a second, idle interface open beside it (whose heartbeats the merge
/// waits for).
#[test]
fn a_quiet_interface_delivers_within_100_ms() {
    if !enabled() {
        return;
    }
    use lvsdiag::source::live::{CaptureOptions, Spec, Streams};
    const QUIET: &str = "lvsdiag-quiet";
    let _ns = Netns::new(QUIET, 2);
    let specs = vec![
        Spec::interface(&format!("b0@{QUIET}"), None).unwrap(),
        Spec::interface(&format!("b1@{QUIET}"), None).unwrap(),
    ];
    let mut s = Streams::open(specs, &CaptureOptions::default()).expect("capture opens");
    let mut out = Vec::new();
    // Let both settle (heartbeats flowing).
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        s.poll(Duration::from_millis(20), &mut out);
    }
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        out.clear();
        let sent = std::thread::scope(|sc| {
            sc.spawn(|| {
                lvsdiag::source::live::enter_netns(QUIET).unwrap();
                let t = Instant::now();
                send_frame("a0");
                t
            })
            .join()
            .unwrap()
        });
        while out.is_empty() && sent.elapsed() < Duration::from_secs(2) {
            s.poll(Duration::from_millis(5), &mut out);
        }
        assert_eq!(out.len(), 1, "the frame arrives, alone");
        worst = worst.max(sent.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    s.stop();
    let _ = writeln_stderr(&format!("quiet interface: worst delivery {worst:?}"));
    assert!(
        worst <= Duration::from_millis(150),
        "worst delivery {worst:?}"
    );
}

fn writeln_stderr(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{s}")
}
