/**
 * netdev ingress/egress chains on bridge ports and on the bridge device, next to bridge family chains and the ip
 * PREROUTING br_netfilter calls (Tracer.portHook, bridgeUp): a bridged frame meets ingress of its in port, the
 * bridge's prerouting (and ip PREROUTING), forward, then egress of its out port (raw, its Ethernet header
 * counted); a frame for the bridge itself meets the port's ingress, bridge prerouting and input, and only then the
 * bridge device's ingress (before ip PREROUTING with bridge-nf-call-iptables=0). The script below was run for real
 * on 6.18 (nft 1.0.6, by scripts/record-labs.ts in tsi-* namespaces, kernel 6.18.44-fc-v857); the simulation must print its
 * masked transcript.
 */
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const SCRIPT = `#!/bin/bash
# experiment: netdev ingress/egress on bridge ports and on the bridge device, next to bridge family chains
set -e
ip netns add h1
ip netns add h2
ip netns add sw
ip netns exec h1 sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip netns exec h2 sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip netns exec sw sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip -n h1 link add eth0 type veth peer name p1 netns sw
ip -n h2 link add eth0 type veth peer name p2 netns sw
ip -n sw link add br0 type bridge
ip -n sw link set p1 master br0
ip -n sw link set p2 master br0
ip -n sw link set p1 up
ip -n sw link set p2 up
ip -n sw link set br0 up
ip -n sw addr add 10.0.0.254/24 dev br0
ip -n h1 addr add 10.0.0.1/24 dev eth0
ip -n h1 link set eth0 up
ip -n h2 addr add 10.0.0.2/24 dev eth0
ip -n h2 link set eth0 up
sleep 2
ip netns exec sw nft -f - <<'NFT'
table netdev n {
	chain in_p1 {
		type filter hook ingress device "p1" priority 0; policy accept;
		ip protocol icmp meta nftrace set 1 counter
	}
	chain in_br0 {
		type filter hook ingress device "br0" priority 0; policy accept;
		ip protocol icmp counter
	}
	chain out_p2 {
		type filter hook egress device "p2" priority 0; policy accept;
		ip protocol icmp counter
	}
	chain out_p1 {
		type filter hook egress device "p1" priority 0; policy accept;
		ip protocol icmp counter
	}
}
table bridge b {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip protocol icmp counter
	}
	chain fw {
		type filter hook forward priority 0; policy accept;
		ip protocol icmp counter
	}
	chain inp {
		type filter hook input priority 0; policy accept;
		ip protocol icmp counter
	}
}
table ip t {
	chain ip_pre {
		type filter hook prerouting priority 0; policy accept;
		ip protocol icmp counter
	}
}
NFT
ip netns exec sw nft monitor trace > trace.txt &
sleep 1
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip netns exec h1 ping -c 1 -W 1 10.0.0.254
ip netns exec sw sysctl -w net.bridge.bridge-nf-call-iptables=0
ip netns exec h1 ping -c 1 -W 1 10.0.0.254
sleep 1
kill %1
wait
cat trace.txt
ip netns exec sw nft list ruleset
ip netns del h1
ip netns del h2
ip netns del sw
`;

const REAL = `net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=<time> ms

--- 10.0.0.2 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time <time>ms
rtt min/avg/max/mdev = <rtt> ms
PING 10.0.0.254 (10.0.0.254) 56(84) bytes of data.
64 bytes from 10.0.0.254: icmp_seq=1 ttl=64 time=<time> ms

--- 10.0.0.254 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time <time>ms
rtt min/avg/max/mdev = <rtt> ms
net.bridge.bridge-nf-call-iptables = 0
PING 10.0.0.254 (10.0.0.254) 56(84) bytes of data.
64 bytes from 10.0.0.254: icmp_seq=1 ttl=64 time=<time> ms

--- 10.0.0.254 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time <time>ms
rtt min/avg/max/mdev = <rtt> ms
trace id <id> netdev n in_p1 packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> netdev n in_p1 rule ip protocol icmp meta nftrace set 1 counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n in_p1 policy accept 
trace id <id> bridge b pre packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b pre policy accept 
trace id <id> ip t ip_pre packet: iif "br0" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> ip t ip_pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> ip t ip_pre policy accept 
trace id <id> bridge b fw packet: iif "p1" oif "p2" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b fw rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b fw policy accept 
trace id <id> netdev n out_p2 packet: oif "p2" @nh,0,160 0x45000054<id>40004001<ck>0a0000010a000002 @th,0,160 <hdr> 
trace id <id> netdev n out_p2 rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n out_p2 policy accept 
trace id <id> netdev n in_p1 packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> netdev n in_p1 rule ip protocol icmp meta nftrace set 1 counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n in_p1 policy accept 
trace id <id> bridge b pre packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b pre policy accept 
trace id <id> ip t ip_pre packet: iif "br0" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> ip t ip_pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> ip t ip_pre policy accept 
trace id <id> bridge b inp packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b inp rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b inp policy accept 
trace id <id> netdev n in_br0 packet: iif "br0" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> netdev n in_br0 rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n in_br0 policy accept 
trace id <id> netdev n in_p1 packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> netdev n in_p1 rule ip protocol icmp meta nftrace set 1 counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n in_p1 policy accept 
trace id <id> bridge b pre packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b pre policy accept 
trace id <id> bridge b inp packet: iif "p1" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> bridge b inp rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> bridge b inp policy accept 
trace id <id> netdev n in_br0 packet: iif "br0" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> netdev n in_br0 rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> netdev n in_br0 policy accept 
trace id <id> ip t ip_pre packet: iif "br0" ether saddr <mac> ether daddr <mac> ip saddr 10.0.0.1 ip daddr 10.0.0.254 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id <id> ip length 84 icmp type echo-request icmp code net-unreachable icmp id <id> icmp sequence 1 @th,64,96 <hdr> 
trace id <id> ip t ip_pre rule ip protocol icmp counter packets 0 bytes 0 (verdict continue)
trace id <id> ip t ip_pre policy accept 
table netdev n {
	chain in_p1 {
		type filter hook ingress device "p1" priority filter; policy accept;
		ip protocol icmp meta nftrace set 1 counter packets 3 bytes 252
	}

	chain in_br0 {
		type filter hook ingress device "br0" priority filter; policy accept;
		ip protocol icmp counter packets 2 bytes 168
	}

	chain out_p2 {
		type filter hook egress device "p2" priority filter; policy accept;
		ip protocol icmp counter packets 1 bytes 98
	}

	chain out_p1 {
		type filter hook egress device "p1" priority filter; policy accept;
		ip protocol icmp counter packets 3 bytes 294
	}
}
table bridge b {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip protocol icmp counter packets 4 bytes 336
	}

	chain fw {
		type filter hook forward priority 0; policy accept;
		ip protocol icmp counter packets 2 bytes 168
	}

	chain inp {
		type filter hook input priority 0; policy accept;
		ip protocol icmp counter packets 2 bytes 168
	}
}
table ip t {
	chain ip_pre {
		type filter hook prerouting priority filter; policy accept;
		ip protocol icmp counter packets 4 bytes 336
	}
}
`;

describe('netdev chains on bridge ports and the bridge device (recorded on 6.18)', () => {
  it('prints what the real run printed', async () => {
    const r = await runLab(SCRIPT, { scriptName: 'bridge-netdev.sh' });
    expect(r.unsupported).toEqual([]);
    expect(maskTranscript(r.transcript).split('\n')).toEqual(REAL.split('\n'));
    expect(r.status).toBe(0);
  });
});
