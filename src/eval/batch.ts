/**
 * A --batch run: packets one after another through one Tracer, so conntrack and extension memory persist and
 * each packet's defaults (IP id, TCP flags and sequence numbers, the quote of an ICMP error) follow the ones
 * before it. Used by the CLI, the replay of recorded kernel cases and the benchmark alike.
 */
import type { Ruleset } from '../model/ruleset';
import type { Host } from './host';
import { BatchHistory, buildArpFrame, buildPacket, parsePacketArgs, type PacketSpec } from './packet-line';
import { FRAME_LEGS, Tracer, TraceInputError, type TraceOptions, type TraceResult } from './trace';

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
    const pkt = buildPacket(spec, this.index++, this.history, this.tracer.conntrack, this.routeSource);
    // The packet was made for this run alone: the result keeps it as its original.
    const result = this.tracer.run(pkt, true);
    // What the far side saw: the packet as it left or was delivered; a dropped one never left, so as sent.
    this.history.add({ wire: result.fate === 'dropped' ? result.original : result.packet, given: result.original });
    return result;
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
    const steps = frame.inIface !== null ? FRAME_LEGS.receive(dev) : FRAME_LEGS.send(dev);
    return this.tracer.runFrame(frame, steps, false, frame.inIface !== null ? 'delivered' : 'sent').result;
  }
}
