/**
 * A rule's canonical text compiled once into closures: matches, statements and the verdict in the order the
 * text gives them (nft evaluates a rule's expressions left to right and stops at the first that breaks).
 * The cache is keyed by the text with its counters zeroed, so bumping a counter does not recompile.
 */
import type { NatRequest, LogRequest } from '../../eval/context';
import { RTN } from '../../eval/context';
import type { NftRule, NftTable } from '../model';
import { readSelector } from '../selectors';
import { concatKey, readValue } from '../datatypes';
import { FIELDS, frameLength, type Field, type FieldValue } from './fields';
import { tokenize, tokText, type Tok } from './tokens';
import { elementMatches, namedElements, readElements, specOf, valueText, type Element, type Spec } from './values';
import type { NftEnv } from './types';

export type VerdictCode = 'accept' | 'drop' | 'queue' | 'stolen' | 'continue' | 'return' | 'jump' | 'goto';
export interface Verdict {
  code: VerdictCode;
  chain?: string;
}

/** What a step sees while it runs. */
export interface Rt {
  env: NftEnv;
  table: NftTable;
  rule: NftRule;
}

/** A miss carries its explanation as a thunk: built only when someone reads it. */
export type StepResult = undefined | { miss: () => string } | { verdict: Verdict };
export type Step = (rt: Rt) => StepResult;

export interface CompiledRule {
  steps: Step[];
  /** The text `nft monitor trace` prints for the rule (counters as `packets 0 bytes 0`). */
  traceText: string;
}

const BITMASK = new Set(['ct_state', 'ct_status', 'tcp_flag']);
const REL = new Set(['==', '!=', '<', '>', '<=', '>=']);
const VERDICTS = new Set(['accept', 'drop', 'continue', 'return', 'queue']);
const COUNTER_RE = /counter packets \d+ bytes \d+/g;

export function zeroCounters(text: string): string {
  return text.includes('counter packets ') ? text.replace(COUNTER_RE, 'counter packets 0 bytes 0') : text;
}

const cache = new Map<string, CompiledRule>();

export function compileRule(text: string): CompiledRule {
  const key = zeroCounters(text);
  let c = cache.get(key);
  if (!c) {
    c = { steps: compileSteps(key), traceText: key };
    cache.set(key, c);
  }
  return c;
}

const byRule = new WeakMap<NftRule, { text: string; compiled: CompiledRule }>();

/** The rule's compiled form, remembered per rule object while its text stays the same. */
export function compiledOf(rule: NftRule): CompiledRule {
  const c = byRule.get(rule);
  if (c && c.text === rule.text) return c.compiled;
  const compiled = compileRule(rule.text);
  byRule.set(rule, { text: rule.text, compiled });
  return compiled;
}

/** Adds one packet of `bytes` to the k-th counter of the rule's text. */
function bumpCounter(rule: NftRule, k: number, bytes: number): void {
  let i = 0;
  rule.text = rule.text.replace(COUNTER_RE, (m) => {
    if (i++ !== k) return m;
    const [, p, b] = /packets (\d+) bytes (\d+)/.exec(m)!;
    return `counter packets ${BigInt(p!) + 1n} bytes ${BigInt(b!) + BigInt(bytes)}`;
  });
}

class Parser {
  i = 0;
  readonly words: (string | undefined)[];
  constructor(readonly toks: Tok[]) {
    this.words = toks.map((t) => (t.k === 'w' ? t.v : undefined));
  }
  peek(k = 0): Tok | undefined {
    return this.toks[this.i + k];
  }
  word(k = 0): string | undefined {
    return this.words[this.i + k];
  }
  next(): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new Error('rule ends early');
    return t;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  /** Tokens of `{ ... }` (the cursor on `{`). */
  brace(): Tok[] {
    const open = this.next();
    if (!(open.k === 'op' && open.v === '{')) throw new Error('{ expected');
    const out: Tok[] = [];
    let depth = 1;
    for (;;) {
      const t = this.next();
      if (t.k === 'op' && t.v === '{') depth++;
      if (t.k === 'op' && t.v === '}' && --depth === 0) return out;
      out.push(t);
    }
  }
}

interface Sel {
  print: string;
  type: string;
  field: Field;
}

