# nat-director-no-forward: LVS-NAT, but the director has IP forwarding off
# (net.ipv4.ip_forward=0). IPVS still DNATs the client's SYNs to the real
# servers (from its LOCAL_IN hook), but the real servers' SYN-ACKs are
# addressed to the client: the director would have to route them, does not,
# and so never de-NATs them.
step topology topo_nat
step ipvs ipvs_nat
step director-no-forward nsx director sysctl -w net.ipv4.ip_forward=0
CONNS=12 PAR=6
standard_run
