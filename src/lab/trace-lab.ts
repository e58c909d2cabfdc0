/**
 * One packet through a lab (`tsiptables trace --lab SCRIPT --from NS PACKET`): the script builds the hosts and
 * their rulesets (traffic and cleanup commands left out), then the packet leaves NS (or arrives on NS's
 * device with -i) and crosses every host on its way; what comes back (the echo reply, the SYN-ACK of an
 * assumed listener, a RST, a REJECT's ICMP error) is traced on its way back too. Each host crossed is one hop.
 */
import { BatchHistory, buildPacket, parsePacketArgs } from '../eval/packet-line';
import { PROTO_TCP, TCP_ACK, TCP_SYN, type Packet } from '../eval/packet';
import { Lab } from './run';
import type { Hop, Outcome } from './net';

export interface LabTrace {
  /** The hosts the packet crossed, in order. */
  request: Hop[];
  /** The hosts the answer crossed (empty when nothing answered). */
  reply: Hop[];
  outcome: Outcome;
  answer: Outcome | undefined;
  /** What the trace had to assume (a listener for a TCP SYN). */
  notes: string[];
  /** The script's own complaints (unsupported lines). */
  unsupported: Array<{ line: number; message: string }>;
}

export class LabTraceError extends Error {}

export async function traceInLab(script: string, scriptName: string, from: string, packetWords: readonly string[], now: Date): Promise<LabTrace> {
  const lab = new Lab({ scriptName, now, setupOnly: true });
  try {
    const built = await lab.run(script);
    const ns = lab.world.namespaces.get(from) ?? (from === '' || from === 'root' ? lab.world.root : undefined);
    if (!ns) throw new LabTraceError(`--from ${from}: the lab has no namespace "${from}" (it has ${[...lab.world.namespaces.keys()].join(', ') || 'none'})`);
    const spec = parsePacketArgs(packetWords);
    // A lab's ARP is what its packets cause (neighbour resolution), with its own legs: not a packet to trace.
    if (spec.arpOp !== undefined) throw new LabTraceError('-p arp: a lab resolves neighbours itself; trace a packet that needs one (trace -p arp takes a single host)');
    if (spec.inIface !== null && !ns.host.ifaces.has(spec.inIface)) throw new LabTraceError(`-i ${spec.inIface}: ${from} has no such device (it has ${[...ns.host.ifaces.keys()].join(', ')})`);
    const pkt = buildPacket(spec, 0, new BatchHistory(), ns.conntrack, (dst) => ns.host.route(dst)?.prefsrc ?? ns.host.primaryAddress(ns.host.route(dst)?.dev ?? '', dst));
    const net = lab.net;
    net.hops = [];
    const outcome = spec.inIface !== null ? net.inject(ns, pkt) : net.send(ns, pkt);
    const request = net.hops;
    net.hops = [];
    const notes: string[] = [];
    let answer: Outcome | undefined;
    if (outcome.kind === 'delivered') {
      const a = answerTo(lab, outcome.ns, outcome.pkt, notes);
      if (a) answer = net.send(outcome.ns, a);
    } else if (outcome.kind === 'dropped') answer = outcome.answer;
    const reply = outcome.kind === 'dropped' ? request.splice(request.findIndex((h) => h.ns === outcome.ns && h.result.fate === 'dropped') + 1) : net.hops;
    return { request, reply, outcome, answer, notes, unsupported: built.unsupported };
  } finally {
    lab.world.dispose();
  }
}

/** The receiver's answer: a SYN gets a SYN-ACK (a listener is assumed), the rest what the kernel sends. */
function answerTo(lab: Lab, ns: Lab['world']['root'], p: Packet, notes: string[]): Packet | undefined {
  if (p.proto === PROTO_TCP && (p.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
    notes.push(`assumed: a server listens on port ${p.dport} in ${ns.label()} (it answers the SYN with a SYN-ACK)`);
    return lab.net.packet({ src: p.dst, dst: p.src, proto: PROTO_TCP, sport: p.dport, dport: p.sport, tcpFlags: TCP_SYN | TCP_ACK, seq: 5000, ackSeq: (p.seq + 1) >>> 0, window: 65160, len: 60 });
  }
  return lab.net.kernelAnswer(ns, p);
}
