/** Values of rule text read for matching (ranges, prefixes, names), set elements, and values printed back. */
import { readValue } from '../datatypes';
import type { NftSet, SetElement } from '../model';
import { tokenize, type Tok } from './tokens';
import { bigToMac, type FieldValue } from './fields';

/** A value to compare with: a closed interval (a single value is [v, v]) or an interface name (`eth*` wildcard). */
export type Spec = { k: 'range'; lo: bigint; hi: bigint } | { k: 'str'; v: string; wild: boolean };

/** icmp_code_type's names (nft lists `icmp code port-unreachable`). */
const ICMP_CODES: Record<string, number> = {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3, 'frag-needed': 4,
  'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
};

const STRING_TYPES = new Set(['ifname', 'iface_index']);

export class ValueError extends Error {}

/** One value token of `type`: `10.0.0.0/8`, `1-1024`, `0x00000001`, `established,related`, `"eth*"`. */
export function specOf(type: string, tok: Tok): Spec {
  if (STRING_TYPES.has(type)) {
    const s = tok.v;
    if (type === 'ifname' && s.endsWith('*')) return { k: 'str', v: s.slice(0, -1), wild: true };
    return { k: 'str', v: s, wild: false };
  }
  const text = tok.v;
  if (type === 'icmp_code' && ICMP_CODES[text] !== undefined) return { k: 'range', lo: BigInt(ICMP_CODES[text]!), hi: BigInt(ICMP_CODES[text]!) };
  try {
    const v = readValue(type, text);
    return v.interval ? { k: 'range', lo: v.interval.lo, hi: v.interval.hi } : { k: 'range', lo: v.key, hi: v.key };
  } catch {
    const dash = text.indexOf('-', 1);
    if (dash > 0) {
      try {
        const lo = readValue(type, text.slice(0, dash)).key;
        const hi = readValue(type, text.slice(dash + 1)).key;
        return { k: 'range', lo, hi };
      } catch {
        /* fall through */
      }
    }
    throw new ValueError(`cannot read "${text}" as ${type}`);
  }
}

export function specMatches(v: FieldValue, s: Spec): boolean {
  if (s.k === 'str') {
    if (typeof v !== 'string') return false;
    return s.wild ? v.startsWith(s.v) : v === s.v;
  }
  if (typeof v !== 'bigint') return false;
  return v >= s.lo && v <= s.hi;
}

/** A set element: one spec per key field, and the map data's tokens (a verdict, an address...). */
export interface Element {
  key: Spec[];
  data: Tok[] | undefined;
}

/** The elements of `{ a, b . c, d : accept }` (tokens inside the braces). */
export function readElements(toks: readonly Tok[], types: readonly string[]): Element[] {
  const out: Element[] = [];
  let cur: Tok[] = [];
  const flush = (): void => {
    if (cur.length > 0) out.push(readElement(cur, types));
    cur = [];
  };
  for (const t of toks) {
    if (t.k === 'op' && t.v === ',') flush();
    else cur.push(t);
  }
  flush();
  return out;
}

/** `k1 . k2 [: data]`, ignoring what a listing adds after a key (`timeout 30s expires 10s`, `counter ...`). */
export function readElement(toks: readonly Tok[], types: readonly string[]): Element {
  const key: Spec[] = [];
  let i = 0;
  for (let f = 0; f < types.length; f++) {
    if (f > 0) {
      if (toks[i]?.v !== '.') throw new ValueError('concatenation expected');
      i++;
    }
    const t = toks[i++];
    if (!t) throw new ValueError('element ends early');
    key.push(specOf(types[f]!, t));
  }
  const colon = toks.findIndex((t, k) => k >= i && t.k === 'w' && t.v === ':');
  return { key, data: colon >= 0 ? toks.slice(colon + 1) : undefined };
}

const namedCache = new WeakMap<SetElement, { types: string; el: Element }>();

/** The elements of a named set or map, read once per SetElement. */
export function namedElements(set: NftSet): Element[] {
  const types = set.keyTypes.length > 0 ? set.keyTypes : [set.keyType];
  const sig = types.join(',');
  const out: Element[] = [];
  for (const e of set.elements) {
    let c = namedCache.get(e);
    if (!c || c.types !== sig) {
      try {
        c = { types: sig, el: readElement(tokenize(e.text), types) };
      } catch {
        continue;
      }
      namedCache.set(e, c);
    }
    out.push(c.el);
  }
  return out;
}

export function elementMatches(vals: readonly FieldValue[], el: Element): boolean {
  for (let i = 0; i < vals.length; i++) if (!specMatches(vals[i]!, el.key[i]!)) return false;
  return true;
}

function ipv4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 255n).toString()).join('.');
}

/** A packet's value as nft would print it (for explanations and for elements a rule adds to a set). */
export function valueText(type: string, v: FieldValue): string {
  if (typeof v === 'string') return `"${v}"`;
  if (type === 'ipv4_addr') return ipv4Text(v);
  if (type === 'ether_addr') return bigToMac(v);
  try {
    return readValue(type, v.toString()).text;
  } catch {
    return v.toString();
  }
}
