//! The rules that set a firewall mark for what a service covers (read for
//! `FWM` services: address, port and protocol only).

use super::*;

/// A rule that sets a firewall mark on packets to known addresses and ports
/// (`ip daddr 192.0.2.100 tcp dport { 80, 443 } meta mark set 1`): what an
/// IPVS firewall-mark service covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkRule {
    pub mark: u32,
    /// `None`: any protocol.
    pub proto: Option<Proto>,
    pub daddrs: Vec<IpAddr>,
    /// Empty: any port.
    pub ports: Vec<u16>,
    /// The rule as nft shows it.
    pub text: String,
}

/// The rules of an `nft -j list ruleset` document that set a mark and match
/// only on the destination address, the destination port and the protocol,
/// so that what they mark can be read off them (any other match: the rule
/// is left out, never guessed at).
pub fn mark_rules(doc: &Value) -> Vec<MarkRule> {
    let Some(items) = doc.get("nftables").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for expr in items
        .iter()
        .filter_map(|it| it.get("rule"))
        .filter_map(|r| r.get("expr").and_then(Value::as_array))
    {
        let mut r = MarkRule {
            mark: 0,
            proto: None,
            daddrs: Vec::new(),
            ports: Vec::new(),
            text: rule_text(expr),
        };
        let mut mark = None;
        let mut decidable = true;
        for e in expr {
            let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match k.as_str() {
                "mangle" => {
                    let is_mark = v
                        .get("key")
                        .and_then(|k| k.get("meta"))
                        .and_then(|m| m.get("key"))
                        == Some(&Value::from("mark"));
                    if is_mark {
                        mark = v
                            .get("value")
                            .and_then(Value::as_u64)
                            .and_then(|m| u32::try_from(m).ok());
                    }
                }
                "match" => decidable &= mark_match(v, &mut r),
                _ => {}
            }
        }
        if let (Some(m), true, false) = (mark, decidable, r.daddrs.is_empty()) {
            r.mark = m;
            out.push(r);
        }
    }
    out
}

/// One match of a mark rule, if it is on the destination address, the
/// destination port or the protocol; `false` for any other.
pub(super) fn mark_match(m: &Value, r: &mut MarkRule) -> bool {
    if !matches!(
        m.get("op").and_then(Value::as_str),
        Some("==" | "in") | None
    ) {
        return false;
    }
    let (Some(left), Some(right)) = (m.get("left"), m.get("right")) else {
        return false;
    };
    let values: Vec<&Value> = match right.get("set").and_then(Value::as_array) {
        Some(s) => s.iter().collect(),
        None => vec![right],
    };
    if let Some(pl) = left.get("payload") {
        let s = |k: &str| pl.get(k).and_then(Value::as_str).unwrap_or("");
        return match (s("protocol"), s("field")) {
            ("ip" | "ip6", "daddr") => {
                let a: Option<Vec<IpAddr>> =
                    values.iter().map(|v| v.as_str()?.parse().ok()).collect();
                a.map(|a| r.daddrs.extend(a)).is_some()
            }
            (p @ ("tcp" | "udp" | "th"), "dport") => {
                if p != "th" {
                    r.proto = Some(Proto::from(p.to_string()));
                }
                let ports: Option<Vec<u16>> = values
                    .iter()
                    .map(|v| u16::try_from(v.as_u64()?).ok())
                    .collect();
                ports.map(|p| r.ports.extend(p)).is_some()
            }
            _ => false,
        };
    }
    if left
        .get("meta")
        .and_then(|m| m.get("key"))
        .and_then(Value::as_str)
        == Some("l4proto")
    {
        return match values.as_slice() {
            [v] => match v.as_str() {
                Some(p @ ("tcp" | "udp")) => {
                    r.proto = Some(Proto::from(p.to_string()));
                    true
                }
                _ => false,
            },
            _ => false,
        };
    }
    false
}
