# kube-healthy: kube-proxy in IPVS mode (no Kubernetes), healthy. node1 is
# a Kubernetes node and the director: kube-ipvs0 (dummy, down) holds the
# ClusterIP 198.51.100.200/32 and the LoadBalancer IP 192.0.2.100/32; IPVS
# (-m, rr) sends LB 192.0.2.100:80, ClusterIP 198.51.100.200:80 and NodePort
# 192.0.2.2:30080 to the pods 198.51.100.11-13:8080 (busybox httpd), whose
# default route is node1. kube-proxy's nat rules mark LB and NodePort traffic
# (and ClusterIP traffic from outside the cluster CIDR) and KUBE-POSTROUTING
# masquerades it (fully-random): the pods see node1 (198.51.100.1) as the
# client. A client pod (cpod 198.51.100.130, inside the cluster CIDR) uses
# the ClusterIP without masquerade. Sysctls as kube-proxy sets them.
WITH_CPOD=1
step topology topo_kube
step kube-proxy kube_proxy node1 192.0.2.2
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-lb traffic 12 6 client http://$KUBE_LB_IP/
step traffic-nodeport traffic 12 6 client http://192.0.2.2:$KUBE_NODE_PORT/
step traffic-clusterip traffic 12 6 cpod http://$KUBE_CLUSTER_IP/
step capture-stop capture_stop
step collect kube_collect
