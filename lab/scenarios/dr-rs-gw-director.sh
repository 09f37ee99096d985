# dr-rs-gw-director: rs2's default route points at the director (192.0.2.2)
# instead of the router; the director forwards (ip_forward=1) the replies.
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step rs2-gw-director nsx rs2 ip route replace default via $DIRECTOR_IP
# replies are sourced from the VIP, which is local on the director: accept_local
# lets it forward them; no ICMP redirects (a common LVS director setting) so the
# fault stays in place for the whole capture
step director-forwarding sysctl_ns director net.ipv4.ip_forward=1 \
	net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 \
	net.ipv4.conf.all.accept_local=1 net.ipv4.conf.eth0.accept_local=1
step ipvs ipvs_dr
standard_run
