/**
 * A ruleset's chain graph: per table, every chain (built-in ones with their policy) with its rule count and the
 * jumps and gotos between chains (which rules, how many). As Graphviz DOT, as an HTML section (an inline SVG
 * drawn in layers by jump depth, and a table of chains with their callers and callees) and as a whole page for
 * `tsiptables graph --format html`. Chains a traced packet walked can be marked. The host's nft tables follow
 * the iptables ones, named `FAMILY NAME` (base chains with their hook's policy, `jump`/`goto` edges, vmaps too).
 */
import type { Ruleset } from '../model/ruleset';
import { rulesetFromText } from '../nft/index';
import { chainsInSaveOrder, referenceCounts } from '../model/ruleset';
import type { TableName } from '../model/tables';
import { dotString, esc, idPart } from './escape';
import { FONT_FAMILY, layered, textWidth } from './layout';
import { PAGE_CSS } from './page-style';

export interface ChainNode {
  table: string;
  chain: string;
  builtin: boolean;
  policy: string | undefined;
  rules: number;
  references: number;
  visited: boolean;
}

export interface ChainEdge {
  table: string;
  from: string;
  to: string;
  kind: 'jump' | 'goto';
  /** The numbers of the rules in `from` that jump there. */
  rules: number[];
}

export interface TableGraph {
  table: string;
  chains: ChainNode[];
  edges: ChainEdge[];
}

export interface GraphOptions {
  /** Only this table. */
  table?: TableName;
  /** "table/chain" of the chains a packet walked. */
  visited?: ReadonlySet<string>;
}

/** Past this many chains in a table the HTML section lists them without drawing the picture. */
export const DRAW_MAX_CHAINS = 400;

export function buildChainGraph(rs: Ruleset, opts: GraphOptions = {}): TableGraph[] {
  const out: TableGraph[] = [];
  for (const t of rs.tablesInSaveOrder()) {
    if (opts.table !== undefined && t.name !== opts.table) continue;
    const refs = referenceCounts(t);
    const chains: ChainNode[] = chainsInSaveOrder(t).map((c) => ({
      table: t.name,
      chain: c.name,
      builtin: c.hook !== undefined,
      policy: c.hook !== undefined ? c.policy : undefined,
      rules: c.rules.length,
      references: refs.get(c.name) ?? 0,
      visited: opts.visited?.has(`${t.name}/${c.name}`) === true,
    }));
    const byKey = new Map<string, ChainEdge>();
    for (const c of chainsInSaveOrder(t)) {
      c.rules.forEach((rule, i) => {
        // jumpTo and the line cost nothing on rules read from the state file (no parse of 100,000 rules).
        const to = rule.jumpTo;
        if (to === undefined) return;
        const kind = / -g [^\s"]+$/.test(rule.line) ? 'goto' : 'jump';
        const key = `${c.name}>${to}>${kind}`;
        const e = byKey.get(key) ?? { table: t.name, from: c.name, to, kind, rules: [] };
        e.rules.push(i + 1);
        byKey.set(key, e);
      });
    }
    out.push({ table: t.name, chains, edges: [...byKey.values()] });
  }
  if (opts.table === undefined && rs.nft !== undefined) out.push(...nftGraphs(rs.nft, opts.visited));
  return out;
}

/** `jump NAME` / `goto NAME` in a rule's text, verdict maps included. */
const NFT_JUMP = /\b(jump|goto) ("[^"]*"|[^\s,}]+)/g;
/** A quoted string that is no chain name (a log prefix, a comment): its words are no verdicts. */
const NFT_TEXT = /(?<!\b(?:jump|goto) )"[^"]*"/g;

/** The chain graphs of the nft side's tables. */
function nftGraphs(text: string, visited: ReadonlySet<string> | undefined): TableGraph[] {
  const out: TableGraph[] = [];
  for (const t of rulesetFromText(text).tables) {
    const table = `${t.family} ${t.name}`;
    const byKey = new Map<string, ChainEdge>();
    const refs = new Map<string, number>();
    for (const c of t.chains.values()) {
      c.rules.forEach((r, i) => {
        for (const m of r.text.replace(NFT_TEXT, '""').matchAll(NFT_JUMP)) {
          const kind = m[1] as 'jump' | 'goto';
          const to = m[2]!.replace(/^"|"$/g, '');
          const key = `${c.name}>${to}>${kind}`;
          const e = byKey.get(key) ?? { table, from: c.name, to, kind, rules: [] };
          if (!e.rules.includes(i + 1)) e.rules.push(i + 1);
          byKey.set(key, e);
          refs.set(to, (refs.get(to) ?? 0) + 1);
        }
      });
    }
    const chains: ChainNode[] = [...t.chains.values()].map((c) => ({
      table,
      chain: c.name,
      builtin: c.base !== undefined,
      policy: c.base?.policy,
      rules: c.rules.length,
      references: refs.get(c.name) ?? 0,
      visited: visited?.has(`${table}/${c.name}`) === true,
    }));
    out.push({ table, chains, edges: [...byKey.values()] });
  }
  return out;
}

