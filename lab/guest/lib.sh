# Helper functions for lab scenarios (busybox sh). Sourced by /init; every
# scenario script (lab/scenarios/<name>.sh) is sourced in a `set -e` subshell,
# so any failing command aborts the scenario and the last `step` name is
# reported to the host as the failing step.
#
# Conventions
#   $OUT            directory that becomes fixtures/<scenario>/
#   step NAME CMD…  log + remember the step name, then run CMD (set -e applies)
#   glog MSG        log a line that the host prints ("[guest …]" prefix)
#   nsx NS CMD…      run CMD inside network namespace NS
#
# Addresses (fixed, the analyzer's tests depend on them)
VIP=192.0.2.100
VIP6=2001:db8::100
CLIENT_NET_GW=203.0.113.1
LVS_GW=192.0.2.1
DIRECTOR_IP=192.0.2.2
DIRECTOR2_IP=192.0.2.3
NAT_GW=198.51.100.1

# Debian's busybox prefers its own applets over $PATH; use the real tools.
ip() { /usr/sbin/ip "$@"; }
ipvsadm() { /usr/sbin/ipvsadm "$@"; }
tcpdump() { /usr/bin/tcpdump "$@"; }

CAPS=""          # "ns:ifname" list captured by capture_start
CAP_PIDS=""
HOSTS=""         # namespaces created (for config dumps / neigh flush)

glog() {
	set -- "$(cut -d' ' -f1 /proc/uptime)" "$*"
	echo "[guest $1] $2"
}
# print to the log only (not echoed by the host)
note() { echo "  $*"; }

step() {
	echo "$1" > /run/step
	glog "step: $1"
	shift
	"$@"
}

nsx() { _ns=$1; shift; ip netns exec "$_ns" "$@"; }

lab_boot() {
	_kv=$(uname -r)
	for m in $(cat /lib/modules/load); do
		modprobe "$m" || { echo "modprobe $m failed"; return 1; }
	done
	mkdir -p /run/netns
	# no IPv6 chatter (RS/MLD/DAD) from bridges or namespaces unless a scenario enables it
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	ip link set lo up
	glog "boot: modules loaded ($(wc -l < /proc/modules) modules)"
}

# ------------------------------------------------------------------ topology
mac_host() {
	case "$1" in
	client) echo 0c ;; client2) echo 0e ;; router) echo 01 ;;
	director) echo 0d ;; director2) echo 0f ;;
	rs1) echo 11 ;; rs2) echo 12 ;; rs3) echo 13 ;;
	node1) echo 0d ;; node2) echo 0f ;; cpod) echo 14 ;;   # topo_kube
	*) echo "no MAC code for host $1" >&2; return 1 ;;
	esac
}
mac_of() { echo "02:00:00:00:$(mac_host "$1"):0$2"; }   # mac_of HOST IFINDEX

IPV6=${IPV6:-0}
netns_add() {
	ip netns add "$1"
	HOSTS="$HOSTS $1"
	if [ "$IPV6" = 1 ]; then
		nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
		nsx "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
		nsx "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0
		nsx "$1" sysctl -qw net.ipv6.conf.default.accept_ra=0
		nsx "$1" sysctl -qw net.ipv6.conf.default.router_solicitations=0
	else
		nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		nsx "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	fi
	nsx "$1" ip link set lo up
}

bridge_add() {
	ip link add "$1" type bridge stp_state 0 forward_delay 0
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null || true
	ip link set "$1" up
}

# plug NS ETH-INDEX BRIDGE [CIDR...]: veth pair, namespace end ethN with the fixed MAC
plug() {
	_ns=$1 _i=$2 _br=$3; shift 3
	ip link add "$_ns-e$_i" type veth peer name "eth$_i" netns "$_ns"
	nsx "$_ns" ip link set "eth$_i" address "$(mac_of "$_ns" "$_i")"
	ip link set "$_ns-e$_i" master "$_br" up
	nsx "$_ns" ip link set "eth$_i" up
	for _a in "$@"; do
		case "$_a" in
		*:*) nsx "$_ns" ip -6 addr add "$_a" dev "eth$_i" nodad ;;
		*) nsx "$_ns" ip addr add "$_a" dev "eth$_i" ;;
		esac
	done
	CAPS="$CAPS $_ns:eth$_i"
}

sysctl_ns() { _ns=$1; shift; for _kv in "$@"; do nsx "$_ns" sysctl -qw "$_kv"; done; }

# Common part of every topology: client, router, director (director2 optional)
topo_base() {
	bridge_add br-client
	bridge_add br-lvs
	netns_add client
	plug client 0 br-client 203.0.113.10/24
	nsx client ip route add default via $CLIENT_NET_GW
	if [ "${WITH_CLIENT2:-0}" = 1 ]; then
		netns_add client2
		plug client2 0 br-client 203.0.113.11/24
		nsx client2 ip route add default via $CLIENT_NET_GW
	fi
	netns_add router
	plug router 0 br-client 203.0.113.1/24
	plug router 1 br-lvs 192.0.2.1/24
	sysctl_ns router net.ipv4.ip_forward=1
	netns_add director
	plug director 0 br-lvs 192.0.2.2/24
	# With keepalived, VRRP decides who holds the VIP.
	[ "${WITH_KEEPALIVED:-0}" = 1 ] || nsx director ip addr add $VIP/32 dev eth0
	nsx director ip route add default via $LVS_GW
	if [ "${WITH_DIRECTOR2:-0}" = 1 ]; then
		netns_add director2
		plug director2 0 br-lvs 192.0.2.3/24
		nsx director2 ip route add default via $LVS_GW
	fi
}

# DR/TUN topology: real servers on br-lvs (192.0.2.1X)
topo_dr() {
	topo_base
	for _n in 1 2 3; do
		netns_add rs$_n
		plug rs$_n 0 br-lvs 192.0.2.1$_n/24
		nsx rs$_n ip route add default via $LVS_GW
		httpd_start rs$_n 80
	done
}

# NAT topology: real servers on br-priv (198.51.100.1X) behind the director
topo_nat() {
	topo_base
	bridge_add br-priv
	plug router 2 br-priv 198.51.100.254/24
	plug director 1 br-priv 198.51.100.1/24
	sysctl_ns director net.ipv4.ip_forward=1
	for _n in 1 2 3; do
		netns_add rs$_n
		plug rs$_n 0 br-priv 198.51.100.1$_n/24
		nsx rs$_n ip route add default via $NAT_GW
		httpd_start rs$_n "${RS_PORT:-80}"
	done
}

# IPv6 DR topology (2001:db8::/32): client segment 2001:db8:c::/64, LVS
# segment 2001:db8::/64, VIP 2001:db8::100 (/128 on director eth0, RS lo)
topo_dr6() {
	bridge_add br-client
	bridge_add br-lvs
	netns_add client
	plug client 0 br-client 2001:db8:c::10/64
	nsx client ip -6 route add default via 2001:db8:c::1
	netns_add router
	plug router 0 br-client 2001:db8:c::1/64
	plug router 1 br-lvs 2001:db8::1/64
	sysctl_ns router net.ipv6.conf.all.forwarding=1
	netns_add director
	plug director 0 br-lvs 2001:db8::2/64
	nsx director ip -6 addr add $VIP6/128 dev eth0 nodad
	nsx director ip -6 route add default via 2001:db8::1
	for _n in 1 2 3; do
		netns_add rs$_n
		plug rs$_n 0 br-lvs 2001:db8::1$_n/64
		nsx rs$_n ip -6 addr add $VIP6/128 dev lo
		nsx rs$_n ip -6 route add default via 2001:db8::1
		httpd_start rs$_n 80
	done
}

