//! A capture point is (source, interface): a pcapng file with several
//! interfaces (mergecap, dumpcap -i a -i b, lvsdiag's own capture/export)
//! gives the same findings as the directory of its separate files.

mod common;

use common::{findings, fixture, pcaps};
use std::path::Path;
use std::process::Command;

fn lvsdiag(args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(args)
        .output()
        .expect("runs");
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("json")
}

fn json(args: &[&str]) -> Vec<String> {
    let mut a = vec!["analyze", "--format", "json", "--fail-on", "never"];
    a.extend_from_slice(args);
    findings(&lvsdiag(&a))
}

const FIXTURES: [&str; 6] = [
    "dr-healthy",
    "dr-rs-no-vip",
    "nat-healthy",
    "nat-rs-bypass",
    "tun-healthy",
    "tun-rp-filter",
];

#[test]
fn a_mergecap_pcapng_of_every_point_gives_the_findings_of_the_directory() {
    let tmp = std::env::temp_dir().join(format!("lvsdiag-points-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in FIXTURES {
        let dir = fixture(name);
        let merged = tmp.join(format!("{name}.pcapng"));
        let mut cmd = Command::new("mergecap");
        cmd.args(["-I", "none", "-F", "pcapng", "-w"]).arg(&merged);
        cmd.args(pcaps(&dir));
        let ok = cmd.status().expect("mergecap (wireshark-common) runs");
        assert!(ok.success());
        let want = json(&[dir.to_str().unwrap()]);
        let v = lvsdiag(&[
            "analyze",
            "--format",
            "json",
            "--fail-on",
            "never",
            merged.to_str().unwrap(),
        ]);
        assert_eq!(findings(&v), want, "{name}");
        // One point per interface; mergecap names none, so STEM#ID.
        let points: Vec<&str> = v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["point"].as_str().unwrap())
            .collect();
        assert_eq!(points.len(), pcaps(&dir).len(), "{name}");
        assert_eq!(points[0], format!("{name}#0"));
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn lvsdiags_own_pcapng_reads_back_as_the_same_points_and_findings() {
    let tmp = std::env::temp_dir().join(format!("lvsdiag-capture-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in FIXTURES {
        let dir = fixture(name);
        let out = tmp.join(format!("{name}.pcapng"));
        // Every point as a command stream, written as one pcapng (the same
        // writer as the TUI's export), then analyzed.
        let mut args: Vec<String> = vec!["capture".into(), "-w".into(), out.display().to_string()];
        for f in pcaps(&dir) {
            args.push("--exec".into());
            args.push(format!(
                "{}=cat {}",
                f.file_stem().unwrap().to_string_lossy(),
                f.display()
            ));
        }
        let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let orig = lvsdiag(&[
            "analyze",
            "--format",
            "json",
            "--fail-on",
            "never",
            dir.to_str().unwrap(),
        ]);
        let back = lvsdiag(&[
            "analyze",
            "--format",
            "json",
            "--fail-on",
            "never",
            out.to_str().unwrap(),
        ]);
        assert_eq!(findings(&back), findings(&orig), "{name}");
        let names = |v: &serde_json::Value| -> Vec<(String, u64)> {
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
        assert_eq!(
            names(&back),
            names(&orig),
            "{name}: the same points, by name, with their packets"
        );
        // Evidence names the same point and time as in the originals (its
        // frame is the pcapng's own frame number, as Wireshark shows it).
        let ev = |v: &serde_json::Value| -> Vec<String> {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f["evidence"].as_array().unwrap().iter())
                .map(|e| format!("{} {}", e["point"], e["time"]))
                .collect()
        };
        assert_eq!(ev(&back), ev(&orig), "{name}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn capture_refuses_a_pcap_file_target() {
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["capture", "-w", "/tmp/x.pcap", "--exec", "a=true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(".pcapng file") && err.contains("directory"),
        "{err}"
    );
    assert!(!Path::new("/tmp/x.pcap").is_dir());
}
