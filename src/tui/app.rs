//! The TUI's state and what each key does. Rendering is in `ui/`; the
//! data comes from the session's latest [`Published`] overview.

use super::pane::{Caps, Outcome, Pane};
use crate::analysis::{Analysis, ArpRow, RsReport, SvcReport};
use crate::engine::Overview;
use crate::export::Selector;
use crate::finding::Finding;
use crate::flow::ladder::FlowRow;
use crate::session::Published;
use crate::timeline::fold::{fold, Folded};
use crate::timeline::EventKind;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Services,
    Findings,
    Flows,
    Arp,
    Config,
    Timeline,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Services,
        View::Findings,
        View::Flows,
        View::Arp,
        View::Config,
        View::Timeline,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Services => "Services",
            View::Findings => "Findings",
            View::Flows => "Flows",
            View::Arp => "ARP/VRRP",
            View::Config => "Config",
            View::Timeline => "Timeline",
        }
    }

    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).expect("listed")
    }
}

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Export(Selector, PathBuf),
}

pub struct App {
    pub view: View,
    /// Each view's own selection, scroll, filter, sort and detail.
    panes: [Pane; 6],
    pub help: bool,
    /// `p`: the screen stays on this overview while capture goes on.
    pub frozen: Option<Arc<Published>>,
    /// One line at the bottom (export result, errors).
    pub status: Option<String>,
    /// Where the input comes from, for the title bar.
    pub source: String,
    /// Where `e` writes.
    pub export_dir: PathBuf,
    /// The Flows view's rows as last filtered and sorted, for the overview,
    /// filter and sort they were made for: a frame costs what is on screen,
    /// not the number of flows kept.
    flow_order: RefCell<Order>,
    /// The Findings view's rows, likewise.
    finding_order: RefCell<Order>,
    /// The Timeline's unfolded runs (first time, kind).
    unfolded: HashSet<(i64, EventKind)>,
}

/// A list's rows as last filtered and sorted.
#[derive(Default)]
struct Order {
    /// Overview id, filter, sort.
    made_for: Option<(u64, String, usize)>,
    rows: Vec<u32>,
}

/// What each view's pane can do.
fn caps(v: View) -> Caps {
    match v {
        View::Services => Caps {
            filter: true,
            detail: false,
            text: false,
            sorts: &["configuration", "most failed"],
        },
        View::Findings => Caps {
            filter: true,
            detail: true,
            text: false,
            sorts: &["severity", "code", "real server", "time"],
        },
        View::Flows => Caps {
            filter: true,
            detail: true,
            text: false,
            sorts: &["newest", "oldest", "client", "state", "handshake time"],
        },
        View::Arp => Caps {
            filter: true,
            detail: false,
            text: false,
            sorts: &["VIP", "last seen"],
        },
        View::Config => Caps {
            filter: false,
            detail: false,
            text: true,
            sorts: &[],
        },
        View::Timeline => Caps {
            filter: true,
            detail: false,
            text: false,
            sorts: &["time", "kind"],
        },
    }
}

impl App {
    pub fn new(source: String) -> App {
        App {
            view: View::Services,
            panes: View::ALL.map(|v| Pane::new(caps(v))),
            help: false,
            frozen: None,
            status: None,
            source,
            export_dir: PathBuf::from("."),
            flow_order: RefCell::default(),
            finding_order: RefCell::default(),
            unfolded: HashSet::new(),
        }
    }

    /// The current view's pane.
    pub fn pane(&self) -> &Pane {
        &self.panes[self.view.index()]
    }

    pub fn pane_of(&self, v: View) -> &Pane {
        &self.panes[v.index()]
    }

