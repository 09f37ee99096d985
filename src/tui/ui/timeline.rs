//! The Timeline view: events in time order, with packet-rate sparklines.

use super::*;
use crate::tui::app::TimeRow;

/// Eight heights of a bar, for the per-real-server rates.
pub(super) const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The Timeline view: per real server, new connections per time bucket
/// (red where some failed), then the events; Enter on an event opens its
/// flows.
pub(super) fn draw_timeline(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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
    let all = app.events(o);
    let fit = Fit::new(
        &[
            col("time (UTC)", 15, 0),
            col("event", 13, 1),
            fill("what", 20),
        ],
        bottom.width,
    );
    let sel = app.pane().selected.min(all.len().saturating_sub(1));
    let start = window_start(sel, usize::from(bottom.height.saturating_sub(2)));
    let hs = app.pane().hscroll;
    let any_folded = all
        .iter()
        .any(|r| matches!(r, TimeRow::Line(l) if l.folded()));
    let rows: Vec<Row> =
        all.iter()
            .skip(start)
            .take(usize::from(bottom.height))
            .map(|r| {
                let (e, what, mark) = match r {
                    TimeRow::Line(l) => (
                        l.first(),
                        l.what(crate::report::text::seconds),
                        if !any_folded {
                            ""
                        } else if !l.folded() {
                            "  "
                        } else if app.unfolded(l) {
                            "▾ "
                        } else {
                            "▸ "
                        },
                    ),
                    TimeRow::Event(e) => (*e, e.what.clone(), "   └ "),
                };
                let style = match e.kind {
                    crate::timeline::EventKind::FailureBurst
                    | crate::timeline::EventKind::Finding => Style::new().fg(Color::Red),
                    crate::timeline::EventKind::VipOwner
                    | crate::timeline::EventKind::VrrpMaster => Style::new().fg(Color::Yellow),
                    _ => Style::new(),
                };
                let t = fmt_utc(e.time);
                let clock = t.split_once(' ').map_or(t.clone(), |(_, c)| c.to_string());
                fit.row(vec![
                    Cell::from(clock),
                    Cell::from(e.kind.as_str()),
                    Cell::from(shifted(
                        &format!("{mark}{}", crate::text::sanitize(&what)),
                        hs,
                    )),
                ])
                .style(style)
            })
            .collect();
    let empty = rows.is_empty();
    let folded = all
        .iter()
        .filter(|r| matches!(r, TimeRow::Line(l) if l.folded()))
        .count();
    let t = fit
        .table(rows)
        .row_highlight_style(SELECTED)
        .block(top_block(list_title(
            app.pane(),
            if folded > 0 {
                format!(
                    "{} event(s), {folded} run(s) folded (Enter: unfold a run, an event's flows)",
                    a.events.len()
                )
            } else {
                format!("{} event(s) (Enter: its flows)", a.events.len())
            },
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
    let mut st = TableState::default().with_selected(Some(sel - start));
    f.render_stateful_widget(t, bottom, &mut st);
}
