//! The Flows view: kept connections, and a connection's ladder.

use super::*;

pub(super) fn state_style(s: FlowState) -> Style {
    match s {
        FlowState::Established => Style::new().fg(Color::Green),
        FlowState::Open => Style::new(),
        FlowState::Failed | FlowState::Reset => Style::new().fg(Color::Red),
    }
}

pub(super) fn draw_flows(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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
    let visible = usize::from(area.height.saturating_sub(2)).max(1);
    let start = window_start(sel, visible);
    let shown: Vec<&&FlowRow> = rows.iter().skip(start).take(visible).collect();
    let width = |f: &dyn Fn(&FlowRow) -> String, min: u16| {
        shown
            .iter()
            .map(|r| f(r).chars().count() as u16)
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let client_w = width(&|r| sock(r.client, r.cport), 15);
    let vip_w = width(&|r| format!("{}/{}", sock(r.vip, r.vport), r.proto), 15);
    let fit = Fit::new(
        &[
            col("t (s)", 8, 5),
            col("client", client_w, 0),
            col("VIP", vip_w, 0),
            fill("real server", 11),
            col("mode", 4, 4),
            col("state", 11, 0),
            col("SYNrtx", 6, 3),
            col("RTT ms", 7, 2),
        ],
        area.width,
    );
    let trs: Vec<Row> = shown
        .iter()
        .map(|r| {
            fit.row(vec![
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
    let t = fit
        .table(trs)
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

pub(super) fn sock(ip: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

pub(super) fn mac(m: Option<[u8; 6]>) -> String {
    m.map_or("-".into(), |m| fmt_mac(&m))
}

pub(super) fn leg_line(l: &Leg, proto: Proto, a: &Analysis, t0: i64) -> Line<'static> {
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

pub(super) fn draw_ladder(f: &mut Frame, area: Rect, app: &App, r: &FlowRow, a: &Analysis) {
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
