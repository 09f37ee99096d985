//! The Services view: each service and its real servers, their counts and
//! verdicts, and the capture points.

use super::*;

pub(super) fn rtt(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |m| format!("{m:.2}"))
}

pub(super) fn rs_name(r: &RsReport) -> String {
    match (r.ip, r.mac) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(m)) => fmt_mac(&m),
        (None, None) => "(not visible)".into(),
    }
}

pub(super) fn draw_services(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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

pub(super) fn verdict_cell(
    worst: Option<Severity>,
    conns: u64,
    code: Option<&str>,
) -> Cell<'static> {
    match worst {
        Some(s) if s >= Severity::Warning => {
            let what = code.map_or(String::new(), |c| format!(" {}", headline(c)));
            Cell::from(format!("{}{what}", sev_word(s))).style(sev_style(s))
        }
        _ if conns == 0 => Cell::from("no traffic"),
        _ => Cell::from("OK").style(Style::new().fg(Color::Green)),
    }
}
