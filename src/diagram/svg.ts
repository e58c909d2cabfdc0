/**
 * The same picture as one standalone SVG file: per input, one lane per host with the hops one under the other,
 * each hop's netfilter boxes (visited ones outlined in blue, the others grey, the deciding table and rule on
 * yellow, the drop in red, nft chains with a teal bar), its arrows with the NAT text, the facts and the rule listings; elbow arrows carry the
 * packet from hop to hop across lanes. Coordinates come from layout.ts; styles are inline in a <style> element.
 * Groups carry the same data attributes as the HTML page (data-node, data-hook, data-table, data-visited).
 */
import { buildFigure } from './hop-view';
import { esc } from './escape';
import { FONT_FAMILY, layoutFigure, type EdgeGeom, type FigureGeometry, type NodeGeom, type PlacedHop, type TextLine } from './layout';
import type { DiagramInput } from './model';

export interface SvgOptions {
  /** List each walked chain's rules under its picture (default: true). */
  rules?: boolean;
  /** The SVG's <title> (default: the first input's). */
  title?: string;
}

const STYLE = `
text{font-family:${FONT_FAMILY};fill:#1d2330}
.title{font-weight:700}
.label{font-weight:700}
.detail,.fact{fill:#4b5563}
.tname{font-weight:700}
.nat{fill:#7b1fa2;font-weight:700}
.verdict{font-weight:600}
.rule-hit{fill:#2e7d32}
.rule-miss{fill:#6b7280}
.rule-none{fill:#9ca3af}
.walk{font-weight:700}
.lane{font-weight:700;font-size:13px}
.crossing{fill:#1565c0}
.node{fill:#fff;stroke:#c9ced6;stroke-width:1.5}
[data-visited="true"]>.node{stroke:#1565c0;stroke-width:2.5}
[data-visited="false"]{opacity:.42}
[data-dropped="true"]>.node{stroke:#c62828;stroke-width:3}
.tbl{fill:#fff;stroke:#c9ced6}
.tbl.visited{fill:#eef5ff;stroke:#1565c0}
.tbl.unvisited{fill:#f2f2f2}
.tbl.decisive{fill:#fff3b0;stroke:#b58900;stroke-width:2}
.tbl.dropped{stroke:#c62828;stroke-width:2}
.nftbar{fill:#00838f}
.edge{stroke:#c9ced6;stroke-width:2;fill:none}
.edge.visited{stroke:#1565c0;stroke-width:3}
.cross{stroke:#1565c0;stroke-width:2.5;fill:none;stroke-dasharray:7 4}
.hl{fill:#fff3b0;stroke:#b58900}
.frame{fill:none;stroke:#d5dae1;stroke-width:1}
.laneline{stroke:#d5dae1;stroke-dasharray:4 6}
`;

function textEl(t: TextLine, dx = 0, dy = 0): string {
  const anchor = t.anchor === 'middle' ? ' text-anchor="middle"' : '';
  const title = t.full !== undefined ? `<title>${esc(t.full)}</title>` : '';
  return `<text x="${r(t.x + dx)}" y="${r(t.y + dy)}" font-size="${t.size}" class="${t.cls}"${anchor} xml:space="preserve">${title}${esc(t.text)}</text>`;
}

const r = (n: number): string => String(Math.round(n * 10) / 10);

function nodeSvg(n: NodeGeom, visited: boolean, dropped: boolean, hopId: string): string {
  const { x, y, w, h } = n.rect;
  const isHook = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(n.id);
  const rx = n.id === 'route-in' || n.id === 'route-out' ? 14 : 6;
  const dash = n.id === 'local' ? ' stroke-dasharray="5 3"' : '';
  const parts: string[] = [
    `<g id="${hopId}-${n.id}" data-node="${n.id}"${isHook ? ` data-hook="${n.id}"` : ''} data-visited="${visited}" data-dropped="${dropped}">`,
    `<rect class="node" x="${r(x)}" y="${r(y)}" width="${r(w)}" height="${r(h)}" rx="${rx}"${dash}/>`,
    ...n.lines.map((l) => textEl(l)),
  ];
  if (dropped) parts.push(`<text x="${r(x + w - 6)}" y="${r(y + 15)}" font-size="11" text-anchor="end" style="fill:#c62828;font-weight:700">✕ dropped</text>`);
  for (const t of n.tables) {
    const cls = ['tbl', t.box.visited ? 'visited' : 'unvisited', t.box.decisive ? 'decisive' : '', t.box.dropped ? 'dropped' : ''].filter(Boolean).join(' ');
    parts.push(
      `<g data-table="${esc(t.box.name)}" data-hook="${n.id}" data-visited="${t.box.visited}"${t.box.kind === 'nft' ? ' data-kind="nft"' : ''}${t.box.decisive ? ' class="decisive"' : ''}>` +
        `<rect class="${cls}" x="${r(t.rect.x)}" y="${r(t.rect.y)}" width="${r(t.rect.w)}" height="${r(t.rect.h)}" rx="3"/>` +
        (t.box.kind === 'nft' ? `<rect class="nftbar" x="${r(t.rect.x)}" y="${r(t.rect.y)}" width="3" height="${r(t.rect.h)}"/>` : '') +
        t.lines.map((l) => textEl(l)).join('') +
        `<text x="${r(t.rect.x + t.rect.w - 4)}" y="${r(t.rect.y + 12)}" font-size="8.5" text-anchor="end" class="detail">${t.box.kind === 'confirm' ? 'last' : t.box.priority}</text>` +
        '</g>',
    );
  }
  parts.push('</g>');
  return parts.join('');
}