    fn pane_mut(&mut self) -> &mut Pane {
        &mut self.panes[self.view.index()]
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// The overview to show: the frozen one when paused, else the latest.
    pub fn shown(&self, latest: Option<Arc<Published>>) -> Option<Arc<Published>> {
        self.frozen.clone().or(latest)
    }

    /// Findings as the Findings view lists them: filtered and sorted once
    /// per publication, filter and sort (a frame then costs the rows on
    /// screen, not the number of findings).
    pub fn findings<'a>(&self, o: &'a Overview) -> Vec<&'a Finding> {
        let pane = self.pane_of(View::Findings);
        let key = (o.id, pane.filter.clone(), pane.sort);
        let mut order = self.finding_order.borrow_mut();
        if order.made_for.as_ref() != Some(&key) {
            order.rows = finding_order(pane, &o.analysis.findings);
            order.made_for = Some(key);
        }
        order
            .rows
            .iter()
            .map(|&i| &o.analysis.findings[i as usize])
            .collect()
    }

    /// Flows as the Flows view lists them: filtered by client, VIP, real
    /// server, state and mode, and sorted (newest first by default).
    pub fn flows<'a>(&self, o: &'a Overview) -> Vec<&'a FlowRow> {
        let pane = self.pane_of(View::Flows);
        let key = (o.id, pane.filter.clone(), pane.sort);
        let mut order = self.flow_order.borrow_mut();
        if order.made_for.as_ref() != Some(&key) {
            order.rows = flow_order(pane, &o.flows);
            order.made_for = Some(key);
        }
        order.rows.iter().map(|&i| &o.flows[i as usize]).collect()
    }

    /// The ARP view's rows: filtered (VIP, MAC, role) and sorted.
    pub fn arp_rows<'a>(&self, o: &'a Overview) -> Vec<&'a ArpRow> {
        let pane = self.pane_of(View::Arp);
        let mut v: Vec<&ArpRow> = o
            .arp
            .iter()
            .filter(|r| {
                pane.matches(&format!(
                    "{} {} {}{}",
                    r.ip,
                    crate::decode::fmt_mac(&r.mac),
                    if r.director { "director" } else { "" },
                    if r.real_server { " real server" } else { "" }
                ))
            })
            .collect();
        if pane.sort_name() == Some("last seen") {
            v.sort_by_key(|r| std::cmp::Reverse(r.last.time));
        }
        v
    }

    /// Handles one key. `data` is what is on screen; `rows` the number of
    /// rows of the current list (for moving the selection). The current
    /// view's pane sees it first.
    pub fn on_key(&mut self, key: KeyEvent, data: Option<&Arc<Published>>, rows: usize) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.help {
            self.help = false;
            return match key.code {
                KeyCode::Char('q') => Action::Quit,
                _ => Action::None,
            };
        }
        self.status = None;
        match self.pane_mut().on_key(key, rows) {
            Outcome::Consumed => return Action::None,
            Outcome::Status(s) => {
                self.status = Some(s);
                return Action::None;
            }
            Outcome::Passed => {}
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Tab => self.switch((self.view.index() + 1) % View::ALL.len()),
            KeyCode::BackTab => {
                self.switch((self.view.index() + View::ALL.len() - 1) % View::ALL.len())
            }
            KeyCode::Char(c @ '1'..='6') => self.switch(usize::from(c as u8 - b'1')),
            KeyCode::Enter if self.view == View::Services => {
                if let Some(d) = data {
                    self.open_service_row(&d.overview);
                }
            }
            KeyCode::Enter if self.view == View::Timeline => {
                if let Some(d) = data {
                    self.enter_timeline(&d.overview);
                }
            }
            KeyCode::Char('/') => {
                self.status = Some(format!("{} has nothing to filter", self.view.title()));
            }
            // The same keys in every view: where one does nothing, it says so.
            KeyCode::Char('s') => {
                self.status = Some(format!("{} has one order", self.view.title()));
            }
            KeyCode::Enter if matches!(self.view, View::Arp | View::Config) => {
                self.status = Some(format!("{} has nothing to open", self.view.title()));
            }
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                if self.frozen.is_some() {
                    self.frozen = None;
                    self.status = Some("resumed".into());
                } else if let Some(d) = data {
                    self.frozen = Some(d.clone());
                    self.status =
                        Some("paused: the screen holds still, capture goes on (p resumes)".into());
                }
            }
            KeyCode::Char('e') => return self.export(data),
            _ => {}
        }
        Action::None
    }

    /// The Timeline view's rows: its lines (runs of the same event folded
    /// into one), filtered (kind, real server, text) and sorted, each
    /// unfolded line followed by its events.
    pub fn events<'a>(&self, o: &'a Overview) -> Vec<TimeRow<'a>> {
        let pane = self.pane_of(View::Timeline);
        let mut lines: Vec<Folded<'a>> = fold(&o.analysis.events, &o.analysis.findings)
            .into_iter()
            .filter(|l| {
                pane.filter.is_empty()
                    || pane.matches(&format!(
                        "{} {} {}",
                        l.kind().as_str(),
                        l.first()
                            .real_server
                            .map(|r| r.to_string())
                            .unwrap_or_default(),
                        l.what(crate::report::text::seconds)
                    ))
            })
            .collect();
        if pane.sort_name() == Some("kind") {
            lines.sort_by_key(|l| l.kind());
        }
        let mut rows = Vec::with_capacity(lines.len());
        for l in lines {
            let open = l.folded() && self.unfolded.contains(&(l.time(), l.kind()));
            let children = if open { l.events.clone() } else { Vec::new() };
            rows.push(TimeRow::Line(l));
            rows.extend(children.into_iter().map(TimeRow::Event));
        }
        rows
    }

    /// Whether a folded Timeline line is open.
    pub fn unfolded(&self, l: &Folded) -> bool {
        self.unfolded.contains(&(l.time(), l.kind()))
    }

    /// Enter on a Timeline row: a folded line unfolds (and folds again);
    /// an event opens its flows.
    fn enter_timeline(&mut self, o: &Overview) {
        let rows = self.events(o);
        let event = match rows.get(self.pane().selected) {
            Some(TimeRow::Line(l)) if l.folded() => {
                let k = (l.time(), l.kind());
                if !self.unfolded.remove(&k) {
                    self.unfolded.insert(k);
                }
                return;
            }
            Some(TimeRow::Line(l)) => l.first().clone(),
            Some(TimeRow::Event(e)) => (*e).clone(),
            None => return,
        };
        self.open_event(o, &event);
    }

    /// Enter on an event: the Flows view, filtered to its real server (else
    /// its service), with the flow that began nearest the event selected.
    fn open_event(&mut self, o: &Overview, e: &crate::timeline::Event) {
        let filter = match (e.real_server, e.service) {
            (Some(r), _) => r.to_string(),
            (None, Some(svc)) => match (svc.vip(), svc.port()) {
                (Some(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
                (Some(ip), None) => ip.to_string(),
                _ => String::new(),
            },
            (None, None) => String::new(),
        };
        self.panes[View::Flows.index()].set_filter(&filter);
        let rows = self.flows(o);
        let nearest = rows
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| (r.first_ts - e.time).unsigned_abs())
            .map_or(0, |(i, _)| i);
        self.panes[View::Flows.index()].selected = nearest;
        self.view = View::Flows;
        self.status = Some(format!(
            "flows{} around {} (/ then Esc clears the filter)",
            if filter.is_empty() {
                String::new()
            } else {
                format!(" of {filter}")
            },
            crate::report::fmt_utc(e.time)
        ));
    }

    fn switch(&mut self, i: usize) {
        self.view = View::ALL[i];
    }

    /// Enter on a service or real server row: its findings, with its flows
    /// one Tab away (both views filtered to it).
    fn open_service_row(&mut self, o: &Overview) {
        let rows = service_rows(self, &o.analysis);
        let Some(row) = rows.get(self.pane().selected) else {
            return;
        };
        let (svc, rs) = match row {
            SvcRow::Service(s) => (s.service.key, None),
            SvcRow::Server(r) => (r.service, r.id()),
        };
        let rs = rs.map(|r| r.to_string());
        let label = svc.to_string();
        let findings = [Some(label.clone()), rs.clone()].into_iter().flatten();
        self.panes[View::Findings.index()].set_filter(&findings.collect::<Vec<_>>().join(" "));
        // Flows show the VIP as ADDR:PORT, without the protocol.
        let vip = match (svc.vip(), svc.port()) {
            (Some(ip), Some(port)) => Some(SocketAddr::new(ip, port).to_string()),
            (Some(ip), None) => Some(ip.to_string()),
            _ => None,
        };
        let flows = [vip, rs].into_iter().flatten();
        self.panes[View::Flows.index()].set_filter(&flows.collect::<Vec<_>>().join(" "));
        self.view = View::Findings;
        self.status = Some(format!(
            "findings of {} (Tab: its flows; / then Esc clears a filter)",
            self.pane_of(View::Findings).filter
        ));
    }

    fn export(&mut self, data: Option<&Arc<Published>>) -> Action {
        let Some(d) = data else {
            return Action::None;
        };
        let o = &d.overview;
        let sel = self.pane().selected;
        match self.view {
            View::Flows => {
                let rows = self.flows(o);
                let Some(r) = rows.get(sel) else {
                    self.status = Some("no flow selected".into());
                    return Action::None;
                };
                let name = format!(
                    "lvsdiag-flow-{}-{}.pcapng",
                    r.client.to_string().replace(':', "_"),
                    r.cport
                );
                Action::Export(
                    Selector::Flow {
                        client: r.client,
                        cport: r.cport,
                    },
                    self.export_dir.join(name),
                )
            }
            View::Findings => {
                let fs = self.findings(o);
                let Some(f) = fs.get(sel) else {
                    self.status = Some("no finding selected".into());
                    return Action::None;
                };
                if f.evidence.is_empty() {
                    self.status = Some(format!("{} has no evidence packets to export", f.code));
                    return Action::None;
                }
                let name = format!("lvsdiag-{}-{}.pcapng", f.code, sel + 1);
                Action::Export(
                    Selector::Frames(f.evidence.iter().map(|e| (e.point, e.frame)).collect()),
                    self.export_dir.join(name),
                )
            }
            _ => {
                self.status = Some("e exports from the Findings and Flows views".into());
                Action::None
            }
        }
    }
}

