//! `lvsdiag tui`: the incident view. The session's engine runs on its own
//! thread (capture threads → bounded channel → engine → latest overview);
//! this loop only reads the latest overview, draws it, and answers keys, so
//! rendering never waits on capture and stays steady at any packet rate.

pub mod app;
pub mod pane;
pub mod ui;

use crate::session::Session;
use app::{Action, App};
use crossterm::event::{self, Event, KeyEventKind};
use std::time::Duration;

/// Runs the TUI until the user quits. The terminal is restored on exit, on
/// error and on panic.
pub fn run(session: &Session, mut app: App) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let r = event_loop(&mut terminal, session, &mut app);
    ratatui::restore();
    r
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    session: &Session,
    app: &mut App,
) -> std::io::Result<()> {
    let mut last_seq = 0;
    let mut dirty = true;
    loop {
        let latest = session.latest();
        let shown = app.shown(latest.clone());
        let seq = latest.as_ref().map_or(0, |p| p.seq);
        if dirty || (seq != last_seq && !app.paused()) {
            terminal.draw(|f| ui::draw(f, app, shown.as_ref()))?;
            last_seq = seq;
            dirty = false;
        }
        if !event::poll(Duration::from_millis(200))? {
            continue;
        }
        dirty = true;
        match event::read()? {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                let rows = shown.as_ref().map_or(0, |d| ui::rows(app, &d.overview));
                match app.on_key(k, shown.as_ref(), rows) {
                    Action::Quit => return Ok(()),
                    Action::Export(sel, path) => {
                        app.status = Some("exporting…".into());
                        terminal.draw(|f| ui::draw(f, app, shown.as_ref()))?;
                        let shown_path = crate::report::sanitize(&path.display().to_string());
                        app.status = Some(match session.export(sel, path) {
                            Ok(0) => format!("no packets found for it; {shown_path} is empty"),
                            Ok(n) => {
                                format!("wrote {n} packets to {shown_path} (open it in Wireshark)")
                            }
                            Err(e) => format!("export failed: {e}"),
                        });
                    }
                    Action::None => {}
                }
            }
            // Resize and anything else: redraw at the new size.
            _ => {}
        }
    }
}
