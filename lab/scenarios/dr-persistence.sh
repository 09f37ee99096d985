# dr-persistence: LVS-DR with persistence (-p 60) and two clients: each
# client sticks to one real server, one RS gets no connections. Healthy.
WITH_CLIENT2=1
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step ipvs-service nsx director ipvsadm -A -t $VIP:80 -s rr -p 60
for r in 11 12 13; do
	step ipvs-rs-$r nsx director ipvsadm -a -t $VIP:80 -r 192.0.2.$r:80 -g -w 1
done
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-client traffic 12 6 client
step traffic-client2 traffic 12 6 client2
step capture-stop capture_stop
step collect collect
