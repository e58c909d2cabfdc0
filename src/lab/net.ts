/**
 * Packets crossing the lab: a packet a process sends in one namespace walks that namespace's netfilter
 * (src/eval/trace.ts), leaves by a device, crosses the veth to the peer namespace, walks its netfilter there
 * (forwarded on by a router, delivered, or dropped), and so on. What the kernel itself sends back is made here:
 * echo replies, a RST for a closed TCP port, ICMP port unreachable for a closed UDP port, the ICMP error or RST
 * of a REJECT rule, ICMP net unreachable and time exceeded from a router. tcpdump captures see every frame on
 * their device; LOG lines go to the kernel log (dmesg) in order.
 */
import { arpLeg, resolveNeighbour, unanswered, type ArpCarrier, type ArpDrops } from './arp';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, clonePacket, isIcmpError, newPacket, type Packet } from '../eval/packet';
import { FRAME_LEGS, type BridgedArrival, type TraceResult } from '../eval/trace';
import type { Ruleset } from '../model/ruleset';
import { logLines } from '../cli/trace-output';
import type { Netns, World } from './world';
import { crossBridge, isBridged } from './bridge';

/** Where a packet's journey ended. */
export type Outcome =
  | { kind: 'delivered'; ns: Netns; pkt: Packet }
  /** Dropped (by a rule, a policy, routing); `answer` is the outcome of the REJECT/ICMP error sent back, if any. */
  | { kind: 'dropped'; ns: Netns; why: string; answer: Outcome | undefined }
  /** The sender has no route: the sending call fails (connect: Network is unreachable). */
  | { kind: 'unreachable'; ns: Netns; why: string }
  /** Nothing answered on the wire (no neighbour with that address, a device down). */
  | { kind: 'lost'; ns: Netns; why: string };

export interface Hop {
  ns: Netns;
  result: TraceResult;
  /** The namespace's ruleset the packet met (the picture lists each walked chain's rules). */
  ruleset: Ruleset;
}

/** An ARP request or reply on the wire (tcpdump shows them). */
export interface ArpFrame {
  op: 'request' | 'reply';
  /** Request: the address asked for; reply: the address answered for. */
  target: number;
  /** Request: who asks ("tell"); reply: unused. */
  sender: number;
  /** Reply: the MAC of `target`. */
  mac: string;
  /** The Ethernet header's addresses (tcpdump -e): request from the asker to the broadcast, reply back to it. */
  ethSrc?: string;
  ethDst?: string;
}

export type CapturedFrame = { at: number; pkt: Packet; arp?: undefined } | { at: number; arp: ArpFrame; pkt?: undefined };

export interface Capture {
  ns: Netns;
  dev: string;
  frames: CapturedFrame[];
}

/** Kernel answers to a delivered packet depend on what listens: the interpreter's jobs know. */
export type ListenerCheck = (ns: Netns, proto: number, port: number) => boolean;

const REJECT_CODES: Readonly<Record<string, number>> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-proto-unreachable': 2,
  'icmp-port-unreachable': 3,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'icmp-admin-prohibited': 13,
};

export class Net {
  /** Virtual seconds since the lab began (dmesg timestamps, tcpdump times). */
  clock = 0;
  readonly kernelLog: Array<{ at: number; text: string }> = [];
  readonly captures: Capture[] = [];
  /** Every namespace crossing, in order (the explained multi-host view reads it). */
  hops: Hop[] = [];
  /** Told of every namespace crossing as it happens (`nft monitor trace` jobs print from it). */
  onHop: ((ns: Netns, r: TraceResult) => void) | undefined;
  private ipId = 0x4000;

  constructor(
    readonly world: World,
    private readonly listening: ListenerCheck,
  ) {}

  /** Advances the clock a little per packet, so that kernel log lines keep their order. */
  /** (public for src/lab/bridge.ts, as capture and captureArp) */
  tick(): number {
    this.clock += 0.000037;
    return this.clock;
  }

  nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  /** A process in `ns` sends `pkt` (no in-interface). */
  send(ns: Netns, pkt: Packet, depth = 0): Outcome {
    const p = clonePacket(pkt);
    p.inIface = null;
    p.outIface = null;
    return this.walk(ns, p, depth);
  }

  /** A packet that arrives on one of `ns`'s devices (`-i DEV`), as if from its link partner. */
  inject(ns: Netns, pkt: Packet): Outcome {
    return this.walk(ns, clonePacket(pkt), 0);
  }

