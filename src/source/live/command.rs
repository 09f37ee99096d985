//! Command streams (`--exec NAME='ssh rs1 tcpdump -U -w -'`): reading a
//! pcap stream from a child's stdout, and its tool's own drop counts.

use super::*;

/// Packets a capture tool says it dropped, from its closing lines
/// (tcpdump: "N packets dropped by kernel", "N packets dropped by interface").
pub(super) fn tool_drops(stderr: &str) -> Option<u64> {
    let mut total = None;
    for l in stderr.lines() {
        let l = l.trim();
        if l.ends_with("packets dropped by kernel") || l.ends_with("packets dropped by interface") {
            if let Some(n) = l
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                total = Some(total.unwrap_or(0) + n);
            }
        }
    }
    total.filter(|n| *n > 0)
}

/// Kills the command when the reader ends.
pub(super) struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // SAFETY: signals the command's own process group (tcpdump under sh -c).
        unsafe {
            libc::kill(-(self.0.id() as libc::pid_t), libc::SIGTERM);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn read_command(
    name: &str,
    command: &str,
    send: &mut Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    let shown = sanitize(name);
    use std::os::unix::process::CommandExt;
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => {
            send.shared.pgid.store(c.id(), Ordering::Relaxed);
            Reaper(c)
        }
        Err(e) => {
            let _ = ready.send(Err(InputError(format!(
                "{shown}: cannot run the command: {e}"
            ))));
            return;
        }
    };
    // The last lines the command wrote to stderr, to explain its end.
    let stderr_tail = Arc::new(Mutex::new(String::new()));
    let mut tail_reader = None;
    if let Some(mut err) = child.0.stderr.take() {
        let tail = stderr_tail.clone();
        tail_reader = Some(std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if t.len() > 4096 {
                        let cut = t.len() - 2048;
                        let cut = (cut..t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(0);
                        t.drain(..cut);
                    }
                }
            }
        }));
    }
    // The command's last words: wait (briefly) for its stderr to close.
    let last_line = |tail: &Mutex<String>| {
        let t0 = Instant::now();
        while tail_reader.as_ref().is_some_and(|h| !h.is_finished())
            && t0.elapsed() < Duration::from_millis(500)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        tail.lock()
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| sanitize(l.trim()))
            })
            .unwrap_or_default()
    };
    let stdout = child.0.stdout.take().expect("piped").into_raw_fd();
    // SAFETY: the fd is ours alone (taken from the child handle); libpcap closes it.
    let cap = unsafe { Capture::from_raw_fd_with_precision(stdout, Precision::Nano) };
    let mut cap = match cap {
        Ok(c) => c,
        Err(e) => {
            let status = child.0.wait().ok();
            let why = last_line(&stderr_tail);
            let _ = ready.send(Err(InputError(format!(
                "{shown}: the command gave no pcap stream ({}{}{}); it must write a pcap to stdout, e.g. tcpdump -U -i eth0 -w -",
                sanitize(&e.to_string()),
                status.map_or(String::new(), |s| format!(", {s}")),
                if why.is_empty() { String::new() } else { format!(": {why}") }
            ))));
            return;
        }
    };
    let dlt = cap.get_datalink();
    let Some(link) = LinkType::from_pcap(dlt.0) else {
        let _ = ready.send(Err(InputError(format!(
            "{shown}: the stream has link type {} which lvsdiag cannot decode",
            dlt.0
        ))));
        return;
    };
    let _ = ready.send(Ok(link));
    let mut error = None;
    // The next read may block for as long as the stream is quiet (libpcap
    // reads it through stdio, so poll(2) cannot tell): a flusher hands over
    // what waits in the batch every FLUSH_EVERY meanwhile. Both hold the lock
    // while sending, so the point's packets stay in order.
    let stop = send.stop;
    let done = AtomicBool::new(false);
    let locked = Mutex::new(&mut *send);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY / 2);
                if let Ok(mut s) = locked.lock() {
                    s.flush_due();
                }
            }
        });
        while !stop.load(Ordering::Relaxed) {
            match cap.next_packet() {
                Ok(p) => {
                    if let Ok(mut s) = locked.lock() {
                        s.push(crate::source::pcap_ts(p.header), link, p.header.len, p.data);
                    }
                }
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    error = Some(sanitize(&e.to_string()));
                    break;
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    send.flush();
    let stopped = send.stop.load(Ordering::Relaxed);
    drop(cap);
    // The capture tool's own count of what it dropped (tcpdump prints it on
    // stderr when it ends, also when stopped), as a loss over the stream.
    let why = last_line(&stderr_tail);
    if let Some((first, last)) = send.span {
        let text = stderr_tail.lock().map(|t| t.clone()).unwrap_or_default();
        if let Some(n) = tool_drops(&text) {
            send.shared.lost(Loss {
                from: first,
                to: last,
                packets: Some(n),
                cause: LossCause::Recorded,
            });
        }
    }
    if stopped {
        return;
    }
    let status = child.0.wait().ok();
    // Reaped: its process group id may be reused; stop() must not signal it.
    send.shared.pgid.store(0, Ordering::Relaxed);
    let ok = status.is_some_and(|s| s.success());
    if error.is_some() || !ok {
        // What it would have sent after this is unseen: no proof of absence.
        if let Some((_, last)) = send.span {
            send.shared.lost(Loss::ended(last));
        }
        send.fail(format!(
            "{shown}: the command's stream ended after {} packets ({}{}{}); the packets before it were analyzed. Check the command: {}",
            send.frame,
            error.unwrap_or_else(|| "end of stream".into()),
            status.map_or(String::new(), |s| format!(", {s}")),
            if why.is_empty() { String::new() } else { format!(": {why}") },
            sanitize(command)
        ));
    }
}
