//! Evaluating an nftables ruleset (`nft -j list ruleset`, libnftables-json(5))
//! for one packet: the fate of a forwarded TCP SYN at a real server. The
//! document is parsed once into a [`Ruleset`] (tables, base chains in hook
//! and priority order, rules with their matches and verdict); each packet
//! is then walked through it. Anything not modelled (verdict maps, named
//! sets, marks, rate limits, rewrites of the destination…) makes the fate
//! [`Fate::Undecided`], never a guess.

use crate::model::Proto;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

mod expr;
mod marks;

use expr::*;
pub use marks::{mark_rules, MarkRule};

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

/// The statement that ends a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict<'a> {
    Accept,
    Drop,
    /// `reject`; `reset`: with a TCP reset.
    Reject {
        reset: bool,
    },
    Return,
    Continue,
    Jump(&'a str),
    Goto(&'a str),
}

struct Rule<'a> {
    handle: Option<i64>,
    /// Its `match` expressions, in order.
    matches: Vec<&'a Value>,
    /// A statement before the verdict whose effect is not modelled (a
    /// verdict map, a queue, notrack, a rate limit, a set update, a mark…).
    unmodelled: bool,
    verdict: Option<Verdict<'a>>,
    /// The whole rule, to show it.
    exprs: &'a [Value],
}