const ruleNums = (e: ChainEdge): string => (e.rules.length > 4 ? `×${e.rules.length}` : e.rules.map((n) => `#${n}`).join(','));

function chainLabel(c: ChainNode): string {
  const counts = `${c.rules} rule${c.rules === 1 ? '' : 's'}`;
  return c.builtin ? `${c.chain}\n${counts}, policy ${c.policy ?? '-'}` : `${c.chain}\n${counts}, ${c.references} ref${c.references === 1 ? '' : 's'}`;
}

export function chainGraphDot(graphs: readonly TableGraph[], title = 'iptables chains'): string {
  const lines: string[] = [`digraph ${dotString(title)} {`, '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  for (const g of graphs) {
    lines.push(`  subgraph ${dotString(`cluster_${g.table}`)} {`);
    lines.push(`    label=${dotString(g.table)}; style=rounded; color="#c9ced6";`);
    for (const c of g.chains) {
      const fill = c.visited ? '#fff3b0' : c.builtin ? '#e3f2fd' : '#ffffff';
      lines.push(`    ${dotString(`${g.table}/${c.chain}`)} [label=${dotString(chainLabel(c))}, fillcolor=${dotString(fill)}${c.builtin ? ', penwidth=2' : ''}];`);
    }
    for (const e of g.edges) {
      lines.push(`    ${dotString(`${g.table}/${e.from}`)} -> ${dotString(`${g.table}/${e.to}`)} [label=${dotString(ruleNums(e))}${e.kind === 'goto' ? ', style=dashed' : ''}];`);
    }
    lines.push('  }');
  }
  lines.push('}', '');
  return lines.join('\n');
}

const BOX_H = 34;
const FONT = 10.5;

