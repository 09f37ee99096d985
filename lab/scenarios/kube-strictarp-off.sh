# kube-strictarp-off: two Kubernetes nodes in kube-proxy IPVS mode with
# strictARP false (kube-proxy's default): node1 (192.0.2.2) and node2
# (192.0.2.3, also on the pod network as 198.51.100.2) both hold the
# LoadBalancer IP 192.0.2.100/32 on kube-ipvs0, with the same IPVS services
# and masquerade rules, and arp_ignore=0 / arp_announce=0: each answers the
# router's ARP for 192.0.2.100 (an address on any of its interfaces). The
# router's entry is deleted twice mid-capture so that it asks again: both
# nodes answer every time. The connections work (both nodes forward and
# masquerade), but which node gets the LB traffic is decided by ARP races.
WITH_NODE2=1
step topology topo_kube
step kube-proxy-node1 kube_proxy node1 192.0.2.2
step kube-proxy-node2 kube_proxy node2 192.0.2.3
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-1 traffic 8 4 client http://$KUBE_LB_IP/
step router-reresolve-1 nsx router ip neigh del $KUBE_LB_IP dev eth1
step traffic-2 traffic 8 4 client http://$KUBE_LB_IP/
step router-reresolve-2 nsx router ip neigh del $KUBE_LB_IP dev eth1
step traffic-3 traffic 8 4 client http://$KUBE_LB_IP/
step capture-stop capture_stop
step collect kube_collect
