/**
 * Runs parsed nft statements against a ruleset, as `nft -f` does: `define`s are substituted, every command is
 * checked, and only when all of them pass is the new ruleset kept (one atomic batch). References to chains
 * and sets are checked once the batch is complete, as the kernel sees them.
 */
import type { Atom, AtomLine, NftLoc, NftStatement, TableItem } from './ast';
import { intervalOf, intervalText, readValue } from './datatypes';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parseNft } from '../../grammar/nft/index';
import { isSyntaxError, NftError, NftErrors, type NftSource } from './errors';
import { FAMILIES, objectKey, type BaseChainSpec, type Family, type NftChain, type NftObject, type NftRule, NftRuleset, type NftSet, type NftTable, type SetElement } from './model';
import { mergeIntervals, readElement, sortElements, splitElements } from './elements';
import { interpretRule, SET_FLAG_ORDER } from './rule';
import { Cursor, unexpected } from './cursor';
import { readQuota } from './statements';
import { readSelector } from './selectors';
import { chainsText, objectsText, rulesetText, setText, setsText, tableChainText, tablesText, tableText } from './print';

const ENOENT = 'No such file or directory';
const EEXIST = 'File exists';
const EOPNOTSUPP = 'Could not process rule: Operation not supported';
const EPROTO = 'Could not process rule: Protocol error';

const HOOKS: Record<Family, string[]> = {
  ip: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  ip6: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  inet: ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'],
  bridge: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  arp: ['input', 'output'],
  netdev: ['ingress', 'egress'],
};
const FAMILY_NAMES: Record<Family, string> = { ip: 'ip', ip6: 'ip6', inet: 'inet', bridge: 'bridge', arp: 'arp', netdev: 'netdev' };

function span(atoms: Atom[], fallback: NftLoc): NftLoc {
  if (atoms.length === 0) return fallback;
  const a = atoms[0]!.loc;
  const b = atoms[atoms.length - 1]!.loc;
  return { ...a, endColumn: b.line === a.line ? b.endColumn : a.endColumn, endOffset: b.endOffset };
}

function textOf(a: Atom | undefined): string | undefined {
  return a && (a.k === 'word' || a.k === 'string') ? a.text : undefined;
}

/** The batch being built: the new ruleset, checks to run at the end, and what `list` commands print. */
class Batch {
  readonly checks: (() => void)[] = [];
  /** Errors so far: evaluation goes on after one, as in nft. */
  readonly errors: NftError[] = [];
  output = '';
  /** `nft -a`: listings show handles. */
  listHandles = false;
  /** The kernel refused a rule with EOPNOTSUPP: it refuses the batch's later rules too. */
  unsupported = false;
  /** The text being read (the main file, or an included one): where include statements are. */
  source: NftSource = { name: undefined, lines: [] };
  constructor(
    readonly rs: NftRuleset,
    /** Reading a stored `nft -a list ruleset` text: each object's handle by the line it is on. */
    readonly storedHandles: Map<number, number> | undefined,
  ) {}

  /** A new table's handle: the namespace's next one, or the stored one. */
  tableHandle(loc: NftLoc): number {
    const h = this.storedHandles?.get(loc.line);
    if (h !== undefined) return h;
    return ++this.rs.lastTableHandle;
  }

  /** A new chain's, set's or rule's handle in `t` (nf_tables_alloc_handle), or the stored one. */
  handle(t: NftTable, loc: NftLoc | undefined): number {
    const h = loc !== undefined ? this.storedHandles?.get(loc.line) : undefined;
    if (h !== undefined) return h;
    if (this.storedHandles) return 0;
    return ++t.lastHandle;
  }
}

function substitute(atoms: Atom[], defs: Map<string, Atom[]>): Atom[] {
  const out: Atom[] = [];
  for (const a of atoms) {
    if (a.k === 'var') {
      const v = defs.get(a.name);
      if (!v) throw new NftError(`unknown identifier '${a.name}'`, a.loc);
      out.push(...v);
    } else if (a.k === 'brace') {
      // A variable holding a set inside a set is flattened into it, as nft merges nested anonymous sets.
      const inner = substitute(a.atoms, defs).flatMap((x) => (x.k === 'brace' && a.atoms.some((y) => y.k === 'var') ? x.atoms : [x]));
      out.push({ ...a, atoms: inner });
    } else out.push(a);
  }
  return out;
}

function familyAndName(words: Atom[], want: number, loc: NftLoc): { family: Family; names: string[]; nameAtoms: Atom[] } {
  let family: Family = 'ip';
  let rest = words;
  const f = textOf(words[0]);
  if (words.length > want && f !== undefined && (FAMILIES as readonly string[]).includes(f)) {
    family = f as Family;
    rest = words.slice(1);
  }
  if (rest.length < want) throw new NftError('syntax error, unexpected newline', loc);
  return { family, names: rest.slice(0, want).map((a) => textOf(a) ?? ''), nameAtoms: rest.slice(0, want) };
}

function newTable(family: Family, name: string, handle: number): NftTable {
  return { family, name, handle, lastHandle: 0, flags: [], comment: undefined, sets: new Map(), chains: new Map(), objects: new Map() };
}

