//! Drawing the TUI: title bar with capture points and drops, the verdict
//! row, view tabs, the current view, and the key line.

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
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap,
};
use ratatui::Frame;
use std::sync::Arc;

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

fn rtt(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |m| format!("{m:.2}"))
}

fn rs_name(r: &RsReport) -> String {
    match (r.ip, r.mac) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(m)) => fmt_mac(&m),
        (None, None) => "(not visible)".into(),
    }
}

fn draw_services(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let a = &o.analysis;
    let n_points = a.points.len() as u16;
    let [top, bottom] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length((n_points + 3).min(area.height / 2).max(4)),
    ])
    .areas(area);
    let svc_rows = service_rows(app, a);
    // The name column as wide as its longest entry; the verdict takes the rest.
    let name_w = svc_rows
        .iter()
        .map(|r| match r {
            SvcRow::Service(s) => s.service.label().chars().count(),
            SvcRow::Server(r) => rs_name(r).chars().count() + 4,
        })
        .max()
        .unwrap_or(0)
        .clamp(21, 48) as u16
        + 1;
    let rows: Vec<(Vec<Cell>, Style)> = svc_rows
        .into_iter()
        .map(|r| match r {
            SvcRow::Service(s) => {
                let label = s.service.label();
                let worst = a
                    .findings
                    .iter()
                    .filter(|f| f.service == Some(s.service.key))
                    .map(|f| f.severity)
                    .max();
                let st = &s.stats;
                (
                    [
                        vec![
                            Cell::from(label),
                            Cell::from(s.service.mode.map_or("?".into(), |m| m.to_string())),
                            Cell::from(s.service.scheduler.clone().unwrap_or_default()),
                        ],
                        stat_cells(st),
                        vec![verdict_cell(worst, st.connections, None)],
                    ]
                    .concat(),
                    Style::new().add_modifier(Modifier::BOLD),
                )
            }
            SvcRow::Server(r) => {
                let name = rs_name(r);
                let worst = a
                    .findings
                    .iter()
                    .filter(|f| {
                        f.service == Some(r.service)
                            && f.real_server.is_some()
                            && f.real_server == r.id()
                    })
                    .max_by_key(|f| f.severity);
                let st = &r.stats;
                // A broken real server's whole row in its colour.
                let style = match worst.map(|f| f.severity) {
                    Some(Severity::Error) => sev_style(Severity::Error),
                    Some(Severity::Warning) => sev_style(Severity::Warning),
                    _ => Style::new(),
                };
                (
                    [
                        vec![
                            Cell::from(format!("  └ {name}")),
                            Cell::from(r.mode.map_or("?".into(), |m| m.to_string())),
                            Cell::from(r.weight.map_or(String::new(), |w| format!("w{w}"))),
                        ],
                        stat_cells(st),
                        vec![verdict_cell(
                            worst.map(|f| f.severity),
                            st.connections,
                            worst.map(|f| f.code),
                        )],
                    ]
                    .concat(),
                    style,
                )
            }
        })
        .collect();
    // Columns go by importance as the terminal narrows: sched, resets and
    // RTT first; the name, failed and the verdict never.
    const HEADS: [&str; 10] = [
        "service / real server",
        "mode",
        "sched",
        "conns",
        "estab",
        "failed",
        "SYNrtx",
        "resets",
        "RTT ms",
        "verdict",
    ];
    let widths: [u16; 10] = [name_w, 5, 6, 7, 7, 7, 7, 7, 8, 0];
    const DROP_ORDER: [usize; 7] = [2, 7, 8, 6, 4, 1, 3];
    const VERDICT_MIN: u16 = 24;
    let avail = top.width.saturating_sub(2);
    let mut keep = [true; 10];
    let used = |keep: &[bool; 10]| -> u16 {
        (0..9)
            .filter(|&i| keep[i])
            .map(|i| widths[i] + 1)
            .sum::<u16>()
    };
    for i in DROP_ORDER {
        if used(&keep) + VERDICT_MIN <= avail {
            break;
        }
        keep[i] = false;
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(cells, style)| {
            Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep[*i])
                    .map(|(_, c)| c),
            )
            .style(style)
        })
        .collect();
    let constraints: Vec<Constraint> = (0..10)
        .filter(|&i| keep[i])
        .map(|i| {
            if i == 9 {
                Constraint::Fill(1)
            } else {
                Constraint::Length(widths[i])
            }
        })
        .collect();
    let table = Table::new(rows, constraints)
        .header(header(
            HEADS
                .iter()
                .enumerate()
                .filter(|(i, _)| keep[*i])
                .map(|(_, h)| *h)
                .collect::<Vec<_>>(),
        ))
        .row_highlight_style(SELECTED)
        .block(top_block(list_title(
            app.pane(),
            "services → real servers".into(),
        )));
    let mut st = TableState::default().with_selected(Some(app.pane_of(View::Services).selected));
    f.render_stateful_widget(table, top, &mut st);

    let prow: Vec<Row> = a
        .points
        .iter()
        .map(|p| {
            let (state, drops, style) = match (&p.live, &p.error) {
                (_, Some(_)) => (
                    "ended with error".to_string(),
                    String::new(),
                    Style::new().fg(Color::Red),
                ),
                (Some(l), None) => (
                    if l.running {
                        "capturing".into()
                    } else {
                        "stopped".into()
                    },
                    format!(
                        "kernel {} if {} lvsdiag {}",
                        l.kernel_drops, l.interface_drops, l.lvsdiag_drops
                    ),
                    if l.total_drops() > 0 {
                        Style::new().fg(Color::Red)
                    } else {
                        Style::new()
                    },
                ),
                (None, None) => ("file".to_string(), "-".to_string(), Style::new()),
            };
            Row::new(vec![
                Cell::from(p.name.clone()),
                Cell::from(p.live.as_ref().map_or_else(
                    || {
                        // The file's name: its directory is in the title.
                        p.path.as_ref().map_or(String::new(), |x| {
                            let name = x.file_name().map_or(x.as_os_str(), |n| n);
                            crate::report::sanitize(&name.to_string_lossy())
                        })
                    },
                    |l| l.what.clone(),
                )),
                Cell::from(p.link_type.name()),
                Cell::from(p.packets.to_string()),
                Cell::from(drops),
                Cell::from(state),
            ])
            .style(style)
        })
        .collect();
    let t = Table::new(
        prow,
        [
            Constraint::Length(16),
            Constraint::Min(20),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(28),
            Constraint::Length(16),
        ],
    )
    .header(header([
        "capture point",
        "source",
        "link",
        "packets",
        "drops",
        "state",
    ]))
    .block(top_block("capture points"));
    f.render_widget(t, bottom);
}

