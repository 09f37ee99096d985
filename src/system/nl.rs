//! A blocking netlink request/dump on a `netlink-sys` socket. Replies are kept
//! as the raw message stream the kernel sent (so they can be recorded and
//! replayed as decoder fixtures); the decoders in [`super::ipvs`] and
//! [`super::rtnl`] take such streams.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkSerializable, NLMSG_DONE, NLMSG_ERROR,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_sys::{Socket, SocketAddr};
use std::fmt::Debug;
use std::io;

/// Why a request failed.
#[derive(Debug)]
pub enum NlError {
    /// The socket could not be opened or used.
    Io(io::Error),
    /// The kernel answered with this errno (positive: EPERM = 1, ENOENT = 2, …).
    Errno(i32),
    /// The reply could not be decoded.
    Decode(String),
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NlError::Io(e) => write!(f, "{e}"),
            NlError::Errno(n) => write!(f, "{}", io::Error::from_raw_os_error(*n)),
            NlError::Decode(e) => write!(f, "undecodable reply: {e}"),
        }
    }
}

/// One open netlink socket; every request and its reply stream can be recorded.
pub struct Conn {
    sock: Socket,
    seq: u32,
    /// (name, raw reply stream) of every request, when recording.
    pub recorded: Option<Vec<(String, Vec<u8>)>>,
}

impl Conn {
    pub fn new(protocol: isize) -> Result<Conn, NlError> {
        let mut sock = Socket::new(protocol).map_err(NlError::Io)?;
        sock.bind_auto().map_err(NlError::Io)?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(NlError::Io)?;
        Ok(Conn {
            sock,
            seq: 0,
            recorded: None,
        })
    }

    /// Sends one request (a dump when `dump`) and returns the reply messages,
    /// concatenated as the kernel sent them, without the final DONE. A dump
    /// the kernel marks inconsistent (NLM_F_DUMP_INTR: the table changed
    /// meanwhile) is asked again, up to three times.
    pub fn request<T>(&mut self, name: &str, payload: T, dump: bool) -> Result<Vec<u8>, NlError>
    where
        T: NetlinkSerializable + Debug + Into<netlink_packet_core::NetlinkPayload<T>>,
    {
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        let mut msg = NetlinkMessage::new(hdr, payload.into());
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        let mut attempt = 0;
        let stream = loop {
            let (stream, interrupted) = self.exchange(&mut buf, dump)?;
            attempt += 1;
            if !interrupted || attempt == 3 {
                break stream;
            }
        };
        if let Some(r) = &mut self.recorded {
            r.push((name.to_string(), stream.clone()));
        }
        Ok(stream)
    }

    /// One request/reply exchange with a fresh sequence number; says whether
    /// the dump was interrupted.
    fn exchange(&mut self, buf: &mut [u8], dump: bool) -> Result<(Vec<u8>, bool), NlError> {
        self.seq = self.seq.wrapping_add(1);
        NetlinkBuffer::new(&mut *buf).set_sequence_number(self.seq);
        self.sock.send(buf, 0).map_err(NlError::Io)?;
        let mut stream = Vec::new();
        let mut interrupted = false;
        // Kernel dump skbs are at most 32 KiB; this leaves room.
        let mut rx: Vec<u8> = Vec::with_capacity(1 << 18);
        'recv: loop {
            rx.clear();
            let n = self.sock.recv(&mut rx, 0).map_err(NlError::Io)?;
            if n > rx.len() {
                return Err(NlError::Decode(format!("{n}-byte datagram truncated")));
            }
            let mut got_reply = false;
            for m in split(&rx).map_err(NlError::Decode)? {
                let b = NetlinkBuffer::new(m);
                if b.sequence_number() != self.seq {
                    continue; // a stale reply
                }
                interrupted |= b.flags() & NLM_F_DUMP_INTR != 0;
                match b.message_type() {
                    NLMSG_DONE => break 'recv,
                    NLMSG_ERROR => {
                        let p = b.payload();
                        let code = p
                            .get(..4)
                            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                            .unwrap_or(-libc::EIO);
                        if code == 0 {
                            break 'recv; // an ACK
                        }
                        return Err(NlError::Errno(-code));
                    }
                    _ => {
                        stream.extend_from_slice(m);
                        got_reply = true;
                    }
                }
            }
            if !dump && got_reply {
                break;
            }
        }
        Ok((stream, interrupted))
    }
}

/// Splits a stream of netlink messages into the messages (header included).
pub fn split(mut data: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let b = NetlinkBuffer::new_checked(data).map_err(|e| e.to_string())?;
        let len = b.length() as usize;
        out.push(&data[..len]);
        let next = (len + 3) & !3;
        data = data.get(next..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Decodes every message of a reply stream with `T`'s deserializer.
pub fn decode_stream<T>(data: &[u8]) -> Result<Vec<T>, String>
where
    T: netlink_packet_core::NetlinkDeserializable + Debug,
{
    let mut out = Vec::new();
    for m in split(data)? {
        let msg = NetlinkMessage::<T>::deserialize(m).map_err(|e| e.to_string())?;
        if let netlink_packet_core::NetlinkPayload::InnerMessage(i) = msg.payload {
            out.push(i);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_walks_aligned_messages_and_rejects_bad_lengths() {
        // Two messages: lengths 20 (header + 4) and 17 (padded to 20).
        let mut s = Vec::new();
        for (len, ty) in [(20u32, 16u16), (17, 17)] {
            s.extend_from_slice(&len.to_ne_bytes());
            s.extend_from_slice(&ty.to_ne_bytes());
            s.extend_from_slice(&[0; 10]);
            s.resize(s.len() + (len as usize - 16), 0xaa);
        }
        s.resize(s.len() + 3, 0);
        let m = split(&s).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].len(), 17);
        assert!(split(&s[..10]).is_err());
        let mut bad = s.clone();
        bad[0] = 200; // claims more than there is
        assert!(split(&bad).is_err());
    }
}
