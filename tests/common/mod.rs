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
