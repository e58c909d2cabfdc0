/**
 * The self-contained HTML page of traced packets: per input (figure), the lanes (one column per host, a card per
 * hop, the crossings between hosts as arrows: request and reply), then each hop's netfilter picture (the visited
 * boxes and arrows in colour, the others greyed, the deciding rule highlighted, NAT on the arrows, conntrack in
 * its box), the facts (verdict, conntrack entry, deciding rule) and each walked chain's rules with their outcome.
 * Inline CSS only (page-style.ts), no script and nothing fetched. Elements carry stable attributes for tests:
 * data-hop, data-node, data-hook, data-table, data-edge, data-visited, data-dropped, class "decisive"; nft chain
 * boxes and listings also data-kind="nft" (and data-family, data-nft-table, data-chain), nft rule rows data-handle.
 */
import { buildFigure, outcomeText } from './hop-view';
import { esc, idPart } from './escape';
import { PAGE_CSS } from './page-style';
import { chainGraphHtml } from './chain-graph';
import type { ChainListing, DiagramInput, EdgeView, FigureView, HopView, NodeId, NodeView, TableBox, WalkListing } from './model';
import type { Ruleset } from '../model/ruleset';

export interface HtmlOptions {
  /** The page title (default: the first input's). */
  title?: string;
  /** A line under the title (the command that made the page). */
  subtitle?: string;
  /** Each host's chain graph at the end of the page (default: true). */
  chainGraphs?: boolean;
  /** Said at the end, e.g. that a long batch was cut. */
  footnote?: string;
}

