//! Drawing the TUI: title bar with capture points and drops, the verdict
//! row, view tabs, the current view, and the key line.
//!
//! One file per view (`services`, `findings`, `flows`, `timeline`, `arp`,
//! `config`); this one draws the frame around them (title, verdict, tabs,
//! keys, help) and holds what the views share.

mod arp;
mod config;
mod findings;
mod flows;
mod services;
mod timeline;

use super::app::{service_rows, App, SvcRow, View};
use super::pane::Pane;
use crate::decode::fmt_mac;
use crate::engine::{Analysis, Overview, RsReport};
use crate::finding::{Evidence, Finding, Severity};
use crate::flow::ladder::{FlowRow, FlowState, Leg, Step};
use crate::model::{Origin, Proto};
use crate::report::fmt_utc;
use crate::report::text::headline;
use crate::session::Published;
use arp::draw_arp;
use config::draw_config;
use findings::draw_findings;
use flows::draw_flows;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap,
};
use ratatui::Frame;
use services::{draw_services, rtt};
use std::sync::Arc;
use timeline::draw_timeline;

fn sev_style(s: Severity) -> Style {
    match s {
        Severity::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::Warning => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Severity::Info => Style::new().fg(Color::Cyan),
    }
}

fn sev_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARN",
        Severity::Info => "info",
    }
}

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);

/// Rows in the current view's list (for moving the selection).
pub fn rows(app: &App, o: &Overview) -> usize {
    match app.view {
        View::Services => service_rows(app, &o.analysis).len(),
        View::Findings => app.findings(o).len(),
        View::Flows => app.flows(o).len(),
        View::Arp => app.arp_rows(o).len(),
        View::Config => 0,
        View::Timeline => app.events(o).len(),
    }
}

pub fn draw(f: &mut Frame, app: &App, data: Option<&Arc<Published>>) {
    let area = f.area();
    let [title, verdict, tabs, body, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let Some(d) = data else {
        f.render_widget(
            Paragraph::new(format!("lvsdiag — {} — starting…", app.source)),
            title,
        );
        return;
    };
    let o = &d.overview;
    draw_title(f, title, app, d);
    draw_verdict(f, verdict, &o.analysis);
    let titles: Vec<Line> = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n = match v {
                View::Findings => format!(
                    " ({})",
                    o.analysis
                        .findings
                        .iter()
                        .filter(|f| f.severity >= Severity::Warning)
                        .count()
                ),
                View::Flows => format!(" ({})", o.flows.len()),
                _ => String::new(),
            };
            // Short names where the tabs would not fit otherwise.
            let t = match v {
                View::Arp if tabs.width < 90 => "ARP",
                View::Timeline if tabs.width < 90 => "Time",
                _ => v.title(),
            };
            Line::from(format!("{} {t}{n}", i + 1))
        })
        .collect();
    let sel = View::ALL.iter().position(|v| *v == app.view).unwrap_or(0);
    f.render_widget(
        Tabs::new(titles)
            .select(sel)
            .highlight_style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)),
        tabs,
    );
    match app.view {
        View::Services => draw_services(f, body, app, o),
        View::Findings => draw_findings(f, body, app, o),
        View::Flows => draw_flows(f, body, app, o),
        View::Arp => draw_arp(f, body, app, o),
        View::Config => draw_config(f, body, app, o),
        View::Timeline => draw_timeline(f, body, app, o),
    }
    draw_keys(f, keys, app);
    if app.help {
        draw_help(f, area, app);
    }
}

