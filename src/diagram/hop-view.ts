/**
 * From a hop's TraceResult to the HopView the renderers draw: the path through the netfilter picture (read off
 * the trace events in order: hooks, routing decisions, conntrack, NAT, each table walk's steps and misses), the
 * visited and greyed boxes, where the packet died, the NAT on the arrows and each walked chain's rules with their
 * outcome. Also the figure of a whole input: lanes (one per host) and the crossings between consecutive hops.
 */
import type { Hook } from '../extensions/spec';
import type { Rule } from '../model/ruleset';
import { addrToString } from '../model/ip';
import { ConntrackTable, tupleText } from '../eval/conntrack';
import { hookEntries } from '../eval/hooks';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, protoName, type Packet } from '../eval/packet';
import { describeStep, statusNames, type TraceEvent } from '../eval/trace';
import type { Step } from '../eval/walk';
import { flagsText } from '../extensions/matches/tcp';
import { EDGES, HOOK_IDS, type ChainListing, type Crossing, type DiagramHop, type DiagramInput, type EdgeView, type FigureView, type HopView, type NodeId, type NodeView, type RuleRow, type TableBox, type WalkListing } from './model';

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

const arrows = (s: string): string => s.replace(/ -> /g, ' → ');

const ruleText = (chain: string, r: Rule): string => `-A ${chain}${r.line}`;

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
  node('out', r.out !== null ? `out ${r.out}` : 'out');

  // Table boxes of every hook in priority order: the tables the ruleset has, plus conntrack's own steps.
  for (const hook of HOOK_IDS) {
    const n = nodes.get(hook)!;
    for (const e of hookEntries(hook)) {
      if (e.kind === 'table' && !rs.tables.has(e.table)) continue;
      const name = e.kind === 'table' ? e.table : e.kind;
      n.tables.push({ kind: e.kind, name, priority: e.priority, visited: false, summary: '', decisive: false, dropped: false, nat: [], anchor: undefined });
    }
  }
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
  let decidedHook: Hook | undefined;
  const pendingPath = new Map<string, readonly string[]>();

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
        const listing: WalkListing = { id: `${id}-w${walks.length}`, hook: e.hook, table: e.table, chains: [] };
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
        if (hook) box(hook, 'nat')?.nat.push(label);
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
    }
  };
  for (const e of r.events) onEvent(e);

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
    const b = box(w.listing.hook, w.listing.table);
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
  const droppedHook = r.fate === 'dropped' && HOOK_IDS.includes(last as Hook) ? (last as Hook) : undefined;
  const decisivePriority = droppedHook ? nodes.get(droppedHook)!.tables.find((t) => t.decisive)?.priority : undefined;
  for (const hk of HOOK_IDS) {
    const n = nodes.get(hk)!;
    for (const t of n.tables) {
      if (t.kind === 'confirm') {
        t.visited = n.visited && droppedHook !== hk;
        t.summary = t.visited ? (r.conn ? (r.ctState === 'NEW' ? 'new entry confirmed' : 'entry already confirmed') : 'no entry') : '';
        continue;
      }
      if (t.decisive && droppedHook === hk) t.dropped = true;
      if (!n.visited || t.visited) continue;
      if (t.kind === 'conntrack') t.summary = 'entry kept (looped back)';
      else if (droppedHook === hk && decisivePriority !== undefined && t.priority > decisivePriority) t.summary = 'not reached';
      else if (t.name === 'nat') t.summary = t.nat.length > 0 ? 'not walked: rewritten by conntrack' : "not walked: a new connection's first packet only";
      else t.summary = 'not walked';
    }
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
    decided: d ? { where: describeStep(d), text: d.rule ? ruleText(d.chain, d.rule) : undefined, table: d.table, chain: d.chain, hook: decidedHook } : undefined,
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
