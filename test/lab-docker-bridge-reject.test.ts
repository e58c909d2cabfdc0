/**
 * A REJECT in the FORWARD chain br_netfilter runs for bridged frames (src/lab/bridge.ts rejectAnswer), and
 * tcpdump -e (src/lab/apps.ts): the script below was run for real on 6.18 (iptables-nft 1.8.9, tcpdump 4.99.3,
 * netcat-openbsd 1.219, by scripts/record-labs.ts in tsi-* namespaces, kernel 6.18.44-fc-v857); the simulation must print
 * its masked transcript. The ICMP errors come from the switch's own address (after its ARP for the sender), the
 * RST from the destination, straight back out of the port; ping counts the error, nc -zu gives up silently.
 */
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const SCRIPT = `#!/bin/bash
# experiment: REJECT in FORWARD for bridged packets (br_netfilter), with and without an address on the bridge
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
ip netns exec sw iptables -A FORWARD -p tcp --dport 80 -j REJECT --reject-with tcp-reset
ip netns exec sw iptables -A FORWARD -p udp --dport 53 -j REJECT
ip netns exec sw iptables -A FORWARD -p icmp --icmp-type echo-request -j REJECT --reject-with icmp-host-prohibited
ip netns exec h1 tcpdump -i eth0 -n -e &
sleep 1
ip netns exec h1 ping -c 1 -W 1 10.0.0.2 || echo "exit $?"
ip netns exec h1 nc -zv -w 2 10.0.0.2 80 || echo "exit $?"
ip netns exec h1 nc -zuv -w 2 10.0.0.2 53 || echo "exit $?"
ip netns exec sw conntrack -L || true
sleep 1
kill %1
wait
ip netns exec sw iptables -vnL FORWARD
ip netns exec sw iptables -vnL OUTPUT
ip netns del h1
ip netns del h2
ip netns del sw
`;

const REAL = `net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
tcpdump: verbose output suppressed, use -v[v]... for full protocol decode
listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
From 10.0.0.254 icmp_seq=1 Destination Host Prohibited

--- 10.0.0.2 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time <time>ms

exit 1
nc: connect to 10.0.0.2 port 80 (tcp) failed: Connection refused
exit 1
exit 1
conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.
<time> <mac> > <mac>, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28
<time> <mac> > <mac>, ethertype ARP (0x0806), length 42: Reply 10.0.0.2 is-at <mac>, length 28
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 98: 10.0.0.1 > 10.0.0.2: ICMP echo request, id <id>, seq 1, length 64
<time> <mac> > <mac>, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.1 tell 10.0.0.254, length 28
<time> <mac> > <mac>, ethertype ARP (0x0806), length 42: Reply 10.0.0.1 is-at <mac>, length 28
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 126: 10.0.0.254 > 10.0.0.1: ICMP host 10.0.0.2 unreachable - admin prohibited, length 92
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 74: 10.0.0.1.<port> > 10.0.0.2.80: Flags [S], seq <seq>, win 64240, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 54: 10.0.0.2.80 > 10.0.0.1.<port>: Flags [R.], seq <seq>, ack <seq>, win 0, length 0
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 43: 10.0.0.1.<port> > 10.0.0.2.53: domain [length 1 < 12] (invalid)
<time> <mac> > <mac>, ethertype IPv4 (0x0800), length 71: 10.0.0.254 > 10.0.0.1: ICMP 10.0.0.2 udp port 53 unreachable, length 37

10 packets captured
10 packets received by filter
0 packets dropped by kernel
Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    1    60 REJECT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp dpt:80 reject-with tcp-reset
    1    29 REJECT     17   --  *      *       0.0.0.0/0            0.0.0.0/0            udp dpt:53 reject-with icmp-port-unreachable
    1    84 REJECT     1    --  *      *       0.0.0.0/0            0.0.0.0/0            icmptype 8 reject-with icmp-host-prohibited
Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
`;

describe('REJECT on the bridged path, tcpdump -e (recorded by hand on 6.18)', () => {
  it('prints what the real run printed', async () => {
    const r = await runLab(SCRIPT, { scriptName: 'bridge-reject.sh' });
    expect(r.unsupported).toEqual([]);
    expect(maskTranscript(r.transcript).split('\n')).toEqual(REAL.split('\n'));
    expect(r.status).toBe(0);
  });
});
