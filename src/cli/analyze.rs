//! `lvsdiag analyze`: files or live sources in, a report and an exit status out.

use super::*;

pub(crate) fn run_analyze(mut a: AnalyzeArgs) -> u8 {
    let (model, snapshots) = match prepare(&a.model, &mut a.src) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let render = |an: &Analysis| render(an, &a.report);
    let mut arp = Vec::new();
    let analysis = if a.src.is_live() || a.live {
        if !a.src.is_live() {
            return fail("--live needs live sources: -i IFACE or --exec NAME='COMMAND'");
        }
        match analyze_live(&a, model, snapshots, &render) {
            Ok((an, Some(elapsed))) if matches!(a.report.format, Format::Json) => {
                // The final NDJSON line.
                if !emit(&json::render_line(&an, true, elapsed)) {
                    return 2;
                }
                if let Some(code) = write_metrics(&a, &an, &[]) {
                    return code;
                }
                return finish_analyze(&a, &an);
            }
            Ok((an, _)) => an,
            Err(code) => return code,
        }
    } else {
        if a.src.inputs.is_empty() {
            return fail(
                "give capture files (or a directory of them), or live sources with -i / --exec",
            );
        }
        match lvsdiag::analyze::run_files_overview(
            &a.src.inputs,
            model,
            a.model.options(),
            snapshots,
        ) {
            Ok(ov) => {
                arp = ov.arp;
                ov.analysis
            }
            Err(e) => return fail(&e.to_string()),
        }
    };
    if !emit(&render(&analysis)) {
        return 2;
    }
    if let Some(code) = write_metrics(&a, &analysis, &arp) {
        return code;
    }
    finish_analyze(&a, &analysis)
}

/// `--metrics-file`: the exposition node_exporter's textfile collector reads.
fn write_metrics(
    a: &AnalyzeArgs,
    analysis: &Analysis,
    arp: &[lvsdiag::analysis::ArpRow],
) -> Option<u8> {
    let path = a.metrics_file.as_ref()?;
    let e = lvsdiag::report::metrics::Exposition::of_analysis(analysis, arp);
    let reg = lvsdiag::report::metrics::registry(lvsdiag::report::metrics::Shared(Arc::new(
        std::sync::Mutex::new(e),
    )));
    let text = lvsdiag::report::metrics::encode(&reg, false);
    lvsdiag::report::metrics::write_atomic(path, &text)
        .err()
        .map(|e| fail(&e))
}

/// The exit status once the report is written.
pub(crate) fn finish_analyze(a: &AnalyzeArgs, analysis: &Analysis) -> u8 {
    // A capture that ended early: the report covers what was read, but the
    // numbers are incomplete, so say so and exit as for bad input.
    if point_errors(Some(analysis)) != 0 {
        return 2;
    }
    if let Some(path) = &a.expect {
        return match lvsdiag::analyze::expect(analysis, path) {
            Ok(diff) if diff.is_empty() => 0,
            Ok(diff) => {
                eprintln!(
                    "lvsdiag: the findings differ from {}:",
                    sanitize(&path.display().to_string())
                );
                for d in diff {
                    eprintln!("  {d}");
                }
                1
            }
            Err(e) => fail(&e.to_string()),
        };
    }
    lvsdiag::analyze::exit_status(analysis, fail_on(a.report.fail_on)) as u8
}

/// Live sources: report every --interval (with --live) until Ctrl-C,
/// --duration, or every source has ended; returns the final analysis.
pub(crate) fn analyze_live(
    a: &AnalyzeArgs,
    model: lvsdiag::model::Model,
    snapshots: Vec<system::HostSnapshot>,
    render: &dyn Fn(&Analysis) -> String,
) -> Result<(Analysis, Option<f64>), u8> {
    let specs = a.src.specs().map_err(|e| fail(&e.to_string()))?;
    catch_interrupt();
    let opts = SessionOptions {
        engine: a.model.options(),
        capture: a.src.capture(Some(&model)),
        // Without --live nothing reads the running analysis: do not conclude
        // a copy of it every half second.
        interval: if a.live {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(86_400)
        },
        snapshots,
        ..SessionOptions::default()
    };
    let names: Vec<String> = specs.iter().map(|s| s.name().to_string()).collect();
    let session = Session::start(specs, model, opts).map_err(|e| fail(&e.to_string()))?;
    eprintln!(
        "lvsdiag: capturing on {} point(s): {}; Ctrl-C stops and reports",
        names.len(),
        names.join(" ")
    );
    let started = Instant::now();
    let interval = Duration::from_secs_f64(a.interval.max(0.5));
    let mut next_report = started + interval;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let latest = session.latest();
        if latest.as_ref().is_some_and(|p| p.done) {
            break;
        }
        if INTERRUPTED.load(Ordering::Relaxed)
            || a.duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
        {
            break;
        }
        if a.live && Instant::now() >= next_report {
            next_report += interval;
            if let Some(p) = latest {
                let secs = p.elapsed.as_secs();
                let ok = match a.report.format {
                    // NDJSON: one document per line; the human line on stderr.
                    Format::Json => emit(&json::render_line(
                        &p.overview.analysis,
                        false,
                        p.elapsed.as_secs_f64(),
                    )),
                    // JUnit is one document: the final report only.
                    Format::Junit => true,
                    Format::Text => {
                        emit(&format!(
                            "--- lvsdiag: report after {secs} s (running; Ctrl-C stops) ---\n"
                        )) && emit(&render(&p.overview.analysis))
                    }
                };
                if !ok {
                    return Err(2);
                }
            }
        }
    }
    match session.stop() {
        Some(p) => {
            let elapsed = p.elapsed.as_secs_f64();
            let an = match Arc::try_unwrap(p) {
                Ok(p) => p.overview.analysis,
                Err(p) => lvsdiag::engine::Analysis::clone(&p.overview.analysis),
            };
            Ok((an, a.live.then_some(elapsed)))
        }
        None => Err(fail("the analysis stopped before producing a report")),
    }
}
