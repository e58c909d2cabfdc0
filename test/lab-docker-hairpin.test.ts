/**
 * Why Docker (with userland-proxy=false) and Kubernetes need br_netfilter: a container reaches another one by a
 * DNATed address (the host's published port), and the answer goes straight back across the bridge. With
 * bridge-nf-call-iptables=1 the bridged answer walks the host's POSTROUTING, where conntrack undoes the DNAT; with
 * 0 it arrives from 172.17.0.2:80, the client's kernel knows no such connection and resets it, the SYN is sent
 * again, and curl gives up (conntrack keeps the entry SYN_SENT, UNREPLIED). The script below (docker-bridge.sh's
 * set-up with the DNAT rule for every interface) was run for real 3 times alike on 6.18 (by
 * scripts/record-labs.ts in tsi-* namespaces, kernel 6.18.44-fc-v857); the simulation must print its masked transcript.
 */
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const SCRIPT = `#!/bin/bash
# docker-bridge.sh: what Docker's default bridge network is made of, and the iptables rules Docker 24 writes for a
# published port (\`docker run -p 8080:80\` on container 1), run for real.
#
#   outside 10.0.1.2 --- eth0 10.0.1.1 [dhost: docker0 172.17.0.1/16] veth1 --- eth0 172.17.0.2 ctr1
#                                                                      veth2 --- eth0 172.17.0.3 ctr2
#
# What it teaches:
#  - the published port is a DNAT in nat PREROUTING (through the DOCKER chain, for any local destination address:
#    \`-m addrtype --dst-type LOCAL\`), and the filter FORWARD chain (policy DROP) lets the translated connection in
#    by the DOCKER chain's rule for 172.17.0.2:80 only; the answers come back by the RELATED,ESTABLISHED rule;
#  - containers reach the outside through MASQUERADE (\`-s 172.17.0.0/16 ! -o docker0\`): tcpdump on the host's
#    eth0 sees 10.0.1.1, never 172.17.0.3;
#  - container to container traffic is bridged by docker0, yet with br_netfilter (bridge-nf-call-iptables=1, the
#    default of a new namespace, and what Docker asks for) it walks the host's FORWARD chain, IN=docker0
#    OUT=docker0 with PHYSIN=/PHYSOUT= the veths: the \`-i docker0 -o docker0 -j ACCEPT\` rule lets it pass (its
#    counter), and conntrack tracks it like any forwarded connection;
#  - DOCKER-USER is where a user's own rules go: it sees every forwarded packet first (here a LOG of the pings).
#
# Run it as root: bash docker-bridge.sh (needs the br_netfilter module: modprobe br_netfilter)
set -e

ip netns add outside
ip netns add dhost
ip netns add ctr1
ip netns add ctr2

ip netns exec outside sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip netns exec dhost sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip netns exec ctr1 sysctl -w net.ipv6.conf.default.disable_ipv6=1
ip netns exec ctr2 sysctl -w net.ipv6.conf.default.disable_ipv6=1

# The host's uplink, and the outside client on it.
ip -n outside link add eth0 type veth peer name eth0 netns dhost
ip -n outside addr add 10.0.1.2/24 dev eth0
ip -n outside link set eth0 up
ip -n dhost addr add 10.0.1.1/24 dev eth0
ip -n dhost link set eth0 up

# docker0, and one veth per container: the host end is a bridge port, the other end is the container's eth0.
ip -n dhost link add docker0 type bridge
ip -n dhost addr add 172.17.0.1/16 dev docker0
ip -n dhost link set docker0 up
ip -n dhost link add veth1 type veth peer name eth0 netns ctr1
ip -n dhost link add veth2 type veth peer name eth0 netns ctr2
ip -n dhost link set veth1 master docker0
ip -n dhost link set veth2 master docker0
ip -n dhost link set veth1 up
ip -n dhost link set veth2 up

ip -n ctr1 addr add 172.17.0.2/16 dev eth0
ip -n ctr1 link set eth0 up
ip -n ctr1 route add default via 172.17.0.1
ip -n ctr2 addr add 172.17.0.3/16 dev eth0
ip -n ctr2 link set eth0 up
ip -n ctr2 route add default via 172.17.0.1

ip netns exec dhost sysctl -w net.ipv4.ip_forward=1
ip netns exec dhost sysctl net.bridge.bridge-nf-call-iptables

# docker0 came up with multicast snooping: it joins 224.0.0.106 and says so twice (IGMP reports from 172.17.0.1)
# within a second or so. Let that pass before the rules are there, or conntrack and the OUTPUT counters see it.
sleep 2

# The rules, as iptables-save shows them on a Docker 24 host with one container publishing 8080:80.
ip netns exec dhost iptables-restore <<'RULES'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
RULES
# A user's rule: log the pings the host forwards.
ip netns exec dhost iptables -I DOCKER-USER -p icmp -j LOG --log-prefix "DOCKER-USER "

# The host's uplink, on the wire.
ip netns exec ctr2 tcpdump -i eth0 -n &
sleep 1

# userland-proxy=false: containers reach the published port by DNAT too. ctr1's answer to ctr2 is bridged, and
# only br_netfilter's POSTROUTING undoes the DNAT on it.
ip netns exec ctr1 nc -l -p 80 &
sleep 1
ip netns exec ctr2 curl -s -m 2 http://10.0.1.1:8080/ || true
ip netns exec dhost conntrack -L
ip netns exec dhost conntrack -F
# Without bridge-nf-call-iptables the answer comes back from 172.17.0.2:80 untranslated: ctr2 knows no such
# connection and resets it.
ip netns exec dhost sysctl -w net.bridge.bridge-nf-call-iptables=0
ip netns exec ctr1 nc -l -p 80 &
sleep 1
ip netns exec ctr2 curl -s -m 2 http://10.0.1.1:8080/ || echo "curl: exit $?"
ip netns exec dhost conntrack -L
# ctr1's listener is still there: straight to 172.17.0.2 it answers (and is done).
ip netns exec ctr2 nc -zv -w 2 172.17.0.2 80

sleep 1
kill %1
wait

ip netns exec dhost iptables -vnL
ip netns exec dhost iptables -t nat -vnL
dmesg

ip netns del outside
ip netns del dhost
ip netns del ctr1
ip netns del ctr2
`;

