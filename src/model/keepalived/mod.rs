//! keepalived.conf as a model source: the virtual servers it programs into
//! IPVS (by address and port, by firewall mark, by `virtual_server_group`),
//! their real servers, and the VRRP instances that decide which director
//! holds the VIPs.
//!
//! The grammar (keepalived's `doc/keepalived.conf.SYNOPSIS`, man page
//! keepalived.conf(5)): words separated by blanks, `{ … }` blocks,
//! comments from `#` or `!` to the end of the line, `include PATTERN`
//! (a glob, relative to the including file's directory), and lines
//! prefixed `@ID` (kept only when keepalived runs with `-i ID`) or `@^ID`
//! (kept unless it does). Keywords lvsdiag does not use are skipped; ones
//! it does not know at all are listed in the notes, never an error. What
//! is an error (one line naming the file and line): a file that cannot be
//! read, a brace that does not balance, an include loop or one too deep,
//! a file over the size bound.

use crate::model::Proto;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

mod interpret;
mod known;
mod reader;

use interpret::*;
use known::*;
use reader::*;

/// A file larger than this is refused (keepalived configurations are a few KiB).
const MAX_FILE: u64 = 16 << 20;
/// Words read in all files together.
const MAX_WORDS: usize = 2_000_000;
/// Include nesting.
const MAX_DEPTH: usize = 8;
/// Files read in all.
const MAX_FILES: usize = 1024;
/// Addresses one `virtual_server_group` range may expand to.
const MAX_RANGE: u32 = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Where a statement was read: file and line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", crate::text::sanitize(&self.file), self.line)
    }
}

/// What a `virtual_server` is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsKey {
    Addr { ip: IpAddr, port: Option<u16> },
    Fwmark(u32),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    pub ip: IpAddr,
    pub port: Option<u16>,
    /// `weight` (keepalived's default 1).
    pub weight: i64,
    pub inhibit_on_failure: bool,
    /// Health checkers declared (HTTP_GET, TCP_CHECK…).
    pub checkers: Vec<String>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    pub key: VsKey,
    pub protocol: Option<Proto>,
    pub lb_algo: Option<String>,
    /// NAT, DR or TUN.
    pub lb_kind: Option<String>,
    pub persistence_timeout: Option<u32>,
    pub inhibit_on_failure: bool,
    pub sorry_server: Option<(IpAddr, Option<u16>)>,
    pub real_servers: Vec<RealServer>,
    pub at: At,
}

/// One member of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMember {
    /// An address range (`192.168.200.3-10`: last byte 3 to 10) and port.
    Range {
        first: IpAddr,
        count: u32,
        port: Option<u16>,
    },
    Fwmark(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub members: Vec<GroupMember>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: Option<String>,
    pub vrid: Option<u8>,
    pub priority: Option<u8>,
    /// MASTER or BACKUP as configured (the initial state).
    pub state: Option<String>,
    /// Seconds (keepalived's default 1).
    pub advert_int: Option<f64>,
    pub version: Option<u8>,
    pub auth_type: Option<String>,
    pub virtual_ipaddress: Vec<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub nopreempt: bool,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub at: At,
}

/// What one keepalived configuration (with its includes) declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub files: Vec<String>,
    pub router_id: Option<String>,
    pub virtual_servers: Vec<VirtualServer>,
    pub groups: Vec<Group>,
    pub vrrp: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    /// `lvs_sync_daemon IFACE INSTANCE` (global_defs) or an instance's
    /// `lvs_sync_daemon_interface`: connection sync for failover.
    pub lvs_sync_daemon: Option<String>,
    /// What was skipped and why (unknown keywords, conditional lines,
    /// values that did not parse).
    pub notes: Vec<String>,
}

