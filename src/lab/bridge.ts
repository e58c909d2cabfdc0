/**
 * Linux bridges in a lab (`ip link add br0 type bridge`, `ip link set DEV master br0`): the bridge device is one
 * of its namespace's interfaces (it may carry addresses: frames for its MAC, and broadcasts, go up its IP stack
 * with IN=br0), and its ports are veth ends whose frames the bridge switches by its forwarding database (source
 * MACs learnt per port; broadcasts and unknown destinations flooded to the other ports).
 *
 * br_netfilter: with net.bridge.bridge-nf-call-iptables=1 (per namespace, 1 in a new one once the module is loaded,
 * as on the machine the labs were recorded on) an IPv4 frame the bridge forwards walks the namespace's ip hooks
 * PREROUTING, FORWARD and POSTROUTING (Tracer.runBridged: IN=/OUT= the bridge, PHYSIN=/PHYSOUT= the ports), and a
 * frame for the bridge itself carries PHYSIN= through PREROUTING and INPUT. With 0, bridged frames meet no
 * iptables rule at all. ARP is never shown to iptables (bridge-nf-call-arptables is arptables' business). A REJECT
 * there answers: an ICMP error from the switch's own address through its IP stack, a TCP RST straight back out of
 * the port the frame came in by (rejectAnswer).
 *
 * nft bridge family chains (`table bridge`) run on the bridge's own hooks whatever bridge-nf-call-iptables says,
 * with the ports as iif/oif: prerouting, forward and postrouting for a forwarded frame, prerouting and input for
 * a frame passed up to the bridge device (Tracer.bridgeUp), output and postrouting for a frame the bridge device
 * sends (Tracer.runBridgeLocalOut); br_netfilter's ip chains take their place among them by priority
 * (src/eval/nft-pipeline.ts). netdev ingress chains of a port run before the bridge sees the frame, egress chains
 * of a port after its postrouting, and a frame passed up meets the bridge device's ingress chains after the
 * bridge input chains.
 *
 * Not simulated: STP, VLAN filtering, multicast snooping (the bridge's IGMP reports), broadcasts and unknown
 * unicast IP flooded to more than one host (the first host reached takes it; PREROUTING runs once per port the
 * frame is flooded to), `bridge fdb`/`bridge link`. ARP frames meet the bridge's chains through src/lab/arp.ts
 * (carryArp below). ct expressions in bridge chains are refused as the recording kernel refuses them (it
 * has no nf_conntrack_bridge; src/nft/apply.ts).
 * Recorded: fixtures/labs/bridge-nf.sh, bridge-hooks.sh, bridge-reject.sh, bridge-nft.sh, bridge-nft-order.sh,
 * bridge-netdev.sh, bridge-arp.sh, bridge-dnat.sh, docker-bridge.sh, docker-published-port.sh, docker-hairpin.sh.
 */
import { arpLeg, resolveNeighbour, unanswered, type ArpDrops } from './arp';
import { clonePacket, type Packet } from '../eval/packet';
import { FRAME_LEGS, type BridgedArrival, type BridgeNeighbour } from '../eval/trace';
import { logLines } from '../cli/trace-output';
import type { ArpFrame, Net, Outcome } from './net';
import type { Netns } from './world';

export interface Bridge {
  name: string;
  /** Port device names (in the bridge's namespace). */
  readonly ports: Set<string>;
  /** The forwarding database: MAC -> port it was last seen on. */
  readonly fdb: Map<string, string>;
  /** `ip link set BR address MAC` was given: the bridge keeps that MAC whatever its ports. */
  fixedMac: boolean;
}

interface BridgeState {
  readonly bridges: Map<string, Bridge>;
  /** net.bridge.* sysctls written in this namespace (unwritten ones read as their defaults). */
  readonly sysctl: Map<string, number>;
}

const states = new WeakMap<Netns, BridgeState>();

function stateOf(ns: Netns): BridgeState {
  let s = states.get(ns);
  if (!s) states.set(ns, (s = { bridges: new Map(), sysctl: new Map() }));
  return s;
}

