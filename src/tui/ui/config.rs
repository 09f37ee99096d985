//! The Config view: the IPVS model lvsdiag uses, and what is visible.

use super::*;

pub(super) fn draw_config(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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
