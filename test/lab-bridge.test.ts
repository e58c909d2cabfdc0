/**
 * Linux bridges in labs (src/lab/bridge.ts) and br_netfilter (Tracer.runBridged): the bundled lab
 * fixtures/labs/bridge-nf.sh is checked against its real run by test/labs.test.ts; here, what it does not show,
 * against a run by hand on the same kernel (6.18, iptables-nft 1.8.9, in tsi-br-* namespaces): LOG lines in
 * mangle PREROUTING/POSTROUTING/INPUT/OUTPUT of the switch (POSTROUTING has no IN= and no MAC=, both PHYS* names),
 * tcpdump on the bridge device (promiscuous: it shows every bridged frame), a port taken out with `nomaster`,
 * a deleted bridge, and the physdev match.
 */
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';
import { addressSet, releasePort, setMaster } from '../src/lab/bridge';

const SETUP = `
ip netns add h1
ip netns add h2
ip netns add sw
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
`;

async function lab(body: string): Promise<{ out: string[]; status: number; unsupported: unknown[]; received: string[] }> {
  const r = await runLab(SETUP + body, { scriptName: 'lab.sh' });
  const out = maskTranscript(r.transcript).split('\n');
  // ping's statistics, in order: how many replies each ping got.
  const received = out.flatMap((l) => /^\d+ packets transmitted, (\d+) received/.exec(l)?.[1] ?? []);
  // The rest, without ping's lines.
  const rest = out.filter((l) => !/^(PING |64 bytes |--- |\d+ packets transmitted|rtt |$)/.test(l));
  return { out: rest, status: r.status, unsupported: r.unsupported, received };
}

/** What the real run by hand printed (tcpdump -i br0 in sw, then dmesg), masked as the transcripts are. */
const REAL = maskTranscript(`04:33:33.838451 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
04:33:33.838465 ARP, Reply 10.0.0.2 is-at 3a:f1:58:e9:7f:58, length 28
04:33:33.838499 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 9651, seq 1, length 64
04:33:33.838531 IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 9651, seq 1, length 64
04:33:33.842615 ARP, Request who-has 10.0.0.254 tell 10.0.0.1, length 28
04:33:33.842634 ARP, Reply 10.0.0.254 is-at c6:5c:15:62:46:e1, length 28
04:33:33.842642 IP 10.0.0.1 > 10.0.0.254: ICMP echo request, id 9652, seq 1, length 64
04:33:33.842684 IP 10.0.0.254 > 10.0.0.1: ICMP echo reply, id 9652, seq 1, length 64
04:33:33.849793 ARP, Request who-has 10.0.0.2 tell 10.0.0.254, length 28
04:33:33.849820 ARP, Reply 10.0.0.2 is-at 3a:f1:58:e9:7f:58, length 28
04:33:33.849828 IP 10.0.0.254 > 10.0.0.2: ICMP echo request, id 9653, seq 1, length 64
04:33:33.849840 IP 10.0.0.2 > 10.0.0.254: ICMP echo reply, id 9653, seq 1, length 64

12 packets captured
12 packets received by filter
0 packets dropped by kernel
[27152.739221] tsibr-PRE IN=br0 OUT= PHYSIN=p1 MAC=3a:f1:58:e9:7f:58:12:d5:68:10:a4:96:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=16423 DF PROTO=ICMP TYPE=8 CODE=0 ID=9651 SEQ=1 
[27152.739232] tsibr-POST IN= OUT=br0 PHYSIN=p1 PHYSOUT=p2 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=16423 DF PROTO=ICMP TYPE=8 CODE=0 ID=9651 SEQ=1 
[27152.739260] tsibr-PRE IN=br0 OUT= PHYSIN=p2 MAC=12:d5:68:10:a4:96:3a:f1:58:e9:7f:58:08:00 SRC=10.0.0.2 DST=10.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=32711 PROTO=ICMP TYPE=0 CODE=0 ID=9651 SEQ=1 
[27152.739265] tsibr-POST IN= OUT=br0 PHYSIN=p2 PHYSOUT=p1 SRC=10.0.0.2 DST=10.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=32711 PROTO=ICMP TYPE=0 CODE=0 ID=9651 SEQ=1 
[27152.743391] tsibr-PRE IN=br0 OUT= PHYSIN=p1 MAC=c6:5c:15:62:46:e1:12:d5:68:10:a4:96:08:00 SRC=10.0.0.1 DST=10.0.0.254 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=21949 DF PROTO=ICMP TYPE=8 CODE=0 ID=9652 SEQ=1 
[27152.743403] tsibr-IN IN=br0 OUT= PHYSIN=p1 MAC=c6:5c:15:62:46:e1:12:d5:68:10:a4:96:08:00 SRC=10.0.0.1 DST=10.0.0.254 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=21949 DF PROTO=ICMP TYPE=8 CODE=0 ID=9652 SEQ=1 
[27152.743413] tsibr-OUT IN= OUT=br0 SRC=10.0.0.254 DST=10.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=37611 PROTO=ICMP TYPE=0 CODE=0 ID=9652 SEQ=1 
[27152.743418] tsibr-POST IN= OUT=br0 SRC=10.0.0.254 DST=10.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=37611 PROTO=ICMP TYPE=0 CODE=0 ID=9652 SEQ=1 
[27152.750507] tsibr-OUT IN= OUT=br0 SRC=10.0.0.254 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=54290 DF PROTO=ICMP TYPE=8 CODE=0 ID=9653 SEQ=1 
[27152.750517] tsibr-POST IN= OUT=br0 SRC=10.0.0.254 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=54290 DF PROTO=ICMP TYPE=8 CODE=0 ID=9653 SEQ=1 
[27152.750584] tsibr-PRE IN=br0 OUT= PHYSIN=p2 MAC=c6:5c:15:62:46:e1:3a:f1:58:e9:7f:58:08:00 SRC=10.0.0.2 DST=10.0.0.254 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=58962 PROTO=ICMP TYPE=0 CODE=0 ID=9653 SEQ=1 
[27152.750592] tsibr-IN IN=br0 OUT= PHYSIN=p2 MAC=c6:5c:15:62:46:e1:3a:f1:58:e9:7f:58:08:00 SRC=10.0.0.2 DST=10.0.0.254 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=58962 PROTO=ICMP TYPE=0 CODE=0 ID=9653 SEQ=1 `).split('\n');

