/**
 * From a hop's TraceResult to the HopView the renderers draw: the path through the netfilter picture (read off
 * the trace events in order: hooks, routing decisions, conntrack, NAT, each table walk's steps and misses, each
 * nft base chain's events), the visited and greyed boxes, where the packet died, the NAT on the arrows and each
 * walked chain's rules with their outcome. Also the figure of a whole input: lanes (one per host) and the
 * crossings between consecutive hops.
 *
 * The boxes of a hook come from the host's pipeline (src/eval/nft-pipeline.ts), the order the kernel runs them:
 * iptables tables and nft base chains of families ip and inet by priority, the nat chains of both behind the one
 * nat hook (drawn one box each, in their own order); netdev ingress chains of the arrival device sit on the in
 * wire, egress chains of the out device on the out wire.
 */
import type { Hook } from '../extensions/spec';
import type { Rule, Ruleset } from '../model/ruleset';
import { addrToString } from '../model/ip';
import { ConntrackTable, tupleText } from '../eval/conntrack';
import { buildPipeline, type NftEntry, type Pipeline } from '../eval/nft-pipeline';
import { rulesetFromText } from '../nft/index';
import type { NftChain, NftRuleset } from '../nft/model';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, protoName, type Packet } from '../eval/packet';
import { describeStep, statusNames, type TraceEvent } from '../eval/trace';
import type { Step } from '../eval/walk';
import { flagsText } from '../extensions/matches/tcp';
import { EDGES, HOOK_IDS, type ChainListing, type Crossing, type DiagramHop, type DiagramInput, type EdgeView, type FigureView, type HopView, type NodeId, type NodeView, type RuleRow, type TableBox, type WalkListing } from './model';

type NftWalkEvent = Extract<TraceEvent, { kind: 'nft' }>;

/** The node of an nft hook's chains. */
const NFT_NODE: Readonly<Record<string, NodeId>> = { ingress: 'in', prerouting: 'PREROUTING', input: 'INPUT', forward: 'FORWARD', output: 'OUTPUT', postrouting: 'POSTROUTING', egress: 'out' };

/** A ruleset's pipeline and parsed nft side, kept while its nft text stays the same (a batch draws many hops). */
const pipelines = new WeakMap<Ruleset, { key: string; nft: NftRuleset | undefined; pipeline: Pipeline }>();

function pipelineOf(rs: Ruleset): { nft: NftRuleset | undefined; pipeline: Pipeline } {
  const key = `${[...rs.tables.keys()].join(' ')}\n${rs.nft ?? ''}`;
  const got = pipelines.get(rs);
  if (got && got.key === key) return got;
  let nft: NftRuleset | undefined;
  try {
    nft = rs.nft === undefined ? undefined : rulesetFromText(rs.nft);
  } catch {
    nft = undefined;
  }
  const made = { key, nft, pipeline: buildPipeline(rs, nft) };
  pipelines.set(rs, made);
  return made;
}

const nftBoxName = (family: string, table: string, chain: string): string => `${family} ${table}/${chain}`;

function nftBox(e: NftEntry, natChain: boolean): TableBox {
  const base = e.chain.base!;
  return {
    kind: 'nft',
    name: nftBoxName(e.table.family, e.table.name, e.chain.name),
    nft: { family: e.table.family, table: e.table.name, chain: e.chain.name, hook: base.hook, natChain },
    priority: e.priority,
    visited: false,
    summary: '',
    decisive: false,
    dropped: false,
    nat: [],
    anchor: undefined,
  };
}

/** The iptables nat table or an nft nat chain: the chains behind the nat hook. */
const isNatBox = (t: TableBox): boolean => (t.kind === 'table' && t.name === 'nat') || t.nft?.natChain === true;

/** The statements of an nft rule that change the packet or its metadata, short: "meta mark set 0x1", "ip daddr set 10.0.2.2". */
function nftActions(text: string): string[] {
  const out: string[] = [];
  const re = /\b((?:ip|ip6|tcp|udp|th|meta|ct) (?:saddr|daddr|sport|dport|mark|dscp|ttl|priority|nftrace) set \S+)|\b(notrack|log|(?:snat|dnat)(?: ip)? to \S+|masquerade|redirect(?: to \S+)?|reject|queue|fwd to \S+|dup to \S+)\b/g;
  for (const m of text.matchAll(re)) {
    const a = (m[1] ?? m[2])!;
    if (a.startsWith('meta nftrace')) continue;
    out.push(a);
  }
  return out;
}

