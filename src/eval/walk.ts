/**
 * The chain walker of one table on one hook, as ipt_do_table() runs it: the base IPv4 match (pre-masked
 * addresses, interface names with `+` wildcards, protocol, fragments, each with its `!`), extension matches
 * until the first miss, then the target; jumps push a return point, gotos do not, RETURN (or falling off a
 * user chain) pops, and an empty stack leads to the built-in chain's policy. Every step is reported in the
 * kernel's TRACE notation, including its quirk: an unconditional rule with a standard verdict is reported as
 * `policy:N` (built-in chain) or `return:N` (user chain) with its own number.
 */
import type { AnyMatch, MatchUse, TargetUse } from '../extensions/spec';
import type { MultiportState } from '../extensions/matches/multiport';
import type { TcpState } from '../extensions/matches/tcp';
import type { UdpState } from '../extensions/matches/udp';
import type { Chain, IpMatch, Rule, Table } from '../model/ruleset';
import { addrToString, maskToListString } from '../model/ip';
import type { EvalContext, TargetVerdict } from './context';
import { PROTO_TCP, PROTO_UDP, protoName, type Packet } from './packet';

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

/** The kernel's jump stack is bounded by the table's chain count; loops are refused at load time. */
const MAX_DEPTH = 10000;

/**
 * Runs the packet through `table`'s built-in chain `hookChain`. `makeCtx` gives the context for a rule's
 * chain (extensions read it, targets act through it). Without `sink.miss` the compiled walk runs (rules
 * skipped by their precompiled criteria, long chains through their index), with it the naive one (every rule
 * tried, so that each miss can be explained); both give the same steps, verdicts, counters and side effects
 * (test/trace-walk.property.test.ts). `cache` keeps the compiled chains between walks: a Tracer keeps one for
 * its life, during which its ruleset does not change.
 */
export function walkTable(table: Table, hookChain: string, pkt: Packet, count: boolean, makeCtx: (chain: string) => EvalContext, sink: WalkSink, cache?: WalkCache): WalkResult {
  return sink.miss ? walkNaive(table, hookChain, pkt, count, makeCtx, sink) : walkCompiled(table, hookChain, pkt, count, makeCtx, sink, cache ?? new WalkCache());
}

