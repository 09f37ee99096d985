//! Losses weigh on findings that rest on an absence. A capture point that
//! dropped packets (kernel, interface, lvsdiag itself, recorded in the file,
//! or a capture that ended early) while the affected connections were open
//! cannot prove that a reply or a forwarded copy never came. Such a finding
//! stands when a point that saw the affected connections *and* sees this
//! service's replies lost nothing meanwhile, or when the losses are too few
//! to explain it (fewer dropped packets than failed connections). Otherwise
//! it is lowered one step and says why. Every such finding names the losses.

use crate::finding::{Finding, Severity};
use crate::model::{RsId, ServiceKey};
use crate::source::{sum_losses, PointInfo, PointSet};

/// Lost packets may belong to connections up to this long after the last
/// affected one began (a SYN-ACK, retransmitted SYNs).
const AFTER_NS: i64 = 5_000_000_000;
/// ... and from this long before the first.
const BEFORE_NS: i64 = 1_000_000_000;

/// What the captures showed of a service, for weighing.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The points that saw replies of its connections: to the finding's
    /// real server when it names one and its replies were seen, else to any.
    pub reply_points: PointSet,
    pub connections: u64,
    pub failed: u64,
}

/// `seen_of(service, real server)`: what the captures showed of that service.
pub fn weigh(
    findings: &mut [Finding],
    points: &[PointInfo],
    seen_of: &dyn Fn(ServiceKey, Option<RsId>) -> Seen,
) {
    if points.iter().all(|p| p.losses.is_empty()) {
        return;
    }
    for f in findings.iter_mut() {
        if !f.absence || f.severity < Severity::Warning || f.confirmed_by.is_some() {
            continue;
        }
        let (from, to) = f.span.map_or((i64::MIN, i64::MAX), |(a, b)| {
            (a.saturating_sub(BEFORE_NS), b.saturating_add(AFTER_NS))
        });
        let mut seen = PointSet::default();
        for e in &f.evidence {
            seen.insert(e.point);
        }
        let svc = f
            .service
            .map(|s| seen_of(s, f.real_server))
            .unwrap_or_default();
        let replies = &svc.reply_points;
        // Where the missing packets would have shown; unknown: every point.
        let mut either = seen.clone();
        either.union(replies);
        let relevant = |i: usize| either.is_empty() || either.contains(i as u16);
        let mut lossy = Vec::new();
        let mut total: Option<u64> = Some(0);
        for (i, p) in points.iter().enumerate().filter(|(i, _)| relevant(*i)) {
            let (n, causes) = sum_losses(p.losses.iter().filter(|l| l.overlaps(from, to)));
            if causes.is_empty() {
                continue;
            }
            total = total.zip(n).map(|(a, b)| a.saturating_add(b));
            lossy.push((i, n, causes));
        }
        if lossy.is_empty() {
            continue;
        }
        let named: Vec<String> = lossy
            .iter()
            .map(|(i, n, causes)| {
                let name = &points[*i].name;
                match n {
                    Some(n) => format!("{name} dropped {n} packet(s) ({})", causes.join(", ")),
                    None => format!("{name}'s capture ended early"),
                }
            })
            .collect();
        let named = named.join("; ");
        // A point on both sides (saw the affected connections, sees replies)
        // that lost nothing meanwhile proves the absence.
        let witness = points.iter().enumerate().find(|(i, _)| {
            let p = *i as u16;
            seen.contains(p) && replies.contains(p) && !lossy.iter().any(|(j, _, _)| j == i)
        });
        let affected = f.affected.max(1);
        // Drops hit every real server's connections alike: one that fails
        // far more often than the others of its service is not their doing
        // (the chance of its failures at the others' rate is under 1%).
        let (others, others_failed) = (
            svc.connections.saturating_sub(f.out_of),
            svc.failed.saturating_sub(f.affected),
        );
        let pattern = others >= 4
            && f.out_of > 0
            && unlikely(
                f.affected,
                f.out_of,
                (others_failed as f64 + 0.5) / (others as f64 + 1.0),
            );
        f.losses = Some(if let Some((_, w)) = witness {
            format!(
                "{named} while these connections were open; {} lost nothing and shows the same, so the drops do not explain it.",
                w.name
            )
        } else if total.is_some_and(|t| t < affected) {
            format!(
                "{named} while these connections were open: too few to explain {affected} connection(s)."
            )
        } else if pattern {
            format!(
                "{named} while these connections were open; but {} of {} connection(s) to this real server failed against {others_failed} of {others} to the others of the service, and drops would hit them alike.",
                f.affected, f.out_of
            )
        } else {
            f.severity = match f.severity {
                Severity::Error => Severity::Warning,
                _ => Severity::Info,
            };
            f.weakened = true;
            format!(
                "{named} while these connections were open: the missing packets may be among them, so this is not proven (lowered one step). Capture again with a larger buffer (-B KiB), a capture filter (-f), or where the replies pass without drops."
            )
        });
    }
}