const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** /proc/sys/net/bridge of a new namespace with br_netfilter loaded (kernel 6.18; fixtures/labs/bridge-hooks.sh). */
const BRIDGE_SYSCTL_DEFAULTS: Readonly<Record<string, number>> = {
  'bridge-nf-call-arptables': 1,
  'bridge-nf-call-ip6tables': 1,
  'bridge-nf-call-iptables': 1,
  'bridge-nf-filter-pppoe-tagged': 0,
  'bridge-nf-filter-vlan-tagged': 0,
  'bridge-nf-pass-vlan-input-dev': 0,
};

/** `sysctl net.bridge.X`: the value, or undefined when KEY is not a bridge sysctl. */
export function readBridgeSysctl(ns: Netns, key: string): string | undefined {
  const m = /^net\.bridge\.([\w-]+)$/.exec(key);
  const def = m ? BRIDGE_SYSCTL_DEFAULTS[m[1]!] : undefined;
  if (!m || def === undefined) return undefined;
  return String(stateOf(ns).sysctl.get(m[1]!) ?? def);
}

/** `sysctl -w net.bridge.X=N`: false when KEY is not a bridge sysctl. */
export function writeBridgeSysctl(ns: Netns, key: string, value: number): boolean {
  const m = /^net\.bridge\.([\w-]+)$/.exec(key);
  if (!m || BRIDGE_SYSCTL_DEFAULTS[m[1]!] === undefined) return false;
  // The kernel keeps any integer and tests it against 0.
  stateOf(ns).sysctl.set(m[1]!, value);
  return true;
}

function callIptables(ns: Netns): boolean {
  return readBridgeSysctl(ns, 'net.bridge.bridge-nf-call-iptables') !== '0';
}

export function bridgeNamed(ns: Netns, name: string): Bridge | undefined {
  return states.get(ns)?.bridges.get(name);
}

/** The bridge `dev` is a port of. */
export function masterOf(ns: Netns, dev: string): Bridge | undefined {
  const s = states.get(ns);
  if (!s) return undefined;
  for (const b of s.bridges.values()) if (b.ports.has(dev)) return b;
  return undefined;
}

/** `ip link add NAME type bridge` (the device exists already in ns.host). */
export function addBridge(ns: Netns, name: string): void {
  stateOf(ns).bridges.set(name, { name, ports: new Set(), fdb: new Map(), fixedMac: false });
}

/** `ip link set DEV address MAC`: a bridge given its MAC keeps it. */
export function addressSet(ns: Netns, dev: string): void {
  const b = bridgeNamed(ns, dev);
  if (b) b.fixedMac = true;
}

/**
 * br_stp_recalculate_bridge_id(): a bridge whose MAC was not set takes the lowest MAC of its ports, and
 * 00:00:00:00:00:00 when its last port leaves (a new bridge has a random one). Checked by hand on 6.18.
 */
function recalculateMac(ns: Netns, b: Bridge): void {
  if (b.fixedMac) return;
  const macs = [...b.ports].map((p) => ns.host.macOf(p)).filter((m): m is string => m !== undefined);
  const iface = ns.host.ifaces.get(b.name);
  if (iface) iface.mac = macs.length > 0 ? macs.sort()[0]! : '00:00:00:00:00:00';
}

/** `ip link set DEV master BR`: undefined, or iproute2's message and exit status (fixtures/labs/bridge-hooks.sh). */
export function setMaster(ns: Netns, dev: string, master: string): { message: string; status: number } | undefined {
  const b = bridgeNamed(ns, master);
  // iproute2's invarg("Device does not exist\n", ...) ends its message with a newline of its own: a blank line follows.
  if (!ns.host.ifaces.has(master)) return { message: `Error: argument "${master}" is wrong: Device does not exist\n`, status: 255 };
  if (!b) return { message: 'RTNETLINK answers: Operation not supported', status: 2 };
  if (bridgeNamed(ns, dev)) return { message: 'Error: Can not enslave a bridge to a bridge.', status: 2 };
  releasePort(ns, dev);
  b.ports.add(dev);
  recalculateMac(ns, b);
  return undefined;
}

