/**
 * A rule's atoms (from grammar/nft) read as nft reads them, and printed as `nft list ruleset` prints them:
 * matches `SELECTOR [op] VALUE` (values, anonymous sets, @named sets, bitwise masks, concatenations), and the
 * statements: verdicts, counter, log, limit, reject, nat, notrack, mark and payload rewrites, vmaps, fwd, comment.
 */
import type { Atom, NftLoc } from './ast';
import { concatKey, intervalOf, intervalText, lineBreakEvery, NftValueError, NoSuchInterface, readValue, type Value } from './datatypes';
import { NftError } from './errors';
import type { Family, NftTable, SetElement } from './model';
import { readSelector, type Selector } from './selectors';

export interface RuleContext {
  family: Family;
  table: NftTable;
  /** Counts the anonymous sets the rule creates (each takes a handle before the rule's). */
  anonymousSets?: { count: number };
  /**
   * Reading nft's own listing back (the state file): `{ 1-11 }` stays a set. nft itself would read it as the
   * plain comparison `1-11`, so its listing is not always a fixed point of its reader; the stored one is.
   */
  listing?: boolean;
  /** What the kernel will refuse once the batch reaches it (its errors come after nft's own). */
  refusals?: NftError[];
}

/** The order `flags` prints a set's flags in (recorded). */
export const SET_FLAG_ORDER = ['constant', 'dynamic', 'interval', 'timeout'];

const BITMASK_TYPES = new Set(['ct_state', 'ct_status', 'tcp_flag']);
const REL_OPS = new Set(['==', '!=', '<', '>', '<=', '>=']);
const VERDICT_WORDS = new Set(['accept', 'drop', 'return', 'continue']);

function spanOf(a: NftLoc, b: NftLoc): NftLoc {
  return { ...a, endColumn: b.line === a.line ? b.endColumn : a.endColumn, endOffset: b.endOffset };
}

class Cursor {
  i = 0;
  constructor(readonly atoms: Atom[]) {}
  peek(k = 0): Atom | undefined {
    return this.atoms[this.i + k];
  }
  word(k = 0): string | undefined {
    const a = this.atoms[this.i + k];
    return a?.k === 'word' ? a.text : undefined;
  }
  next(): Atom {
    const a = this.atoms[this.i++];
    if (!a) throw this.unexpectedEnd();
    return a;
  }
  isOp(text: string, k = 0): boolean {
    const a = this.atoms[this.i + k];
    return a?.k === 'op' && a.text === text;
  }
  done(): boolean {
    return this.i >= this.atoms.length;
  }
  unexpectedEnd(): NftError {
    const last = this.atoms[this.atoms.length - 1];
    const loc = last ? { ...last.loc, column: last.loc.endColumn + 1, endColumn: last.loc.endColumn + 1 } : undefined;
    return new NftError('syntax error, unexpected newline', loc);
  }
}

function describe(a: Atom): string {
  if (a.k === 'string') return 'quoted string';
  if (a.k === 'op') return a.text === ',' ? 'comma' : `'${a.text}'`;
  if (a.k === 'brace') return "'{'";
  if (a.k === 'word') return /^\d+$/.test(a.text) ? 'number' : 'string';
  return a.k === 'setref' ? "'@'" : "'$'";
}

function unexpected(a: Atom): NftError {
  return new NftError(`syntax error, unexpected ${describe(a)}`, a.loc);
}

/** A word, `"string"`, or `a,b,c` / `(a|b)` bitmask spelling joined with commas. */
function readScalarText(c: Cursor, type: string): { text: string; loc: NftLoc } {
  const first = c.next();
  if (first.k === 'op' && first.text === '(') {
    const parts: string[] = [];
    let last: Atom = first;
    for (;;) {
      const a = c.next();
      last = a;
      if (a.k === 'op' && a.text === ')') break;
      if (a.k === 'op' && a.text === '|') continue;
      if (a.k !== 'word') throw unexpected(a);
      parts.push(a.text);
    }
    return { text: parts.join(','), loc: spanOf(first.loc, last.loc) };
  }
  if (first.k === 'op' && (first.text === '-' || first.text === ':')) {
    const w = c.next();
    if (w.k !== 'word' || w.loc.offset !== first.loc.endOffset + 1) throw unexpected(w);
    return { text: first.text + w.text, loc: spanOf(first.loc, w.loc) };
  }
  if (first.k !== 'word' && first.k !== 'string') throw unexpected(first);
  let text = first.text;
  let loc = first.loc;
  if (BITMASK_TYPES.has(type)) {
    while ((c.isOp(',') || c.isOp('|')) && c.peek(1)?.k === 'word') {
      c.next();
      const w = c.next() as Extract<Atom, { k: 'word' }>;
      text += `,${w.text}`;
      loc = spanOf(loc, w.loc);
    }
  }
  return { text, loc };
}