impl<'a> Rule<'a> {
    fn parse(handle: Option<i64>, exprs: &'a [Value]) -> Rule<'a> {
        let mut r = Rule {
            handle,
            matches: Vec::new(),
            unmodelled: false,
            verdict: None,
            exprs,
        };
        for e in exprs {
            let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            let target = || v.get("target").and_then(Value::as_str).unwrap_or("");
            r.verdict = match k.as_str() {
                "match" => {
                    r.matches.push(v);
                    continue;
                }
                "counter" | "log" | "comment" => continue,
                "accept" => Some(Verdict::Accept),
                "drop" => Some(Verdict::Drop),
                "reject" => Some(Verdict::Reject {
                    reset: v.get("type").and_then(Value::as_str) == Some("tcp reset"),
                }),
                "return" => Some(Verdict::Return),
                "continue" => Some(Verdict::Continue),
                "jump" => Some(Verdict::Jump(target())),
                "goto" => Some(Verdict::Goto(target())),
                _ => {
                    r.unmodelled = true;
                    continue;
                }
            };
            break;
        }
        r
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
    rules: Vec<Rule<'a>>,
}

/// Chains by (family, table, name).
type Index<'a> = HashMap<(&'a str, &'a str, &'a str), usize>;

/// A ruleset parsed once, evaluated for any number of packets.
pub struct Ruleset<'a> {
    chains: Vec<Chain<'a>>,
    index: Index<'a>,
    /// A rule rewrites where packets go (dnat, redirect, tproxy, an iptables
    /// target): then neither a verdict nor a listening socket can be read
    /// off the ruleset.
    redirects: bool,
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

fn undecided(why: String) -> Outcome {
    Outcome::Final(Fate::Undecided(why))
}

impl<'a> Ruleset<'a> {
    /// Parses an `nft -j list ruleset` document. Tables switched off
    /// (`flags dormant`) are left out: they do not see packets.
    pub fn parse(doc: &'a Value) -> Result<Ruleset<'a>, String> {
        let items = doc
            .get("nftables")
            .and_then(Value::as_array)
            .ok_or("not an nft -j ruleset")?;
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
        let mut rs = Ruleset {
            chains: Vec::new(),
            index: HashMap::new(),
            redirects: false,
        };
        for c in items.iter().filter_map(|it| it.get("chain")) {
            let s = |k: &str| c.get(k).and_then(Value::as_str);
            let key = (
                s("family").unwrap_or(""),
                s("table").unwrap_or(""),
                s("name").unwrap_or(""),
            );
            if dormant.contains(&(key.0, key.1)) || rs.index.contains_key(&key) {
                continue;
            }
            rs.index.insert(key, rs.chains.len());
            rs.chains.push(Chain {
                family: key.0,
                table: key.1,
                name: key.2,
                hook: s("hook"),
                kind: s("type"),
                prio: c.get("prio").and_then(Value::as_i64).unwrap_or(0),
                policy: s("policy"),
                rules: Vec::new(),
            });
        }
        for r in items.iter().filter_map(|it| it.get("rule")) {
            let expr = r
                .get("expr")
                .and_then(Value::as_array)
                .map_or(&[][..], |v| v);
            rs.redirects |= expr
                .iter()
                .filter_map(|e| e.as_object().and_then(|o| o.keys().next()))
                .any(|k| matches!(k.as_str(), "dnat" | "redirect" | "tproxy" | "xt"));
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            let key = (s("family"), s("table"), s("chain"));
            if let Some(c) = rs.index.get(&key).and_then(|&i| rs.chains.get_mut(i)) {
                c.rules
                    .push(Rule::parse(r.get("handle").and_then(Value::as_i64), expr));
            }
        }
        Ok(rs)
    }

    /// Whether a rule rewrites where packets go (see [`Ruleset::parse`]).
    pub fn redirects(&self) -> bool {
        self.redirects
    }

    /// The fate of `p`: the base filter chains of its family on the
    /// prerouting and input hooks, in hook and priority order.
    pub fn fate(&self, p: &Packet) -> Fate {
        if self.redirects {
            return Fate::Undecided(
                "the ruleset rewrites destinations (dnat, redirect, tproxy or an iptables target): the packet's fate depends on where it goes".into(),
            );
        }
        let fam_ok = |f: &str| f == "inet" || f == if p.dst.is_ipv6() { "ip6" } else { "ip" };
        let mut base: Vec<&Chain> = self
            .chains
            .iter()
            .filter(|c| fam_ok(c.family) && c.kind.is_none_or(|k| k == "filter"))
            .filter(|c| matches!(c.hook, Some("prerouting" | "input")))
            .collect();
        base.sort_by_key(|c| (c.hook != Some("prerouting"), c.prio));
        let mut steps = 0;
        for c in base {
            // Before conntrack (priority -200) every packet's state is unknown here.
            let ct = c.prio > -200;
            match self.eval_chain(c, p, ct, 0, &mut steps) {
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

    fn eval_chain(
        &self,
        c: &Chain,
        p: &Packet,
        ct: bool,
        depth: usize,
        steps: &mut usize,
    ) -> Outcome {
        if depth > MAX_DEPTH {
            return undecided("jumps nest too deep".into());
        }
        let here = || format!("nft {} {} {}", c.family, c.table, c.name);
        for rule in &c.rules {
            *steps += 1;
            if *steps > MAX_STEPS {
                return undecided("too many rules to evaluate".into());
            }
            let mut m = Tri::Yes;
            for e in &rule.matches {
                match eval_match(e, p, ct, steps) {
                    Tri::No => m = Tri::No,
                    Tri::Unknown if m == Tri::Yes => m = Tri::Unknown,
                    _ => {}
                }
            }
            if rule.unmodelled && m != Tri::No {
                return undecided(format!(
                    "{}: `{}` is not evaluated",
                    here(),
                    rule_text(rule.exprs)
                ));
            }
            let Some(verdict) = rule.verdict else {
                continue;
            };
            match m {
                Tri::No => continue,
                Tri::Unknown => {
                    return undecided(format!(
                        "{}: cannot decide whether `{}` matches",
                        here(),
                        rule_text(rule.exprs)
                    ))
                }
                Tri::Yes => {}
            }
            let target = match verdict {
                Verdict::Accept => return Outcome::Accept,
                Verdict::Drop | Verdict::Reject { .. } => {
                    let (reject, reset) = match verdict {
                        Verdict::Reject { reset } => (true, reset),
                        _ => (false, false),
                    };
                    return Outcome::Final(Fate::Dropped {
                        what: format!(
                            "{} (hook {}): {}{}",
                            here(),
                            c.hook.unwrap_or("none"),
                            rule_text(rule.exprs),
                            rule.handle
                                .map_or(String::new(), |h| format!("  # handle {h}"))
                        ),
                        rule: rule.handle.map(|h| {
                            format!(
                                "nft delete rule {} {} {} handle {h}",
                                c.family, c.table, c.name
                            )
                        }),
                        reject,
                        reset,
                    });
                }
                Verdict::Return => return Outcome::Continue,
                Verdict::Continue => continue,
                Verdict::Jump(t) | Verdict::Goto(t) => t,
            };
            let Some(t) = self
                .index
                .get(&(c.family, c.table, target))
                .and_then(|&i| self.chains.get(i))
            else {
                return undecided(format!("jump to unknown chain {target}"));
            };
            match self.eval_chain(t, p, ct, depth + 1, steps) {
                Outcome::Continue if matches!(verdict, Verdict::Jump(_)) => continue,
                other => return other,
            }
        }
        Outcome::Continue
    }
}

/// Evaluates an `nft -j list ruleset` document for `p` (parsing it first;
/// to evaluate many packets, parse once with [`Ruleset::parse`]).
pub fn fate(doc: &Value, p: &Packet) -> Fate {
    match Ruleset::parse(doc) {
        Ok(r) => r.fate(p),
        Err(e) => Fate::Undecided(e),
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

    #[test]
    fn mark_rules_read_what_they_mark() {
        let doc = json!({"nftables": [
            {"rule": {"family": "ip", "table": "mangle", "chain": "pre", "handle": 3, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.100"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443]}}},
                {"counter": null},
                {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1}}]}},
            // Marks by client address: what it covers cannot be read off it.
            {"rule": {"family": "ip", "table": "mangle", "chain": "pre", "handle": 4, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "203.0.113.10"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.101"}},
                {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 2}}]}},
            // A ct mark is not the packet's mark.
            {"rule": {"family": "ip", "table": "mangle", "chain": "pre", "handle": 5, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.102"}},
                {"mangle": {"key": {"ct": {"key": "mark"}}, "value": 3}}]}}
        ]});
        let r = mark_rules(&doc);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (
                r[0].mark,
                r[0].proto,
                r[0].daddrs.clone(),
                r[0].ports.clone()
            ),
            (
                1,
                Some(Proto::Tcp),
                vec!["192.0.2.100".parse::<IpAddr>().unwrap()],
                vec![80, 443]
            )
        );
        assert!(mark_rules(&json!({"x": 1})).is_empty());
    }
}
