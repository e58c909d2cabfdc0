#!/bin/bash
# Experiment 2: netdev ingress/egress with udp and icmp, inet nat (dnat verdict), masquerade, dscp/ecn, a known icmp echo.
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
table netdev nd {
	chain ing {
		type filter hook ingress device "veth0" priority 0; policy accept;
		meta l4proto { icmp, udp } meta nftrace set 1
	}
	chain eg {
		type filter hook egress device "veth1" priority 0; policy accept;
		udp dport 7001 counter
		meta mark set 0x00000003
	}
}
table inet nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		udp dport 7000 dnat ip to 10.9.1.2:7001
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "veth1" masquerade
	}
}
table ip f {
	chain fw {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		ct state new ct status dnat accept
		udp dport 7002 drop
	}
}
NFT
ip netns exec $A nft monitor trace > exp2.monitor.txt 2>&1 &
MON=$!
sleep 1
echo "== icmp echo raw id 0x1234 seq 7 payload abcdefghijklmnop, tos 0xb9"
ip netns exec $B python3 - <<'PY'
import socket, struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); s=(s&0xffff)+(s>>16); s=(s&0xffff)+(s>>16); return ~s&0xffff
data=b'abcdefghijklmnop'
h=struct.pack('!BBHHH',8,0,0,0x1234,7)
c=csum(h+data)
pkt=struct.pack('!BBHHH',8,0,c,0x1234,7)+data
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0xb9)
s.sendto(pkt,('10.9.0.1',0))
PY
sleep 0.5
echo "== udp 7000 (dnat to c:7001) payload hello"
ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.bind(('0.0.0.0',41000));s.sendto(b'hello',('10.9.0.1',7000))"; sleep 0.5
echo "== udp 7002 forwarded, dropped"
ip netns exec $B python3 -c "import socket;s=socket.socket(2,2);s.bind(('0.0.0.0',41001));s.sendto(b'',('10.9.1.2',7002))"; sleep 0.5
sleep 1
kill $MON
ip netns exec $A nft list ruleset > exp2.ruleset-after.txt
ip -n $B link show eth0 | grep ether > exp2.macs.txt; ip -n $A link show veth0 | grep ether >> exp2.macs.txt; ip -n $A link show veth1 | grep ether >> exp2.macs.txt
for n in $A $B $C; do ip netns del $n; done
