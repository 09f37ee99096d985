# kube-conn-reuse: kube-proxy IPVS mode on kernel 6.1 (conn_reuse_mode left
# at 1, vs.conntrack=1, as kube-proxy leaves them on kernels >= 5.9). The
# client pod cpod (198.51.100.130, no masquerade) connects to the ClusterIP
# 198.51.100.200:80 again and again from ONE source port (40000), 0.5 s
# after the previous connection ended; the client never closes first (it
# holds its side open 3 s, longer than the exchange). The pods answer a line
# and then abort the connection with a RST (no FIN: the request is left
# unread, SO_LINGER 0). The reset leaves IPVS's entry in CLOSE and node1's conntrack entry in
# CLOSE without CLOSE_INIT; the next SYN on the same tuple is "ignored" by
# conntrack (the old, confirmed entry stays attached) and IPVS's
# conn_reuse_mode code drops it (old conntrack that cannot be redirected):
# the client's SYN retransmission 1 s later gets through (rescheduled). Four
# connections from new ports first show the normal case.
WITH_CPOD=1
KUBE_NO_HTTPD=1
reset_pods() { for _r in rs1 rs2 rs3; do reset_server_start $_r $KUBE_POD_PORT; done; }
step topology topo_kube
step reset-pods reset_pods
step kube-proxy kube_proxy node1 192.0.2.2
step reuse-mode-1 eval '[ "$(nsx node1 cat /proc/sys/net/ipv4/vs/conn_reuse_mode)" = 1 ]'
step capture-start capture_start
step neigh-flush neigh_flush_all
step new-ports kube_reuse_traffic cpod $KUBE_CLUSTER_IP:80 4
step same-port kube_reuse_traffic cpod $KUBE_CLUSTER_IP:80 8 40000 0.5
step capture-stop capture_stop
step collect kube_collect