function readSels(p: Parser): Sel[] | undefined {
  const first = readSelector(p.words, p.i);
  if (!first) return undefined;
  const f = FIELDS[first.sel.print];
  if (!f) throw new Error(`${first.sel.print}: not simulated`);
  p.i += first.used;
  const out: Sel[] = [{ ...first.sel, field: f }];
  while (p.word() === '.') {
    const s = readSelector(p.words, p.i + 1);
    if (!s) break;
    const g = FIELDS[s.sel.print];
    if (!g) throw new Error(`${s.sel.print}: not simulated`);
    p.i += 1 + s.used;
    out.push({ ...s.sel, field: g });
  }
  return out;
}

/** Reads the fields; undefined when one is missing from the packet. */
function readFields(sels: readonly Sel[], env: NftEnv): FieldValue[] | undefined {
  const out: FieldValue[] = [];
  for (const s of sels) {
    const v = s.field.get(env);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

type Rhs = { k: 'value'; specs: Spec[] } | { k: 'anon'; els: Element[] } | { k: 'named'; name: string };

function readRhs(p: Parser, sels: readonly Sel[]): Rhs {
  const t = p.peek();
  if (!t) throw new Error('value expected');
  if (t.k === 'op' && t.v === '{') return { k: 'anon', els: readElements(p.brace(), sels.map((s) => s.type)) };
  if (t.k === 'w' && t.v.startsWith('@')) {
    p.next();
    return { k: 'named', name: t.v.slice(1) };
  }
  const specs: Spec[] = [];
  sels.forEach((s, k) => {
    if (k > 0 && p.next().v !== '.') throw new Error('concatenation expected');
    specs.push(specOf(s.type, p.next()));
  });
  return { k: 'value', specs };
}

function lookup(rhs: Rhs, rt: Rt, vals: readonly FieldValue[]): Element | undefined {
  if (rhs.k === 'anon') return rhs.els.find((e) => elementMatches(vals, e));
  if (rhs.k === 'named') {
    const set = rt.table.sets.get(rhs.name);
    if (!set) return undefined;
    return namedElements(set).find((e) => elementMatches(vals, e));
  }
  return elementMatches(vals, { key: rhs.specs, data: undefined }) ? { key: rhs.specs, data: undefined } : undefined;
}

function shown(sels: readonly Sel[], vals: readonly FieldValue[] | undefined): string {
  if (!vals) return `the packet has no ${sels.map((s) => s.print).join(' . ')}`;
  return `${sels.map((s) => s.print).join(' . ')} is ${vals.map((v, i) => valueText(sels[i]!.type, v)).join(' . ')}`;
}

function cmp(op: string, v: bigint, k: bigint): boolean {
  switch (op) {
    case '<':
      return v < k;
    case '>':
      return v > k;
    case '<=':
      return v <= k;
    case '>=':
      return v >= k;
    case '!=':
      return v !== k;
    default:
      return v === k;
  }
}

function matchStep(p: Parser, sels: Sel[], start: number): Step {
  let mask: bigint | undefined;
  let xor: bigint | undefined;
  let bitop: string | undefined;
  const w = p.word();
  if (w === '&' || w === '|' || w === '^') {
    p.next();
    bitop = w;
    const m = specOf(sels[0]!.type, p.next());
    if (m.k !== 'range') throw new Error('mask expected');
    if (w === '&') mask = m.lo;
    else xor = m.lo;
  }
  let op: string | undefined;
  if (p.word() !== undefined && REL.has(p.word()!)) op = p.next().v;
  const rhs = readRhs(p, sels);
  const type = sels[0]!.type;
  // `tcp flags syn / syn,ack`: (flags & mask) == value.
  if (p.word() === '/' && BITMASK.has(type)) {
    p.next();
    const m = specOf(type, p.next());
    if (m.k !== 'range') throw new Error('mask expected');
    mask = m.lo;
    bitop = '&';
    op ??= '==';
  }
  const text = tokText(p.toks.slice(start, p.i));
  const fail = (vals: FieldValue[] | undefined): StepResult => ({ miss: () => `${text} (${shown(sels, vals)})` });
  const single = rhs.k === 'value' ? rhs.specs : undefined;
  const implicitBits = op === undefined && bitop === undefined && BITMASK.has(type) && single !== undefined && single.length === 1;
  // `!=` is an exact comparison for bitmask types too (`ct status != assured`: cmp neq, nft --debug=netlink).
  return (rt) => {
    const raw = readFields(sels, rt.env);
    if (!raw) return fail(undefined);
    let vals = raw;
    if (bitop !== undefined) {
      const v = raw[0];
      if (typeof v !== 'bigint') return fail(raw);
      let x = v;
      if (bitop === '&') x = v & mask!;
      else if (bitop === '|') x = v | xor!;
      else x = v ^ xor!;
      vals = [x];
    }
    let ok: boolean;
    if (implicitBits) {
      const k = (single![0] as { lo: bigint }).lo;
      ok = ((vals[0] as bigint) & k) !== 0n;
    } else if (op !== undefined && op !== '==' && op !== '!=') {
      const v = vals[0];
      const s = single?.[0];
      if (typeof v !== 'bigint' || !s || s.k !== 'range') return fail(raw);
      ok = cmp(op, v, s.lo);
    } else {
      ok = lookup(rhs, rt, vals) !== undefined;
      if (op === '!=') ok = !ok;
    }
    return ok ? undefined : fail(raw);
  };
}

/** The value side of `SEL set ...`: a constant, or another selector with `& m | x ^ y`, or a map lookup. */
function setStep(p: Parser, sels: Sel[], start: number): Step {
  const target = sels[0]!;
  if (sels.length !== 1 || !target.field.set) throw new Error(`${sels.map((s) => s.print).join(' . ')} set: not simulated`);
  const set = target.field.set;
  const src = readSels(p);
  if (src) {
    const ops: [string, bigint][] = [];
    while (p.word() === '&' || p.word() === '|' || p.word() === '^') {
      const o = p.next().v;
      const v = specOf(src[0]!.type, p.next());
      if (v.k !== 'range') throw new Error('value expected');
      ops.push([o, v.lo]);
    }
    let map: Rhs | undefined;
    if (p.word() === 'map') {
      p.next();
      const t = p.peek();
      if (t?.k === 'op' && t.v === '{') map = { k: 'anon', els: readElements(p.brace(), src.map((s) => s.type)) };
      else if (t?.k === 'w' && t.v.startsWith('@')) map = { k: 'named', name: p.next().v.slice(1) };
    }
    const text = tokText(p.toks.slice(start, p.i));
    return (rt) => {
      const vals = readFields(src, rt.env);
      if (!vals) return { miss: () => `${text} (${shown(src, vals)})` };
      if (target.field.get(rt.env) === undefined) return { miss: () => `${text} (the packet has no ${target.print})` };
      let v: FieldValue = vals[0]!;
      if (map) {
        const el = lookup(map, rt, vals);
        if (!el?.data?.[0]) return { miss: () => `${text} (${shown(src, vals)}: not in the map)` };
        const d = specOf(target.type, el.data[0]);
        v = d.k === 'range' ? d.lo : d.v;
      }
      for (const [o, k] of ops) {
        if (typeof v !== 'bigint') break;
        v = o === '&' ? v & k : o === '|' ? v | k : v ^ k;
      }
      set(rt.env, v);
      return undefined;
    };
  }
  const s = specOf(target.type, p.next());
  const v: FieldValue = s.k === 'range' ? s.lo : s.v;
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    // A payload statement carries its protocol dependency (`udp dport set 53`: meta l4proto udp).
    if (target.field.get(rt.env) === undefined) return { miss: () => `${text} (the packet has no ${target.print})` };
    set(rt.env, v);
    return undefined;
  };
}

function vmapStep(p: Parser, sels: Sel[], start: number): Step {
  const t = p.peek();
  let rhs: Rhs;
  if (t?.k === 'op' && t.v === '{') rhs = { k: 'anon', els: readElements(p.brace(), sels.map((s) => s.type)) };
  else if (t?.k === 'w' && t.v.startsWith('@')) rhs = { k: 'named', name: p.next().v.slice(1) };
  else throw new Error('vmap: set expected');
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    const vals = readFields(sels, rt.env);
    if (!vals) return { miss: () => `${text} (${shown(sels, vals)})` };
    const el = lookup(rhs, rt, vals);
    if (!el?.data) return { miss: () => `${text} (${shown(sels, vals)}: no element)` };
    const [a, b] = el.data;
    const code = a?.v as VerdictCode;
    if (code === 'jump' || code === 'goto') return { verdict: { code, chain: b!.v } };
    return { verdict: { code } };
  };
}

