//! The timeline as an operator reads it: a run of the same event (a split
//! brain's fifty master changes, a flapping VIP owner) folds into one line
//! with its span and its count, and a finding that explains the run sits on
//! that line instead of a line of its own. The TUI's Timeline view and the
//! text report show these lines; the JSON report keeps every event.

use super::{Event, EventKind};
use crate::finding::Finding;
use crate::model::{RsId, ServiceKey};
use std::collections::{HashMap, HashSet};

/// Events of one run follow each other within this (ns): a master that
/// changes again an hour later starts a new line.
pub const GAP_NS: i64 = 60_000_000_000;

/// One line of the timeline: an event, or a run of the same event.
#[derive(Debug, Clone)]
pub struct Folded<'a> {
    /// In time order; the first gives the line its time.
    pub events: Vec<&'a Event>,
    /// Codes of the findings this line explains, in report order.
    pub codes: Vec<&'static str>,
}

/// What makes events "the same event": the kind and what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    About(EventKind, String),
    Other(
        EventKind,
        Option<ServiceKey>,
        Option<RsId>,
        Option<&'static str>,
    ),
}

fn key(e: &Event) -> Key {
    match &e.about {
        Some(a) => Key::About(e.kind, a.subject.clone()),
        None => Key::Other(e.kind, e.service, e.real_server, e.code),
    }
}

impl Folded<'_> {
    pub fn first(&self) -> &Event {
        self.events[0]
    }

    pub fn time(&self) -> i64 {
        self.first().time
    }

    pub fn end(&self) -> i64 {
        self.events.last().map_or(self.time(), |e| e.time)
    }

    pub fn kind(&self) -> EventKind {
        self.first().kind
    }

    pub fn folded(&self) -> bool {
        self.events.len() > 1
    }

    /// The line's text: the event's own for one event; for a run, its
    /// subject, who took turns, how often and when (`clock` formats a
    /// time); then the findings it explains.
    pub fn what(&self, clock: impl Fn(i64) -> String) -> String {
        let first = self.first();
        let n = self.events.len();
        let mut s = if n == 1 {
            first.what.clone()
        } else {
            let span = format!("{}–{}", clock(self.time()), clock(self.end()));
            match (&first.about, first.kind) {
                (Some(a), kind) => {
                    let mut actors: Vec<&str> = Vec::new();
                    for e in &self.events {
                        if let Some(x) = &e.about {
                            if !actors.contains(&x.actor.as_str()) {
                                actors.push(&x.actor);
                            }
                        }
                    }
                    let who = if actors.len() == 2 {
                        format!("{} ⇄ {}", actors[0], actors[1])
                    } else {
                        actors.join(", ")
                    };
                    let what = match kind {
                        EventKind::VrrpMaster => "master changes",
                        EventKind::VipOwner => "owner changes",
                        _ => "times",
                    };
                    format!("{}: {who}, {n} {what}, {span}", a.subject)
                }
                (None, _) => format!("{} ({n} times, {span})", first.what),
            }
        };
        if !self.codes.is_empty() {
            s.push_str(&format!(" ({})", self.codes.join(", ")));
        }
        s
    }
}

/// Folds `events` (in time order, as the analysis keeps them). A finding
/// explains a line when one of its evidence packets is one of the line's
/// events' packets, or when it is about the line's real server and its
/// moment falls within the line's span; its own moment then leaves the
/// list, its code shown on the line it explains.
pub fn fold<'a>(events: &'a [Event], findings: &[Finding]) -> Vec<Folded<'a>> {
    let mut lines: Vec<Folded<'a>> = Vec::new();
    let mut open: HashMap<Key, usize> = HashMap::new();
    for e in events {
        let k = key(e);
        match open.get(&k) {
            Some(&i) if e.time - lines[i].end() <= GAP_NS => lines[i].events.push(e),
            _ => {
                open.insert(k, lines.len());
                lines.push(Folded {
                    events: vec![e],
                    codes: Vec::new(),
                });
            }
        }
    }
    // Which findings explain which line (the first line each explains),
    // in one pass over the findings: the lines' packets and real servers
    // looked up, not scanned per finding.
    let mut by_packet: HashMap<(u16, u64), usize> = HashMap::new();
    let mut by_rs: HashMap<RsId, Vec<usize>> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.kind() == EventKind::Finding {
            continue;
        }
        for e in &l.events {
            if let Some(x) = e.evidence {
                by_packet.entry((x.point, x.frame)).or_insert(i);
            }
        }
        if let Some(rs) = l.first().real_server {
            by_rs.entry(rs).or_default().push(i);
        }
    }
    let mut explained: HashSet<(&'static str, Option<RsId>, i64)> = HashSet::new();
    for f in findings {
        let moment = f.moment.as_ref().map(|m| m.0);
        let packet = f
            .evidence
            .iter()
            .filter_map(|x| by_packet.get(&(x.point, x.frame)).copied())
            .min();
        let at_moment = match (f.real_server, moment) {
            (Some(rs), Some(t)) => by_rs.get(&rs).and_then(|v| {
                v.iter()
                    .copied()
                    .find(|&i| (lines[i].time()..=lines[i].end()).contains(&t))
            }),
            _ => None,
        };
        let Some(i) = packet.into_iter().chain(at_moment).min() else {
            continue;
        };
        if explained.insert((f.code, f.real_server, moment.unwrap_or(i64::MIN)))
            && !lines[i].codes.contains(&f.code)
        {
            lines[i].codes.push(f.code);
        }
    }
    // A finding's moment that sits on the line it explains is not repeated.
    for l in &mut lines {
        l.events.retain(|e| {
            e.kind != EventKind::Finding
                || !e
                    .code
                    .is_some_and(|c| explained.contains(&(c, e.real_server, e.time)))
        });
    }
    lines.retain(|l| !l.events.is_empty());
    lines
}