/** `ip link set DEV nomaster`, or the port left its namespace or was deleted: out of its bridge. */
export function releasePort(ns: Netns, dev: string): void {
  const b = masterOf(ns, dev);
  if (!b) return;
  b.ports.delete(dev);
  for (const [mac, port] of b.fdb) if (port === dev) b.fdb.delete(mac);
  if (ns.host.ifaces.has(b.name)) recalculateMac(ns, b);
}

/** A device deleted (or moved away): a bridge goes with its ports set free, a port leaves its bridge. */
export function deviceGone(ns: Netns, dev: string): void {
  releasePort(ns, dev);
  states.get(ns)?.bridges.delete(dev);
}

/** Does a frame sent out of (ns, dev) meet a bridge: dev is a bridge, or its veth partner is a bridge port? */
export function isBridged(ns: Netns, dev: string): boolean {
  if (bridgeNamed(ns, dev)) return true;
  const p = ns.peers.get(dev);
  return p !== undefined && masterOf(p.ns, p.dev) !== undefined;
}

/** A host device a frame reached: a device that is no bridge port, or a bridge device (physIn: the port). */
interface Arrival {
  ns: Netns;
  dev: string;
  physIn: string | undefined;
}

type Tap = (ns: Netns, dev: string) => void;
/**
 * bridge-nf: may the bridge `br` of `ns` forward the frame from port `inPort` to port `outPort`? A port name: yes,
 * but out of that port (a DNAT sent it to another host behind the bridge).
 */
type ForwardCheck = (ns: Netns, br: string, inPort: string, outPort: string) => boolean | string;
/** The bridge `br` of `ns` sends a frame of its own out of its port `outPort`: may it (bridge output chains)? */
type LocalOutCheck = (ns: Netns, br: string, outPort: string) => boolean;

const isGroupMac = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 1;

/**
 * The chains an ARP frame meets on a bridge (src/lab/arp.ts), each false when one dropped it: taken in by a port,
 * forwarded (once per port it is flooded to), sent by the bridge device, passed up to it.
 */
interface FrameChecks {
  bridgeIn(ns: Netns, inPort: string): boolean;
  bridgeOut(ns: Netns, inPort: string, outPort: string): boolean;
  bridgeLocalOut(ns: Netns, outPort: string): boolean;
  bridgeUp(ns: Netns, inPort: string): boolean;
}

/** One Ethernet frame's way across veths and bridges, from the device that sends it to the devices it reaches. */
class Carrier {
  constructor(
    private readonly srcMac: string,
    private readonly dstMac: string,
    /** tcpdump: the frame on a device. */
    private readonly tap: Tap,
    private readonly forward?: ForwardCheck,
    private readonly localOut?: LocalOutCheck,
    /** An ARP frame: its chains, in the kernel's order (br_handle_frame_finish floods before it passes up). */
    private readonly frame?: FrameChecks,
  ) {}

  /** The frame leaves (ns, dev). */
  from(ns: Netns, dev: string, depth = 0): Arrival[] {
    if (depth > 16 || ns.host.down.has(dev)) return [];
    this.tap(ns, dev);
    const b = bridgeNamed(ns, dev);
    // Sent by the bridge device itself (br_dev_xmit): straight to the forwarding decision, no ip hooks.
    if (b) return this.switch(ns, b, undefined, depth);
    const peer = ns.peers.get(dev);
    if (!peer || peer.ns.host.down.has(peer.dev)) return [];
    this.tap(peer.ns, peer.dev);
    const pb = masterOf(peer.ns, peer.dev);
    if (!pb) return [{ ns: peer.ns, dev: peer.dev, physIn: undefined }];
    return this.switch(peer.ns, pb, peer.dev, depth);
  }