const LOG_LEVELS: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7, audit: 8 };

function logStep(p: Parser): Step {
  const req: LogRequest = { prefix: '', level: 4, flags: 0 };
  let group = false;
  for (;;) {
    const w = p.word();
    if (w === 'prefix') {
      p.next();
      req.prefix = p.next().v;
    } else if (w === 'level') {
      p.next();
      req.level = LOG_LEVELS[p.next().v] ?? 4;
    } else if (w === 'group' || w === 'snaplen' || w === 'queue-threshold') {
      p.next();
      p.next();
      if (w === 'group') group = true;
    } else if (w === 'flags') {
      p.next();
      const k = p.next().v;
      if (k === 'all') req.flags |= 0x2f;
      else if (k === 'skuid') req.flags |= 0x08;
      else if (k === 'ether') req.flags |= 0x20;
      else if (k === 'ip') {
        p.next();
        req.flags |= 0x04;
      } else if (k === 'tcp') {
        for (const f of p.next().v.split(',')) req.flags |= f === 'sequence' ? 0x01 : f === 'options' ? 0x02 : 0;
      }
    } else break;
  }
  return (rt) => {
    // `log group N` goes to nfnetlink_log (ulogd), not to the kernel log.
    if (!group) rt.env.log({ ...req });
    return undefined;
  };
}

