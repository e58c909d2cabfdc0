/**
 * A single host's traces as diagram inputs: the packets of one conntrack connection form one input (its
 * request and reply packets as hops, in order), a packet without a connection an input of its own. Used for
 * `tsiptables trace --html/--svg/--dot` (one packet or a --batch).
 */
import type { Ruleset } from '../model/ruleset';
import { packetTuple, tupleKey, tupleText } from '../eval/conntrack';
import type { TraceResult } from '../eval/trace';
import { packetText } from './hop-view';
import type { DiagramInput } from './model';

/**
 * The result as it was when the packet was traced: its conntrack entry is the live one, which later packets of a
 * batch change (SEEN_REPLY, ASSURED, the TCP state), so a diagram drawn after the batch copies it first.
 */
export function snapshotResult(r: TraceResult): TraceResult {
  const c = r.conn;
  return c ? { ...r, conn: { ...c, orig: { ...c.orig }, reply: { ...c.reply }, natInit: { ...c.natInit } } } : r;
}

/** Which way a packet travels in its connection: the way the first packet went, or back. */
export function directionOf(r: TraceResult): 'request' | 'reply' {
  if (!r.conn) return 'request';
  return tupleKey(packetTuple(r.original)) === tupleKey(r.conn.orig) ? 'request' : 'reply';
}

export function connectionInputs(results: readonly TraceResult[], ruleset: Ruleset, host: string): DiagramInput[] {
  const inputs: DiagramInput[] = [];
  const byConn = new Map<number, DiagramInput>();
  for (const r of results) {
    const hop = { host, direction: directionOf(r), result: r, ruleset };
    const id = r.conn?.id;
    const known = id !== undefined ? byConn.get(id) : undefined;
    if (known) {
      known.hops.push(hop);
      continue;
    }
    const title = r.conn ? `connection ${tupleText(r.conn.orig).replace(/ -> /g, ' → ')}` : packetText(r.original);
    const input: DiagramInput = { title, hops: [hop] };
    inputs.push(input);
    if (id !== undefined) byConn.set(id, input);
  }
  for (const i of inputs) if (i.hops.length > 1) i.title += ` (${i.hops.length} packets)`;
  return inputs;
}
