//! Live interfaces: opening one (in a network namespace), reading it, its
//! drop counters.

use super::*;

/// Enters network namespace `ns` on this thread only.
pub fn enter_netns(ns: &str) -> Result<(), String> {
    let path = ["/run/netns", "/var/run/netns"]
        .iter()
        .map(|d| PathBuf::from(d).join(ns))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "unknown network namespace {} (no /run/netns/{}); list them with ip netns list",
                sanitize(ns),
                sanitize(ns)
            )
        })?;
    let f = std::fs::File::open(&path).map_err(|e| {
        format!(
            "cannot open network namespace {}: {e}; run as root",
            sanitize(ns)
        )
    })?;
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a valid fd; affects only the calling thread's netns.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EPERM) {
            format!(
                "entering network namespace {} needs root (CAP_SYS_ADMIN); run with sudo",
                sanitize(ns)
            )
        } else {
            format!("cannot enter network namespace {}: {e}", sanitize(ns))
        });
    }
    Ok(())
}

/// Whether `iface` exists in this thread's network namespace (needs no
/// privilege: `if_nametoindex` is an ioctl on an ordinary socket).
pub(super) fn interface_exists(iface: &str) -> bool {
    if iface == "any" {
        return true;
    }
    let Ok(c) = std::ffi::CString::new(iface) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

pub(super) fn open_error(
    name: &str,
    iface: &str,
    netns: Option<&str>,
    e: pcap::Error,
) -> InputError {
    let msg = match e {
        pcap::Error::PcapError(s) => s,
        other => other.to_string(),
    };
    let whr = netns.map_or(String::new(), |n| format!(" in netns {}", sanitize(n)));
    let low = msg.to_ascii_lowercase();
    // Without privilege libpcap fails on the socket before it looks up the
    // device, so a missing interface would read as a permission problem.
    let missing =
        low.contains("no such device") || low.contains("doesn't exist") || !interface_exists(iface);
    InputError(if missing {
        format!(
            "{}: no interface {}{whr}; list interfaces with ip link{}",
            sanitize(name),
            sanitize(iface),
            netns.map_or(String::new(), |n| format!(" (ip -n {} link)", sanitize(n)))
        )
    } else if low.contains("permission") || low.contains("not permitted") {
        format!(
            "{}: capturing on {}{whr} needs root or CAP_NET_RAW and CAP_NET_ADMIN; run with sudo, or: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v lvsdiag)",
            sanitize(name),
            sanitize(iface)
        )
    } else {
        format!(
            "{}: cannot capture on {}{whr}: {}",
            sanitize(name),
            sanitize(iface),
            sanitize(&msg)
        )
    })
}

pub(super) fn read_interface(
    name: &str,
    iface: &str,
    netns: Option<&str>,
    opts: &CaptureOptions,
    send: &mut Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    if let Some(ns) = netns {
        if let Err(e) = enter_netns(ns) {
            let _ = ready.send(Err(InputError(format!("{}: {e}", sanitize(name)))));
            return;
        }
    }
    // Not immediate mode: libpcap then uses TPACKET_V3, whose ring packs
    // packets into large blocks handed over when full or after the block
    // timeout. Immediate mode falls back to TPACKET_V2's fixed slots of
    // snaplen bytes: with a large snaplen that is a ring of a few dozen
    // packets, and drops under load.
    let cap = Capture::from_device(iface)
        .map(|c| {
            c.promisc(true)
                .immediate_mode(false)
                .snaplen(opts.snaplen)
                .buffer_size(opts.buffer_bytes)
                .timeout(BLOCK_TIMEOUT_MS)
                .precision(Precision::Nano)
        })
        .and_then(|c| c.open())
        // Non-blocking, waited on with poll(2) below, so that a reader
        // notices a stop request on a silent interface.
        .and_then(|c| c.setnonblock());
    let mut cap = match cap {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(open_error(name, iface, netns, e)));
            return;
        }
    };
    if let Some(f) = &opts.filter {
        if let Err(e) = cap.filter(f, true) {
            let _ = ready.send(Err(InputError(format!(
                "capture filter '{}' is not valid on {}: {}",
                sanitize(f),
                sanitize(iface),
                sanitize(&e.to_string())
            ))));
            return;
        }
    }
    let dlt = cap.get_datalink();
    let Some(link) = LinkType::from_pcap(dlt.0) else {
        let _ = ready.send(Err(InputError(format!(
            "{}: interface {} has link type {} which lvsdiag cannot decode; capture on an Ethernet interface",
            sanitize(name),
            sanitize(iface),
            dlt.0
        ))));
        return;
    };
    let _ = ready.send(Ok(link));
    let mut stats = Stats::default();
    let mut last_beat = Instant::now();
    while !send.stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                // Whole microseconds, as tcpdump writes its files and streams:
                // copies of one packet seen here and in a stream must compare
                // on the same scale, or the stream's truncation reorders them.
                let ts = crate::source::pcap_ts(p.header) / 1000 * 1000;
                send.push(ts, link, p.header.len, p.data);
                send.flush_due();
            }
            Err(pcap::Error::TimeoutExpired) => {
                // The ring holds no finished block: everything captured more
                // than HEARTBEAT_LAG ago has been read. The merge learns this
                // point holds nothing older; the batch goes when it is due.
                send.flush_due();
                if last_beat.elapsed() >= FLUSH_EVERY {
                    last_beat = Instant::now();
                    let lag = i64::try_from(HEARTBEAT_LAG.as_nanos()).unwrap_or(i64::MAX);
                    send.heartbeat(wall_ns().saturating_sub(lag));
                }
                let wait = send
                    .due_in()
                    .map_or(FLUSH_EVERY, |d| d.max(Duration::from_millis(1)))
                    .min(FLUSH_EVERY);
                use std::os::fd::AsRawFd;
                let mut pfd = libc::pollfd {
                    fd: cap.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the capture's own descriptor.
                unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as i32) };
            }
            Err(e) => {
                send.flush();
                send.shared.lost(Loss::ended(wall_ns()));
                send.fail(format!(
                    "{}: capture on {} stopped: {}",
                    sanitize(name),
                    sanitize(iface),
                    sanitize(&e.to_string())
                ));
                break;
            }
        }
        if stats.at.elapsed() >= STATS_EVERY {
            stats.sample(&mut cap, send.shared);
        }
    }
    send.flush();
    stats.sample(&mut cap, send.shared);
}