function requireTable(b: Batch, family: Family, name: string, loc: NftLoc): NftTable {
  const t = b.rs.table(family, name);
  if (!t) throw new NftError(`Could not process rule: ${ENOENT}`, loc);
  return t;
}

const PRIO_VALUES: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };
const BRIDGE_PRIO_VALUES: Record<string, number> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };

function readPriority(atoms: Atom[], i: number, family: Family): { value: number; next: number } {
  const a = atoms[i];
  if (!a) throw new NftError('syntax error, unexpected newline', undefined);
  let value: number;
  let next = i + 1;
  if (a.k === 'op' && a.text === '-' && atoms[i + 1]?.k === 'word') {
    value = -Number((atoms[i + 1] as { text: string }).text);
    next = i + 2;
  } else if (a.k === 'word' && /^-?\d+$/.test(a.text)) value = Number(a.text);
  else if (a.k === 'word') {
    const table = family === 'bridge' ? BRIDGE_PRIO_VALUES : PRIO_VALUES;
    const v = table[a.text];
    if (v === undefined) throw new NftError(`unknown priority name '${a.text}'`, a.loc);
    value = v;
  } else throw new NftError(`syntax error, unexpected ${a.k}`, a.loc);
  const op = atoms[next];
  if (op?.k === 'op' && (op.text === '+' || op.text === '-') && atoms[next + 1]?.k === 'word') {
    const n = Number((atoms[next + 1] as { text: string }).text);
    value += op.text === '+' ? n : -n;
    next += 2;
  }
  return { value, next };
}

/** Is this chain line a property (`type ... hook ...`, `policy`, `comment`) rather than a rule? */
function isChainProperty(line: AtomLine): boolean {
  const a = line.atoms;
  const first = textOf(a[0]);
  if (a[0]?.k !== 'word') return false;
  return (first === 'type' && textOf(a[2]) === 'hook') || (first === 'policy' && a.length === 2) || (first === 'comment' && a.length === 2 && a[1]!.k === 'string');
}

/** A chain's line; its error is recorded and the chain's other lines are still evaluated (as nft does). */
function applyChainLine(chain: NftChain, t: NftTable, line: AtomLine, b: Batch, defs: Map<string, Atom[]>): void {
  try {
    applyChainLineOrThrow(chain, t, line, b, defs);
  } catch (e) {
    if (!(e instanceof NftError)) throw e;
    b.errors.push(e);
  }
}

function applyChainLineOrThrow(chain: NftChain, t: NftTable, line: AtomLine, b: Batch, defs: Map<string, Atom[]>): void {
  const atoms = substitute(line.atoms, defs);
  const first = textOf(atoms[0]);
  if (first === 'type' && atoms[0]!.k === 'word') {
    const type = textOf(atoms[1]) as BaseChainSpec['type'];
    if (textOf(atoms[2]) !== 'hook') throw new NftError('syntax error, unexpected newline', atoms[2]?.loc);
    const hookAtom = atoms[3]!;
    const hook = textOf(hookAtom) ?? '';
    if (!HOOKS[t.family].includes(hook)) throw new NftError(`The ${FAMILY_NAMES[t.family]} family does not support this hook`, hookAtom.loc);
    let i = 4;
    const devices: string[] = [];
    if (textOf(atoms[i]) === 'device') {
      devices.push(textOf(atoms[i + 1]) ?? '');
      i += 2;
    } else if (textOf(atoms[i]) === 'devices') {
      const br = atoms[i + 2];
      if (br?.k === 'brace') for (const e of splitElements(br.atoms)) devices.push(textOf(e[0]) ?? '');
      else devices.push(textOf(br) ?? '');
      i += 3;
    }
    if (textOf(atoms[i]) !== 'priority') throw new NftError('syntax error, unexpected newline', atoms[i]?.loc);
    const prio = readPriority(atoms, i + 1, t.family);
    if (t.family === 'netdev' && devices.length === 0) throw new NftError("Missing `device' in this chain definition", span(atoms, line.loc));
    // A chain declared again adds its devices to the hook (the kernel updates a netdev chain's devices).
    if (chain.base && chain.base.hook === hook) for (const d of chain.base.devices) if (!devices.includes(d)) devices.push(d);
    const spec: BaseChainSpec = { type, hook, devices, priority: prio.value, policy: chain.base?.policy ?? 'accept' };
    chain.base = spec;
    return;
  }
  if (first === 'policy' && atoms[0]!.k === 'word' && atoms.length === 2) {
    const p = textOf(atoms[1]);
    if (p !== 'accept' && p !== 'drop') throw new NftError(`syntax error, unexpected ${p}`, atoms[1]!.loc);
    if (chain.base) chain.base.policy = p;
    return;
  }
  if (first === 'comment' && atoms[0]!.k === 'word' && atoms.length === 2 && atoms[1]!.k === 'string') {
    chain.comment = atoms[1].text;
    return;
  }
  chain.rules.push(newRule(atoms, t, b, line.loc, chain));
}

