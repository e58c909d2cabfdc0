#!/bin/bash
# Experiment 1: ip/inet families, input/output/forward/postrouting, jump/goto/return/vmap, policy-only chains.
A=tsi-eval-a; B=tsi-eval-b; C=tsi-eval-c
for n in $A $B $C; do ip netns del $n 2>/dev/null; ip netns add $n; ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip -n $n link set lo up; done
ip -n $A link add veth0 type veth peer name eth0 netns $B
ip -n $A link add veth1 type veth peer name eth0 netns $C
ip -n $A addr add 10.9.0.1/24 dev veth0; ip -n $A addr add 10.9.1.1/24 dev veth1
ip -n $A link set veth0 up; ip -n $A link set veth1 up
ip -n $B addr add 10.9.0.2/24 dev eth0; ip -n $B link set eth0 up; ip -n $B route add default via 10.9.0.1
ip -n $C addr add 10.9.1.2/24 dev eth0; ip -n $C link set eth0 up; ip -n $C route add default via 10.9.1.1
ip netns exec $A sysctl -qw net.ipv4.ip_forward=1
ip netns exec $A nft -f - <<'NFT'
table ip t {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		meta nftrace set 1
	}
	chain in {
		type filter hook input priority 0; policy accept;
		icmp type echo-request jump sub
		udp dport 5000 goto sub2
		tcp dport 81 counter drop
		udp dport 5001 meta mark set 0x7 drop
		udp dport 5002 ip daddr vmap { 10.9.0.1 : jump sub3 }
		udp dport 5003 jump sub4
		tcp flags syn tcp dport 82 reject with tcp reset
		udp dport 5004 reject
	}
	chain sub {
		meta mark set 0x5 return
	}
	chain sub2 {
		counter packets 0 bytes 0
	}
	chain sub3 {
		ip saddr 1.2.3.4 accept
	}
	chain sub4 {
		udp dport 5003 accept
	}
	chain fw {
		type filter hook forward priority 0; policy accept;
		udp dport 6000 counter
	}
	chain outc {
		type filter hook output priority 0; policy accept;
		meta nftrace set 1
	}
	chain postc {
		type filter hook postrouting priority 0; policy accept;
		meta l4proto udp counter
	}
}
table ip t2 {
	chain in2 {
		type filter hook input priority 5; policy accept;
	}
}
table inet ti {
	chain in {
		type filter hook input priority 10; policy accept;
		counter
	}
}
NFT
# traffic before the monitor starts (counters become nonzero)
ip netns exec $B ping -c1 -W1 10.9.0.1 >/dev/null
ip netns exec $A nft monitor trace > monitor.txt 2>&1 &
MON=$!
sleep 1
echo "== ping b->a"; ip netns exec $B ping -c1 -W1 10.9.0.1 >/dev/null; sleep 0.3
echo "== udp 5000"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'hello',('10.9.0.1',5000))"; sleep 0.3
echo "== udp 5001"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'hello',('10.9.0.1',5001))"; sleep 0.3
echo "== udp 5002"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'',('10.9.0.1',5002))"; sleep 0.3
echo "== udp 5003"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'x'*40,('10.9.0.1',5003))"; sleep 0.3
echo "== tcp 81"; ip netns exec $B timeout 2 nc -z -w1 10.9.0.1 81; sleep 0.3
echo "== tcp 82"; ip netns exec $B timeout 2 nc -z -w1 10.9.0.1 82; sleep 0.3
echo "== udp 5004"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'hi',('10.9.0.1',5004))"; sleep 0.3
echo "== fwd udp 6000 b->c"; ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'fwd',('10.9.1.2',6000))"; sleep 0.3
echo "== local a->c udp"; ip netns exec $A python3 -c "import socket;s=socket.socket(2,2);s.sendto(b'loc',('10.9.1.2',6001))"; sleep 0.3
sleep 1
kill $MON
ip netns exec $A nft list ruleset > ruleset-after.txt
for n in $A $B $C; do ip netns del $n; done