/** The reference walk: every rule in order, its base match, then its matches until the first miss. */
function walkNaive(table: Table, hookChain: string, pkt: Packet, count: boolean, makeCtx: (chain: string) => EvalContext, sink: WalkSink): WalkResult {
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

// ---------------------------------------------------------------------------------------------------------
// The compiled walk

/** Matches without side effects (no decide(), memory, note or log through the context): the walk may skip
 * a rule on a criterion of theirs without running the matches before it. */
const PURE_MATCHES: ReadonlySet<string> = new Set(['comment', 'tcp', 'udp', 'multiport', 'mark', 'conntrack', 'state', 'addrtype', 'icmp', 'iprange', 'mac', 'pkttype', 'tos', 'ttl', 'length', 'connmark']);

/** What a rule does, decided once. */
const K_NONE = 0;
const K_JUMP = 1;
const K_GOTO = 2;
const K_STANDARD = 3;
const K_TARGET = 4;

/**
 * One rule, compiled: its base criteria and the port criteria of its leading side-effect-free tcp/udp match as
 * plain numbers (every compiled rule has the same shape, so the walk's reads stay monomorphic), the matches
 * still to run, and its verdict with the jump target resolved.
 */
class CompiledRule {
  readonly src: number;
  readonly smask: number;
  readonly dst: number;
  readonly dmask: number;
  readonly proto: number;
  readonly invSrc: boolean;
  readonly invDst: boolean;
  readonly invProto: boolean;
  /** -i, -o or -f: the rest of ip_packet_match() runs on the rule's IpMatch. */
  readonly ifaces: boolean;
  /** The protocol a leading tcp/udp match demands (0: none), with its port ranges and their `!`. */
  readonly pproto: number;
  readonly slo: number;
  readonly shi: number;
  readonly sinv: boolean;
  readonly dlo: number;
  readonly dhi: number;
  readonly dinv: boolean;
  /** Destination ports the rule can only match (index key), or undefined. */
  readonly dports: readonly number[] | undefined;
  /** The matches to run, in order: the rule's, less those its criteria above prove (comment, port-only tcp/udp). */
  readonly matches: readonly MatchUse[];
  /** How many, and the first one's definition and state (most rules have none or one left). */
  readonly nMatches: number;
  readonly def0: AnyMatch | undefined;
  readonly state0: unknown;
  readonly kind: number;
  /** Jump or goto: the chain's name, and the chain compiled once the walk first takes the jump. */
  readonly jumpTo: string;
  targetCc: CompiledChain | undefined = undefined;
  /** Standard verdict name, or the target. */
  readonly standard: string;
  readonly targetUse: TargetUse | undefined;
  /** Unconditional with a standard verdict: TRACE reports it as policy/return. */
  readonly quirk: boolean;
  /** Packets and bytes counted and not yet added to the rule's counters (WalkCache deferCounters). */
  hits = 0;
  hitBytes = 0;
  /** The last path a jump from here was taken with, and the path it led to (one array for every packet). */
  pathFrom: readonly string[] | undefined = undefined;
  pathTo: readonly string[] = NO_PATH;
  /**
   * The step this rule reports on `stepPath` (WalkCache shareSteps), once it has made SHARE_AFTER of them: a
   * rule's step differs only by path (its table, chain, number, type and verdict are the rule's own).
   */
  step: Step | undefined = undefined;
  stepPath: readonly string[] | undefined = undefined;
  stepsMade = 0;

  constructor(readonly rule: Rule) {
    const ip = rule.ip;
    // As int32 (small integers to V8, never boxed): `&` and `!==` on them agree with the uint32 comparison.
    this.src = ip.src.addr | 0;
    this.smask = ip.src.mask | 0;
    this.dst = ip.dst.addr | 0;
    this.dmask = ip.dst.mask | 0;
    this.proto = ip.proto;
    this.invSrc = ip.inv.src;
    this.invDst = ip.inv.dst;
    this.invProto = ip.inv.proto;
    this.ifaces = ip.inIface !== '' || ip.outIface !== '' || ip.fragment;
    let pproto = 0;
    let slo = 0;
    let shi = 65535;
    let sinv = false;
    let dlo = 0;
    let dhi = 65535;
    let dinv = false;
    let dports: number[] | undefined;
    const run: MatchUse[] = [];
    let pure = true;
    for (const m of rule.matches) {
      const name = m.def.name;
      pure &&= m.def.match !== undefined && PURE_MATCHES.has(name);
      if (pure && name === 'comment') continue;
      if (pure && pproto === 0 && (name === 'tcp' || name === 'udp')) {
        // tcp_mt()/udp_mt(): the protocol, then each port range with its `!` (inRange: lo <= port <= hi).
        const s = m.state as UdpState & Partial<Pick<TcpState, 'flagMask' | 'invFlags' | 'option' | 'invOption'>>;
        pproto = name === 'tcp' ? PROTO_TCP : PROTO_UDP;
        [slo, shi] = s.spts;
        sinv = s.invSport;
        [dlo, dhi] = s.dpts;
        dinv = s.invDport;
        if (!dinv && dlo === dhi) dports = [dlo];
        // The ports and the protocol are all a udp match or a tcp match without flags and option checks.
        if (name === 'udp' || (s.flagMask === 0 && s.invFlags === false && s.option === 0 && s.invOption === false)) continue;
      } else if (pure && dports === undefined && name === 'multiport' && ip.proto !== 0 && !ip.inv.proto) {
        // ports_match_v1() on the destination port: the rule matches only the listed single ports.
        const s = m.state as MultiportState;
        if (s.which === 'dports' && !s.inverted && !s.range.some((r) => r)) dports = [...s.ports];
      }
      run.push(m);
    }
    this.pproto = pproto;
    this.slo = slo;
    this.shi = shi;
    this.sinv = sinv;
    this.dlo = dlo;
    this.dhi = dhi;
    this.dinv = dinv;
    this.dports = dports;
    this.matches = run.length > 0 ? run : NO_MATCHES;
    this.nMatches = run.length;
    this.def0 = run[0]?.def;
    this.state0 = run[0]?.state;
    const v = rule.verdict;
    this.jumpTo = '';
    this.standard = '';
    this.targetUse = undefined;
    if (v.kind === 'none') this.kind = K_NONE;
    else if (v.kind === 'jump' || v.kind === 'goto') {
      this.kind = v.kind === 'jump' ? K_JUMP : K_GOTO;
      this.jumpTo = v.chain;
    } else if (v.target.def.standard) {
      this.kind = K_STANDARD;
      this.standard = v.target.def.name;
    } else {
      this.kind = K_TARGET;
      this.targetUse = v.target;
    }
    this.quirk = unconditional(rule);
  }

  /** The protocol of the port index key. */
  get portProto(): number {
    return this.pproto !== 0 ? this.pproto : this.proto;
  }
}

const NO_PATH: readonly string[] = [];
const NO_MATCHES: readonly MatchUse[] = [];

/** Does the rule's compiled criteria let the packet through? (The interfaces and matches come after.) */
function passes(r: CompiledRule, ps: number, pd: number, pp: number, sp: number, dp: number): boolean {
  if (((ps & r.smask) !== r.src) !== r.invSrc) return false;
  if (((pd & r.dmask) !== r.dst) !== r.invDst) return false;
  if (r.proto !== 0 && (pp !== r.proto) !== r.invProto) return false;
  if (r.pproto !== 0) {
    if (pp !== r.pproto) return false;
    if ((sp >= r.slo && sp <= r.shi) === r.sinv) return false;
    if ((dp >= r.dlo && dp <= r.dhi) === r.dinv) return false;
  }
  return true;
}

/**
 * A chain compiled for one Tracer. Long chains also get an index: the rules with `-d ADDR/32` by address, the
 * others that can match only some destination ports (`-p tcp --dport N`, `-m multiport --dports A,B`) by
 * protocol and port, and the rest; each list in rule order. A packet's candidates are the merge of its
 * destination's list, its protocol and port's list, and the rest: the only rules that can match it.
 */
class CompiledChain {
  readonly n: number;
  readonly rules: readonly CompiledRule[];
  /** A list of one rule is the rule's position itself (a kube-proxy KUBE-SERVICES has one rule per address). */
  readonly byDst: Map<number, number | Int32Array> | undefined;
  readonly byPort: Map<number, number | Int32Array> | undefined;
  readonly others: Int32Array | undefined;
  /** The chain's name and hook, read by every step (the Chain object itself only at a built-in chain's tail). */
  readonly name: string;
  readonly hook: Chain['hook'];
  /** The path of a walk that starts here. */
  readonly ownPath: readonly string[];
  /** The policy's pending packets and bytes (deferred counters). */
  hits = 0;
  hitBytes = 0;
  /** The tail's step (policy or return; WalkCache shareSteps), as CompiledRule.step. */
  tailStep: Step | undefined = undefined;
  tailPath: readonly string[] | undefined = undefined;
  tailsMade = 0;

  constructor(
    readonly chain: Chain,
    readonly source: readonly Rule[],
  ) {
    this.n = source.length;
    this.name = chain.name;
    this.hook = chain.hook;
    this.ownPath = [chain.name];
    this.rules = source.map((r) => new CompiledRule(r));
    if (this.n < INDEX_FROM) {
      this.byDst = undefined;
      this.byPort = undefined;
      this.others = undefined;
      return;
    }
    const byDst = new Map<number, number[]>();
    const byPort = new Map<number, number[]>();
    const others: number[] = [];
    const add = (m: Map<number, number[]>, k: number, i: number): void => {
      const l = m.get(k);
      if (l) l.push(i);
      else m.set(k, [i]);
    };
    this.rules.forEach((r, i) => {
      if (r.dmask === -1 && !r.invDst) add(byDst, r.dst, i);
      else if (r.dports !== undefined) for (const p of new Set(r.dports)) add(byPort, portKey(r.portProto, p), i);
      else others.push(i);
    });
    const frozen = (m: Map<number, number[]>): Map<number, number | Int32Array> => new Map([...m].map(([k, v]) => [k, v.length === 1 ? v[0]! : Int32Array.from(v)]));
    this.byDst = frozen(byDst);
    this.byPort = frozen(byPort);
    this.others = Int32Array.from(others);
  }

  private list(v: number | Int32Array | undefined, one: Int32Array): Int32Array {
    if (v === undefined) return EMPTY;
    if (typeof v !== 'number') return v;
    one[0] = v;
    return one;
  }

  /** The first rule at or after `from` whose compiled criteria let the packet through (or n). */
  next(from: number, p: Packet): number {
    const ps = p.src | 0;
    const pd = p.dst | 0;
    const pp = p.proto;
    const sp = p.sport;
    const dp = p.dport;
    const rules = this.rules;
    const n = this.n;
    if (this.others === undefined) {
      for (let i = from; i < n; i++) if (passes(rules[i]!, ps, pd, pp, sp, dp)) return i;
      return n;
    }
    const a = this.list(this.byDst!.get(pd), ONE_DST);
    const b = this.list(this.byPort!.get(portKey(pp, dp)), ONE_PORT);
    const c = this.others;
    let ia = a.length === 0 ? 0 : lowerBound(a, from);
    let ib = b.length === 0 ? 0 : lowerBound(b, from);
    let ic = lowerBound(c, from);
    for (;;) {
      const x = ia < a.length ? a[ia]! : n;
      const y = ib < b.length ? b[ib]! : n;
      const z = ic < c.length ? c[ic]! : n;
      const i = x < y ? (x < z ? x : z) : y < z ? y : z;
      if (i === n) return n;
      if (passes(rules[i]!, ps, pd, pp, sp, dp)) return i;
      if (i === x) ia++;
      else if (i === y) ib++;
      else ic++;
    }
  }
}

const EMPTY = new Int32Array(0);
/** Where next() puts a one-rule list of each index while it merges (it is not re-entered). */
const ONE_DST = new Int32Array(1);
const ONE_PORT = new Int32Array(1);
/** Chains shorter than this are scanned; longer ones are indexed. */
const INDEX_FROM = 32;

const portKey = (proto: number, port: number): number => proto * 65536 + port;

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

/** Counts above this many bytes go to the BigInt counters at once (a double is exact to 2^53). */
const FLUSH_BYTES = 2 ** 48;

/**
 * Compiled chains, kept by the walker's user for as long as the ruleset does not change (a Tracer's life): a
 * chain is compiled anew when a walk starts in it and its rule list was replaced or changed length, but a jump
 * keeps the chain it led to the first time.
 * With `deferCounters` the compiled walk adds packets and bytes up in plain numbers and writes them to the
 * rules' and policies' counters only in flushCounters(): a caller that reads counters only after its last
 * walk (tsiptables trace --batch) spares two BigInt additions per rule matched.
 */
export class WalkCache {
  private readonly chains = new Map<Chain, CompiledChain>();
  readonly deferCounters: boolean;
  readonly shareSteps: boolean;

  /**
   * `shareSteps`: a step that only says what a rule or a chain's tail did (every step but a target's, whose
   * verdict the target gives) is made once and reported again for every packet that takes it on the same
   * path, for a caller that neither changes steps nor tells them apart by identity (the JSON view of a batch).
   */
  constructor(opts: { deferCounters?: boolean; shareSteps?: boolean } = {}) {
    this.deferCounters = opts.deferCounters === true;
    this.shareSteps = opts.shareSteps === true;
  }

  /** The chain compiled (again when its rule list was replaced or changed length). */
  compiled(chain: Chain): CompiledChain {
    let cc = this.chains.get(chain);
    if (cc === undefined || cc.source !== chain.rules || cc.n !== chain.rules.length) {
      if (cc !== undefined) flushChain(cc);
      cc = new CompiledChain(chain, chain.rules);
      this.chains.set(chain, cc);
    }
    return cc;
  }

  /** Adds the deferred counts to the rules' and policies' counters. */
  flushCounters(): void {
    for (const cc of this.chains.values()) flushChain(cc);
  }
}

function flushChain(cc: CompiledChain): void {
  if (cc.hits !== 0) {
    cc.chain.counters.packets += BigInt(cc.hits);
    cc.chain.counters.bytes += BigInt(cc.hitBytes);
    cc.hits = 0;
    cc.hitBytes = 0;
  }
  for (const r of cc.rules) if (r.hits !== 0) flushRule(r);
}

function flushRule(r: CompiledRule): void {
  const c = r.rule.counters;
  c.packets += BigInt(r.hits);
  c.bytes += BigInt(r.hitBytes);
  r.hits = 0;
  r.hitBytes = 0;
}

/** A jump's return point. */
interface Frame {
  cc: CompiledChain;
  next: number;
  path: readonly string[];
}

/** BigInt(len) of the last packet counted: a batch counts the same few lengths over and over. */
let lastLen = -1;
let lastLenBig = 0n;
function bigLen(len: number): bigint {
  if (len !== lastLen) {
    lastLen = len;
    lastLenBig = BigInt(len);
  }
  return lastLenBig;
}

/**
 * The step of a rule that is not a target's: with `share`, the rule's kept one when the path is the same (its
 * table, chain, number, type and verdict are the rule's own), else a new one, kept once the rule has made
 * SHARE_AFTER. Only rules taken often keep one: a rarely taken rule's step, made anew, is in the cache where
 * its reader looks, a kept one of long ago is not.
 */
function ruleStep(r: CompiledRule, share: boolean, table: string, chain: string, type: StepType, num: number, verdict: string, path: readonly string[]): Step {
  if (r.stepPath === path) return r.step!;
  const step: Step = { table, chain, type, num, rule: r.rule, verdict, path };
  if (share && ++r.stepsMade >= SHARE_AFTER) {
    r.step = step;
    r.stepPath = path;
  }
  return step;
}

/** Steps made by a rule (or a chain's tail) before it keeps one to report again. */
const SHARE_AFTER = 16;

/** The walk over compiled chains: the naive walk's steps and verdicts, without trying rules that cannot match. */
function walkCompiled(table: Table, hookChain: string, pkt: Packet, count: boolean, makeCtx: (chain: string) => EvalContext, sink: WalkSink, cache: WalkCache): WalkResult {
  const base = table.chains.get(hookChain);
  if (!base) return { verdict: 'ACCEPT', decidedBy: undefined };
  const tname = table.name;
  const defer = cache.deferCounters;
  const share = cache.shareSteps;
  let stack: Frame[] | undefined;
  let cc = cache.compiled(base);
  const baseCc = cc;
  const basePath = cc.ownPath;
  let path = basePath;
  let i = 0;
  for (;;) {
    if (i < cc.n) i = cc.next(i, pkt);
    const chainName = cc.name;
    if (i >= cc.n) {
      // The chain's tail: the policy of a built-in chain, the implicit RETURN of a user chain.
      const num = cc.n + 1;
      if (cc.hook) {
        const chain = cc.chain;
        const policy = chain.policy ?? 'ACCEPT';
        let step = cc.tailStep;
        if (step === undefined || cc.tailPath !== path || step.verdict !== policy) {
          step = { table: tname, chain: chainName, type: 'policy', num, rule: undefined, verdict: policy, path };
          if (share && ++cc.tailsMade >= SHARE_AFTER) [cc.tailStep, cc.tailPath] = [step, path];
        }
        if (count && chain.counted === true) {
          if (defer) {
            cc.hits++;
            cc.hitBytes += pkt.len;
            if (cc.hitBytes > FLUSH_BYTES) flushChain(cc);
          } else {
            chain.counters.packets += 1n;
            chain.counters.bytes += bigLen(pkt.len);
          }
        }
        sink.step(step, pkt);
        return { verdict: policy, decidedBy: step };
      }
      let step = cc.tailStep;
      if (step === undefined || cc.tailPath !== path) {
        step = { table: tname, chain: chainName, type: 'return', num, rule: undefined, verdict: 'RETURN', path };
        if (share && ++cc.tailsMade >= SHARE_AFTER) [cc.tailStep, cc.tailPath] = [step, path];
      }
      sink.step(step, pkt);
      const f = stack?.pop();
      if (f) ({ cc, next: i, path } = f);
      else [cc, i, path] = [baseCc, baseCc.n, basePath];
      continue;
    }
    const r = cc.rules[i]!;
    const rule = r.rule;
    const num = i + 1;
    if (r.ifaces && !ipMatches(rule.ip, pkt)) {
      i++;
      continue;
    }
    let matched = true;
    let ctx: EvalContext | undefined;
    const nm = r.nMatches;
    for (let k = 0; k < nm; k++) {
      const def = k === 0 ? r.def0! : r.matches[k]!.def;
      const fn = def.match;
      if (!fn) {
        sink.unsimulated(`-m ${def.name}`);
        continue;
      }
      ctx ??= makeCtx(chainName);
      if (!fn.call(def, k === 0 ? r.state0 : r.matches[k]!.state, ctx)) {
        matched = false;
        break;
      }
    }
    if (!matched) {
      i++;
      continue;
    }
    if (count) {
      if (defer) {
        r.hits++;
        r.hitBytes += pkt.len;
        if (r.hitBytes > FLUSH_BYTES) flushRule(r);
      } else {
        const c = rule.counters;
        c.packets += 1n;
        c.bytes += bigLen(pkt.len);
      }
    }
    switch (r.kind) {
      case K_NONE:
        sink.step(ruleStep(r, share, tname, chainName, 'rule', num, 'CONTINUE', path), pkt);
        i++;
        continue;
      case K_JUMP:
      case K_GOTO: {
        sink.step(ruleStep(r, share, tname, chainName, 'rule', num, r.kind === K_JUMP ? 'JUMP' : 'GOTO', path), pkt);
        // The target as compiled when the jump was first taken.
        let target = r.targetCc;
        if (target === undefined) {
          const c = table.chains.get(r.jumpTo);
          if (!c) {
            i++;
            continue;
          }
          target = r.targetCc = cache.compiled(c);
        }
        if (r.kind === K_JUMP) {
          stack ??= [];
          if (stack.length >= MAX_DEPTH) return { verdict: 'DROP', decidedBy: undefined };
          stack.push({ cc, next: i + 1, path });
        }
        if (r.pathFrom !== path) {
          r.pathFrom = path;
          r.pathTo = [...path, target.name];
        }
        path = r.pathTo;
        cc = target;
        i = 0;
        continue;
      }
      case K_STANDARD: {
        const name = r.standard;
        const step = ruleStep(r, share, tname, chainName, r.quirk ? (cc.hook ? 'policy' : 'return') : 'rule', num, name, path);
        sink.step(step, pkt);
        if (name === 'RETURN') {
          const f = stack?.pop();
          if (f) ({ cc, next: i, path } = f);
          else [cc, i, path] = [baseCc, baseCc.n, basePath];
          continue;
        }
        return { verdict: name === 'ACCEPT' ? 'ACCEPT' : name === 'QUEUE' ? 'QUEUE' : 'DROP', decidedBy: step };
      }
      default: {
        const use = r.targetUse!;
        const def = use.def;
        const step: Step = { table: tname, chain: chainName, type: 'rule', num, rule, verdict: 'CONTINUE', path };
        sink.step(step, pkt);
        let verdict: TargetVerdict = 'CONTINUE';
        if (def.run) {
          ctx ??= makeCtx(chainName);
          verdict = def.run(use.state, ctx);
        } else {
          sink.unsimulated(`-j ${def.name}`);
        }
        step.verdict = verdict;
        if (verdict === 'CONTINUE') {
          i++;
          continue;
        }
        if (verdict === 'RETURN') {
          const f = stack?.pop();
          if (f) ({ cc, next: i, path } = f);
          else [cc, i, path] = [baseCc, baseCc.n, basePath];
          continue;
        }
        return { verdict, decidedBy: step };
      }
    }
  }
}