fn verdict_cell(worst: Option<Severity>, conns: u64, code: Option<&str>) -> Cell<'static> {
    match worst {
        Some(s) if s >= Severity::Warning => {
            let what = code.map_or(String::new(), |c| format!(" {}", headline(c)));
            Cell::from(format!("{}{what}", sev_word(s))).style(sev_style(s))
        }
        _ if conns == 0 => Cell::from("no traffic"),
        _ => Cell::from("OK").style(Style::new().fg(Color::Green)),
    }
}

fn point_name(a: &Analysis, e: &Evidence) -> String {
    a.points
        .get(usize::from(e.point))
        .map_or("?".into(), |p| p.name.clone())
}

fn draw_findings(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let fs = app.findings(o);
    let sel = app
        .pane_of(View::Findings)
        .selected
        .min(fs.len().saturating_sub(1));
    if app.pane().detail {
        if let Some(x) = fs.get(sel) {
            return draw_finding_detail(f, area, app, x, &o.analysis);
        }
    }
    let rows: Vec<Row> = fs
        .iter()
        .map(|x| {
            Row::new(vec![
                Cell::from(sev_word(x.severity)).style(sev_style(x.severity)),
                Cell::from(x.code),
                Cell::from(x.rs_label().unwrap_or_default()),
                Cell::from(match &x.losses {
                    // The drops sit next to every finding they weaken.
                    Some(_) if x.weakened => format!("[drops: not proven] {}", x.summary),
                    Some(_) => format!("[drops seen] {}", x.summary),
                    None => x.summary.clone(),
                }),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let t = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(30),
            Constraint::Length(16),
            Constraint::Min(20),
        ],
    )
    .header(header(["sev", "code", "real server", "summary"]))
    .row_highlight_style(SELECTED)
    .block(top_block(list_title(
        app.pane(),
        "findings (Enter: detail, e: export evidence)".into(),
    )));
    let mut st = TableState::default().with_selected((!empty).then_some(sel));
    f.render_stateful_widget(t, area, &mut st);
    if empty {
        let msg = if o.analysis.findings.is_empty() {
            "no findings"
        } else {
            "no finding matches the filter"
        };
        f.render_widget(
            Paragraph::new(msg),
            Rect {
                y: area.y + 2,
                height: 1,
                ..area
            },
        );
    }
}

fn draw_finding_detail(f: &mut Frame, area: Rect, app: &App, x: &Finding, a: &Analysis) {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", sev_word(x.severity)), sev_style(x.severity)),
            Span::styled(x.code, Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                "  {}  {}",
                x.service_label().unwrap_or_default(),
                x.rs_label().unwrap_or_default()
            )),
        ]),
        Line::from(""),
        Line::from(x.summary.clone()),
    ];
    if let Some(by) = x.explained_by {
        lines.push(Line::from(Span::styled(
            format!("explained by {by} (a symptom of it)"),
            Style::new().fg(Color::Cyan),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Cause",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    lines.push(Line::from(x.cause.clone()));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Evidence",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    for e in &x.evidence {
        lines.push(Line::from(format!(
            "  {} frame {} at {} UTC",
            point_name(a, e),
            e.frame,
            fmt_utc(e.time)
        )));
    }
    if x.evidence.is_empty() {
        lines.push(Line::from("  (none)"));
    }
    if let Some(l) = &x.losses {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            if x.weakened {
                "Drops (lowered: not proven)"
            } else {
                "Drops"
            },
            Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow),
        )));
        lines.push(Line::from(l.clone()));
    }
    if !x.config.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            match x.confirmed_by {
                Some(c) => format!("Configuration (confirmed by {c})"),
                None => "Configuration".to_string(),
            },
            Style::new().add_modifier(Modifier::BOLD),
        )));
        for c in &x.config {
            lines.push(Line::from(format!("  {c}")));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Fix",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    for l in x.fix.lines() {
        lines.push(Line::from(l.to_string()));
    }
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.pane().scroll, 0))
            .block(top_block(
                "finding (Esc: back, e: export evidence as pcapng)",
            )),
        area,
    );
}

