//! Capture points on different hosts disagree on the time by milliseconds
//! (NTP), and live points are stamped as their packets arrive. Every
//! fixture gives the same findings with each point's clock shifted (each point a
//! step of 3 ms or 50 ms from the next, either way round, with editcap): which copy of a packet
//! was stamped first must not decide the diagnosis. (Found live: a NAT
//! director's rewritten SYN stamped before the client's own made the real
//! server's address look like the VIP.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn findings(dir: &Path) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_lvsdiag"))
        .args(["analyze", "--format", "json", "--fail-on", "never"])
        .arg(dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    common::findings(&v)
}

#[test]
fn findings_do_not_depend_on_which_point_stamped_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let tmp = std::env::temp_dir().join(format!("lvsdiag-skew-{}", std::process::id()));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut failed = Vec::new();
    let mut checked = 0;
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        if files.is_empty() {
            continue;
        }
        files.sort();
        let want = findings(&dir);
        // Each point a step apart, the first earliest and then the last
        // earliest: some copy of every packet gets stamped first.
        for scale_ms in [3.0, -3.0, 50.0, -50.0] {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).unwrap();
            for (i, f) in files.iter().enumerate() {
                let out = tmp.join(f.file_name().unwrap());
                let off = (i as f64 - (files.len() - 1) as f64 / 2.0) * scale_ms / 1000.0;
                let empty = std::fs::metadata(f).unwrap().len() <= 24;
                let ok = if empty {
                    std::fs::copy(f, &out).is_ok()
                } else {
                    Command::new("editcap")
                        .args(["-F", "pcap", "-t", &format!("{off}")])
                        .arg(f)
                        .arg(&out)
                        .status()
                        .expect("editcap (wireshark-common) runs")
                        .success()
                };
                assert!(ok, "{}", f.display());
            }
            let got = findings(&tmp);
            checked += 1;
            if got != want {
                failed.push(format!(
                    "{} (steps of {scale_ms} ms):\n  want {want:?}\n  got  {got:?}",
                    dir.display()
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(checked >= 60);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
