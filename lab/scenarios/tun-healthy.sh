# tun-healthy: LVS-TUN (IPIP), VIP on tunl0 of each real server.
step topology topo_dr
step real-servers rs_tun_ok rs1 rs2 rs3
step ipvs ipvs_tun
standard_run
