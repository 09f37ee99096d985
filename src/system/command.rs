//! `lvsdiag snapshot` and `lvsdiag check`: which namespaces to read, where
//! the JSON (and raw netlink recordings) go, and the live cross-check.

use super::collect::{take_many, Recording};
use super::HostSnapshot;
use crate::engine::{Analysis, Engine, Options};
use crate::text::sanitize;
use std::path::Path;

/// The namespaces to read: `None` is the caller's own.
pub fn targets(netns: &[String], all_netns: bool) -> Result<Vec<Option<String>>, String> {
    if all_netns {
        let all = super::netns::list();
        if all.is_empty() {
            return Err("--all-netns: no named network namespaces (/var/run/netns is empty); use --netns NAME or no option for this host".into());
        }
        return Ok(all.into_iter().map(Some).collect());
    }
    if netns.is_empty() {
        return Ok(vec![None]);
    }
    Ok(netns.iter().cloned().map(Some).collect())
}

/// Reads every target; the snapshots and their raw netlink replies.
pub fn take(
    targets: &[Option<String>],
    record: bool,
) -> Result<Vec<(HostSnapshot, Recording)>, String> {
    take_many(targets, record)
}

/// Writes `DIR/<host>.json` for each snapshot.
pub fn write_dir(dir: &Path, snaps: &[HostSnapshot]) -> Result<(), String> {
    let shown = sanitize(&dir.display().to_string());
    std::fs::create_dir_all(dir).map_err(|e| format!("{shown}: cannot create directory: {e}"))?;
    for s in snaps {
        let f = dir.join(format!("{}.json", file_name(&s.host)));
        std::fs::write(&f, super::to_json(std::slice::from_ref(s)))
            .map_err(|e| format!("{}: cannot write: {e}", sanitize(&f.display().to_string())))?;
    }
    Ok(())
}

/// Writes the raw netlink replies as `DIR/<host>/<request>.bin`.
pub fn write_recordings(dir: &Path, taken: &[(HostSnapshot, Recording)]) -> Result<(), String> {
    for (s, rec) in taken {
        let d = dir.join(file_name(&s.host));
        std::fs::create_dir_all(&d).map_err(|e| {
            format!(
                "{}: cannot create directory: {e}",
                sanitize(&d.display().to_string())
            )
        })?;
        for (name, bytes) in rec {
            let f = d.join(format!("{name}.bin"));
            std::fs::write(&f, bytes).map_err(|e| {
                format!("{}: cannot write: {e}", sanitize(&f.display().to_string()))
            })?;
        }
    }
    Ok(())
}

/// A host name made safe as a file name.
fn file_name(host: &str) -> String {
    let s: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("host{s}")
    } else {
        s
    }
}

/// The live cross-check: the configuration checks over the snapshots, no traffic.
pub fn check(snaps: Vec<HostSnapshot>) -> Analysis {
    let model = super::to_model(&snaps);
    Engine::new(model, Options::default())
        .with_snapshots(snaps)
        .finish(Vec::new())
}
