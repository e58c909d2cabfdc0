/**
 * The chain walker of one table on one hook, as ipt_do_table() runs it: the base IPv4 match (pre-masked
 * addresses, interface names with `+` wildcards, protocol, fragments, each with its `!`), extension matches
 * until the first miss, then the target; jumps push a return point, gotos do not, RETURN (or falling off a
 * user chain) pops, and an empty stack leads to the built-in chain's policy. Every step is reported in the
 * kernel's TRACE notation, including its quirk: an unconditional rule with a standard verdict is reported as
 * `policy:N` (built-in chain) or `return:N` (user chain) with its own number.
 */
import type { Chain, IpMatch, Rule, Table } from '../model/ruleset';
import { addrToString, maskToListString } from '../model/ip';
import type { EvalContext, TargetVerdict } from './context';
import { protoName, type Packet } from './packet';

export type StepType = 'rule' | 'return' | 'policy';

/** One TRACE step: a rule that matched (its target ran), a fall off a user chain, or a built-in policy. */
export interface Step {
  table: string;
  chain: string;
  type: StepType;
  /** As the kernel counts: the rule's position, or the chain's rule count + 1. */
  num: number;
  /** The rule, for rule steps (and quirk steps reported as policy/return). */
  rule: Rule | undefined;
  /** What the step did: ACCEPT, DROP, CONTINUE (LOG, MARK...), JUMP, GOTO, RETURN, QUEUE. */
  verdict: string;
  /** The chains from the base chain to this one (PREROUTING -> KUBE-SERVICES -> ...). */
  path: readonly string[];
}

/** A rule the packet passed over, with why (computed only when explanations are wanted). */
export interface Miss {
  table: string;
  chain: string;
  num: number;
  rule: Rule;
  why: string;
}

export interface WalkSink {
  step(s: Step, pkt: Packet): void;
  /** Set when explanations are wanted: called for each rule that did not match. */
  miss?(m: Miss): void;
  /** Extensions without packet semantics met on the way. */
  unsimulated(name: string): void;
}

export interface WalkResult {
  verdict: 'ACCEPT' | 'DROP' | 'QUEUE' | 'STOLEN';
  /** The step that decided (a rule or the policy). */
  decidedBy: Step | undefined;
}


/** ifname_compare() with the `+` wildcard: "eth+" matches every name starting with "eth". */
function ifaceMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith('+')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** ip_packet_match(): the base part of a rule, `!` as the kernel's XOR of inversion flags. */
export function ipMatches(ip: IpMatch, p: Packet): boolean {
  if ((((p.src & ip.src.mask) >>> 0) !== ip.src.addr) !== ip.inv.src) return false;
  if ((((p.dst & ip.dst.mask) >>> 0) !== ip.dst.addr) !== ip.inv.dst) return false;
  if (ip.inIface !== '' && !ifaceMatches(ip.inIface, p.inIface ?? '') !== ip.inv.inIface) return false;
  if (ip.outIface !== '' && !ifaceMatches(ip.outIface, p.outIface ?? '') !== ip.inv.outIface) return false;
  if (ip.proto !== 0 && (p.proto !== ip.proto) !== ip.inv.proto) return false;
  // Simulated packets are never fragments: `-f` never matches, `! -f` always does.
  if (ip.fragment && !ip.inv.fragment) return false;
  return true;
}

