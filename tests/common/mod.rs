//! Helpers the integration tests share (each test file uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A fixture's capture files, sorted.
pub fn pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    v.sort();
    v
}

/// A JSON report's findings as sorted "code severity service real_server" lines.
pub fn findings(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}",
                f["code"].as_str().unwrap_or(""),
                f["severity"].as_str().unwrap_or(""),
                f["service"].as_str().unwrap_or(""),
                f["real_server"].as_str().unwrap_or("")
            )
        })
        .collect();
    out.sort();
    out
}

/// The finding codes of a JSON report, in report order.
pub fn codes(v: &serde_json::Value) -> Vec<&str> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or(""))
        .collect()
}
pub mod netns;
pub mod rewrite;
pub mod tui;

/// Findings at warning and above as (code, severity, real server).
pub type Got = std::collections::BTreeSet<(String, String, String)>;

/// An analysis' findings at warning and above.
pub fn got(a: &lvsdiag::engine::Analysis) -> Got {
    a.findings
        .iter()
        .filter(|f| f.severity >= lvsdiag::finding::Severity::Warning)
        .map(|f| {
            (
                f.code.to_string(),
                f.severity.as_str().to_string(),
                f.rs_label().unwrap_or_default(),
            )
        })
        .collect()
}

/// A list's (code, severity, real server) entries: `findings` or
/// `findings_with_snapshots` of an expected.json.
pub fn expected_set(v: &serde_json::Value, key: &str) -> Got {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} list"))
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["real_server"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every finding of an analysis, a line each, for failure messages.
pub fn describe(a: &lvsdiag::engine::Analysis) -> String {
    a.findings
        .iter()
        .map(|f| {
            format!(
                "  {} {} [{}] {}",
                f.severity,
                f.code,
                f.rs_label().unwrap_or_else(|| "-".into()),
                f.summary
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