  private walk(start: Netns, first: Packet, depth: number): Outcome {
    let ns = start;
    let pkt = first;
    /** The bridge port the packet came in by, when it reached a bridge device (bridge input chains). */
    let via: BridgedArrival | undefined;
    for (let hopCount = 0; hopCount < 64; hopCount++) {
      const tracer = ns.tracerNow();
      const r = tracer.run(pkt, false, via);
      via = undefined;
      this.hops.push({ ns, result: r, ruleset: tracer.ruleset });
      this.onHop?.(ns, r);
      for (const l of logLines(r, true)) this.kernelLog.push({ at: this.tick(), text: l });
      if (r.fate === 'delivered') return { kind: 'delivered', ns, pkt: r.packet };
      if (r.fate === 'dropped') return this.dropped(ns, r, depth);
      // Sent or forwarded: the frame leaves by r.packet.outIface.
      const out = r.packet;
      const dev = out.outIface!;
      // Bridges: a frame into a bridge port or out of a bridge device is carried by src/lab/bridge.ts.
      if (isBridged(ns, dev)) {
        const b = crossBridge(this, ns, dev, out);
        if (b.kind !== 'arrived') return b;
        ns = b.ns;
        pkt = b.pkt;
        via = b.via;
        continue;
      }
      const peer = ns.peers.get(dev);
      if (!peer || ns.host.down.has(dev) || peer.ns.host.down.has(peer.dev)) return { kind: 'lost', ns, why: `${dev} has no link partner that is up` };
      const route = ns.host.route(out.dst, { oif: dev });
      const nextHop = route?.gateway ?? out.dst;
      const broadcast = out.dst === 0xffffffff || peer.ns.host.addrType(out.dst) === 3;
      const drops: ArpDrops = {};
      if (!broadcast && !this.resolve(ns, dev, peer.ns, peer.dev, nextHop, out.src, drops)) {
        return { kind: 'lost', ns, why: unanswered(nextHop, dev, drops) };
      }
      // On the wire the frame has its Ethernet addresses (tcpdump -e shows them).
      const framed = clonePacket(out);
      framed.macSrc = ns.host.macOf(dev) ?? null;
      framed.macDst = broadcast ? 'ff:ff:ff:ff:ff:ff' : (peer.ns.host.macOf(peer.dev) ?? null);
      this.capture(ns, dev, framed);
      const arriving = clonePacket(out);
      arriving.inIface = peer.dev;
      arriving.outIface = null;
      arriving.macSrc = ns.host.macOf(dev) ?? null;
      arriving.macDst = peer.ns.host.macOf(peer.dev) ?? null;
      arriving.uid = undefined;
      arriving.gid = undefined;
      arriving.mark = 0;
      this.capture(peer.ns, peer.dev, arriving);
      ns = peer.ns;
      pkt = arriving;
    }
    return { kind: 'lost', ns, why: 'routing loop' };
  }

  /** A drop: REJECT answers, routers send ICMP errors for TTL and missing routes. */
  private dropped(ns: Netns, r: TraceResult, depth: number): Outcome {
    const at = r.packet;
    let answer: Packet | undefined;
    if (r.rejectWith !== undefined) answer = this.rejectAnswer(ns, at, r.rejectWith);
    else if (r.reason === 'ttl-exceeded') answer = this.icmpError(ns, at, 11, 0);
    else if (r.reason === 'no-route' && at.inIface !== null) answer = this.icmpError(ns, at, 3, 0);
    else if (r.reason === 'no-route' && at.inIface === null) return { kind: 'unreachable', ns, why: r.verdict };
    let sent: Outcome | undefined;
    if (answer && depth < 4) sent = this.send(ns, answer, depth + 1);
    return { kind: 'dropped', ns, why: r.verdict, answer: sent };
  }

  /** The packet a REJECT rule of `ns` sends back for `at` (undefined: none, as for a RST to a RST). */
  rejectAnswer(ns: Netns, at: Packet, how: string): Packet | undefined {
    if (how === 'tcp-reset') return at.proto === PROTO_TCP && !(at.tcpFlags & TCP_RST) ? this.resetFor(at) : undefined;
    const code = REJECT_CODES[how];
    if (code === undefined) return undefined;
    return this.icmpError(ns, at, 3, code);
  }