/** The inline SVG of one table's chains in layers; undefined when there are too many to draw. */
function tableSvg(g: TableGraph, id: string): string | undefined {
  if (g.chains.length === 0 || g.chains.length > DRAW_MAX_CHAINS) return undefined;
  const width = (c: ChainNode): number => Math.min(300, Math.max(...chainLabel(c).split('\n').map((l) => textWidth(l, FONT))) + 16);
  const byName = new Map(g.chains.map((c) => [c.chain, c]));
  const L = layered(
    g.chains.map((c) => c.chain),
    g.edges.map((e) => [e.from, e.to] as const),
    (k) => byName.get(k)?.builtin === true,
    (k) => ({ w: width(byName.get(k)!), h: BOX_H }),
  );
  const pad = 6;
  const W = L.width + 2 * pad;
  const H = L.height + 2 * pad;
  const parts: string[] = [
    `<svg class="graph-svg" id="${id}" xmlns="http://www.w3.org/2000/svg" viewBox="${-pad} ${-pad} ${W} ${H}" width="${W}" style="max-width:min(100%,${W}px)" role="img" aria-label="${esc(`chains of ${g.table}`)}">`,
    `<defs><marker id="${id}-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>`,
  ];
  // Rule numbers on the arrows while they stay readable; always in the arrow's tooltip.
  const labelled = g.edges.length <= 40;
  for (const e of g.edges) {
    const a = L.nodes.get(e.from);
    const b = L.nodes.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w;
    const y1 = a.y + a.h / 2;
    const x2 = b.x;
    const y2 = b.y + b.h / 2;
    const dx = Math.max(30, Math.abs(x2 - x1) / 2);
    const d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    const visited = byName.get(e.from)?.visited === true && byName.get(e.to)?.visited === true;
    parts.push(
      `<g data-edge="${esc(`${e.from}>${e.to}`)}" data-kind="${e.kind}"><title>${esc(`${e.from} ${e.kind === 'goto' ? 'goes to' : 'jumps to'} ${e.to}: rule ${e.rules.join(', ')}`)}</title>` +
        `<path d="${d}" fill="none" stroke="${visited ? '#1565c0' : '#9ca3af'}" stroke-width="${visited ? 2.5 : 1.3}"${e.kind === 'goto' ? ' stroke-dasharray="5 3"' : ''} marker-end="url(#${id}-head)"/>` +
        (labelled ? `<text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 3}" font-size="9" text-anchor="middle" font-family='${FONT_FAMILY}' fill="#6b7280">${esc(ruleNums(e))}</text>` : '') +
        '</g>',
    );
  }
  for (const c of g.chains) {
    const n = L.nodes.get(c.chain)!;
    const [l1, l2] = chainLabel(c).split('\n');
    const fill = c.visited ? '#fff3b0' : c.builtin ? '#e3f2fd' : '#ffffff';
    const stroke = c.visited ? '#b58900' : c.builtin ? '#1565c0' : '#9ca3af';
    parts.push(
      `<g data-chain="${esc(c.chain)}" data-builtin="${c.builtin}" data-visited="${c.visited}"><rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="5" fill="${fill}" stroke="${stroke}" stroke-width="${c.builtin ? 2 : 1.2}"/>` +
        `<text x="${n.x + 8}" y="${n.y + 14}" font-size="${FONT}" font-weight="700" font-family='${FONT_FAMILY}'>${esc(l1 ?? '')}</text>` +
        `<text x="${n.x + 8}" y="${n.y + 27}" font-size="9" font-family='${FONT_FAMILY}' fill="#4b5563">${esc(l2 ?? '')}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function tableListing(g: TableGraph): string {
  const callers = new Map<string, string[]>();
  const callees = new Map<string, string[]>();
  for (const e of g.edges) {
    (callers.get(e.to) ?? callers.set(e.to, []).get(e.to)!).push(`${e.from} ${ruleNums(e)}`);
    (callees.get(e.from) ?? callees.set(e.from, []).get(e.from)!).push(`${e.kind === 'goto' ? 'goto ' : ''}${e.to}`);
  }
  const rows = g.chains.map(
    (c) =>
      `<tr data-chain="${esc(c.chain)}" data-visited="${c.visited}"><td>${esc(c.chain)}</td><td>${c.rules}</td><td>${c.builtin ? `policy ${esc(c.policy ?? '-')}` : `${c.references}`}</td><td>${esc((callees.get(c.chain) ?? []).join(', '))}</td><td>${esc((callers.get(c.chain) ?? []).join(', '))}</td></tr>`,
  );
  return `<table class="chain-table"><thead><tr><th>chain</th><th>rules</th><th>policy / refs</th><th>jumps to</th><th>called from</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** An HTML section with each table's chain graph (picture and table). */
export function chainGraphHtml(rs: Ruleset, opts: GraphOptions & { id: string; title: string }): string {
  const graphs = buildChainGraph(rs, opts);
  const parts: string[] = [`<section class="chain-graph" id="${opts.id}" data-graph="${opts.id}"><h2>${esc(opts.title)}</h2>`];
  if (graphs.length === 0) parts.push('<p class="meta">no tables</p>');
  for (const g of graphs) {
    const svg = tableSvg(g, `${opts.id}-${idPart(g.table)}`);
    parts.push(`<section data-table="${esc(g.table)}"><h3>${esc(g.table)}: ${g.chains.length} chains, ${g.chains.reduce((a, c) => a + c.rules, 0)} rules, ${g.edges.reduce((a, e) => a + e.rules.length, 0)} jumps</h3>`);
    parts.push(svg ?? `<p class="meta">${g.chains.length} chains: too many to draw here; tsiptables graph --format dot draws them with Graphviz.</p>`);
    parts.push(tableListing(g), '</section>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

/** The whole page of `tsiptables graph --format html`. */
export function chainGraphPage(rs: Ruleset, opts: GraphOptions & { title: string; subtitle?: string }): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(opts.title)}</title>`,
    `<style>${PAGE_CSS}</style>`,
    '</head><body>',
    `<header><h1>${esc(opts.title)}</h1>${opts.subtitle !== undefined ? `<p class="meta">${esc(opts.subtitle)}</p>` : ''}</header>`,
    '<main>',
    chainGraphHtml(rs, { ...opts, id: 'g0', title: 'Chain graph' }),
    '</main></body></html>',
    '',
  ].join('\n');
}
