# vrrp-flapping: as vrrp-healthy, then three times director's outgoing
# adverts are lost for 5 s (nftables on its output, like a link that drops
# them now and then): director2 takes over after its master-down interval,
# and director takes the master back (priority 150 > 100) as soon as its
# adverts pass again. Traffic only while director is master.
WITH_DIRECTOR2=1
WITH_KEEPALIVED=1
dr_pair_setup
step capture-start capture_start
step neigh-flush neigh_flush_all
keepalived_pair_start
step settle sleep 3
step traffic-before traffic 12 6
for _i in 1 2 3; do
	step "adverts-lost-$_i" vrrp_block director on
	step "director2-master-$_i" keepalived_wait_master director2 10
	step "lost-$_i" sleep 1.5
	step "adverts-pass-$_i" vrrp_block director off
	step "settle-$_i" sleep 3
done
step traffic-after traffic 12 6
step settle-after sleep 2
step capture-stop capture_stop
step collect collect
step keepalived-stop keepalived_stop_all