const LANE_COLOURS = ['#1565c0', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#5d4037', '#455a64'];

/** Grid areas of the wide layout (page-style.ts). */
const AREA: Readonly<Record<NodeId, string>> = {
  in: 'in',
  PREROUTING: 'pre',
  'route-in': 'rti',
  INPUT: 'inp',
  local: 'loc',
  FORWARD: 'fwd',
  'route-out': 'rto',
  OUTPUT: 'outp',
  POSTROUTING: 'post',
  out: 'out',
};

const EDGE_AREA: Readonly<Record<string, { area: string; dir: 'h' | 'down' | 'up' }>> = {
  'in>PREROUTING': { area: 'a1', dir: 'h' },
  'PREROUTING>route-in': { area: 'a2', dir: 'h' },
  'route-in>FORWARD': { area: 'a3', dir: 'h' },
  'FORWARD>POSTROUTING': { area: 'a4', dir: 'h' },
  'POSTROUTING>out': { area: 'a5', dir: 'h' },
  'route-in>INPUT': { area: 'a6', dir: 'down' },
  'INPUT>local': { area: 'a7', dir: 'down' },
  'local>route-out': { area: 'a8', dir: 'h' },
  'OUTPUT>POSTROUTING': { area: 'a9', dir: 'up' },
  'route-out>OUTPUT': { area: 'a10', dir: 'up' },
};

/** Nodes whose cell carries a line below the box: down to the next arrow, or up from it (with the arrow head). */
const STEMS: Partial<Record<NodeId, { edge: string; head: boolean }>> = {
  'route-in': { edge: 'route-in>INPUT', head: false },
  INPUT: { edge: 'INPUT>local', head: false },
  POSTROUTING: { edge: 'OUTPUT>POSTROUTING', head: true },
  OUTPUT: { edge: 'route-out>OUTPUT', head: true },
};

const edgeKey = (e: { from: NodeId; to: NodeId }): string => `${e.from}>${e.to}`;

export function renderHtml(inputs: DiagramInput | readonly DiagramInput[], opts: HtmlOptions = {}): string {
  const list: readonly DiagramInput[] = Array.isArray(inputs) ? inputs : [inputs as DiagramInput];
  const figures = list.map((inp, i) => buildFigure(inp, i));
  const title = opts.title ?? list[0]?.title ?? 'tsiptables trace';
  const rulesets: Array<{ host: string; ruleset: Ruleset; visited: Set<string> }> = [];
  for (const inp of list) {
    for (const h of inp.hops) {
      let entry = rulesets.find((x) => x.host === h.host && x.ruleset === h.ruleset);
      if (!entry) {
        entry = { host: h.host, ruleset: h.ruleset, visited: new Set() };
        rulesets.push(entry);
      }
      for (const s of h.result.steps) entry.visited.add(`${s.table}/${s.chain}`);
      // nft chains: the base chain of each walk and every chain its events name (jumps, gotos).
      for (const e of h.result.events) {
        if (e.kind !== 'nft') continue;
        entry.visited.add(`${e.family} ${e.table}/${e.chain}`);
        for (const x of e.events) entry.visited.add(`${e.family} ${e.table}/${x.chain.name}`);
      }
    }
  }
  const graphs = opts.chainGraphs !== false ? rulesets.map((r, i) => chainGraphHtml(r.ruleset, { id: `g${i}`, title: `Chains of ${r.host}`, visited: r.visited })).join('') : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${PAGE_CSS}</style>`,
    '</head><body>',
    `<header><h1>${esc(title)}</h1>${opts.subtitle !== undefined ? `<p class="meta">${esc(opts.subtitle)}</p>` : ''}${legend()}</header>`,
    '<main>',
    ...figures.map(figureHtml),
    graphs,
    opts.footnote !== undefined ? `<p class="meta">${esc(opts.footnote)}</p>` : '',
    '</main></body></html>',
    '',
  ].join('\n');
}

function legend(): string {
  return (
    '<ul class="legend">' +
    '<li><span class="sw visited"></span>the packet went through</li>' +
    '<li><span class="sw grey"></span>not visited</li>' +
    '<li><span class="sw decisive"></span>decided the packet\'s fate</li>' +
    '<li><span class="sw dropped"></span>dropped here</li>' +
    '<li><span class="sw nat">DNAT a → b</span>NAT rewrite</li>' +
    '<li><span class="sw nftsw"></span>nftables chain</li>' +
    '</ul>'
  );
}

function figureHtml(f: FigureView): string {
  return [
    `<section class="figure" id="${f.id}" data-figure="${f.id}" data-lanes="${f.lanes.length}">`,
    `<h2>${esc(f.title)}</h2>`,
    lanesHtml(f),
    ...f.hops.map((h) => hopHtml(h, f)),
    '</section>',
  ].join('\n');
}

const laneStyle = (i: number): string => `--lane:${LANE_COLOURS[i % LANE_COLOURS.length]!}`;

function lanesHtml(f: FigureView): string {
  const out: string[] = [`<div class="lanes" style="--lanes:${f.lanes.length}">`];
  f.lanes.forEach((l, i) => out.push(`<div class="lane-head" data-lane="${i}" style="grid-column:${i + 1};grid-row:1;${laneStyle(i)}">${esc(l)}</div>`));
  f.hops.forEach((h, k) => {
    const lane = f.lanes.indexOf(h.host);
    const row = 2 + 2 * k;
    const decided = h.decided ? `<br>decided by ${esc(h.decided.where)}` : '';
    out.push(
      `<a class="hop-card" href="#${h.id}" data-hop="${h.index}" data-host="${esc(h.host)}" data-lane="${lane}" data-direction="${h.direction}" data-fate="${h.fate}" style="grid-column:${lane + 1};grid-row:${row};${laneStyle(lane)}">` +
        `<b>#${h.index + 1} ${h.direction}</b> · ${esc(h.host)}<br><span class="mono">${esc(h.packetIn)}</span><br><span class="fate fate-${h.fate}">${h.fate}</span>${h.inIface !== null ? ` in ${esc(h.inIface)}` : ''}${h.outIface !== null ? ` out ${esc(h.outIface)}` : ''}${decided}</a>`,
    );
    const c = f.crossings[k];
    if (c) {
      const lo = Math.min(c.fromLane, c.toLane);
      const hi = Math.max(c.fromLane, c.toLane);
      const side = c.toLane > c.fromLane ? 'right' : c.toLane < c.fromLane ? 'left' : 'same';
      out.push(
        `<div class="crossing ${side} ${c.direction}" data-from="${c.from}" data-to="${c.to}" data-from-lane="${c.fromLane}" data-to-lane="${c.toLane}" style="grid-column:${lo + 1} / ${hi + 2};grid-row:${row + 1}">` +
          `<span class="pkt mono">${esc(c.label)}</span><span class="arrow"></span><span class="via">${esc(c.via)}</span></div>`,
      );
    }
  });
  out.push('</div>');
  return out.join('\n');
}

