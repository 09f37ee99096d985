//! `rs-firewall-drops`: a real server's nftables ruleset drops (or rejects)
//! the connections the director forwards to it: a base chain on the
//! prerouting or input hook has a rule that matches them with a drop/reject
//! verdict, or a drop policy that nothing before lets them through.
//!
//! The ruleset is evaluated for the packet the real server receives (TCP SYN,
//! connection tracking state `new`, to the VIP in DR/TUN or the RIP in NAT,
//! on its RIP interface) as far as it can be decided from the snapshot. A
//! rule whose match cannot be decided (client addresses, named sets, rate
//! limits, iptables-nft compat expressions) stops the evaluation: no finding
//! rather than a guess.

use super::config_view::{arrives_at, dests, line, rip_iface};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;
use crate::model::RsId;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone)]
pub struct RsFirewallDrops;

/// The packet whose fate is evaluated.
pub struct Packet {
    pub dst: IpAddr,
    pub port: u16,
    /// The interface it arrives on, when known.
    pub iif: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

struct Chain<'a> {
    family: &'a str,
    table: &'a str,
    name: &'a str,
    hook: Option<&'a str>,
    kind: Option<&'a str>,
    prio: i64,
    policy: Option<&'a str>,
    /// (handle, expressions)
    rules: Vec<(Option<i64>, &'a [Value])>,
}

/// The verdict for the packet, and the rule (or policy) that gave it.
#[derive(Debug, PartialEq)]
pub enum Fate {
    Accepted,
    /// Evidence line, and the command that removes the rule (if a rule).
    Dropped {
        what: String,
        rule: Option<String>,
        /// Rejected (ICMP unreachable, or a TCP reset), not silently dropped.
        reject: bool,
        /// Rejected with a TCP reset.
        reset: bool,
    },
    /// The ruleset cannot be decided for this packet; why.
    Undecided(String),
}

/// How a chain ends for the packet: accepted (the next base chain still
/// sees it), fallen through (policy or caller decides), or decided for good
/// (dropped, or undecidable).
enum Outcome {
    Accept,
    Continue,
    Final(Fate),
}

const MAX_DEPTH: usize = 16;
/// Rules evaluated for one packet at most (jumps can revisit chains).
const MAX_STEPS: usize = 100_000;

/// Evaluates an `nft -j list ruleset` document for `p`.
pub fn fate(ruleset: &Value, p: &Packet) -> Fate {
    let Some(items) = ruleset.get("nftables").and_then(Value::as_array) else {
        return Fate::Undecided("not an nft -j ruleset".into());
    };
    // Tables switched off (`flags dormant`) do not see packets.
    let dormant: Vec<(&str, &str)> = items
        .iter()
        .filter_map(|it| it.get("table"))
        .filter(|t| {
            let f = t.get("flags");
            f.and_then(Value::as_str) == Some("dormant")
                || f.and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("dormant")))
        })
        .map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
            (s("family"), s("name"))
        })
        .collect();
    if may_redirect(ruleset) {
        return Fate::Undecided(
            "the ruleset rewrites destinations (dnat, redirect, tproxy or an iptables target): the packet's fate depends on where it goes".into(),
        );
    }
    let mut chains: Vec<Chain> = Vec::new();
    let mut index: Index = HashMap::new();
    for it in items {
        if let Some(c) = it.get("chain") {
            let s = |k: &str| c.get(k).and_then(Value::as_str);
            let key = (
                s("family").unwrap_or(""),
                s("table").unwrap_or(""),
                s("name").unwrap_or(""),
            );
            if dormant.contains(&(key.0, key.1)) || index.contains_key(&key) {
                continue;
            }
            index.insert(key, chains.len());
            chains.push(Chain {
                family: s("family").unwrap_or(""),
                table: s("table").unwrap_or(""),
                name: s("name").unwrap_or(""),
                hook: s("hook"),
                kind: s("type"),
                prio: c.get("prio").and_then(Value::as_i64).unwrap_or(0),
                policy: s("policy"),
                rules: Vec::new(),
            });
        }
    }
    for it in items {
        if let Some(r) = it.get("rule") {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            let (f, t, n) = (s("family"), s("table"), s("chain"));
            if let Some(c) = index.get(&(f, t, n)).and_then(|&i| chains.get_mut(i)) {
                let expr = r
                    .get("expr")
                    .and_then(Value::as_array)
                    .map_or(&[][..], |v| v);
                c.rules
                    .push((r.get("handle").and_then(Value::as_i64), expr));
            }
        }
    }
    let fam_ok = |f: &str| f == "inet" || f == if p.dst.is_ipv6() { "ip6" } else { "ip" };
    let mut base: Vec<&Chain> = chains
        .iter()
        .filter(|c| fam_ok(c.family) && c.kind.is_none_or(|k| k == "filter"))
        .filter(|c| matches!(c.hook, Some("prerouting" | "input")))
        .collect();
    base.sort_by_key(|c| (c.hook != Some("prerouting"), c.prio));
    let mut steps = 0;
    for c in base {
        // Before conntrack (priority -200) every packet's state is unknown here.
        let ct = c.prio > -200;
        match eval_chain(&chains, &index, c, p, ct, 0, &mut steps) {
            Outcome::Accept | Outcome::Continue if c.policy != Some("drop") => {}
            Outcome::Accept => {}
            Outcome::Continue => {
                return Fate::Dropped {
                    what: format!(
                        "nft {} {} {}: hook {}, policy drop, and no rule accepts TCP to {}",
                        c.family,
                        c.table,
                        c.name,
                        c.hook.unwrap_or("?"),
                        SocketAddr::new(p.dst, p.port)
                    ),
                    rule: None,
                    reject: false,
                    reset: false,
                }
            }
            Outcome::Final(f) => return f,
        }
    }
    Fate::Accepted
}

