# kube-gue-healthy: LVS-TUN with GUE encapsulation (IPVS tunnel type gue,
# kernel >= 5.2, ipvsadm >= 1.31): the director sends each client packet to
# the real server inside UDP port 6080 + a GUE header (proto IPIP). Each real
# server has a fou listener (`ip fou add port 6080 gue`) and tunl0 up with
# the VIP (arp_ignore/arp_announce, rp_filter 0), so it decapsulates and
# answers the client directly from the VIP (default via the router).
step topology topo_dr
step real-servers rs_gue_ok rs1 rs2 rs3
step ipvs ipvs_tun_gue
standard_run
