/**
 * What `nft monitor trace` prints for one packet's run through a host: for every base chain the packet crosses
 * while skb->nf_trace is set (`meta nftrace set 1`, or iptables' `-j TRACE`, which iptables-nft makes the same
 * expression), a `packet:` line with its first event, then a line per rule that ran to its end and the policy
 * line. nft chains report through src/nft/eval (their events are in the trace result); iptables-nft chains are
 * nft chains to the kernel too, and nft prints their rules as it lists them (nftListedText: the translation,
 * counters as 0, since a trace carries no counter values).
 */
import type { TraceEvent, TraceResult } from '../eval/trace';
import { monitorLines, type MonitorOptions, type NftHook, type NftTraceEvent } from '../nft/eval/index';
import type { NftChain, NftTable } from '../nft/model';
import { nftListedText } from '../nft/translate';
import { clonePacket } from '../eval/packet';
import type { Hook } from '../extensions/spec';

const NFT_HOOK: Readonly<Record<Hook, NftHook>> = { PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting' };

/** The nft view of an iptables-nft table and chain (a trace line names them and reads nothing else). */
function iptTable(name: string): NftTable {
  return { family: 'ip', name, handle: 0, lastHandle: 0, flags: [], comment: undefined, sets: new Map(), chains: new Map(), objects: new Map() };
}
function iptChain(name: string, hook: Hook | undefined): NftChain {
  return { name, handle: 0, comment: undefined, rules: [], base: hook === undefined ? undefined : { type: 'filter', hook: NFT_HOOK[hook], devices: [], priority: 0, policy: 'accept' } };
}

/** The verdict words of a trace line for an iptables step verdict. */
function verdictWords(v: string, jumpTo: string | undefined): string {
  if (v === 'JUMP') return `jump ${jumpTo ?? ''}`;
  if (v === 'GOTO') return `goto ${jumpTo ?? ''}`;
  return v.toLowerCase();
}

/** The nft trace events of one iptables table walk (its 'chain' event and the steps after it). */
function iptablesWalkEvents(events: readonly TraceEvent[], start: number): { events: NftTraceEvent[]; next: number } {
  const head = events[start] as Extract<TraceEvent, { kind: 'chain' }>;
  const table = iptTable(head.table);
  const out: NftTraceEvent[] = [];
  const chains = new Map<string, NftChain>();
  const chainOf = (name: string): NftChain => {
    let c = chains.get(name);
    if (!c) chains.set(name, (c = iptChain(name, name === head.hook ? head.hook : undefined)));
    return c;
  };
  let i = start + 1;
  let dumped = false;
  for (; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === 'chain' || e.kind === 'hook' || e.kind === 'nft') break;
    if (e.kind !== 'step' || e.traced !== true) continue;
    const s = e.step;
    const chain = chainOf(s.chain);
    const pkt = clonePacket(e.packet);
    if (!dumped) {
      out.push({ kind: 'packet', table, chain: chainOf(head.hook), pkt });
      dumped = true;
    }
    if (s.type === 'policy' && s.rule === undefined) out.push({ kind: 'policy', table, chain, verdict: s.verdict === 'DROP' ? 'drop' : 'accept', pkt });
    else if (s.rule !== undefined) {
      const text = nftListedText(s.rule) ?? `# ${s.rule.line.trim()}`;
      out.push({ kind: 'rule', table, chain, handle: s.num, text, verdict: verdictWords(s.verdict, s.rule.jumpTo), pkt });
    } else out.push({ kind: 'return', table, chain, pkt });
  }
  return { events: out, next: i };
}

/**
 * The monitor lines of a trace result; `nextId` gives the trace ids (8 hex digits): the kernel's is random per
 * packet, and a packet looped back through lo is a new skb with a new id (recorded: fixtures/nft/traces).
 */
export function nftMonitorLines(r: TraceResult, nextId: () => string, opts: MonitorOptions = {}): string[] {
  const lines: string[] = [];
  const ev = r.events;
  let id = nextId();
  for (let i = 0; i < ev.length; ) {
    const e = ev[i]!;
    if (e.kind === 'route' && e.text.startsWith('loopback:')) {
      id = nextId();
      i++;
    } else if (e.kind === 'chain' && e.registered === false) {
      i = iptablesWalkEvents(ev, i).next;
    } else if (e.kind === 'nft') {
      if (e.events.some((x) => x.kind === 'packet')) lines.push(...monitorLines(e.events, id, e.hook, e.family as NftTable['family'], opts));
      i++;
    } else if (e.kind === 'chain') {
      const w = iptablesWalkEvents(ev, i);
      if (w.events.length > 0) lines.push(...monitorLines(w.events, id, NFT_HOOK[e.hook], 'ip', opts));
      i = w.next;
    } else i++;
  }
  return lines;
}
