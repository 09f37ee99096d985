# kube-conntrack-full: kube-proxy IPVS mode (as kube-healthy, without the
# client pod; the pods run socat echo servers on 8080 instead of httpd), but
# node1's conntrack table is nearly full: nf_conntrack_max (global, set in
# the VM's root namespace; the count is per namespace, and only node1 tracks
# connections) is 26, and 20 long-lived established connections through
# node1 (client -> LB 192.0.2.100:80, idle for 24 s) hold 20 entries, all
# ASSURED, so none can be early-dropped. Then 12 short connections to the
# LB IP, 4 at a time: the first ones take the 6 free entries (their
# TIME_WAIT entries then stay), after that every new SYN finds the table
# full and no entry to evict: conntrack drops it in node1's PREROUTING
# before IPVS sees it ("nf_conntrack: table full, dropping packet"), no
# reset, no ICMP; the client retransmits at +1 s and +3 s.
LONG_PORT=80
LONG_IDLE=24
LONG_TAIL=1
KUBE_NO_HTTPD=1
echo_pods() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r $KUBE_POD_PORT; done; }
conntrack_state() {
	{
		echo "### $1"
		echo "net.netfilter.nf_conntrack_max = $(cat /proc/sys/net/netfilter/nf_conntrack_max)"
		echo "node1 net.netfilter.nf_conntrack_count = $(nsx node1 cat /proc/sys/net/netfilter/nf_conntrack_count)"
		nsx node1 cat /proc/net/stat/nf_conntrack
	} >> "$OUT/conntrack.txt"
}
kernel_log() { dmesg | grep -i conntrack > "$OUT/dmesg-conntrack.txt" || true; }
step topology topo_kube
step echo-pods echo_pods
step kube-proxy kube_proxy node1 192.0.2.2
step conntrack-max sysctl -qw net.netfilter.nf_conntrack_max=26
step capture-start capture_start
step neigh-flush neigh_flush_all
step long-start long_start 20
step long-established sleep 3
step conntrack-before conntrack_state "after the 20 long connections"
step short-traffic tcp_traffic 12 4 80
step conntrack-after conntrack_state "after the short connections"
step long-wait long_wait
step capture-stop capture_stop
step kernel-log kernel_log
step collect kube_collect
