/**
 * Linux bridges in labs (src/lab/bridge.ts) and br_netfilter (Tracer.runBridged). The bundled labs are checked
 * against their real runs by test/labs.test.ts: fixtures/labs/bridge-nf.sh (bridge-nf-call-iptables, physdev),
 * bridge-hooks.sh (LOG lines in every mangle chain of the switch, tcpdump on the bridge device, a port taken out
 * with `nomaster`, a deleted bridge and iproute2's messages, net.bridge.* per namespace), bridge-reject.sh, bridge-netdev.sh,
 * bridge-nft-order.sh, bridge-nft.sh. Here, properties of the simulation those runs do not pin down.
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

describe('lab bridges', () => {
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