fn state_style(s: FlowState) -> Style {
    match s {
        FlowState::Established => Style::new().fg(Color::Green),
        FlowState::Open => Style::new(),
        FlowState::Failed | FlowState::Reset => Style::new().fg(Color::Red),
    }
}

fn draw_flows(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let rows = app.flows(o);
    let sel = app
        .pane_of(View::Flows)
        .selected
        .min(rows.len().saturating_sub(1));
    if app.pane().detail {
        if let Some(r) = rows.get(sel) {
            return draw_ladder(f, area, app, r, &o.analysis);
        }
    }
    // Oldest first: the first row is the earliest.
    let t0 = o.flows.first().map_or(0, |r| r.first_ts);
    // Only the rows on screen are made (the table scrolls so that the
    // selection is on its last line, as ratatui's own scrolling does).
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let start = (sel + 1).saturating_sub(visible);
    let trs: Vec<Row> = rows
        .iter()
        .skip(start)
        .take(visible)
        .map(|r| {
            Row::new(vec![
                Cell::from(format!("{:.3}", (r.first_ts - t0) as f64 / 1e9)),
                Cell::from(sock(r.client, r.cport)),
                Cell::from(format!("{}/{}", sock(r.vip, r.vport), r.proto)),
                Cell::from(r.rs_label.clone().unwrap_or_else(|| "-".into())),
                Cell::from(r.mode.map_or("?".into(), |m| m.to_string())),
                Cell::from(r.state.as_str()).style(state_style(r.state)),
                Cell::from(r.syn_retransmits.to_string()),
                Cell::from(
                    r.rtt_ns
                        .map_or("-".into(), |n| format!("{:.2}", n as f64 / 1e6)),
                ),
            ])
        })
        .collect();
    let empty = trs.is_empty();
    let not_kept = if o.flows_not_kept > 0 {
        format!("; {} older failed not kept", o.flows_not_kept)
    } else {
        String::new()
    };
    let t = Table::new(
        trs,
        [
            Constraint::Length(9),
            Constraint::Min(20),
            Constraint::Min(20),
            Constraint::Min(15),
            Constraint::Length(5),
            Constraint::Min(11),
            Constraint::Length(6),
            Constraint::Length(7),
        ],
    )
    .header(header([
        "t (s)",
        "client",
        "VIP",
        "real server",
        "mode",
        "state",
        "SYNrtx",
        "RTT ms",
    ]))
    .row_highlight_style(SELECTED)
    .block(top_block(list_title(
        app.pane(),
        if app.pane().filter.is_empty() {
            format!(
                "flows ({} kept{not_kept}; /failed, Enter: ladder, e: export pcapng)",
                o.flows.len()
            )
        } else {
            format!("flows ({} of {}{not_kept})", rows.len(), o.flows.len())
        },
    )));
    let mut st = TableState::default().with_selected((!empty).then_some(sel - start));
    f.render_stateful_widget(t, area, &mut st);
    if empty {
        f.render_widget(
            Paragraph::new(if o.flows.is_empty() {
                "no connections yet"
            } else {
                "no flow matches the filter"
            }),
            Rect {
                y: area.y + 2,
                height: 1,
                ..area
            },
        );
    }
}

