//! A network namespace of veth pairs for the live tests: no addresses,
//! no routes, IPv6 off, so that nothing replayed into it goes anywhere else.

use std::process::Command;

pub fn sh(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("runs");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A namespace with `n` veth pairs `aI` (replay side) / `bI` (capture
/// side); removed on drop.
pub struct Netns(&'static str);

impl Netns {
    pub fn new(name: &'static str, n: usize) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        let ns = Netns(name);
        // No IPv6 on the pairs: the namespace must send nothing of its own.
        sh(&[
            "ip",
            "netns",
            "exec",
            name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        for i in 0..n {
            let (a, b) = (format!("a{i}"), format!("b{i}"));
            sh(&[
                "ip", "-n", name, "link", "add", &a, "mtu", "9000", "type", "veth", "peer", "name",
                &b, "mtu", "9000",
            ]);
            sh(&["ip", "-n", name, "link", "set", &a, "up"]);
            sh(&["ip", "-n", name, "link", "set", &b, "up"]);
        }
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", self.0]).output();
    }
}

/// Sends a capture file out of veth `a{i}` of namespace `ns` at its
/// captured speed (tcpreplay, preloaded).
pub fn replay(ns: &str, i: usize, file: &std::path::Path) -> std::process::Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "tcpreplay",
            "-q",
            "-K",
            "-i",
            &format!("a{i}"),
        ])
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpreplay starts")
}
