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
    let svc_rows = service_rows(app, a);
    // The capture points below the services, as many as the services
    // leave room for; on a small screen the services come first (the
    // title keeps the drops and the points that ended).
    let want = a.points.len() as u16 + 2;
    let room = area
        .height
        .saturating_sub((svc_rows.len() as u16).saturating_add(2));
    let points_h = if room >= 3 {
        want.min(room)
    } else if area.height >= 16 {
        want.min(area.height / 3)
    } else {
        0
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(points_h)]).areas(area);
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
    let fit = Fit::new(
        &[
            col("service / real server", name_w, 0),
            col("mode", 5, 7),
            col("sched", 6, 12),
            col("conns", 7, 6),
            col("estab", 7, 8),
            col("failed", 7, 0),
            col("SYNrtx", 7, 9),
            col("resets", 7, 11),
            col("RTT ms", 8, 10),
            fill("verdict", 24),
        ],
        top.width,
    );
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(cells, style)| fit.row(cells).style(style))
        .collect();
    let table = fit
        .table(rows)
        .row_highlight_style(SELECTED)
        .block(top_block(list_title(
            app.pane(),
            "services → real servers".into(),
        )));
    let mut st = TableState::default().with_selected(Some(app.pane_of(View::Services).selected));
    f.render_stateful_widget(table, top, &mut st);

    let name_w = a
        .points
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0) as u16;
    let pfit = Fit::new(
        &[
            col("capture point", name_w, 0),
            fill("source", 12),
            col("link", 8, 3),
            col("packets", 9, 0),
            col("drops", 28, 1),
            col("state", 16, 2),
        ],
        bottom.width,
    );
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
            pfit.row(vec![
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
    let t = pfit.table(prow).block(top_block("capture points"));
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