const REAL = `net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
net.ipv6.conf.default.disable_ipv6 = 1
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
tcpdump: verbose output suppressed, use -v[v]... for full protocol decode
listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes
GET / HTTP/1.1\r
Host: 10.0.1.1:8080\r
User-Agent: curl/7.88.1\r
Accept: */*\r
\r
conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.
tcp      6 <timeout> TIME_WAIT src=172.17.0.3 dst=10.0.1.1 sport=<port> dport=8080 src=172.17.0.2 dst=172.17.0.3 sport=80 dport=<port> [ASSURED] mark=0 use=1
conntrack v1.4.7 (conntrack-tools): connection tracking table has been emptied.
net.bridge.bridge-nf-call-iptables = 0
curl: exit 28
conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.
tcp      6 <timeout> SYN_SENT src=172.17.0.3 dst=10.0.1.1 sport=<port> dport=8080 [UNREPLIED] src=172.17.0.2 dst=172.17.0.3 sport=80 dport=<port> mark=0 use=1
Connection to 172.17.0.2 80 port [tcp/http] succeeded!
<time> ARP, Request who-has 172.17.0.1 tell 172.17.0.3, length 28
<time> ARP, Reply 172.17.0.1 is-at <mac>, length 28
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [S], seq <seq>, win 64240, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> ARP, Request who-has 172.17.0.2 tell 172.17.0.1, length 28
<time> ARP, Request who-has 172.17.0.3 tell 172.17.0.2, length 28
<time> ARP, Reply 172.17.0.3 is-at <mac>, length 28
<time> IP 10.0.1.1.8080 > 172.17.0.3.<port>: Flags [S.], seq <seq>, ack <seq>, win 65160, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [.], ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [P.], seq <seq>, ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 77: HTTP: GET / HTTP/1.1
<time> IP 10.0.1.1.8080 > 172.17.0.3.<port>: Flags [.], ack <seq>, win 64, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [F.], seq <seq>, ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 10.0.1.1.8080 > 172.17.0.3.<port>: Flags [F.], seq <seq>, ack <seq>, win 64, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [.], ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [S], seq <seq>, win 64240, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.2.80 > 172.17.0.3.<port>: Flags [S.], seq <seq>, ack <seq>, win 65160, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [R], seq <seq>, win 0, length 0
<time> IP 172.17.0.3.<port> > 10.0.1.1.8080: Flags [S], seq <seq>, win 64240, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.2.80 > 172.17.0.3.<port>: Flags [S.], seq <seq>, ack <seq>, win 65160, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [R], seq <seq>, win 0, length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [S], seq <seq>, win 64240, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.2.80 > 172.17.0.3.<port>: Flags [S.], seq <seq>, ack <seq>, win 65160, options [mss 1460,sackOK,TS val <ts> ecr <ts>,nop,wscale 10], length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [.], ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [F.], seq <seq>, ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.2.80 > 172.17.0.3.<port>: Flags [F.], seq <seq>, ack <seq>, win 64, options [nop,nop,TS val <ts> ecr <ts>], length 0
<time> IP 172.17.0.3.<port> > 172.17.0.2.80: Flags [.], ack <seq>, win 63, options [nop,nop,TS val <ts> ecr <ts>], length 0

25 packets captured
25 packets received by filter
0 packets dropped by kernel
Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         

Chain FORWARD (policy DROP 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
   10   629 DOCKER-USER  0    --  *      *       0.0.0.0/0            0.0.0.0/0           
   10   629 DOCKER-ISOLATION-STAGE-1  0    --  *      *       0.0.0.0/0            0.0.0.0/0           
    7   449 ACCEPT     0    --  *      docker0  0.0.0.0/0            0.0.0.0/0            ctstate RELATED,ESTABLISHED
    3   180 DOCKER     0    --  *      docker0  0.0.0.0/0            0.0.0.0/0           
    0     0 ACCEPT     0    --  docker0 !docker0  0.0.0.0/0            0.0.0.0/0           
    3   180 ACCEPT     0    --  docker0 docker0  0.0.0.0/0            0.0.0.0/0           

Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         

Chain DOCKER (1 references)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 ACCEPT     6    --  !docker0 docker0  0.0.0.0/0            172.17.0.2           tcp dpt:80

Chain DOCKER-ISOLATION-STAGE-1 (1 references)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 DOCKER-ISOLATION-STAGE-2  0    --  docker0 !docker0  0.0.0.0/0            0.0.0.0/0           
   10   629 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0           

Chain DOCKER-ISOLATION-STAGE-2 (1 references)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 DROP       0    --  *      docker0  0.0.0.0/0            0.0.0.0/0           
    0     0 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0           

Chain DOCKER-USER (1 references)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 LOG        1    --  *      *       0.0.0.0/0            0.0.0.0/0            LOG flags 0 level 4 prefix "DOCKER-USER "
   10   629 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0           
Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    2   120 DOCKER     0    --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL

Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         

Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 DOCKER     0    --  *      *       0.0.0.0/0           !127.0.0.0/8          ADDRTYPE match dst-type LOCAL

Chain POSTROUTING (policy ACCEPT 2 packets, 120 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 MASQUERADE  0    --  *      !docker0  172.17.0.0/16        0.0.0.0/0           
    0     0 MASQUERADE  6    --  *      *       172.17.0.2           172.17.0.2           tcp dpt:80

Chain DOCKER (2 references)
 pkts bytes target     prot opt in     out     source               destination         
    2   120 DNAT       6    --  *      *       0.0.0.0/0            0.0.0.0/0            tcp dpt:8080 to:172.17.0.2:80
`;

describe('Docker hairpin DNAT across the bridge, with and without bridge-nf-call-iptables (recorded on 6.18)', () => {
  it('prints what the real run printed', async () => {
    const r = await runLab(SCRIPT, { scriptName: 'docker-hairpin.sh' });
    expect(r.unsupported).toEqual([]);
    expect(maskTranscript(r.transcript).split('\n')).toEqual(REAL.split('\n'));
    expect(r.status).toBe(0);
  });
});