/// Reads an interface's drop counters and notes each increase as a loss
/// in the time since the previous reading.
pub(super) struct Stats {
    pub(super) at: Instant,
    pub(super) wall: i64,
    pub(super) kernel: u64,
    pub(super) interface: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            at: Instant::now(),
            wall: wall_ns(),
            kernel: 0,
            interface: 0,
        }
    }
}

impl Stats {
    pub(super) fn sample(&mut self, cap: &mut Capture<pcap::Active>, shared: &Shared) {
        let now = wall_ns();
        if let Ok(s) = cap.stats() {
            let (k, i) = (u64::from(s.dropped), u64::from(s.if_dropped));
            for (new, old, cause) in [
                (k, self.kernel, LossCause::Kernel),
                (i, self.interface, LossCause::Interface),
            ] {
                if new > old {
                    shared.lost(Loss {
                        from: self.wall,
                        to: now,
                        packets: Some(new - old),
                        cause,
                    });
                }
            }
            self.kernel = self.kernel.max(k);
            self.interface = self.interface.max(i);
            shared.kernel_drops.store(self.kernel, Ordering::Relaxed);
            shared
                .interface_drops
                .store(self.interface, Ordering::Relaxed);
        }
        self.at = Instant::now();
        self.wall = now;
    }
}