/** Header rewrites done by an nft rule's statements ("ip daddr set 10.0.2.2"), the field and the new value. */
function nftRewrites(text: string): Array<{ field: 'src' | 'dst' | 'sport' | 'dport'; what: string; value: string }> {
  const out: Array<{ field: 'src' | 'dst' | 'sport' | 'dport'; what: string; value: string }> = [];
  for (const m of text.matchAll(/\b(ip (saddr|daddr)|(?:tcp|udp|th) (sport|dport)) set (\S+)/g)) {
    const f = m[2] ?? m[3];
    out.push({ field: f === 'saddr' ? 'src' : f === 'daddr' ? 'dst' : (f as 'sport' | 'dport'), what: m[1]!, value: m[4]! });
  }
  return out;
}

/** The summary word of an nft rule that matched: its verdict, or what it did when it went on. */
function nftShort(verdict: string, text: string): string {
  if (verdict !== 'continue') return verdict;
  const acts = nftActions(text).map((a) => a.replace(/^(?:ip|ip6|tcp|udp|th|meta|ct) /, '').replace(/ set .*/, ' set').replace(/ to .*/, ''));
  return acts.length ? acts.join(', ') : 'continue';
}

/** Chains longer than this list only the rules the packet met. */
const FULL_LISTING_MAX = 60;

const ICMP_TYPES: Readonly<Record<number, string>> = { 0: 'echo-reply', 3: 'destination-unreachable', 4: 'source-quench', 5: 'redirect', 8: 'echo-request', 11: 'time-exceeded', 12: 'parameter-problem', 13: 'timestamp-request', 14: 'timestamp-reply' };

/** "tcp 10.0.1.2:40000 → 10.0.1.1:8800 SYN", "icmp 10.0.1.2 → 10.0.2.2 echo-request". */
export function packetText(p: Packet): string {
  const a = addrToString;
  if (p.proto === PROTO_TCP) return `tcp ${a(p.src)}:${p.sport} → ${a(p.dst)}:${p.dport} ${flagsText(p.tcpFlags & 0x3f)}`;
  if (p.proto === PROTO_UDP) return `udp ${a(p.src)}:${p.sport} → ${a(p.dst)}:${p.dport}`;
  if (p.proto === PROTO_ICMP) return `icmp ${a(p.src)} → ${a(p.dst)} ${ICMP_TYPES[p.icmpType] ?? `type ${p.icmpType}`}${p.icmpCode !== 0 ? `/${p.icmpCode}` : ''}`;
  return `${protoName(p.proto)} ${a(p.src)} → ${a(p.dst)}`;
}

interface Ends {
  src: string;
  dst: string;
  icmpId: string | undefined;
}

/** The two ends of describePacket()'s text ("a:p -> b:q", "a -> b (icmp id N)"). */
function endsOf(text: string): Ends | undefined {
  const m = /^(\S+) -> (\S+)(?: \(icmp id (\d+)\))?$/.exec(text);
  return m ? { src: m[1]!, dst: m[2]!, icmpId: m[3] } : undefined;
}

/** The arrow text of a NAT rewrite: only the end that changed ("SNAT 10.0.1.2:40000 → 10.0.2.1:40000"). */
export function natLabel(manip: 'src' | 'dst', before: string, after: string, note: string | undefined): string {
  const kind = manip === 'src' ? 'SNAT' : 'DNAT';
  const b = endsOf(before);
  const a = endsOf(after);
  const tail = note !== undefined ? ' (conntrack)' : '';
  if (!b || !a) return `${kind} ${before} → ${after}${tail}`;
  const from = manip === 'src' ? b.src : b.dst;
  const to = manip === 'src' ? a.src : a.dst;
  const id = b.icmpId !== a.icmpId ? ` (icmp id ${b.icmpId ?? '?'} → ${a.icmpId ?? '?'})` : '';
  return `${kind} ${from} → ${to}${id}${tail}`;
}

/** What a matched rule did, short: "LOG", "ACCEPT", "DNAT", "→ KUBE-SERVICES". */
function ruleAction(s: Step): string {
  const r = s.rule;
  if (!r) return s.verdict;
  if (r.verdict.kind === 'jump') return `→ ${r.verdict.chain}`;
  if (r.verdict.kind === 'goto') return `goto ${r.verdict.chain}`;
  if (r.verdict.kind === 'target') return r.verdict.target.def.name;
  return s.verdict;
}

