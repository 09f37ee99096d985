//! Helpers every command shares: loading the model and snapshots, errors, interrupts, output.

use super::*;

/// Set by SIGINT / SIGTERM: stop capturing and report what was read.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(crate) extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

pub(crate) fn catch_interrupt() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// The model from --vip, --ipvs and the snapshots (`--snapshot`, and `*.json`
/// files among the inputs, which are taken out of them).
pub(crate) fn prepare(
    m: &ModelArgs,
    src: &mut SourceArgs,
) -> Result<(lvsdiag::model::Model, Vec<system::HostSnapshot>), u8> {
    // -r FILE is a capture file like any named one.
    let read = std::mem::take(&mut src.read);
    src.inputs.extend(read);
    let (mut model, warnings) =
        lvsdiag::analyze::build_model(&m.vip, &m.ipvs).map_err(|e| fail(&e.to_string()))?;
    if m.ipvs_timeout.is_some() {
        model.tcp_timeout = m.ipvs_timeout;
    }
    let (json, inputs): (Vec<String>, Vec<String>) = src
        .inputs
        .iter()
        .cloned()
        .partition(|i| i.ends_with(".json") && std::path::Path::new(i).is_file());
    src.inputs = inputs;
    let snapshot_args: Vec<String> = m.snapshot.iter().cloned().chain(json).collect();
    let snapshots = system::load(&snapshot_args).map_err(|e| fail(&e))?;
    for s in system::to_model(&snapshots).services {
        model.add(s);
    }
    // keepalived configurations: named, and found in input directories.
    let mut ka: Vec<String> = m.ka.keepalived.clone();
    ka.extend(lvsdiag::analyze::keepalived_in(&src.inputs));
    lvsdiag::analyze::add_keepalived(&mut model, &ka, m.ka.keepalived_id.as_deref())
        .map_err(|e| fail(&e.to_string()))?;
    lvsdiag::analyze::add_fwmarks(&mut model, &m.fwmark).map_err(|e| fail(&e.to_string()))?;
    for w in warnings {
        eprintln!("lvsdiag: warning: {w}");
    }
    if src.inputs.is_empty() && !src.is_live() && !snapshots.is_empty() {
        return Err(fail("no capture files given, only snapshots; to check the configuration alone use lvsdiag check --snapshot FILE"));
    }
    Ok((model, snapshots))
}

/// Prints each point that ended with an error; 2 when there is one.
pub(crate) fn point_errors(a: Option<&Analysis>) -> u8 {
    let mut code = 0;
    for p in a.map(|a| a.points.as_slice()).unwrap_or_default() {
        if let Some(e) = &p.error {
            eprintln!("lvsdiag: {e}");
            code = 2;
        }
    }
    code
}

pub(crate) fn describe(specs: &[Spec]) -> String {
    let files = specs.iter().filter(|s| !s.is_live()).count();
    let ifaces = specs
        .iter()
        .filter(|s| matches!(s, Spec::Interface { .. }))
        .count();
    let cmds = specs
        .iter()
        .filter(|s| matches!(s, Spec::Command { .. }))
        .count();
    let mut parts = Vec::new();
    if files > 0 {
        let first = specs
            .iter()
            .find_map(|s| match s {
                Spec::File { path, .. } => path.parent().map(|p| p.display().to_string()),
                _ => None,
            })
            .unwrap_or_default();
        parts.push(format!(
            "{files} file(s) in {}",
            lvsdiag::report::sanitize(&first)
        ));
    }
    if ifaces > 0 {
        parts.push(format!("{ifaces} interface(s)"));
    }
    if cmds > 0 {
        parts.push(format!("{cmds} stream(s)"));
    }
    parts.join(", ")
}

pub(crate) fn emit(out: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_ok()
}

pub(crate) fn fail_on(f: FailOn) -> Option<Severity> {
    match f {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    }
}

/// The report as the options ask for it.
pub(crate) fn render(analysis: &Analysis, r: &ReportArgs) -> String {
    match r.format {
        Format::Json => json::render(analysis),
        Format::Junit => lvsdiag::report::junit::render(analysis, fail_on(r.fail_on)),
        Format::Text => {
            let color = match r.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            text::render(analysis, &text::Style { color })
        }
    }
}

/// Writes the report to stdout; false when stdout is gone.
pub(crate) fn print_report(analysis: &Analysis, r: &ReportArgs) -> bool {
    emit(&render(analysis, r))
}

pub(crate) fn fail(msg: &str) -> u8 {
    eprintln!("lvsdiag: {msg}");
    2
}