/// Reads a keepalived configuration and its includes. `config_id` is
/// keepalived's `-i`: lines `@ID …` apply when it is `ID`, `@^ID …` when it
/// is not; without it, `@ID` lines are skipped (and noted) and `@^ID` kept.
pub fn load(path: &Path, config_id: Option<&str>) -> Result<Config, Error> {
    let mut r = Reader {
        config_id,
        files: Vec::new(),
        words: Vec::new(),
        stack: Vec::new(),
        skipped_conditional: Default::default(),
    };
    r.read_file(path, None)?;
    let nodes = r.tree()?;
    let mut c = Config {
        files: r.files.iter().map(|f| crate::text::sanitize(f)).collect(),
        ..Config::default()
    };
    if !r.skipped_conditional.is_empty() {
        c.notes.push(format!(
            "lines for keepalived -i {} skipped (give --keepalived-id ID to read them)",
            r.skipped_conditional
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", -i ")
        ));
    }
    interpret(&nodes, &r.files, &mut c);
    Ok(c)
}

/// Parses configuration text as if it were the file `name` (no includes
/// are followed: they are noted). For tests and fuzzing.
pub fn parse_str(text: &str, name: &str) -> Result<Config, Error> {
    let mut r = Reader {
        config_id: None,
        files: vec![name.to_string()],
        words: Vec::new(),
        stack: Vec::new(),
        skipped_conditional: Default::default(),
    };
    r.words_of(text, 0, None)?;
    let nodes = r.tree()?;
    let mut c = Config {
        files: r.files.clone(),
        ..Config::default()
    };
    interpret(&nodes, &r.files, &mut c);
    Ok(c)
}

impl Config {
    /// Each virtual_server with the IPVS service keys it programs: one, or
    /// a group's once per member (as keepalived does).
    pub fn expanded(&self) -> Vec<(crate::model::ServiceKey, &VirtualServer)> {
        use crate::model::ServiceKey;
        let mut out = Vec::new();
        for v in &self.virtual_servers {
            let proto = v.protocol.unwrap_or(Proto::Tcp);
            match &v.key {
                VsKey::Addr { ip, port } => out.push((ServiceKey::addr(proto, *ip, *port), v)),
                VsKey::Fwmark(m) => out.push((
                    ServiceKey::Fwmark {
                        mark: *m,
                        v6: first_is_v6(v),
                    },
                    v,
                )),
                VsKey::Group(g) => {
                    for m in self
                        .groups
                        .iter()
                        .filter(|x| &x.name == g)
                        .flat_map(|x| x.members.iter())
                    {
                        match *m {
                            GroupMember::Range { first, count, port } => {
                                for ip in (0..count).filter_map(|i| nth(first, i)) {
                                    out.push((ServiceKey::addr(proto, ip, port), v));
                                }
                            }
                            GroupMember::Fwmark(mark) => out.push((
                                ServiceKey::Fwmark {
                                    mark,
                                    v6: first_is_v6(v),
                                },
                                v,
                            )),
                        }
                    }
                }
            }
        }
        out
    }

    /// The IPVS services this configuration programs, with their real
    /// servers at the configured weights.
    pub fn services(&self) -> Vec<crate::model::Service> {
        use crate::model::{Origin, RealServerCfg, Service};
        self.expanded()
            .into_iter()
            .map(|(key, v)| {
                let mode = v.mode();
                let mut s = Service::new(key, Origin::Keepalived(v.at.to_string()));
                s.scheduler = v.lb_algo.clone();
                s.persistent = v.persistence_timeout;
                s.mode = Some(mode);
                s.real_servers = v
                    .real_servers
                    .iter()
                    .map(|r| RealServerCfg {
                        addr: r.ip,
                        port: r.port,
                        mode,
                        weight: r.weight,
                        encap: None,
                    })
                    .collect();
                s
            })
            .collect()
    }
}