function limitStep(p: Parser, start: number): Step {
  if (p.word() === 'rate') p.next();
  let over = false;
  if (p.word() === 'over') {
    p.next();
    over = true;
  }
  p.next();
  if (/^(bytes|kbytes|mbytes)\/\w+$/.test(p.word() ?? '')) p.next();
  if (p.word() === 'burst') {
    p.next();
    p.next();
    if (['packets', 'bytes', 'kbytes', 'mbytes'].includes(p.word() ?? '')) p.next();
  }
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    const under = rt.env.decide('limit', `${text}: is the packet within the rate?`, true);
    const ok = over ? !under : under;
    return ok ? undefined : { miss: () => `${text} (${under ? 'within the rate' : 'over the rate'})` };
  };
}

function quotaStep(p: Parser, start: number): Step {
  let over = false;
  if (p.word() === 'over') {
    p.next();
    over = true;
  }
  p.next();
  p.next();
  if (p.word() === 'used') {
    p.next();
    p.next();
    p.next();
  }
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    const within = rt.env.decide('quota', `${text}: is the quota not used up?`, true);
    const ok = over ? !within : within;
    return ok ? undefined : { miss: () => `${text} (${within ? 'quota left' : 'quota used up'})` };
  };
}

const ICMP_REJECT: Record<string, string> = {
  'net-unreachable': 'icmp-net-unreachable', 'host-unreachable': 'icmp-host-unreachable', 'prot-unreachable': 'icmp-proto-unreachable',
  'port-unreachable': 'icmp-port-unreachable', 'net-prohibited': 'icmp-net-prohibited', 'host-prohibited': 'icmp-host-prohibited',
  'admin-prohibited': 'icmp-admin-prohibited', 'no-route': 'icmp-net-unreachable',
};

function rejectStep(p: Parser): Step {
  let what = 'icmp-port-unreachable';
  if (p.word() === 'with') {
    p.next();
    const kind = p.next().v;
    if (kind === 'tcp') {
      p.next();
      what = 'tcp-reset';
    } else {
      if (p.word() === 'type') p.next();
      const code = p.next().v;
      what = ICMP_REJECT[code] ?? (/^\d+$/.test(code) ? `icmp-type-${code}` : `icmp-${code}`);
    }
  }
  return (rt) => {
    // `reject with tcp reset` carries the dependency `ip protocol tcp` (hidden in the ip family's listing,
    // `meta l4proto tcp` in inet): other packets do not match the rule.
    if (what === 'tcp-reset' && rt.env.pkt.proto !== 6) return { miss: () => 'reject with tcp reset (the packet is not tcp)' };
    rt.env.reject(what);
    return { verdict: { code: 'drop' } };
  };
}