/** What a matched rule did: "ACCEPT", "LOG (continue)", "DNAT (accept)", "→ KUBE-SERVICES (jump)". */
export function matchedText(r: RuleRow): string {
  const v = r.verdict ?? '';
  return r.action === undefined || r.action === v ? v : `${r.action} (${v.toLowerCase()})`;
}

/** A rule row's outcome as the listings print it: "matched: ACCEPT", "skipped: ...", "not reached". */
export function outcomeText(r: RuleRow): string {
  if (r.outcome === 'matched') return `matched${r.inferred ? ' (not traced)' : ''}: ${matchedText(r)}`;
  return r.outcome === 'skipped' ? `skipped: ${r.why ?? ''}` : 'not reached';
}

const arrows = (s: string): string => s.replace(/ -> /g, ' → ');

const ruleText = (chain: string, r: Rule): string => `-A ${chain}${r.line}`;

interface NftChainState {
  listing: ChainListing;
  rows: Map<number, RuleRow>;
  chain: NftChain;
}

interface NftWalkState {
  listing: WalkListing;
  box: TableBox | undefined;
  byChain: Map<string, NftChainState>;
  /** "policy accept" when the walk ended at the policy. */
  end: string | undefined;
  /** The walk's verdict as the trace keeps it (r.steps). */
  step: Step | undefined;
  decisive: boolean;
}

interface WalkState {
  listing: WalkListing;
  byChain: Map<string, { listing: ChainListing; rows: Map<number, RuleRow> }>;
  matched: string[];
  last: Step | undefined;
  decisive: boolean;
}

