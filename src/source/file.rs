//! Capture files (pcap, pcapng), read by lvsdiag's own readers: classic
//! pcap in large blocks whose packets are slices ([`super::classic`]),
//! pcapng block by block ([`super::pcapng`]). libpcap reads live
//! interfaces only. A pcapng file with several interfaces (dumpcap -i a -i
//! b, mergecap, lvsdiag's own export) is one capture point per interface.

use super::classic::{PcapReader, Rec};
use super::pcapng::NgReader;
use super::{InputError, Loss, PointInfo};
use crate::decode::LinkType;
use crate::text::sanitize;
use std::fs::File;
use std::path::{Path, PathBuf};

enum Backend {
    /// Classic pcap: `block` holds whole records; `recs[next..]` are not
    /// handed out yet (by [`FileSource::advance`]).
    Classic {
        r: PcapReader<File>,
        block: Vec<u8>,
        recs: Vec<Rec>,
        next: usize,
    },
    PcapNg(NgReader),
}

/// One packet of a batch read by [`FileSource::read_batch`]: its bytes are
/// `data[start..end]`.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub ts: i64,
    pub wire_len: u32,
    /// Its interface (an index into the file's points).
    pub iface: u16,
    pub link: LinkType,
    pub start: usize,
    pub end: usize,
}

/// Packets per batch of a pcapng file (a classic pcap batch is a block).
const NG_BATCH: usize = 1024;

pub struct FileSource {
    backend: Backend,
    /// The file: its path, packets read (its frame number), error, losses.
    pub info: PointInfo,
    /// For a pcapng file with several interfaces: one point per interface
    /// (packets per interface); empty when the file is one point.
    pub interfaces: Vec<PointInfo>,
    /// The interface of the current packet (an index into `interfaces`).
    pub iface: u16,
    /// Scratch for the pcapng reader (reused).
    buf: Vec<u8>,
    pub ts: i64,
    pub wire_len: u32,
    /// Link type of the current packet (pcapng interfaces may differ).
    pub link: LinkType,
}

impl FileSource {
    pub fn open(name: String, path: &Path) -> Result<FileSource, InputError> {
        let shown = sanitize(&path.display().to_string());
        let meta = std::fs::metadata(path)
            .map_err(|e| InputError(format!("{shown}: cannot read capture: {}", io_reason(&e))))?;
        if meta.is_dir() {
            return Err(InputError(format!(
                "{shown}: is a directory with no capture files (*.pcap, *.pcapng)"
            )));
        }
        let unreadable = |why: &str| {
            InputError(format!(
                "{shown}: not a readable pcap/pcapng capture ({}); give a file written by tcpdump -w, tshark -w or dumpcap",
                sanitize(why)
            ))
        };
        let file = File::open(path)
            .map_err(|e| InputError(format!("{shown}: cannot read capture: {}", io_reason(&e))))?;
        if is_pcapng(path) {
            return FileSource::open_pcapng(&name, path, &shown);
        }
        let (r, h) = PcapReader::open(file).map_err(|e| unreadable(&e))?;
        let link_type = h.link.ok_or_else(|| unsupported(&shown, h.linktype))?;
        Ok(FileSource {
            backend: Backend::Classic {
                r,
                block: Vec::new(),
                recs: Vec::new(),
                next: 0,
            },
            info: point(name, path, link_type),
            interfaces: Vec::new(),
            iface: 0,
            buf: Vec::new(),
            ts: 0,
            wire_len: 0,
            link: link_type,
        })
    }

