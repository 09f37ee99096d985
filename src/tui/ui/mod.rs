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
        Constraint::Length(1),
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
        draw_help(f, area);
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
        Span::raw(format!(
            " lvsdiag — {} — {} points, {} packets, {} connections",
            app.source,
            a.points.len(),
            a.packets,
            a.flows.flows
        )),
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

fn draw_verdict(f: &mut Frame, area: Rect, a: &Analysis) {
    let errors: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let warnings = a
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let (style, text) = if let Some(first) = errors.first() {
        let what = match &first.real_server {
            Some(rs) => format!("{rs} {}", headline(first.code)),
            None => first.summary.clone(),
        };
        (
            sev_style(Severity::Error),
            format!(
                "✗ {} error(s): {what} [{}]{}",
                errors.len(),
                first.code,
                if errors.len() > 1 {
                    " — more in Findings"
                } else {
                    ""
                }
            ),
        )
    } else if warnings > 0 {
        (
            sev_style(Severity::Warning),
            format!("! {warnings} warning(s) — see Findings"),
        )
    } else if let Some(s) = a
        .services
        .iter()
        .find(|s| s.verdict == crate::engine::Verdict::Unknown)
    {
        (
            sev_style(Severity::Warning),
            format!("? {} unknown: {}", s.service.label(), s.verdict_why),
        )
    } else if a.flows.flows == 0 {
        (
            Style::new(),
            "no connections through a VIP seen yet".to_string(),
        )
    } else {
        (
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            match a
                .points
                .iter()
                .find(|p| p.error.is_some() || !p.losses.is_empty())
            {
                Some(p) => format!(
                    "✓ healthy as far as seen: {} {} (absences there are not proof)",
                    p.name,
                    if p.error.is_some() {
                        "ended early"
                    } else {
                        "lost packets"
                    }
                ),
                None => {
                    "✓ healthy: every real server answers through the expected path".to_string()
                }
            },
        )
    };
    f.render_widget(Paragraph::new(Span::styled(text, style)), area);
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
        Line::from(
            "q quit  ? help  Tab views  Enter open  / filter  s sort  p pause  e export pcap",
        )
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_help(f: &mut Frame, area: Rect) {
    let w = area.width.min(64);
    let h = area.height.min(20);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let text = "\
tab / shift-tab, 1-6   switch view (Services, Findings, Flows, ARP/VRRP,
                       Config, Timeline)
↑ ↓  j k  PgUp PgDn    move the selection (g / G: first / last)
Enter                  open: a service's findings and flows, a
                       finding's detail, a flow's ladder (Esc: back),
                       an event's flows
/                      filter this view (every word; / then Esc clears)
s                      sort this view (the order is in its title)
p or space             pause the screen (capture goes on)
e                      export the selected flow or finding evidence (pcapng)
?                      this help
q, Ctrl-C              quit

Drops (kernel, interface, lvsdiag) are in the title and the
capture points table; a point that ended is named in the title.";
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::ALL)
                .title("help (any key closes)"),
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