fn draw_title(f: &mut Frame, area: Rect, app: &App, d: &Published) {
    let a = &d.overview.analysis;
    let state = if app.paused() {
        Span::styled(" PAUSED ", Style::new().fg(Color::Black).bg(Color::Yellow))
    } else if d.done {
        Span::styled(" DONE ", Style::new().fg(Color::Black).bg(Color::Green))
    } else if a.points.iter().all(|p| p.live.is_none()) {
        // Files being read (or replayed with --speed): not a live capture.
        let pct = match d.read {
            Some((r, t)) if t > 0 => format!(" {}%", (r.saturating_mul(100) / t).min(99)),
            _ => String::new(),
        };
        Span::styled(
            format!(" READING{pct} "),
            Style::new().fg(Color::Black).bg(Color::Blue),
        )
    } else {
        Span::styled(" LIVE ", Style::new().fg(Color::Black).bg(Color::Cyan))
    };
    let drops: u64 = a
        .points
        .iter()
        .filter_map(|p| p.live.as_ref())
        .map(|l| l.total_drops())
        .sum();
    let ended: Vec<&str> = a
        .points
        .iter()
        .filter(|p| p.error.is_some() || p.live.as_ref().is_some_and(|l| !l.running && !d.done))
        .map(|p| p.name.as_str())
        .collect();
    let mut spans = vec![
        state,
        Span::raw({
            let what = format!(
                "{} — {} points, {} packets, {} connections",
                app.source,
                a.points.len(),
                a.packets,
                a.flows.flows
            );
            // The tool's name goes first when the line is short of room.
            if what.chars().count() + 17 > usize::from(area.width) {
                format!(" {what}")
            } else {
                format!(" lvsdiag — {what}")
            }
        }),
    ];
    let any_live = a.points.iter().any(|p| p.live.is_some());
    if any_live {
        spans.push(Span::styled(
            format!(", drops {drops}"),
            if drops > 0 {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            },
        ));
    }
    if !ended.is_empty() {
        let what = if ended.len() <= 3 {
            ended.join(" ")
        } else {
            format!(
                "{} of {} points (see Services)",
                ended.len(),
                a.points.len()
            )
        };
        spans.push(Span::styled(
            format!(", ended: {what}"),
            Style::new().fg(Color::Red),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The headline: the worst finding, with its real server and the first
/// step of its fix; or, with nothing wrong, what was checked.
fn draw_verdict(f: &mut Frame, area: Rect, a: &Analysis) {
    let [one, two] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let (line1, line2) = verdict(a);
    f.render_widget(Paragraph::new(line1), one);
    f.render_widget(Paragraph::new(line2), two);
}

/// The headline's two lines.
pub fn verdict(a: &Analysis) -> (Line<'static>, Line<'static>) {
    let count = |s: Severity| a.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    // Findings are in report order: the worst first.
    if let Some(worst) = a.findings.iter().find(|f| f.severity >= Severity::Warning) {
        let what = match &worst.real_server {
            Some(rs) => format!("{rs} {}", headline(worst.code)),
            None => worst.summary.clone(),
        };
        let mark = if worst.severity == Severity::Error {
            "✗"
        } else {
            "!"
        };
        let more = match (errors, warnings) {
            (e, w) if e + w <= 1 => String::new(),
            (e, w) => format!("  ({e} error(s), {w} warning(s): 2 Findings)"),
        };
        let line1 = Line::from(vec![
            Span::styled(
                format!("{mark} {}: {}", worst.code, crate::text::sanitize(&what)),
                sev_style(worst.severity),
            ),
            Span::raw(more),
        ]);
        let line2 = Line::from(vec![
            Span::styled("  fix: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(crate::text::sanitize(first_step(&worst.fix))),
        ]);
        return (line1, line2);
    }
    if let Some(s) = a
        .services
        .iter()
        .find(|s| s.verdict == crate::engine::Verdict::Unknown)
    {
        return (
            Line::styled(
                format!("? {} unknown: {}", s.service.label(), s.verdict_why),
                sev_style(Severity::Warning),
            ),
            Line::from(""),
        );
    }
    if a.flows.flows == 0 {
        return (
            Line::from("no connections through a VIP seen yet"),
            Line::from(""),
        );
    }
    let checked = format!(
        "✓ {} service(s), {} real server(s), {} connection(s): healthy",
        thousands(a.services.len() as u64),
        thousands(a.real_servers.len() as u64),
        thousands(a.flows.flows)
    );
    let caveat = match a
        .points
        .iter()
        .find(|p| p.error.is_some() || !p.losses.is_empty())
    {
        Some(p) => format!(
            "  as far as seen: {} {} (absences there are not proof)",
            p.name,
            if p.error.is_some() {
                "ended early"
            } else {
                "lost packets"
            }
        ),
        None => "  every real server answers through the expected path".to_string(),
    };
    (
        Line::styled(
            checked,
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Line::from(caveat),
    )
}

/// A fix's first step: its first line, up to its first "; ".
fn first_step(fix: &str) -> &str {
    let line = fix.lines().next().unwrap_or_default();
    line.split_once("; ").map_or(line, |(a, _)| a)
}

/// 1204 as "1,204".
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn point_name(a: &Analysis, e: &Evidence) -> String {
    a.points
        .get(usize::from(e.point))
        .map_or("?".into(), |p| p.name.clone())
}

fn draw_keys(f: &mut Frame, area: Rect, app: &App) {
    let line = if app.pane().editing {
        Line::from(vec![
            Span::styled("filter: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(app.pane().filter.clone()),
            Span::styled("█", Style::new()),
            Span::raw("   (Enter: keep, Esc: clear)"),
        ])
    } else if let Some(s) = &app.status {
        Line::from(Span::styled(s.clone(), Style::new().fg(Color::Yellow)))
    } else {
        Line::from("q quit  ? help  Tab view  Enter open  / filter  s sort  ←→ scroll  p pause")
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The keys of the current view: the same keys in every view, each with
/// what it does here (or that it does nothing here).
pub fn help_lines(app: &App) -> Vec<(String, String)> {
    let caps = app.pane().caps;
    let v = app.view;
    let enter = match v {
        View::Services => "open the row's findings (its flows: Tab)",
        View::Findings => "the finding's cause, evidence and fix (Esc: back)",
        View::Flows => "the connection's ladder across the points (Esc: back)",
        View::Timeline => "unfold a run (Enter again folds); an event: its flows",
        View::Arp | View::Config => "nothing here",
    };
    let k = vec![
        ("Tab  Shift-Tab  1-6", "switch view".to_string()),
        (
            "↑ ↓  j k  PgUp PgDn",
            if caps.text {
                "scroll the text".to_string()
            } else {
                "move the selection (g / G: first / last)".to_string()
            },
        ),
        ("← →  h l", "scroll long lines sideways".to_string()),
        ("Enter", enter.to_string()),
        (
            "/",
            if caps.filter {
                "filter: every word must match (/ then Esc clears)".to_string()
            } else {
                "nothing to filter here".to_string()
            },
        ),
        (
            "s",
            if caps.sorts.len() > 1 {
                format!("sort: {}", caps.sorts.join(" → "))
            } else {
                "one order here".to_string()
            },
        ),
        (
            "e",
            if matches!(v, View::Findings | View::Flows) {
                "export the selection's packets as pcapng".to_string()
            } else {
                "exports from Findings and Flows".to_string()
            },
        ),
        ("Esc", "close a detail; a filter stays".to_string()),
        ("p  space", "pause the screen (capture goes on)".to_string()),
        ("?", "this help (any key closes)".to_string()),
        ("q  Ctrl-C", "quit".to_string()),
    ];
    k.into_iter().map(|(a, b)| (a.to_string(), b)).collect()
}

fn draw_help(f: &mut Frame, area: Rect, app: &App) {
    let keys = help_lines(app);
    let w = area.width.min(76);
    let h = area.height.min(keys.len() as u16 + 4);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line> = keys
        .into_iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:<20} "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(what),
            ])
        })
        .collect();
    lines.push(Line::from(
        "Drops are in the title and the capture points table.",
    ));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::ALL)
                .title(format!("keys: {} (any key closes)", app.view.title())),
        ),
        r,
    );
}

/// A list's title: what it is, its filter and its sort order.
fn list_title(p: &Pane, base: String) -> String {
    let mut t = base;
    if !p.filter.is_empty() {
        t.push_str(&format!(" matching \"{}\"", p.filter));
    }
    if let Some(s) = p.sort_name() {
        t.push_str(&format!(", by {s}"));
    }
    t
}

/// The counts of a service or real server row.
fn stat_cells(st: &crate::engine::Stats) -> Vec<Cell<'static>> {
    vec![
        Cell::from(st.connections.to_string()),
        Cell::from(st.established.to_string()),
        Cell::from(st.failed.to_string()),
        Cell::from(st.syn_retransmits.to_string()),
        Cell::from(st.resets.to_string()),
        Cell::from(rtt(st.rtt_ms())),
    ]
}

