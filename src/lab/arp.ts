/**
 * ARP frames meet nftables too: the netdev ingress and egress chains of the devices they cross, a bridge's own
 * chains (bridge family: prerouting, forward, postrouting, input, output) and the arp family's input and output
 * chains of the hosts that receive and send them; never the ip hooks (br_netfilter hands ARP to arptables).
 * Counters count them (28 bytes, 42 where the Ethernet header is in front), `log` prints them as
 * `ARP HTYPE=1 PTYPE=0x0800 OPCODE=..`, `nft monitor trace` shows `arp operation request`, and a chain that
 * drops one leaves its asker without an answer. Recorded: fixtures/labs/bridge-arp.sh.
 *
 * The way of one frame is cut in legs, one per namespace and step of the kernel's path (the host that sends it,
 * a bridge taking it in, forwarding or sending it out of a port, passing it up, the host that receives it); each
 * leg runs the chains of its namespace (Tracer.runFrame) and reports like a packet's run does.
 */
import { arpFrame, type Packet } from '../eval/packet';
import { FRAME_LEGS, type FrameStep } from '../eval/trace';
import { logLines } from '../cli/trace-output';
import { addrToString } from '../model/ip';
import type { ArpFrame, Net } from './net';
import type { Netns } from './world';

const ZERO_MAC = '00:00:00:00:00:00';
const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** The frame as the chains see it. */
export function arpPacket(f: ArpFrame): Packet {
  const request = f.op === 'request';
  const sha = f.ethSrc ?? f.mac;
  const arp = request ? { op: 1, sha, spa: f.sender, tha: ZERO_MAC, tpa: f.target } : { op: 2, sha, spa: f.target, tha: f.ethDst ?? ZERO_MAC, tpa: f.sender };
  return arpFrame(arp, f.ethSrc ?? sha, f.ethDst ?? ZERO_MAC);
}

/** What dropped an ARP frame, for the outcome of the packet that waited for it (`trace --lab` says it). */
export interface ArpDrops {
  first?: string;
}

/**
 * One leg in `ns`: true when every chain on it let the frame on. `traced` carries skb->nf_trace along legs of one
 * namespace (a flooded copy keeps it); a leg in a namespace the frame just entered starts untraced. A drop is
 * noted in `drops` (the first one).
 */
export function arpLeg(net: Net, ns: Netns, frame: ArpFrame, steps: readonly FrameStep[], traced: { on: boolean } = { on: false }, drops?: ArpDrops): boolean {
  const tracer = ns.tracerNow();
  if (!tracer.frameChainsFor(steps)) return true;
  const { result, traced: after } = tracer.runFrame(arpPacket(frame), steps, traced.on);
  traced.on = after;
  net.onHop?.(ns, result);
  for (const l of logLines(result, true)) net.kernelLog.push({ at: net.tick(), text: l });
  if (result.fate !== 'dropped') return true;
  if (drops) drops.first ??= `the ARP ${frame.op} was ${result.verdict} in ${ns.label()}`;
  return false;
}

/** Why a neighbour stayed unknown: nobody has the address, or a chain dropped the request or the reply. */
export function unanswered(nextHop: number, dev: string, drops: ArpDrops): string {
  return `no neighbour answers ARP for ${addrToString(nextHop)} on ${dev}${drops.first !== undefined ? ` (${drops.first})` : ''}`;
}

/**
 * Carries an ARP frame from (ns, dev) to the devices it reaches (their receiving chains are the caller's), noting
 * a chain that dropped it on the way in `drops`.
 */
export type ArpCarrier = (ns: Netns, dev: string, frame: ArpFrame, drops: ArpDrops) => Array<{ ns: Netns; dev: string }>;

/**
 * Neighbour resolution before a frame leaves `dev` for `nextHop`: a cached entry, or an ARP request (from the
 * packet's source if it is one of this host's addresses, else the device's address towards the target, as
 * arp_solicit() picks) that `carry` takes to the hosts it reaches. Each runs it through its receiving chains (the
 * arp input chain sees requests for others too), in the order it was queued to them; the one that has the
 * address (arp_ignore 0: any of its addresses) learns the asker and answers after that (its reply waits in the
 * same backlog), and the asker learns from the reply. A chain that drops either leaves no answer. The MAC, or
 * undefined.
 */
export function resolveNeighbour(net: Net, ns: Netns, dev: string, nextHop: number, src: number, carry: ArpCarrier, drops: ArpDrops = {}): string | undefined {
  const cached = ns.neighbours.lookup(dev, nextHop);
  if (cached !== undefined) return cached;
  const sender = ns.host.isLocalAddress(src) ? src : (ns.host.primaryAddress(dev, nextHop) ?? src);
  const myMac = ns.host.macOf(dev) ?? '';
  const request: ArpFrame = { op: 'request', target: nextHop, sender, mac: myMac, ethSrc: myMac, ethDst: BROADCAST_MAC };
  const answerer = carry(ns, dev, request, drops)
    .filter((a) => arpLeg(net, a.ns, request, FRAME_LEGS.receive(a.dev), undefined, a.ns.host.isLocalAddress(nextHop) ? drops : undefined))
    .find((a) => a.ns.host.isLocalAddress(nextHop));
  if (answerer === undefined) return undefined;
  answerer.ns.neighbours.learn(answerer.dev, sender, myMac);
  const mac = answerer.ns.host.macOf(answerer.dev) ?? '';
  const reply: ArpFrame = { op: 'reply', target: nextHop, sender, mac, ethSrc: mac, ethDst: myMac };
  const back = carry(answerer.ns, answerer.dev, reply, drops).filter((x) => x.ns === ns && x.dev === dev);
  if (back.length === 0 || !arpLeg(net, ns, reply, FRAME_LEGS.receive(dev), undefined, drops)) return undefined;
  ns.neighbours.learn(dev, nextHop, mac);
  return mac;
}