/** The first base criterion that failed, for a person. */
export function explainIp(ip: IpMatch, p: Packet): string {
  const bang = (inv: boolean): string => (inv ? '! ' : '');
  if ((((p.src & ip.src.mask) >>> 0) !== ip.src.addr) !== ip.inv.src) {
    return `${bang(ip.inv.src)}-s ${addrToString(ip.src.addr)}${maskToListString(ip.src.mask)}: packet has source ${addrToString(p.src)}`;
  }
  if ((((p.dst & ip.dst.mask) >>> 0) !== ip.dst.addr) !== ip.inv.dst) {
    return `${bang(ip.inv.dst)}-d ${addrToString(ip.dst.addr)}${maskToListString(ip.dst.mask)}: packet has destination ${addrToString(p.dst)}`;
  }
  if (ip.inIface !== '' && !ifaceMatches(ip.inIface, p.inIface ?? '') !== ip.inv.inIface) {
    return `${bang(ip.inv.inIface)}-i ${ip.inIface}: packet ${p.inIface ? `came in on ${p.inIface}` : 'was sent by this host'}`;
  }
  if (ip.outIface !== '' && !ifaceMatches(ip.outIface, p.outIface ?? '') !== ip.inv.outIface) {
    return `${bang(ip.inv.outIface)}-o ${ip.outIface}: packet ${p.outIface ? `goes out on ${p.outIface}` : 'is delivered locally'}`;
  }
  if (ip.proto !== 0 && (p.proto !== ip.proto) !== ip.inv.proto) return `${bang(ip.inv.proto)}-p ${protoName(ip.proto)}: packet is ${protoName(p.proto)}`;
  return `${bang(ip.inv.fragment)}-f: packet is not a fragment`;
}

/** An unconditional rule: no base criteria and no matches (the kernel's unconditional() and target_offset). */
function unconditional(r: Rule): boolean {
  const ip = r.ip;
  return (
    r.matches.length === 0 &&
    ip.src.mask === 0 &&
    ip.dst.mask === 0 &&
    ip.inIface === '' &&
    ip.outIface === '' &&
    ip.proto === 0 &&
    !ip.fragment &&
    !ip.inv.src &&
    !ip.inv.dst &&
    !ip.inv.inIface &&
    !ip.inv.outIface &&
    !ip.inv.proto &&
    !ip.inv.fragment
  );
}

/**
 * A chain's base criteria in flat typed arrays, built once per chain: the walk skips rules whose addresses or
 * protocol cannot match without touching the rule objects (a kube-proxy KUBE-SERVICES chain has 10,000 rules,
 * nearly all with `-d IP/32 -p tcp`). Rules that pass this filter get the full ip_packet_match() and their
 * matches, so the result is the naive walk's; test/trace-walk.property.test.ts checks that.
 */
interface CompiledChain {
  n: number;
  src: Uint32Array;
  smask: Uint32Array;
  dst: Uint32Array;
  dmask: Uint32Array;
  proto: Uint8Array;
  /** Bit 1: ! -s, 2: ! -d, 4: ! -p. */
  inv: Uint8Array;
  /**
   * Long chains only: the rules with `-d ADDR/32` (not inverted) by address, and all other rules, each list in
   * rule order. A packet's candidates are the merge of its destination's list and the other rules.
   */
  byDst: Map<number, Int32Array> | undefined;
  others: Int32Array | undefined;
}

const compiledChains = new WeakMap<readonly Rule[], CompiledChain>();
/** Chains shorter than this are scanned; longer ones get the destination index. */
const INDEX_FROM = 64;

function compileChain(rules: readonly Rule[]): CompiledChain {
  let cc = compiledChains.get(rules);
  if (cc && cc.n === rules.length) return cc;
  const n = rules.length;
  cc = { n, src: new Uint32Array(n), smask: new Uint32Array(n), dst: new Uint32Array(n), dmask: new Uint32Array(n), proto: new Uint8Array(n), inv: new Uint8Array(n), byDst: undefined, others: undefined };
  for (let i = 0; i < n; i++) {
    const ip = rules[i]!.ip;
    cc.src[i] = ip.src.addr;
    cc.smask[i] = ip.src.mask;
    cc.dst[i] = ip.dst.addr;
    cc.dmask[i] = ip.dst.mask;
    cc.proto[i] = ip.proto;
    cc.inv[i] = (ip.inv.src ? 1 : 0) | (ip.inv.dst ? 2 : 0) | (ip.inv.proto ? 4 : 0);
  }
  if (n >= INDEX_FROM) {
    const exact = new Map<number, number[]>();
    const others: number[] = [];
    for (let i = 0; i < n; i++) {
      if (cc.dmask[i] === 0xffffffff && !(cc.inv[i]! & 2)) {
        const l = exact.get(cc.dst[i]!);
        if (l) l.push(i);
        else exact.set(cc.dst[i]!, [i]);
      } else others.push(i);
    }
    cc.byDst = new Map([...exact].map(([k, v]) => [k, Int32Array.from(v)]));
    cc.others = Int32Array.from(others);
  }
  compiledChains.set(rules, cc);
  return cc;
}