fn header<'a>(cols: impl IntoIterator<Item = &'a str>) -> Row<'a> {
    Row::new(cols).style(Style::new().add_modifier(Modifier::UNDERLINED))
}

fn top_block<'a>(title: impl Into<Line<'a>>) -> Block<'a> {
    Block::new().borders(Borders::TOP).title(title)
}

/// A table column: its header, its width (never less than the header's),
/// and when it leaves as the terminal narrows (`0`: never; the highest
/// first). The fill column takes what the others leave, at least `width`.
#[derive(Debug, Clone, Copy)]
struct Col {
    head: &'static str,
    width: u16,
    drop: u8,
    fill: bool,
}

const fn col(head: &'static str, width: u16, drop: u8) -> Col {
    Col {
        head,
        width,
        drop,
        fill: false,
    }
}

const fn fill(head: &'static str, width: u16) -> Col {
    Col {
        head,
        width,
        drop: 0,
        fill: true,
    }
}

/// The columns of a table that fit a width: whole headers, the columns
/// that matter most kept, the rest dropped in their order.
struct Fit {
    cols: Vec<Col>,
    keep: Vec<bool>,
}

impl Fit {
    fn new(cols: &[Col], width: u16) -> Fit {
        let cols: Vec<Col> = cols
            .iter()
            .map(|c| Col {
                width: c.width.max(c.head.chars().count() as u16),
                ..*c
            })
            .collect();
        let mut keep = vec![true; cols.len()];
        let used = |keep: &[bool]| -> u16 {
            let n = keep.iter().filter(|k| **k).count() as u16;
            let w: u16 = cols
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c.width)
                .sum();
            w + n.saturating_sub(1)
        };
        while used(&keep) > width {
            let next = (0..cols.len())
                .filter(|&i| keep[i] && cols[i].drop > 0)
                .max_by_key(|&i| cols[i].drop);
            match next {
                Some(i) => keep[i] = false,
                None => break,
            }
        }
        Fit { cols, keep }
    }

    fn kept(&self) -> impl Iterator<Item = &Col> {
        self.cols
            .iter()
            .zip(&self.keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
    }

    fn header(&self) -> Row<'static> {
        header(self.kept().map(|c| c.head))
    }

    fn widths(&self) -> Vec<Constraint> {
        self.kept()
            .map(|c| {
                if c.fill {
                    Constraint::Min(c.width)
                } else {
                    Constraint::Length(c.width)
                }
            })
            .collect()
    }

    /// The kept cells of a row (given one cell per column).
    fn row<'a>(&self, cells: Vec<Cell<'a>>) -> Row<'a> {
        Row::new(
            cells
                .into_iter()
                .zip(&self.keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c),
        )
    }

    fn table<'a>(&self, rows: Vec<Row<'a>>) -> Table<'a> {
        Table::new(rows, self.widths()).header(self.header())
    }
}

