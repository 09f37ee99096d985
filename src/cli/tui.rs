//! `lvsdiag tui` (and plain `lvsdiag SOURCES`): the incident view.

use super::*;

pub(crate) fn run_tui(mut t: TuiArgs) -> u8 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return fail(
            "the TUI needs a terminal; for a report use lvsdiag analyze (add --format json for CI)",
        );
    }
    let (model, snapshots) = match prepare(&t.model, &mut t.src) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let specs = match t.src.specs() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let label = describe(&specs);
    let opts = SessionOptions {
        engine: Options {
            keep_flows: 2000,
            ..t.model.options()
        },
        capture: t.src.capture(Some(&model)),
        speed: t.speed,
        snapshots,
        ..SessionOptions::default()
    };
    let session = match Session::start(specs, model, opts) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let mut app = App::new(label);
    app.export_dir = t.export_dir;
    if let Err(e) = lvsdiag::tui::run(&session, app) {
        return fail(&format!("terminal error: {e}"));
    }
    let last = session.stop();
    point_errors(last.as_ref().map(|p| &p.overview.analysis))
}
