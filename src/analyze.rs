//! `lvsdiag analyze`: capture files in, report and exit status out.

use crate::drive::{drive, Control};
use crate::engine::{Analysis, Engine, Options};
use crate::finding::Severity;
use crate::model::{self, ipvsadm, Model, Origin, Service};
use crate::source::file::{expand_inputs, FileSource};
use crate::source::merge::Merger;
use crate::source::InputError;
use crate::text::sanitize;
use std::path::Path;

/// Adds `--fwmark MARK=ADDR…` covers to the model: to its firewall-mark
/// service MARK (from `--ipvs` or a snapshot), else to a new one.
pub fn add_fwmarks(model: &mut Model, fwmarks: &[String]) -> Result<(), InputError> {
    for f in fwmarks {
        let (mark, covers) = model::parse_fwmark(f).map_err(InputError)?;
        let v6 = covers.first().is_some_and(|c| c.vip.is_ipv6());
        let found = model
            .services
            .iter_mut()
            .find(|s| matches!(s.key, model::ServiceKey::Fwmark { mark: m, .. } if m == mark));
        let svc = match found {
            Some(s) => s,
            None => {
                model.add(Service::new(
                    model::ServiceKey::Fwmark { mark, v6 },
                    Origin::CommandLine,
                ));
                model.services.last_mut().expect("just added")
            }
        };
        for c in covers {
            svc.cover(c);
        }
    }
    Ok(())
}

/// The keepalived configurations in input directories: files named
/// `*keepalived*.conf`, in name order.
pub fn keepalived_in(inputs: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for i in inputs {
        let Ok(rd) = std::fs::read_dir(i) else {
            continue;
        };
        let mut found: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains("keepalived") && n.ends_with(".conf"))
            })
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// Reads keepalived configurations into the model: each is kept (its VRRP
/// instances, its virtual servers for the cross-checks), and its virtual
/// servers become the services when nothing else (`--vip`, `--ipvs`, a
/// snapshot) gave any. Notes (skipped keywords) go to stderr.
pub fn add_keepalived(
    model: &mut Model,
    files: &[String],
    id: Option<&str>,
) -> Result<(), InputError> {
    let had = !model.services.is_empty();
    for f in files {
        let c = model::keepalived::load(Path::new(f), id).map_err(|e| InputError(e.0))?;
        for n in c.notes.iter().take(5) {
            eprintln!("lvsdiag: note: {n}");
        }
        if !had {
            for s in c.services() {
                model.add(s);
            }
        }
        model.keepalived.push(c);
    }
    Ok(())
}

/// Builds the model from `--vip` and `--ipvs`. Warnings (skipped lines) are returned.
pub fn build_model(vips: &[String], ipvs: &[String]) -> Result<(Model, Vec<String>), InputError> {
    let mut m = Model::default();
    let mut warnings = Vec::new();
    for v in vips {
        let key = model::parse_vip(v).map_err(InputError)?;
        m.add(Service::new(key, Origin::CommandLine));
    }
    for f in ipvs {
        let shown = sanitize(f);
        let text = std::fs::read(Path::new(f))
            .map_err(|e| InputError(format!("{shown}: cannot read IPVS configuration: {e}")))?;
        let text = String::from_utf8_lossy(&text);
        let parsed = ipvsadm::parse(&text, f);
        if parsed.model.services.is_empty() {
            return Err(InputError(format!(
                "{shown}: no IPVS services found; give the output of ipvsadm -S -n or a copy of /proc/net/ip_vs"
            )));
        }
        for (n, line) in parsed.skipped.iter().take(5) {
            warnings.push(format!("{shown}:{n}: ignored line: {}", sanitize(line)));
        }
        m.tcp_timeout = parsed.model.tcp_timeout.or(m.tcp_timeout);
        for s in parsed.model.services {
            m.add(s);
        }
    }
    Ok((m, warnings))
}

/// Reads every input in one merged pass and analyzes it.
pub fn run_files(inputs: &[String], model: Model, opts: Options) -> Result<Analysis, InputError> {
    run_files_with(inputs, model, opts, Vec::new())
}

/// [`run_files`] with host configuration snapshots for the cross-checks.
pub fn run_files_with(
    inputs: &[String],
    model: Model,
    opts: Options,
    snapshots: Vec<crate::system::HostSnapshot>,
) -> Result<Analysis, InputError> {
    run_files_overview(inputs, model, opts, snapshots).map(|o| o.analysis)
}

