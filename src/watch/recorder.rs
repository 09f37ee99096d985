//! The flight recorder: every capture point keeps its last `window` of
//! packets (at most `max_bytes` each); when a finding first appears, or on
//! SIGUSR1, they are written as one pcapng (an interface per point, each
//! point's drops over the window in an Interface Statistics Block) with
//! the finding's JSON beside it. The directory keeps the newest `keep`
//! recordings. Files are written under a temporary name and renamed, so
//! whatever collects them never reads half of one.

use crate::export::PcapNgWriter;
use crate::source::live::Pkt;
use crate::source::PointInfo;
use std::collections::VecDeque;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub struct RecordOptions {
    pub dir: PathBuf,
    pub window: std::time::Duration,
    /// Per capture point.
    pub max_bytes: usize,
    /// Recordings kept (oldest removed first).
    pub keep: usize,
}

#[derive(Default)]
struct Ring {
    pkts: VecDeque<Pkt>,
    bytes: usize,
    /// (packet time, kernel + interface drops, lvsdiag drops) samples over
    /// the window: the drops within it are the newest minus the oldest.
    drops: VecDeque<(i64, u64, u64)>,
}

pub struct Recorder {
    opts: RecordOptions,
    rings: Vec<Ring>,
    /// Newest packet time seen.
    latest: i64,
}

/// What a recording was made for.
pub enum Trigger<'a> {
    /// A finding that first appeared, as the report's JSON gives it.
    Finding {
        code: &'a str,
        json: serde_json::Value,
    },
    /// SIGUSR1.
    Signal,
}

impl Recorder {
    /// Checks that the directory exists and is writable (an error names it).
    pub fn new(opts: RecordOptions) -> Result<Recorder, String> {
        let shown = crate::text::sanitize(&opts.dir.display().to_string());
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| format!("--record {shown}: cannot create the directory: {e}"))?;
        let probe = opts
            .dir
            .join(format!(".lvsdiag-probe-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .map_err(|e| format!("--record {shown}: cannot write there: {e}"))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Recorder {
            opts,
            rings: Vec::new(),
            latest: i64::MIN,
        })
    }

    fn window_ns(&self) -> i64 {
        i64::try_from(self.opts.window.as_nanos()).unwrap_or(i64::MAX)
    }

    pub fn push(&mut self, p: &Pkt) {
        let i = usize::from(p.point);
        if self.rings.len() <= i {
            self.rings.resize_with(i + 1, Ring::default);
        }
        self.latest = self.latest.max(p.ts);
        let horizon = self.latest.saturating_sub(self.window_ns());
        let max = self.opts.max_bytes;
        let r = &mut self.rings[i];
        r.bytes += p.cost as usize;
        r.pkts.push_back(p.clone());
        while r.bytes > max || r.pkts.front().is_some_and(|f| f.ts < horizon) {
            match r.pkts.pop_front() {
                Some(old) => r.bytes -= old.cost as usize,
                None => break,
            }
        }
    }

    /// Samples each point's drop counters (call at each evaluation).
    pub fn note_drops(&mut self, points: &[PointInfo]) {
        if self.latest == i64::MIN {
            return;
        }
        if self.rings.len() < points.len() {
            self.rings.resize_with(points.len(), Ring::default);
        }
        let horizon = self.latest.saturating_sub(self.window_ns());
        for (r, p) in self.rings.iter_mut().zip(points) {
            let (ifd, osd) = p.live.as_ref().map_or((0, 0), |l| {
                (l.kernel_drops + l.interface_drops, l.lvsdiag_drops)
            });
            r.drops.push_back((self.latest, ifd, osd));
            // Keep one sample at or before the horizon: the baseline.
            while r.drops.len() > 1 && r.drops[1].0 <= horizon {
                r.drops.pop_front();
            }
        }
    }

    /// Writes the recording; returns the pcapng's path.
    pub fn write(&mut self, trigger: Trigger<'_>, points: &[PointInfo]) -> Result<PathBuf, String> {
        let start = self.latest.saturating_sub(self.window_ns());
        let utc = crate::text::fmt_utc(self.latest.max(0));
        let stamp = format!(
            "{}Z",
            utc.split('.')
                .next()
                .unwrap_or_default()
                .replace([':', '-'], "")
                .replace(' ', "T")
        );
        let what = match &trigger {
            Trigger::Finding { code, .. } => code.to_string(),
            Trigger::Signal => "sigusr1".into(),
        };
        let mut stem = format!("lvsdiag-{stamp}-{what}");
        let mut n = 1;
        while self.opts.dir.join(format!("{stem}.pcapng")).exists() {
            n += 1;
            stem = format!("lvsdiag-{stamp}-{what}-{n}");
        }
        let pcapng = self.opts.dir.join(format!("{stem}.pcapng"));
        let json = self.opts.dir.join(format!("{stem}.json"));
        let mut pkts: Vec<&Pkt> = self
            .rings
            .iter()
            .flat_map(|r| r.pkts.iter())
            .filter(|p| p.ts >= start)
            .collect();
        pkts.sort_by_key(|p| (p.ts, p.point, p.frame));
        let names: Vec<(String, crate::decode::LinkType)> = points
            .iter()
            .map(|p| (p.name.clone(), p.link_type))
            .collect();
        let shown = crate::text::sanitize(&pcapng.display().to_string());
        let io = |e: std::io::Error| format!("flight recorder: {shown}: {e}");
        let tmp = self.opts.dir.join(format!(".{stem}.pcapng.tmp"));
        {
            let f = std::fs::File::create(&tmp).map_err(io)?;
            let mut w = PcapNgWriter::new(BufWriter::new(f), &names).map_err(io)?;
            for p in &pkts {
                // A point's link type is fixed when it opens.
                if usize::from(p.point) < names.len() {
                    w.packet(u32::from(p.point), p.ts, p.wire_len, p.data())
                        .map_err(io)?;
                }
            }
            for (i, r) in self.rings.iter().enumerate().take(names.len()) {
                let (first, last) = (r.drops.front(), r.drops.back());
                let (ifd, osd) = match (first, last) {
                    (Some(a), Some(b)) => (b.1.saturating_sub(a.1), b.2.saturating_sub(a.2)),
                    _ => (0, 0),
                };
                w.interface_stats(i as u32, start, self.latest, ifd, osd)
                    .map_err(io)?;
            }
            w.finish().map_err(io)?;
        }
        std::fs::rename(&tmp, &pcapng).map_err(io)?;
        let doc = serde_json::json!({
            "trigger": match &trigger { Trigger::Finding { .. } => "finding", Trigger::Signal => "SIGUSR1" },
            "pcapng": pcapng.file_name().map(|n| n.to_string_lossy().into_owned()),
            "from_ns": start,
            "to_ns": self.latest,
            "packets": pkts.len(),
            "points": points.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "finding": match trigger { Trigger::Finding { json, .. } => json, Trigger::Signal => serde_json::Value::Null },
        });
        let tmp = self.opts.dir.join(format!(".{stem}.json.tmp"));
        std::fs::write(&tmp, format!("{doc:#}\n"))
            .and_then(|_| std::fs::rename(&tmp, &json))
            .map_err(io)?;
        prune(&self.opts.dir, self.opts.keep);
        Ok(pcapng)
    }
}