/** A rule of `t`: its text, and its handle after those of the anonymous sets it creates. */
function newRule(atoms: Atom[], t: NftTable, b: Batch, loc: NftLoc, chain: NftChain): NftRule {
  const anonymous = { count: 0, locs: [] as NftLoc[] };
  const text = interpretDeferred(atoms, t, b, anonymous);
  // The kernel's hook checks of expressions (nft_rt: `rt mtu` only where a route is known), for base chains.
  // Once one rule is refused so, the kernel refuses every later rule of the batch and its anonymous sets too
  // (recorded in nft-forms).
  const unsupported = chain.base !== undefined && /\brt mtu\b/.test(text) && !['forward', 'output', 'postrouting'].includes(chain.base.hook);
  b.checks.push(() => {
    if (b.unsupported) {
      for (const l of anonymous.locs) b.errors.push(new NftError(EOPNOTSUPP, l));
      b.errors.push(new NftError(EOPNOTSUPP, loc));
    } else if (unsupported) {
      b.unsupported = true;
      throw new NftError(EOPNOTSUPP, loc);
    }
  });
  // Conntrack in a bridge table needs nf_conntrack_bridge, which the recording kernel lacks: nf_ct_netns_get()
  // fails with EPROTO for each ct expression or statement, at its location (recorded in nft-errors).
  if (t.family === 'bridge') {
    // One error a rule (the kernel stops at its first failing expression).
    const refused = conntrackLocs(atoms)[0];
    if (refused !== undefined) {
      b.checks.push(() => {
        throw new NftError(EPROTO, refused);
      });
    }
  }
  for (let i = 0; i < anonymous.count; i++) b.handle(t, undefined);
  return { text, handle: b.handle(t, loc) };
}

/**
 * Where a rule uses conntrack: each `ct KEY` expression, or `ct KEY set VALUE` statement (the whole statement),
 * as nft points at them.
 */
function conntrackLocs(atoms: Atom[]): NftLoc[] {
  const words = flat(atoms);
  const out: NftLoc[] = [];
  for (let i = 0; i + 1 < words.length; i++) {
    const a = words[i]!;
    if (a.k !== 'word' || a.text !== 'ct' || words[i + 1]!.k !== 'word') continue;
    let end = i + 1;
    const next = words[end + 1];
    if (next?.k === 'word' && next.text === 'set' && end + 2 < words.length) {
      end += 2;
      // The value, with its bitwise operators: `ct mark set meta mark | 0x10`.
      const isOp = (x: Atom | undefined): boolean => (x?.k === 'op' && ['|', '&', '^'].includes(x.text)) || (x?.k === 'word' && ['or', 'and', 'xor'].includes(x.text));
      if (words[end]!.k === 'word' && ['meta', 'ct'].includes((words[end] as { text: string }).text) && end + 1 < words.length) end++;
      while (isOp(words[end + 1]) && end + 2 < words.length) end += 2;
    }
    out.push(span([a, words[end]!], a.loc));
    i = end;
  }
  return out;
}

/** Interprets a rule; references to chains and sets the batch may still create are checked at its end. */
function interpretDeferred(atoms: Atom[], t: NftTable, b: Batch, anonymousSets: { count: number; locs: NftLoc[] }): string {
  const probe: NftTable = { ...t, chains: new Proxy(t.chains, {}), sets: t.sets };
  // Chains and sets are looked up when the batch ends: interpret against a table that has every name, then
  // re-run the lookups on the final table.
  const listing = b.storedHandles !== undefined;
  const refusals: NftError[] = [];
  b.checks.push(() => {
    if (refusals.length > 0) throw refusals[0]!;
  });
  // Names the rule may refer to that do not exist yet: only then is a second look needed at the end.
  const words = flat(atoms);
  const jumps = words.some((a, i) => a.k === 'word' && (a.text === 'jump' || a.text === 'goto') && i + 1 < words.length && !t.chains.has(textOf(words[i + 1]) ?? ''));
  const refs = words.some((a) => a.k === 'setref' && !t.sets.has(a.name));
  if (!jumps && !refs) return interpretRule(atoms, { family: t.family, table: t, anonymousSets, listing, refusals });
  const all = new Map(t.chains);
  const allSets = new Map(t.sets);
  for (const a of words) {
    if (a.k === 'word' && !all.has(a.text)) all.set(a.text, { name: a.text, handle: 0, base: undefined, comment: undefined, rules: [] });
    // A stand-in for a set the batch may still create; the rule is read again at the end against the real one.
    if (a.k === 'setref' && !allSets.has(a.name)) allSets.set(a.name, newSet('set', a.name, 0));
  }
  const text = interpretRule(atoms, { family: t.family, table: { ...probe, chains: all, sets: allSets }, anonymousSets, listing, refusals });
  b.checks.push(() => {
    interpretRule(atoms, { family: t.family, table: t, listing });
  });
  return text;
}

function flat(atoms: Atom[]): Atom[] {
  return atoms.flatMap((a) => (a.k === 'brace' ? flat(a.atoms) : [a]));
}

