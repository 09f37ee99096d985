//! Live sources: interfaces (optionally inside a network namespace), pcap
//! streams from a command's stdout (`ssh rs1 tcpdump -U -w -`), and files
//! replayed beside them. Each is read on its own thread; packets travel in
//! batches through one bounded channel and are put back in time order by a
//! short reorder buffer. A live interface never waits for the analysis: when
//! the channel is full its batch is dropped and counted; streams and files
//! wait instead (nothing is lost).

use super::file::FileSource;
use super::{InputError, LiveInfo, Loss, LossCause, PointInfo};
use crate::decode::LinkType;
use crate::text::sanitize;
use pcap::{Capture, Precision};
use std::io::Read;
use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

mod command;
mod input;
mod interface;
mod pkt;
mod reorder;
mod sender;
mod spec;
mod streams;

use command::read_command;
#[cfg(test)]
use command::tool_drops;
pub use input::LiveInput;
pub use interface::enter_netns;
use interface::read_interface;
pub use pkt::Pkt;
use reorder::{Batch, Reorder};
use sender::Sender;
pub use spec::{
    filter_for, CaptureOptions, Spec, DEFAULT_BUFFER_KIB, DEFAULT_SNAPLEN, MAX_SNAPLEN,
};
use std::time::{Duration, Instant};
pub use streams::Streams;

/// A packet waiting in a reader's batch: where its bytes are in the buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    point: u16,
    frame: u64,
    ts: i64,
    link: LinkType,
    wire_len: u32,
    start: u32,
    end: u32,
}

/// Counters a reader thread shares with the consumer.
#[derive(Default)]
struct Shared {
    packets: AtomicU64,
    kernel_drops: AtomicU64,
    interface_drops: AtomicU64,
    lvsdiag_drops: AtomicU64,
    running: AtomicBool,
    error: Mutex<Option<String>>,
    /// When packets were lost, for the checks that rest on absences.
    losses: Mutex<Vec<Loss>>,
    /// A file's points as its reader left them (losses per interface).
    file_points: Mutex<Vec<PointInfo>>,
    /// A command's process group, to end it on stop.
    pgid: std::sync::atomic::AtomicU32,
}

impl Shared {
    fn lost(&self, l: Loss) {
        if let Ok(mut v) = self.losses.lock() {
            super::add_loss(&mut v, l);
        }
    }
}

/// A batch goes to the merge when it holds this many packets or bytes...
const BATCH_MAX: usize = 1024;
const BATCH_BYTES: usize = 256 << 10;
/// Buffers a reader keeps to reuse.
const POOL_BUFFERS: usize = 16;
/// ... or when its first packet has waited this long.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Batches in flight between the readers and the merge.
const CHANNEL_BATCHES: usize = 1024;
/// Bytes of packets in flight and waiting in the merge, all points
/// together; past this a live interface's batch is dropped (and counted).
const QUEUED_BYTES_MAX: usize = 256 << 20;
/// Per-packet bookkeeping counted against [`QUEUED_BYTES_MAX`].
const PKT_OVERHEAD: usize = 64;
/// libpcap's ring timeout for live interfaces (TPACKET_V3 block retire
/// time): a quiet interface's packets reach the reader within this.
const BLOCK_TIMEOUT_MS: i32 = 20;
/// How long after capture an interface's packets may still reach the
/// reader (a block in the ring is handed over when full or after
/// [`BLOCK_TIMEOUT_MS`]); a heartbeat vouches for nothing younger.
const HEARTBEAT_LAG: Duration = Duration::from_millis(2 * BLOCK_TIMEOUT_MS as u64 + 10);
/// How often interface statistics (drops) are read.
const STATS_EVERY: Duration = Duration::from_millis(100);

fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn read_point(
    spec: Spec,
    opts: &CaptureOptions,
    mut send: Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    match spec {
        // Files are opened by Streams::open and read by read_file.
        Spec::File { .. } => {}
        Spec::Interface { name, iface, netns } => {
            read_interface(&name, &iface, netns.as_deref(), opts, &mut send, ready)
        }
        Spec::Command { name, command } => read_command(&name, &command, &mut send, ready),
    }
}

/// Replays a file beside live points, as fast as the merge takes it; a
/// pcapng file's packets go to the point of their interface.
fn read_file(mut src: FileSource, mut send: Sender<'_>) {
    let base = send.point;
    let mut buf = Vec::with_capacity(2048);
    while !send.stop.load(Ordering::Relaxed) {
        buf.clear();
        if !src.advance(&mut buf) {
            break;
        }
        // One push per packet read: the sender's frame count is the file's.
        send.point = base + src.iface;
        send.push(src.ts, src.link, src.wire_len, &buf);
    }
    send.flush();
    if let Some(e) = src.info.error.clone() {
        send.fail(e);
    }
    if let Ok(mut f) = send.shared.file_points.lock() {
        *f = src.points();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tcpdump_closing_counts_are_drops() {
        let err = "tcpdump: listening on eth0\n120 packets captured\n130 packets received by filter\n10 packets dropped by kernel\n";
        assert_eq!(super::tool_drops(err), Some(10));
        assert_eq!(super::tool_drops("0 packets dropped by kernel\n"), None);
        assert_eq!(
            super::tool_drops("5 packets dropped by interface\n2 packets dropped by kernel"),
            Some(7)
        );
        assert_eq!(super::tool_drops("x packets dropped by kernel"), None);
    }

    #[test]
    fn the_default_filter_keeps_what_the_checks_read() {
        let a: Vec<std::net::IpAddr> = vec![
            "192.0.2.100".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ];
        let f = super::filter_for(&a).unwrap();
        for part in [
            "arp",
            "icmp6",
            "vrrp",
            "host 192.0.2.100",
            "host 2001:db8::1",
            "vlan and (",
        ] {
            assert!(f.contains(part), "{f}");
        }
        // libpcap compiles it.
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        assert!(dead.compile(&f, true).is_ok(), "{f}");
        assert_eq!(super::filter_for(&[]), None);
    }
}