/** Builds the view of one hop; `id` prefixes its element ids. */
export function buildHopView(hop: DiagramHop, index: number, id: string): HopView {
  const r = hop.result;
  const rs = hop.ruleset;
  const nodes = new Map<NodeId, NodeView>();
  const node = (nid: NodeId, label: string): NodeView => {
    const n: NodeView = { id: nid, label, detail: [], visited: false, dropped: false, tables: [], order: 0 };
    nodes.set(nid, n);
    return n;
  };
  node('in', r.original.inIface !== null ? `in ${r.original.inIface}` : 'in');
  node('PREROUTING', 'PREROUTING');
  node('route-in', 'routing');
  node('INPUT', 'INPUT');
  node('local', 'local process');
  node('FORWARD', 'FORWARD');
  node('route-out', 'routing (local out)');
  node('OUTPUT', 'OUTPUT');
  node('POSTROUTING', 'POSTROUTING');
  const nftWalks = r.events.filter((e): e is NftWalkEvent => e.kind === 'nft');
  const egressDev = r.out ?? nftWalks.find((e) => e.hook === 'egress')?.dev ?? r.packet.outIface;
  node('out', r.out !== null ? `out ${r.out}` : nftWalks.some((e) => e.hook === 'egress') && egressDev !== null ? `out ${egressDev}` : 'out');

  // Boxes of every hook in the order they run: the tables the ruleset has, nft base chains, conntrack's own steps.
  const { nft, pipeline } = pipelineOf(rs);
  const plain = (kind: TableBox['kind'], name: string, priority: number): TableBox => ({ kind, name, priority, visited: false, summary: '', decisive: false, dropped: false, nat: [], anchor: undefined });
  for (const hook of HOOK_IDS) {
    const n = nodes.get(hook)!;
    for (const e of pipeline.hooks[hook]) {
      if (e.kind === 'nft') n.tables.push(nftBox(e, false));
      else if (e.kind === 'nat') for (const c of e.chains) n.tables.push(c.kind === 'ipt' ? plain('table', 'nat', c.priority) : nftBox(c, true));
      else n.tables.push(plain(e.kind, e.kind === 'table' ? e.table : e.kind, e.priority));
    }
  }
  // Netdev ingress chains of the arrival device, egress chains of the out device.
  if (r.original.inIface !== null) for (const e of pipeline.ingress.get(r.original.inIface) ?? []) nodes.get('in')!.tables.push(nftBox(e, false));
  if (egressDev !== null) for (const e of pipeline.egress.get(egressDev) ?? []) nodes.get('out')!.tables.push(nftBox(e, false));
  const box = (hook: Hook, name: string): TableBox | undefined => nodes.get(hook)!.tables.find((t) => t.name === name);

  const path: NodeId[] = [];
  const go = (nid: NodeId): void => {
    if (path[path.length - 1] !== nid) path.push(nid);
  };
  go(r.original.inIface !== null ? 'in' : 'local');
  const walks: WalkListing[] = [];
  const walkStates: WalkState[] = [];
  const natOnLeaving = new Map<number, string[]>();
  const notes: string[] = [];
  let hook: Hook | undefined;
  let walk: WalkState | undefined;
  let decidedHook: NodeId | undefined;
  const pendingPath = new Map<string, readonly string[]>();
  const nftStates: NftWalkState[] = [];
  // Each nft walk left one step (its verdict: a rule or the policy) in r.steps, in the order of the walks.
  const nftSteps = r.steps.filter((s) => s.rule === undefined && s.table.includes(' '));
  let nftStepAt = 0;
  const nextNftStep = (label: string, chain: string): Step | undefined => {
    for (let i = nftStepAt; i < nftSteps.length; i++) {
      const s = nftSteps[i]!;
      if (s.table === label && s.path[0] === chain) {
        nftStepAt = i + 1;
        return s;
      }
    }
    return undefined;
  };
  // Header rewrites by nft statements: a field rewritten once, with no conntrack NAT, shows its old value.
  const rewritten = new Map<string, number>();
  const natSeen = r.events.some((e) => e.kind === 'nat');
  for (const e of nftWalks) for (const x of e.events) if (x.kind === 'rule') for (const w of nftRewrites(x.text)) rewritten.set(w.field, (rewritten.get(w.field) ?? 0) + 1);

  const nftWalk = (e: NftWalkEvent): void => {
    const nid = NFT_NODE[e.hook];
    if (nid === undefined) return;
    if (e.hook === 'egress') go('out');
    const label = `${e.family} ${e.table}`;
    const b = nodes.get(nid)!.tables.find((t) => t.kind === 'nft' && t.name === nftBoxName(e.family, e.table, e.chain));
    const prio = b !== undefined ? `, priority ${b.priority}` : '';
    const where = e.hook === 'ingress' || e.hook === 'egress' ? `${e.hook}${e.dev !== undefined ? ` ${e.dev}` : ''}` : `hook ${e.hook}`;
    const listing: WalkListing = { id: `${id}-w${walks.length}`, hook: nid, table: label, base: e.chain, heading: `${label} ${e.chain} (nft: ${where}${prio})`, nft: true, chains: [] };
    walks.push(listing);
    if (b) {
      b.visited = true;
      b.anchor = listing.id;
    }
    const step = nextNftStep(label, e.chain);
    const decisive = step !== undefined && step === r.decidedBy;
    if (decisive) decidedHook = nid;
    const st: NftWalkState = { listing, box: b, byChain: new Map(), end: undefined, step, decisive };
    nftStates.push(st);
    const paths = new Map<string, readonly string[]>([[e.chain, [e.chain]]]);
    const chainState = (c: NftChain): NftChainState => {
      let cs = st.byChain.get(c.name);
      if (!cs) {
        const cl: ChainListing = { table: label, chain: c.name, rules: [], omitted: 0, end: undefined, path: paths.get(c.name) ?? [e.chain, c.name] };
        cs = { listing: cl, rows: new Map(), chain: c };
        st.byChain.set(c.name, cs);
        listing.chains.push(cl);
      }
      return cs;
    };
    const numOf = (c: NftChain, handle: number): number => c.rules.findIndex((x) => x.handle === handle) + 1;
    const base = nft?.table(e.family as never, e.table)?.chains.get(e.chain) ?? e.events[0]?.chain;
    if (base) chainState(base);
    for (const x of e.events) {
      if (x.kind === 'packet') continue;
      const cs = chainState(x.chain);
      if (x.kind === 'miss') {
        const num = numOf(x.chain, x.handle);
        cs.rows.set(num, { num, handle: x.handle, text: x.text, outcome: 'skipped', verdict: undefined, action: undefined, why: x.why, decisive: false });
      } else if (x.kind === 'rule') {
        const num = numOf(x.chain, x.handle);
        const [word, target] = x.verdict.split(' ');
        const acts = nftActions(x.text);
        const action = target !== undefined ? `${word === 'goto' ? 'goto ' : '→ '}${target}` : acts.length > 0 ? acts.join(', ') : undefined;
        cs.rows.set(num, { num, handle: x.handle, text: x.text, outcome: 'matched', verdict: word!.toUpperCase(), action, why: undefined, decisive: false });
        if (target !== undefined && (word === 'jump' || word === 'goto')) paths.set(target, [...(paths.get(x.chain.name) ?? [x.chain.name]), target]);
      } else if (x.kind === 'policy') {
        cs.listing.end = { text: `policy ${x.verdict}`, decisive: false };
        st.end = `policy ${x.verdict}`;
      } else if (x.kind === 'return') cs.listing.end = { text: 'end of chain: return', decisive: false };
    }
    // The walk's verdict (its step): the deciding rule or the policy, also when the packet was not traced.
    if (step !== undefined) {
      const dchain = st.byChain.get(step.chain)?.chain ?? nft?.table(e.family as never, e.table)?.chains.get(step.chain);
      if (dchain) {
        const cs = chainState(dchain);
        if (step.type === 'policy') {
          st.end = `policy ${step.verdict.toLowerCase()}`;
          cs.listing.end = { text: st.end, decisive };
        } else {
          const got = cs.rows.get(step.num);
          const rule = dchain.rules[step.num - 1];
          if (got) got.decisive = decisive;
          else if (rule) {
            cs.rows.set(step.num, { num: step.num, handle: rule.handle, text: rule.text, outcome: 'matched', verdict: step.verdict, action: undefined, why: undefined, decisive, inferred: true });
          }
        }
      }
    }
    if (decisive && b) b.decisive = true;
    nftRows(st);
    // What the box says, and the header rewrites of the rules that matched (on the box and the arrow out).
    const matched: string[] = [];
    const here = path.length - 1;
    for (const cs of st.byChain.values()) {
      for (const row of cs.listing.rules) {
        if (row.outcome !== 'matched') continue;
        const v = row.verdict ?? '';
        const short = v === 'CONTINUE' ? nftShort('continue', row.text) : row.action?.startsWith('→') || row.action?.startsWith('goto') ? row.action : v.toLowerCase();
        matched.push(`${cs.chain.name === e.chain ? '' : `${cs.chain.name} `}#${row.num} ${short}`);
        for (const w of nftRewrites(row.text)) {
          const before = w.field === 'src' || w.field === 'dst' ? addrToString(r.original[w.field]) : String(r.original[w.field]);
          const text = (rewritten.get(w.field) ?? 0) <= 1 && !natSeen && before !== w.value ? `${w.what} ${before} → ${w.value}` : `${w.what} set ${w.value}`;
          b?.nat.push(text);
          natOnLeaving.set(here, [...(natOnLeaving.get(here) ?? []), text]);
        }
      }
    }
    if (b) {
      const list = matched.length > 3 ? [`${matched.length} rules matched, last ${matched[matched.length - 1]!}`] : matched;
      b.summary = [...list, ...(st.end !== undefined ? [st.end] : [])].join(', ') || 'no rule matched';
    }
  };

  /**
   * The rows of an nft walk's chains in rule order. A rule with no event was not reached, unless the walk went
   * past it untraced (the kernel reports matching rules only while skb->nf_trace is set; misses are the
   * simulator's and always there): before the deciding rule of its chain, before a later rule with an event, or
   * before the rule that jumped to a chain the walk entered. Those matched and went on.
   */
  const nftRows = (st: NftWalkState): void => {
    const step = st.step;
    for (const cs of st.byChain.values()) {
      const rules = cs.chain.rules;
      let passed = 0;
      if (step !== undefined && step.chain === cs.chain.name) passed = step.type === 'policy' ? rules.length : step.num - 1;
      for (const n of cs.rows.keys()) passed = Math.max(passed, n);
      rules.forEach((rule, i) => {
        const m = /\b(?:jump|goto) (\S+)/.exec(rule.text);
        if (m && st.byChain.has(m[1]!) && m[1] !== cs.chain.name && !cs.rows.has(i + 1)) passed = Math.max(passed, i + 1);
      });
      const full = rules.length <= FULL_LISTING_MAX;
      rules.forEach((rule, i) => {
        const num = i + 1;
        const got = cs.rows.get(num);
        if (got) cs.listing.rules.push(got);
        else if (num <= passed) {
          const m = /\b(jump|goto) (\S+)/.exec(rule.text);
          const jumped = m !== null && st.byChain.has(m[2]!);
          const acts = nftActions(rule.text);
          cs.listing.rules.push({ num, handle: rule.handle, text: rule.text, outcome: 'matched', verdict: jumped ? m[1]!.toUpperCase() : 'CONTINUE', action: jumped ? `${m[1] === 'goto' ? 'goto ' : '→ '}${m[2]!}` : acts.length ? acts.join(', ') : undefined, why: undefined, decisive: false, inferred: true });
        } else if (full) cs.listing.rules.push({ num, handle: rule.handle, text: rule.text, outcome: 'not-reached', verdict: undefined, action: undefined, why: undefined, decisive: false });
        else cs.listing.omitted++;
      });
    }
  };

  const chainOf = (w: WalkState, chain: string): { listing: ChainListing; rows: Map<number, RuleRow> } => {
    let c = w.byChain.get(chain);
    if (!c) {
      const listing: ChainListing = { table: w.listing.table, chain, rules: [], omitted: 0, end: undefined, path: pendingPath.get(`${w.listing.table}/${chain}`) ?? [chain] };
      c = { listing, rows: new Map() };
      w.byChain.set(chain, c);
      w.listing.chains.push(listing);
    }
    return c;
  };

  const onEvent = (e: TraceEvent): void => {
    switch (e.kind) {
      case 'hook':
        if (e.hook === 'INPUT' || e.hook === 'FORWARD') {
          if (path[path.length - 1] === 'PREROUTING') go('route-in');
        }
        hook = e.hook;
        go(e.hook);
        walk = undefined;
        break;
      case 'chain': {
        const listing: WalkListing = { id: `${id}-w${walks.length}`, hook: e.hook, table: e.table, base: e.hook, heading: `${e.table} ${e.hook}`, nft: false, chains: [] };
        walks.push(listing);
        walk = { listing, byChain: new Map(), matched: [], last: undefined, decisive: false };
        walkStates.push(walk);
        const b = box(e.hook, e.table);
        if (b) {
          b.visited = true;
          b.anchor = listing.id;
        }
        pendingPath.clear();
        break;
      }
      case 'step': {
        if (!walk) break;
        const s = e.step;
        const c = chainOf(walk, s.chain);
        const decisive = s === r.decidedBy;
        if (decisive) {
          walk.decisive = true;
          decidedHook = walk.listing.hook;
        }
        walk.last = s;
        if (s.rule !== undefined) {
          c.rows.set(s.num, { num: s.num, text: ruleText(s.chain, s.rule), outcome: 'matched', verdict: s.verdict, action: ruleAction(s), why: undefined, decisive });
          walk.matched.push(`${s.chain === walk.listing.hook ? '' : `${s.chain} `}#${s.num} ${ruleAction(s)}`);
          const to = s.rule.jumpTo;
          if (to !== undefined && (s.verdict === 'JUMP' || s.verdict === 'GOTO')) pendingPath.set(`${s.table}/${to}`, [...s.path, to]);
        } else {
          c.listing.end = { text: s.type === 'policy' ? `policy ${s.verdict}` : 'end of chain: return', decisive };
        }
        break;
      }
      case 'miss': {
        if (!walk) break;
        const m = e.miss;
        chainOf(walk, m.chain).rows.set(m.num, { num: m.num, text: ruleText(m.chain, m.rule), outcome: 'skipped', verdict: undefined, action: undefined, why: m.why, decisive: false });
        break;
      }
      case 'conntrack': {
        const b = hook ? box(hook, 'conntrack') : undefined;
        if (b) {
          b.visited = true;
          b.summary = e.state;
        }
        if (hook) nodes.get(hook)!.detail.push(`conntrack ${e.state}${e.why !== undefined ? `: ${e.why}` : ''}`);
        break;
      }
      case 'nat': {
        const label = natLabel(e.manip, e.before, e.after, e.note);
        if (hook) {
          // The nat chain that asked for the mapping is the last one walked on this hook (nf_nat_inet_fn stops there).
          const group = nodes.get(hook)!.tables.filter(isNatBox);
          const named = [...(hookWalks.get(hook) ?? [])].reverse().find((w) => group.some((t) => t.anchor === w));
          (group.find((t) => named !== undefined && t.anchor === named) ?? group[0])?.nat.push(label);
        }
        const at = path.length - 1;
        natOnLeaving.set(at, [...(natOnLeaving.get(at) ?? []), label]);
        break;
      }
      case 'route': {
        const text = e.text.replace(/^routing: /, '');
        const last = path[path.length - 1];
        if (/^re-routed/.test(e.text)) nodes.get('route-out')!.detail.push(text);
        else if (e.text.startsWith('loopback:')) {
          go('out');
          go('in');
          nodes.get('in')!.detail.push('comes back in on lo');
        } else if (/^(broadcast|multicast):/.test(e.text)) notes.push(e.text);
        else if (last === 'PREROUTING') {
          go('route-in');
          nodes.get('route-in')!.detail.push(text);
        } else if (last === 'local' || last === 'route-out') {
          go('route-out');
          nodes.get('route-out')!.detail.push(text);
        } else notes.push(e.text);
        break;
      }
      case 'reject':
        notes.push(`REJECT would send back ${e.with}`);
        break;
      case 'note':
        notes.push(e.text);
        break;
      case 'assume':
        notes.push(`assumed: ${e.assumption.question}: ${e.assumption.answer ? 'yes' : 'no'}${e.assumption.probability !== undefined ? ` (probability ${e.assumption.probability})` : ''}`);
        break;
      case 'unsimulated':
        notes.push(`not simulated: ${e.what} taken as matching`);
        break;
      case 'log':
        break;
      case 'nft':
        nftWalk(e);
        break;
    }
  };
  // The listings walked on each hook's current visit, in order (for the nat label: the chain that mapped).
  const hookWalks = new Map<Hook, string[]>();
  for (const e of r.events) {
    if (e.kind === 'hook') hookWalks.set(e.hook, []);
    onEvent(e);
    if (hook !== undefined && (e.kind === 'chain' || (e.kind === 'nft' && NFT_NODE[e.hook] === hook))) hookWalks.get(hook)?.push(walks[walks.length - 1]!.id);
  }

  // The end of the trip.
  if (r.fate === 'delivered') go('local');
  else if (r.fate === 'forwarded' || r.fate === 'sent') go('out');
  const last = path[path.length - 1]!;
  if (r.fate === 'dropped') nodes.get(last)!.dropped = true;

  // Rows for every rule of each walked chain: the ones the walk never reached too (short chains).
  for (const w of walkStates) {
    for (const { listing, rows } of w.byChain.values()) {
      const chain = rs.tables.get(listing.table as never)?.chains.get(listing.chain);
      const all = chain?.rules ?? [];
      const full = all.length <= FULL_LISTING_MAX;
      all.forEach((rule, i) => {
        const got = rows.get(i + 1);
        if (got) listing.rules.push(got);
        else if (full) listing.rules.push({ num: i + 1, text: ruleText(listing.chain, rule), outcome: 'not-reached', verdict: undefined, action: undefined, why: undefined, decisive: false });
        else listing.omitted++;
      });
    }
  }

  // Table summaries: the last walk of each (hook, table).
  for (const w of walkStates) {
    const b = box(w.listing.hook as Hook, w.listing.table);
    if (!b) continue;
    const end = w.last && w.last.rule === undefined ? (w.last.type === 'policy' ? `policy ${w.last.verdict}` : 'return') : undefined;
    const matched = w.matched.length > 3 ? [`${w.matched.length} rules matched, last ${w.matched[w.matched.length - 1]!}`] : w.matched;
    b.summary = [...matched, ...(end ? [end] : [])].join(', ') || 'no rule matched';
    if (w.decisive) b.decisive = true;
  }

  // Visited nodes and their order; hooks visited but tables not walked say why.
  path.forEach((nid, i) => {
    const n = nodes.get(nid)!;
    n.visited = true;
    if (n.order === 0) n.order = i + 1;
  });
  // The node the packet died in (a hook, or a wire: netdev ingress / egress); its boxes after the deciding one were not reached.
  const droppedAt: NodeId | undefined = r.fate === 'dropped' ? last : undefined;
  const decisiveIndex = droppedAt ? nodes.get(droppedAt)!.tables.findIndex((t) => t.decisive) : -1;
  for (const n of nodes.values()) {
    const hk = n.id;
    n.tables.forEach((t, i) => {
      if (t.kind === 'confirm') {
        t.visited = n.visited && droppedAt !== hk;
        t.summary = t.visited ? (r.conn ? (r.ctState === 'NEW' ? 'new entry confirmed' : 'entry already confirmed') : 'no entry') : '';
        return;
      }
      if (t.decisive && droppedAt === hk) t.dropped = true;
      if (!n.visited || t.visited) return;
      if (t.kind === 'conntrack') t.summary = 'entry kept (looped back)';
      else if (droppedAt === hk && decisiveIndex >= 0 && i > decisiveIndex) t.summary = 'not reached';
      else if (isNatBox(t)) {
        const mapped = n.tables.some((o, j) => j < i && isNatBox(o) && o.visited);
        t.summary = t.nat.length > 0 ? 'not walked: rewritten by conntrack' : mapped ? 'not walked: an earlier nat chain set up the mapping' : "not walked: a new connection's first packet only";
      } else t.summary = 'not walked';
    });
  }

  // Arrows: visited when the packet went from one end to the other; NAT done in a hook labels the arrow out of it.
  const edges: EdgeView[] = EDGES.map(([from, to]) => ({ from, to, visited: false, labels: [] }));
  for (let i = 0; i + 1 < path.length; i++) {
    const edge = edges.find((e) => e.from === path[i] && e.to === path[i + 1]);
    if (!edge) continue;
    edge.visited = true;
    for (const l of natOnLeaving.get(i) ?? []) edge.labels.push(l);
  }

  const inNode = nodes.get('in')!;
  const outNode = nodes.get('out')!;
  const local = nodes.get('local')!;
  const packetIn = packetText(r.original);
  const packetOut = packetText(r.packet);
  if (inNode.visited && r.original.inIface !== null) inNode.detail.unshift(packetIn);
  if (outNode.visited) outNode.detail.push(packetOut);
  if (r.fate === 'delivered') local.detail.push(`receives ${packetOut}`);
  if (r.original.inIface === null) local.detail.unshift(`sends ${packetIn}`);

  const d = r.decidedBy;
  const conn = r.conn;
  /** The text of the nft rule that decided (its row in the walk's listing). */
  const nftDecidedText = (s: Step): string | undefined => {
    if (s.type === 'policy') return undefined;
    const st = nftStates.find((x) => x.step === s);
    return st?.byChain.get(s.chain)?.rows.get(s.num)?.text ?? st?.byChain.get(s.chain)?.chain.rules[s.num - 1]?.text;
  };
  return {
    index,
    host: hop.host,
    direction: hop.direction,
    id,
    fate: r.fate,
    verdict: r.verdict,
    packetIn,
    packetOut,
    inIface: r.original.inIface,
    outIface: r.out,
    ctState: r.ctState,
    conntrack: conn ? `${arrows(tupleText(conn.orig))} ⇄ ${arrows(tupleText(conn.reply))}${conn.orig.proto === PROTO_TCP ? ` ${ConntrackTable.tcpStateName(conn)}` : ''}${statusNames(conn.status).map((s) => ` [${s}]`).join('')}` : undefined,
    nodes,
    edges,
    path,
    walks,
    decided: d ? { where: describeStep(d), text: d.rule ? ruleText(d.chain, d.rule) : nftDecidedText(d), table: d.table, chain: d.chain, hook: decidedHook } : undefined,
    notes,
    wire: hop.wire,
  };
}

