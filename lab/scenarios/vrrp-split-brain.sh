# vrrp-split-brain: as vrrp-healthy, but director2 drops incoming VRRP
# (nftables: ip protocol 112 drop on input). It never hears director's
# adverts, becomes master after its master-down interval and claims the
# VIP too: two masters at once for the rest of the capture.
WITH_DIRECTOR2=1
WITH_KEEPALIVED=1
dr_pair_setup
step director2-drops-vrrp nsx director2 nft -f - <<'EON'
table inet filter {
	chain input {
		type filter hook input priority 0; policy accept;
		ip protocol 112 drop
	}
}
EON
step capture-start capture_start
step neigh-flush neigh_flush_all
keepalived_pair_start
step director2-master keepalived_wait_master director2 15
step settle sleep 3
step traffic traffic 24 8
step settle-after sleep 4
step capture-stop capture_stop
step collect collect
step keepalived-stop keepalived_stop_all
