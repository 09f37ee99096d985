//! The TUI's state and what each key does. Rendering is in `ui.rs`; the
//! data comes from the session's latest [`Published`] overview.

use crate::engine::Overview;
use crate::export::Selector;
use crate::finding::Finding;
use crate::flow::ladder::FlowRow;
use crate::session::Published;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Services,
    Findings,
    Flows,
    Arp,
    Config,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Services,
        View::Findings,
        View::Flows,
        View::Arp,
        View::Config,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Services => "Services",
            View::Findings => "Findings",
            View::Flows => "Flows",
            View::Arp => "ARP",
            View::Config => "Config",
        }
    }

    fn index(self) -> usize {
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
    /// Selected row per view.
    pub selected: [usize; 5],
    /// Enter: detail of the selected finding / ladder of the selected flow.
    pub detail: bool,
    pub help: bool,
    /// `/` filter for findings and flows: every word must match.
    pub filter: String,
    pub editing_filter: bool,
    /// `p`: the screen stays on this overview while capture goes on.
    pub frozen: Option<Arc<Published>>,
    /// One line at the bottom (export result, errors).
    pub status: Option<String>,
    /// Where the input comes from, for the title bar.
    pub source: String,
    /// Where `e` writes.
    pub export_dir: PathBuf,
    /// Lines scrolled in text views (Config, finding detail, flow ladder).
    pub scroll: u16,
}

impl App {
    pub fn new(source: String) -> App {
        App {
            view: View::Services,
            selected: [0; 5],
            detail: false,
            help: false,
            filter: String::new(),
            editing_filter: false,
            frozen: None,
            status: None,
            source,
            export_dir: PathBuf::from("."),
            scroll: 0,
        }
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// The overview to show: the frozen one when paused, else the latest.
    pub fn shown(&self, latest: Option<Arc<Published>>) -> Option<Arc<Published>> {
        self.frozen.clone().or(latest)
    }

    /// Findings in display order, filtered.
    pub fn findings<'a>(&self, o: &'a Overview) -> Vec<&'a Finding> {
        o.analysis
            .findings
            .iter()
            .filter(|f| {
                self.matches(&format!(
                    "{} {} {} {} {}",
                    f.severity,
                    f.code,
                    f.service_label().unwrap_or_default(),
                    f.rs_label().unwrap_or_default(),
                    f.summary
                ))
            })
            .collect()
    }

    /// Flows newest first, filtered by client, VIP, real server, state, mode.
    pub fn flows<'a>(&self, o: &'a Overview) -> Vec<&'a FlowRow> {
        let mut v: Vec<&FlowRow> = o
            .flows
            .iter()
            .filter(|r| {
                self.matches(&format!(
                    "{}:{} {}:{} {} {} {}{}",
                    r.client,
                    r.cport,
                    r.vip,
                    r.vport,
                    r.rs_label.as_deref().unwrap_or("-"),
                    r.state.as_str(),
                    r.mode.map_or("", |m| m.as_str()),
                    if r.syn_retransmits > 0 {
                        " retransmit"
                    } else {
                        ""
                    }
                ))
            })
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse((r.first_ts, r.client, r.cport)));
        v
    }

    fn matches(&self, text: &str) -> bool {
        let t = text.to_ascii_lowercase();
        self.filter
            .split_whitespace()
            .all(|w| t.contains(&w.to_ascii_lowercase()))
    }

    fn sel(&mut self) -> &mut usize {
        &mut self.selected[self.view.index()]
    }

    /// Handles one key. `data` is what is on screen; `rows` the number of
    /// rows of the current list (for moving the selection).
    pub fn on_key(&mut self, key: KeyEvent, data: Option<&Arc<Published>>, rows: usize) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) if !c.is_control() && self.filter.len() < 80 => {
                    self.filter.push(c);
                    *self.sel() = 0;
                }
                _ => {}
            }
            return Action::None;
        }
        if self.help {
            self.help = false;
            return match key.code {
                KeyCode::Char('q') => Action::Quit,
                _ => Action::None,
            };
        }
        self.status = None;
        // Text views scroll instead of moving a selection.
        if self.detail || self.view == View::Config {
            let s = self.scroll;
            let scrolled = match key.code {
                KeyCode::Down | KeyCode::Char('j') => Some(s.saturating_add(1)),
                KeyCode::Up | KeyCode::Char('k') => Some(s.saturating_sub(1)),
                KeyCode::PageDown => Some(s.saturating_add(10)),
                KeyCode::PageUp => Some(s.saturating_sub(10)),
                KeyCode::Home | KeyCode::Char('g') => Some(0),
                _ => None,
            };
            if let Some(v) = scrolled {
                self.scroll = v;
                return Action::None;
            }
        }
        if key.code == KeyCode::Esc || key.code == KeyCode::Enter {
            self.scroll = 0;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc => {
                if self.detail {
                    self.detail = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                }
            }
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Tab | KeyCode::Right | KeyCode::Char('l')
                if !self.detail || key.code == KeyCode::Tab =>
            {
                self.switch((self.view.index() + 1) % View::ALL.len())
            }
            KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => {
                if self.detail && key.code != KeyCode::BackTab {
                    self.detail = false;
                } else {
                    self.switch((self.view.index() + View::ALL.len() - 1) % View::ALL.len())
                }
            }
            KeyCode::Char(c @ '1'..='5') => self.switch(usize::from(c as u8 - b'1')),
            KeyCode::Down | KeyCode::Char('j') => {
                let s = self.sel();
                *s = (*s + 1).min(rows.saturating_sub(1));
            }
            KeyCode::Up | KeyCode::Char('k') => {
                let s = self.sel();
                *s = s.saturating_sub(1);
            }
            KeyCode::PageDown => {
                let s = self.sel();
                *s = (*s + 10).min(rows.saturating_sub(1));
            }
            KeyCode::PageUp => {
                let s = self.sel();
                *s = s.saturating_sub(10);
            }
            KeyCode::Home | KeyCode::Char('g') => *self.sel() = 0,
            KeyCode::End | KeyCode::Char('G') => *self.sel() = rows.saturating_sub(1),
            KeyCode::Enter if matches!(self.view, View::Findings | View::Flows) && rows > 0 => {
                self.detail = !self.detail;
            }
            KeyCode::Char('/') => {
                if matches!(self.view, View::Findings | View::Flows) {
                    self.editing_filter = true;
                    self.detail = false;
                } else {
                    self.status = Some("/ filters the Findings and Flows views".into());
                }
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

    fn switch(&mut self, i: usize) {
        self.view = View::ALL[i];
        self.detail = false;
        self.scroll = 0;
    }

    fn export(&mut self, data: Option<&Arc<Published>>) -> Action {
        let Some(d) = data else {
            return Action::None;
        };
        let o = &d.overview;
        let sel = self.selected[self.view.index()];
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
