//! `lvsdiag model`: the LVS model lvsdiag derives from keepalived.conf, IPVS
//! files and snapshots, so an operator can see what it understood.

use super::*;

pub(crate) fn run_model(a: ModelCmdArgs) -> u8 {
    if a.ka.keepalived.is_empty() && a.ipvs.is_empty() && a.snapshot.is_empty() {
        return fail("model needs a source: --keepalived FILE, --ipvs FILE or --snapshot FILE|DIR");
    }
    let (mut model, warnings) = match lvsdiag::analyze::build_model(&[], &a.ipvs) {
        Ok(m) => m,
        Err(e) => return fail(&e.to_string()),
    };
    for w in warnings {
        eprintln!("lvsdiag: warning: {w}");
    }
    let snapshots = match system::load(&a.snapshot) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let from_snapshots = system::to_model(&snapshots);
    model.layouts.extend(from_snapshots.layouts);
    for s in from_snapshots.services {
        model.add(s);
    }
    if let Err(e) = lvsdiag::analyze::add_keepalived(
        &mut model,
        &a.ka.keepalived,
        a.ka.keepalived_id.as_deref(),
    ) {
        return fail(&e.to_string());
    }
    let out = match a.format {
        ModelFormat::Text => lvsdiag::report::model::text(&model),
        ModelFormat::Json => lvsdiag::report::model::json(&model),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return 2;
    }
    0
}