/// A row of the Timeline view.
pub enum TimeRow<'a> {
    /// An event, or a run of the same event folded into one line.
    Line(Folded<'a>),
    /// One event of an unfolded run, below its line.
    Event(&'a crate::timeline::Event),
}

impl TimeRow<'_> {
    /// The row's event (a run's first).
    pub fn event(&self) -> &crate::timeline::Event {
        match self {
            TimeRow::Line(l) => l.first(),
            TimeRow::Event(e) => e,
        }
    }
}

/// A row of the Services view: a service, then its real servers.
pub enum SvcRow<'a> {
    Service(&'a SvcReport),
    Server(&'a RsReport),
}

/// The Findings view's order: indices into `all`, filtered by severity,
/// code, service, real server and summary, and sorted (stable: ties keep
/// the report's order, severity first).
fn finding_order(pane: &Pane, all: &[Finding]) -> Vec<u32> {
    let mut v: Vec<u32> = (0..all.len() as u32)
        .filter(|&i| {
            let f = &all[i as usize];
            pane.filter.is_empty()
                || pane.matches(&format!(
                    "{} {} {} {} {}",
                    f.severity,
                    f.code,
                    f.service_label().unwrap_or_default(),
                    f.rs_label().unwrap_or_default(),
                    f.summary
                ))
        })
        .collect();
    let at = |i: &u32| &all[*i as usize];
    match pane.sort_name() {
        Some("code") => v.sort_by_key(|i| at(i).code),
        Some("real server") => v.sort_by_key(|i| at(i).real_server),
        Some("time") => v.sort_by_key(|i| at(i).evidence.first().map_or(i64::MAX, |e| e.time)),
        _ => {}
    }
    v
}

/// The Flows view's order: indices into `rows`, filtered by client, VIP,
/// real server, state and mode (`failed` matches every failed or anomalous
/// connection), and sorted (newest first by default).
fn flow_order(pane: &Pane, rows: &[FlowRow]) -> Vec<u32> {
    let mut v: Vec<u32> = (0..rows.len() as u32)
        .filter(|&i| {
            let r = &rows[i as usize];
            pane.filter.is_empty()
                || pane.matches(&format!(
                    "{} {} {} {} {}{}{}",
                    SocketAddr::new(r.client, r.cport),
                    SocketAddr::new(r.vip, r.vport),
                    r.rs_label.as_deref().unwrap_or("-"),
                    r.state.as_str(),
                    r.mode.map_or("", |m| m.as_str()),
                    if r.syn_retransmits > 0 {
                        " retransmit"
                    } else {
                        ""
                    },
                    if r.notable { " failed" } else { "" }
                ))
        })
        .collect();
    let at = |i: &u32| &rows[*i as usize];
    v.sort_by_key(|i| {
        let r = at(i);
        std::cmp::Reverse((r.first_ts, r.client, r.cport))
    });
    match pane.sort_name() {
        Some("oldest") => v.reverse(),
        Some("client") => v.sort_by_key(|i| (at(i).client, at(i).cport)),
        Some("state") => v.sort_by_key(|i| at(i).state.as_str()),
        Some("handshake time") => {
            v.sort_by_key(|i| std::cmp::Reverse(at(i).rtt_ns.unwrap_or(i64::MIN)))
        }
        _ => {}
    }
    v
}

/// The Services view's rows, filtered (a service stays when it or one of
/// its real servers matches) and sorted.
pub fn service_rows<'a>(app: &App, a: &'a Analysis) -> Vec<SvcRow<'a>> {
    let pane = app.pane_of(View::Services);
    let mut out = Vec::new();
    for s in &a.services {
        let label = s.service.label();
        let mut servers: Vec<&RsReport> = a
            .real_servers
            .iter()
            .filter(|r| r.service == s.service.key)
            .filter(|r| {
                pane.matches(&format!(
                    "{label} {}",
                    r.id().map_or_else(|| "-".into(), |i| i.to_string())
                ))
            })
            .collect();
        if servers.is_empty() && !pane.matches(&label) {
            continue;
        }
        if pane.sort_name() == Some("most failed") {
            servers.sort_by_key(|r| std::cmp::Reverse(r.stats.failed));
        }
        out.push(SvcRow::Service(s));
        out.extend(servers.into_iter().map(SvcRow::Server));
    }
    out
}
