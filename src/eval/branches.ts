/**
 * Every answer a packet can get when the ruleset draws lots (`-m statistic --mode random`, as kube-proxy picks an
 * endpoint): the packet is run once per combination of the random decisions it meets (depth first, each run
 * forcing the answers of the previous one up to a point and flipping the next), each outcome with its
 * probability, the product of the decisions' own. Runs use a fresh tracer, so they start from the same empty
 * conntrack table as a single-packet trace and leave the counters alone.
 */
import type { Ruleset } from '../model/ruleset';
import type { Host } from './host';
import type { Packet } from './packet';
import { Tracer, type TraceOptions, type TraceResult } from './trace';

export interface Branch {
  probability: number;
  /** The random decisions of this run, in order, with their answers. */
  answers: boolean[];
  result: TraceResult;
}

const isRandom = (p: number | undefined): p is number => p !== undefined && p > 0 && p < 1;

/** All branches (at most `limit` runs); returns [] when the packet meets no random decision. */
export function exploreBranches(ruleset: Ruleset, host: Host, opts: TraceOptions, pkt: Packet, limit = 256): Branch[] {
  const out: Branch[] = [];
  const queue: boolean[][] = [[]];
  while (queue.length > 0 && out.length < limit) {
    const forced = queue.shift()!;
    const tracer = new Tracer(ruleset, host, { ...opts, explain: false, forced, noCounters: true });
    const result = tracer.run(pkt);
    const random = result.assumptions.filter((a) => isRandom(a.probability));
    if (random.length === 0) return [];
    const answers = random.map((a) => a.answer);
    let probability = 1;
    for (const a of random) probability *= a.answer ? a.probability! : 1 - a.probability!;
    out.push({ probability, answers, result });
    for (let j = forced.length; j < answers.length; j++) queue.push([...answers.slice(0, j), !answers[j]!]);
  }
  return out;
}