fn undecided(why: String) -> Outcome {
    Outcome::Final(Fate::Undecided(why))
}

/// Chains by (family, table, name).
type Index<'a> = HashMap<(&'a str, &'a str, &'a str), usize>;

/// Whether a rule anywhere in an `nft -j` ruleset rewrites where packets go
/// (then neither the firewall's verdict nor the listening socket can be read
/// off the snapshot).
pub fn may_redirect(ruleset: &Value) -> bool {
    ruleset
        .get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|it| it.get("rule"))
        .filter_map(|r| r.get("expr").and_then(Value::as_array))
        .flatten()
        .filter_map(|e| e.as_object().and_then(|o| o.keys().next()))
        .any(|k| matches!(k.as_str(), "dnat" | "redirect" | "tproxy" | "xt"))
}

#[allow(clippy::too_many_arguments)]
fn eval_chain(
    all: &[Chain],
    index: &Index<'_>,
    c: &Chain,
    p: &Packet,
    ct: bool,
    depth: usize,
    steps: &mut usize,
) -> Outcome {
    if depth > MAX_DEPTH {
        return undecided("jumps nest too deep".into());
    }
    for (handle, exprs) in &c.rules {
        *steps += 1;
        if *steps > MAX_STEPS {
            return undecided("too many rules to evaluate".into());
        }
        let mut m = Tri::Yes;
        let mut verdict = None;
        // A statement whose effect is not modelled (a verdict map, a queue,
        // notrack, a rate limit, a set update, a mark…).
        let mut odd = false;
        for e in exprs.iter() {
            let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match k.as_str() {
                "match" => match eval_match(v, p, ct, steps) {
                    Tri::No => m = Tri::No,
                    Tri::Unknown if m == Tri::Yes => m = Tri::Unknown,
                    _ => {}
                },
                "counter" | "log" | "comment" => {}
                "accept" | "drop" | "reject" | "return" | "continue" | "jump" | "goto" => {
                    verdict = Some((k.as_str(), v));
                    break;
                }
                _ => odd = true,
            }
        }
        if odd && m != Tri::No {
            return undecided(format!(
                "nft {} {} {}: `{}` is not evaluated",
                c.family,
                c.table,
                c.name,
                rule_text(exprs)
            ));
        }
        let Some((verdict, arg)) = verdict else {
            continue;
        };
        let text = || rule_text(exprs);
        let rule_ref = || {
            handle.map(|h| {
                format!(
                    "nft delete rule {} {} {} handle {h}",
                    c.family, c.table, c.name
                )
            })
        };
        match m {
            Tri::No => continue,
            Tri::Unknown => {
                return undecided(format!(
                    "nft {} {} {}: cannot decide whether `{}` matches",
                    c.family,
                    c.table,
                    c.name,
                    text()
                ))
            }
            Tri::Yes => {}
        }
        match verdict {
            "accept" => return Outcome::Accept,
            "drop" | "reject" => {
                return Outcome::Final(Fate::Dropped {
                    what: format!(
                        "nft {} {} {} (hook {}): {}{}",
                        c.family,
                        c.table,
                        c.name,
                        c.hook.unwrap_or("none"),
                        text(),
                        handle.map_or(String::new(), |h| format!("  # handle {h}"))
                    ),
                    rule: rule_ref(),
                    reject: verdict == "reject",
                    reset: verdict == "reject"
                        && arg.get("type").and_then(Value::as_str) == Some("tcp reset"),
                })
            }
            "return" => return Outcome::Continue,
            "continue" => continue,
            _ => {
                let target = arg.get("target").and_then(Value::as_str).unwrap_or("");
                let Some(t) = index
                    .get(&(c.family, c.table, target))
                    .and_then(|&i| all.get(i))
                else {
                    return undecided(format!("jump to unknown chain {target}"));
                };
                match eval_chain(all, index, t, p, ct, depth + 1, steps) {
                    Outcome::Continue if verdict == "jump" => continue,
                    other => return other,
                }
            }
        }
    }
    Outcome::Continue
}