const NAT_FLAG_WORDS = new Set(['random', 'fully-random', 'persistent']);

function parseAddr(t: string): number {
  const v = readValue('ipv4_addr', t).key;
  return Number(v);
}

/** `A`, `A-B`, `A:P`, `A-B:P-Q`, `:P`, `A/len`: addresses and ports of a nat statement. */
function natTarget(text: string): { min?: number; max?: number; pmin?: number; pmax?: number } {
  const out: { min?: number; max?: number; pmin?: number; pmax?: number } = {};
  const colon = text.lastIndexOf(':');
  const addr = colon >= 0 ? text.slice(0, colon) : text;
  const port = colon >= 0 ? text.slice(colon + 1) : '';
  if (addr !== '') {
    const v = readValue('ipv4_addr', addr);
    out.min = Number(v.interval?.lo ?? v.key);
    out.max = Number(v.interval?.hi ?? v.key);
    if (!v.interval && addr.includes('-')) {
      const [a, b] = addr.split('-');
      out.min = parseAddr(a!);
      out.max = parseAddr(b!);
    }
  }
  if (port !== '') {
    const [a, b] = port.split('-');
    out.pmin = Number(a);
    out.pmax = Number(b ?? a);
  }
  return out;
}

function natStep(p: Parser, kw: 'snat' | 'dnat' | 'masquerade' | 'redirect'): Step {
  if ((p.word() === 'ip' || p.word() === 'ip6') && (p.word(1) === 'to' || p.word(1) === 'addr')) p.next();
  let fixed: ReturnType<typeof natTarget> | undefined;
  let mapSels: Sel[] | undefined;
  let map: Rhs | undefined;
  if (p.word() === 'to') {
    p.next();
    const sels = readSels(p);
    if (sels) {
      if (p.word() !== 'map') throw new Error('map expected');
      p.next();
      const t = p.peek();
      if (t?.k === 'op' && t.v === '{') map = { k: 'anon', els: readElements(p.brace(), sels.map((s) => s.type)) };
      else map = { k: 'named', name: p.next().v.slice(1) };
      mapSels = sels;
    } else fixed = natTarget(p.next().v);
  }
  const flags = new Set<string>();
  while (p.word() !== undefined && p.word()!.split(',').every((f) => NAT_FLAG_WORDS.has(f))) for (const f of p.next().v.split(',')) flags.add(f);
  const kind = kw.toUpperCase() as NatRequest['kind'];
  return (rt) => {
    let t = fixed ?? {};
    if (mapSels && map) {
      const vals = readFields(mapSels, rt.env);
      const el = vals ? lookup(map, rt, vals) : undefined;
      if (!el?.data) return { miss: () => `${kw} to ... map (${shown(mapSels, vals)}: not in the map)` };
      const d = el.data.map((x) => x.v);
      t = natTarget(d.length >= 3 && d[1] === '.' ? `${d[0]}:${d[2]}` : d.join(''));
    }
    const pkt = rt.env.pkt;
    const keep = kind === 'SNAT' ? pkt.src : kind === 'DNAT' ? pkt.dst : 0;
    const mapPorts = t.pmin !== undefined;
    rt.env.nat(
      {
        kind,
        minAddr: t.min ?? keep,
        maxAddr: t.max ?? keep,
        mapPorts,
        minPort: t.pmin ?? 0,
        maxPort: t.pmax ?? 0,
        random: flags.has('random'),
        fullyRandom: flags.has('fully-random'),
        persistent: flags.has('persistent'),
      },
      kw,
    );
    return { verdict: { code: 'accept' } };
  };
}

const FIB_TYPE_NAMES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];