/** Does rule i's base prefilter (addresses, protocol) let the packet through? */
function passes(cc: CompiledChain, i: number, ps: number, pd: number, pp: number): boolean {
  const f = cc.inv[i]!;
  if ((((ps & cc.smask[i]!) >>> 0) !== cc.src[i]) !== ((f & 1) !== 0)) return false;
  if ((((pd & cc.dmask[i]!) >>> 0) !== cc.dst[i]) !== ((f & 2) !== 0)) return false;
  const rp = cc.proto[i]!;
  return rp === 0 || (pp !== rp) === ((f & 4) !== 0);
}

/** The first position in a sorted list holding a value >= from. */
function lowerBound(list: Int32Array, from: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first rule at or after `from` whose addresses and protocol may match (or n). */
function nextCandidate(cc: CompiledChain, from: number, p: Packet): number {
  const ps = p.src >>> 0;
  const pd = p.dst >>> 0;
  const pp = p.proto;
  if (cc.byDst && cc.others) {
    const mine = cc.byDst.get(pd);
    const others = cc.others;
    let a = mine ? lowerBound(mine, from) : 0;
    let b = lowerBound(others, from);
    const aEnd = mine ? mine.length : 0;
    for (;;) {
      const x = a < aEnd ? mine![a]! : cc.n;
      const y = b < others.length ? others[b]! : cc.n;
      if (x === cc.n && y === cc.n) return cc.n;
      const i = x < y ? x : y;
      if (passes(cc, i, ps, pd, pp)) return i;
      if (x < y) a++;
      else b++;
    }
  }
  for (let i = from; i < cc.n; i++) if (passes(cc, i, ps, pd, pp)) return i;
  return cc.n;
}

/** The kernel's jump stack is bounded by the table's chain count; loops are refused at load time. */
const MAX_DEPTH = 10000;

/**
 * Runs the packet through `table`'s built-in chain `hookChain`. `makeCtx` gives the context for a rule's
 * chain (extensions read it, targets act through it).
 */
export function walkTable(table: Table, hookChain: string, pkt: Packet, count: boolean, makeCtx: (chain: string) => EvalContext, sink: WalkSink): WalkResult {
  const base = table.chains.get(hookChain);
  if (!base) return { verdict: 'ACCEPT', decidedBy: undefined };
  const stack: Array<{ chain: Chain; next: number; path: readonly string[] }> = [];
  // Where RETURN leads when the stack is empty (from the base chain, or a chain reached only by gotos): the
  // base chain's tail, its policy (the kernel's underflow entry).
  const atPolicy = { chain: base, next: base.rules.length, path: [base.name] as readonly string[] };
  let chain: Chain = base;
  let path: readonly string[] = [base.name];
  let i = 0;
  for (;;) {
    if (i >= chain.rules.length) {
      // The chain's tail: the policy of a built-in chain, the implicit RETURN of a user chain.
      const num = chain.rules.length + 1;
      if (chain.hook) {
        const policy = chain.policy ?? 'ACCEPT';
        const step: Step = { table: table.name, chain: chain.name, type: 'policy', num, rule: undefined, verdict: policy, path };
        // Only a chain nf_tables keeps stats for counts its policy (model/ruleset.ts, Chain.counted).
        if (count && chain.counted === true) {
          chain.counters.packets += 1n;
          chain.counters.bytes += BigInt(pkt.len);
        }
        sink.step(step, pkt);
        return { verdict: policy, decidedBy: step };
      }
      sink.step({ table: table.name, chain: chain.name, type: 'return', num, rule: undefined, verdict: 'RETURN', path }, pkt);
      ({ chain, next: i, path } = stack.pop() ?? atPolicy);
      continue;
    }
    if (!sink.miss) {
      i = nextCandidate(compileChain(chain.rules), i, pkt);
      if (i >= chain.rules.length) continue;
    }
    const rule = chain.rules[i]!;
    const num = i + 1;
    let matched = ipMatches(rule.ip, pkt);
    let ctx: EvalContext | undefined;
    if (matched) {
      for (const m of rule.matches) {
        if (!m.def.match) {
          sink.unsimulated(`-m ${m.def.name}`);
          continue;
        }
        ctx ??= makeCtx(chain.name);
        if (!m.def.match(m.state, ctx)) {
          matched = false;
          if (sink.miss) sink.miss({ table: table.name, chain: chain.name, num, rule, why: m.def.explain ? m.def.explain(m.state, ctx) : `-m ${m.def.name}: did not match` });
          break;
        }
      }
    } else if (sink.miss) {
      sink.miss({ table: table.name, chain: chain.name, num, rule, why: explainIp(rule.ip, pkt) });
    }
    if (!matched) {
      i++;
      continue;
    }
    if (count) {
      rule.counters.packets += 1n;
      rule.counters.bytes += BigInt(pkt.len);
    }
    const v = rule.verdict;
    const quirk = unconditional(rule);
    if (v.kind === 'none') {
      sink.step({ table: table.name, chain: chain.name, type: 'rule', num, rule, verdict: 'CONTINUE', path }, pkt);
      i++;
      continue;
    }
    if (v.kind === 'jump' || v.kind === 'goto') {
      const target = table.chains.get(v.chain);
      sink.step({ table: table.name, chain: chain.name, type: 'rule', num, rule, verdict: v.kind === 'jump' ? 'JUMP' : 'GOTO', path }, pkt);
      if (!target) {
        i++;
        continue;
      }
      if (v.kind === 'jump') {
        if (stack.length >= MAX_DEPTH) return { verdict: 'DROP', decidedBy: undefined };
        stack.push({ chain, next: i + 1, path });
      }
      path = [...path, target.name];
      chain = target;
      i = 0;
      continue;
    }
    const def = v.target.def;
    if (def.standard) {
      const name = def.name;
      const type: StepType = quirk ? (chain.hook ? 'policy' : 'return') : 'rule';
      const step: Step = { table: table.name, chain: chain.name, type, num, rule, verdict: name, path };
      sink.step(step, pkt);
      if (name === 'RETURN') {
        ({ chain, next: i, path } = stack.pop() ?? atPolicy);
        continue;
      }
      return { verdict: name === 'ACCEPT' ? 'ACCEPT' : name === 'QUEUE' ? 'QUEUE' : 'DROP', decidedBy: step };
    }
    const step: Step = { table: table.name, chain: chain.name, type: 'rule', num, rule, verdict: 'CONTINUE', path };
    sink.step(step, pkt);
    let verdict: TargetVerdict = 'CONTINUE';
    if (def.run) {
      ctx ??= makeCtx(chain.name);
      verdict = def.run(v.target.state, ctx);
    } else {
      sink.unsimulated(`-j ${def.name}`);
    }
    step.verdict = verdict;
    if (verdict === 'CONTINUE') {
      i++;
      continue;
    }
    if (verdict === 'RETURN') {
      ({ chain, next: i, path } = stack.pop() ?? atPolicy);
      continue;
    }
    return { verdict, decidedBy: step };
  }
}