/// What the packet has for a match's left-hand side.
enum Val {
    Num(u64),
    /// Protocol or state names; any of them matching counts.
    Names(Vec<&'static str>),
    Str(String),
    Addr(IpAddr),
}

fn packet_value(left: &Value, p: &Packet, ct: bool) -> Result<Val, Tri> {
    let v6 = p.dst.is_ipv6();
    if let Some(pl) = left.get("payload") {
        let proto = pl.get("protocol").and_then(Value::as_str).unwrap_or("");
        let field = pl.get("field").and_then(Value::as_str).unwrap_or("");
        return match (proto, field) {
            ("tcp" | "th", "dport") => Ok(Val::Num(p.port.into())),
            ("udp" | "sctp" | "dccp" | "udplite" | "icmp" | "icmpv6", _) => Err(Tri::No),
            ("ip", _) if v6 => Err(Tri::No),
            ("ip6", _) if !v6 => Err(Tri::No),
            ("ip", "daddr") | ("ip6", "daddr") => Ok(Val::Addr(p.dst)),
            ("ip", "protocol") | ("ip6", "nexthdr") => Ok(Val::Names(vec!["tcp", "6"])),
            _ => Err(Tri::Unknown),
        };
    }
    if let Some(meta) = left.get("meta") {
        return match meta.get("key").and_then(Value::as_str).unwrap_or("") {
            "l4proto" => Ok(Val::Names(vec!["tcp", "6"])),
            "nfproto" => Ok(Val::Names(vec![if v6 { "ipv6" } else { "ipv4" }])),
            "protocol" => Ok(Val::Names(vec![if v6 { "ip6" } else { "ip" }])),
            "iifname" | "iif" => match &p.iif {
                Some(i) => Ok(Val::Str(i.clone())),
                None => Err(Tri::Unknown),
            },
            "iiftype" if p.iif.is_some() => Ok(Val::Names(vec!["ether", "1"])),
            "pkttype" => Ok(Val::Names(vec!["host", "unicast"])),
            _ => Err(Tri::Unknown),
        };
    }
    if let Some(c) = left.get("ct") {
        return match c.get("key").and_then(Value::as_str).unwrap_or("") {
            "state" if ct => Ok(Val::Names(vec!["new"])),
            _ => Err(Tri::Unknown),
        };
    }
    Err(Tri::Unknown)
}

/// Does one right-hand element (scalar, range, prefix) hold the value?
fn element(val: &Val, r: &Value) -> Tri {
    if let Some(range) = r.get("range").and_then(Value::as_array) {
        return match (val, range.first(), range.get(1)) {
            (Val::Num(n), Some(a), Some(b)) => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) => Tri::from(a <= *n && *n <= b),
                _ => Tri::Unknown,
            },
            (Val::Addr(ip), Some(a), Some(b)) => {
                match (
                    a.as_str().and_then(|s| s.parse::<IpAddr>().ok()),
                    b.as_str().and_then(|s| s.parse::<IpAddr>().ok()),
                ) {
                    (Some(a), Some(b)) => Tri::from(a <= *ip && *ip <= b),
                    _ => Tri::Unknown,
                }
            }
            _ => Tri::Unknown,
        };
    }
    if let Some(pf) = r.get("prefix") {
        let addr = pf
            .get("addr")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let len = pf.get("len").and_then(Value::as_u64);
        return match (val, addr, len) {
            (Val::Addr(ip), Some(a), Some(l)) if l <= 128 => {
                Tri::from(crate::system::prefix_contains(a, l as u8, *ip))
            }
            _ => Tri::Unknown,
        };
    }
    match val {
        Val::Num(n) => match r.as_u64() {
            Some(x) => Tri::from(x == *n),
            None => Tri::Unknown, // a service name, a named set
        },
        Val::Names(names) => {
            let s = match r {
                Value::String(s) => s.to_ascii_lowercase(),
                Value::Number(n) => n.to_string(),
                _ => return Tri::Unknown,
            };
            if s.starts_with('@') {
                return Tri::Unknown;
            }
            Tri::from(names.iter().any(|n| *n == s))
        }
        Val::Str(name) => match r.as_str() {
            Some(s) if s.starts_with('@') || s.contains('*') => Tri::Unknown,
            Some(s) => Tri::from(s == name),
            None => Tri::Unknown,
        },
        Val::Addr(ip) => match r.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
            Some(a) => Tri::from(a == *ip),
            None => Tri::Unknown,
        },
    }
}