function fibStep(p: Parser, start: number): Step {
  const flags: string[] = [];
  for (;;) {
    flags.push(p.next().v);
    if (p.word() === '.') p.next();
    else break;
  }
  const result = p.next().v;
  let op = '==';
  if (p.word() !== undefined && REL.has(p.word()!)) op = p.next().v;
  const t = p.peek();
  const wanted: string[] = [];
  if (t?.k === 'op' && t.v === '{') {
    for (const x of p.brace()) if (x.k !== 'op') wanted.push(x.v);
  } else wanted.push(p.next().v);
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    const pkt = rt.env.pkt;
    const addr = flags.includes('saddr') ? pkt.src : pkt.dst;
    const iif = flags.includes('iif') ? (pkt.inIface ?? undefined) : undefined;
    let got: string;
    if (result === 'type') {
      got = FIB_TYPE_NAMES[rt.env.host.addrType(addr, iif)] ?? 'unspec';
    } else {
      const r = rt.env.host.route(addr, { iif: flags.includes('saddr') ? (pkt.inIface ?? undefined) : undefined, mark: flags.includes('mark') ? pkt.mark : undefined });
      let dev = r && r.type !== RTN.UNREACHABLE && r.type !== RTN.BLACKHOLE && r.type !== RTN.PROHIBIT ? r.dev : undefined;
      if (dev !== undefined && iif !== undefined && dev !== iif) dev = undefined;
      got = dev === undefined ? 'missing' : dev;
    }
    const hit = wanted.some((w) => w === got || (w === 'exists' && got !== 'missing') || (w === '0' && got === 'missing'));
    const ok = op === '!=' ? !hit : hit;
    return ok ? undefined : { miss: () => `${text} (is ${got})` };
  };
}

function setAddStep(p: Parser, start: number): Step {
  p.next();
  const name = p.next().v.slice(1);
  const inner = new Parser(p.brace());
  const sels = readSels(inner);
  if (!sels) throw new Error('set key expected');
  const text = tokText(p.toks.slice(start, p.i));
  return (rt) => {
    const set = rt.table.sets.get(name);
    const vals = readFields(sels, rt.env);
    if (!set || !vals) return { miss: () => `${text} (${shown(sels, vals)})` };
    if (namedElements(set).some((e) => elementMatches(vals, e))) return undefined;
    const keys = vals.map((v) => (typeof v === 'bigint' ? v : 0n));
    const elText = vals.map((v, i) => valueText(sels[i]!.type, v)).join(' . ');
    set.elements.push({ text: elText, key: sels.length > 1 ? [concatKey(sels.map((s) => s.type), keys)] : keys });
    return undefined;
  };
}

function unsupported(text: string): Step {
  return (rt) => (rt.env.decide('nft', `"${text}" is not simulated: assume it matches?`, false) ? undefined : { miss: () => `${text} (not simulated)` });
}