function edgeSvg(e: EdgeGeom): string {
  const pts = e.points.map(([x, y]) => `${r(x)},${r(y)}`).join(' ');
  const cls = e.edge.visited ? 'edge visited' : 'edge';
  const marker = e.edge.visited ? 'url(#head-on)' : 'url(#head-off)';
  return `<g data-edge="${e.edge.from}>${e.edge.to}" data-visited="${e.edge.visited}"><polyline class="${cls}" points="${pts}" marker-end="${marker}"/>${e.labels.map((l) => textEl(l)).join('')}</g>`;
}

function hopSvg(p: PlacedHop): string {
  const { hop, geom } = p;
  const parts: string[] = [
    `<g id="${hop.id}" class="hop" data-hop="${hop.index}" data-host="${esc(hop.host)}" data-direction="${hop.direction}" data-fate="${hop.fate}" transform="translate(${r(p.x)},${r(p.y)})">`,
    `<rect class="frame" x="-8" y="-4" width="${r(geom.width + 16)}" height="${r(geom.height + 8)}" rx="8"/>`,
    ...geom.header.map((l) => textEl(l)),
    ...geom.edges.map(edgeSvg),
    ...geom.nodes.map((n) => {
      const v = hop.nodes.get(n.id)!;
      return nodeSvg(n, v.visited, v.dropped, hop.id);
    }),
    ...geom.facts.map((l) => textEl(l)),
  ];
  for (const rl of geom.rules) {
    if (rl.decisive) parts.push(`<rect class="hl" x="${r(rl.line.x - 3)}" y="${r(rl.line.y - 10)}" width="${r(geom.width - rl.line.x)}" height="13" rx="2"/>`);
    const t = textEl(rl.line);
    parts.push(rl.decisive ? t.replace('<text ', '<text data-decisive="true" ') : t);
  }
  parts.push('</g>');
  return parts.join('\n');
}

function figureSvg(g: FigureGeometry, dy: number, id: string): string {
  const parts: string[] = [`<g class="figure" data-figure="${id}" transform="translate(0,${r(dy)})">`, textEl(g.title)];
  for (const [i, l] of g.lanes.entries()) {
    parts.push(`<g data-lane="${i}"><text class="lane" x="${r(l.x + l.w / 2)}" y="38" text-anchor="middle">${esc(l.name)}</text><line class="laneline" x1="${r(l.x + l.w / 2)}" y1="44" x2="${r(l.x + l.w / 2)}" y2="50"/></g>`);
    if (i > 0) {
      const x = l.x - 20;
      parts.push(`<line class="laneline" x1="${r(x)}" y1="26" x2="${r(x)}" y2="${r(g.height)}"/>`);
    }
  }
  for (const c of g.crossings) {
    const pts = c.points.map(([x, y]) => `${r(x)},${r(y)}`).join(' ');
    parts.push(`<g data-crossing="${c.crossing.from}>${c.crossing.to}" data-direction="${c.crossing.direction}"><polyline class="cross" points="${pts}" marker-end="url(#head-on)"/>${c.labels.map((l) => textEl(l)).join('')}</g>`);
  }
  parts.push(...g.hops.map(hopSvg));
  parts.push('</g>');
  return parts.join('\n');
}

export function renderSvg(inputs: DiagramInput | readonly DiagramInput[], opts: SvgOptions = {}): string {
  const list: readonly DiagramInput[] = Array.isArray(inputs) ? inputs : [inputs as DiagramInput];
  const geoms = list.map((inp, i) => ({ g: layoutFigure(buildFigure(inp, i), { rules: opts.rules !== false }), id: `f${i}` }));
  const width = Math.max(200, ...geoms.map((x) => x.g.width)) + 24;
  let y = 12;
  const bodies: string[] = [];
  for (const { g, id } of geoms) {
    bodies.push(figureSvg(g, y, id));
    y += g.height + 40;
  }
  const height = y - 28;
  const title = opts.title ?? list[0]?.title ?? 'tsiptables trace';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${r(width)}" height="${r(height)}" viewBox="-12 0 ${r(width)} ${r(height)}" role="img">`,
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '<defs>',
    '<marker id="head-on" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1565c0"/></marker>',
    '<marker id="head-off" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c9ced6"/></marker>',
    '</defs>',
    `<rect x="-12" y="0" width="${r(width)}" height="${r(height)}" fill="#fff"/>`,
    ...bodies,
    '</svg>',
    '',
  ].join('\n');
}