# IPv6 NAT topology (2001:db8::/32), IPV6=1 set before: client segment
# 2001:db8:c::/64, LVS segment 2001:db8::/64 (VIP 2001:db8::100/128 on the
# director's eth0), private segment 2001:db8:1::/64 behind the director
# (eth1 2001:db8:1::1, IPv6 forwarding=1); rs1..rs3 2001:db8:1::1X, default
# via 2001:db8:1::1. As in topo_nat, the router also has a leg on the
# private segment (eth2 2001:db8:1::254), unused unless a real server routes
# through it.
topo_nat6() {
	[ "$IPV6" = 1 ] || { echo "topo_nat6 needs IPV6=1"; return 1; }
	bridge_add br-client
	bridge_add br-lvs
	bridge_add br-priv
	netns_add client
	plug client 0 br-client 2001:db8:c::10/64
	nsx client ip -6 route add default via 2001:db8:c::1
	netns_add router
	plug router 0 br-client 2001:db8:c::1/64
	plug router 1 br-lvs 2001:db8::1/64
	plug router 2 br-priv 2001:db8:1::254/64
	sysctl_ns router net.ipv6.conf.all.forwarding=1
	netns_add director
	plug director 0 br-lvs 2001:db8::2/64
	nsx director ip -6 addr add $VIP6/128 dev eth0 nodad
	nsx director ip -6 route add default via 2001:db8::1
	plug director 1 br-priv 2001:db8:1::1/64
	sysctl_ns director net.ipv6.conf.all.forwarding=1
	for _n in 1 2 3; do
		netns_add rs$_n
		plug rs$_n 0 br-priv 2001:db8:1::1$_n/64
		nsx rs$_n ip -6 route add default via 2001:db8:1::1
		httpd_start rs$_n "${RS_PORT:-80}"
	done
}

# DR real-server VIP handling (what the LVS HOWTO prescribes)
rs_arp_sysctls() {
	sysctl_ns "$1" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_announce=2
}
rs_vip_lo() { nsx "$1" ip addr add $VIP/32 dev lo; }
rs_dr_ok() { for _r in "$@"; do rs_vip_lo "$_r"; rs_arp_sysctls "$_r"; done; }

# TUN real server: VIP on tunl0 (ipip), rp_filter off on tunl0
rs_tun_ok() {
	for _r in "$@"; do
		nsx "$_r" ip link set tunl0 up
		nsx "$_r" ip addr add $VIP/32 dev tunl0
		rs_arp_sysctls "$_r"
		sysctl_ns "$_r" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0
	done
}

httpd_start() { # httpd_start NS PORT
	mkdir -p "/srv/$1"
	echo "$1" > "/srv/$1/index.html"
	nsx "$1" busybox httpd -p "$2" -h "/srv/$1"
}
httpd_stop() { # kill the busybox httpd of namespace NS
	for _p in $(ip netns pids "$1"); do
		grep -q httpd "/proc/$_p/cmdline" 2>/dev/null && kill "$_p"
	done
	return 0
}

# netem_delay NS DEV MS: what NS sends on DEV leaves MS milliseconds later
# (sch_netem, loaded on demand). The VM has one CPU and no latency: an answer
# produced while the packet that caused it is still being processed reaches
# the sender inside its connect() call, which holds the socket lock, and an
# ICMP error is then dropped (TcpExtLockDroppedIcmps); a real path's latency
# lets it arrive after connect() sleeps.
netem_delay() {
	modprobe sch_netem
	nsx "$1" /usr/sbin/tc qdisc add dev "$2" root netem delay "${3}ms"
}

# ------------------------------------------------------------------ IPVS
# ipvs_service NS FWD(-g|-m|-i) SCHED VIP:PORT RIP:PORT...
# (IPVS_PROTO=-u before the call: a UDP service)
IPVS_PROTO=-t
ipvs_setup() {
	_ns=$1 _fwd=$2 _sched=$3 _svc=$4; shift 4
	nsx "$_ns" ipvsadm -A "$IPVS_PROTO" "$_svc" -s "$_sched"
	for _rs in "$@"; do nsx "$_ns" ipvsadm -a "$IPVS_PROTO" "$_svc" -r "$_rs" "$_fwd" -w 1; done
}
# UDP services on port 53 (DNS-like request/answer)
ipvs_dr_udp() {
	IPVS_PROTO=-u
	ipvs_setup "${IPVS_NS:-director}" -g rr $VIP:53 192.0.2.11:53 192.0.2.12:53 192.0.2.13:53
	IPVS_PROTO=-t
}
ipvs_nat_udp() {
	IPVS_PROTO=-u
	ipvs_setup "${IPVS_NS:-director}" -m rr $VIP:53 198.51.100.11:53 198.51.100.12:53 198.51.100.13:53
	IPVS_PROTO=-t
}
ipvs_dr()  { ipvs_setup "${IPVS_NS:-director}" -g rr $VIP:80 192.0.2.11:80 192.0.2.12:80 192.0.2.13:80; }
ipvs_tun() { ipvs_setup "${IPVS_NS:-director}" -i rr $VIP:80 192.0.2.11:80 192.0.2.12:80 192.0.2.13:80; }
ipvs_nat() {
	_p=${RS_PORT:-80}
	ipvs_setup "${IPVS_NS:-director}" -m rr $VIP:80 198.51.100.11:$_p 198.51.100.12:$_p 198.51.100.13:$_p
}

# IPv6 NAT service [2001:db8::100]:80 -> [2001:db8:1::1X]:80 (topo_nat6)
ipvs_nat6() {
	ipvs_setup "${IPVS_NS:-director}" -m rr "[$VIP6]:80" "[2001:db8:1::11]:80" "[2001:db8:1::12]:80" "[2001:db8:1::13]:80"
}