function compileSteps(text: string): Step[] {
  const p = new Parser(tokenize(text));
  const steps: Step[] = [];
  let counters = 0;
  while (!p.done()) {
    const start = p.i;
    try {
      const w = p.word();
      if (w === undefined) throw new Error(`unexpected ${p.peek()!.v}`);
      if (VERDICTS.has(w) && !(w === 'queue' && p.word(1) !== undefined && ['num', 'to', 'bypass', 'fanout', 'flags'].includes(p.word(1)!))) {
        p.next();
        const code = w as VerdictCode;
        steps.push(() => ({ verdict: { code } }));
        continue;
      }
      if (w === 'queue') {
        p.next();
        while (p.word() !== undefined && ['num', 'to', 'bypass', 'fanout', 'flags'].includes(p.word()!)) {
          const k = p.next().v;
          if (k === 'num' || k === 'to' || k === 'flags') p.next();
        }
        steps.push(() => ({ verdict: { code: 'queue' } }));
        continue;
      }
      if (w === 'jump' || w === 'goto') {
        p.next();
        const chain = p.next().v;
        steps.push(() => ({ verdict: { code: w, chain } }));
        continue;
      }
      if ((w === 'counter' || w === 'quota') && p.word(1) === 'name') {
        // A named counter counts the packet in the table's object; a named quota is answered as a quota is.
        p.i += 2;
        const name = p.next().v;
        if (w === 'counter') {
          steps.push((rt) => {
            const o = rt.table.objects.get(`counter ${name}`);
            if (o?.kind === 'counter' && rt.env.countRules) {
              o.packets += 1n;
              o.bytes += BigInt(frameLength(rt.env));
            }
            return undefined;
          });
        } else {
          steps.push((rt) => {
            const o = rt.table.objects.get(`quota ${name}`);
            const over = o?.kind === 'quota' && o.text.startsWith('over ');
            const within = rt.env.decide('quota', `quota name "${name}": is the quota not used up?`, true);
            const ok = over ? !within : within;
            return ok ? undefined : { miss: () => `quota name "${name}" (${within ? 'quota left' : 'quota used up'})` };
          });
        }
        continue;
      }
      if (w === 'counter') {
        p.next();
        if (p.word() === 'packets') p.i += 2;
        if (p.word() === 'bytes') p.i += 2;
        const k = counters++;
        steps.push((rt) => {
          if (rt.env.countRules) bumpCounter(rt.rule, k, frameLength(rt.env));
          return undefined;
        });
        continue;
      }
      if (w === 'comment') {
        p.next();
        p.next();
        continue;
      }
      if (w === 'log') {
        p.next();
        steps.push(logStep(p));
        continue;
      }
      if (w === 'limit') {
        p.next();
        steps.push(limitStep(p, start));
        continue;
      }
      if (w === 'quota') {
        p.next();
        steps.push(quotaStep(p, start));
        continue;
      }
      if (w === 'reject') {
        p.next();
        steps.push(rejectStep(p));
        continue;
      }
      if (w === 'snat' || w === 'dnat' || w === 'masquerade' || w === 'redirect') {
        p.next();
        steps.push(natStep(p, w));
        continue;
      }
      if (w === 'notrack') {
        p.next();
        steps.push((rt) => {
          rt.env.notrack();
          return undefined;
        });
        continue;
      }
      if (w === 'fwd' && p.word(1) === 'to') {
        p.i += 2;
        const dev = p.next().v;
        steps.push((rt) => {
          rt.env.fwd(dev);
          return { verdict: { code: 'stolen' } };
        });
        continue;
      }
      if (w === 'dup' && p.word(1) === 'to') {
        p.i += 3;
        if (p.word() === 'device') p.i += 2;
        continue;
      }
      if (w === 'synproxy') {
        p.next();
        while (p.word() !== undefined && ['mss', 'wscale', 'timestamp', 'sack-perm'].includes(p.word()!)) p.i += p.word() === 'mss' || p.word() === 'wscale' ? 2 : 1;
        steps.push(unsupported('synproxy'));
        continue;
      }
      if (w === 'tcp' && p.word(1) === 'option' && p.word(2) === 'maxseg' && p.word(3) === 'size' && p.word(4) === 'set') {
        p.i += 5;
        if (p.word() === 'rt') p.i += 2;
        else p.next();
        continue;
      }
      if (w === 'fib') {
        p.next();
        steps.push(fibStep(p, start));
        continue;
      }
      if ((w === 'add' || w === 'update') && p.word(1)?.startsWith('@')) {
        steps.push(setAddStep(p, start));
        continue;
      }
      const sels = readSels(p);
      if (!sels) throw new Error(`${w}: not simulated`);
      if (p.word() === 'set') {
        p.next();
        steps.push(setStep(p, sels, start));
        continue;
      }
      if (p.word() === 'vmap') {
        p.next();
        steps.push(vmapStep(p, sels, start));
        continue;
      }
      steps.push(matchStep(p, sels, start));
    } catch {
      // What is not understood: the rest of the rule up to a final verdict, asked as one question.
      p.i = start;
      const rest = p.toks.slice(start);
      const last = rest[rest.length - 1];
      const verdictAtEnd = last?.k === 'w' && (VERDICTS.has(last.v) || (rest.length >= 2 && (rest[rest.length - 2]!.v === 'jump' || rest[rest.length - 2]!.v === 'goto')));
      const cut = verdictAtEnd ? (VERDICTS.has(last.v) ? rest.length - 1 : rest.length - 2) : rest.length;
      if (cut > 0) steps.push(unsupported(tokText(rest.slice(0, cut))));
      if (verdictAtEnd) {
        if (VERDICTS.has(last.v)) {
          const code = last.v as VerdictCode;
          steps.push(() => ({ verdict: { code } }));
        } else {
          const code = rest[rest.length - 2]!.v as VerdictCode;
          const chain = last.v;
          steps.push(() => ({ verdict: { code, chain } }));
        }
      }
      break;
    }
  }
  return steps;
}