function setLines(st: NftSet, lines: AtomLine[], defs: Map<string, Atom[]>): void {
  for (const l of lines) {
    const atoms = substitute(l.atoms, defs);
    const w = textOf(atoms[0]);
    if (w === 'type') {
      // `type K [. K ...] [: D]`
      const keys: string[] = [];
      let i = 1;
      for (;;) {
        keys.push(textOf(atoms[i]) ?? '');
        i++;
        if (atoms[i]?.k === 'op' && (atoms[i] as { text: string }).text === '.') i++;
        else break;
      }
      st.keyType = keys[0]!;
      st.keyTypes = keys;
      let line = `type ${keys.join(' . ')}`;
      if (atoms[i]?.k === 'op' && (atoms[i] as { text: string }).text === ':') {
        st.dataType = textOf(atoms[i + 1]);
        line += ` : ${st.dataType ?? ''}`;
      }
      st.typeLine = line;
    } else if (w === 'typeof') {
      const words = atoms.map(textOf);
      const s = readSelector(words, 1);
      st.keyType = s?.sel.type ?? 'integer';
      st.keyTypes = [st.keyType];
      st.typeLine = `typeof ${s?.sel.print ?? words.slice(1).join(' ')}`;
    } else if (w === 'flags') {
      for (const a of atoms.slice(1)) if (a.k === 'word') for (const f of a.text.split(',')) if (f && !st.flags.includes(f)) st.flags.push(f);
      st.flags.sort((x, y) => SET_FLAG_ORDER.indexOf(x) - SET_FLAG_ORDER.indexOf(y));
    } else if (w === 'timeout') {
      st.timeout = textOf(atoms[1]);
      if (!st.flags.includes('timeout')) st.flags.push('timeout');
    } else if (w === 'size') st.size = Number(textOf(atoms[1]));
    else if (w === 'auto-merge' && atoms.length === 1) st.autoMerge = true;
    else if (w === 'comment') st.comment = textOf(atoms[1]);
    else if (w === 'elements') {
      const br = atoms[2];
      if (br?.k === 'brace') addElements(st, br.atoms);
    } else if (atoms[0]) throw new NftError(`syntax error, unexpected ${w ?? 'token'}`, atoms[0].loc);
  }
}

function addElements(st: NftSet, atoms: Atom[]): void {
  const els = splitElements(atoms).map((e) => interpretElement(e, st));
  let all = sortElements([...st.elements, ...els]);
  if (st.autoMerge) all = mergeIntervals(st.keyType, all);
  st.elements = all;
}

function interpretElement(atoms: Atom[], st: NftSet): SetElement {
  if (st.dataType === undefined && st.keyTypes.length === 1 && st.flags.includes('interval')) {
    const keyText = atoms.map((a) => (a.k === 'op' ? a.text : textOf(a) ?? '')).join('');
    const v = readValue(st.keyType, keyText);
    const iv = intervalOf(v);
    return { text: intervalText(st.keyType, iv.lo, iv.hi), key: [iv.lo], range: iv };
  }
  return readElement(atoms, st.keyTypes, st.dataType);
}

function newSet(kind: 'set' | 'map', name: string, handle: number): NftSet {
  return { kind, name, handle, typeLine: '', keyType: 'integer', keyTypes: ['integer'], dataType: undefined, flags: [], timeout: undefined, size: undefined, autoMerge: false, comment: undefined, elements: [] };
}

function ensureChain(t: NftTable, name: string, b: Batch, loc: NftLoc): NftChain {
  let c = t.chains.get(name);
  if (!c) {
    c = { name, handle: b.handle(t, loc), base: undefined, comment: undefined, rules: [] };
    t.chains.set(name, c);
  }
  return c;
}

/**
 * A named counter (`packets N bytes M`, or none) or quota (`[over] N UNIT [used N UNIT]`, as a quota statement
 * reads it) of the table: made, or its numbers set again.
 */
function ensureObject(t: NftTable, kind: NftObject['kind'], name: string, body: Atom[], b: Batch, loc: NftLoc): NftObject {
  const c = new Cursor(body);
  let o: NftObject;
  if (kind === 'counter') {
    let packets = 0n;
    let bytes = 0n;
    while (!c.done()) {
      const w = c.word();
      const n = c.peek(1);
      if ((w === 'packets' || w === 'bytes') && n?.k === 'word' && /^\d+$/.test(n.text)) {
        c.i += 2;
        if (w === 'packets') packets = BigInt(n.text);
        else bytes = BigInt(n.text);
      } else throw unexpected(c.peek()!);
    }
    o = { kind, name, handle: 0, packets, bytes };
  } else {
    if (c.done()) throw new NftError('syntax error, unexpected \'}\'', loc);
    const text = readQuota(c).replace(/^quota /, '');
    if (!c.done()) throw unexpected(c.peek()!);
    o = { kind, name, handle: 0, text };
  }
  const old = t.objects.get(objectKey(kind, name));
  // An add of an object that exists changes no counter, and a quota keeps what it used (nf_tables_newobj).
  if (old?.kind === 'counter') return old;
  if (old?.kind === 'quota' && o.kind === 'quota') {
    const used = / used .*$/.exec(old.text)?.[0];
    if (used !== undefined && !o.text.includes(' used ')) o.text += used;
  }
  o.handle = old?.handle ?? b.handle(t, loc);
  t.objects.set(objectKey(kind, name), o);
  return o;
}

