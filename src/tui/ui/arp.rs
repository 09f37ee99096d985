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