# ------------------------------------------------------------------ capture
capture_start() {
	for _c in $CAPS; do
		_ns=${_c%%:*} _if=${_c#*:}
		_f="$OUT/$_ns-$_if.pcap"
		# started directly (not through a shell function) so that $! is tcpdump itself
		/usr/sbin/ip netns exec "$_ns" /usr/bin/tcpdump -i "$_if" -nn -U -s 0 -Z root -w "$_f" \
			> "/run/tcpdump-$_ns-$_if.log" 2>&1 &
		CAP_PIDS="$CAP_PIDS $!"
	done
	for _c in $CAPS; do
		_ns=${_c%%:*} _if=${_c#*:} _t=0
		until grep -q "listening on" "/run/tcpdump-$_ns-$_if.log"; do
			_t=$((_t + 1))
			if [ $_t -gt 200 ]; then cat "/run/tcpdump-$_ns-$_if.log"; echo "tcpdump $_ns/$_if did not start"; return 1; fi
			sleep 0.05
		done
	done
	note "captures running on:$CAPS"
	if [ -f /lab/live ]; then live_start; fi
}

# lvsdiag capturing live on the same points as tcpdump (LVSDIAG_LIVE=1 with
# LVSDIAG_BIN): every point as an interface inside its namespace, except the
# last, which is read as a pcap stream from a command (as a remote real
# server would be). The JSON report lands in $OUT/live/analyze.json.
LIVE_PID=""
live_start() {
	mkdir -p "$OUT/live"
	set --
	_last=""
	for _c in $CAPS; do _last=$_c; done
	for _c in $CAPS; do
		_ns=${_c%%:*} _if=${_c#*:}
		if [ "$_c" = "$_last" ]; then
			set -- "$@" --exec "$_ns-$_if=/usr/sbin/ip netns exec $_ns /usr/bin/tcpdump -i $_if -nn -U -s 0 -Z root -w -"
		else
			set -- "$@" -i "$_ns-$_if=$_if@$_ns"
		fi
	done
	/usr/bin/lvsdiag analyze "$@" --format json --fail-on never \
		> "$OUT/live/analyze.json" 2> "$OUT/live/stderr.txt" &
	LIVE_PID=$!
	_t=0
	until grep -q "capturing on" "$OUT/live/stderr.txt"; do
		_t=$((_t + 1))
		if [ $_t -gt 200 ] || ! kill -0 "$LIVE_PID" 2>/dev/null; then
			cat "$OUT/live/stderr.txt"; echo "lvsdiag live capture did not start"; return 1
		fi
		sleep 0.05
	done
	# the stream point's tcpdump needs a moment to attach
	sleep 0.5
	note "lvsdiag capturing live: $*"
}

live_stop() {
	[ -n "$LIVE_PID" ] || return 0
	kill -TERM "$LIVE_PID" 2>/dev/null || true
	_t=0
	while kill -0 "$LIVE_PID" 2>/dev/null; do
		_t=$((_t + 1))
		if [ $_t -gt 400 ]; then echo "lvsdiag did not stop, killing"; kill -KILL "$LIVE_PID" 2>/dev/null || true; fi
		sleep 0.05
	done
	wait "$LIVE_PID"; echo "exit $?" > "$OUT/live/status.txt"
	LIVE_PID=""
	note "lvsdiag live: $(cat "$OUT/live/stderr.txt" | tr '\n' ' ')"
}

# Background jobs of a non-interactive shell ignore SIGINT (POSIX), so tcpdump
# is stopped with SIGTERM, which it handles identically (flush + close).
capture_stop() {
	sleep "${SETTLE:-1}"
	live_stop
	for _p in $CAP_PIDS; do kill -TERM "$_p" 2>/dev/null || true; done
	_t=0
	for _p in $CAP_PIDS; do
		while kill -0 "$_p" 2>/dev/null; do
			_t=$((_t + 1))
			if [ $_t -gt 100 ]; then echo "tcpdump $_p did not stop, killing"; kill -KILL "$_p" 2>/dev/null || true; fi
			sleep 0.05
		done
		wait "$_p" 2>/dev/null || true
	done
	CAP_PIDS=""
	for _c in $CAPS; do
		_ns=${_c%%:*} _if=${_c#*:}
		note "$_ns-$_if: $(grep -E 'packets (captured|dropped by kernel)' "/run/tcpdump-$_ns-$_if.log" | tr '\n' ' ')"
	done
}
lab_stop_captures_quietly() {
	for _p in $CAP_PIDS; do kill -TERM "$_p" 2>/dev/null || true; done
	[ -z "$CAP_PIDS" ] || sleep 0.5
	# UDP servers (socat) and keepalived still hold the scenario's output pipe.
	killall socat 2>/dev/null || true
	killall keepalived 2>/dev/null || true
}

neigh_flush_all() { for _h in $HOSTS; do nsx "$_h" ip neigh flush all; done; }

# ------------------------------------------------------------------ traffic
# traffic COUNT [PARALLEL] [NS] [URL]: COUNT wget connections in batches
TRAFFIC_SEQ=0
# in_batches COUNT PAR ONE: runs the function ONE in the background COUNT
# times, PAR at a time (0.1 s apart unless PAR is 1); ONE sees $_seq (the
# exchange's number) and $_t0 (its start, uptime seconds).
in_batches() {
	_n=$1 _par=$2 _one=$3 _i=0
	while [ $_i -lt "$_n" ]; do
		_j=0 _bp=""
		while [ $_j -lt "$_par" ] && [ $_i -lt "$_n" ]; do
			TRAFFIC_SEQ=$((TRAFFIC_SEQ + 1)) _seq=$TRAFFIC_SEQ _t0=$(cut -d' ' -f1 /proc/uptime)
			"$_one" &
			_bp="$_bp $!"
			_i=$((_i + 1)) _j=$((_j + 1))
			[ "$_par" = 1 ] || sleep 0.1
		done
		for _p in $_bp; do wait "$_p" || true; done
	done
}

one_wget() {
	# (busybox 1.35 wget -T segfaults, hence the external timeout)
	_r=$(nsx "$_cns" timeout -s KILL "${CONN_TIMEOUT:-4}" wget -q -O- "$_url" 2>&1) && _s=ok || _s=FAIL
	echo "$_t0 conn $_seq $_cns $_url $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}

traffic() {
	_cns=${3:-client} _url=${4:-http://$VIP/}
	in_batches "$1" "${2:-6}" one_wget
	_ok=$(grep -c " ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " FAIL" "$OUT/traffic.log" || true)
	glog "traffic: $_n connections from $_cns to $_url (cumulative: $_ok ok, $_fail failed)"
}

# ------------------------------------------------------------------ UDP
# udp_server_start NS PORT [BIND]: socat answers each datagram with the
# host's name. A DR real server binds to the VIP: an unbound UDP socket
# would answer from its RIP, which the client does not expect.
udp_server_start() {
	_b=""; [ -n "${3:-}" ] && _b=",bind=$3"
	nsx "$1" socat -T 0.5 "UDP4-RECVFROM:$2$_b,reuseaddr,fork" SYSTEM:"read x; echo $1" \
		</dev/null >/dev/null 2>&1 &
}

# udp_traffic COUNT [PAR] [SPORT]: COUNT request/answer exchanges from the
# client to VIP:53, each from a new port; with SPORT, all from that port,
# one after another.
one_udp() {
	_r=$(echo "q$_seq" | nsx client timeout -s KILL 3 socat -T 0.5 - "UDP4:$VIP:53$_opt" 2>&1) || true
	if [ -n "$_r" ]; then _s=ok; else _s=FAIL; fi
	echo "$_t0 udp $_seq client $VIP:53${_sp:+ from port $_sp} $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}

udp_traffic() {
	_par=${2:-6} _opt="" _sp=${3:-}
	if [ -n "$_sp" ]; then _opt=",sourceport=$_sp,reuseaddr"; _par=1; fi
	in_batches "$1" "$_par" one_udp
	_ok=$(grep -c " ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " FAIL" "$OUT/traffic.log" || true)
	glog "udp traffic: $_n exchanges to $VIP:53${3:+ from port $3} (cumulative: $_ok ok, $_fail failed)"
}

# The usual sequence for a UDP scenario: COUNT exchanges (default 24).
udp_run() {
	step capture-start capture_start
	step neigh-flush neigh_flush_all
	step udp-traffic udp_traffic "${CONNS:-24}" "${PAR:-8}"
	step capture-stop capture_stop
	step collect collect
}

# gratuitous ARP for IP from NS/DEV (busybox arping -U: unsolicited ARP request)
garp() { # garp NS DEV IP [COUNT]
	nsx "$1" busybox arping -q -U -c "${4:-1}" -I "$2" -s "$3" "$3" || true
}

# ------------------------------------------------------------------ keepalived
# keepalived_start NS STATE PRIORITY: the real keepalived (VRRP only, -P) in
# namespace NS, one vrrp_instance (VRID 51, advert_int 1, the VIP on eth0).
# The configuration is kept in the fixture as keepalived-NS.conf.
VRID=${VRID:-51}
keepalived_start() {
	_ns=$1 _state=$2 _prio=$3
	_conf="$OUT/keepalived-$_ns.conf"
	cat > "$_conf" <<-EOC
	! lvsdiag lab: $_ns
	global_defs {
	    router_id $_ns
	    vrrp_garp_master_delay 1
	    vrrp_garp_master_repeat 3
	    vrrp_garp_lower_prio_repeat 1
	}

	vrrp_instance VI_1 {
	    state $_state
	    interface eth0
	    virtual_router_id $VRID
	    priority $_prio
	    advert_int 1
	    virtual_ipaddress {
	        $VIP/32 dev eth0
	    }
	}
	EOC
	nsx "$_ns" /usr/sbin/keepalived -P -n -l -D -f "$_conf" \
		-p "/run/ka-$_ns.pid" -r "/run/ka-$_ns-vrrp.pid" \
		> "/run/keepalived-$_ns.log" 2>&1 &
	echo $! > "/run/ka-$_ns.bg"
}
# The VRRP scenarios' common part: two DR directors with the same IPVS
# table (WITH_DIRECTOR2=1 WITH_KEEPALIVED=1 set before), then keepalived on
# both: director MASTER 150 (waited for), director2 BACKUP 100.
dr_pair_setup() {
	step topology topo_dr
	step real-servers rs_dr_ok rs1 rs2 rs3
	step ipvs-director ipvs_dr
	IPVS_NS=director2
	step ipvs-director2 ipvs_dr
	IPVS_NS=director
}
keepalived_pair_start() {
	step keepalived-director keepalived_start director MASTER 150
	step director-master keepalived_wait_master director 10
	step keepalived-director2 keepalived_start director2 BACKUP 100
}
# keepalived_lvs_conf NS: a checker-only keepalived.conf for the DR service
# (MISC_CHECK scripts: /bin/false for rs3, /bin/true for the others).
keepalived_lvs_conf() {
	_conf="$OUT/keepalived-$1.conf"
	{
		echo "! lvsdiag lab: $1 (health checks only)"
		echo "global_defs {"
		echo "    router_id $1"
		echo "}"
		echo ""
		echo "virtual_server $VIP 80 {"
		echo "    delay_loop 2"
		echo "    lb_algo rr"
		echo "    lb_kind DR"
		echo "    protocol TCP"
		for _n in 1 2 3; do
			_s=/bin/true; [ $_n = 3 ] && _s=/bin/false
			echo ""
			echo "    real_server 192.0.2.1$_n 80 {"
			echo "        weight 1"
			echo "        MISC_CHECK {"
			echo "            misc_path \"$_s\""
			echo "            misc_timeout 2"
			echo "        }"
			echo "    }"
		done
		echo "}"
	} > "$_conf"
}
keepalived_lvs_start() { # keepalived_lvs_start NS: the checker (-C) with that conf
	nsx "$1" /usr/sbin/keepalived -C -n -l -D -f "$OUT/keepalived-$1.conf" \
		-p "/run/ka-$1.pid" -c "/run/ka-$1-checkers.pid" \
		> "/run/keepalived-$1.log" 2>&1 &
}
# keepalived_wait_removed NS RIP SECONDS: until IPVS has the service and not RIP
keepalived_wait_removed() {
	_t=0
	until nsx "$1" ipvsadm -Ln | grep -q "$VIP:80" && ! nsx "$1" ipvsadm -Ln | grep -q "$2:"; do
		_t=$((_t + 1))
		if [ $_t -gt $(($3 * 10)) ]; then cat "/run/keepalived-$1.log"; nsx "$1" ipvsadm -Ln; echo "$2 not removed"; return 1; fi
		sleep 0.1
	done
	# Settled: two check rounds later, still rs1 and rs2, still not RIP.
	sleep 4
	_l=$(nsx "$1" ipvsadm -Ln)
	case "$_l" in *"$2:"*) echo "$_l"; echo "$2 back in IPVS"; return 1 ;; esac
	case "$_l" in *192.0.2.11:*192.0.2.12:*) ;; *) echo "$_l"; echo "rs1 or rs2 missing"; return 1 ;; esac
}
keepalived_stop() { # keepalived_stop NS: TERM (it resigns: priority 0 advert)
	[ -f "/run/ka-$1.pid" ] && kill "$(cat "/run/ka-$1.pid")" 2>/dev/null
	_t=0
	while [ -f "/run/ka-$1.pid" ] && [ $_t -lt 50 ]; do sleep 0.1; _t=$((_t + 1)); done
	return 0
}
keepalived_stop_all() {
	for _h in $HOSTS; do keepalived_stop "$_h"; done
	for _h in $HOSTS; do
		[ -f "/run/keepalived-$_h.log" ] && cp "/run/keepalived-$_h.log" "$OUT/keepalived-$_h.log"
	done
	return 0
}
# keepalived_wait_master NS [SECONDS]: until NS holds the VIP
keepalived_wait_master() {
	_t=0
	until nsx "$1" ip -4 addr show dev eth0 | grep -q "$VIP/"; do
		_t=$((_t + 1))
		if [ $_t -gt $((${2:-10} * 10)) ]; then cat "/run/keepalived-$1.log"; echo "$1 did not become master"; return 1; fi
		sleep 0.1
	done
}
# vrrp_block NS on|off: drop (on) or let through VRRP that NS sends
vrrp_block() {
	if [ "$2" = on ]; then
		nsx "$1" nft add table inet vrrpblock
		nsx "$1" nft add chain inet vrrpblock out '{ type filter hook output priority 0; }'
		nsx "$1" nft add rule inet vrrpblock out ip protocol 112 drop
	else
		nsx "$1" nft delete table inet vrrpblock
	fi
}

# ------------------------------------------------------------------ results
dump_config() { # dump_config NS
	mkdir -p "$OUT/config"
	{
		echo "### host $1 (network namespace)"
		echo "### ip -d addr"; nsx "$1" ip -d addr
		echo "### ip route"; nsx "$1" ip route
		if [ "$IPV6" = 1 ]; then echo "### ip -6 route"; nsx "$1" ip -6 route; fi
		echo "### ip neigh"; nsx "$1" ip neigh
		echo "### sysctl"
		nsx "$1" sh -c '
			echo "net.ipv4.ip_forward = $(cat /proc/sys/net/ipv4/ip_forward)"
			[ -e /proc/sys/net/ipv6/conf/all/forwarding ] && echo "net.ipv6.conf.all.forwarding = $(cat /proc/sys/net/ipv6/conf/all/forwarding)"
			for d in /proc/sys/net/ipv4/conf/*; do
				i=${d##*/}
				case $i in default) continue ;; esac
				for k in arp_ignore arp_announce rp_filter accept_local send_redirects; do
					echo "net.ipv4.conf.$i.$k = $(cat $d/$k)"
				done
			done'
	} > "$OUT/config/$1.txt" 2>&1
}

collect() {
	# IPVS 6.1 folds the per-CPU counters into `ipvsadm -L --stats` from its
	# 2-second estimator; wait so the stats match the capture.
	sleep "${STATS_SETTLE:-2.5}"
	for _d in director director2; do
		case " $HOSTS " in *" $_d "*) ;; *) continue ;; esac
		_sfx=""; [ "$_d" = director ] || _sfx="-$_d"
		nsx "$_d" ipvsadm -S -n > "$OUT/ipvsadm-S$_sfx.txt"
		nsx "$_d" ipvsadm -Ln --stats > "$OUT/ipvsadm-stats$_sfx.txt"
		nsx "$_d" ipvsadm -Lnc > "$OUT/ipvsadm-conn$_sfx.txt"
	done
	for _h in $HOSTS; do dump_config "$_h"; done
	# With LVSDIAG_BIN: every host's configuration snapshot, taken now (after
	# the traffic, so the IPVS counters match the captures).
	if command -v lvsdiag >/dev/null 2>&1; then
		lvsdiag snapshot --all-netns --out "$OUT/snapshot"
	fi
}

# The usual sequence after the topology and IPVS are configured.
standard_run() {
	step capture-start capture_start
	step neigh-flush neigh_flush_all
	step traffic traffic "${CONNS:-24}" "${PAR:-8}"
	step capture-stop capture_stop
	step collect collect
}

# ------------------------------------------------------------------ long-lived TCP (socat)
# tcp_echo_start NS [PORT]: socat echo server on PORT (default 9000): it
# first sends a line naming the host, then echoes what the client sends.
# Bound to 0.0.0.0, so it answers from the address the client connected to
# (a DR/TUN real server: the VIP).
tcp_echo_start() {
	nsx "$1" socat "TCP-LISTEN:${2:-9000},fork,reuseaddr" SYSTEM:"echo $1; exec cat" \
		</dev/null >/dev/null 2>&1 &
}
# tcp_sink_start NS [PORT]: reads the upload, then answers "NS BYTES".
tcp_sink_start() {
	nsx "$1" socat "TCP-LISTEN:${2:-9000},fork,reuseaddr" SYSTEM:"echo $1 \$(wc -c)" \
		</dev/null >/dev/null 2>&1 &
}
# no_gso NS DEV: the TCP stack sends one MSS-sized segment per packet on DEV
# (as on a wire), not 64 KB GSO super-packets that tcpdump on a veth shows.
no_gso() { nsx "$1" ip link set dev "$2" gso_max_segs 1; }

# one_long: one long-lived connection from $_cns to $VIP:$LONG_PORT (9000):
# sends "hello N", idles $LONG_IDLE s, sends "again N", waits $LONG_TAIL s
# (2) and closes; killed after $LONG_KILL s (IDLE+TAIL+4). ok when the echo
# server returned "again N". $LONG_OPTS: extra socat TCP options
# (",keepalive,..."). Logged as "long" lines in traffic.log.
one_long() {
	_lp=${LONG_PORT:-9000} _li=${LONG_IDLE:-6} _lt=${LONG_TAIL:-2}
	_lk=${LONG_KILL:-$((_li + _lt + 4))}
	_r=$( (echo "hello $_seq"; sleep "$_li"; echo "again $_seq"; sleep "$_lt") |
		nsx "$_cns" timeout -s KILL "$_lk" socat -t 1 -T "$_lk" - "TCP:$VIP:$_lp${LONG_OPTS:-}" 2>&1) || true
	case "$_r" in *"again $_seq"*) _s=ok ;; *) _s=FAIL ;; esac
	echo "$_t0 long $_seq $_cns $VIP:$_lp idle ${_li}s $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}
# long_start COUNT [NS]: COUNT one_long in the background, 0.1 s apart
# (PIDs in $LONG_PIDS); long_wait waits for all of them.
LONG_PIDS=""
long_start() {
	_cns=${2:-client} _k=0
	while [ $_k -lt "$1" ]; do
		TRAFFIC_SEQ=$((TRAFFIC_SEQ + 1)) _seq=$TRAFFIC_SEQ _t0=$(cut -d' ' -f1 /proc/uptime)
		one_long &
		LONG_PIDS="$LONG_PIDS $!"
		_k=$((_k + 1))
		sleep 0.1
	done
	glog "long connections: $1 from $_cns to $VIP:${LONG_PORT:-9000} started (idle ${LONG_IDLE:-6}s)"
}
long_wait() {
	for _p in $LONG_PIDS; do wait "$_p" || true; done
	LONG_PIDS=""
	_ok=$(grep -c " long .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " long .* FAIL" "$OUT/traffic.log" || true)
	glog "long connections done (cumulative: $_ok ok, $_fail failed)"
}

# one_short / tcp_traffic COUNT [PAR] [PORT]: short request/echo exchanges
# with the echo server at $VIP:PORT (9000), in batches like traffic.
one_short() {
	_r=$(echo "hi $_seq" | nsx "$_cns" timeout -s KILL "${CONN_TIMEOUT:-4}" socat -t 3 -T 3 - "TCP:$VIP:$_tp" 2>&1) || true
	case "$_r" in *"hi $_seq"*) _s=ok ;; *) _s=FAIL ;; esac
	echo "$_t0 short $_seq $_cns $VIP:$_tp $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}
tcp_traffic() {
	_cns=client _tp=${3:-9000}
	in_batches "$1" "${2:-6}" one_short
	_ok=$(grep -c " short .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " short .* FAIL" "$OUT/traffic.log" || true)
	glog "short connections: $1 to $VIP:$_tp (cumulative: $_ok ok, $_fail failed)"
}

# one_upload / upload_traffic COUNT [PAR] [BYTES] [PORT]: the client sends
# BYTES (65536) of zeros to $VIP:PORT (9000, a tcp_sink_start server); ok when
# the sink answered with the full byte count.
one_upload() {
	_r=$(head -c "$_ub" /dev/zero | nsx "$_cns" timeout -s KILL "${CONN_TIMEOUT:-8}" socat -t 3 -T "${CONN_TIMEOUT:-8}" - "TCP:$VIP:$_up" 2>&1) || true
	case "$_r" in *" $_ub"*) _s=ok ;; *) _s=FAIL ;; esac
	echo "$_t0 upload $_seq $_cns $VIP:$_up $_ub bytes $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}
upload_traffic() {
	_cns=client _ub=${3:-65536} _up=${4:-9000}
	in_batches "$1" "${2:-3}" one_upload
	_ok=$(grep -c " upload .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " upload .* FAIL" "$OUT/traffic.log" || true)
	glog "uploads: $1 x $_ub bytes to $VIP:$_up (cumulative: $_ok ok, $_fail failed)"
}

# one_download / download_traffic COUNT [PAR] [URL]: wget to a file; the log
# line has the byte count instead of the body.
one_download() {
	_f=/tmp/dl-$_seq
	nsx "$_cns" timeout -s KILL "${CONN_TIMEOUT:-8}" wget -q -O "$_f" "$_url" >/dev/null 2>&1 && _s=ok || _s=FAIL
	echo "$_t0 download $_seq $_cns $_url $_s $(wc -c < "$_f" 2>/dev/null || echo 0) bytes" >> "$OUT/traffic.log"
	rm -f "$_f"
}
download_traffic() {
	_cns=client _url=${3:-http://$VIP/}
	in_batches "$1" "${2:-3}" one_download
	_ok=$(grep -c " download .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " download .* FAIL" "$OUT/traffic.log" || true)
	glog "downloads: $1 of $_url (cumulative: $_ok ok, $_fail failed)"
}

# nft_drop_icmp_unreach NS: a filter input chain dropping ICMP
# destination-unreachable (incl. fragmentation-needed) in NS
nft_drop_icmp_unreach() {
	nsx "$1" nft -f - <<-'NFT'
	table inet filter {
		chain input {
			type filter hook input priority 0; policy accept;
			icmp type destination-unreachable drop
		}
	}
	NFT
}

# ------------------------------------------------------------------ busy keep-alive TCP
# keepalive_traffic WORKERS COUNT REQS PAUSE SRC...: WORKERS client loops in
# the client namespace (one `ip netns exec` each; worker K uses the source
# address SRC[K mod n] for all its connections: persistent clients), each
# making COUNT connections one after another to $VIP:$KA_PORT (9000, a
# tcp_echo_start server). socat connects first, then a session script on
# the connection reads the server's greeting and sends REQS requests
# ("req K W.I"), each after the previous answer came back and PAUSE seconds
# later (a `read -t` on the quiet connection: no sleep process), then
# closes. ok when every request came back; logged as "keepalive" lines
# (the greeting = the serving RS). Workers are started 0.05 s apart. Few
# processes per connection: the VM's emulated CPU is the limit.
keepalive_traffic() {
	_kw=$1 _kn=$2 _kr=$3 _kpz=$4; shift 4
	cat > /run/keepalive-session.sh <<-'SESSION'
	# one keep-alive session, stdin/stdout = the TCP connection (socat EXEC)
	name="" last="" k=1
	read -r -t 5 name || name=""
	while [ "$k" -le "$KA_R" ]; do
		echo "req $k $KA_ID"
		read -r -t 5 last || break
		[ "$k" = "$KA_R" ] || read -r -t "$KA_P" _x || true
		k=$((k + 1))
	done
	s=FAIL; [ "$last" = "req $KA_R $KA_ID" ] && s=ok
	echo "$KA_T0 keepalive $KA_ID $KA_SRC $KA_DST $KA_R requests $s $name" >> "$KA_LOG"
	exit 0
	SESSION
	cat > /run/keepalive-worker.sh <<-'WORKER'
	# keep-alive worker: W SRC COUNT (runs inside the client netns; KA_* from the environment)
	w=$1 src=$2 n=$3 i=0
	export KA_SRC=$src
	while [ "$i" -lt "$n" ]; do
		i=$((i + 1))
		read -r t0 _x < /proc/uptime
		KA_ID=$w.$i KA_T0=$t0 socat -T 10 "TCP:$KA_DST,bind=$src,connect-timeout=4" \
			EXEC:"sh /run/keepalive-session.sh" 2>/dev/null ||
			echo "$t0 keepalive $w.$i $src $KA_DST $KA_R requests FAIL (connect)" >> "$KA_LOG"
	done
	WORKER
	_k=0 _kpids=""
	while [ $_k -lt "$_kw" ]; do
		eval "_src=\${$((_k % $# + 1))}"
		(
			export KA_R="$_kr" KA_P="$_kpz" KA_DST="$VIP:${KA_PORT:-9000}" KA_LOG="$OUT/traffic.log"
			nsx client sh /run/keepalive-worker.sh "$_k" "$_src" "$_kn"
		) &
		_kpids="$_kpids $!"
		_k=$((_k + 1))
		sleep 0.05
	done
	for _p in $_kpids; do wait "$_p" || true; done
	_ok=$(grep -c " keepalive .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " keepalive .* FAIL" "$OUT/traffic.log" || true)
	glog "keep-alive connections: $_kw workers x $_kn to $VIP:${KA_PORT:-9000}, $_kr requests each ($_ok ok, $_fail failed)"
}

# ------------------------------------------------------------------ kube-proxy (IPVS mode)
# kube-proxy in IPVS mode, without Kubernetes: every node is a director.
# topo_kube: client 203.0.113.10 --- router (203.0.113.1 / 192.0.2.1) ---
# node network br-lvs 192.0.2.0/24: node1 eth0 192.0.2.2 (MAC 0d), with
# WITH_NODE2=1 node2 eth0 192.0.2.3 and eth1 198.51.100.2 on the pod
# network (MAC 0f); default via 192.0.2.1.
# Pod network br-priv 198.51.100.0/25: node1 eth1 198.51.100.1, pods rs1..rs3
# 198.51.100.11-13 (MAC 11..13), router eth2 198.51.100.126. The pods'
# default route is $KUBE_POD_GW: node1 (198.51.100.1, the default) or the
# router (198.51.100.126: "around the node", as pods on another node reply).
# With WITH_CPOD=1 a client pod cpod 198.51.100.130/26 (MAC 14) on br-pod
# behind node1 eth2 198.51.100.129/26 (default via node1). Pods serve HTTP
# on $KUBE_POD_PORT (8080) unless KUBE_NO_HTTPD=1.
# Services (kube_proxy): ClusterIP 198.51.100.200:80, LoadBalancer IP
# 192.0.2.100:80 (externalTrafficPolicy=Cluster), NodePort NODE_IP:30080.
# Cluster CIDR 198.51.100.0/24 (pods and the client pod; documentation
# ranges only, so the service range 198.51.100.192/26 lies inside it too).
KUBE_CLUSTER_IP=198.51.100.200
KUBE_LB_IP=$VIP
KUBE_NODE_PORT=30080
KUBE_CLUSTER_CIDR=198.51.100.0/24
KUBE_POD_GW=${KUBE_POD_GW:-198.51.100.1}
KUBE_POD_PORT=${KUBE_POD_PORT:-8080}
KUBE_NODES=""
topo_kube() {
	modprobe dummy
	modprobe nft_masq
	modprobe nft_fib_ipv4
	bridge_add br-client
	bridge_add br-lvs
	bridge_add br-priv
	netns_add client
	plug client 0 br-client 203.0.113.10/24
	nsx client ip route add default via $CLIENT_NET_GW
	netns_add router
	plug router 0 br-client 203.0.113.1/24
	plug router 1 br-lvs 192.0.2.1/24
	plug router 2 br-priv 198.51.100.126/25
	sysctl_ns router net.ipv4.ip_forward=1
	netns_add node1
	plug node1 0 br-lvs 192.0.2.2/24
	plug node1 1 br-priv 198.51.100.1/25
	nsx node1 ip route add default via $LVS_GW
	KUBE_NODES="node1"
	if [ "${WITH_NODE2:-0}" = 1 ]; then
		netns_add node2
		plug node2 0 br-lvs 192.0.2.3/24
		plug node2 1 br-priv 198.51.100.2/25
		nsx node2 ip route add default via $LVS_GW
		KUBE_NODES="node1 node2"
	fi
	for _n in 1 2 3; do
		netns_add rs$_n
		plug rs$_n 0 br-priv 198.51.100.1$_n/25
		nsx rs$_n ip route add default via "$KUBE_POD_GW"
		[ "${KUBE_NO_HTTPD:-0}" = 1 ] || httpd_start rs$_n "$KUBE_POD_PORT"
	done
	if [ "${WITH_CPOD:-0}" = 1 ]; then
		bridge_add br-pod
		plug node1 2 br-pod 198.51.100.129/26
		netns_add cpod
		plug cpod 0 br-pod 198.51.100.130/26
		nsx cpod ip route add default via 198.51.100.129
	fi
}

# kube_sysctls NODE: what kube-proxy's IPVS proxier sets (pkg/proxy/ipvs/
# proxier.go NewProxier): vs.conntrack=1, expire_nodest_conn=1,
# expire_quiescent_template=1, ip_forward=1. conn_reuse_mode is left as it
# is on kernels >= 5.9 (the lab's 6.1: default 1); strictARP (false by
# default) would set arp_ignore=1/arp_announce=2, so they stay 0.
kube_sysctls() {
	sysctl_ns "$1" net.ipv4.vs.conntrack=1 net.ipv4.vs.expire_nodest_conn=1 \
		net.ipv4.vs.expire_quiescent_template=1 net.ipv4.ip_forward=1
}

# kube_ipvs0 NODE: the dummy device kube-proxy creates (netlink LinkAdd, never
# set up: it stays DOWN) with every ClusterIP / LoadBalancer IP bound as /32
# (their local routes exist although the device is down).
kube_ipvs0() {
	nsx "$1" ip link add kube-ipvs0 type dummy
	nsx "$1" ip addr add $KUBE_CLUSTER_IP/32 dev kube-ipvs0
	nsx "$1" ip addr add $KUBE_LB_IP/32 dev kube-ipvs0
}

# kube_nft NODE: kube-proxy's iptables rules in IPVS mode (nat table), as
# iptables-nft renders them, written in nft syntax; the ipsets become named
# sets. Marks for masquerade (0x4000): the ClusterIP from outside the cluster
# CIDR, the LoadBalancer IP (KUBE-LOAD-BALANCER), the NodePort
# (KUBE-NODE-PORT); KUBE-POSTROUTING masquerades marked packets
# (--random-fully = fully-random).
kube_nft() {
	nsx "$1" nft -f - <<-NFT
	table ip nat {
		set KUBE-CLUSTER-IP {
			type ipv4_addr . inet_service
			elements = { $KUBE_CLUSTER_IP . 80 }
		}
		set KUBE-LOAD-BALANCER {
			type ipv4_addr . inet_service
			elements = { $KUBE_LB_IP . 80 }
		}
		set KUBE-NODE-PORT-TCP {
			type inet_service
			elements = { $KUBE_NODE_PORT }
		}
		chain PREROUTING {
			type nat hook prerouting priority dstnat; policy accept;
			jump KUBE-SERVICES
		}
		chain OUTPUT {
			type nat hook output priority -100; policy accept;
			jump KUBE-SERVICES
		}
		chain POSTROUTING {
			type nat hook postrouting priority srcnat; policy accept;
			jump KUBE-POSTROUTING
		}
		chain KUBE-SERVICES {
			ip daddr . tcp dport @KUBE-LOAD-BALANCER jump KUBE-LOAD-BALANCER
			ip saddr != $KUBE_CLUSTER_CIDR ip daddr . tcp dport @KUBE-CLUSTER-IP jump KUBE-MARK-MASQ
			fib daddr type local jump KUBE-NODE-PORT
			ip daddr . tcp dport @KUBE-CLUSTER-IP accept
			ip daddr . tcp dport @KUBE-LOAD-BALANCER accept
		}
		chain KUBE-LOAD-BALANCER {
			jump KUBE-MARK-MASQ
		}
		chain KUBE-NODE-PORT {
			tcp dport @KUBE-NODE-PORT-TCP jump KUBE-MARK-MASQ
		}
		chain KUBE-MARK-MASQ {
			meta mark set meta mark | 0x00004000
		}
		chain KUBE-POSTROUTING {
			meta mark & 0x00004000 != 0x00004000 return
			meta mark set meta mark ^ 0x00004000
			masquerade fully-random
		}
	}
	NFT
}

# kube_ipvs NODE NODE_IP: the IPVS table kube-proxy writes (rr, masquerade,
# weight 1): LoadBalancer IP, ClusterIP and NodePort, each to the three pods.
kube_ipvs() {
	_p=$KUBE_POD_PORT
	ipvs_setup "$1" -m rr $KUBE_LB_IP:80 198.51.100.11:$_p 198.51.100.12:$_p 198.51.100.13:$_p
	ipvs_setup "$1" -m rr $KUBE_CLUSTER_IP:80 198.51.100.11:$_p 198.51.100.12:$_p 198.51.100.13:$_p
	ipvs_setup "$1" -m rr "$2:$KUBE_NODE_PORT" 198.51.100.11:$_p 198.51.100.12:$_p 198.51.100.13:$_p
}

# kube_proxy NODE NODE_IP: all of it on one node
kube_proxy() {
	kube_sysctls "$1"
	kube_ipvs0 "$1"
	kube_nft "$1"
	kube_ipvs "$1" "$2"
}

# kube_collect: collect for the kube topology: node1's IPVS as ipvsadm-S.txt
# (-stats, -conn), node2's with a -node2 suffix; every host's config; each
# node's config also gets the nft ruleset, the local routing table, the
# net.ipv4.vs sysctls and the conntrack counters; snapshots with LVSDIAG_BIN.
kube_collect() {
	sleep "${STATS_SETTLE:-2.5}"
	for _d in $KUBE_NODES; do
		_sfx=""; [ "$_d" = node1 ] || _sfx="-$_d"
		nsx "$_d" ipvsadm -S -n > "$OUT/ipvsadm-S$_sfx.txt"
		nsx "$_d" ipvsadm -Ln --stats > "$OUT/ipvsadm-stats$_sfx.txt"
		nsx "$_d" ipvsadm -Lnc > "$OUT/ipvsadm-conn$_sfx.txt"
	done
	for _h in $HOSTS; do dump_config "$_h"; done
	for _d in $KUBE_NODES; do
		{
			echo "### ip route show table local"; nsx "$_d" ip route show table local
			echo "### sysctl net.ipv4.vs"
			for _f in /proc/sys/net/ipv4/vs/*; do
				echo "net.ipv4.vs.${_f##*/} = $(nsx "$_d" cat "$_f" 2>/dev/null | tr '\t' ' ')"
			done
			echo "### conntrack"
			echo "net.netfilter.nf_conntrack_max = $(cat /proc/sys/net/netfilter/nf_conntrack_max)"
			echo "net.netfilter.nf_conntrack_count = $(nsx "$_d" cat /proc/sys/net/netfilter/nf_conntrack_count)"
			echo "### /proc/net/stat/nf_conntrack"; nsx "$_d" cat /proc/net/stat/nf_conntrack
			echo "### nft list ruleset"; nsx "$_d" nft list ruleset
		} >> "$OUT/config/$_d.txt" 2>&1
	done
	if command -v lvsdiag >/dev/null 2>&1; then
		lvsdiag snapshot --all-netns --out "$OUT/snapshot"
	fi
}

# kube_udp_traffic NS DST COUNT [PAR] [SPORT] [GAP]: COUNT request/answer
# exchanges (socat, one datagram, 0.5 s for the answer) from namespace NS to
# DST (ADDR:PORT), PAR at a time from new source ports; with SPORT all from
# that port, one after another, GAP seconds apart (0.3). ok when the answer
# names a pod; logged as "udp" lines in traffic.log.
one_kube_udp() {
	_r=$(echo "q$_seq" | nsx "$_kns" timeout -s KILL 3 socat -T 0.5 - "UDP4:$_kdst$_ko" 2>&1) || true
	case "$_r" in rs[0-9]*) _s=ok ;; *) _s=FAIL ;; esac
	echo "$_t0 udp $_seq $_kns $_kdst${_ksp:+ from port $_ksp} $_s $(echo $_r | tr '\n' ' ')" >> "$OUT/traffic.log"
}
kube_udp_traffic() {
	_kns=$1 _kdst=$2 _kn=$3 _kpar=${4:-4} _ksp=${5:-} _kgap=${6:-0.3} _ko=""
	if [ -n "$_ksp" ]; then
		_ko=",sourceport=$_ksp,reuseaddr" _k=0
		while [ $_k -lt "$_kn" ]; do
			TRAFFIC_SEQ=$((TRAFFIC_SEQ + 1)) _seq=$TRAFFIC_SEQ _t0=$(cut -d' ' -f1 /proc/uptime)
			one_kube_udp
			_k=$((_k + 1))
			sleep "$_kgap"
		done
	else
		in_batches "$_kn" "$_kpar" one_kube_udp
	fi
	_ok=$(grep -c " udp .* ok " "$OUT/traffic.log" || true)
	_fail=$(grep -c " udp .* FAIL" "$OUT/traffic.log" || true)
	glog "udp: $_kn exchanges $_kns -> $_kdst${_ksp:+ from port $_ksp} (cumulative: $_ok ok, $_fail failed)"
}

# ns_kill NS NAME: kill the processes of namespace NS whose command line has NAME
ns_kill() {
	for _p in $(ip netns pids "$1"); do
		grep -q "$2" "/proc/$_p/cmdline" 2>/dev/null && kill "$_p" 2>/dev/null
	done
	return 0
}

# reset_server_start NS PORT: a TCP server that answers a line naming the
# host and then aborts the connection: the shell (exec'd in place of socat,
# nofork) does not read the request, so closing the socket with unread data
# (and SO_LINGER 0) sends a RST, never a FIN.
reset_server_start() {
	nsx "$1" socat "TCP-LISTEN:$2,fork,reuseaddr,linger=0" SYSTEM:"sleep 0.1; echo $1",nofork \
		</dev/null >/dev/null 2>&1 &
}
# kube_reuse_traffic NS DST COUNT [SPORT] [GAP]: COUNT connections one after
# another from NS to DST (ADDR:PORT), each sending a line and keeping its
# side open for $REUSE_HOLD s (3: the client sends no FIN before the
# server's answer and reset, even when its SYN had to be retransmitted); all
# from source port SPORT (reuseaddr) when given, GAP seconds (0.5) between
# them. Logged as
# "reuse" lines: ok when the answer names a pod, and how long it took.
kube_reuse_traffic() {
	_kns=$1 _kdst=$2 _kn=$3 _ksp=${4:-} _kgap=${5:-0.5} _ko="" _k=0
	[ -z "$_ksp" ] || _ko=",sourceport=$_ksp,reuseaddr"
	while [ $_k -lt "$_kn" ]; do
		TRAFFIC_SEQ=$((TRAFFIC_SEQ + 1)) _seq=$TRAFFIC_SEQ _t0=$(cut -d' ' -f1 /proc/uptime)
		_r=$( (echo "hi $_seq"; sleep "${REUSE_HOLD:-3}") | nsx "$_kns" timeout -s KILL 5 socat -T 4 - "TCP:$_kdst$_ko" 2>/dev/null) || true
		_t1=$(cut -d' ' -f1 /proc/uptime)
		case "$_r" in rs[0-9]*) _s=ok ;; *) _s=FAIL ;; esac
		echo "$_t0 reuse $_seq $_kns $_kdst${_ksp:+ from port $_ksp} $_s $(echo $_r | tr '\n' ' ') $(awk -v a="$_t0" -v b="$_t1" 'BEGIN{printf "%.2fs", b-a}')" >> "$OUT/traffic.log"
		_k=$((_k + 1))
		sleep "$_kgap"
	done
	_ok=$(grep -c " reuse .* ok " "$OUT/traffic.log" || true)
	glog "reuse: $_kn connections $_kns -> $_kdst${_ksp:+ from port $_ksp} (cumulative: $_ok ok)"
}