impl VirtualServer {
    /// The forwarding method: `lb_kind`, keepalived's default NAT.
    pub fn mode(&self) -> crate::model::Mode {
        use crate::model::Mode;
        match self.lb_kind.as_deref() {
            Some("DR") => Mode::Dr,
            Some("TUN") => Mode::Tun,
            _ => Mode::Nat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_lists_groups_and_instances() {
        let c = parse_str(
            r#"
! comment
global_defs { router_id LVS_1 }   # trailing
virtual_server_group G {
  192.0.2.100-102 80
  fwmark 7
}
virtual_server group G {
  lb_algo wrr
  lb_kind DR
  protocol TCP
  persistence_timeout
  real_server 192.0.2.11 80 { weight 3
    TCP_CHECK { connect_timeout 3 }
  }
  real_server 192.0.2.12 80 {
    weight 0
    inhibit_on_failure
  }
  frobnicate 9
}
virtual_server fwmark 1 { real_server 192.0.2.13 80 }
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication { auth_type PASS
    auth_pass "a b" }
  virtual_ipaddress {
    192.0.2.100/32 dev eth0
    2001:db8::100
  }
  unicast_peer { 192.0.2.3 }
}
"#,
            "t.conf",
        )
        .unwrap();
        assert_eq!(c.router_id.as_deref(), Some("LVS_1"));
        assert_eq!(c.groups.len(), 1);
        assert_eq!(
            c.groups[0].members,
            [
                GroupMember::Range {
                    first: "192.0.2.100".parse().unwrap(),
                    count: 3,
                    port: Some(80)
                },
                GroupMember::Fwmark(7)
            ]
        );
        assert_eq!(c.virtual_servers.len(), 2);
        let v = &c.virtual_servers[0];
        assert_eq!(v.key, VsKey::Group("G".into()));
        assert_eq!(
            (v.lb_kind.as_deref(), v.persistence_timeout),
            (Some("DR"), Some(360))
        );
        assert_eq!(v.real_servers.len(), 2);
        assert_eq!(
            (v.real_servers[0].weight, v.real_servers[0].checkers.len()),
            (3, 1)
        );
        assert!(v.real_servers[1].inhibit_on_failure && v.real_servers[1].weight == 0);
        assert_eq!(c.virtual_servers[1].key, VsKey::Fwmark(1));
        let i = &c.vrrp[0];
        assert_eq!(
            (i.vrid, i.priority, i.state.as_deref()),
            (Some(51), Some(150), Some("MASTER"))
        );
        assert_eq!(i.virtual_ipaddress.len(), 2);
        assert_eq!(i.auth_type.as_deref(), Some("PASS"));
        assert_eq!(i.unicast_peers.len(), 1);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("t.conf:20") && n.contains("frobnicate")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn unbalanced_braces_name_file_and_line() {
        let e = parse_str("vrrp_instance VI_1 {\n  priority 1\n", "k.conf").unwrap_err();
        assert_eq!(e.0, "k.conf:1: '{' of vrrp_instance is never closed");
        let e = parse_str("a {\n}\n}\n", "k.conf").unwrap_err();
        assert_eq!(e.0, "k.conf:3: '}' closes no block");
    }

    #[test]
    fn includes_conditionals_and_loops() {
        let d = std::env::temp_dir().join(format!("lvsdiag-ka-{}", std::process::id()));
        std::fs::create_dir_all(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("keepalived.conf"),
            "include conf.d/*.conf\n@high vrrp_instance H { priority 200 }\n@^high vrrp_instance L { priority 50 }\n",
        )
        .unwrap();
        std::fs::write(
            d.join("conf.d/a.conf"),
            "virtual_server 192.0.2.100 80 { }\n",
        )
        .unwrap();
        std::fs::write(
            d.join("conf.d/b.conf"),
            "virtual_server 192.0.2.101 80 { }\n",
        )
        .unwrap();
        let c = load(&d.join("keepalived.conf"), None).unwrap();
        assert_eq!(c.files.len(), 3);
        assert_eq!(c.virtual_servers.len(), 2);
        assert_eq!(
            c.vrrp.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            ["L"]
        );
        assert!(c.notes.iter().any(|n| n.contains("-i high")));
        let c = load(&d.join("keepalived.conf"), Some("high")).unwrap();
        assert_eq!(
            c.vrrp.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            ["H"]
        );
        // A loop.
        std::fs::write(d.join("conf.d/c.conf"), "include ../keepalived.conf\n").unwrap();
        let e = load(&d.join("keepalived.conf"), None).unwrap_err();
        assert!(
            e.0.contains("include loop") && e.0.contains("c.conf:1"),
            "{e}"
        );
        // Binary garbage.
        std::fs::write(d.join("bin.conf"), [0u8, 1, 2, 3, 0xff]).unwrap();
        assert!(load(&d.join("bin.conf"), None)
            .unwrap_err()
            .0
            .contains("binary"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
