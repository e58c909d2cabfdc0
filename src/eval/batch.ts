/**
 * A --batch run: packets one after another through one Tracer, so conntrack and extension memory persist and
 * each packet's defaults (IP id, TCP flags and sequence numbers, the quote of an ICMP error) follow the ones
 * before it. Used by the CLI, the replay of recorded kernel cases and the benchmark alike.
 */
import type { Ruleset } from '../model/ruleset';
import type { Host } from './host';
import { BatchHistory, buildArpFrame, buildPacket, parsePacketArgs, type PacketSpec } from './packet-line';
import { FRAME_LEGS, Tracer, TraceInputError, type TraceOptions, type TraceResult } from './trace';
import { RTN } from './context';
import type { Packet } from './packet';

export class BatchRunner {
  readonly tracer: Tracer;
  private readonly history = new BatchHistory();
  private index = 0;
  /** The source address a packet without -s takes: the route's preferred source. */
  private readonly routeSource = (dst: number): number | undefined => this.host.route(dst)?.prefsrc;

  constructor(
    ruleset: Ruleset,
    readonly host: Host,
    opts: TraceOptions,
  ) {
    this.tracer = new Tracer(ruleset, host, opts);
  }

  /** Runs the next PACKET (its words). Throws PacketLineError / TraceInputError for bad input. */
  next(words: readonly string[]): TraceResult {
    const spec = parsePacketArgs(words);
    if (spec.arpOp !== undefined) return this.arp(spec);
    const bridge = this.bridgeOfPort(spec.inIface, spec.outPort);
    const pkt = buildPacket(spec, this.index++, this.history, this.tracer.conntrack, this.routeSource);
    // The packet was made for this run alone: the result keeps it as its original.
    const result = bridge !== undefined ? this.bridged(pkt, bridge, spec.outPort) : this.tracer.run(pkt, true);
    // What the far side saw: the packet as it left or was delivered; a dropped one never left, so as sent.
    this.history.add({ wire: result.fate === 'dropped' ? result.original : result.packet, given: result.original });
    return result;
  }

  /**
   * A frame that comes in by a port of a host-file bridge: for the host itself (one of its addresses, a
   * broadcast) it goes up the bridge device (bridge prerouting and input chains, then the ip stack as IN=bridge
   * PHYSIN=port); otherwise the bridge forwards it out of `outPort` (default: the first other port), through the
   * bridge chains and, with bridge-nf-call-iptables=1, the ip chains br_netfilter calls.
   */
  private bridged(pkt: Packet, bridge: string, outPort: string | undefined): TraceResult {
    const port = pkt.inIface!;
    const callIptables = this.host.bridgeNfCallIptables;
    const t = this.host.addrType(pkt.dst);
    if (this.host.isLocalAddress(pkt.dst) || t === RTN.BROADCAST || t === RTN.MULTICAST || pkt.dst === 0xffffffff) {
      const up = { ...pkt, inIface: bridge, physIn: callIptables ? port : undefined };
      return this.tracer.run(up, true, { bridge, port, callIptables });
    }
    const out = this.outPortOf(bridge, port, outPort);
    if (out === undefined) throw new TraceInputError(`-i ${port}: ${bridge} has no other port to forward the frame to`);
    return this.tracer.runBridged(pkt, port, out, bridge, callIptables);
  }

  /** The bridge the `-i` device is a port of (host files); `-o` without one is refused. */
  private bridgeOfPort(inIface: string | null, outPort: string | undefined): string | undefined {
    const bridge = inIface !== null ? this.host.bridgeOf(inIface) : undefined;
    if (outPort !== undefined && bridge === undefined) throw new TraceInputError(`-o ${outPort}: only a frame that comes in by a bridge port (-i) leaves by a port`);
    return bridge;
  }

  /** The port a bridged frame leaves by: `-o`, which must be another port of the bridge, or its first other port. */
  private outPortOf(bridge: string, inPort: string, outPort: string | undefined): string | undefined {
    const ports = this.host.bridges.get(bridge)!;
    const out = outPort ?? ports.find((p) => p !== inPort);
    if (out !== undefined && (out === inPort || !ports.includes(out))) throw new TraceInputError(`-o ${out}: not another port of ${bridge} (its ports: ${ports.join(', ')})`);
    return out;
  }

  /**
   * `-p arp`: the frame through the chains that see ARP (Tracer.runFrame): arriving on -i, that device's netdev
   * ingress and the arp family's input; sent by this host, arp output and the out device's egress.
   */
  private arp(spec: PacketSpec): TraceResult {
    this.index++;
    if (spec.inIface !== null && !this.host.ifaces.has(spec.inIface)) {
      throw new TraceInputError(`-i ${spec.inIface}: the host has no such interface (it has ${[...this.host.ifaces.keys()].join(', ')})`);
    }
    const frame = buildArpFrame(spec, this.host);
    const dev = frame.inIface ?? frame.outIface!;
    const bridge = this.bridgeOfPort(frame.inIface, spec.outPort);
    let steps = frame.inIface !== null ? FRAME_LEGS.receive(dev) : FRAME_LEGS.send(dev);
    if (bridge !== undefined) {
      // By a bridge port: the bridge takes it in, then passes it up (asked of the host) or forwards it (-o PORT,
      // default the first other port).
      const out = this.outPortOf(bridge, dev, spec.outPort);
      if (this.host.isLocalAddress(frame.dst) || out === undefined) steps = [...FRAME_LEGS.bridgeIn(dev), ...FRAME_LEGS.bridgeUp(dev), ...FRAME_LEGS.receive(bridge)];
      else steps = [...FRAME_LEGS.bridgeIn(dev), ...FRAME_LEGS.bridgeOut(dev, out)];
    }
    return this.tracer.runFrame(frame, steps, false, frame.inIface !== null ? 'delivered' : 'sent').result;
  }
}