  /** br_handle_frame / br_dev_xmit: learn, then deliver up, forward, or flood. */
  private switch(ns: Netns, b: Bridge, inPort: string | undefined, depth: number): Arrival[] {
    if (ns.host.down.has(b.name)) return [];
    const f = this.frame;
    // An ARP frame meets the port's ingress and bridge prerouting first; the bridge learns only what passed them.
    if (f && inPort !== undefined && !f.bridgeIn(ns, inPort)) return [];
    if (inPort !== undefined) b.fdb.set(this.srcMac, inPort);
    const group = isGroupMac(this.dstMac);
    const out: Arrival[] = [];
    // tcpdump -i br0 puts the bridge in promiscuous mode: every frame that comes in by a port is passed up the
    // bridge device too (br_handle_frame_finish, local_rcv), and shown there (fixtures/labs/bridge-hooks.sh), whatever its fate.
    if (inPort !== undefined) this.tap(ns, b.name);
    // Frames for the bridge's own MAC or a port's (local fdb entries), and broadcasts, go up its IP stack (not
    // those it sends itself).
    const up = inPort !== undefined && (group || this.dstMac === ns.host.macOf(b.name) || [...b.ports].some((p) => ns.host.macOf(p) === this.dstMac));
    if (up) {
      out.push({ ns, dev: b.name, physIn: inPort });
      if (!group) return f && !f.bridgeUp(ns, inPort!) ? [] : out;
    }
    const known = group ? undefined : b.fdb.get(this.dstMac);
    // br_flood() walks the port list, where a new port goes first (the labs' ARP floods show it); the IPv4 path
    // keeps the order it was recorded with (the first host reached takes a flooded packet).
    const ports = known !== undefined ? [known] : f ? [...b.ports].reverse() : [...b.ports];
    for (const port of ports) {
      if (port === inPort || !ns.host.ifaces.has(port) || ns.host.down.has(port)) continue;
      if (f) {
        if (inPort !== undefined ? !f.bridgeOut(ns, inPort, port) : !f.bridgeLocalOut(ns, port)) continue;
      } else if (inPort !== undefined && this.forward) {
        const to = this.forward(ns, b.name, inPort, port);
        if (to === false) continue;
        out.push(...this.from(ns, to === true ? port : to, depth + 1));
        continue;
      } else if (inPort === undefined && this.localOut && !this.localOut(ns, b.name, port)) continue;
      out.push(...this.from(ns, port, depth + 1));
    }
    // A broadcast goes up the bridge device after the flood (br_pass_frame_up follows br_flood).
    if (f && up && !f.bridgeUp(ns, inPort!)) out.shift();
    return out;
  }
}

/** ARP over a bridged segment: the request is flooded to every host on it, the reply comes back by the bridges' forwarding databases. */
function resolve(net: Net, ns: Netns, dev: string, nextHop: number, src: number, drops: ArpDrops = {}): string | undefined {
  return resolveNeighbour(net, ns, dev, nextHop, src, (n, d, frame, dr) => carryArp(net, n, d, frame, dr), drops);
}

/**
 * Does a copy of the frame sent out of `port` go where its answer would come from? A reply always; a request
 * when the port leads to the host that has the address asked for (or to another bridge). A drop on the way to a
 * host that would not answer anyway explains nothing.
 */
function towardsAnswer(sw: Netns, port: string, frame: ArpFrame): boolean {
  if (frame.op === 'reply') return true;
  const peer = sw.peers.get(port);
  return peer === undefined || masterOf(peer.ns, peer.dev) !== undefined || peer.ns.host.isLocalAddress(frame.target);
}

/**
 * An ARP frame from (ns, dev) across veths and bridges, its chains run on the way (src/lab/arp.ts): the devices
 * it reaches (their receiving chains are the caller's), none when a chain dropped it before it left.
 */