# ------------------------------------------------------------------ TUN with GUE encapsulation
# ipvs_tun_gue: the DR/TUN service with IP-in-GUE destinations
# (ipvsadm >= 1.31: -i --tun-type gue --tun-port $GUE_PORT); the director
# wraps each packet in UDP (dport GUE_PORT) + a GUE header (proto IPIP).
GUE_PORT=${GUE_PORT:-6080}
ipvs_tun_gue() {
	_ns=${IPVS_NS:-director}
	nsx "$_ns" ipvsadm -A -t $VIP:80 -s rr
	for _n in 1 2 3; do
		nsx "$_ns" ipvsadm -a -t $VIP:80 -r 192.0.2.1$_n:80 -i --tun-type gue --tun-port $GUE_PORT -w 1
	done
}
# rs_gue_ok NS...: a TUN real server (rs_tun_ok: tunl0 up with the VIP) that
# also takes GUE on UDP $GUE_PORT (fou module, `ip fou add port P gue`: the
# GUE payload, an IPv4 packet, goes on to the IP-in-IP handler, i.e. tunl0).
rs_gue_listen() { modprobe fou; for _r in "$@"; do nsx "$_r" ip fou add port $GUE_PORT gue; done; }
rs_gue_ok() { rs_tun_ok "$@"; rs_gue_listen "$@"; }