fn sock(ip: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

fn mac(m: Option<[u8; 6]>) -> String {
    m.map_or("-".into(), |m| fmt_mac(&m))
}

fn leg_line(l: &Leg, proto: Proto, a: &Analysis, t0: i64) -> Line<'static> {
    let icmp;
    let what = if l.step == Step::Reply && l.rst {
        "RST"
    } else if let Some(k) = l.icmp {
        icmp = format!("ICMP {}", k.as_str());
        &icmp
    } else {
        l.step.name(proto)
    };
    let mut s = format!(
        "{:>8.3} ms  {:<14} {:<22} {} → {}",
        (l.at.time - t0) as f64 / 1e6,
        point_name(a, &l.at),
        what,
        sock(l.src.0, l.src.1),
        sock(l.dst.0, l.dst.1),
    );
    if l.src_mac.is_some() || l.dst_mac.is_some() {
        s.push_str(&format!("  {} → {}", mac(l.src_mac), mac(l.dst_mac)));
    }
    if let Some((o1, o2)) = l.outer {
        s.push_str(&format!("  IPIP {o1} → {o2}"));
    }
    if l.count > 1 {
        s.push_str(&format!("  ×{}", l.count));
    }
    let style = match l.step {
        Step::Bypass => Style::new().fg(Color::Red),
        Step::Reply if l.rst => Style::new().fg(Color::Red),
        Step::Icmp => Style::new().fg(Color::Red),
        _ => Style::new(),
    };
    Line::from(Span::styled(s, style))
}

