//! A reader's side of the channel: packets batched by count, bytes and age;
//! a live interface drops (and counts) what the analysis cannot take.

use super::*;

/// Sends batches to the consumer, by count and by age: live interfaces
/// drop (and count) when it cannot keep up; streams and files wait.
pub(super) struct Sender<'a> {
    /// The point of the next packet.
    pub(super) point: u16,
    /// Every point this reader delivers.
    pub(super) points: std::ops::Range<u16>,
    pub(super) tx: SyncSender<Batch>,
    pub(super) shared: &'a Shared,
    pub(super) stop: &'a AtomicBool,
    pub(super) lossy: bool,
    pub(super) batch: Vec<Pending>,
    /// The bytes of the batch's packets, one after the other.
    pub(super) bytes: Vec<u8>,
    /// Buffers handed over, taken back once the analysis has let go of
    /// them: no allocation (and no fresh pages) per batch.
    pub(super) pool: Vec<Arc<Vec<u8>>>,
    pub(super) batch_bytes: usize,
    /// The first and newest packet time so far.
    pub(super) span: Option<(i64, i64)>,
    /// When the batch's first packet was read.
    pub(super) first_at: Option<Instant>,
    pub(super) frame: u64,
    pub(super) queued: &'a AtomicUsize,
    /// Batches sent and not yet taken by the merge (all readers).
    pub(super) inflight: &'a AtomicUsize,
}

impl Sender<'_> {
    pub(super) fn push(&mut self, ts: i64, link: LinkType, wire_len: u32, data: &[u8]) {
        self.frame += 1;
        self.shared.packets.fetch_add(1, Ordering::Relaxed);
        self.first_at.get_or_insert_with(Instant::now);
        self.span = Some(self.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        self.batch_bytes += data.len() + PKT_OVERHEAD;
        if self.bytes.capacity() == 0 {
            self.bytes = self.spare_buffer();
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(data);
        self.batch.push(Pending {
            point: self.point,
            frame: self.frame,
            ts,
            link,
            wire_len,
            start,
            end: self.bytes.len() as u32,
        });
        if self.batch.len() >= BATCH_MAX || self.bytes.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    /// A buffer no packet refers to any more, or a new one.
    pub(super) fn spare_buffer(&mut self) -> Vec<u8> {
        // Only this thread holds the pool's references; a count of one means
        // no packet is left that could be cloned.
        if let Some(i) = self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            if let Ok(mut v) = Arc::try_unwrap(self.pool.swap_remove(i)) {
                v.clear();
                return v;
            }
        }
        Vec::with_capacity(BATCH_BYTES)
    }

    /// Tells the consumer this point is caught up: it will send nothing
    /// captured before `upto`. Skipped when the channel is full.
    pub(super) fn heartbeat(&mut self, upto: i64) {
        // Never past a packet still waiting in the batch.
        let upto = self
            .batch
            .iter()
            .map(|p| p.ts.saturating_sub(1))
            .min()
            .map_or(upto, |t| t.min(upto));
        if self
            .tx
            .try_send(Batch {
                points: self.points.clone(),
                arrived: Instant::now(),
                pkts: Vec::new(),
                upto,
            })
            .is_ok()
        {
            self.inflight.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How long until the batch is due by age (None: it is empty).
    pub(super) fn due_in(&self) -> Option<Duration> {
        self.first_at
            .map(|t| FLUSH_EVERY.saturating_sub(t.elapsed()))
    }

    pub(super) fn flush_due(&mut self) {
        if self.due_in().is_some_and(|d| d.is_zero()) {
            self.flush();
        }
    }

    /// `false` when the consumer is gone.
    pub(super) fn flush(&mut self) -> bool {
        self.first_at = None;
        if self.batch.is_empty() {
            return true;
        }
        let mut bytes_buf = std::mem::take(&mut self.bytes);
        // A quiet interface's few packets should not keep a large buffer
        // alive (the export ring may hold them for long).
        if bytes_buf.len() * 4 < bytes_buf.capacity() {
            bytes_buf.shrink_to_fit();
        }
        let cost = (bytes_buf.capacity() / self.batch.len().max(1) + 48) as u32;
        let buf = Arc::new(bytes_buf);
        if self.pool.len() < POOL_BUFFERS {
            self.pool.push(buf.clone());
        }
        let pkts: Vec<Pkt> = self
            .batch
            .drain(..)
            .map(|p| Pkt {
                point: p.point,
                frame: p.frame,
                ts: p.ts,
                link: p.link,
                wire_len: p.wire_len,
                buf: buf.clone(),
                start: p.start,
                end: p.end,
                cost,
            })
            .collect();
        let bytes = std::mem::take(&mut self.batch_bytes);
        let upto = pkts.iter().map(|p| p.ts).max().unwrap_or(i64::MIN);
        let b = Batch {
            points: self.points.clone(),
            arrived: Instant::now(),
            upto,
            pkts,
        };
        if self.lossy {
            let over = self.queued.load(Ordering::Relaxed) + bytes > QUEUED_BYTES_MAX;
            let r = if over {
                Err(TrySendError::Full(b))
            } else {
                self.queued.fetch_add(bytes, Ordering::Relaxed);
                self.tx.try_send(b).inspect_err(|_| {
                    self.queued.fetch_sub(bytes, Ordering::Relaxed);
                })
            };
            match r {
                Ok(()) => {
                    self.inflight.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Full(b)) => {
                    let n = b.pkts.len() as u64;
                    self.shared.lvsdiag_drops.fetch_add(n, Ordering::Relaxed);
                    let from = b.pkts.iter().map(|p| p.ts).min().unwrap_or(upto);
                    self.shared.lost(Loss {
                        from,
                        to: upto,
                        packets: Some(n),
                        cause: LossCause::Lvsdiag,
                    });
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        } else {
            // Files and streams wait instead of dropping, and leave half the
            // room (channel and bytes) to live interfaces, which cannot wait.
            while self.inflight.load(Ordering::Relaxed) >= CHANNEL_BATCHES / 2
                || self.queued.load(Ordering::Relaxed) + bytes > QUEUED_BYTES_MAX / 2
            {
                if self.stop.load(Ordering::Relaxed) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            self.queued.fetch_add(bytes, Ordering::Relaxed);
            let mut b = b;
            loop {
                match self.tx.try_send(b) {
                    Ok(()) => {
                        self.inflight.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                    Err(TrySendError::Full(back)) => {
                        if self.stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        b = back;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
        }
    }

    pub(super) fn fail(&self, msg: String) {
        if let Ok(mut e) = self.shared.error.lock() {
            *e = Some(msg);
        }
    }
}
