# nat-healthy: LVS-NAT, three real servers on 198.51.100.0/24 behind the director.
step topology topo_nat
step ipvs ipvs_nat
standard_run
