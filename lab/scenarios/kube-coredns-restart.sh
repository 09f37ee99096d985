# kube-coredns-restart: a "CoreDNS" ClusterIP service in kube-proxy IPVS
# mode: UDP 198.51.100.200:53 -> pods 198.51.100.11-13:5353 (-m, rr; socat
# answers naming the pod). The client pod cpod (198.51.100.130, inside the
# cluster CIDR: no masquerade) asks from one fixed source port 5300 (as a
# resolver keeping its socket), plus single queries from new ports. The
# fixed-port flow is scheduled to rs2. Midway rs2's pod terminates: its
# destination goes to weight 0 (kube-proxy's GracefulDeleteRS: ipvsadm -e
# ... -w 0) and its DNS server dies (nothing listens on 5353: rs2 answers
# ICMP port unreachable; its ICMP rate limit is off so every query is
# answered). IPVS keeps the fixed-port flow's entry (every query refreshes
# it; expire_nodest_conn only acts on removed destinations and on new TCP
# connections), so those queries keep going to the dead pod and fail, while
# the new-port queries go to rs1/rs3 and succeed.
WITH_CPOD=1
KUBE_NO_HTTPD=1
DNS_SVC=$KUBE_CLUSTER_IP:53
dns_pods() { for _r in rs1 rs2 rs3; do udp_server_start $_r 5353; done; }
dns_ipvs() {
	IPVS_PROTO=-u
	ipvs_setup node1 -m rr $DNS_SVC 198.51.100.11:5353 198.51.100.12:5353 198.51.100.13:5353
	IPVS_PROTO=-t
}
pinned_on_rs2() {
	nsx node1 ipvsadm -Lnc > "$OUT/ipvsadm-conn-before-restart.txt"
	grep -q '198.51.100.130:5300 *198.51.100.200:53 *198.51.100.12:5353' "$OUT/ipvsadm-conn-before-restart.txt"
}
phase2() {
	kube_udp_traffic cpod $DNS_SVC 8 1 5300 0.3 &
	_pp=$!
	sleep 0.2
	kube_udp_traffic cpod $DNS_SVC 20 2
	wait $_pp
}
step topology topo_kube
step kube-sysctls kube_sysctls node1
step kube-ipvs0 kube_ipvs0 node1
step kube-nft kube_nft node1
step dns-pods dns_pods
step rs2-icmp-ratelimit-off sysctl_ns rs2 net.ipv4.icmp_ratelimit=0
step ipvs-dns dns_ipvs
step capture-start capture_start
step neigh-flush neigh_flush_all
step warmup kube_udp_traffic cpod $DNS_SVC 1 1
step pinned-before kube_udp_traffic cpod $DNS_SVC 5 1 5300 0.3
step pinned-on-rs2 pinned_on_rs2
step rs2-weight-0 nsx node1 ipvsadm -e -u $DNS_SVC -r 198.51.100.12:5353 -m -w 0
step rs2-dns-dies ns_kill rs2 socat
step after-restart phase2
step capture-stop capture_stop
step collect kube_collect