/** A figure: the input's hops, one lane per distinct host (in order of first appearance), and the crossings. */
export function buildFigure(input: DiagramInput, index: number): FigureView {
  const id = `f${index}`;
  const lanes: string[] = [];
  for (const h of input.hops) if (!lanes.includes(h.host)) lanes.push(h.host);
  const hops = input.hops.map((h, i) => buildHopView(h, i, `${id}-h${i}`));
  const crossings: Crossing[] = [];
  for (let i = 0; i + 1 < hops.length; i++) {
    const a = hops[i]!;
    const b = hops[i + 1]!;
    const left = a.fate === 'forwarded' || a.fate === 'sent' ? `${a.host} out ${a.outIface ?? '?'}` : `${a.host} (${a.fate})`;
    const arrived = b.inIface !== null ? `${b.host} in ${b.inIface}` : `${b.host} sends`;
    const wire = a.wire?.left ?? b.wire?.arrived;
    crossings.push({
      from: i,
      to: i + 1,
      fromLane: lanes.indexOf(a.host),
      toLane: lanes.indexOf(b.host),
      direction: b.direction,
      label: b.packetIn,
      via: `${left} → ${wire !== undefined ? `${wire} → ` : ''}${arrived}`,
    });
  }
  return { id, title: input.title, lanes, hops, crossings };
}
