//! The one loop that drives an analysis: packets from a [`PacketSource`]
//! (files or live) into the [`Engine`], with a look between pumps for
//! whoever runs it (a progress line, publishing a live view, commands, a
//! stop request).

use crate::engine::Engine;
use crate::source::live::Pkt;
use crate::source::{PacketSource, PointInfo, RawPacket};

/// What the look between pumps decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Go,
    /// Stop reading; what was read is still analyzed.
    Stop,
}

/// Feeds every packet of `src` to `engine` until the source ends.
/// `on_packet` sees each packet first (with its owned copy when it comes
/// from a live point); `between` runs after each pump. Returns the points
/// at the end.
pub fn drive(
    mut src: Box<dyn PacketSource>,
    engine: &mut Engine,
    on_packet: &mut dyn FnMut(&RawPacket<'_>, Option<&Pkt>),
    between: &mut dyn FnMut(&Engine, &dyn PacketSource) -> Control,
) -> Vec<PointInfo> {
    let mut stopping = false;
    while src.pump(&mut |p, live| {
        on_packet(p, live);
        engine.feed(p)
    }) {
        if !stopping && between(engine, src.as_ref()) == Control::Stop {
            src.stop();
            stopping = true;
        }
    }
    src.finish()
}