  /** icmp_send(): the error quotes the offending header; its source is the local destination or the route's. */
  icmpError(ns: Netns, at: Packet, type: number, code: number): Packet | undefined {
    if (at.proto === PROTO_ICMP && isIcmpError(at.icmpType)) return undefined; // never an error about an error
    const local = ns.host.isLocalAddress(at.dst);
    const src = local ? at.dst : (ns.host.route(at.src)?.prefsrc ?? 0);
    if (src === 0) return undefined;
    return this.packet({
      src,
      dst: at.src,
      proto: PROTO_ICMP,
      icmpType: type,
      icmpCode: code,
      tos: 0xc0,
      len: 28 + Math.min(at.len, 548),
      df: false,
      quoted: {
        src: at.src,
        dst: at.dst,
        proto: at.proto,
        tos: at.tos,
        ttl: at.ttl,
        id: at.id,
        df: at.df,
        len: at.len,
        sport: at.sport,
        dport: at.dport,
        seq: at.seq,
        icmpType: at.icmpType,
        icmpCode: at.icmpCode,
        icmpId: at.icmpId,
        icmpSeq: at.icmpSeq,
      },
    });
  }

  /** What the receiving kernel sends back by itself: echo reply, RST, ICMP port unreachable (undefined: a socket takes it). */
  kernelAnswer(ns: Netns, p: Packet): Packet | undefined {
    if (p.proto === PROTO_ICMP && p.icmpType === 8) {
      return this.packet({ src: p.dst, dst: p.src, proto: PROTO_ICMP, icmpType: 0, icmpCode: 0, icmpId: p.icmpId, icmpSeq: p.icmpSeq, len: p.len, df: false });
    }
    if (p.proto === PROTO_TCP && !(p.tcpFlags & TCP_RST) && !this.listening(ns, PROTO_TCP, p.dport)) return this.resetFor(p);
    if (p.proto === PROTO_UDP && !this.listening(ns, PROTO_UDP, p.dport)) return this.icmpError(ns, p, 3, 3);
    return undefined;
  }

  /**
   * The RST that answers a TCP segment (tcp_v4_send_reset, and REJECT --reject-with tcp-reset, which builds the
   * same): from its destination, acknowledging it unless it carried an ACK, whose number the RST then takes.
   */
  private resetFor(p: Packet): Packet {
    const ack = p.tcpFlags & TCP_ACK;
    const payload = Math.max(0, p.len - 20 - 20 - p.tcpOptions.length);
    const consumed = payload + (p.tcpFlags & TCP_SYN ? 1 : 0) + (p.tcpFlags & TCP_FIN ? 1 : 0);
    return this.packet({
      src: p.dst,
      dst: p.src,
      proto: PROTO_TCP,
      sport: p.dport,
      dport: p.sport,
      tcpFlags: ack ? TCP_RST : TCP_RST | TCP_ACK,
      seq: ack ? p.ackSeq : 0,
      ackSeq: ack ? 0 : (p.seq + consumed) >>> 0,
      window: 0,
      len: 40,
      df: true,
    });
  }

  /** A packet with the defaults of a Linux sender: TTL 64, the next IP id. */
  packet(f: Partial<Packet> & Pick<Packet, 'src' | 'dst' | 'proto'>): Packet {
    return newPacket({ id: this.nextIpId(), ...f });
  }

  capture(ns: Netns, dev: string, p: Packet): void {
    for (const c of this.captures) if (c.ns === ns && c.dev === dev) c.frames.push({ at: this.tick(), pkt: clonePacket(p) });
  }

  captureArp(ns: Netns, dev: string, arp: ArpFrame): void {
    for (const c of this.captures) if (c.ns === ns && c.dev === dev) c.frames.push({ at: this.tick(), arp });
  }

  /**
   * Neighbour resolution over a veth (src/lab/arp.ts resolveNeighbour): the frames cross it to the link partner
   * once the sender's chains let them go; tcpdump sees them on the sending device then, and on the receiving one
   * before its ingress chains.
   */
  private resolve(ns: Netns, dev: string, peerNs: Netns, peerDev: string, nextHop: number, src: number, drops: ArpDrops): boolean {
    const carry: ArpCarrier = (from, d, frame, drops) => {
      if (!arpLeg(this, from, frame, FRAME_LEGS.send(d), undefined, drops)) return [];
      const to = from === ns ? { ns: peerNs, dev: peerDev } : { ns, dev };
      this.captureArp(from, d, frame);
      this.captureArp(to.ns, to.dev, frame);
      return [to];
    };
    return resolveNeighbour(this, ns, dev, nextHop, src, carry, drops) !== undefined;
  }
}

export { PROTO_ICMP, PROTO_TCP, PROTO_UDP };
