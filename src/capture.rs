//! `lvsdiag capture -w FILE.pcapng`: live points to one pcapng file, one
//! named interface per point (dumpcap style), each point's drops written in
//! its Interface Statistics Block; or `-w DIR`: one pcap file per point
//! (`DIR/NAME.pcap`, nanosecond timestamps). Either is read back by
//! `analyze` as the same capture points.

use crate::source::live::{CaptureOptions, Pkt, Spec, Streams};
use crate::source::{InputError, PointInfo};
use crate::text::sanitize;
use pcap::{Capture, Linktype, PacketHeader, Precision, Savefile};
use std::path::Path;
use std::time::{Duration, Instant};

/// Captures until `stop()` says so or every source has ended. Returns each
/// point's info, its `path` set to the file written.
pub fn run(
    specs: Vec<Spec>,
    opts: &CaptureOptions,
    dir: &Path,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<PointInfo>, InputError> {
    if let Some(s) = specs.iter().find(|s| !s.is_live()) {
        return Err(InputError(format!(
            "{}: capture writes live sources only (-i, --exec); files are already captures",
            s.name()
        )));
    }
    let shown = sanitize(&dir.display().to_string());
    if dir.extension().is_some_and(|e| e == "pcapng") {
        return run_pcapng(specs, opts, dir, stop);
    }
    if dir.extension().is_some_and(|e| e == "pcap" || e == "cap") {
        return Err(InputError(format!(
            "{shown}: -w takes a .pcapng file (one file, one interface per point) or a directory (one .pcap per point)"
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| InputError(format!("{shown}: cannot create the directory: {e}")))?;
    let mut streams = Streams::open(specs, opts)?;
    let mut points = streams.points();
    let mut files: Vec<Savefile> = Vec::with_capacity(points.len());
    for p in &mut points {
        let path = dir.join(format!("{}.pcap", p.name.replace('/', "_")));
        let dead = Capture::dead_with_precision(
            Linktype(i32::from(p.link_type.pcap_number())),
            Precision::Nano,
        )
        .map_err(|e| InputError(format!("cannot prepare a pcap writer: {e}")))?;
        let f = dead.savefile(&path).map_err(|e| {
            InputError(format!(
                "{}: cannot write: {}",
                sanitize(&path.display().to_string()),
                sanitize(&e.to_string())
            ))
        })?;
        files.push(f);
        p.path = Some(path);
    }
    let mut batch: Vec<Pkt> = Vec::new();
    let mut last_flush = Instant::now();
    loop {
        let more = streams.poll(Duration::from_millis(100), &mut batch);
        write(&mut files, &mut batch);
        if last_flush.elapsed() >= Duration::from_secs(1) {
            // Each file stays readable while the capture runs.
            for f in &mut files {
                let _ = f.flush();
            }
            last_flush = Instant::now();
        }
        if !more || stop() {
            break;
        }
    }
    streams.stop();
    // What the readers sent before they stopped, and the reorder buffer.
    streams.drain(&mut batch);
    write(&mut files, &mut batch);
    for f in &mut files {
        f.flush()
            .map_err(|e| InputError(format!("cannot write capture file: {e}")))?;
    }
    let mut out = streams.points();
    for (o, p) in out.iter_mut().zip(points) {
        o.path = p.path;
    }
    Ok(out)
}

fn write(files: &mut [Savefile], batch: &mut Vec<Pkt>) {
    for p in batch.drain(..) {
        let Some(f) = files.get_mut(usize::from(p.point)) else {
            continue;
        };
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: p.ts.div_euclid(1_000_000_000) as libc::time_t,
                tv_usec: p.ts.rem_euclid(1_000_000_000) as libc::suseconds_t,
            },
            caplen: p.data().len() as u32,
            len: p.wire_len.max(p.data().len() as u32),
        };
        f.write(&pcap::Packet::new(&header, p.data()));
    }
}

/// `-w FILE.pcapng`: one file, one interface per point.
fn run_pcapng(
    specs: Vec<Spec>,
    opts: &CaptureOptions,
    out: &Path,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<PointInfo>, InputError> {
    use crate::export::PcapNgWriter;
    let shown = sanitize(&out.display().to_string());
    let mut streams = Streams::open(specs, opts)?;
    let points = streams.points();
    let file = std::fs::File::create(out)
        .map_err(|e| InputError(format!("{shown}: cannot write: {e}")))?;
    let ifaces: Vec<(String, crate::decode::LinkType)> = points
        .iter()
        .map(|p| (p.name.clone(), p.link_type))
        .collect();
    let io = |e: std::io::Error| InputError(format!("{shown}: write failed: {e}"));
    let mut w = PcapNgWriter::new(std::io::BufWriter::new(file), &ifaces).map_err(io)?;
    let mut span: Vec<Option<(i64, i64)>> = vec![None; points.len()];
    let mut batch: Vec<Pkt> = Vec::new();
    let mut write = |w: &mut PcapNgWriter<_>, batch: &mut Vec<Pkt>| -> std::io::Result<()> {
        for p in batch.drain(..) {
            if let Some(s) = span.get_mut(usize::from(p.point)) {
                *s = Some(s.map_or((p.ts, p.ts), |(a, b)| (a.min(p.ts), b.max(p.ts))));
            }
            w.packet(u32::from(p.point), p.ts, p.wire_len, p.data())?;
        }
        Ok(())
    };
    loop {
        let more = streams.poll(Duration::from_millis(100), &mut batch);
        write(&mut w, &mut batch).map_err(io)?;
        if !more || stop() {
            break;
        }
    }
    streams.stop();
    streams.drain(&mut batch);
    write(&mut w, &mut batch).map_err(io)?;
    let mut done = streams.points();
    for (i, p) in done.iter_mut().enumerate() {
        // Each point's drops over the time they cover (its packets and its
        // losses), so that a later analysis of the file weighs them.
        if let Some(l) = &p.live {
            let mut window = span[i];
            for loss in &p.losses {
                let to = if loss.to == i64::MAX {
                    loss.from
                } else {
                    loss.to
                };
                window =
                    Some(window.map_or((loss.from, to), |(a, b)| (a.min(loss.from), b.max(to))));
            }
            let drops = l.kernel_drops + l.interface_drops + l.lvsdiag_drops;
            if let (Some((a, b)), true) = (window, drops > 0 || span[i].is_some()) {
                w.interface_stats(
                    i as u32,
                    a,
                    b,
                    l.kernel_drops + l.interface_drops,
                    l.lvsdiag_drops,
                )
                .map_err(io)?;
            }
        }
        p.path = Some(out.to_path_buf());
    }
    w.finish().map_err(io)?;
    Ok(done)
}
