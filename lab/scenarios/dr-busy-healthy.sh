# dr-busy-healthy: a busy, healthy LVS-DR capture. Service 192.0.2.100:9000
# (socat echo servers on rs1..rs3); the client namespace has four addresses
# (203.0.113.10-13) and runs 16 persistent clients (four per address), each
# making 100 connections one after another: 1,600 connections, every one
# carrying 3 request/answer exchanges (the next request 0.15 s after the
# previous answer) before the client closes it.
# Captured on client-eth0, director-eth0 and rs1..rs3-eth0 only (size).
# lab-watchdog: 600
KA_WORKERS=16 KA_CONNS=100 KA_REQS=3 KA_PAUSE=0.15
client_addrs() { for _a in 11 12 13; do nsx client ip addr add 203.0.113.$_a/24 dev eth0; done; }
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
step topology topo_dr
step client-addresses client_addrs
step real-servers rs_dr_ok rs1 rs2 rs3
step echo-servers echo_servers
step ipvs ipvs_setup director -g rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000
CAPS="client:eth0 director:eth0 rs1:eth0 rs2:eth0 rs3:eth0"
step capture-start capture_start
step neigh-flush neigh_flush_all
step keepalive-traffic keepalive_traffic $KA_WORKERS $KA_CONNS $KA_REQS $KA_PAUSE \
	203.0.113.10 203.0.113.11 203.0.113.12 203.0.113.13
step capture-stop capture_stop
step collect collect
