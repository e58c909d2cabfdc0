/**
 * The iptables-nft tables as `nft list ruleset` shows them (nft 1.0.6 over iptables 1.8.9's tables; recorded with
 * ../shared/ask-iptables and in fixtures/labs/stateless-nat.sh):
 *
 *   # Warning: table ip filter is managed by iptables-nft, do not touch!     (only when a rule uses an xt extension)
 *   table ip filter {
 *   	chain FORWARD {
 *   		type filter hook forward priority filter; policy accept;
 *   		counter packets 6 bytes 328 log prefix "ipt-FWD "
 *   	}
 *   }
 *
 * Only the built-in chains iptables-nft has registered exist in the kernel; user chains have no type line. Chains
 * print in the order they were made (base chains in registration order here, user chains after them), blocks
 * separated by an empty line. Priorities print by name where nft has one for that hook (raw, mangle, filter;
 * dstnat only on prerouting, srcnat only on postrouting), else as numbers: nat INPUT 100, nat OUTPUT -100, and
 * security 150 (iptables-nft registers security at 150, not legacy's 50). Rules print as nft prints the kernel's
 * expressions (src/nft/translate.ts nftListedText), with their counters.
 */
import type { Ruleset, Table } from '../model/ruleset';
import { nftListedText, usesXt } from './translate';


const HOOK_NAME: Readonly<Record<string, string>> = { PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting' };

function baseLine(table: string, hook: string, policy: string): string {
  const h = HOOK_NAME[hook]!;
  let type = 'filter';
  let prio: string;
  if (table === 'nat') {
    type = 'nat';
    prio = h === 'prerouting' ? 'dstnat' : h === 'postrouting' ? 'srcnat' : h === 'output' ? '-100' : '100';
  } else if (table === 'security') prio = '150';
  else prio = table;
  if (table === 'mangle' && h === 'output') type = 'route';
  return `\t\ttype ${type} hook ${h} priority ${prio}; policy ${policy.toLowerCase()};`;
}

/** One table's text and whether nft warns about it, or undefined when the kernel would have none. */
export function iptablesTableText(t: Table, rankOf: (key: string) => number): { text: string; warning: string } | undefined {
  // Registered built-in chains, then user chains, each moved to where it was made (a stable sort: chains an
  // old state file has no place for keep that order).
  const chains = [...t.chains.values()].filter((c) => c.hook && c.registered);
  for (const c of t.chains.values()) if (!c.hook) chains.push(c);
  if (chains.length === 0) return undefined;
  // A user chain an older state file has no place for comes after the built-in ones.
  const rank = new Map(chains.map((c) => {
    const r = rankOf(`ipt:${t.name}:${c.name}`);
    return [c, r < 0 && !c.hook ? Number.MAX_SAFE_INTEGER : r];
  }));
  chains.sort((a, b) => rank.get(a)! - rank.get(b)!);
  let xt = false;
  const blocks = chains.map((c) => {
    const lines = [`\tchain ${c.name} {`];
    if (c.hook) lines.push(baseLine(t.name, c.hook, c.policy ?? 'ACCEPT'));
    for (const r of c.rules) {
      if (!xt && usesXt(r.line, r.jumpTo)) xt = true;
      lines.push(`\t\t${nftListedText(r, r.counters.packets, r.counters.bytes) ?? `# ${r.line.trim()}`}`);
    }
    lines.push('\t}');
    return lines.join('\n');
  });
  return { text: `table ip ${t.name} {\n${blocks.join('\n\n')}\n}\n`, warning: xt ? `# Warning: table ip ${t.name} is managed by iptables-nft, do not touch!\n` : '' };
}

/**
 * `nft list ruleset` of a host with both sides: the nft tables (`nftText`, as the nft printer made it) and the
 * iptables tables, each where its creation puts it (hook-order.ts). nft writes the warning about an iptables-nft
 * table to stderr just before the table (its stdout is flushed table by table): the chunks keep that order.
 */
export function listRulesetWithIptables(nftText: string, rs: Ruleset, rankOf: (key: string) => number, nftTableRank: (family: string, name: string) => number): Array<[1 | 2, string]> {
  type Block = { rank: number; text: string; warning: string };
  const blocks: Block[] = [];
  let cur: string[] = [];
  const lines = nftText.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let prevRank = -1;
  const close = (): void => {
    if (cur.length === 0) return;
    const m = /^table (\S+) (\S+) \{/.exec(cur[0]!);
    const r = m ? nftTableRank(m[1]!, m[2]!.replace(/^"|"$/g, '')) : prevRank;
    prevRank = r < 0 ? prevRank : r;
    blocks.push({ rank: prevRank, text: `${cur.join('\n')}\n`, warning: '' });
    cur = [];
  };
  for (const l of lines) {
    if (l.startsWith('table ')) close();
    cur.push(l);
  }
  close();
  for (const t of rs.tables.values()) {
    const x = iptablesTableText(t, rankOf);
    if (x !== undefined) blocks.push({ rank: rankOf(`ipt:${t.name}`), ...x });
  }
  const out: Array<[1 | 2, string]> = [];
  for (const b of blocks.map((x, i) => ({ ...x, i })).sort((a, c) => a.rank - c.rank || a.i - c.i)) {
    if (b.warning !== '') out.push([2, b.warning]);
    out.push([1, b.text]);
  }
  return out;
}