#[cfg(test)]
mod tests {
    use super::super::About;
    use super::*;
    use crate::finding::{Evidence, Severity};

    const S: i64 = 1_000_000_000;

    fn vrrp(t: i64, who: &str, frame: u64) -> Event {
        Event {
            time: t,
            kind: EventKind::VrrpMaster,
            what: format!("VRRP VRID 51: {who} master"),
            service: None,
            real_server: None,
            code: None,
            evidence: Some(Evidence {
                point: 0,
                frame,
                time: t,
            }),
            about: Some(About {
                subject: "VRRP VRID 51".into(),
                actor: who.into(),
            }),
        }
    }

    fn hms(t: i64) -> String {
        format!("{}s", t / S)
    }

    #[test]
    fn a_split_brain_folds_into_one_line_that_names_its_finding() {
        let mut events = Vec::new();
        for i in 0..50 {
            let who = if i % 2 == 0 { "192.0.2.3" } else { "192.0.2.2" };
            events.push(vrrp(100 * S + i * S / 2, who, 10 + i as u64));
        }
        // Another subject in between does not break the run.
        events.insert(
            3,
            Event {
                about: Some(About {
                    subject: "VRRP VRID 52".into(),
                    actor: "192.0.2.9".into(),
                }),
                ..vrrp(101 * S, "192.0.2.9", 999)
            },
        );
        let mut f = Finding::new("vrrp-split-brain", Severity::Error, "two masters");
        f.evidence.push(Evidence {
            point: 0,
            frame: 12,
            time: 0,
        });
        let lines = fold(&events, &[f]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].events.len(), 50);
        assert_eq!(
            lines[0].what(hms),
            "VRRP VRID 51: 192.0.2.3 ⇄ 192.0.2.2, 50 master changes, 100s–124s (vrrp-split-brain)"
        );
        assert_eq!(lines[1].what(hms), "VRRP VRID 51: 192.0.2.9 master");
    }

    #[test]
    fn a_run_breaks_after_a_quiet_minute_and_a_finding_moment_joins_its_line() {
        let rs = Some(RsId::Ip("192.0.2.13".parse().unwrap()));
        let burst = |t: i64| Event {
            time: t,
            kind: EventKind::FailureBurst,
            what: "192.0.2.13: 3 of 3 new connection(s) fail within 1 s".into(),
            service: None,
            real_server: rs,
            code: None,
            evidence: None,
            about: None,
        };
        let mut f = Finding::new("dr-rs-no-reply", Severity::Error, "no reply");
        f.real_server = rs;
        f.moment = Some((12 * S, "first failure".into()));
        let events = vec![
            burst(10 * S),
            burst(12 * S),
            Event {
                kind: EventKind::Finding,
                code: Some("dr-rs-no-reply"),
                what: "dr-rs-no-reply: first failure".into(),
                ..burst(12 * S)
            },
            burst(14 * S),
            burst(200 * S),
        ];
        let lines = fold(&events, &[f]);
        let texts: Vec<String> = lines.iter().map(|l| l.what(hms)).collect();
        assert_eq!(
            texts,
            [
                "192.0.2.13: 3 of 3 new connection(s) fail within 1 s (3 times, 10s–14s) (dr-rs-no-reply)",
                "192.0.2.13: 3 of 3 new connection(s) fail within 1 s",
            ]
        );
    }
}
