/**
 * Reading a rule's atoms: the cursor over them, values read as a datatype, selectors, and the syntax errors
 * bison would give for an atom it did not expect.
 */
import type { Atom, NftLoc } from './ast';
import { NftValueError, NoSuchInterface, readValue, type Value } from './datatypes';
import { NftError } from './errors';
import { readSelector, type Selector } from './selectors';

export const BITMASK_TYPES = new Set(['ct_state', 'ct_status', 'tcp_flag']);

export const REL_OPS = new Set(['==', '!=', '<', '>', '<=', '>=']);

export const VERDICT_WORDS = new Set(['accept', 'drop', 'return', 'continue']);

export function spanOf(a: NftLoc, b: NftLoc): NftLoc {
  return { ...a, endColumn: b.line === a.line ? b.endColumn : a.endColumn, endOffset: b.endOffset };
}

export class Cursor {
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

export function describe(a: Atom): string {
  if (a.k === 'string') return 'quoted string';
  if (a.k === 'op') return a.text === ',' ? 'comma' : `'${a.text}'`;
  if (a.k === 'brace') return "'{'";
  if (a.k === 'word') return /^\d+$/.test(a.text) ? 'number' : 'string';
  return a.k === 'setref' ? "'@'" : "'$'";
}

export function unexpected(a: Atom): NftError {
  return new NftError(`syntax error, unexpected ${describe(a)}`, a.loc);
}

/** A word, `"string"`, or `a,b,c` / `(a|b)` bitmask spelling joined with commas. */
export function readScalarText(c: Cursor, type: string): { text: string; loc: NftLoc } {
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

export function valueOf(type: string, text: string, loc: NftLoc): Value {
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

export const TYPE_NAMES: Record<string, string> = {
  ipv4_addr: 'IPv4 address', inet_service: 'internet network service', mark: 'packet mark', integer: 'integer',
  ether_addr: 'link layer address', inet_proto: 'Internet protocol', ct_state: 'conntrack state', icmp_type: 'ICMP type',
  tcp_flag: 'TCP flag', ether_type: 'Ethernet protocol', arp_op: 'ARP operation',
};

export function typeName(t: string): string {
  return TYPE_NAMES[t] ?? t;
}

/** A concatenation of selectors (`ip saddr . tcp dport`) or one selector. */
export function readSelectors(c: Cursor): Selector[] | undefined {
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

export function quoted(c: Cursor): string {
  const a = c.next();
  if (a.k !== 'string' && a.k !== 'word') throw unexpected(a);
  return a.text;
}
