/** `nft list ruleset` / `list table` / `list chain` text (src/rule.c of nftables 1.0.6). */
import type { BaseChainSpec, Family, NftChain, NftObject, NftRuleset, NftSet, NftTable } from './model';
import { elementsText } from './elements';

const STD_PRIOS: [number, string][] = [[-300, 'raw'], [-150, 'mangle'], [-100, 'dstnat'], [0, 'filter'], [50, 'security'], [100, 'srcnat']];
const BRIDGE_PRIOS: [number, string][] = [[-300, 'dstnat'], [-200, 'filter'], [100, 'out'], [300, 'srcnat']];

/** std_prio_family_hook_compat() of nftables 1.0.6. */
function compatible(prio: number, family: Family, hook: string): boolean {
  if (family === 'bridge') {
    if (prio === -300) return hook === 'prerouting';
    if (prio === -200) return true;
    if (prio === 100) return hook === 'output';
    if (prio === 300) return hook === 'postrouting';
    return false;
  }
  const ipish = family === 'inet' || family === 'ip' || family === 'ip6';
  if (prio === 0) return ipish || family === 'arp' || family === 'netdev';
  if (prio === -300 || prio === -150 || prio === 50) return ipish;
  if (prio === -100) return ipish && hook === 'prerouting';
  if (prio === 100) return ipish && hook === 'postrouting';
  return false;
}

/** prio2str(): a standard priority within 10 of the number, with its offset, or the number. */
export function priorityText(prio: number, family: Family, hook: string): string {
  const table = family === 'bridge' ? BRIDGE_PRIOS : STD_PRIOS;
  for (const [val, name] of table) {
    if (Math.abs(prio - val) <= 10) {
      if (!compatible(val, family, hook)) break;
      const off = prio - val;
      return off > 0 ? `${name} + ${off}` : off < 0 ? `${name} - ${-off}` : name;
    }
  }
  return String(prio);
}

function baseLine(b: BaseChainSpec, family: Family): string {
  let dev = '';
  if (b.devices.length === 1) dev = ` device "${b.devices[0]}"`;
  else if (b.devices.length > 1) dev = ` devices = { ${[...b.devices].sort().join(', ')} }`;
  return `\t\ttype ${b.type} hook ${b.hook}${dev} priority ${priorityText(b.priority, family, b.hook)}; policy ${b.policy};\n`;
}

/** ` # handle N` after an object's opening line or a rule, with `nft -a`. */
function h(handles: boolean, n: number): string {
  return handles ? ` # handle ${n}` : '';
}

export function chainText(c: NftChain, family: Family, handles = false): string {
  let s = `\tchain ${c.name} {${h(handles, c.handle)}\n`;
  if (c.comment !== undefined) s += `\t\tcomment "${c.comment}"\n`;
  if (c.base) s += baseLine(c.base, family);
  for (const r of c.rules) s += `\t\t${r.text}${h(handles, r.handle)}\n`;
  return `${s}\t}\n`;
}

export function setText(st: NftSet, handles = false): string {
  let s = `\t${st.kind} ${st.name} {${h(handles, st.handle)}\n\t\t${st.typeLine}\n`;
  if (st.size !== undefined) s += `\t\tsize ${st.size}\n`;
  // A default timeout makes a lone `timeout` flag go unsaid (recorded).
  const flags = st.timeout !== undefined && st.flags.length === 1 && st.flags[0] === 'timeout' ? [] : st.flags;
  if (flags.length > 0) s += `\t\tflags ${flags.join(',')}\n`;
  if (st.timeout !== undefined) s += `\t\ttimeout ${st.timeout}\n`;
  if (st.autoMerge) s += '\t\tauto-merge\n';
  if (st.comment !== undefined) s += `\t\tcomment "${st.comment}"\n`;
  if (st.elements.length > 0) s += `\t\telements = ${elementsText(st.elements, st.typeLine.includes(' . ') ? 'concat' : st.keyType)}\n`;
  return `${s}\t}\n`;
}