/// Whether `k` or more of `n` failing is under 1% likely when each fails
/// with probability `p` (Chernoff: P <= exp(-n KL(k/n || p)), an upper
/// bound, so this errs towards "could be chance").
fn unlikely(k: u64, n: u64, p: f64) -> bool {
    let a = k as f64 / n as f64;
    if a <= p || p <= 0.0 {
        return p <= 0.0 && k > 0;
    }
    let kl = |x: f64, y: f64| if x <= 0.0 { 0.0 } else { x * (x / y).ln() };
    let d = kl(a, p) + kl(1.0 - a, 1.0 - p);
    n as f64 * d >= 100f64.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LinkType;
    use crate::finding::Evidence;
    use crate::source::{Loss, LossCause};

    fn point(name: &str, losses: Vec<Loss>) -> PointInfo {
        PointInfo {
            name: name.into(),
            path: None,
            link_type: LinkType::Ethernet,
            packets: 100,
            undecodable: 0,
            error: None,
            live: None,
            losses,
        }
    }

    fn loss(from: i64, to: i64, n: u64) -> Loss {
        Loss {
            from,
            to,
            packets: Some(n),
            cause: LossCause::Kernel,
        }
    }

    fn no_reply(points: &[u16], affected: u64) -> Finding {
        let mut f = Finding::new("dr-rs-no-reply", Severity::Error, "x")
            .service(ServiceKey::addr(
                crate::model::Proto::Tcp,
                "192.0.2.100".parse().unwrap(),
                Some(80),
            ))
            .real_server(RsId::Ip("192.0.2.13".parse().unwrap()))
            .affected(affected)
            .absence()
            .evidence(points.iter().map(|&p| Evidence {
                point: p,
                frame: 1,
                time: 10_000_000_000,
            }));
        f.span = Some((10_000_000_000, 20_000_000_000));
        f
    }

    fn set(bits: u64) -> PointSet {
        let mut s = PointSet::default();
        for i in 0..64 {
            if bits & (1 << i) != 0 {
                s.insert(i);
            }
        }
        s
    }

    fn weighed(mut f: Finding, points: &[PointInfo], replies: u64) -> Finding {
        let seen = Seen {
            reply_points: set(replies),
            ..Seen::default()
        };
        weigh(std::slice::from_mut(&mut f), points, &|_, _| seen.clone());
        f
    }

    #[test]
    fn drops_that_can_explain_it_lower_it() {
        let pts = [point(
            "mirror",
            vec![loss(12_000_000_000, 13_000_000_000, 500)],
        )];
        let f = weighed(no_reply(&[0], 40), &pts, 0b1);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.weakened);
        assert!(f
            .losses
            .unwrap()
            .contains("mirror dropped 500 packet(s) (kernel)"));
    }

    #[test]
    fn too_few_drops_leave_it_standing_and_say_so() {
        let pts = [point(
            "mirror",
            vec![loss(12_000_000_000, 13_000_000_000, 3)],
        )];
        let f = weighed(no_reply(&[0], 40), &pts, 0b1);
        assert_eq!(f.severity, Severity::Error);
        assert!(f.losses.unwrap().contains("too few to explain 40"));
    }

    #[test]
    fn a_point_without_drops_on_the_reply_path_proves_it() {
        let pts = [
            point("director", vec![loss(12_000_000_000, 13_000_000_000, 9999)]),
            point("rs3", vec![]),
        ];
        let f = weighed(no_reply(&[0, 1], 40), &pts, 0b10);
        assert_eq!(f.severity, Severity::Error);
        assert!(f.losses.unwrap().contains("rs3 lost nothing"));
    }

    #[test]
    fn drops_outside_the_connections_time_or_path_do_not_count() {
        let pts = [
            point("mirror", vec![loss(40_000_000_000, 41_000_000_000, 9999)]),
            point(
                "elsewhere",
                vec![loss(12_000_000_000, 13_000_000_000, 9999)],
            ),
        ];
        let f = weighed(no_reply(&[0], 40), &pts, 0b1);
        assert_eq!(f.severity, Severity::Error);
        assert!(f.losses.is_none());
    }

    #[test]
    fn one_real_server_failing_alone_is_not_the_drops() {
        let pts = [point(
            "mirror",
            vec![loss(12_000_000_000, 13_000_000_000, 500)],
        )];
        let mut f = no_reply(&[0], 8);
        f.out_of = 8;
        let run = |f: &Finding, failed_elsewhere: u64| {
            let mut f = f.clone();
            let seen = Seen {
                reply_points: set(1),
                connections: 24,
                failed: 8 + failed_elsewhere,
            };
            weigh(std::slice::from_mut(&mut f), &pts, &|_, _| seen.clone());
            f
        };
        let alone = run(&f, 3);
        assert_eq!(alone.severity, Severity::Error);
        assert!(alone
            .losses
            .unwrap()
            .contains("8 of 8 connection(s) to this real server failed against 3 of 16"));
        // When the others fail about as often, the drops may be the cause.
        assert_eq!(run(&f, 10).severity, Severity::Warning);
        assert_eq!(
            run(&f, 9).severity,
            Severity::Error,
            "8 of 8 against 9 of 16: 1%"
        );
        f.out_of = 3;
        f.affected = 3;
        assert_eq!(run(&f, 0).severity, Severity::Warning, "too few to tell");
    }

    #[test]
    fn chance_is_judged_by_the_binomial_tail() {
        assert!(unlikely(8, 8, 0.25));
        assert!(!unlikely(2, 8, 0.25));
        assert!(!unlikely(1, 1, 0.03), "one failure proves nothing");
        assert!(unlikely(30, 100, 0.1));
        assert!(!unlikely(12, 100, 0.1));
    }

    #[test]
    fn an_early_end_explains_anything_after_it() {
        let pts = [point("rs3", vec![Loss::ended(15_000_000_000)])];
        let f = weighed(no_reply(&[0], 1000), &pts, 0b1);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.losses.unwrap().contains("rs3's capture ended early"));
    }

    #[test]
    fn presence_findings_and_confirmed_ones_are_untouched() {
        let pts = [point("mirror", vec![loss(0, i64::MAX, 9999)])];
        let mut seen = no_reply(&[0], 1);
        seen.absence = false;
        assert_eq!(weighed(seen, &pts, 1).severity, Severity::Error);
        let mut confirmed = no_reply(&[0], 1);
        confirmed.confirmed_by = Some("rs-vip-not-on-loopback");
        assert_eq!(weighed(confirmed, &pts, 1).severity, Severity::Error);
    }
}