fn eval_match(m: &Value, p: &Packet, ct: bool, steps: &mut usize) -> Tri {
    let (Some(left), Some(right)) = (m.get("left"), m.get("right")) else {
        return Tri::Unknown;
    };
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let val = match packet_value(left, p, ct) {
        Ok(v) => v,
        Err(t) => return t,
    };
    let elems: Vec<&Value> = match right.get("set").and_then(Value::as_array) {
        Some(s) => s.iter().collect(),
        None => match right {
            // Flags (`ct state established,related`) come as a list: with
            // `in` any of them, with `==` all of them at once.
            Value::Array(a) if op == "in" || a.len() < 2 => a.iter().collect(),
            Value::Array(_) => return Tri::Unknown,
            r => vec![r],
        },
    };
    *steps += elems.len();
    if *steps > MAX_STEPS {
        return Tri::Unknown;
    }
    let mut any = Tri::No;
    for e in elems {
        match element(&val, e) {
            Tri::Yes => {
                any = Tri::Yes;
                break;
            }
            Tri::Unknown => any = Tri::Unknown,
            Tri::No => {}
        }
    }
    match op {
        "==" | "in" => any,
        "!=" => any.not(),
        _ => Tri::Unknown,
    }
}

/// A rule in nft's own syntax, as far as it can be rendered.
fn rule_text(exprs: &[Value]) -> String {
    fn val(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(a) => a.iter().map(val).collect::<Vec<_>>().join(", "),
            Value::Object(o) => {
                if let Some(s) = o.get("set") {
                    format!("{{ {} }}", val(s))
                } else if let Some(Value::Array(r)) = o.get("range") {
                    r.iter().map(val).collect::<Vec<_>>().join("-")
                } else if let Some(p) = o.get("prefix") {
                    format!(
                        "{}/{}",
                        p.get("addr").map(val).unwrap_or_default(),
                        p.get("len").map(val).unwrap_or_default()
                    )
                } else if let Some(p) = o.get("payload") {
                    format!(
                        "{} {}",
                        p.get("protocol").map(val).unwrap_or_default(),
                        p.get("field").map(val).unwrap_or_default()
                    )
                } else if let Some(m) = o.get("meta") {
                    format!("meta {}", m.get("key").map(val).unwrap_or_default())
                } else if let Some(c) = o.get("ct") {
                    format!("ct {}", c.get("key").map(val).unwrap_or_default())
                } else {
                    o.keys().next().cloned().unwrap_or_default()
                }
            }
            _ => String::new(),
        }
    }
    let mut out = Vec::new();
    for e in exprs {
        let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        out.push(match k.as_str() {
            "match" => {
                let op = v.get("op").and_then(Value::as_str).unwrap_or("==");
                let l = v.get("left").map(val).unwrap_or_default();
                let r = v.get("right").map(val).unwrap_or_default();
                match op {
                    "==" | "in" => format!("{l} {r}"),
                    op => format!("{l} {op} {r}"),
                }
            }
            "jump" | "goto" => format!(
                "{k} {}",
                v.get("target").and_then(Value::as_str).unwrap_or("?")
            ),
            k => k.to_string(),
        });
    }
    let mut text = out.join(" ");
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    crate::text::sanitize(&text)
}

