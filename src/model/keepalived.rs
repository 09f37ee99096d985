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

/// One word of the configuration, with where it stands.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    file: usize,
    line: u32,
}

/// A statement: a keyword, its arguments and, for a block, its statements.
#[derive(Debug, Clone)]
struct Node {
    word: Word,
    args: Vec<String>,
    block: Option<Vec<Node>>,
}

struct Reader<'a> {
    /// `-i ID` of keepalived: which `@ID` lines apply.
    config_id: Option<&'a str>,
    files: Vec<String>,
    words: Vec<Word>,
    /// Canonical paths of the files being read (include loop detection).
    stack: Vec<PathBuf>,
    skipped_conditional: std::collections::BTreeSet<String>,
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

impl Reader<'_> {
    fn read_file(&mut self, path: &Path, from: Option<&At>) -> Result<(), Error> {
        let shown = crate::text::sanitize(&path.display().to_string());
        let whence = from.map_or(String::new(), |a| format!(" (included at {a})"));
        if self.files.len() >= MAX_FILES {
            return Err(Error(format!("{shown}{whence}: more than {MAX_FILES} files included; is an include pattern too wide?")));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error(format!(
                "{shown}{whence}: includes nested more than {MAX_DEPTH} deep"
            )));
        }
        let canon = std::fs::canonicalize(path).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if self.stack.contains(&canon) {
            return Err(Error(format!(
                "{shown}{whence}: include loop: the file includes itself"
            )));
        }
        let meta = std::fs::metadata(&canon).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if !meta.is_file() {
            return Err(Error(format!("{shown}{whence}: not a file")));
        }
        if meta.len() > MAX_FILE {
            return Err(Error(format!(
                "{shown}{whence}: {} bytes is not a keepalived configuration (at most {} MiB)",
                meta.len(),
                MAX_FILE >> 20
            )));
        }
        let bytes = std::fs::read(&canon).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if bytes.iter().take(4096).any(|&b| b == 0) {
            return Err(Error(format!(
                "{shown}{whence}: binary data, not a keepalived configuration"
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        self.files.push(path.display().to_string());
        let idx = self.files.len() - 1;
        self.stack.push(canon);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let r = self.words_of(&text, idx, Some(&dir));
        self.stack.pop();
        r
    }

    /// Splits `text` into words, applying conditionals and includes.
    fn words_of(&mut self, text: &str, file: usize, dir: Option<&Path>) -> Result<(), Error> {
        for (n, raw) in text.lines().enumerate() {
            let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
            let mut l = raw.trim_start();
            // @ID / @^ID conditional lines.
            if let Some(rest) = l.strip_prefix('@') {
                let (cond, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let (negate, id) = match cond.strip_prefix('^') {
                    Some(id) => (true, id),
                    None => (false, cond),
                };
                let matches = self.config_id == Some(id);
                if matches == negate {
                    if !negate && self.config_id.is_none() {
                        self.skipped_conditional.insert(crate::text::sanitize(id));
                    }
                    continue;
                }
                l = body.trim_start();
            }
            let words = split_words(l);
            if words.first().map(String::as_str) == Some("include") {
                let at = At {
                    file: self.files[file].clone(),
                    line,
                };
                let Some(pattern) = words.get(1) else {
                    continue;
                };
                let Some(dir) = dir else {
                    continue;
                };
                self.include(dir, pattern, &at)?;
                continue;
            }
            for w in words {
                if self.words.len() >= MAX_WORDS {
                    return Err(Error(format!(
                        "{}:{line}: more than {MAX_WORDS} words: not a keepalived configuration",
                        crate::text::sanitize(&self.files[file])
                    )));
                }
                self.words.push(Word {
                    text: w,
                    file,
                    line,
                });
            }
        }
        Ok(())
    }

    fn include(&mut self, dir: &Path, pattern: &str, at: &At) -> Result<(), Error> {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            dir.join(pattern)
        };
        let Some(pat) = full.to_str() else {
            return Err(Error(format!(
                "{at}: include {}: not a UTF-8 path",
                crate::text::sanitize(pattern)
            )));
        };
        let paths = glob::glob(pat).map_err(|e| {
            Error(format!(
                "{at}: include {}: {e}",
                crate::text::sanitize(pattern)
            ))
        })?;
        let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        found.sort();
        for p in found {
            self.read_file(&p, Some(at))?;
        }
        Ok(())
    }

    /// Builds the statement tree; braces must balance.
    fn tree(&self) -> Result<Vec<Node>, Error> {
        let at = |w: &Word| At {
            file: self.files[w.file].clone(),
            line: w.line,
        };
        // Stack of open blocks: (the statement that opened it, its children).
        let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
        let mut i = 0;
        let words = &self.words;
        while i < words.len() {
            let w = &words[i];
            match w.text.as_str() {
                "{" => {
                    // A block with no keyword of its own (`{ a b }` lists):
                    // attached to the previous statement.
                    let (_, children) = stack.last_mut().expect("root");
                    let owner = children.pop().unwrap_or(Node {
                        word: w.clone(),
                        args: Vec::new(),
                        block: None,
                    });
                    stack.push((Some(owner), Vec::new()));
                    i += 1;
                }
                "}" => {
                    if stack.len() == 1 {
                        return Err(Error(format!("{}: '}}' closes no block", at(w))));
                    }
                    let (owner, children) = stack.pop().expect("open block");
                    let mut owner = owner.expect("block owner");
                    owner.block = Some(children);
                    stack.last_mut().expect("root").1.push(owner);
                    i += 1;
                }
                _ => {
                    // A statement: the keyword and the words up to the end
                    // of its line (or a brace).
                    let line = (w.file, w.line);
                    let mut args = Vec::new();
                    let mut j = i + 1;
                    while j < words.len()
                        && (words[j].file, words[j].line) == line
                        && words[j].text != "{"
                        && words[j].text != "}"
                    {
                        args.push(words[j].text.clone());
                        j += 1;
                    }
                    stack.last_mut().expect("root").1.push(Node {
                        word: w.clone(),
                        args,
                        block: None,
                    });
                    i = j;
                }
            }
        }
        if stack.len() > 1 {
            let (owner, _) = stack.pop().expect("open block");
            let w = owner.expect("block owner").word;
            return Err(Error(format!(
                "{}: '{{' of {} is never closed",
                at(&w),
                crate::text::sanitize(&w.text)
            )));
        }
        Ok(stack.pop().expect("root").1)
    }
}

/// Words of one line: blanks separate them, `{` and `}` are words of their
/// own, `"…"` keeps blanks, `#` and `!` start a comment.
fn split_words(l: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in l.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                if !quoted {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ if quoted => cur.push(c),
            '#' | '!' => break,
            '{' | '}' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Keywords lvsdiag knows and does not need (checkers' insides, scripts,
/// notifications, global settings): skipped without a note.
const KNOWN: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_alert",
    "enable_traps",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_version",
    "vrrp_strict",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_iptables",
    "vrrp_ipsets",
    "enable_script_security",
    "script_user",
    "dynamic_interfaces",
    "vrrp_priority",
    "checker_priority",
    "process_names",
    "max_auto_priority",
    "lvs_timeouts",
    "lvs_flush",
    "net_namespace",
    "instance",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "track_interface",
    "track_script",
    "track_process",
    "track_file",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_up",
    "notify_down",
    "smtp_alert_checker",
    "smtp_alert_vrrp",
    "virtual_routes",
    "virtual_rules",
    "virtual_ipaddress_excluded",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "dont_track_primary",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "mcast_src_ip",
    "unicast_src_ip",
    "preempt_delay",
    "debug",
    "accept",
    "no_accept",
    "strict_mode",
    "skip_check_adv_addr",
    "check_unicast_src",
    "delay_loop",
    "ha_suspend",
    "quorum",
    "quorum_up",
    "quorum_down",
    "hysteresis",
    "alpha",
    "omega",
    "retry",
    "delay_before_retry",
    "connect_timeout",
    "connect_port",
    "connect_ip",
    "bindto",
    "bind_port",
    "fwmark",
    "warmup",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "DNS_CHECK",
    "BFD_CHECK",
    "FILE_CHECK",
    "url",
    "path",
    "digest",
    "status_code",
    "host",
    "helo_name",
    "misc_path",
    "misc_timeout",
    "misc_dynamic",
    "virtualhost",
    "vrrp_script",
    "vrrp_track_process",
    "vrrp_track_file",
    "bfd_instance",
    "garp_group",
    "linkbeat_use_polling",
    "vrrp_notify_fifo",
    "notify_fifo",
    "lvs_notify_fifo",
    "vrrp_no_swap",
    "checker_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "init_fail",
    "user",
    "ops",
    "one_packet_scheduler",
    "ip_family",
    "lvs_method",
    "persistence_granularity",
    "persistence_engine",
    "virtualhost",
    "alpha",
    "retry",
    "smtp_helo_name",
    "router_id",
    "vrrp_startup_delay",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "dbus",
    "vrrp_min_garp",
    "lvs_sched",
    "nopreempt",
    "ip",
];

fn at_of(n: &Node, files: &[String]) -> At {
    At {
        file: files[n.word.file].clone(),
        line: n.word.line,
    }
}

fn kids(n: &Node) -> &[Node] {
    n.block.as_deref().unwrap_or(&[])
}

fn note_unknown(c: &mut Config, n: &Node, files: &[String], within: &str) {
    let k = n.word.text.as_str();
    if !KNOWN.contains(&k) && c.notes.len() < 256 {
        c.notes.push(format!(
            "{}: unknown keyword {} in {within}, skipped",
            at_of(n, files),
            crate::text::sanitize(k)
        ));
    }
}

fn ip_port(args: &[String]) -> Option<(IpAddr, Option<u16>)> {
    let ip = args.first()?.parse().ok()?;
    let port = args.get(1).and_then(|p| p.parse().ok());
    Some((ip, port))
}

/// `192.168.200.3-10`: the address and how many (last byte 3 to 10; for
/// IPv6 the last 16-bit group, in hex).
fn range(s: &str) -> Option<(IpAddr, u32)> {
    let Some((first, last)) = s.rsplit_once('-') else {
        return Some((s.parse().ok()?, 1));
    };
    let ip: IpAddr = first.parse().ok()?;
    let count = match ip {
        IpAddr::V4(a) => {
            let last: u8 = last.parse().ok()?;
            u32::from(last.checked_sub(a.octets()[3])?) + 1
        }
        IpAddr::V6(a) => {
            let last = u16::from_str_radix(last, 16).ok()?;
            u32::from(last.checked_sub(a.segments()[7])?) + 1
        }
    };
    Some((ip, count.min(MAX_RANGE)))
}

fn interpret(nodes: &[Node], files: &[String], c: &mut Config) {
    for n in nodes {
        let at = at_of(n, files);
        match n.word.text.as_str() {
            "global_defs" => {
                for g in kids(n) {
                    match g.word.text.as_str() {
                        "router_id" => {
                            c.router_id = g.args.first().map(|s| crate::text::sanitize(s))
                        }
                        "lvs_sync_daemon" => {
                            c.lvs_sync_daemon = Some(crate::text::sanitize(&g.args.join(" ")))
                        }
                        _ => note_unknown(c, g, files, "global_defs"),
                    }
                }
            }
            "virtual_server" => {
                let key = match n.args.first().map(String::as_str) {
                    Some("group") => n.args.get(1).map(|g| VsKey::Group(g.clone())),
                    Some("fwmark") => n
                        .args
                        .get(1)
                        .and_then(|m| m.parse().ok())
                        .map(VsKey::Fwmark),
                    _ => ip_port(&n.args).map(|(ip, port)| VsKey::Addr { ip, port }),
                };
                let Some(key) = key else {
                    c.notes.push(format!(
                        "{at}: virtual_server {} not understood, skipped",
                        crate::text::sanitize(&n.args.join(" "))
                    ));
                    continue;
                };
                let v = virtual_server(n, key, at, files, c);
                c.virtual_servers.push(v);
            }
            "virtual_server_group" => {
                let mut g = Group {
                    name: n.args.first().cloned().unwrap_or_default(),
                    members: Vec::new(),
                    at,
                };
                for m in kids(n) {
                    let a = &m.word.text;
                    if a == "fwmark" {
                        if let Some(v) = m.args.first().and_then(|v| v.parse().ok()) {
                            g.members.push(GroupMember::Fwmark(v));
                        }
                        continue;
                    }
                    match range(a) {
                        Some((first, count)) => g.members.push(GroupMember::Range {
                            first,
                            count,
                            port: m.args.first().and_then(|p| p.parse().ok()),
                        }),
                        None => c.notes.push(format!(
                            "{}: group member {} not understood, skipped",
                            at_of(m, files),
                            crate::text::sanitize(a)
                        )),
                    }
                }
                c.groups.push(g);
            }
            "vrrp_instance" => {
                let v = vrrp_instance(n, at, files, c);
                c.vrrp.push(v);
            }
            "vrrp_sync_group" => {
                let mut g = SyncGroup {
                    name: n.args.first().cloned().unwrap_or_default(),
                    instances: Vec::new(),
                    at,
                };
                for k in kids(n) {
                    if k.word.text == "group" {
                        for i in kids(k) {
                            g.instances.push(i.word.text.clone());
                            g.instances.extend(i.args.iter().cloned());
                        }
                    }
                }
                c.sync_groups.push(g);
            }
            _ => note_unknown(c, n, files, "the top level"),
        }
    }
}

fn virtual_server(n: &Node, key: VsKey, at: At, files: &[String], c: &mut Config) -> VirtualServer {
    let mut v = VirtualServer {
        key,
        protocol: None,
        lb_algo: None,
        lb_kind: None,
        persistence_timeout: None,
        inhibit_on_failure: false,
        sorry_server: None,
        real_servers: Vec::new(),
        at,
    };
    for k in kids(n) {
        let arg = k.args.first();
        match k.word.text.as_str() {
            "protocol" => v.protocol = arg.map(|p| Proto::from(p.to_ascii_lowercase())),
            "lb_algo" | "lvs_sched" => v.lb_algo = arg.cloned(),
            "lb_kind" | "lvs_method" => v.lb_kind = arg.map(|k| k.to_ascii_uppercase()),
            "persistence_timeout" => {
                // Without a value keepalived uses 360 s.
                v.persistence_timeout = Some(arg.and_then(|t| t.parse().ok()).unwrap_or(360))
            }
            "inhibit_on_failure" => v.inhibit_on_failure = true,
            "sorry_server" => v.sorry_server = ip_port(&k.args),
            "real_server" => {
                let Some((ip, port)) = ip_port(&k.args) else {
                    c.notes.push(format!(
                        "{}: real_server {} not understood, skipped",
                        at_of(k, files),
                        crate::text::sanitize(&k.args.join(" "))
                    ));
                    continue;
                };
                let mut r = RealServer {
                    ip,
                    port,
                    weight: 1,
                    inhibit_on_failure: v.inhibit_on_failure,
                    checkers: Vec::new(),
                    at: at_of(k, files),
                };
                for x in kids(k) {
                    match x.word.text.as_str() {
                        "weight" => {
                            if let Some(w) = x.args.first().and_then(|w| w.parse().ok()) {
                                r.weight = w;
                            }
                        }
                        "inhibit_on_failure" => r.inhibit_on_failure = true,
                        w if w.ends_with("_CHECK") || w == "HTTP_GET" || w == "SSL_GET" => {
                            r.checkers.push(w.to_string())
                        }
                        _ => note_unknown(c, x, files, "real_server"),
                    }
                }
                v.real_servers.push(r);
            }
            _ => note_unknown(c, k, files, "virtual_server"),
        }
    }
    // inhibit_on_failure given after the real servers applies to them too.
    if v.inhibit_on_failure {
        for r in &mut v.real_servers {
            r.inhibit_on_failure = true;
        }
    }
    v
}

fn vrrp_instance(n: &Node, at: At, files: &[String], c: &mut Config) -> VrrpInstance {
    let mut v = VrrpInstance {
        name: n.args.first().cloned().unwrap_or_default(),
        interface: None,
        vrid: None,
        priority: None,
        state: None,
        advert_int: None,
        version: None,
        auth_type: None,
        virtual_ipaddress: Vec::new(),
        unicast_peers: Vec::new(),
        nopreempt: false,
        at,
    };
    for k in kids(n) {
        let arg = k.args.first();
        match k.word.text.as_str() {
            "interface" => v.interface = arg.cloned(),
            "virtual_router_id" => v.vrid = arg.and_then(|x| x.parse().ok()),
            "priority" => v.priority = arg.and_then(|x| x.parse().ok()),
            "state" => v.state = arg.map(|s| s.to_ascii_uppercase()),
            "advert_int" => v.advert_int = arg.and_then(|x| x.parse().ok()),
            "version" => v.version = arg.and_then(|x| x.parse().ok()),
            "nopreempt" => v.nopreempt = true,
            "lvs_sync_daemon_interface" => {
                c.lvs_sync_daemon = Some(format!(
                    "{} {}",
                    crate::text::sanitize(arg.map_or("", |s| s)),
                    v.name
                ))
            }
            "authentication" => {
                for a in kids(k) {
                    if a.word.text == "auth_type" {
                        v.auth_type = a.args.first().cloned();
                    }
                }
            }
            "virtual_ipaddress" => {
                for a in kids(k) {
                    let addr = a.word.text.split('/').next().unwrap_or("");
                    match addr.parse() {
                        Ok(ip) => v.virtual_ipaddress.push(ip),
                        Err(_) => c.notes.push(format!(
                            "{}: virtual_ipaddress {} not understood, skipped",
                            at_of(a, files),
                            crate::text::sanitize(&a.word.text)
                        )),
                    }
                }
            }
            "unicast_peer" => {
                v.unicast_peers.extend(
                    kids(k)
                        .iter()
                        .filter_map(|p| p.word.text.parse::<IpAddr>().ok()),
                );
            }
            _ => note_unknown(c, k, files, "vrrp_instance"),
        }
    }
    v
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

fn first_is_v6(v: &VirtualServer) -> bool {
    v.real_servers.first().is_some_and(|r| r.ip.is_ipv6())
}

/// The `i`-th address from `first` (last byte / last group counted up).
fn nth(first: IpAddr, i: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(a) => {
            let o = a.octets();
            let last = u8::try_from(u32::from(o[3]) + i).ok()?;
            Some(IpAddr::from([o[0], o[1], o[2], last]))
        }
        IpAddr::V6(a) => {
            let mut g = a.segments();
            g[7] = u16::try_from(u32::from(g[7]) + i).ok()?;
            Some(IpAddr::from(g))
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
