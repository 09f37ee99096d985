//! lvsdiag: tells an operator, from packets and from the live kernel, why a
//! Linux Virtual Server (LVS/IPVS) load balancer is not balancing.
//!
//! Data flows one way:
//!
//! ```text
//! source (pcap files, live) → decode (typed packet views) → flow (connections
//! across capture points, ARP claims, host roles) → checks (one per finding
//! code) → finding → report (text, JSON) / TUI
//!                      ▲
//!        model (services, real servers, modes: --vip, --ipvs, snapshots, inferred)
//!        system (host snapshots: IPVS, links, addresses, routes, sysctls;
//!                read live over netlink, or from `lvsdiag snapshot` JSON)
//! ```

pub mod analysis;
pub mod analyze;
pub mod capture;
pub mod checks;
pub mod decode;
pub mod drive;
pub mod engine;
pub mod export;
pub mod finding;
pub mod flow;
pub mod fuzzing;
pub mod generate;
pub mod model;
pub mod report;
pub mod session;
pub mod source;
pub mod system;
pub mod text;
pub mod timeline;
pub mod tui;
pub mod watch;
