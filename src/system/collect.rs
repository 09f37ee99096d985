//! Takes a [`HostSnapshot`] of the namespace the calling thread is in.

use super::nl::Conn;
use super::{ipvs, nft, rtnl, sockets, sysctl, HostSnapshot, FORMAT};
use netlink_sys::protocols::{NETLINK_GENERIC, NETLINK_ROUTE};
use std::path::Path;

/// Raw netlink replies as recorded: (request name, message stream).
pub type Recording = Vec<(String, Vec<u8>)>;

/// Reads the calling thread's network namespace. `host` names it (else the
/// UTS host name). Fails only when rtnetlink itself cannot be read; IPVS
/// trouble becomes a warning (and the `/proc/net/ip_vs` fallback).
pub fn take(
    host: Option<&str>,
    netns: Option<&str>,
    record: bool,
) -> Result<(HostSnapshot, Recording), String> {
    let mut snap = HostSnapshot {
        format: FORMAT,
        host: host.map(str::to_string).unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "localhost".into())
        }),
        netns: netns.map(str::to_string),
        taken_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ..Default::default()
    };
    let mut recording = Recording::new();

    let mut rt =
        Conn::new(NETLINK_ROUTE).map_err(|e| format!("cannot open an rtnetlink socket: {e}"))?;
    if record {
        rt.recorded = Some(Vec::new());
    }
    let streams = rtnl::read(&mut rt).map_err(|e| format!("rtnetlink dump failed: {e}"))?;
    let d = rtnl::decode(&streams).map_err(|e| format!("rtnetlink reply: {e}"))?;
    snap.links = d.links;
    snap.addresses = d.addresses;
    snap.routes = d.routes;
    snap.neighbours = d.neighbours;
    recording.extend(rt.recorded.take().unwrap_or_default());

    // /proc/net is the thread-group leader's namespace; this thread may have
    // entered another one.
    let proc_ipvs = Path::new("/proc/thread-self/net/ip_vs");
    let fallback = |snap: &mut HostSnapshot, why: String| match std::fs::read_to_string(proc_ipvs) {
        Ok(text) => {
            snap.ipvs = Some(ipvs::from_proc(&text));
            snap.warnings.push(format!(
                    "{why}; read /proc/net/ip_vs instead (no statistics, thresholds, timeouts or sync daemons)"
                ));
        }
        Err(e) => snap.warnings.push(format!(
            "{why}; /proc/net/ip_vs is not readable either: {e}"
        )),
    };
    match Conn::new(NETLINK_GENERIC) {
        Err(e) => fallback(
            &mut snap,
            format!("cannot open a generic netlink socket: {e}"),
        ),
        Ok(mut g) => {
            if record {
                g.recorded = Some(Vec::new());
            }
            match ipvs::read(&mut g) {
                Ok(i) => snap.ipvs = Some(i),
                Err(ipvs::Unavailable::NotLoaded) => {
                    if proc_ipvs.exists() {
                        fallback(&mut snap, "no IPVS generic netlink family".into());
                    }
                    // else: no IPVS here (a real server, a router): nothing to say.
                }
                Err(ipvs::Unavailable::Permission) => fallback(
                    &mut snap,
                    "reading IPVS over generic netlink needs CAP_NET_ADMIN (run as root)".into(),
                ),
                Err(ipvs::Unavailable::Other(e)) => {
                    fallback(&mut snap, format!("IPVS over generic netlink failed: {e}"))
                }
            }
            recording.extend(g.recorded.take().unwrap_or_default());
        }
    }

    match sockets::read(Path::new("/proc/thread-self/net")) {
        Ok(l) => snap.listeners = Some(l),
        Err(e) => snap
            .warnings
            .push(format!("listening sockets not read: {e}")),
    }
    match sockets::read_udp(Path::new("/proc/thread-self/net")) {
        Ok(l) => snap.udp_listeners = Some(l),
        Err(e) => snap.warnings.push(format!("UDP sockets not read: {e}")),
    }
    match nft::read() {
        Ok(Some(r)) => snap.nftables = Some(r),
        Ok(None) => snap
            .warnings
            .push("no nft binary: the nftables ruleset is not read (install nftables)".into()),
        Err(e) => snap
            .warnings
            .push(format!("nftables ruleset not read: {e}")),
    }
    snap.sysctls = sysctl::read_all(Path::new("/proc/sys"));
    if let Ok(t) = std::fs::read_to_string("/proc/thread-self/net/stat/nf_conntrack") {
        snap.conntrack = super::ConntrackStats::parse(&t);
    }
    Ok((snap, recording))
}

/// Takes one snapshot per named namespace (`None`: the caller's own).
pub fn take_many(
    names: &[Option<String>],
    record: bool,
) -> Result<Vec<(HostSnapshot, Recording)>, String> {
    let mut out = Vec::new();
    for n in names {
        let r = match n {
            None => take(None, None, record)?,
            Some(name) => {
                let owned = name.clone();
                super::netns::run_in(name, move || take(Some(&owned), Some(&owned), record))??
            }
        };
        out.push(r);
    }
    Ok(out)
}
