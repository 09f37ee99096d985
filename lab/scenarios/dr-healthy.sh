# dr-healthy: LVS-DR, three correctly configured real servers.
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step ipvs ipvs_dr
standard_run