function hopHtml(h: HopView, f: FigureView): string {
  const lane = f.lanes.indexOf(h.host);
  const facts: Array<[string, string]> = [
    ['packet in', `<span class="mono">${esc(h.packetIn)}</span>${h.inIface !== null ? ` on ${esc(h.inIface)}` : ' (sent by this host)'}`],
    ['packet out', h.fate === 'dropped' ? '—' : `<span class="mono">${esc(h.packetOut)}</span>${h.outIface !== null ? ` on ${esc(h.outIface)}` : ' (delivered)'}`],
    ['conntrack', `${esc(h.ctState)}${h.conntrack !== undefined ? ` <span class="mono">${esc(h.conntrack)}</span>` : ''}`],
    ['decided by', h.decided ? `${esc(h.decided.where)}${h.decided.text !== undefined ? ` <code>${esc(h.decided.text)}</code>` : ''}` : '—'],
  ];
  return [
    `<article class="hop" id="${h.id}" data-hop="${h.index}" data-host="${esc(h.host)}" data-direction="${h.direction}" data-fate="${h.fate}" style="${laneStyle(lane)}">`,
    `<h3>#${h.index + 1} ${h.direction} on ${esc(h.host)}: <span class="fate fate-${h.fate}">${h.fate}</span></h3>`,
    `<p class="verdict">${esc(h.verdict)}</p>`,
    netfilterHtml(h),
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`,
    h.notes.length ? `<ul class="notes">${h.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '',
    `<div class="chains"><h4>Chains walked, rule by rule</h4>${h.walks.map((w) => walkHtml(w)).join('\n')}</div>`,
    '</article>',
  ].join('\n');
}

/** The --o order of the one-column layout: visited boxes in path order with their arrows between, then the rest. */
function orders(h: HopView): { node: Map<NodeId, number>; edge: Map<string, number> } {
  const node = new Map<NodeId, number>();
  const edge = new Map<string, number>();
  h.path.forEach((n, i) => {
    if (!node.has(n)) node.set(n, 2 * i);
    const next = h.path[i + 1];
    if (next !== undefined && !edge.has(`${n}>${next}`)) edge.set(`${n}>${next}`, 2 * i + 1);
  });
  let rest = 1000;
  for (const id of h.nodes.keys()) if (!node.has(id)) node.set(id, rest++);
  return { node, edge };
}

function netfilterHtml(h: HopView): string {
  const ord = orders(h);
  const edges = new Map(h.edges.map((e) => [edgeKey(e), e]));
  const out: string[] = [`<div class="netfilter" data-path="${h.path.join(' ')}">`];
  for (const n of h.nodes.values()) out.push(nodeHtml(h, n, ord.node.get(n.id) ?? 0, edges));
  for (const e of h.edges) out.push(edgeHtml(e, ord.edge.get(edgeKey(e)) ?? 2000));
  out.push('</div>');
  return out.join('\n');
}

function nodeHtml(h: HopView, n: NodeView, order: number, edges: Map<string, EdgeView>): string {
  const kind = n.id === 'in' || n.id === 'out' ? 'wire' : n.id === 'route-in' || n.id === 'route-out' ? 'route' : n.id === 'local' ? 'local' : 'hook';
  const stem = STEMS[n.id];
  const hookAttr = kind === 'hook' ? ` data-hook="${n.id}"` : '';
  const decisive = n.tables.some((t) => t.decisive);
  const parts: string[] = [
    `<div class="cell${stem ? ' stretch' : ''}${decisive ? ' decisive' : ''}" id="${h.id}-${n.id}" data-node="${n.id}"${hookAttr} data-visited="${n.visited}" data-dropped="${n.dropped}" style="grid-area:${AREA[n.id]};--o:${order}">`,
    `<div class="node ${kind}"><div class="label">${esc(n.label)}</div>`,
  ];
  for (const d of n.detail.filter((x) => !(kind === 'hook' && x.startsWith('conntrack ')))) parts.push(`<div class="detail">${esc(d)}</div>`);
  if (n.tables.length) parts.push(`<ul class="tables">${n.tables.map((t) => tableHtml(h, n, t)).join('')}</ul>`);
  parts.push('</div>');
  if (stem) {
    const e = edges.get(stem.edge);
    parts.push(`<div class="stem${stem.head ? ' head' : ''}" data-edge="${stem.edge}" data-visited="${e?.visited === true}"></div>`);
  }
  parts.push('</div>');
  return parts.join('');
}

function tableHtml(h: HopView, n: NodeView, t: TableBox): string {
  const cls = ['tbl', t.kind === 'nft' ? 'nft' : t.kind !== 'table' ? 'pseudo' : '', t.decisive ? 'decisive' : '', t.dropped ? 'dropped' : ''].filter(Boolean).join(' ');
  // An nft name may break after its table ("netdev stateless/" "from_client") in a narrow box.
  const cut = t.kind === 'nft' ? t.name.indexOf('/') + 1 : 0;
  const text = cut > 0 ? `<span class="part">${esc(t.name.slice(0, cut))}</span><span class="part">${esc(t.name.slice(cut))}</span>` : esc(t.name);
  const name = t.anchor !== undefined ? `<a href="#${t.anchor}">${text}</a>` : text;
  const prio = t.kind === 'confirm' ? 'last' : String(t.priority);
  const nat = t.nat.map((x) => `<span class="nat">${esc(x)}</span>`).join('');
  const nft = t.nft ? ` data-kind="nft" data-family="${esc(t.nft.family)}" data-nft-table="${esc(t.nft.table)}" data-chain="${esc(t.nft.chain)}" title="nft ${esc(t.nft.family)} table ${esc(t.nft.table)}, chain ${esc(t.nft.chain)} (hook ${esc(t.nft.hook)}${t.nft.natChain ? ', type nat' : ''})"` : '';
  return `<li class="${cls}" id="${h.id}-${n.id}-${idPart(t.name)}" data-table="${esc(t.name)}" data-hook="${n.id}" data-visited="${t.visited}"${t.decisive ? ' data-decisive="true"' : ''}${t.dropped ? ' data-dropped="true"' : ''}${nft}><span class="name">${name}</span><span class="prio">${prio}</span>${t.summary ? `<span class="sum">${esc(t.summary)}</span>` : ''}${nat}</li>`;
}

function edgeHtml(e: EdgeView, order: number): string {
  const key = edgeKey(e);
  const place = EDGE_AREA[key]!;
  const dir = place.dir === 'h' ? 'h' : `v ${place.dir}`;
  const labels = e.labels.map((l) => `<span class="nat">${esc(l)}</span>`).join('');
  return `<div class="edge ${dir}" data-edge="${key}" data-visited="${e.visited}" style="grid-area:${place.area};--o:${order}"><span class="arrow"></span>${labels}</div>`;
}

function walkHtml(w: WalkListing): string {
  return [
    `<section class="walk${w.nft ? ' nft' : ''}" id="${w.id}" data-hook="${w.hook}" data-table="${esc(w.table)}"${w.nft ? ` data-kind="nft" data-chain="${esc(w.base)}"` : ''}>`,
    `<h4>${esc(w.heading)}</h4>`,
    ...w.chains.map((c) => chainHtml(w, c)),
    '</section>',
  ].join('\n');
}

function chainHtml(w: WalkListing, c: ChainListing): string {
  const rows = c.rules.map((r) => {
    const out = outcomeText(r);
    const handle = r.handle !== undefined ? ` data-handle="${r.handle}"` : '';
    return `<li class="rule ${r.outcome}${r.decisive ? ' decisive' : ''}" data-chain="${esc(c.chain)}" data-num="${r.num}"${handle} data-outcome="${r.outcome}"${r.inferred ? ' data-inferred="true"' : ''}><span class="num">${r.num}</span><code>${esc(r.text)}${r.handle !== undefined ? `<span class="handle"> # handle ${r.handle}</span>` : ''}</code><span class="out">${esc(out)}</span></li>`;
  });
  if (c.end) rows.push(`<li class="rule end${c.end.decisive ? ' decisive' : ''}" data-chain="${esc(c.chain)}" data-outcome="end"><span class="num"></span><span class="out">${esc(c.end.text)}</span></li>`);
  return [
    c.chain !== w.base ? `<h5 id="${w.id}-${idPart(c.chain)}">${esc(c.path.join(' → '))}</h5>` : '',
    `<ol class="rules">${rows.join('')}</ol>`,
    c.omitted > 0 ? `<p class="omitted">${c.omitted} more rules the packet never reached</p>` : '',
  ].join('');
}