/// `s` without its first `n` characters: long text scrolled sideways.
fn shifted(s: &str, n: u16) -> String {
    s.chars().skip(usize::from(n)).collect()
}

/// The first row of a list window of `visible` rows that shows `sel` (on
/// its last line when the list is longer, as ratatui's own scrolling does).
fn window_start(sel: usize, visible: usize) -> usize {
    (sel + 1).saturating_sub(visible.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_whole_headers_and_leave_in_their_order() {
        let cols = [
            col("sev", 5, 0),
            col("code", 2, 2),
            col("real server", 15, 1),
            fill("summary", 20),
        ];
        // "code" is as wide as its header even when its cells are narrower.
        let wide = Fit::new(&cols, 200);
        assert_eq!(
            wide.kept().map(|c| c.width).collect::<Vec<_>>(),
            [5, 4, 15, 20]
        );
        // 5+4+15+20 and 3 spaces = 47: at 46 the highest drop number goes first.
        let kept = |w: u16| -> Vec<&str> { Fit::new(&cols, w).kept().map(|c| c.head).collect() };
        assert_eq!(kept(47), ["sev", "code", "real server", "summary"]);
        assert_eq!(kept(46), ["sev", "real server", "summary"]);
        assert_eq!(kept(30), ["sev", "summary"]);
        // Columns that never leave stay, however narrow.
        assert_eq!(kept(3), ["sev", "summary"]);
        assert_eq!(
            Fit::new(&cols, 30).widths(),
            [Constraint::Length(5), Constraint::Min(20)]
        );
    }

    #[test]
    fn thousands_and_first_steps() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            first_step("On rs3: ip addr add X dev lo; sysctl -w a=1"),
            "On rs3: ip addr add X dev lo"
        );
        assert_eq!(first_step("one line\nsecond"), "one line");
        assert_eq!(shifted("abcdef", 2), "cdef");
        assert_eq!(shifted("ab", 9), "");
        assert_eq!(window_start(0, 10), 0);
        assert_eq!(window_start(25, 10), 16);
    }
}