/** A named counter or quota as `list ruleset` prints it. */
export function objectText(o: NftObject, handles = false): string {
  const body = o.kind === 'counter' ? `packets ${o.packets} bytes ${o.bytes}` : o.text;
  return `\t${o.kind} ${o.name} {${h(handles, o.handle)}\n\t\t${body}\n\t}\n`;
}

/**
 * `list counters` / `list quotas` (every table, one without such objects too), `reset counters|quotas` (`nonEmpty`:
 * only tables that have some), `list|reset counter|quota FAMILY TABLE NAME`: no blank lines (recorded: nft-objects).
 */
export function objectsText(rs: NftRuleset, kind: NftObject['kind'], only?: { family: Family; table: string; name: string }, nonEmpty = false): string {
  return rs.tables
    .filter((t) => only === undefined || (t.family === only.family && t.name === only.table))
    .map((t) => {
      const objs = [...t.objects.values()].filter((o) => o.kind === kind && (only === undefined || o.name === only.name));
      return objs.length === 0 && nonEmpty ? '' : `table ${t.family} ${t.name} {\n${objs.map((o) => objectText(o)).join('')}}\n`;
    })
    .join('');
}

export function tableText(t: NftTable, handles = false): string {
  let s = `table ${t.family} ${t.name} {${h(handles, t.handle)}\n`;
  if (t.flags.length > 0) s += `\tflags ${t.flags.join(',')}\n`;
  if (t.comment !== undefined) s += `\tcomment "${t.comment}"\n`;
  // table_print(): the objects first, then the sets, then the chains (recorded: nft-objects).
  const items = [
    ...[...t.objects.values()].map((o) => objectText(o, handles)),
    ...[...t.sets.values()].map((st) => setText(st, handles)),
    ...[...t.chains.values()].map((c) => chainText(c, t.family, handles)),
  ];
  // table_print(): the flags line (not the comment) sets the delimiter a blank line before the first object.
  if (t.flags.length > 0 && items.length > 0) s += '\n';
  s += items.join('\n');
  return `${s}}\n`;
}

export function rulesetText(rs: NftRuleset, handles = false): string {
  return rs.tables.map((t) => tableText(t, handles)).join('');
}

/** `list tables`. */
export function tablesText(rs: NftRuleset, family: Family | undefined): string {
  return rs.tables.filter((t) => family === undefined || t.family === family).map((t) => `table ${t.family} ${t.name}\n`).join('');
}

/** `list chains`: every chain with its base line, no rules, no blank lines. */
export function chainsText(rs: NftRuleset, family: Family | undefined): string {
  return rs.tables
    .filter((t) => family === undefined || t.family === family)
    .map((t) => {
      const chains = [...t.chains.values()].map((c) => `\tchain ${c.name} {\n${c.base ? baseLine(c.base, t.family) : ''}\t}\n`);
      return `table ${t.family} ${t.name} {\n${chains.join('')}}\n`;
    })
    .join('');
}

/** `list sets` / `list maps`: the tables' sets (or maps), no blank lines. */
export function setsText(rs: NftRuleset, family: Family | undefined, kind: 'set' | 'map' | undefined): string {
  return rs.tables
    .filter((t) => family === undefined || t.family === family)
    .map((t) => {
      const sets = [...t.sets.values()].filter((s) => kind === undefined || s.kind === kind).map((s) => setText(s));
      return `table ${t.family} ${t.name} {\n${sets.join('')}}\n`;
    })
    .join('');
}

/** `list chain`: the chain inside its table's lines. */
export function tableChainText(t: NftTable, c: NftChain, handles = false): string {
  // Without the table's handle: `list chain` does not fetch the table (recorded).
  return `table ${t.family} ${t.name} {\n${chainText(c, t.family, handles)}}\n`;
}