fn draw_ladder(f: &mut Frame, area: Rect, app: &App, r: &FlowRow, a: &Analysis) {
    let t0 = r.first_ts;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} → {}/{}",
                    sock(r.client, r.cport),
                    sock(r.vip, r.vport),
                    r.proto
                ),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "  {}  real server {}  ",
                r.mode.map_or("mode ?".into(), |m| m.to_string()),
                r.rs_label.as_deref().unwrap_or("not visible")
            )),
            Span::styled(r.state.as_str(), state_style(r.state)),
        ]),
        Line::from(""),
    ];
    // The ladder in order of the steps; a missing step is marked where it belongs.
    for step in [
        Step::ClientSyn,
        Step::Forward,
        Step::Bypass,
        Step::Reply,
        Step::Icmp,
        Step::ClientAck,
    ] {
        let legs: Vec<&Leg> = r.legs.iter().filter(|l| l.step == step).collect();
        for l in &legs {
            lines.push(leg_line(l, r.proto, a, t0));
        }
        if legs.is_empty() {
            if let Some((_, why)) = r.missing.iter().find(|(s, _)| *s == step) {
                lines.push(Line::from(Span::styled(
                    format!("     ✗ missing  {:<22} {why}", step.name(r.proto)),
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                )));
            }
        } else if let Some((_, why)) = r.missing.iter().find(|(s, _)| *s == step) {
            lines.push(Line::from(Span::styled(
                format!("      ✗ {why}"),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            )));
        }
    }
    if !r.life.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "after the handshake (each leg folded from its first to its last segment):",
            Style::new().add_modifier(Modifier::BOLD),
        )));
        for l in &r.life {
            let at = l.at.map_or(String::new(), |e| {
                format!(" {} #{}", point_name(a, &e), e.frame)
            });
            let style = if l.bad {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "  +{:>8.3}s{at}  {}",
                    (l.time - t0) as f64 / 1e9,
                    crate::text::sanitize(&l.text)
                ),
                style,
            )));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "columns: time since the first SYN, capture point, step, IP src → dst, MAC src → dst, ×N = seen N times (retransmitted)",
    ));
    if r.syn_retransmits > 0 {
        lines.push(Line::from(format!(
            "the client retransmitted its SYN {} time(s)",
            r.syn_retransmits
        )));
    }
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.pane().scroll, 0))
            .block(top_block(
                "flow ladder across capture points (Esc: back, e: export pcapng)",
            )),
        area,
    );
}