describe('lab bridges', () => {
  it('logs bridged packets in every hook of the switch and shows every bridged frame on br0, as the real kernel did', async () => {
    const r = await lab(`
ip netns exec sw iptables -t mangle -A PREROUTING -p icmp -j LOG --log-prefix "tsibr-PRE "
ip netns exec sw iptables -t mangle -A POSTROUTING -p icmp -j LOG --log-prefix "tsibr-POST "
ip netns exec sw iptables -t mangle -A INPUT -p icmp -j LOG --log-prefix "tsibr-IN "
ip netns exec sw iptables -t mangle -A OUTPUT -p icmp -j LOG --log-prefix "tsibr-OUT "
ip netns exec sw tcpdump -i br0 -n &
sleep 1
ip netns exec h1 ping -c 1 -W 1 10.0.0.2 >/dev/null
ip netns exec h1 ping -c 1 -W 1 10.0.0.254 >/dev/null
ip netns exec sw ping -c 1 -W 1 10.0.0.2 >/dev/null
sleep 1
kill %1
wait
dmesg
`);
    expect(r.unsupported).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.out.filter((l) => l !== '' && !l.startsWith('tcpdump: ') && !l.startsWith('listening on '))).toEqual(REAL.filter((l) => l !== ''));
  });

  it('reads and writes net.bridge.bridge-nf-call-iptables per namespace (1 in a new one)', async () => {
    const r = await lab(`
ip netns exec sw sysctl -w net.bridge.bridge-nf-call-iptables=0
ip netns exec sw sysctl net.bridge.bridge-nf-call-iptables
ip netns exec h1 sysctl net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-arptables net.bridge.bridge-nf-filter-vlan-tagged
`);
    expect(r.out).toEqual([
      'net.bridge.bridge-nf-call-iptables = 0',
      'net.bridge.bridge-nf-call-iptables = 0',
      'net.bridge.bridge-nf-call-iptables = 1',
      'net.bridge.bridge-nf-call-arptables = 1',
      'net.bridge.bridge-nf-filter-vlan-tagged = 0',
    ]);
  });

  it('bridge-nf-call-iptables=0: bridged packets meet no rule; the bridge device still gets its own', async () => {
    const r = await lab(`
ip netns exec sw sysctl -qw net.bridge.bridge-nf-call-iptables=0
ip netns exec sw iptables -A FORWARD -j DROP
ip netns exec sw iptables -A INPUT -p icmp -j LOG --log-prefix "in "
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip netns exec h2 ping -c 1 -W 1 10.0.0.254
dmesg
`);
    expect(r.received).toEqual(['1', '1']);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^\[<time>\] in IN=br0 OUT= MAC=<mac>:<mac>:08:00 SRC=10\.0\.0\.2 DST=10\.0\.0\.254 /);
  });

  it('physdev matches by bridge port, and a DROP in FORWARD stops a bridged ping', async () => {
    const r = await lab(`
ip netns exec sw iptables -A FORWARD -m physdev --physdev-in p2 --physdev-out p1 -j DROP
ip netns exec sw iptables -A FORWARD -m physdev --physdev-is-bridged -j LOG --log-prefix "bridged "
ip netns exec sw iptables -A INPUT -m physdev --physdev-is-in -j LOG --log-prefix "is-in "
ip netns exec sw iptables -A INPUT -m physdev --physdev-is-bridged -j LOG --log-prefix "never "
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip netns exec h1 ping -c 1 -W 1 10.0.0.254
dmesg
ip netns exec sw iptables -S FORWARD
`);
    // h1's request passes (in p1), h2's reply is dropped (in p2, out p1).
    expect(r.received).toEqual(['0', '1']);
    expect(r.out[0]).toMatch(/^\[<time>\] bridged IN=br0 OUT=br0 PHYSIN=p1 PHYSOUT=p2 MAC=.* TYPE=8 /);
    expect(r.out[1]).toMatch(/^\[<time>\] is-in IN=br0 OUT= PHYSIN=p1 MAC=.* DST=10\.0\.0\.254 /);
    expect(r.out.slice(2)).toEqual([
      '-P FORWARD ACCEPT',
      '-A FORWARD -m physdev --physdev-in p2 --physdev-out p1 -j DROP',
      '-A FORWARD -m physdev --physdev-is-bridged -j LOG --log-prefix "bridged "',
    ]);
  });

  it('a port taken out of the bridge, the bridge down or deleted: the hosts no longer reach each other', async () => {
    const r = await lab(`
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link set p2 nomaster
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link set p2 master br0
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link set br0 down
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link set br0 up
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link del br0
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip -n sw link set p1 master br0
ip -n sw link set p1 master p2
`);
    expect(r.received).toEqual(['1', '0', '1', '0', '1', '0']);
    // iproute2's messages (checked by hand).
    expect(r.out).toEqual(['Error: argument "br0" is wrong: Device does not exist', 'RTNETLINK answers: Operation not supported']);
    expect(r.status).toBe(2);
  });

  it("takes its lowest port's MAC, all zeros without ports, and keeps one it was given (checked by hand)", async () => {
    const r = await runLab(
      `ip netns add sw
ip -n sw link add br0 type bridge
ip -n sw link add v1 type veth peer name v2
ip -n sw link add v3 type veth peer name v4
ip -n sw link set v1 address 02:00:00:00:00:09
ip -n sw link set v3 address 02:00:00:00:00:05
`,
      { scriptName: 'lab.sh' },
    );
    const sw = r.world.namespaces.get('sw')!;
    const mac = (): string | undefined => sw.host.macOf('br0');
    expect(setMaster(sw, 'v1', 'br0')).toBeUndefined();
    expect(mac()).toBe('02:00:00:00:00:09');
    setMaster(sw, 'v3', 'br0');
    expect(mac()).toBe('02:00:00:00:00:05');
    releasePort(sw, 'v3');
    expect(mac()).toBe('02:00:00:00:00:09');
    releasePort(sw, 'v1');
    expect(mac()).toBe('00:00:00:00:00:00');
    sw.host.ifaces.get('br0')!.mac = '02:00:00:00:00:77';
    addressSet(sw, 'br0');
    setMaster(sw, 'v3', 'br0');
    expect(mac()).toBe('02:00:00:00:00:77');
  });

  it('ARP for a host behind the bridge is flooded to every port; its reply goes back by one', async () => {
    const r = await lab(`
ip netns add h3
ip -n h3 link add eth0 type veth peer name p3 netns sw
ip -n sw link set p3 master br0
ip -n sw link set p3 up
ip -n h3 addr add 10.0.0.3/24 dev eth0
ip -n h3 link set eth0 up
ip netns exec h3 tcpdump -i eth0 -n &
ip netns exec h1 ping -c 1 -W 1 10.0.0.2 >/dev/null
kill %1
wait
`);
    expect(r.out.filter((l) => l.startsWith('<time> '))).toEqual(['<time> ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28']);
  });
});
