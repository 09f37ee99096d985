# kube-masq-no-vs-conntrack: kube-healthy's node1 (kube-proxy IPVS mode:
# nat rules marking LB and NodePort traffic, KUBE-POSTROUTING masquerade),
# but net.ipv4.vs.conntrack=0 on node1 (set after kube-proxy, as a sysctl
# tuning would) and the pods reply "around the node": their default route is
# the router's leg on the pod network (198.51.100.126), as pods on another
# node would. IPVS drops the conntrack entry of each packet it forwards
# (ip_vs_notrack), so the masquerade rule has nothing to work on: the
# forwarded SYNs leave node1 with the client's address 203.0.113.10, the
# pods answer it directly via the router from 198.51.100.1X:8080, and the
# client resets those SYN-ACKs. Every LB and NodePort connection fails.
KUBE_POD_GW=198.51.100.126
step topology topo_kube
step kube-proxy kube_proxy node1 192.0.2.2
step vs-conntrack-off sysctl_ns node1 net.ipv4.vs.conntrack=0
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-lb traffic 9 9 client http://$KUBE_LB_IP/
step traffic-nodeport traffic 9 9 client http://192.0.2.2:$KUBE_NODE_PORT/
step capture-stop capture_stop
step collect kube_collect