/// Eight heights of a bar, for the per-real-server rates.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The Timeline view: per real server, new connections per time bucket
/// (red where some failed), then the events; Enter on an event opens its
/// flows.
fn draw_timeline(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let a = &o.analysis;
    let series: Vec<_> = a.timeline.iter().filter(|s| !s.series.is_empty()).collect();
    let h = (series.len() as u16 + 2).min(area.height / 2).max(3);
    let [top, bottom] = Layout::vertical([Constraint::Length(h), Constraint::Min(3)]).areas(area);
    // One time axis for all: from the earliest bucket to the latest.
    let start = series.iter().map(|s| s.series.start).min().unwrap_or(0);
    let end = series
        .iter()
        .map(|s| s.series.at(s.series.conns.len()))
        .max()
        .unwrap_or(start + 1);
    let label_w = 24usize;
    let cols = (top.width as usize).saturating_sub(label_w + 2).max(1);
    // A column is at least one bucket wide (no gaps between buckets).
    let widest = series.iter().map(|s| s.series.width_ns).max().unwrap_or(1);
    let col_ns = ((end - start) / cols as i64).max(widest).max(1);
    let cols = (((end - start) + col_ns - 1) / col_ns).clamp(1, cols as i64) as usize;
    let mut lines = Vec::new();
    for s in &series {
        // Counts per column (a column may hold several buckets).
        let mut conns = vec![0u64; cols];
        let mut fails = vec![0u64; cols];
        for (i, (&c, &fl)) in s.series.conns.iter().zip(&s.series.fails).enumerate() {
            let col = (((s.series.at(i) - start) / col_ns) as usize).min(cols - 1);
            conns[col] += u64::from(c);
            fails[col] += u64::from(fl);
        }
        let max = conns.iter().copied().max().unwrap_or(0).max(1);
        let label = format!(
            "{} {}",
            s.real_server.map_or_else(|| "?".into(), |r| r.to_string()),
            s.service.port().map_or(String::new(), |p| format!(":{p}"))
        );
        let mut spans = vec![Span::raw(format!("{:<label_w$.label_w$} ", label))];
        for (c, fl) in conns.iter().zip(&fails) {
            let ch = if *c == 0 {
                ' '
            } else {
                BARS[((c * 7) / max) as usize]
            };
            let style = if *fl > 0 {
                Style::new().fg(Color::Red)
            } else {
                Style::new().fg(Color::Green)
            };
            spans.push(Span::styled(ch.to_string(), style));
        }
        lines.push(Line::from(spans));
    }
    let span_s = (end - start) as f64 / 1e9;
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::BOTTOM).title(format!(
            "new connections per real server over {span_s:.0} s (red: some failed)"
        ))),
        top,
    );
    let rows: Vec<Row> =
        app.events(o)
            .into_iter()
            .map(|e| {
                let style = match e.kind {
                    crate::timeline::EventKind::FailureBurst
                    | crate::timeline::EventKind::Finding => Style::new().fg(Color::Red),
                    crate::timeline::EventKind::VipOwner
                    | crate::timeline::EventKind::VrrpMaster => Style::new().fg(Color::Yellow),
                    _ => Style::new(),
                };
                let t = fmt_utc(e.time);
                let clock = t.split_once(' ').map_or(t.clone(), |(_, c)| c.to_string());
                Row::new(vec![
                    Cell::from(clock),
                    Cell::from(e.kind.as_str()),
                    Cell::from(crate::text::sanitize(&e.what)),
                ])
                .style(style)
            })
            .collect();
    let empty = rows.is_empty();
    let t = Table::new(
        rows,
        [
            Constraint::Length(15),
            Constraint::Length(13),
            Constraint::Min(20),
        ],
    )
    .header(header(["time (UTC)", "event", "what"]))
    .row_highlight_style(SELECTED)
    .block(top_block(list_title(
        app.pane(),
        format!("{} event(s) (Enter: its flows)", a.events.len()),
    )));
    if empty {
        f.render_widget(
            Paragraph::new("No events: no failover, no VRRP master change, no real server appearing or vanishing, no burst of failures.")
                .wrap(Wrap { trim: true })
                .block(top_block("Events")),
            bottom,
        );
        return;
    }
    let mut st = TableState::default().with_selected(Some(app.pane().selected));
    f.render_stateful_widget(t, bottom, &mut st);
}

fn draw_arp(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let a = &o.analysis;
    // VRRP below the ARP claims: each virtual router, its routers and its
    // masters over time (the text report's section).
    let mut vrrp = String::new();
    let names = |i: u16| {
        a.points
            .get(usize::from(i))
            .map_or("?", |p| p.name.as_str())
    };
    crate::report::text::vrrp(&mut vrrp, a, &names);
    let area = if vrrp.is_empty() {
        area
    } else {
        let lines: Vec<Line> = vrrp.lines().map(|l| Line::from(l.to_string())).collect();
        let h = (lines.len() as u16 + 2).min(area.height / 2).max(3);
        let [top, bottom] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(h)]).areas(area);
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::TOP)
                    .title("VRRP: virtual routers, who advertised, masters over time"),
            ),
            bottom,
        );
        top
    };
    let rows: Vec<Row> = app
        .arp_rows(o)
        .into_iter()
        .map(|r| {
            let owners = o.arp.iter().filter(|x| x.ip == r.ip).count();
            let role = if r.director {
                "director"
            } else if r.real_server {
                "REAL SERVER"
            } else {
                ""
            };
            let style = if r.real_server && !r.director {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            Row::new(vec![
                Cell::from(r.ip.to_string()),
                Cell::from(fmt_mac(&r.mac)),
                Cell::from(role),
                Cell::from(r.count.to_string()),
                Cell::from(r.replies.to_string()),
                Cell::from(r.gratuitous.to_string()),
                Cell::from(format!("{} #{}", point_name(a, &r.first), r.first.frame)),
                Cell::from(format!("{} #{}", point_name(a, &r.last), r.last.frame)),
                Cell::from(if r.current && owners > 1 {
                    "latest"
                } else {
                    ""
                }),
            ])
            .style(style)
        })
        .collect();
    let empty = rows.is_empty();
    let t = Table::new(
        rows,
        [
            Constraint::Min(15),
            Constraint::Min(17),
            Constraint::Min(11),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(18),
            Constraint::Length(18),
            Constraint::Length(6),
        ],
    )
    .header(header([
        "VIP",
        "answered by MAC",
        "role",
        "claims",
        "replies",
        "gratuitous",
        "first",
        "last",
        "",
    ]))
    .row_highlight_style(SELECTED)
    .block(top_block(list_title(
        app.pane(),
        "who answers ARP / neighbour discovery for each VIP".into(),
    )));
    let mut st =
        TableState::default().with_selected((!empty).then_some(app.pane_of(View::Arp).selected));
    f.render_stateful_widget(t, area, &mut st);
    if empty {
        f.render_widget(
            Paragraph::new("no ARP for a VIP captured (capture while the gateway re-resolves it: ip neigh del VIP dev IFACE on the gateway)"),
            Rect { y: area.y + 2, height: 1, ..area },
        );
    }
}

