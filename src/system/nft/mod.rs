//! The nftables ruleset, read with `nft -j list ruleset` (a read-only listing;
//! the child process inherits the calling thread's network namespace). Kept
//! in snapshots as nft's own JSON (libnftables-json(5)); [`eval`] parses it
//! and decides a packet's fate for the checks.

pub mod eval;
pub use eval::{fate, Fate, Packet, Ruleset};

use std::io::Read;
use std::process::{Command, Stdio};

/// Rulesets larger than this are cut off and not evaluated.
const MAX_BYTES: u64 = 32 << 20;

/// `Ok(None)`: no `nft` binary (the firewall is not read; said as a warning
/// by the caller). `Err`: nft ran and failed (e.g. no CAP_NET_ADMIN).
pub fn read() -> Result<Option<serde_json::Value>, String> {
    let Some(bin) = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return Ok(None);
    };
    let mut child = Command::new(bin)
        .args(["-j", "list", "ruleset"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    // stderr on its own thread, so a chatty nft cannot block on a full pipe.
    let err_reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut err = String::new();
            let _ = (&mut e).take(64 << 10).read_to_string(&mut err);
            err
        })
    });
    let mut out = Vec::new();
    let read = child
        .stdout
        .take()
        .map(|s| s.take(MAX_BYTES + 1).read_to_end(&mut out));
    let too_big = out.len() as u64 > MAX_BYTES;
    if too_big {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("{bin}: {e}"))?;
    let err = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
    if too_big {
        return Err(format!(
            "nft ruleset larger than {} MiB; not read",
            MAX_BYTES >> 20
        ));
    }
    if let Some(Err(e)) = read {
        return Err(format!("reading {bin}'s output: {e}"));
    }
    if !status.success() {
        let first = err.lines().next().unwrap_or("").trim();
        return Err(format!(
            "nft list ruleset failed ({status}): {}",
            crate::text::sanitize(first)
        ));
    }
    // An empty ruleset may print nothing at all on old nft versions.
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(serde_json::json!({"nftables": []})));
    }
    serde_json::from_slice(&out)
        .map(Some)
        .map_err(|e| format!("nft -j output is not JSON: {e}"))
}

/// The rules that rewrite a packet's source (`masquerade`, `snat`), each
/// as `table <family> <table>, chain <chain>: <action>`, from a ruleset as
/// `nft -j list ruleset` prints it (iptables-nft rules included).
pub fn source_nat_rules(doc: &serde_json::Value) -> Vec<String> {
    let Some(items) = doc.get("nftables").and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in items.iter().filter_map(|i| i.get("rule")) {
        let Some(exprs) = rule.get("expr").and_then(|e| e.as_array()) else {
            continue;
        };
        let action = exprs.iter().find_map(|e| {
            let o = e.as_object()?;
            ["masquerade", "snat"]
                .into_iter()
                .find(|k| o.contains_key(*k))
        });
        if let Some(a) = action {
            let s = |k: &str| rule.get(k).and_then(|v| v.as_str()).unwrap_or("?");
            out.push(format!(
                "table {} {}, chain {}: {a}",
                s("family"),
                s("table"),
                s("chain")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masquerade_and_snat_rules_are_found_with_their_chain() {
        let doc: serde_json::Value = serde_json::from_str(
            r#"{"nftables":[{"metainfo":{"version":"1.0.6"}},
            {"table":{"family":"ip","name":"nat"}},
            {"rule":{"family":"ip","table":"nat","chain":"KUBE-POSTROUTING","handle":3,
              "expr":[{"match":{"op":"!=","left":{"&":[{"meta":{"key":"mark"}},16384]},"right":16384}},{"return":null}]}},
            {"rule":{"family":"ip","table":"nat","chain":"KUBE-POSTROUTING","handle":5,
              "expr":[{"counter":{"packets":0,"bytes":0}},{"masquerade":{"flags":"fully-random"}}]}},
            {"rule":{"family":"inet","table":"x","chain":"post","handle":7,
              "expr":[{"snat":{"addr":"192.0.2.2"}}]}},
            {"rule":{"family":"inet","table":"filter","chain":"input","handle":9,
              "expr":[{"drop":null}]}}]}"#,
        )
        .unwrap();
        assert_eq!(
            source_nat_rules(&doc),
            vec![
                "table ip nat, chain KUBE-POSTROUTING: masquerade".to_string(),
                "table inet x, chain post: snat".to_string()
            ]
        );
        assert!(source_nat_rules(&serde_json::json!({"nftables": 3})).is_empty());
    }
}