function valueOf(type: string, text: string, loc: NftLoc): Value {
  try {
    return readValue(type, text);
  } catch (e) {
    if (e instanceof NoSuchInterface) throw new NftError('Interface does not exist', loc);
    if (e instanceof NftValueError) {
      if (type === 'ipv4_addr') throw new NftError('Could not resolve hostname: Name or service not known', loc);
      throw new NftError(`Could not parse ${typeName(type)}`, loc);
    }
    throw e;
  }
}

const TYPE_NAMES: Record<string, string> = {
  ipv4_addr: 'IPv4 address', inet_service: 'internet network service', mark: 'packet mark', integer: 'integer',
  ether_addr: 'link layer address', inet_proto: 'Internet protocol', ct_state: 'conntrack state', icmp_type: 'ICMP type',
  tcp_flag: 'TCP flag', ether_type: 'Ethernet protocol', arp_op: 'ARP operation',
};
function typeName(t: string): string {
  return TYPE_NAMES[t] ?? t;
}

/** A concatenation of selectors (`ip saddr . tcp dport`) or one selector. */
function readSelectors(c: Cursor): Selector[] | undefined {
  const words = c.atoms.map((a) => (a.k === 'word' ? a.text : undefined));
  const first = readSelector(words, c.i);
  if (!first) return undefined;
  c.i += first.used;
  const out = [first.sel];
  while (c.isOp('.')) {
    const s = readSelector(words, c.i + 1);
    if (!s) break;
    c.i += 1 + s.used;
    out.push(s.sel);
  }
  return out;
}

/** One element of a set or map: `key[ . key] [: data]`. */
export function readElement(atoms: Atom[], keyTypes: string[], dataType: string | undefined): SetElement {
  const c = new Cursor(atoms);
  const parts: string[] = [];
  const key: bigint[] = [];
  let range: { lo: bigint; hi: bigint } | undefined;
  for (let k = 0; k < keyTypes.length; k++) {
    if (k > 0) {
      const dot = c.next();
      if (!(dot.k === 'op' && dot.text === '.')) throw unexpected(dot);
    }
    const s = readScalarText(c, keyTypes[k]!);
    const v = valueOf(keyTypes[k]!, s.text, s.loc);
    parts.push(v.text);
    key.push(v.key);
    if (keyTypes.length === 1) range = v.interval;
  }
  let text = parts.join(' . ');
  if (keyTypes.length > 1) key.splice(0, key.length, concatKey(keyTypes, key));
  if (dataType !== undefined) {
    const colon = c.next();
    if (!(colon.k === 'op' && colon.text === ':')) throw unexpected(colon);
    text += ` : ${readData(c, dataType)}`;
  }
  if (!c.done()) throw unexpected(c.peek()!);
  return range ? { text, key, range } : { text, key };
}

function readData(c: Cursor, dataType: string): string {
  if (dataType === 'verdict') {
    const w = c.next();
    if (w.k === 'word' && VERDICT_WORDS.has(w.text)) return w.text;
    if (w.k === 'word' && (w.text === 'jump' || w.text === 'goto')) {
      const t = c.next();
      if (t.k !== 'word' && t.k !== 'string') throw unexpected(t);
      return `${w.text} ${t.text}`;
    }
    throw unexpected(w);
  }
  const s = readScalarText(c, dataType);
  return valueOf(dataType, s.text, s.loc).text;
}

