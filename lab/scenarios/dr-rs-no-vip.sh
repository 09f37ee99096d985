# dr-rs-no-vip: rs3 has the ARP sysctls but no VIP on lo, so it drops the
# frames the director forwards to it (dst IP 192.0.2.100 is not local).
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2
step rs3-without-vip rs_arp_sysctls rs3
step ipvs ipvs_dr
standard_run