/**
 * `VERB OBJ [FAMILY] TABLE NAME ...` (a rule's chain, a counter, a quota): the family (ip when not given), the
 * words from TABLE on, and the table's and the thing's names.
 */
function tableThing(atoms: Atom[], whole: NftLoc): { family: Family; rest: Atom[]; tName: string; name: string } {
  const head = atoms.slice(2);
  const f = textOf(head[0]);
  const hasFamily = f !== undefined && (FAMILIES as readonly string[]).includes(f) && head.length > 2;
  const rest = hasFamily ? head.slice(1) : head;
  const tName = textOf(rest[0]);
  const name = textOf(rest[1]);
  if (tName === undefined || name === undefined) throw new NftError('syntax error, unexpected newline', whole);
  return { family: (hasFamily ? f : 'ip') as Family, rest, tName, name };
}

/** `reset`: a counter's numbers to zero, a quota's used bytes forgotten. */
function resetObject(o: NftObject): void {
  if (o.kind === 'counter') {
    o.packets = 0n;
    o.bytes = 0n;
  } else o.text = o.text.replace(/ used .*$/, '');
}

/** Does a rule of the table name this object (`counter name "X"`, `quota name "X"`)? */
function objectInUse(t: NftTable, o: NftObject): boolean {
  const ref = `${o.kind} name "${o.name}"`;
  return [...t.chains.values()].some((ch) => ch.rules.some((r) => r.text.includes(ref)));
}

function ensureSet(t: NftTable, kind: 'set' | 'map', name: string, b: Batch, loc: NftLoc): NftSet {
  let st = t.sets.get(name);
  if (!st) {
    st = newSet(kind, name, b.handle(t, loc));
    t.sets.set(name, st);
  }
  return st;
}

/**
 * A table block, in the order nft sends it to the kernel (nft_cmd_expand): its chains, then its sets, then the
 * rules chain by chain; handles are given in that order.
 */
function applyTableItems(t: NftTable, items: TableItem[], b: Batch, defs: Map<string, Atom[]>): void {
  // Named counters and quotas first: the rules that name them find them.
  for (const it of items) {
    if (it.k === 'object') ensureObject(t, it.kind, it.name, it.lines.flatMap((l) => substitute(l.atoms, defs)), b, it.loc);
  }
  for (const it of items) {
    if (it.k !== 'chain') continue;
    const c = ensureChain(t, it.name, b, it.loc);
    for (const l of it.lines) if (isChainProperty(l)) applyChainLine(c, t, l, b, defs);
  }
  for (const it of items) {
    if (it.k === 'set' || it.k === 'map') setLines(ensureSet(t, it.k, it.name, b, it.loc), it.lines, defs);
  }
  // The recording kernel is built without flowtables (CONFIG_NF_FLOW_TABLE): it refuses each one with ENOENT,
  // and the batch with it (recorded in nft-rules).
  for (const it of items) {
    if (it.k === 'flowtable') b.checks.push(() => {
      throw new NftError(`Could not process rule: ${ENOENT}`, it.nameLoc);
    });
  }
  for (const it of items) {
    if (it.k !== 'chain') continue;
    const c = t.chains.get(it.name)!;
    for (const l of it.lines) if (!isChainProperty(l)) applyChainLine(c, t, l, b, defs);
  }
  for (const it of items) {
    if (it.k === 'line') {
      const atoms = substitute(it.line.atoms, defs);
      const w = textOf(atoms[0]);
      if (w === 'flags') t.flags = (textOf(atoms[1]) ?? '').split(',');
      else if (w === 'comment') t.comment = textOf(atoms[1]);
      else if (atoms[0]) throw new NftError(`syntax error, unexpected ${w ?? 'token'}`, atoms[0].loc);
    }
  }
}

/**
 * `include "FILE"`: an absolute path, or a name looked up in nft's default include directory (/etc); a glob
 * takes its matches in order (none is fine). Its statements join the batch; its errors name the file.
 */
function includeFile(pattern: string, statement: NftLoc, b: Batch, defs: Map<string, Atom[]>): void {
  // nft's location of an include statement takes the newline after it too (recorded by hand-run comparisons).
  const loc = { ...statement, endColumn: statement.endColumn + 1 };
  const path = pattern.startsWith('/') ? pattern : `/etc/${pattern}`;
  const files = /[*?[]/.test(path) ? globFiles(path) : existsSync(path) ? [path] : undefined;
  if (files === undefined) throw new NftError(`File not found: ${pattern}`, loc);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const source = { name: file, lines: text.split('\n') };
    const parsed = parseNft(text);
    const mark = (e: NftError): NftError => {
      if (!e.source) {
        e.source = source;
        e.includedFrom = { source: b.source, loc };
      }
      return e;
    };
    if (!parsed.ok) {
      for (const e of parsed.errors) b.errors.push(mark(new NftError(e.message, e.loc)));
    }
    const before = b.errors.length;
    const saved = b.source;
    b.source = source;
    try {
      for (const s of parsed.statements) {
        try {
          applyStatement(s, b, defs);
        } catch (e) {
          if (!(e instanceof NftError)) throw e;
          b.errors.push(e);
        }
      }
    } finally {
      b.source = saved;
    }
    for (let i = before; i < b.errors.length; i++) mark(b.errors[i]!);
  }
}

