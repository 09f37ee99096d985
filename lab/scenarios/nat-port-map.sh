# nat-port-map: LVS-NAT with port translation VIP:80 -> RIP:8080 (healthy).
RS_PORT=8080
step topology topo_nat
step ipvs ipvs_nat
standard_run
