# udp-nat-closed-port: LVS-NAT UDP service; nothing listens on UDP 53 on
# rs2, so its kernel answers each forwarded datagram with ICMP port
# unreachable (rate limit off, so every one is answered).
udp_servers() { udp_server_start rs1 53; udp_server_start rs3 53; }
step topology topo_nat
step udp-servers udp_servers
step rs2-icmp-ratelimit-off sysctl_ns rs2 net.ipv4.icmp_ratelimit=0
step ipvs ipvs_nat_udp
udp_run
