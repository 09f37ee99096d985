//! One nft match expression against a packet: the packet's value for its
//! left side (payload, meta, conntrack) and whether the right side holds it
//! (a value, a set, a range, a prefix), in three-valued logic.

use super::*;

/// What the packet has for a match's left-hand side.
pub(super) enum Val {
    Num(u64),
    /// Protocol or state names; any of them matching counts.
    Names(Vec<&'static str>),
    Str(String),
    Addr(IpAddr),
}

pub(super) fn packet_value(left: &Value, p: &Packet, ct: bool) -> Result<Val, Tri> {
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
pub(super) fn element(val: &Val, r: &Value) -> Tri {
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

pub(super) fn eval_match(m: &Value, p: &Packet, ct: bool, steps: &mut usize) -> Tri {
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
pub(super) fn rule_text(exprs: &[Value]) -> String {
    pub(super) fn val(v: &Value) -> String {
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
            // `meta mark set 1`, `ct mark set 3`.
            "mangle" => format!(
                "{} set {}",
                v.get("key").map(val).unwrap_or_default(),
                v.get("value").map(val).unwrap_or_default()
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
