//! The end of the pass: the model completed by inference, the checks'
//! conclusions, the report per service and real server, and the notes on
//! what the capture points could not see.

use super::*;

impl Engine {
    /// Ends the pass: retires all flows, completes the model, runs the checks.
    pub fn finish(self, points: Vec<PointInfo>) -> Analysis {
        self.finish_with(points, |_, _| {})
    }

    pub(super) fn finish_with(
        mut self,
        points: Vec<PointInfo>,
        mut also: impl FnMut(&Engine, &Context<'_>),
    ) -> Analysis {
        self.flows.drain(&mut self.retired);
        // Oldest first, as they would have ended: the newest are kept.
        self.retired
            .sort_unstable_by_key(|f| (f.first_ts, f.client, f.cport));
        self.process_retired(true);
        let mut notes = Vec::new();
        let model = self.complete_model(&points, &mut notes);

        let ctx = Context {
            model: &model,
            hosts: &self.hosts,
            shared: &self.shared,
            points: &points,
            snapshots: &self.snapshots,
        };
        let mut findings = Vec::new();
        for c in &mut self.checks {
            c.finish(&ctx, &mut findings);
        }
        checks::confirm(&mut findings);
        let seen = |svc: ServiceKey, rs: Option<RsId>| {
            let mut seen = checks::losses::Seen::default();
            for (va, c) in &self.services {
                if ctx.service(*va) == svc {
                    seen.reply_points.union(&c.reply_points);
                    seen.connections += c.stats.connections;
                    seen.failed += c.stats.failed;
                }
            }
            // The real server's own reply path, when its replies were seen.
            let mut own = crate::source::PointSet::default();
            for ((va, key), c) in &self.servers {
                if ctx.service(*va) == svc && rs.is_some() && rs == ctx.rs_id(*key) {
                    own.union(&c.reply_points);
                }
            }
            if !own.is_empty() {
                seen.reply_points = own;
            }
            seen
        };
        checks::losses::weigh(&mut findings, &points, &seen);
        checks::explain(&mut findings);
        // By severity, then as the report lists them: by label.
        findings.sort_by_cached_key(|f| {
            (
                std::cmp::Reverse(f.severity),
                f.service_label(),
                f.rs_label(),
                f.code,
            )
        });

        let real_servers = self.real_servers(&model, &ctx);
        let lossy: Vec<String> = points
            .iter()
            .filter(|p| !p.losses.is_empty())
            .map(|p| p.name.clone())
            .collect();
        let services = model
            .services
            .iter()
            .map(|s| {
                let mut stats = Stats::default();
                for (_, c) in self.services.iter().filter(|(va, _)| s.matches(**va)) {
                    stats.merge(&c.stats);
                }
                let (verdict, verdict_why) = verdict(s.key, &stats, &findings, &lossy);
                SvcReport {
                    stats,
                    service: s.clone(),
                    verdict,
                    verdict_why,
                }
            })
            .collect();
        self.visibility_notes(&model, &points, &mut notes);
        let snapshots = self
            .snapshots
            .iter()
            .map(|s| {
                let pts = points
                    .iter()
                    .filter(|p| {
                        p.name == s.host
                            || p.name
                                .strip_prefix(s.host.as_str())
                                .is_some_and(|r| r.starts_with('-'))
                    })
                    .map(|p| p.name.clone())
                    .collect();
                (s.host.clone(), pts)
            })
            .collect();
        let (events, timeline) = self.timeline(&model, &ctx, &findings);
        also(&self, &ctx);
        Analysis {
            points,
            services,
            real_servers,
            findings,
            notes,
            packets: self.packets,
            flows: self.flows.stats,
            snapshots,
            vrrp: self.hosts.vrrp.clone(),
            keepalived: model.keepalived.clone(),
            events,
            timeline,
        }
    }

    /// The per-real-server series (a MAC-keyed one joined to its RIP's)
    /// and the events: failovers, VRRP master changes, real servers
    /// appearing and vanishing, failure bursts, the findings' moments.
    pub(super) fn timeline(
        &self,
        model: &Model,
        ctx: &Context<'_>,
        findings: &[crate::finding::Finding],
    ) -> (Vec<crate::timeline::Event>, Vec<crate::timeline::RsSeries>) {
        use crate::timeline::{self, Event, EventKind, RsSeries};
        let mut series: Vec<RsSeries> = Vec::new();
        for ((va, key), c) in &self.servers {
            let Some(svc) = model.find(*va) else { continue };
            let id = ctx.rs_id(*key);
            match series
                .iter_mut()
                .find(|s| s.service == svc.key && s.real_server == id)
            {
                Some(s) => s.series.merge(&c.series),
                None => series.push(RsSeries {
                    service: svc.key,
                    real_server: id,
                    series: c.series.clone(),
                }),
            }
        }
        series.sort_by_cached_key(|s| (s.service.to_string(), s.real_server));
        let mut events = timeline::series_events(&series, |s| {
            s.real_server
                .map_or_else(|| "an unseen real server".into(), |r| r.to_string())
        });
        // The VIPs' owners changing (failovers; conflicts too).
        let mut vips = Vec::new();
        for s in &model.services {
            let Some(vip) = s.key.vip() else { continue };
            if vips.contains(&vip) {
                continue;
            }
            vips.push(vip);
            let Some(c) = self.hosts.neigh.claims(vip) else {
                continue;
            };
            for (i, cl) in c.by_mac.iter().enumerate().skip(1) {
                let prev = &c.by_mac[i - 1];
                events.push(Event {
                    time: cl.first.time,
                    kind: EventKind::VipOwner,
                    what: format!(
                        "VIP {vip} claimed by {} (before: {})",
                        ctx.describe_mac(cl.mac),
                        ctx.describe_mac(prev.mac)
                    ),
                    service: Some(s.key),
                    real_server: None,
                    code: None,
                    evidence: Some(cl.first),
                    about: Some(timeline::About {
                        subject: format!("VIP {vip}"),
                        actor: ctx.describe_mac(cl.mac),
                    }),
                });
            }
        }
        // VRRP masters.
        for x in self.hosts.vrrp.vrids.values() {
            for p in x.periods.iter().skip(1) {
                let r = &x.routers[p.router];
                events.push(Event {
                    time: p.from.time,
                    kind: EventKind::VrrpMaster,
                    what: format!("VRRP {}: {} master (priority {})", x.key, r.ip, p.priority),
                    service: None,
                    real_server: None,
                    code: None,
                    evidence: Some(p.from),
                    about: Some(timeline::About {
                        subject: format!("VRRP {}", x.key),
                        actor: r.ip.to_string(),
                    }),
                });
            }
        }
        events.extend(timeline::finding_events(findings));
        (timeline::finish(events), series)
    }

    /// Adds services seen in the traffic to the given model: those the
    /// director visibly forwards, and, when none is visible, the most used
    /// destinations (mode unknown).
    pub(super) fn complete_model(&self, points: &[PointInfo], notes: &mut Vec<String>) -> Model {
        let mut model = self.model.clone();
        let pname = |e: &Evidence| {
            points
                .get(usize::from(e.point))
                .map_or("?".to_string(), |p| p.name.clone())
        };
        for s in &mut model.services {
            if s.mode.is_none() {
                let seen = self
                    .services
                    .iter()
                    .filter(|(va, _)| s.matches(**va))
                    .find_map(|(_, c)| c.modes.keys().next().copied());
                s.mode = seen.or(self.opts.mode);
            }
        }
        let mut unexplained = Vec::new();
        for (va, c) in &self.services {
            if model.find(*va).is_some() {
                continue;
            }
            // Forwarded to a firewall-mark service's real servers: its traffic.
            if let (Some(i), Some((_, (n, e)))) =
                (self.fwmark_owner(&model, *va), c.modes.iter().next())
            {
                model.services[i].cover(Cover {
                    proto: Some(va.proto),
                    vip: va.ip,
                    port: Some(va.port),
                    from: format!(
                        "inferred: {n} {} forwarded to its real servers, first at {} frame {}",
                        checks::words(va.proto).flows,
                        pname(e),
                        e.frame
                    ),
                });
                continue;
            }
            if let Some((mode, (n, e))) = c.modes.iter().max_by_key(|(_, (n, _))| *n) {
                let how = match mode {
                    Mode::Dr => "same IP packet re-sent to another MAC",
                    Mode::Nat => "destination rewritten to a real server",
                    Mode::Tun => "encapsulated (IP-in-IP, GUE or GRE) to a real server",
                };
                let mut s = Service::new(
                    va.key(),
                    Origin::Inferred(format!(
                        "{mode} forwarding seen in {n} {} ({how}), first at {} frame {}",
                        checks::words(va.proto).flows,
                        pname(e),
                        e.frame
                    )),
                );
                s.mode = Some(*mode);
                model.add(s);
            } else if !(self.is_backend(va.ip)
                || va.proto == Proto::Udp && LAN_UDP.contains(&va.port))
            {
                unexplained.push((*va, c));
            }
        }
        if model.services.is_empty() {
            unexplained.sort_by_key(|(_, c)| std::cmp::Reverse(c.stats.connections));
            for (va, c) in unexplained.into_iter().take(3) {
                let e = c.first.expect("flow has an opening packet");
                let w = checks::words(va.proto);
                let first = if va.proto == Proto::Tcp {
                    "SYN"
                } else {
                    "datagram"
                };
                let mut s = Service::new(
                    va.key(),
                    Origin::Inferred(format!(
                        "{} {} to it, first {first} at {} frame {}; no capture point shows a director forwarding them, so the mode is unknown",
                        c.stats.connections,
                        w.flows,
                        pname(&e),
                        e.frame
                    )),
                );
                s.mode = self.opts.mode;
                model.add(s);
            }
        } else {
            // Failed connections to a destination no director was seen
            // forwarding (a director that forwards nothing for it, or not
            // a service at all): said, not dropped silently.
            unexplained.sort_by_key(|(va, _)| *va);
            for (va, c) in unexplained
                .iter()
                .filter(|(_, c)| c.stats.failed > 0)
                .take(3)
            {
                notes.push(format!(
                    "{} of {} {} to {} failed and no capture point shows a director forwarding them: give --vip {} (or the director's snapshot) if it is a virtual service, to have them judged.",
                    c.stats.failed,
                    c.stats.connections,
                    checks::words(va.proto).flows,
                    va.key(),
                    va.key()
                ));
            }
        }
        if model.services.is_empty() && !points.is_empty() {
            notes.push("No connections through a VIP were found: no TCP handshakes or UDP exchanges in these captures. Give --vip ADDR:PORT or --ipvs FILE if the service is there.".into());
        }
        model
    }

    /// The firewall-mark service whose real servers got every connection to
    /// `va` that shows its real server.
    pub(super) fn fwmark_owner(&self, model: &Model, va: Vaddr) -> Option<usize> {
        let rips: Vec<IpAddr> = self
            .servers
            .keys()
            .filter(|(v, _)| *v == va)
            .filter_map(|(_, k)| match k {
                RsKey::Ip(ip) => Some(*ip),
                RsKey::Mac(m) => self.hosts.ip_of(
                    *m,
                    |ip| model.is_vip(ip),
                    |ip| model.real_server(ip).is_some(),
                ),
                RsKey::Unseen => None,
            })
            .collect();
        if rips.is_empty() {
            return None;
        }
        model.services.iter().position(|s| {
            matches!(s.key, ServiceKey::Fwmark { .. })
                && rips
                    .iter()
                    .all(|ip| s.real_servers.iter().any(|r| r.addr == *ip))
        })
    }

    /// A destination that is a real server (health checks, NAT back-end leg).
    pub(super) fn is_backend(&self, ip: IpAddr) -> bool {
        self.model.real_server(ip).is_some()
            || self.hosts.rips.contains_key(&ip)
            || self.hosts.macs.iter().any(|(m, r)| {
                r.received > 0
                    && self
                        .hosts
                        .neigh
                        .claims(ip)
                        .is_some_and(|c| c.by_mac.iter().any(|c| c.mac == *m))
            })
    }

    pub(super) fn real_servers(&self, model: &Model, ctx: &Context<'_>) -> Vec<RsReport> {
        let mut out: Vec<RsReport> = Vec::new();
        for ((va, key), c) in &self.servers {
            let Some(svc) = model.find(*va) else {
                continue;
            };
            let ip = ctx.rs_id(*key).and_then(RsId::ip);
            let label = svc.key;
            // Merge a MAC-keyed entry into the IP-keyed one once the MAC's IP is known.
            if let Some(existing) = out
                .iter_mut()
                .find(|r| r.service == label && ip.is_some() && r.ip == ip)
            {
                existing.stats.merge(&c.stats);
                existing.mac = existing.mac.or(c.mac);
                continue;
            }
            let weight = ip
                .and_then(|ip| svc.real_servers.iter().find(|r| r.addr == ip))
                .map(|r| r.weight);
            out.push(RsReport {
                service: label,
                ip,
                mac: c.mac,
                port: c.port,
                mode: c.mode,
                weight,
                stats: c.stats,
            });
        }
        // Configured real servers that saw no traffic.
        for s in &model.services {
            for r in &s.real_servers {
                let label = s.key;
                if !out
                    .iter()
                    .any(|o| o.service == label && o.ip == Some(r.addr))
                {
                    out.push(RsReport {
                        service: label,
                        ip: Some(r.addr),
                        mac: None,
                        port: r.port,
                        mode: Some(r.mode),
                        weight: Some(r.weight),
                        stats: Stats::default(),
                    });
                }
            }
        }
        out.sort_by_cached_key(|r| (r.service.to_string(), r.ip, r.mac));
        out
    }

    pub(super) fn visibility_notes(
        &self,
        model: &Model,
        points: &[PointInfo],
        notes: &mut Vec<String>,
    ) {
        if points.is_empty() {
            return; // a live configuration check: no captures to describe
        }
        for p in points
            .iter()
            .filter(|p| !p.link_type.has_dst_mac() && p.packets > 0)
        {
            notes.push(format!(
                "{} is a {} capture, which carries no destination MACs: at this point DR forwarding, traffic bypassing the director and the reply path cannot be seen. Capture on the interface itself (tcpdump -i eth0), not with -i any.",
                p.name,
                p.link_type.name()
            ));
        }
        let any_forward = self.services.values().any(|c| !c.modes.is_empty());
        if !model.services.is_empty() && !any_forward {
            notes.push("No capture point shows the director forwarding a connection, so which real server each connection went to is unknown. Add a capture on the director's interfaces.".into());
        }
        for s in &model.services {
            let (mut connections, mut replies) = (0, 0);
            for (_, c) in self.services.iter().filter(|(va, _)| s.matches(**va)) {
                connections += c.stats.connections;
                replies += c.replies;
            }
            if s.mode == Some(Mode::Dr) && connections > 0 && replies == 0 {
                notes.push(format!(
                    "No capture point shows {}'s replies (in DR they go from the real servers straight to the gateway): the return path is not checked, and a real server counts as failing only when its clients never complete the handshake. Capture on the gateway or the real servers to see it.",
                    s.label()
                ));
            }
        }
        for vip in model.services.iter().filter_map(|s| s.key.vip()) {
            if self.hosts.neigh.claims(vip).is_none() {
                notes.push(format!(
                    "No ARP for VIP {vip} was captured: who answers ARP for it cannot be checked. Capture while the gateway re-resolves it (ip neigh del {vip} dev <iface> on the gateway).",
                ));
                break;
            }
        }
        if self.flows.stats.evicted > 0 {
            notes.push(format!(
                "The flow table was full: {} connection(s) were concluded early (evicted); raise --max-flows for exact counts.",
                self.flows.stats.evicted
            ));
        }
        if self.hosts.neigh.dropped > 0 {
            notes.push(format!(
                "{} ARP claim(s) were not tracked (neighbour table full).",
                self.hosts.neigh.dropped
            ));
        }
        for p in points.iter().filter(|p| !p.losses.is_empty()) {
            let (n, mut causes) = crate::source::sum_losses(&p.losses);
            causes.sort();
            notes.push(format!(
                "{} lost {} ({}): what is not seen there is no proof that it did not happen; each finding that rests on an absence says whether these drops could explain it.",
                p.name,
                n.map_or("packets (its capture ended early)".to_string(), |n| format!("{n} packet(s)")),
                causes.join(", ")
            ));
        }
        for p in points {
            if let Some(e) = &p.error {
                notes.push(e.clone());
            }
            if p.undecodable > 0 {
                notes.push(format!("{}: {} frame(s) could not be decoded (truncated or malformed) and were skipped.", p.name, p.undecodable));
            }
        }
    }
}
