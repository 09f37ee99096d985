//! The ARP/VRRP view: who claims each VIP, and VRRP's masters.

use super::*;

pub(super) fn draw_arp(f: &mut Frame, area: Rect, app: &App, o: &Overview) {
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
            Paragraph::new(lines).scroll((0, app.pane().hscroll)).block(
                Block::default()
                    .borders(Borders::TOP)
                    .title("VRRP: virtual routers, who advertised, masters over time"),
            ),
            bottom,
        );
        top
    };
    let shown = app.arp_rows(o);
    let at = |e: &Evidence| format!("{} #{}", point_name(a, e), e.frame);
    let seen_w = shown
        .iter()
        .flat_map(|r| [at(&r.first), at(&r.last)])
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0) as u16;
    let fit = Fit::new(
        &[
            col("VIP", 15, 0),
            col("answered by MAC", 17, 0),
            fill("role", 11),
            col("claims", 6, 4),
            col("replies", 7, 5),
            col("gratuitous", 10, 6),
            col("first", seen_w, 3),
            col("last", seen_w, 2),
            col("now", 6, 1),
        ],
        area.width,
    );
    let rows: Vec<Row> = shown
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
            fit.row(vec![
                Cell::from(r.ip.to_string()),
                Cell::from(fmt_mac(&r.mac)),
                Cell::from(role),
                Cell::from(r.count.to_string()),
                Cell::from(r.replies.to_string()),
                Cell::from(r.gratuitous.to_string()),
                Cell::from(at(&r.first)),
                Cell::from(at(&r.last)),
                Cell::from(if r.current && owners > 1 { "owner" } else { "" }),
            ])
            .style(style)
        })
        .collect();
    let empty = rows.is_empty();
    let t = fit
        .table(rows)
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