function carryArp(net: Net, ns: Netns, dev: string, frame: ArpFrame, drops: ArpDrops): Arrival[] {
  // skb->nf_trace per namespace: set in a bridge's prerouting, it follows the frame's flooded copies there.
  const traced = new Map<Netns, { on: boolean }>();
  const flag = (n: Netns, fresh: boolean): { on: boolean } => {
    let t = traced.get(n);
    if (!t || fresh) traced.set(n, (t = { on: false }));
    return t;
  };
  if (!arpLeg(net, ns, frame, FRAME_LEGS.send(dev), flag(ns, true), drops)) return [];
  const checks: FrameChecks = {
    bridgeIn: (sw, inPort) => arpLeg(net, sw, frame, FRAME_LEGS.bridgeIn(inPort), flag(sw, true), drops),
    bridgeOut: (sw, inPort, outPort) => arpLeg(net, sw, frame, FRAME_LEGS.bridgeOut(inPort, outPort), { ...flag(sw, false) }, towardsAnswer(sw, outPort, frame) ? drops : undefined),
    bridgeLocalOut: (sw, outPort) => arpLeg(net, sw, frame, FRAME_LEGS.bridgeLocalOut(outPort), { ...flag(sw, false) }, towardsAnswer(sw, outPort, frame) ? drops : undefined),
    bridgeUp: (sw, inPort) => arpLeg(net, sw, frame, FRAME_LEGS.bridgeUp(inPort), flag(sw, false), drops),
  };
  return new Carrier(frame.ethSrc ?? '', frame.ethDst ?? BROADCAST_MAC, (n, d) => net.captureArp(n, d, frame), undefined, undefined, checks).from(ns, dev);
}

/**
 * The answer of a REJECT in the FORWARD chain br_netfilter ran for a bridged frame (fixtures/labs/bridge-reject.sh):
 * an ICMP error is sent by the switch's own IP stack (icmp_send(): from its address towards the sender, through
 * its OUTPUT and POSTROUTING, with ARP; none when it has no route back); a TCP RST is sent straight back out of
 * the port the frame came in by, from the destination's MAC to the sender's, meeting no hook of the switch
 * (nf_send_reset(), br_nf's dev_queue_xmit branch).
 */
function rejectAnswer(net: Net, sw: Netns, inPort: string, at: Packet, how: string): Outcome | undefined {
  if (how !== 'tcp-reset') {
    const icmp = net.rejectAnswer(sw, at, how);
    return icmp === undefined ? undefined : net.send(sw, icmp, 1);
  }
  const rst = net.rejectAnswer(sw, at, how);
  if (rst === undefined) return undefined;
  rst.macSrc = at.macDst;
  rst.macDst = at.macSrc;
  rst.inIface = null;
  rst.outIface = null;
  const reached = new Carrier(rst.macSrc ?? '', rst.macDst ?? '', (n, d) => net.capture(n, d, rst)).from(sw, inPort);
  const first = reached[0];
  if (!first) return { kind: 'lost', ns: sw, why: `nothing takes the RST sent out of ${inPort}` };
  const arriving = clonePacket(rst);
  arriving.inIface = first.dev;
  return net.inject(first.ns, arriving);
}

/**
 * A packet leaves (ns, dev) onto a bridged segment (Net.walk, when isBridged): ARP for the next hop, then the frame
 * across the bridges (their ip hooks with bridge-nf-call-iptables=1) to the host that takes it, where the walk
 * goes on; or how it ended (no ARP answer, a bridge's FORWARD dropped it).
 */