impl Check for RsFirewallDrops {
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for mode in [Mode::Dr, Mode::Tun, Mode::Nat] {
            for (svc, vip, rs, h) in dests(ctx, mode) {
                let Some(ruleset) = &h.nftables else {
                    continue;
                };
                if svc.key.proto() != Some(crate::model::Proto::Tcp) {
                    continue; // the evaluator models TCP only
                }
                let (dst, Some(port)) = arrives_at(svc, vip, rs) else {
                    continue;
                };
                let iif = match mode {
                    Mode::Tun => None, // decapsulated: arrives on the tunnel device
                    _ => rip_iface(h, rs.addr).map(str::to_string),
                };
                let p = Packet { dst, port, iif };
                let Fate::Dropped {
                    what,
                    rule,
                    reject,
                    reset,
                } = fate(ruleset, &p)
                else {
                    continue;
                };
                let verb = if reject { "rejects" } else { "drops" };
                let target = SocketAddr::new(dst, port);
                let allow = match dst {
                    IpAddr::V4(_) => format!("ip daddr {dst} tcp dport {port} accept"),
                    IpAddr::V6(_) => format!("ip6 daddr {dst} tcp dport {port} accept"),
                };
                let fix = match &rule {
                    Some(del) => format!(
                        "On {}: {del} (or let the service in before it with nft insert rule … {allow}); persist it in /etc/nftables.conf",
                        h.host
                    ),
                    None => format!(
                        "On {}: nft insert rule … {allow} in that chain; persist it in /etc/nftables.conf",
                        h.host
                    ),
                };
                out.push(
                    Finding::new(
                        "rs-firewall-drops",
                        Severity::Error,
                        format!(
                            "{} ({}) firewall {} the connections the director forwards to {target}",
                            rs.addr, h.host, verb
                        ),
                    )
                    .cause(format!(
                        "Its nftables ruleset {verb} TCP SYNs to {target}{}: {}",
                        if mode == Mode::Nat {
                            ""
                        } else {
                            " (the VIP: DR/TUN keep the destination address)"
                        },
                        if reset {
                            "the clients get a TCP reset"
                        } else if reject {
                            "the clients get an ICMP port unreachable"
                        } else {
                            "the clients retransmit and time out"
                        }
                    ))
                    .config([line(h, what)])
                    .fix(fix)
                    .service(svc.key)
                    .real_server(RsId::Ip(rs.addr)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pkt() -> Packet {
        Packet {
            dst: "192.0.2.100".parse().unwrap(),
            port: 80,
            iif: Some("eth0".into()),
        }
    }

    fn ruleset(policy: &str, rules: Vec<Value>) -> Value {
        let mut items = vec![
            json!({"metainfo": {"version": "1.0.6"}}),
            json!({"table": {"family": "inet", "name": "filter", "handle": 1}}),
            json!({"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1,
                   "type": "filter", "hook": "input", "prio": 0, "policy": policy}}),
        ];
        for (i, r) in rules.into_iter().enumerate() {
            items.push(
                json!({"rule": {"family": "inet", "table": "filter", "chain": "input",
                              "handle": i + 2, "expr": r}}),
            );
        }
        json!({ "nftables": items })
    }

    fn dport(v: Value) -> Value {
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": v}})
    }

    #[test]
    fn a_drop_rule_for_the_port_drops() {
        let r = ruleset("accept", vec![json!([dport(json!(80)), {"drop": null}])]);
        let Fate::Dropped {
            what, rule, reject, ..
        } = fate(&r, &pkt())
        else {
            panic!()
        };
        assert!(!reject);
        assert_eq!(
            what,
            "nft inet filter input (hook input): tcp dport 80 drop  # handle 2"
        );
        assert_eq!(
            rule.as_deref(),
            Some("nft delete rule inet filter input handle 2")
        );
    }

    #[test]
    fn other_ports_sets_ranges_and_earlier_accepts() {
        let other = ruleset("accept", vec![json!([dport(json!(22)), {"drop": null}])]);
        assert_eq!(fate(&other, &pkt()), Fate::Accepted);
        let set = ruleset(
            "accept",
            vec![
                json!([dport(json!({"set": [443, {"range": [70, 90]}]})), {"counter": null}, {"reject": null}]),
            ],
        );
        assert!(matches!(
            fate(&set, &pkt()),
            Fate::Dropped { reject: true, .. }
        ));
        let accepted_first = ruleset(
            "drop",
            vec![
                json!([{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]),
                json!([{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]),
                json!([dport(json!(80)), {"accept": null}]),
            ],
        );
        assert_eq!(fate(&accepted_first, &pkt()), Fate::Accepted);
        // The same policy-drop chain without the port rule drops by policy.
        let policy = ruleset("drop", vec![json!([dport(json!(22)), {"accept": null}])]);
        let Fate::Dropped { rule, what, .. } = fate(&policy, &pkt()) else {
            panic!()
        };
        assert!(rule.is_none() && what.contains("policy drop"), "{what}");
    }

    #[test]
    fn what_cannot_be_decided_is_not_guessed() {
        // The client address is not known from the snapshot.
        let saddr = ruleset(
            "accept",
            vec![
                json!([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "203.0.113.10"}}, {"drop": null}]),
            ],
        );
        assert!(matches!(fate(&saddr, &pkt()), Fate::Undecided(_)));
        let named = ruleset(
            "accept",
            vec![json!([dport(json!("@blocked")), {"drop": null}])],
        );
        assert!(matches!(fate(&named, &pkt()), Fate::Undecided(_)));
        // ... but a rule that cannot match this packet is passed over.
        let udp = ruleset(
            "accept",
            vec![
                json!([{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 80}}, {"drop": null}]),
            ],
        );
        assert_eq!(fate(&udp, &pkt()), Fate::Accepted);
        assert!(matches!(fate(&json!({"x": 1}), &pkt()), Fate::Undecided(_)));
    }

    #[test]
    fn unmodelled_statements_redirects_and_dormant_tables_are_not_guessed() {
        // policy drop, but a verdict map lets port 80 in.
        let vmap = ruleset(
            "drop",
            vec![
                json!([{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}},
                                  "data": {"set": [[80, {"accept": null}]]}}}]),
            ],
        );
        assert!(matches!(fate(&vmap, &pkt()), Fate::Undecided(_)));
        // notrack changes the conntrack state later rules see.
        let notrack = ruleset("drop", vec![json!([dport(json!(80)), {"notrack": null}])]);
        assert!(matches!(fate(&notrack, &pkt()), Fate::Undecided(_)));
        // A DNAT anywhere: the packet may go elsewhere.
        let mut r = ruleset("drop", vec![]);
        r["nftables"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rule": {"family": "ip", "table": "nat",
            "chain": "pre", "expr": [dport(json!(80)), {"redirect": {"port": 8080}}]}}));
        assert!(matches!(fate(&r, &pkt()), Fate::Undecided(_)));
        // A dormant table sees no packets.
        let mut r = ruleset("drop", vec![]);
        r["nftables"][1]["table"]["flags"] = json!(["dormant"]);
        assert_eq!(fate(&r, &pkt()), Fate::Accepted);
        // Before conntrack (raw priority) the state is unknown.
        let mut r = ruleset(
            "drop",
            vec![
                json!([{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established"]}}, {"accept": null}]),
            ],
        );
        r["nftables"][2]["chain"]["prio"] = json!(-300);
        assert!(matches!(fate(&r, &pkt()), Fate::Undecided(_)));
    }

    #[test]
    fn reject_kinds() {
        let icmp = ruleset("accept", vec![json!([dport(json!(80)), {"reject": null}])]);
        assert!(matches!(
            fate(&icmp, &pkt()),
            Fate::Dropped {
                reject: true,
                reset: false,
                ..
            }
        ));
        let rst = ruleset(
            "accept",
            vec![json!([dport(json!(80)), {"reject": {"type": "tcp reset"}}])],
        );
        assert!(matches!(
            fate(&rst, &pkt()),
            Fate::Dropped {
                reject: true,
                reset: true,
                ..
            }
        ));
    }

    #[test]
    fn jump_storms_are_bounded() {
        // 15 chains, each jumping 50 times into the next, the last empty:
        // 50^14 paths that all fall through, if walked naively.
        let mut items = vec![
            json!({"chain": {"family": "inet", "table": "t", "name": "c0",
            "hook": "input", "type": "filter", "prio": 0, "policy": "accept"}}),
        ];
        for i in 0..15 {
            if i > 0 {
                items.push(
                    json!({"chain": {"family": "inet", "table": "t", "name": format!("c{i}")}}),
                );
            }
            for _ in 0..50 {
                if i < 14 {
                    items.push(
                        json!({"rule": {"family": "inet", "table": "t", "chain": format!("c{i}"),
                        "expr": [{"jump": {"target": format!("c{}", i + 1)}}]}}),
                    );
                }
            }
        }
        let Fate::Undecided(why) = fate(&json!({ "nftables": items }), &pkt()) else {
            panic!()
        };
        assert_eq!(why, "too many rules to evaluate", "the step budget ends it");
    }

    #[test]
    fn jumps_into_regular_chains() {
        let mut r = ruleset("accept", vec![json!([{"jump": {"target": "web"}}])]);
        let items = r["nftables"].as_array_mut().unwrap();
        items.push(
            json!({"chain": {"family": "inet", "table": "filter", "name": "web", "handle": 9}}),
        );
        items.push(
            json!({"rule": {"family": "inet", "table": "filter", "chain": "web", "handle": 10,
                          "expr": [dport(json!(80)), {"drop": null}]}}),
        );
        assert!(matches!(fate(&r, &pkt()), Fate::Dropped { .. }));
    }
}
