# keepalived-drift: keepalived (not VRRP: the VIP is static on director)
# programs the DR service 192.0.2.100:80 with rs1..rs3, each with a
# MISC_CHECK; rs3's check script fails (it exits 1), so keepalived removes
# rs3 from IPVS although keepalived.conf declares it. No health-check
# traffic is on the wire (the checks are scripts).
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step keepalived-conf keepalived_lvs_conf director
step keepalived keepalived_lvs_start director
step rs3-removed keepalived_wait_removed director 192.0.2.13 15
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic traffic 24 8
step capture-stop capture_stop
step collect collect
step keepalived-stop keepalived_stop_all