/// As [`run_files_with`], with the VIPs' ARP claims beside the analysis
/// (the metrics' `lvsdiag_vip_owner`).
pub fn run_files_overview(
    inputs: &[String],
    model: Model,
    opts: Options,
    snapshots: Vec<crate::system::HostSnapshot>,
) -> Result<crate::engine::Overview, InputError> {
    let files = expand_inputs(inputs)?;
    if files.len() > usize::from(u16::MAX) {
        return Err(InputError("too many capture files (at most 65535)".into()));
    }
    let mut sources = Vec::with_capacity(files.len());
    let mut total_bytes = 0u64;
    for (name, path) in files {
        total_bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        sources.push(FileSource::open(name, &path)?);
    }
    let mut progress = Progress::new(total_bytes);
    let mut engine = Engine::new(model, opts).with_snapshots(snapshots);
    let points = drive(
        Box::new(Merger::new(sources)),
        &mut engine,
        // Record header plus captured bytes: where the readers are in the files.
        &mut |p, _| progress.advance(16 + p.data.len() as u64),
        &mut |_, _| Control::Go,
    );
    progress.done();
    Ok(engine.finish_overview(points))
}

/// A progress line on stderr for large inputs, only when stderr is a terminal.
struct Progress {
    total: u64,
    read: u64,
    next_check: u64,
    last: Option<std::time::Instant>,
    shown: bool,
}

impl Progress {
    /// Inputs smaller than this finish before a bar would help.
    const MIN_BYTES: u64 = 64 << 20;

    fn new(total: u64) -> Progress {
        use std::io::IsTerminal;
        let on = total >= Self::MIN_BYTES && std::io::stderr().is_terminal();
        Progress {
            total,
            read: 0,
            next_check: if on { 0 } else { u64::MAX },
            last: None,
            shown: false,
        }
    }

    #[inline]
    fn advance(&mut self, bytes: u64) {
        self.read += bytes;
        if self.read >= self.next_check {
            self.tick();
        }
    }

    #[cold]
    fn tick(&mut self) {
        self.next_check = self.read + (1 << 20);
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t).as_millis() < 200)
        {
            return;
        }
        self.last = Some(now);
        let pct = (self.read * 100 / self.total.max(1)).min(100);
        let width = 30;
        let filled = (pct as usize * width) / 100;
        eprint!(
            "\r[{}{}] {pct:>3}% {} / {} MB",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.read >> 20,
            self.total >> 20
        );
        self.shown = true;
    }

    fn done(&self) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(60));
        }
    }
}

/// The exit status for `--fail-on`: 1 when a finding is at or above it.
pub fn exit_status(a: &Analysis, fail_on: Option<Severity>) -> i32 {
    match fail_on {
        Some(level) if a.findings.iter().any(|f| f.severity >= level) => 1,
        _ => 0,
    }
}

/// `--expect FILE`: the findings a capture set must yield, in the shape of
/// the fixtures' expected.json: `{"findings": [{"code", "severity",
/// "real_server"}]}` (other keys are ignored; `real_server` may be absent or
/// null). Findings at warning and above are compared, as a set: the file
/// names no service, so one fault found on several services of the same
/// real server (kube-proxy's LoadBalancer IP and NodePort) is one entry.
/// Returns the differences, one line each (empty: exactly those).
pub fn expect(a: &Analysis, path: &Path) -> Result<Vec<String>, InputError> {
    let shown = sanitize(&path.display().to_string());
    let text = std::fs::read(path)
        .map_err(|e| InputError(format!("{shown}: cannot read the expectation: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        InputError(format!(
            "{shown}: not JSON ({e}); give {{\"findings\": [{{\"code\": ..., \"severity\": ..., \"real_server\": ...}}]}}"
        ))
    })?;
    let Some(list) = v.get("findings").and_then(|f| f.as_array()) else {
        return Err(InputError(format!(
            "{shown}: no \"findings\" list; give {{\"findings\": [{{\"code\": ..., \"severity\": ..., \"real_server\": ...}}]}}"
        )));
    };
    let mut want: Vec<(String, String, String)> = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let field = |k: &str| f.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(code), Some(sev)) = (field("code"), field("severity")) else {
            return Err(InputError(format!(
                "{shown}: findings[{i}] needs \"code\" and \"severity\""
            )));
        };
        if !matches!(sev.as_str(), "warning" | "error") {
            continue; // info is not compared
        }
        want.push((code, sev, field("real_server").unwrap_or_default()));
    }
    let mut got: Vec<(String, String, String)> = a
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| {
            (
                f.code.to_string(),
                f.severity.as_str().to_string(),
                f.rs_label().unwrap_or_default(),
            )
        })
        .collect();
    want.sort();
    want.dedup();
    got.sort();
    got.dedup();
    let show = |(c, s, r): &(String, String, String)| {
        if r.is_empty() {
            format!("{s} {c}")
        } else {
            format!("{s} {c} [{}]", sanitize(r))
        }
    };
    let mut diff = Vec::new();
    let mut rest = got.clone();
    for w in &want {
        match rest.iter().position(|g| g == w) {
            Some(i) => {
                rest.remove(i);
            }
            None => diff.push(format!("missing:    {}", show(w))),
        }
    }
    diff.extend(rest.iter().map(|g| format!("unexpected: {}", show(g))));
    Ok(diff)
}
