//! `lvsdiag snapshot` and `lvsdiag check`: the live configuration, read-only.

use super::*;

/// Reads the live snapshots the options name; warnings go to stderr.
pub(crate) fn live_snapshots(
    ns: &NetnsArgs,
    record: bool,
) -> Result<Vec<(system::HostSnapshot, system::collect::Recording)>, String> {
    let targets = command::targets(&ns.netns, ns.all_netns)?;
    let taken = command::take(&targets, record)?;
    for (s, _) in &taken {
        for w in &s.warnings {
            eprintln!("lvsdiag: warning: {}: {}", sanitize(&s.host), sanitize(w));
        }
    }
    Ok(taken)
}

pub(crate) fn run_snapshot(a: SnapshotArgs) -> u8 {
    let taken = match live_snapshots(&a.ns, a.record.is_some()) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if let Some(dir) = &a.record {
        if let Err(e) = command::write_recordings(dir, &taken) {
            return fail(&e);
        }
    }
    let snaps: Vec<_> = taken.into_iter().map(|(s, _)| s).collect();
    match &a.out {
        Some(dir) => match command::write_dir(dir, &snaps) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(system::to_json(&snaps).as_bytes())
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return 2;
            }
            0
        }
    }
}

pub(crate) fn run_check(a: CheckArgs) -> u8 {
    let snaps = if a.snapshot.is_empty() {
        match live_snapshots(&a.ns, false) {
            Ok(t) => t.into_iter().map(|(s, _)| s).collect(),
            Err(e) => return fail(&e),
        }
    } else {
        match system::load(&a.snapshot) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        }
    };
    if !snaps
        .iter()
        .any(|s| s.ipvs.as_ref().is_some_and(|i| !i.services.is_empty()))
    {
        let hosts: Vec<&str> = snaps.iter().map(|s| s.host.as_str()).collect();
        return fail(&format!(
            "no IPVS services in {} (ip_vs not loaded, or an empty table): run lvsdiag check on the director, or add its snapshot with --snapshot",
            sanitize(&hosts.join(", "))
        ));
    }
    let analysis = command::check(snaps);
    if !print_report(&analysis, &a.report) {
        return 2;
    }
    lvsdiag::analyze::exit_status(&analysis, fail_on(a.report.fail_on)) as u8
}
