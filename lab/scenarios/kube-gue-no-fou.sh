# kube-gue-no-fou: kube-gue-healthy, but rs2 has no fou/GUE listener on UDP
# 6080 (tunl0 is up with the VIP; only `ip fou add` is missing): it answers
# each GUE packet from the director with ICMP port unreachable (UDP port
# closed), which the director relays to the client from the VIP
# (ip_vs_in_icmp, UDP tunnel case): the client's connection is refused. As
# in tun-rs-no-tunnel, rs2's eth0 has a 20 ms netem delay so the relayed
# ICMP does not reach the client while its connect() holds the socket lock.
step topology topo_dr
step real-servers rs_gue_ok rs1 rs3
step rs2-tunnel-no-fou rs_tun_ok rs2
step rs2-latency netem_delay rs2 eth0 20
step ipvs ipvs_tun_gue
standard_run