    /// A pcapng file. One that describes several interfaces is one point
    /// each, named by `if_name` (`NAME/if_name` when the file was named on
    /// the command line), else `NAME#ID` with Wireshark's interface id; a
    /// name two interfaces share gets `#ID` on both.
    fn open_pcapng(name: &str, path: &Path, shown: &str) -> Result<FileSource, InputError> {
        let ifs = super::pcapng::interfaces(path).map_err(|e| {
            InputError(format!(
                "{shown}: not a readable pcapng capture ({}); give a file written by tcpdump -w, tshark -w or dumpcap",
                sanitize(&e)
            ))
        })?;
        let unreadable = |e: String| {
            InputError(format!(
                "{shown}: not a readable pcapng capture ({}); give a file written by tcpdump -w, tshark -w or dumpcap",
                sanitize(&e)
            ))
        };
        let reader = NgReader::open(path).map_err(unreadable)?;
        if ifs.is_empty() {
            // Nothing described: a packet or a broken block is a broken file.
            NgReader::open(path)
                .and_then(|mut r| r.next(&mut Vec::new()))
                .map_err(unreadable)?;
        }
        let first = match ifs.iter().find_map(|i| i.link) {
            Some(l) => l,
            // No interface described (yet): nothing to decode either way.
            None if ifs.is_empty() => LinkType::Ethernet,
            None if ifs.len() == 1 => return Err(unsupported(shown, u32::from(ifs[0].linktype))),
            None => {
                return Err(InputError(format!(
                    "{shown}: no interface of this pcapng has a link type lvsdiag reads (link types {}); lvsdiag reads Ethernet, Linux SLL/SLL2, raw IP and loopback captures",
                    ifs.iter().map(|i| i.linktype.to_string()).collect::<Vec<_>>().join(", ")
                )))
            }
        };
        let mut src = FileSource {
            backend: Backend::PcapNg(reader),
            info: point(name.to_string(), path, first),
            interfaces: Vec::new(),
            iface: 0,
            buf: Vec::with_capacity(2048),
            ts: 0,
            wire_len: 0,
            link: first,
        };
        if ifs.len() < 2 {
            return Ok(src);
        }
        let base: Vec<Option<String>> = ifs
            .iter()
            .map(|i| i.name.as_deref().map(sanitize))
            .collect();
        src.interfaces = ifs
            .iter()
            .enumerate()
            .map(|(id, i)| {
                let n = match &base[id] {
                    Some(n) if base.iter().filter(|b| b.as_ref() == Some(n)).count() > 1 => {
                        format!("{n}#{id}")
                    }
                    Some(n) => n.clone(),
                    None => format!("{name}#{id}"),
                };
                // A name of the user's prefixes the interface's, as for a directory.
                let n = if base[id].is_some() && name != stem_of(path) {
                    format!("{name}/{n}")
                } else {
                    n
                };
                point(n, path, i.link.unwrap_or(LinkType::RawIp))
            })
            .collect();
        Ok(src)
    }

    /// How many capture points the file is.
    pub fn point_count(&self) -> usize {
        self.interfaces.len().max(1)
    }

    /// The file's capture points as of now: the file itself, or one per
    /// interface (an early end, or its losses, on each).
    pub fn points(&self) -> Vec<PointInfo> {
        if self.interfaces.is_empty() {
            return vec![self.info.clone()];
        }
        self.interfaces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut p = p.clone();
                p.undecodable += if i == 0 { self.info.undecodable } else { 0 };
                // The error names the file: said once, on its first point.
                if i == 0 {
                    p.error.clone_from(&self.info.error);
                }
                p.losses.extend(
                    self.info
                        .losses
                        .iter()
                        .filter(|l| l.cause == super::LossCause::Ended)
                        .copied(),
                );
                p
            })
            .collect()
    }

    /// At the end of a pcapng file: the drops its interface statistics
    /// record (read once), on the point of each interface.
    fn recorded_losses(&mut self) {
        let Some(path) = &self.info.path else { return };
        if !is_pcapng(path) {
            return;
        }
        let single = self.interfaces.is_empty();
        for (iface, l) in super::pcapng::recorded_losses(path) {
            match self.interfaces.get_mut(iface as usize) {
                Some(p) => p.losses.push(l),
                None if single => self.info.losses.push(l),
                None => {}
            }
        }
    }

    /// Appends the next packet's bytes to `out`. `false` at the end of the
    /// file or after a read error (recorded in `info.error`).
    pub fn advance(&mut self, out: &mut Vec<u8>) -> bool {
        let err = match &mut self.backend {
            Backend::Classic {
                r,
                block,
                recs,
                next,
            } => loop {
                if let Some(x) = recs.get(*next) {
                    *next += 1;
                    out.extend_from_slice(&block[x.start..x.end]);
                    self.ts = x.ts;
                    self.wire_len = x.wire_len;
                    self.info.packets += 1;
                    return true;
                }
                recs.clear();
                *next = 0;
                match r.fill(block, recs) {
                    Ok(true) => {}
                    Ok(false) => return false,
                    Err(e) => break e,
                }
            },
            Backend::PcapNg(r) => match r.next(&mut self.buf) {
                Ok(Some(p)) => {
                    self.ts = p.ts;
                    self.wire_len = p.wire_len;
                    self.info.packets += 1;
                    if !self.interfaces.is_empty() {
                        let last = self.interfaces.len() - 1;
                        let i = (p.iface as usize).min(last);
                        self.iface = i as u16;
                        self.interfaces[i].packets += 1;
                    }
                    match p.link {
                        Some(l) => {
                            self.link = l;
                            out.extend_from_slice(&self.buf);
                        }
                        // An interface lvsdiag cannot decode: an empty
                        // frame, counted as undecodable.
                        None => self.link = LinkType::RawIp,
                    }
                    return true;
                }
                Ok(None) => {
                    self.recorded_losses();
                    return false;
                }
                Err(e) => e,
            },
        };
        self.ended(&err);
        false
    }

    /// Reads the next batch of packets into `data` (whose bytes outside the
    /// items' ranges mean nothing; a recycled `data` is not cleared) and
    /// appends one item each to `items`. Returns `false` once the file has
    /// ended (cleanly, or with an error recorded in `info.error`); the last
    /// items may come with it.
    pub fn read_batch(&mut self, data: &mut Vec<u8>, items: &mut Vec<Item>) -> bool {
        let Backend::Classic { r, recs, .. } = &mut self.backend else {
            data.clear();
            while items.len() < NG_BATCH {
                let start = data.len();
                if !self.advance(data) {
                    return false;
                }
                items.push(Item {
                    ts: self.ts,
                    wire_len: self.wire_len,
                    iface: self.iface,
                    link: self.link,
                    start,
                    end: data.len(),
                });
            }
            return true;
        };
        recs.clear();
        let res = r.fill(data, recs);
        let link = self.link;
        items.extend(recs.iter().map(|x| Item {
            ts: x.ts,
            wire_len: x.wire_len,
            iface: 0,
            link,
            start: x.start,
            end: x.end,
        }));
        self.info.packets += recs.len() as u64;
        if let Some(x) = recs.last() {
            self.ts = x.ts;
        }
        match res {
            Ok(more) => more,
            Err(e) => {
                self.ended(&e);
                false
            }
        }
    }

    /// The file ends early with `err`: recorded on its point.
    fn ended(&mut self, err: &str) {
        let shown = self
            .info
            .path
            .as_deref()
            .map(|p| sanitize(&p.display().to_string()))
            .unwrap_or_default();
        self.info.losses.push(Loss::ended(self.ts));
        self.info.error = Some(format!(
            "{shown}: capture ends early after {} packets ({}); the packets before it were analyzed",
            self.info.packets,
            sanitize(err)
        ));
    }
}

