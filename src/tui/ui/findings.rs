//! The Findings view: the list, and a finding's detail with its evidence.

use super::*;

pub(super) fn draw_findings(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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
    // Only the rows on screen are made.
    let start = window_start(sel, usize::from(area.height.saturating_sub(2)));
    let shown: Vec<&Finding> = fs
        .iter()
        .skip(start)
        .take(usize::from(area.height))
        .copied()
        .collect();
    let code_w = shown.iter().map(|x| x.code.len()).max().unwrap_or(0) as u16;
    let fit = Fit::new(
        &[
            col("sev", 5, 0),
            col("code", code_w, 2),
            col("real server", 15, 1),
            fill("summary", 20),
        ],
        area.width,
    );
    let hs = app.pane().hscroll;
    let rows: Vec<Row> = shown
        .iter()
        .map(|x| {
            fit.row(vec![
                Cell::from(sev_word(x.severity)).style(sev_style(x.severity)),
                Cell::from(x.code),
                Cell::from(x.rs_label().unwrap_or_default()),
                Cell::from(shifted(
                    &match &x.losses {
                        // The drops sit next to every finding they weaken.
                        Some(_) if x.weakened => format!("[drops: not proven] {}", x.summary),
                        Some(_) => format!("[drops seen] {}", x.summary),
                        None => x.summary.clone(),
                    },
                    hs,
                )),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let t = fit
        .table(rows)
        .row_highlight_style(SELECTED)
        .block(top_block(list_title(
            app.pane(),
            format!(
                "{} finding(s) (Enter: detail, e: export evidence)",
                fs.len()
            ),
        )));
    let mut st = TableState::default().with_selected((!empty).then_some(sel - start));
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

pub(super) fn draw_finding_detail(f: &mut Frame, area: Rect, app: &App, x: &Finding, a: &Analysis) {
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
