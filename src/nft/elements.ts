/** Set and map elements: reading them, the kernel's order, interval merges, and nft's line breaks in listings. */
import type { Atom } from './ast';
import { concatKey, intervalText, lineBreakEvery } from './datatypes';
import type { SetElement } from './model';
import { Cursor, readScalarText, unexpected, valueOf, VERDICT_WORDS } from './cursor';

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

export function readData(c: Cursor, dataType: string): string {
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
