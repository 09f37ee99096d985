//! `lvsdiag capture`: live points to a pcapng file or a directory of pcaps.

use super::*;

pub(crate) fn run_capture(c: CaptureArgs) -> u8 {
    if !c.src.is_live() {
        return fail("capture needs live sources: -i IFACE or --exec NAME='COMMAND'");
    }
    let specs = match c.src.specs() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    catch_interrupt();
    let deadline = c
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d.max(0.0)));
    match lvsdiag::capture::run(specs, &c.src.capture(None), &c.dir, &|| {
        INTERRUPTED.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)
    }) {
        Ok(points) => {
            let mut code = 0;
            for p in &points {
                let l = p.live.clone().unwrap_or_default();
                eprintln!(
                    "lvsdiag: {}: {} packets to {} (drops: kernel {}, interface {}, lvsdiag {})",
                    p.name,
                    p.packets,
                    p.path
                        .as_ref()
                        .map_or(String::new(), |x| lvsdiag::report::sanitize(
                            &x.display().to_string()
                        )),
                    l.kernel_drops,
                    l.interface_drops,
                    l.lvsdiag_drops
                );
                if let Some(e) = &p.error {
                    eprintln!("lvsdiag: {e}");
                    code = 2;
                }
            }
            code
        }
        Err(e) => fail(&e.to_string()),
    }
}