fn draw_config(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
    let a = &o.analysis;
    let mut lines = Vec::new();
    for s in &a.services {
        let sv = &s.service;
        lines.push(Line::from(Span::styled(
            format!(
                "{} {}{}{}",
                sv.mode.map_or("mode ?".into(), |m| m.to_string()),
                sv.label(),
                sv.scheduler
                    .as_ref()
                    .map_or(String::new(), |x| format!(" scheduler {x}")),
                if sv.persistent.is_some() {
                    " persistent"
                } else {
                    ""
                }
            ),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        let origin = match &sv.origin {
            Origin::CommandLine => "given with --vip".to_string(),
            Origin::Ipvs(file) | Origin::Keepalived(file) => format!("from {file}"),
            Origin::Inferred(why) => format!("inferred from the traffic: {why}"),
        };
        lines.push(Line::from(format!("  {origin}")));
        for r in &sv.real_servers {
            lines.push(Line::from(format!(
                "  -> {}{} {} weight {}",
                r.addr,
                r.port.map_or(String::new(), |p| format!(":{p}")),
                r.mode,
                r.weight
            )));
        }
    }
    // keepalived's model beside the IPVS table.
    for c in &a.keepalived {
        let mut t = String::new();
        crate::report::model::keepalived_text(&mut t, c);
        for (i, l) in t.lines().filter(|l| !l.is_empty()).enumerate() {
            lines.push(if i == 0 {
                Line::from(Span::styled(
                    format!("\n{}", l.trim_start()).trim_start().to_string(),
                    Style::new().add_modifier(Modifier::BOLD),
                ))
            } else {
                Line::from(l.to_string())
            });
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Configuration snapshots (lvsdiag snapshot) cross-checked with the traffic",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    if a.snapshots.is_empty() {
        lines.push(Line::from(
            "  none given: add --snapshot DIR (from lvsdiag snapshot --all-netns --out DIR, or one per host)",
        ));
    }
    for (host, pts) in &a.snapshots {
        lines.push(Line::from(format!(
            "  {host}: {}",
            if pts.is_empty() {
                "no capture point of this host".to_string()
            } else {
                format!("capture points {}", pts.join(", "))
            }
        )));
    }
    for f in a.findings.iter().filter(|f| !f.config.is_empty()) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {} ", sev_word(f.severity)),
                sev_style(f.severity),
            ),
            Span::raw(format!("{} {}", f.code, f.summary)),
        ]));
        for c in &f.config {
            lines.push(Line::from(format!("      {c}")));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "What these captures cannot show",
        Style::new().add_modifier(Modifier::BOLD),
    )));
    for n in &a.notes {
        lines.push(Line::from(format!("• {n}")));
    }
    if a.notes.is_empty() {
        lines.push(Line::from("• nothing noted"));
    }
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((app.pane().scroll, 0))
            .block(top_block("configuration (IPVS model) and visibility")),
        area,
    );
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