function globFiles(path: string): string[] {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const name = path.slice(path.lastIndexOf('/') + 1);
  const re = new RegExp(`^${name.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => `${dir === '/' ? '' : dir}/${f}`);
  } catch {
    return [];
  }
}

function applyStatement(s: NftStatement, b: Batch, defs: Map<string, Atom[]>): void {
  const rs = b.rs;
  if (s.k === 'define') {
    defs.set(s.name, substitute(s.value, defs));
    return;
  }
  if (s.k === 'table') {
    const words = substitute(s.words, defs);
    const loc = span(words, s.loc);
    const { family, names, nameAtoms } = familyAndName(words, 1, loc);
    const name = names[0]!;
    const nameLoc = nameAtoms[0]!.loc;
    const verb = s.verb ?? 'add';
    const existing = rs.table(family, name);
    if (verb === 'delete' || verb === 'destroy') {
      if (!existing) {
        if (verb === 'destroy') return;
        throw new NftError(`Could not process rule: ${ENOENT}`, nameLoc);
      }
      rs.tables = rs.tables.filter((x) => x !== existing);
      return;
    }
    if (verb === 'flush') {
      const t = requireTable(b, family, name, nameLoc);
      for (const c of t.chains.values()) c.rules = [];
      return;
    }
    if (verb === 'list') {
      const t = b.rs.table(family, name);
      if (!t) throw new NftError(ENOENT, nameLoc);
      b.output += tableText(t, b.listHandles);
      return;
    }
    if (verb === 'create' && existing) throw new NftError(`Could not process rule: ${EEXIST}`, nameLoc);
    const t = existing ?? newTable(family, name, b.tableHandle(s.loc));
    if (!existing) rs.tables.push(t);
    if (s.items) applyTableItems(t, s.items, b, defs);
    return;
  }
  if (s.k === 'chain') {
    const words = substitute(s.words, defs);
    const loc = span(words, s.loc);
    if (s.verb === 'rename') {
      // rename chain [FAMILY] TABLE OLD NEW: the chain keeps its place and handle.
      const { family, names, nameAtoms } = familyAndName(words, 3, loc);
      const t = b.rs.table(family, names[0]!);
      if (!t) throw new NftError(ENOENT, nameAtoms[0]!.loc);
      const c = t.chains.get(names[1]!);
      if (!c) throw new NftError(ENOENT, nameAtoms[1]!.loc);
      c.name = names[2]!;
      t.chains = new Map([...t.chains].map(([k, v]) => (k === names[1] ? [names[2]!, v] : [k, v])));
      return;
    }
    const { family, names, nameAtoms } = familyAndName(words, 2, loc);
    const whole = nameAtoms[1]!.loc;
    const verb = s.verb ?? 'add';
    const t = b.rs.table(family, names[0]!);
    if (!t) throw new NftError(verb === 'list' ? ENOENT : `Could not process rule: ${ENOENT}`, nameAtoms[0]!.loc);
    const name = names[1]!;
    if (verb === 'delete') {
      if (!t.chains.has(name)) throw new NftError(`Could not process rule: ${ENOENT}`, whole);
      // A chain another chain jumps to is busy (the kernel counts its references).
      const target = new RegExp(`(^| )(jump|goto) ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([ ,]|$)`);
      const inRules = [...t.chains.values()].some((c) => c.name !== name && c.rules.some((r) => target.test(r.text)));
      const inMaps = [...t.sets.values()].some((st) => st.elements.some((e) => target.test(e.text)));
      if (inRules || inMaps) {
        throw new NftError('Could not process rule: Device or resource busy', whole);
      }
      t.chains.delete(name);
      return;
    }
    if (verb === 'flush') {
      const c = t.chains.get(name);
      if (!c) throw new NftError(`Could not process rule: ${ENOENT}`, whole);
      c.rules = [];
      return;
    }
    if (verb === 'list') {
      const c = t.chains.get(name);
      if (!c) throw new NftError(ENOENT, whole);
      b.output += tableChainText(t, c, b.listHandles);
      return;
    }
    if (verb === 'create' && t.chains.has(name)) throw new NftError(`Could not process rule: ${EEXIST}`, whole);
    const c = ensureChain(t, name, b, s.loc);
    for (const l of s.lines ?? []) if (isChainProperty(l)) applyChainLine(c, t, l, b, defs);
    for (const l of s.lines ?? []) if (!isChainProperty(l)) applyChainLine(c, t, l, b, defs);
    return;
  }
  if (s.k === 'set') {
    const words = substitute(s.words, defs);
    const loc = span(words, s.loc);
    const { family, names, nameAtoms } = familyAndName(words, 2, loc);
    const t = b.rs.table(family, names[0]!);
    const listing = s.verb === 'list';
    if (!t) throw new NftError(listing ? ENOENT : `Could not process rule: ${ENOENT}`, nameAtoms[0]!.loc);
    const st = t.sets.get(names[1]!);
    if (s.verb === 'delete' || s.verb === 'flush' || listing) {
      if (!st) throw new NftError(listing ? ENOENT : `Could not process rule: ${ENOENT}`, nameAtoms[1]!.loc);
      if (s.verb === 'delete') t.sets.delete(names[1]!);
      else if (s.verb === 'flush') st.elements = [];
      else b.output += `table ${t.family} ${t.name} {\n${setText(st, b.listHandles)}}\n`;
      return;
    }
    setLines(ensureSet(t, s.kind, names[1]!, b, s.loc), s.lines ?? [], defs);
    return;
  }
  const atoms = substitute(s.atoms, defs);
  const verb = textOf(atoms[0]);
  const obj = textOf(atoms[1]);
  const whole = span(atoms, s.loc);
  if ((verb === 'list' || verb === 'reset') && (obj === 'counters' || obj === 'quotas')) {
    const kind = obj === 'counters' ? 'counter' : 'quota';
    const f = textOf(atoms[2]);
    const family = f !== undefined && (FAMILIES as readonly string[]).includes(f) ? (f as Family) : undefined;
    const view: NftRuleset = family === undefined ? rs : Object.assign(new NftRuleset(), { tables: rs.tables.filter((t) => t.family === family) });
    b.output += objectsText(view, kind, undefined, verb === 'reset');
    if (verb === 'reset') for (const t of view.tables) for (const o of t.objects.values()) if (o.kind === kind) resetObject(o);
    return;
  }
  if ((obj === 'counter' || obj === 'quota') && (verb === 'add' || verb === 'create' || verb === 'delete' || verb === 'list' || verb === 'destroy' || verb === 'reset')) {
    // `VERB counter|quota [FAMILY] TABLE NAME [{ ... }]`.
    const { family, rest, tName, name: oName } = tableThing(atoms, whole);
    if (verb === 'reset') {
      // Printed as it was, then zeroed; a missing one is refused over the whole command (recorded).
      const o = b.rs.table(family, tName)?.objects.get(objectKey(obj, oName));
      if (!o || o.kind !== obj) throw new NftError(`Could not process rule: ${ENOENT}`, { ...whole, endColumn: whole.endColumn + 1 });
      b.output += objectsText(rs, obj, { family, table: tName, name: oName });
      resetObject(o);
      return;
    }
    const listing = verb === 'list';
    const t = b.rs.table(family, tName);
    if (!t) throw new NftError(listing ? ENOENT : `Could not process rule: ${ENOENT}`, rest[0]!.loc);
    const o = t.objects.get(objectKey(obj, oName));
    if (listing) {
      if (!o || o.kind !== obj) throw new NftError(ENOENT, rest[1]!.loc);
      b.output += objectsText(rs, obj, { family, table: tName, name: oName });
      return;
    }
    if (verb === 'delete' || verb === 'destroy') {
      if (!o || o.kind !== obj) {
        if (verb === 'destroy') return;
        throw new NftError(`Could not process rule: ${ENOENT}`, rest[1]!.loc);
      }
      if (objectInUse(t, o)) throw new NftError('Could not process rule: Device or resource busy', rest[1]!.loc);
      t.objects.delete(objectKey(obj, oName));
      return;
    }
    if (verb === 'create' && o) throw new NftError(`Could not process rule: ${EEXIST}`, rest[1]!.loc);
    const brace = rest[2];
    const body = brace?.k === 'brace' ? brace.atoms.filter((a) => !(a.k === 'op' && a.text === ';')) : [];
    ensureObject(t, obj, oName, body, b, s.loc);
    return;
  }
  if (verb === 'list' && (obj === 'tables' || obj === 'chains' || obj === 'sets' || obj === 'maps')) {
    const f = textOf(atoms[2]);
    const family = f !== undefined && (FAMILIES as readonly string[]).includes(f) ? (f as Family) : undefined;
    b.output += obj === 'tables' ? tablesText(rs, family) : obj === 'chains' ? chainsText(rs, family) : setsText(rs, family, obj === 'sets' ? 'set' : 'map');
    return;
  }
  const last = atoms[atoms.length - 1]!.loc;
  const afterLast: NftLoc = { ...last, column: last.endColumn + 1, endColumn: last.endColumn + 1 };
  if (obj === undefined && atoms.length === 1) {
    // A verb alone (`list`), or one word nft cannot read as a command (`bogus`, recorded).
    const verbs = ['list', 'flush', 'add', 'delete', 'insert', 'create', 'replace', 'rename', 'reset', 'destroy', 'get', 'describe'];
    throw new NftError(verbs.includes(verb ?? '') ? 'syntax error, unexpected newline' : 'syntax error, unexpected newline, expecting string', afterLast);
  }
  if (obj === 'ruleset' && atoms.length > 2 && (verb === 'list' || verb === 'flush')) {
    const extra = atoms[2]!;
    const f = textOf(extra);
    if (!(f !== undefined && (FAMILIES as readonly string[]).includes(f) && atoms.length === 3)) {
      throw new NftError('syntax error, unexpected string, expecting end of file or newline or semicolon', extra.loc);
    }
  }
  if (obj === 'ruleset' && atoms.length <= 3) {
    if (verb === 'flush') {
      rs.tables = [];
      return;
    }
    if (verb === 'list') {
      b.output += rulesetText(rs, b.listHandles);
      return;
    }
  }
  if ((verb === 'add' || verb === 'insert' || verb === 'replace' || verb === 'delete') && obj === 'rule') {
    const { family, rest, tName, name: cName } = tableThing(atoms, whole);
    let ruleAtoms = rest.slice(2);
    const t = b.rs.table(family, tName);
    const c = t?.chains.get(cName);
    if (!t || !c) throw new NftError(`Could not process rule: ${ENOENT}`, (t ? rest[1]! : rest[0]!).loc);
    // `position N` / `handle N` (a rule of this chain by handle) or `index N` (by place).
    let at: number | undefined;
    const where = textOf(ruleAtoms[0]);
    if ((where === 'position' || where === 'handle' || where === 'index') && ruleAtoms[1]?.k === 'word' && /^\d+$/.test(ruleAtoms[1].text)) {
      const n = Number(ruleAtoms[1].text);
      const whereLoc = verb === 'delete' ? ruleAtoms[1].loc : span(ruleAtoms.slice(0, 2), whole);
      at = where === 'index' ? n : c.rules.findIndex((r) => r.handle === n);
      if (at < 0 || at > c.rules.length || (where === 'index' && at >= c.rules.length)) throw new NftError(`Could not process rule: ${ENOENT}`, whereLoc);
      ruleAtoms = ruleAtoms.slice(2);
    }
    if (verb === 'delete') {
      if (at === undefined || where === 'index') throw new NftError('syntax error, unexpected newline', whole);
      c.rules.splice(at, 1);
      return;
    }
    const rule = newRule(ruleAtoms, t, b, span(ruleAtoms, whole), c);
    if (verb === 'replace') {
      if (at === undefined) throw new NftError('syntax error, unexpected newline', whole);
      c.rules[at] = { ...rule, handle: c.rules[at]!.handle };
    } else if (verb === 'add') c.rules.splice(at === undefined ? c.rules.length : at + 1, 0, rule);
    else c.rules.splice(at ?? 0, 0, rule);
    return;
  }
  if ((verb === 'add' || verb === 'delete') && obj === 'element') {
    const head = atoms.slice(2);
    const f = textOf(head[0]);
    const hasFamily = f !== undefined && (FAMILIES as readonly string[]).includes(f) && head.length > 3;
    const family = (hasFamily ? f : 'ip') as Family;
    const rest = hasFamily ? head.slice(1) : head;
    const t = b.rs.table(family, textOf(rest[0]) ?? '');
    const st = t?.sets.get(textOf(rest[1]) ?? '');
    if (!t || !st) throw new NftError(`Could not process rule: ${ENOENT}`, whole);
    const br = rest[2];
    if (br?.k !== 'brace') throw new NftError('syntax error, unexpected newline', whole);
    if (verb === 'add') addElements(st, br.atoms);
    else {
      const drop = new Set(splitElements(br.atoms).map((e) => interpretElement(e, st).text));
      st.elements = st.elements.filter((e) => !drop.has(e.text));
    }
    return;
  }
  if (verb === 'include' && atoms.length === 2 && atoms[1]!.k === 'string') {
    includeFile(atoms[1].text, whole, b, defs);
    return;
  }
  const first = atoms[0]!;
  throw new NftError(`syntax error, unexpected ${verb !== undefined && /^\d+$/.test(verb) ? 'number' : 'string'}`, first.loc);
}

/**
 * Runs a batch; returns the new ruleset and what `list` commands printed, or throws the first NftError.
 * `storedHandles` (line -> handle) reads a stored `nft -a list ruleset` text back with its handles.
 */
export function runBatch(
  statements: NftStatement[],
  base: NftRuleset,
  opts: { storedHandles?: Map<number, number>; listHandles?: boolean; evaluateOnly?: boolean; source?: NftSource } = {},
): { ruleset: NftRuleset; output: string } {
  const b = new Batch(base.clone(), opts.storedHandles);
  b.listHandles = opts.listHandles ?? false;
  if (opts.source) b.source = opts.source;
  const defs = new Map<string, Atom[]>();
  for (const s of statements) {
    try {
      applyStatement(s, b, defs);
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      b.errors.push(e);
    }
  }
  // nft prints the parser's errors first, then the evaluation's (it evaluates what did parse).
  if (b.errors.length > 0) throw new NftErrors([...b.errors.filter(isSyntaxError), ...b.errors.filter((e) => !isSyntaxError(e))]);
  if (opts.evaluateOnly) return { ruleset: b.rs, output: '' };
  // What only the kernel finds (a jump to a chain, a set the batch does not create), once everything is evaluated.
  for (const check of b.checks) {
    try {
      check();
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      b.errors.push(e);
    }
  }
  if (b.errors.length > 0) throw new NftErrors(b.errors);
  return { ruleset: b.rs, output: b.output };
}