export function crossBridge(net: Net, ns: Netns, dev: string, out: Packet): Outcome | { kind: 'arrived'; ns: Netns; pkt: Packet; via: BridgedArrival | undefined } {
  const route = ns.host.route(out.dst, { oif: dev });
  const nextHop = route?.gateway ?? out.dst;
  const broadcast = out.dst === 0xffffffff || ns.host.ifaces.get(dev)?.addrs.some((a) => a.broadcast === out.dst) === true;
  const srcMac = ns.host.macOf(dev) ?? '';
  const drops: ArpDrops = {};
  const dstMac = broadcast ? BROADCAST_MAC : resolve(net, ns, dev, nextHop, out.src, drops);
  if (dstMac === undefined) return { kind: 'lost', ns, why: unanswered(nextHop, dev, drops) };
  let pkt = clonePacket(out);
  pkt.macSrc = srcMac;
  pkt.macDst = dstMac;
  let dropped: Outcome | undefined;
  /** The switch took the frame (delivered to one of its sockets). */
  let taken: Outcome | undefined;
  /** A REJECT in a bridged FORWARD chain: its answer is sent once the frame's way is done. */
  let rejected: { sw: Netns; inPort: string; at: Packet; how: string } | undefined;
  const forward: ForwardCheck = (sw, br, inPort, outPort) => {
    // Taken by the switch (a DNAT to its own address): not flooded on to other ports.
    if (taken) return false;
    const tracer = sw.tracerNow();
    const brnf = callIptables(sw);
    // Bridged frames meet the bridge family's chains, and the ip chains only through br_netfilter.
    if (!brnf && !tracer.bridgeChainsFor(inPort, outPort)) return true;
    // A DNAT there may send the frame to another host behind the bridge: the switch resolves it (ARP from br).
    let redirect: string | undefined;
    const neighbour: BridgeNeighbour = (addr) => {
      const mac = resolve(net, sw, br, addr, 0);
      const port = mac === undefined ? undefined : bridgeNamed(sw, br)?.fdb.get(mac);
      if (mac === undefined || port === undefined) return undefined;
      redirect = port;
      return { mac, port };
    };
    const r = tracer.runBridged(pkt, inPort, outPort, br, brnf, neighbour);
    net.hops.push({ ns: sw, result: r, ruleset: tracer.ruleset });
    // Net.onHop: `nft monitor trace` jobs.
    net.onHop?.(sw, r);
    for (const l of logLines(r, true)) net.kernelLog.push({ at: net.tick(), text: l });
    // A DNAT in the PREROUTING chain br_netfilter called made the frame the switch's own (Tracer.bridgedDnat).
    if (r.fate === 'delivered') {
      taken ??= { kind: 'delivered', ns: sw, pkt: r.packet };
      return false;
    }
    if (r.fate === 'dropped') {
      if (dropped === undefined && r.rejectWith !== undefined) rejected = { sw, inPort, at: r.packet, how: r.rejectWith };
      dropped ??= { kind: 'dropped', ns: sw, why: r.verdict, answer: undefined };
      return false;
    }
    pkt = clonePacket(r.packet);
    pkt.inIface = null;
    pkt.outIface = null;
    pkt.physIn = undefined;
    pkt.physOut = undefined;
    return redirect ?? true;
  };
  const localOut: LocalOutCheck = (sw, br, outPort) => {
    const tracer = sw.tracerNow();
    if (!tracer.bridgeChainsFor(outPort)) return true;
    const r = tracer.runBridgeLocalOut(pkt, br, outPort);
    net.hops.push({ ns: sw, result: r, ruleset: tracer.ruleset });
    net.onHop?.(sw, r);
    for (const l of logLines(r, true)) net.kernelLog.push({ at: net.tick(), text: l });
    if (r.fate === 'dropped') {
      dropped ??= { kind: 'dropped', ns: sw, why: r.verdict, answer: undefined };
      return false;
    }
    pkt = clonePacket(r.packet);
    pkt.inIface = null;
    pkt.outIface = null;
    return true;
  };
  const seen = (): Packet => {
    const p = clonePacket(pkt);
    p.physIn = undefined;
    p.physOut = undefined;
    return p;
  };
  const reached = new Carrier(srcMac, dstMac, (n, d) => net.capture(n, d, seen()), forward, localOut).from(ns, dev);
  const first = reached[0];
  if (taken) return taken;
  if (!first) {
    if (dropped?.kind === 'dropped' && rejected !== undefined) dropped.answer = rejectAnswer(net, rejected.sw, rejected.inPort, rejected.at, rejected.how);
    return dropped ?? { kind: 'lost', ns, why: `nothing on the bridged segment of ${dev} takes the frame` };
  }
  const arriving = clonePacket(pkt);
  arriving.inIface = first.dev;
  arriving.outIface = null;
  arriving.uid = undefined;
  arriving.gid = undefined;
  arriving.mark = 0;
  // A frame the bridge passes up carries its port through PREROUTING and INPUT when br_netfilter looks at it.
  arriving.physIn = first.physIn !== undefined && callIptables(first.ns) ? first.physIn : undefined;
  arriving.physOut = undefined;
  const via: BridgedArrival | undefined = first.physIn !== undefined ? { bridge: first.dev, port: first.physIn, callIptables: callIptables(first.ns) } : undefined;
  return { kind: 'arrived', ns: first.ns, pkt: arriving, via };
}
