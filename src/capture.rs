//! `lvsdiag capture -w DIR`: live points to one pcap file per point
//! (`DIR/NAME.pcap`, nanosecond timestamps), for a later `analyze DIR`.

use crate::report::sanitize;
use crate::source::live::{CaptureOptions, Pkt, Spec, Streams};
use crate::source::{InputError, PointInfo};
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
            caplen: p.data.len() as u32,
            len: p.wire_len.max(p.data.len() as u32),
        };
        f.write(&pcap::Packet::new(&header, &p.data));
    }
}
