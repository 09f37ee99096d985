//! What a capture point is (`-i [NAME=]IFACE[@NETNS]`, `--exec NAME=CMD`, a
//! file) and the capture settings every live point shares.

use super::*;

/// One capture point to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    File {
        name: String,
        path: PathBuf,
    },
    Interface {
        name: String,
        iface: String,
        netns: Option<String>,
    },
    Command {
        name: String,
        command: String,
    },
}

impl Spec {
    pub fn name(&self) -> &str {
        match self {
            Spec::File { name, .. } | Spec::Interface { name, .. } | Spec::Command { name, .. } => {
                name
            }
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, Spec::File { .. })
    }

    /// Parses `-i [NAME=]IFACE[@NETNS]`; `netns` is the `--netns` default.
    pub fn interface(arg: &str, netns: Option<&str>) -> Result<Spec, InputError> {
        let (name, rest) = match arg.split_once('=') {
            Some((n, r)) if !n.is_empty() => (Some(n), r),
            _ => (None, arg),
        };
        let (iface, ns) = match rest.split_once('@') {
            Some((i, n)) => (i, Some(n)),
            None => (rest, netns),
        };
        if iface.is_empty() || iface.len() > 15 || iface.contains('/') {
            return Err(InputError(format!(
                "-i {}: not an interface name; give -i [NAME=]IFACE[@NETNS], e.g. -i eth0 or -i rs1=eth0@rs1",
                sanitize(arg)
            )));
        }
        if ns.is_some_and(|n| n.is_empty() || n.contains('/')) {
            return Err(InputError(format!(
                "-i {}: not a network namespace name (as listed by ip netns list)",
                sanitize(arg)
            )));
        }
        let name = match (name, ns) {
            (Some(n), _) => n.to_string(),
            (None, Some(ns)) => format!("{ns}-{iface}"),
            (None, None) => iface.to_string(),
        };
        Ok(Spec::Interface {
            name: sanitize(&name),
            iface: iface.to_string(),
            netns: ns.map(str::to_string),
        })
    }

    /// Parses `--exec NAME='COMMAND'`.
    pub fn command(arg: &str) -> Result<Spec, InputError> {
        match arg.split_once('=') {
            Some((n, c)) if !n.is_empty() && !c.trim().is_empty() && !n.contains(' ') => {
                Ok(Spec::Command {
                    name: sanitize(n),
                    command: c.to_string(),
                })
            }
            _ => Err(InputError(format!(
                "--exec {}: give NAME='COMMAND', e.g. --exec rs1='ssh rs1 tcpdump -U -i eth0 -w -'",
                sanitize(arg)
            ))),
        }
    }

    pub(super) fn what(&self) -> String {
        match self {
            Spec::File { path, .. } => sanitize(&path.display().to_string()),
            Spec::Interface {
                iface,
                netns: Some(ns),
                ..
            } => format!("{} in netns {}", sanitize(iface), sanitize(ns)),
            Spec::Interface { iface, .. } => sanitize(iface),
            Spec::Command { command, .. } => sanitize(command),
        }
    }
}

/// Capture settings shared by every live point.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// BPF capture filter (tcpdump syntax), applied to live interfaces.
    pub filter: Option<String>,
    pub snaplen: i32,
    /// libpcap's kernel buffer per interface.
    pub buffer_bytes: i32,
}

/// Bytes kept of each packet by default: every header the checks read
/// (Ethernet, two VLAN tags, an outer and an inner IPv6 header for TUN, TCP
/// with options, an ICMP error quoting all of that, VRRP with dozens of
/// addresses) fits; payloads are not needed to diagnose LVS and are not
/// copied, kept for export or written by `capture` (`-s 0`: whole packets).
pub const DEFAULT_SNAPLEN: i32 = 512;
/// The largest snap length libpcap takes; `-s 0` means this.
pub const MAX_SNAPLEN: i32 = 262_144;
/// The kernel ring per live interface by default (tcpdump's is 2 MiB):
/// about 100 ms of 1 M packets/s of small packets, so that a busy moment
/// of the analysis (a TUI refresh) does not drop packets.
pub const DEFAULT_BUFFER_KIB: i32 = 16 * 1024;

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            filter: None,
            snaplen: DEFAULT_SNAPLEN,
            buffer_bytes: DEFAULT_BUFFER_KIB * 1024,
        }
    }
}

/// A BPF filter for the traffic of these VIPs and real servers, and what
/// the checks read beside it (ARP and neighbour discovery, ICMP errors,
/// VRRP), tagged or not. Too many addresses: none (everything is kept).
pub fn filter_for(addrs: &[std::net::IpAddr]) -> Option<String> {
    if addrs.is_empty() || addrs.len() > 64 {
        return None;
    }
    let hosts: Vec<String> = addrs.iter().map(|a| format!("host {a}")).collect();
    let inner = format!("arp or icmp or icmp6 or vrrp or {}", hosts.join(" or "));
    Some(format!("{inner} or (vlan and ({inner}))"))
}