/** Splits a brace's atoms at top-level commas. */
export function splitElements(atoms: Atom[]): Atom[][] {
  const out: Atom[][] = [];
  let cur: Atom[] = [];
  for (const a of atoms) {
    if (a.k === 'op' && a.text === ',') {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else cur.push(a);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export function compareKeys(a: bigint[], b: bigint[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return a.length - b.length;
}

/** auto-merge: overlapping and adjacent intervals become one. */
export function mergeIntervals(type: string, els: SetElement[]): SetElement[] {
  const out: { lo: bigint; hi: bigint }[] = [];
  for (const e of els) {
    const r = e.range ?? { lo: e.key[0]!, hi: e.key[0]! };
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1n) last.hi = r.hi > last.hi ? r.hi : last.hi;
    else out.push({ ...r });
  }
  return out.map((r) => ({ text: intervalText(type, r.lo, r.hi), key: [r.lo], range: r }));
}

/** Elements in the kernel's order, without duplicates. */
export function sortElements(els: SetElement[]): SetElement[] {
  const seen = new Set<string>();
  return [...els].sort((x, y) => compareKeys(x.key, y.key)).filter((e) => (seen.has(e.text) ? false : (seen.add(e.text), true)));
}

/** `{ a, b }` as nft prints an anonymous set (sorted, one line); a single plain element loses its braces. */
function anonymousSet(ctx: RuleContext, brace: Extract<Atom, { k: 'brace' }>, keyTypes: string[], dataType: string | undefined): { text: string; single: boolean } {
  const written = splitElements(brace.atoms);
  let els = sortElements(written.map((e) => readElement(e, keyTypes, dataType)));
  // One element written: no set at all (a plain comparison); duplicates still make a set.
  if (written.length === 1 && !ctx.listing && dataType === undefined && keyTypes.length === 1) return { text: els[0]!.text, single: true };
  // A set with a range or a prefix is an interval set, and nft merges an anonymous one (overlaps and neighbours).
  if (dataType === undefined && keyTypes.length === 1 && els.some((e) => e.range !== undefined)) els = mergeIntervals(keyTypes[0]!, els);
  if (ctx.anonymousSets) ctx.anonymousSets.count++;
  return { text: `{ ${els.map((e) => e.text).join(', ')} }`, single: false };
}

/** Named-set element list as nft prints it in `elements = { ... }` (calculate_delim in src/expression.c). */
export function elementsText(els: SetElement[], keyType: string | undefined): string {
  const every = lineBreakEvery(keyType);
  let out = '{ ';
  let count = 0;
  els.forEach((e, i) => {
    if (i > 0) {
      if (every > 1 && count < every) out += ', ';
      else {
        out += ',\n\t\t\t     ';
        count = 0;
      }
    }
    out += e.text;
    count++;
  });
  return `${out} }`;
}

function keyTypesOf(sels: Selector[]): string[] {
  return sels.map((s) => s.type);
}

function lookupSet(ctx: RuleContext, a: Extract<Atom, { k: 'setref' }>): void {
  if (!ctx.table.sets.has(a.name)) throw new NftError('No such file or directory', a.loc);
}

/** The right-hand side of a match or a `set` statement: a value, an anonymous set or @set. */
function readRhs(c: Cursor, ctx: RuleContext, sels: Selector[]): string {
  const a = c.peek();
  if (!a) throw c.unexpectedEnd();
  if (a.k === 'brace') {
    c.next();
    return anonymousSet(ctx, a, keyTypesOf(sels), undefined).text;
  }
  if (a.k === 'setref') {
    c.next();
    lookupSet(ctx, a);
    return `@${a.name}`;
  }
  const parts: string[] = [];
  for (let k = 0; k < sels.length; k++) {
    if (k > 0) {
      const dot = c.next();
      if (!(dot.k === 'op' && dot.text === '.')) throw unexpected(dot);
    }
    const s = readScalarText(c, sels[k]!.type);
    parts.push(valueOf(sels[k]!.type, s.text, s.loc).text);
  }
  return parts.join(' . ');
}

interface Parts {
  out: string[];
  comment: string | undefined;
  sawTransport: boolean;
}

function readMatchOrSet(c: Cursor, ctx: RuleContext, p: Parts): boolean {
  const start = c.i;
  const sels = readSelectors(c);
  if (!sels) return false;
  const lhs = sels.map((s) => s.print).join(' . ');
  if (lhs === 'meta nfproto' && ctx.family !== 'inet') {
    throw new NftError('meta nfproto is only useful in the inet family', spanOf(c.atoms[start]!.loc, c.atoms[c.i - 1]!.loc));
  }
  const type = sels[0]!.type;
  if (/^(tcp|udp|th|sctp) /.test(lhs) || lhs === 'meta l4proto' || lhs === 'ip protocol') p.sawTransport = true;
  const w = c.word();
  if (w === 'set' && sels.length === 1) {
    c.next();
    const other = readSelectors(c);
    if (other) {
      let s = `${lhs} set ${other.map((x) => x.print).join(' . ')}`;
      // The kernel keeps `(x & mask) ^ xor`; nft folds the operators into that and prints it back
      // (netlink_delinearize: `& (mask | xor) | xor` when xor only sets bits the mask clears, else `& mask ^ xor`).
      const all = 0xffffffffn;
      // Operands as (mask, xor) pairs: the expression is (x & mask) ^ xor; a constant c is (0, c).
      const terms: { op: string; m: bigint; x: bigint }[] = [{ op: '', m: all, x: 0n }];
      for (;;) {
        const opWord = c.peek();
        const op = opWord?.k === 'op' && ['&', '|', '^'].includes(opWord.text) ? opWord.text : opWord?.k === 'word' ? ({ and: '&', or: '|', xor: '^' } as Record<string, string>)[opWord.text] : undefined;
        if (op === undefined) break;
        c.next();
        const v = readScalarText(c, other[0]!.type);
        terms.push({ op, m: 0n, x: valueOf(other[0]!.type, v.text, v.loc).key });
      }
      const any = terms.length > 1;
      const apply = (a: { m: bigint; x: bigint }, op: string, b: { m: bigint; x: bigint }): { m: bigint; x: bigint } => {
        // One side is a constant (m = 0) in every expression nft accepts here.
        const [v, k] = b.m === 0n ? [a, b.x] : [b, a.x];
        if (op === '&') return { m: v.m & k, x: v.x & k };
        if (op === '|') return { m: v.m & ~k & all, x: v.x | k };
        return { m: v.m, x: v.x ^ k };
      };
      // nft's precedence: & before ^ before |.
      const fold = (list: typeof terms, ops: string[]): typeof terms => {
        const out: typeof terms = [];
        for (const t of list) {
          const last = out[out.length - 1];
          if (last && ops.includes(t.op)) out[out.length - 1] = { op: last.op, ...apply(last, t.op, t) };
          else out.push(t);
        }
        return out;
      };
      const folded = fold(fold(fold(terms, ['&']), ['^']), ['|'])[0]!;
      const mask = folded.m;
      const xor = folded.x;
      if (any) {
        const pr = (n: bigint): string => valueOf(other[0]!.type, `0x${n.toString(16)}`, c.atoms[c.i - 1]!.loc).text;
        if ((xor & mask) === 0n) {
          const m = mask | xor;
          if (m !== all) s += ` & ${pr(m)}`;
          if (xor !== 0n) s += ` | ${pr(xor)}`;
        } else {
          if (mask !== all) s += ` & ${pr(mask)}`;
          s += ` ^ ${pr(xor)}`;
        }
      }
      p.out.push(s);
    } else p.out.push(`${lhs} set ${readRhs(c, ctx, sels)}`);
    return true;
  }
  if (w === 'vmap') {
    c.next();
    const a = c.next();
    if (a.k === 'setref') {
      lookupSet(ctx, a);
      p.out.push(`${lhs} vmap @${a.name}`);
    } else if (a.k === 'brace') p.out.push(`${lhs} vmap ${anonymousSet(ctx, a, keyTypesOf(sels), 'verdict').text}`);
    else throw unexpected(a);
    return true;
  }
  if (w === 'map' && c.peek(1)?.k === 'setref') {
    // Only the value of a nat statement (`dnat to ip daddr map @m`): the caller prints it.
    c.i = start;
    return false;
  }
  if (c.isOp('&') || c.isOp('|') || c.isOp('^')) {
    const op = (c.next() as { text: string }).text;
    const m = readScalarText(c, type);
    const mask = valueOf(type, m.text, m.loc);
    let rel = '==';
    if (c.peek()?.k === 'op' && REL_OPS.has((c.peek() as { text: string }).text)) rel = (c.next() as { text: string }).text;
    const rhs = readRhs(c, ctx, sels);
    if (type === 'tcp_flag' && op === '&' && (rel === '==' || rel === '!=') && mask.key === 0xffn) p.out.push(`${lhs} ${rel} ${rhs}`);
    else if (type === 'tcp_flag' && op === '&' && (rel === '==' || rel === '!=') && (rhs !== mask.text || mask.text.includes(','))) p.out.push(`${lhs} ${rel === '==' ? '' : '!= '}${rhs} / ${mask.text}`);
    else p.out.push(`${lhs} ${op} ${mask.text} ${rel} ${rhs}`);
    return true;
  }
  let rel: string | undefined;
  const opAtom = c.peek();
  if (opAtom?.k === 'op' && REL_OPS.has(opAtom.text)) {
    c.next();
    rel = opAtom.text;
  }
  const rhs = readRhs(c, ctx, sels);
  if (c.isOp('/') && BITMASK_TYPES.has(type)) {
    // `tcp flags syn / syn,ack`: the printed spelling of `tcp flags & (syn|ack) == syn`.
    c.next();
    const m = readScalarText(c, type);
    p.out.push(`${lhs} ${rel === '!=' ? '!= ' : ''}${rhs} / ${valueOf(type, m.text, m.loc).text}`);
    return true;
  }
  if (rel === undefined && type === 'tcp_flag' && rhs === 'fin,syn,rst,psh,ack,urg,ecn,cwr') {
    // Implicit `flags & V != 0` with every bit in V: nft prints the comparison it became.
    p.out.push(`${lhs} != 0x0`);
    return true;
  }
  const showEq = rel === '==' && BITMASK_TYPES.has(type) && !rhs.startsWith('{') && !rhs.startsWith('@');
  p.out.push(rel === undefined || (rel === '==' && !showEq) ? `${lhs} ${rhs}` : `${lhs} ${rel} ${rhs}`);
  return true;
}

function quoted(c: Cursor): string {
  const a = c.next();
  if (a.k !== 'string' && a.k !== 'word') throw unexpected(a);
  return a.text;
}

/** The log flags, in the order nft prints them; all of them print as `flags all`. */
const LOG_FLAGS = ['tcp sequence', 'tcp options', 'ip options', 'skuid', 'ether'];

function readLog(c: Cursor): string {
  let prefix: string | undefined;
  let level: string | undefined;
  let group: string | undefined;
  let snaplen: string | undefined;
  const flags = new Set<string>();
  for (;;) {
    const w = c.word();
    if (w === 'prefix') {
      c.next();
      prefix = quoted(c);
    } else if (w === 'level') {
      c.next();
      level = quoted(c);
    } else if (w === 'group') {
      c.next();
      group = quoted(c);
    } else if (w === 'snaplen') {
      c.next();
      snaplen = quoted(c);
    } else if (w === 'flags') {
      // flags all | skuid | ether | tcp sequence[,options] | ip options
      c.next();
      const kind = quoted(c);
      if (kind === 'tcp' || kind === 'ip') {
        for (const f of readScalarText(c, 'tcp_flag').text.split(',')) flags.add(`${kind} ${f}`);
      } else if (kind === 'all') for (const f of LOG_FLAGS) flags.add(f);
      else flags.add(kind);
    } else break;
  }
  let s = 'log';
  if (prefix !== undefined) s += ` prefix "${prefix}"`;
  if (group !== undefined) s += ` group ${group}`;
  if (snaplen !== undefined) s += ` snaplen ${snaplen}`;
  if (level !== undefined && level !== 'warn') s += ` level ${level}`;
  if (LOG_FLAGS.every((f) => flags.has(f))) s += ' flags all';
  else {
    const tcp = ['sequence', 'options'].filter((f) => flags.has(`tcp ${f}`));
    if (tcp.length > 0) s += ` flags tcp ${tcp.join(',')}`;
    if (flags.has('ip options')) s += ' flags ip options';
    if (flags.has('skuid')) s += ' flags skuid';
    if (flags.has('ether')) s += ' flags ether';
  }
  return s;
}

const FIB_TYPES = new Set(['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve']);

/** `fib FLAG [. FLAG] oif|oifname|type [op] VALUE` (src/fib.c). */
function readFib(c: Cursor): string {
  const flags: string[] = [];
  for (;;) {
    const f = c.next();
    if (f.k !== 'word' || !['saddr', 'daddr', 'mark', 'iif', 'oif'].includes(f.text)) throw unexpected(f);
    flags.push(f.text);
    if (c.isOp('.')) c.next();
    else break;
  }
  const result = c.next();
  if (result.k !== 'word' || !['oif', 'oifname', 'type'].includes(result.text)) throw unexpected(result);
  let s = `fib ${flags.join(' . ')} ${result.text}`;
  const op = c.peek();
  if (op?.k === 'op' && REL_OPS.has(op.text)) {
    c.next();
    if (op.text !== '==') s += ` ${op.text}`;
  }
  const v = c.next();
  if (v.k === 'brace') return `${s} { ${splitElements(v.atoms).map((e) => (e[0] as { text: string }).text).sort((a, b) => [...FIB_TYPES].indexOf(a) - [...FIB_TYPES].indexOf(b)).join(', ')} }`;
  if (v.k !== 'word' && v.k !== 'string') throw unexpected(v);
  if (result.text === 'type' && !FIB_TYPES.has(v.text)) throw new NftError(`Could not parse fib address type`, v.loc);
  if (result.text === 'oifname') return `${s} "${v.text}"`;
  return `${s} ${v.text}`;
}

function readLimit(c: Cursor): string {
  const r = c.word();
  if (r !== 'rate') throw c.peek() ? unexpected(c.peek()!) : c.unexpectedEnd();
  c.next();
  let over = '';
  if (c.word() === 'over') {
    c.next();
    over = 'over ';
  }
  const rate = c.next();
  if (rate.k !== 'word') throw unexpected(rate);
  let text = rate.text;
  if (c.isOp('/')) {
    c.next();
    text += `/${(c.next() as { text: string }).text}`;
  }
  let burst = '';
  if (c.word() === 'burst') {
    c.next();
    const n = (c.next() as { text: string }).text;
    let unit = 'packets';
    if (c.word() === 'bytes') throw new NftError('syntax error, unexpected bytes, expecting packets', c.peek()!.loc);
    if (c.word() === 'packets') unit = (c.next() as { text: string }).text;
    if (!(n === '5' && unit === 'packets')) burst = ` burst ${n} ${unit}`;
  }
  return `limit rate ${over}${text}${burst}`;
}

function readReject(c: Cursor, ctx: RuleContext, kw: NftLoc): string {
  if (c.word() !== 'with') return 'reject';
  c.next();
  const kind = c.next();
  if (kind.k !== 'word') throw unexpected(kind);
  if (kind.text === 'tcp') {
    const r = c.next();
    if (r.k !== 'word' || r.text !== 'reset') throw unexpected(r);
    return 'reject with tcp reset';
  }
  if (c.word() === 'type') c.next();
  const code = c.next();
  if (code.k !== 'word') throw unexpected(code);
  if (kind.text === 'icmpx' && ctx.family !== 'inet' && ctx.family !== 'bridge' && ctx.family !== 'netdev') {
    throw new NftError('abstracted ICMP unreachable not supported', code.loc, kw);
  }
  if (kind.text === 'icmp' && code.text === 'port-unreachable' && ctx.family === 'ip') return 'reject';
  if (kind.text === 'icmpx' && code.text === 'port-unreachable' && ctx.family === 'inet') return 'reject';
  return `reject with ${kind.text} ${code.text}`;
}

const NAT_FLAGS = ['random', 'fully-random', 'persistent'];

function readNat(c: Cursor, kw: Atom & { k: 'word' }, ctx: RuleContext, p: Parts): string {
  let s = kw.text;
  let familyGiven = false;
  if (c.word() === 'ip' || c.word() === 'ip6') {
    if (c.word(1) === 'to' || c.word(1) === 'addr') {
      s += ` ${(c.next() as { text: string }).text}`;
      familyGiven = true;
    }
  }
  // An address in an inet table needs `ip` or `ip6` (a port alone does not).
  const addressed = c.word() === 'to' && c.word(1) !== undefined && !(c.peek(1)?.k === 'op' && (c.peek(1) as { text: string }).text === ':');
  if (ctx.family === 'inet' && !familyGiven && addressed && (kw.text === 'snat' || kw.text === 'dnat')) {
    throw new NftError('ip or ip6 must be specified with address for inet tables.', kw.loc);
  }
  if (c.word() === 'to') {
    c.next();
    const sels = readSelectors(c);
    if (sels) {
      const m = c.next();
      const ref = c.next();
      if (!(m.k === 'word' && m.text === 'map') || ref.k !== 'setref') throw unexpected(m);
      lookupSet(ctx, ref);
      s += ` to ${sels.map((x) => x.print).join(' . ')} map @${ref.name}`;
    } else {
      const first = c.peek();
      const t = readScalarText(c, 'inet_service');
      if (t.text.startsWith(':') || t.text.includes(':')) {
        const portAt = t.text.indexOf(':');
        if (!p.sawTransport) {
          void first;
          const portLoc = { ...t.loc, column: t.loc.column + portAt + 1 };
          throw new NftError('transport protocol mapping is only valid after transport protocol match', portLoc, kw.loc);
        }
      }
      s += ` to ${t.text}`;
    }
  }
  const flags: string[] = [];
  while (c.word() !== undefined && NAT_FLAGS.includes(c.word()!.split(',')[0]!)) {
    flags.push(...c.word()!.split(','));
    c.next();
    while (c.isOp(',') && c.word(1) !== undefined) {
      c.next();
      flags.push((c.next() as { text: string }).text);
    }
  }
  if (flags.length > 0) s += ` ${NAT_FLAGS.filter((f) => flags.includes(f)).join(',')}`;
  return s;
}

/** Reads a rule and returns its canonical text. */
export function interpretRule(atoms: Atom[], ctx: RuleContext): string {
  const c = new Cursor(atoms);
  const p: Parts = { out: [], comment: undefined, sawTransport: false };
  while (!c.done()) {
    const a = c.peek()!;
    if (a.k === 'word') {
      const w = a.text;
      if (VERDICT_WORDS.has(w)) {
        c.next();
        p.out.push(w);
        continue;
      }
      if (w === 'jump' || w === 'goto') {
        c.next();
        const t = c.next();
        if (t.k !== 'word' && t.k !== 'string') throw unexpected(t);
        if (!ctx.table.chains.has(t.text)) throw new NftError('Could not process rule: No such file or directory', t.loc);
        p.out.push(`${w} ${t.text}`);
        continue;
      }
      if (w === 'counter') {
        c.next();
        let packets = '0';
        let bytes = '0';
        if (c.word() === 'packets') {
          c.next();
          packets = (c.next() as { text: string }).text;
          if (c.word() === 'bytes') {
            c.next();
            bytes = (c.next() as { text: string }).text;
          }
        }
        p.out.push(`counter packets ${packets} bytes ${bytes}`);
        continue;
      }
      if (w === 'log') {
        c.next();
        p.out.push(readLog(c));
        continue;
      }
      if (w === 'limit') {
        c.next();
        p.out.push(readLimit(c));
        continue;
      }
      if (w === 'reject') {
        c.next();
        p.out.push(readReject(c, ctx, a.loc));
        continue;
      }
      if ((w === 'add' || w === 'update') && c.peek(1)?.k === 'setref' && c.peek(2)?.k === 'brace') {
        c.next();
        const ref = c.next() as Extract<Atom, { k: 'setref' }>;
        const body = c.next() as Extract<Atom, { k: 'brace' }>;
        lookupSet(ctx, ref);
        const st = ctx.table.sets.get(ref.name);
        if (st) {
          if (!st.flags.includes('dynamic')) st.flags.push('dynamic');
          st.flags.sort((x, y) => SET_FLAG_ORDER.indexOf(x) - SET_FLAG_ORDER.indexOf(y));
          st.size ??= 65535;
        }
        const inner = new Cursor(body.atoms);
        const sels = readSelectors(inner);
        if (!sels) throw inner.peek() ? unexpected(inner.peek()!) : unexpected(body);
        const parts = [sels.map((x) => x.print).join(' . ')];
        if (inner.word() === 'timeout') {
          inner.next();
          parts.push(`timeout ${(inner.next() as { text: string }).text}`);
        }
        if (inner.word() === 'limit') {
          inner.next();
          parts.push(readLimit(inner));
        }
        if (inner.word() === 'counter') {
          inner.next();
          parts.push('counter packets 0 bytes 0');
        }
        if (!inner.done()) throw unexpected(inner.peek()!);
        p.out.push(`${w} @${ref.name} { ${parts.join(' ')} }`);
        continue;
      }
      if (w === 'fib') {
        c.next();
        p.out.push(readFib(c));
        continue;
      }
      if (w === 'tcp' && c.word(1) === 'option' && c.word(2) === 'maxseg' && c.word(3) === 'size') {
        c.i += 4;
        let s = 'tcp option maxseg size';
        if (c.word() === 'set') {
          c.next();
          if (c.word() === 'rt' && c.word(1) === 'mtu') {
            c.i += 2;
            s += ' set rt mtu';
          } else s += ` set ${valueOf('integer', (c.next() as { text: string }).text, c.atoms[c.i - 1]!.loc).text}`;
        } else {
          const op = c.peek();
          if (op?.k === 'op' && REL_OPS.has(op.text)) {
            c.next();
            if (op.text !== '==') s += ` ${op.text}`;
          }
          const v = readScalarText(c, 'integer');
          s += ` ${valueOf('integer', v.text, v.loc).text}`;
        }
        p.out.push(s);
        continue;
      }
      if (w === 'notrack') {
        c.next();
        p.out.push('notrack');
        continue;
      }
      if (w === 'snat' || w === 'dnat' || w === 'masquerade' || w === 'redirect') {
        c.next();
        p.out.push(readNat(c, a, ctx, p));
        continue;
      }
      if (w === 'comment') {
        c.next();
        p.comment = quoted(c);
        continue;
      }
      if (w === 'fwd') {
        c.next();
        if (c.word() !== 'to') throw c.peek() ? unexpected(c.peek()!) : c.unexpectedEnd();
        c.next();
        const d = c.next();
        if (d.k !== 'word' && d.k !== 'string') throw unexpected(d);
        p.out.push(`fwd to ${valueOf('iface_index', d.text, d.loc).text}`);
        continue;
      }
      if (w === 'queue') {
        // `queue [num N[-M]] [bypass] [fanout]` / `queue to N`. The recording kernel has no nft_queue: it answers
        // ENOENT at the statement (recorded in nft-rules), as a kernel without the module does.
        c.next();
        let s = 'queue';
        let loc = a.loc;
        if (c.word() === 'to') {
          c.next();
          const n = c.next();
          loc = spanOf(a.loc, n.loc);
          s += ` to ${(n as { text: string }).text}`;
        }
        if (c.word() === 'num') {
          c.next();
          s += ` num ${(c.next() as { text: string }).text}`;
        }
        const qflags: string[] = [];
        while (c.word() === 'bypass' || c.word() === 'fanout') qflags.push((c.next() as { text: string }).text);
        if (qflags.length > 0) s += ` ${qflags.join(',')}`;
        ctx.refusals?.push(new NftError('Could not process rule: No such file or directory', loc));
        p.out.push(s);
        continue;
      }
      if (readMatchOrSet(c, ctx, p)) continue;
      // An unknown word: bison fails at the token after it.
      c.next();
      const after = c.peek();
      throw after ? unexpected(after) : c.unexpectedEnd();
    }
    throw unexpected(a);
  }
  let text = p.out.join(' ');
  if (p.comment !== undefined) text += ` comment "${p.comment}"`;
  return text;
}

export { intervalOf };
