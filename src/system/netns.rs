//! Entering a network namespace to read it: `setns(CLONE_NEWNET)` on a
//! dedicated thread, so the caller's namespace never changes. In that thread
//! `/proc/thread-self/net` and `/proc/sys/net` show the entered namespace.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

const NETNS_DIRS: &[&str] = &["/var/run/netns", "/run/netns"];

/// The named namespaces (`ip netns list`), sorted.
pub fn list() -> Vec<String> {
    NETNS_DIRS
        .iter()
        .find_map(|d| super::dir_names(std::path::Path::new(d)))
        .unwrap_or_default()
}

fn path_of(name: &str) -> Result<PathBuf, String> {
    let shown = crate::text::sanitize(name);
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "--netns {shown}: not a namespace name; list them with ip netns list"
        ));
    }
    NETNS_DIRS
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!("--netns {shown}: no such network namespace (/var/run/netns/{shown}); list them with ip netns list")
        })
}

/// Runs `f` on a thread that entered network namespace `name`.
pub fn run_in<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = path_of(name)?;
    let shown = crate::text::sanitize(name);
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("--netns {shown}: cannot open {}: {e}", path.display()))?;
    let handle = std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a valid namespace fd.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    });
    match handle.join() {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.raw_os_error() == Some(libc::EPERM) => Err(format!(
            "--netns {shown}: entering a network namespace needs CAP_SYS_ADMIN; run as root"
        )),
        Ok(Err(e)) => Err(format!("--netns {shown}: cannot enter: {e}")),
        Err(_) => Err(format!("--netns {shown}: reading the namespace failed")),
    }
}
