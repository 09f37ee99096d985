//! The text report: the verdict first, then each real server, then each
//! finding with its evidence and fix, then what the captures cannot show.

use super::fmt_utc;
use crate::decode::fmt_mac;
use crate::engine::{Analysis, Verdict};
use crate::finding::Severity;
use crate::model::{Mode, Origin, Proto, RsId};
use std::fmt::Write;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn sev(&self, s: Severity) -> String {
        let (code, word) = match s {
            Severity::Error => ("31;1", "ERROR"),
            Severity::Warning => ("33;1", "WARN "),
            Severity::Info => ("36", "INFO "),
        };
        self.paint(code, word)
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// A few words on what is wrong with a real server, per finding code.
pub use crate::checks::headline;

pub fn render(a: &Analysis, style: &Style) -> String {
    let mut o = String::new();
    let point = |i: u16| {
        a.points
            .get(usize::from(i))
            .map_or("?", |p| p.name.as_str())
    };

    // Verdict per service.
    for s in &a.services {
        let key = s.service.key;
        let label = key.to_string();
        let mode = s
            .service
            .mode
            .map_or("mode?".to_string(), |m: Mode| m.to_string());
        let rs_total = a.real_servers.iter().filter(|r| r.service == key).count();
        let mut broken: Vec<(RsId, &str)> = Vec::new();
        for f in a
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.service == Some(key))
        {
            if let Some(rs) = f.real_server {
                if !broken.iter().any(|(r, _)| *r == rs) {
                    broken.push((rs, headline(f.confirmed_by.unwrap_or(f.code))));
                }
            }
        }
        let verdict = if !broken.is_empty() {
            let what: Vec<String> = broken.iter().map(|(r, h)| format!("{r} {h}")).collect();
            style.paint(
                "31;1",
                &format!(
                    "{} of {rs_total} real servers broken: {}",
                    broken.len(),
                    what.join("; ")
                ),
            )
        } else {
            let why = super::sanitize(&s.verdict_why);
            match s.verdict {
                Verdict::Failing => style.paint("31;1", &why),
                Verdict::Degraded => style.paint("33;1", &why),
                Verdict::Unknown => style.paint("33;1", &format!("unknown: {why}")),
                Verdict::Idle => why,
                Verdict::Healthy => style.paint("32;1", &why),
            }
        };
        let _ = writeln!(o, "{mode} {label} — {verdict}");
        let origin = match &s.service.origin {
            Origin::CommandLine => "given with --vip".to_string(),
            Origin::Ipvs(f) | Origin::Keepalived(f) => format!("from {}", super::sanitize(f)),
            Origin::Inferred(why) => format!("inferred: {why}"),
        };
        if !s.service.covers.is_empty() {
            // Addresses learnt from the same place are named once.
            let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
            for c in &s.service.covers {
                match groups.iter_mut().find(|(f, _)| *f == c.from) {
                    Some((_, v)) => v.push(c.label()),
                    None => groups.push((&c.from, vec![c.label()])),
                }
            }
            let covers: Vec<String> = groups
                .iter()
                .map(|(f, v)| format!("{} ({})", v.join(", "), super::sanitize(f)))
                .collect();
            let _ = writeln!(o, "  covers {}", covers.join("; "));
        }
        let udp = key.proto() == Some(Proto::Udp);
        let st = &s.stats;
        let _ = if udp {
            writeln!(
                o,
                "  {} UDP flows, {} answered, {} failed, {} unanswered re-sends, {} ICMP errors ({origin})",
                st.connections, st.established, st.failed, st.syn_retransmits, st.icmp_errors
            )
        } else {
            writeln!(
                o,
                "  {} connections, {} established, {} failed, {} SYN retransmits ({origin})",
                st.connections, st.established, st.failed, st.syn_retransmits
            )
        };
        for r in a.real_servers.iter().filter(|r| r.service == key) {
            let who = match (r.ip, r.mac) {
                (Some(ip), Some(m)) => format!("{ip} ({})", fmt_mac(&m)),
                (Some(ip), None) => ip.to_string(),
                (None, Some(m)) => fmt_mac(&m),
                (None, None) => "?".into(),
            };
            let worst = a
                .findings
                .iter()
                .filter(|f| f.real_server.is_some() && f.real_server == r.id())
                .map(|f| f.severity)
                .max();
            let mark = match worst {
                Some(Severity::Error) => style.paint("31;1", "✗"),
                Some(Severity::Warning) => style.paint("33;1", "!"),
                _ if r.stats.connections == 0 => "·".to_string(),
                _ => style.paint("32", "✓"),
            };
            let weight = r.weight.map_or(String::new(), |w| format!(" weight {w}"));
            let (c, e, x) = if udp {
                ("flow", "ans", "resent")
            } else {
                ("conn", "est", "syn-retx")
            };
            let _ = writeln!(
                o,
                "  {mark} {who:<36} {:>4} {c} {:>4} {e} {:>4} failed {:>4} {x}{weight}",
                r.stats.connections, r.stats.established, r.stats.failed, r.stats.syn_retransmits
            );
        }
        let _ = writeln!(o);
    }

    vrrp(&mut o, a, &point);

    // Findings.
    if a.findings.is_empty() {
        let _ = writeln!(o, "No findings.\n");
    }
    for f in &a.findings {
        let who = f.real_server.map_or(String::new(), |r| format!(" [{r}]"));
        let _ = writeln!(
            o,
            "{} {}{who}: {}",
            style.sev(f.severity),
            f.code,
            super::sanitize(&f.summary)
        );
        if let Some(by) = f.explained_by {
            let _ = writeln!(o, "      explained by {by}");
        }
        if !f.cause.is_empty() {
            let _ = writeln!(o, "      cause: {}", super::sanitize(&f.cause));
        }
        if !f.evidence.is_empty() {
            // One date for all when they share it (they usually do).
            let stamps: Vec<String> = f.evidence.iter().map(|e| fmt_utc(e.time)).collect();
            let day = stamps[0].split_once(' ').map_or("", |(d, _)| d).to_string();
            let one_day = stamps.iter().all(|t| t.starts_with(&day));
            let ev: Vec<String> = f
                .evidence
                .iter()
                .zip(&stamps)
                .map(|(e, t)| {
                    let t = if one_day {
                        t.split_once(' ').map_or(t.as_str(), |(_, h)| h)
                    } else {
                        t
                    };
                    format!("{} #{} {t}", point(e.point), e.frame)
                })
                .collect();
            let when = if one_day {
                format!("UTC {day}")
            } else {
                "UTC".into()
            };
            let _ = writeln!(o, "      evidence ({when}): {}", ev.join(", "));
        }
        for c in &f.config {
            let _ = writeln!(o, "      config: {}", super::sanitize(c));
        }
        if let Some(by) = f.confirmed_by {
            let _ = writeln!(o, "      confirmed by {by} (configuration)");
        }
        if let Some(l) = &f.losses {
            let _ = writeln!(o, "      drops: {}", super::sanitize(l));
        }
        if let Some(w) = when(f) {
            let _ = writeln!(o, "      when: {w}");
        }
        if !f.fix.is_empty() {
            let _ = writeln!(o, "      fix: {}", super::sanitize(&f.fix));
        }
        let _ = writeln!(o);
    }

    timeline(&mut o, a);

    if !a.notes.is_empty() {
        let _ = writeln!(o, "What these captures cannot show:");
        for n in &a.notes {
            let _ = writeln!(o, "  - {n}");
        }
        let _ = writeln!(o);
    }
    if a.points.is_empty() {
        let _ = writeln!(
            o,
            "Checked the live configuration of: {} (no captures)",
            if a.snapshots.is_empty() {
                "nothing".to_string()
            } else {
                super::sanitize(
                    &a.snapshots
                        .iter()
                        .map(|(h, _)| h.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            }
        );
        return o;
    }
    let pts: Vec<String> = a
        .points
        .iter()
        .map(|p| match &p.live {
            // Drops are always shown for live points, zero included.
            Some(l) => format!(
                "{} ({} packets, {}, live {}; drops: kernel {}, interface {}, lvsdiag {})",
                p.name,
                p.packets,
                p.link_type.name(),
                l.what,
                l.kernel_drops,
                l.interface_drops,
                l.lvsdiag_drops
            ),
            None => format!("{} ({} packets, {})", p.name, p.packets, p.link_type.name()),
        })
        .collect();
    let _ = writeln!(
        o,
        "Read {} packets, {} connections from: {}",
        a.packets,
        a.flows.flows,
        pts.join(", ")
    );
    if !a.snapshots.is_empty() {
        let s: Vec<String> = a
            .snapshots
            .iter()
            .map(|(h, p)| match p.is_empty() {
                true => h.clone(),
                false => format!("{h} ({})", p.join(", ")),
            })
            .collect();
        let _ = writeln!(
            o,
            "Configuration snapshots: {}",
            super::sanitize(&s.join(", "))
        );
    }
    o
}

/// Events shown in the text report (JSON has them all).
const TEXT_EVENTS: usize = 20;

/// `12:00:01.234` (UTC, without the day).
fn clock(ns: i64) -> String {
    let t = fmt_utc(ns);
    t.split_once(' ').map_or(t.clone(), |(_, h)| h.to_string())
}

/// When a finding's connections began, and the moment things changed.
fn when(f: &crate::finding::Finding) -> Option<String> {
    let span = f.span.map(|(a, b)| {
        if a == b {
            format!("{} (UTC)", clock(a))
        } else {
            format!("{} to {} (UTC)", clock(a), clock(b))
        }
    });
    let moment = f
        .moment
        .as_ref()
        .map(|(t, what)| format!("changed at {}: {}", clock(*t), super::sanitize(what)));
    match (span, moment) {
        (None, None) => None,
        (Some(s), None) => Some(s),
        (None, Some(m)) => Some(m),
        (Some(s), Some(m)) => Some(format!("{s}; {m}")),
    }
}

/// The timeline: failovers, VRRP master changes, real servers appearing
/// and vanishing, failure bursts, the findings' moments.
fn timeline(o: &mut String, a: &Analysis) {
    if a.events.is_empty() {
        return;
    }
    let day = fmt_utc(a.events[0].time)
        .split_once(' ')
        .map_or(String::new(), |(d, _)| d.to_string());
    let _ = writeln!(o, "Timeline (UTC {day}):");
    let lines = crate::timeline::fold::fold(&a.events, &a.findings);
    for l in lines.iter().take(TEXT_EVENTS) {
        let _ = writeln!(
            o,
            "  {}  {:<13} {}",
            clock(l.time()),
            l.kind().as_str(),
            super::sanitize(&l.what(seconds))
        );
    }
    if lines.len() > TEXT_EVENTS {
        let _ = writeln!(
            o,
            "  … {} more (--format json lists every event under \"events\")",
            lines.len() - TEXT_EVENTS
        );
    }
    let _ = writeln!(o);
}

/// HH:MM:SS of a time, for the span of a folded run.
pub fn seconds(ns: i64) -> String {
    let c = clock(ns);
    c.split_once('.').map_or(c.clone(), |(s, _)| s.to_string())
}

/// The VRRP section: per virtual router its master now, its advertisers and
/// the master timeline (only when the captures carry VRRP).
pub fn vrrp<'a>(o: &mut String, a: &'a Analysis, point: &dyn Fn(u16) -> &'a str) {
    let v = &a.vrrp;
    if v.vrids.is_empty() && v.carp == 0 && v.malformed == 0 {
        return;
    }
    let hms = |ns: i64| {
        let t = fmt_utc(ns);
        t.split_once(' ').map_or(t.clone(), |(_, h)| h.to_string())
    };
    let _ = writeln!(o, "VRRP");
    for x in v.vrids.values() {
        let master = x.master().map_or("none".to_string(), |r| {
            format!(
                "{} since {}",
                r.ip,
                hms(x.periods.last().map_or(0, |p| p.from.time))
            )
        });
        let _ = writeln!(
            o,
            "  {}: master {master}; {} router(s), {} master change(s){}",
            x.key,
            x.routers.len(),
            x.periods.len().saturating_sub(1) as u64 + x.periods_dropped,
            if x.gap_count > 0 {
                format!(", {} silence(s)", x.gap_count)
            } else {
                String::new()
            }
        );
        for r in &x.routers {
            let mut addrs: Vec<String> = r.addrs.iter().map(|a| a.to_string()).collect();
            if usize::from(r.count) > addrs.len() {
                addrs.push(format!("+{}", usize::from(r.count) - addrs.len()));
            }
            let pts: Vec<&str> = (0..a.points.len() as u16)
                .filter(|&i| r.points.contains(i))
                .map(point)
                .collect();
            let _ = writeln!(
                o,
                "    {:<26} {} prio {:>3}  v{} every {}s  {{{}}}{}  {} adverts {}–{} at {}",
                r.ip.to_string(),
                r.mac.map_or("?".to_string(), |m| fmt_mac(&m)),
                r.priority,
                r.version,
                f64::from(r.interval_cs) / 100.0,
                addrs.join(", "),
                r.unicast
                    .map_or(String::new(), |p| format!(" unicast to {p}")),
                r.adverts,
                hms(r.first.time),
                hms(r.last.time),
                super::sanitize(&pts.join(", "))
            );
        }
        let steps: Vec<String> = x
            .periods
            .iter()
            .take(12)
            .map(|p| format!("{} {}", x.routers[p.router].ip, hms(p.from.time)))
            .collect();
        if x.periods.len() > 1 {
            let more = x.periods.len().saturating_sub(12) as u64 + x.periods_dropped;
            let _ = writeln!(
                o,
                "    masters: {}{}",
                steps.join(" → "),
                if more > 0 {
                    format!(" → … ({more} more)")
                } else {
                    String::new()
                }
            );
        }
    }
    if v.carp > 0 || v.malformed > 0 {
        let _ = writeln!(
            o,
            "  IP protocol 112 that is not VRRP: {} CARP advert(s), {} malformed",
            v.carp, v.malformed
        );
    }
    let _ = writeln!(o);
}