fn unsupported(shown: &str, linktype: u32) -> InputError {
    let name = i32::try_from(linktype)
        .ok()
        .and_then(|n| pcap::Linktype(n).get_name().ok())
        .unwrap_or_else(|| "unknown".into());
    InputError(format!(
        "{shown}: unsupported link type {linktype} ({}); lvsdiag reads Ethernet, Linux SLL/SLL2, raw IP and loopback captures (capture on the interface itself, e.g. tcpdump -i eth0)",
        sanitize(&name)
    ))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file; check the path".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user who can read it".into()
        }
        _ => e.to_string(),
    }
}

/// Expands the command-line inputs: `[NAME=]PATH`, where PATH is a capture
/// file or a directory of them. Each file is one capture point named by its
/// file stem unless NAME is given.
pub fn expand_inputs(args: &[String]) -> Result<Vec<(String, PathBuf)>, InputError> {
    let mut out = Vec::new();
    for a in args {
        let (name, path) = match a.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains('/') => {
                (Some(n.to_string()), PathBuf::from(p))
            }
            _ => (None, PathBuf::from(a)),
        };
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| {
                    InputError(format!(
                        "{}: cannot list directory: {}",
                        sanitize(&path.display().to_string()),
                        io_reason(&e)
                    ))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_capture_name(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(InputError(format!(
                    "{}: no capture files (*.pcap, *.pcapng, *.cap) in this directory",
                    sanitize(&path.display().to_string())
                )));
            }
            for f in files {
                let stem = stem_of(&f);
                let n = match &name {
                    Some(prefix) => format!("{prefix}/{stem}"),
                    None => stem,
                };
                out.push((n, f));
            }
        } else {
            let n = name.unwrap_or_else(|| stem_of(&path));
            out.push((n, path));
        }
    }
    // Point names must be unique: disambiguate repeats with a counter.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for (n, _) in &mut out {
        let c = seen.entry(n.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            *n = format!("{n}#{c}");
        }
    }
    Ok(out)
}

fn is_capture_name(p: &Path) -> bool {
    p.is_file()
        && matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap" | "dmp")
        )
}

fn stem_of(p: &Path) -> String {
    sanitize(
        &p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into()),
    )
}

/// Whether the file starts with a pcapng section header.
fn is_pcapng(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x0a, 0x0d, 0x0d, 0x0a]
}

fn point(name: String, path: &Path, link_type: LinkType) -> PointInfo {
    PointInfo {
        path: Some(path.to_path_buf()),
        ..PointInfo::new(name, link_type)
    }
}