/// Removes the oldest recordings beyond `keep` (names sort by time).
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut stems: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("lvsdiag-") && n.ends_with(".pcapng"))
        .map(|n| n.trim_end_matches(".pcapng").to_string())
        .collect();
    stems.sort();
    let excess = stems.len().saturating_sub(keep);
    for s in &stems[..excess] {
        let _ = std::fs::remove_file(dir.join(format!("{s}.pcapng")));
        let _ = std::fs::remove_file(dir.join(format!("{s}.json")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LinkType;

    fn pkt(point: u16, frame: u64, ts_s: i64) -> Pkt {
        Pkt::new(
            point,
            frame,
            ts_s * 1_000_000_000,
            LinkType::Ethernet,
            60,
            &[0u8; 60],
        )
    }

    #[test]
    fn the_ring_keeps_the_window_and_the_directory_keeps_the_newest() {
        let dir = std::env::temp_dir().join(format!("lvsdiag-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut r = Recorder::new(RecordOptions {
            dir: dir.clone(),
            window: std::time::Duration::from_secs(10),
            max_bytes: 1 << 20,
            keep: 2,
        })
        .unwrap();
        for s in 0..100 {
            r.push(&pkt(0, s as u64 + 1, 1_700_000_000 + s));
        }
        // 10 s back from the newest, inclusive.
        assert_eq!(r.rings[0].pkts.len(), 11);
        let points = vec![crate::source::PointInfo::ethernet("dir", 100)];
        let mut paths = Vec::new();
        for _ in 0..3 {
            paths.push(r.write(Trigger::Signal, &points).unwrap());
        }
        assert!(!paths[0].exists(), "the oldest is removed");
        assert!(paths[1].exists() && paths[2].exists());
        // The recording reads back: 11 packets at one point.
        let a = crate::analyze::run_files_with(
            &[paths[2].display().to_string()],
            crate::model::Model::default(),
            crate::engine::Options::default(),
            Vec::new(),
        )
        .unwrap();
        // One interface: the point is named after the file.
        assert_eq!(a.points.len(), 1);
        assert_eq!(a.points[0].packets, 11);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_ring_is_bounded_by_bytes_too() {
        let dir = std::env::temp_dir().join(format!("lvsdiag-rec2-{}", std::process::id()));
        let mut r = Recorder::new(RecordOptions {
            dir: dir.clone(),
            window: std::time::Duration::from_secs(3600),
            max_bytes: 10_000,
            keep: 1,
        })
        .unwrap();
        for s in 0..10_000 {
            r.push(&pkt(0, s + 1, 1_700_000_000));
        }
        assert!(r.rings[0].bytes <= 10_000);
        assert!(!r.rings[0].pkts.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
