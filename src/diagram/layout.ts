/**
 * Coordinates for the SVG pictures (the HTML page lays itself out with CSS). One hop: the netfilter grid of
 * page-style.ts in pixels (columns for the wires, PREROUTING, routing/INPUT/local, FORWARD, POSTROUTING/OUTPUT,
 * with arrow columns between, five rows), each box as tall as its tables and text, arrows as polylines, NAT text
 * beside them, then the chain listings. A figure: one lane (column) per host, the hops one under the other in
 * their lane, crossings as elbow lines from one hop's out wire to the next hop's in wire. The chain graph:
 * chains in layers by jump depth. Text is monospace, so widths follow from character counts.
 */
import { outcomeText } from './hop-view';
import type { Crossing, EdgeView, FigureView, HopView, NodeId, TableBox } from './model';

export const FONT_FAMILY = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace';
/** Font sizes and the advance of one monospace character (0.6 em) at each. */
export const TEXT = { big: 12, normal: 11, small: 9.5 } as const;
const charW = (size: number): number => size * 0.6;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type TextClass = 'label' | 'detail' | 'tname' | 'tsum' | 'nat' | 'title' | 'verdict' | 'rule' | 'rule-hit' | 'rule-miss' | 'rule-none' | 'walk' | 'lane' | 'crossing' | 'fact';

export interface TextLine {
  text: string;
  /** The whole text when `text` was cut to fit. */
  full: string | undefined;
  x: number;
  /** Baseline. */
  y: number;
  size: number;
  cls: TextClass;
  anchor?: 'start' | 'middle';
}

export interface TableGeom {
  box: TableBox;
  rect: Rect;
  lines: TextLine[];
}

export interface NodeGeom {
  id: NodeId;
  rect: Rect;
  lines: TextLine[];
  tables: TableGeom[];
}

export interface EdgeGeom {
  edge: EdgeView;
  points: Array<[number, number]>;
  labels: TextLine[];
}

export interface RuleLineGeom {
  line: TextLine;
  decisive: boolean;
  outcome: string;
}

export interface HopGeometry {
  width: number;
  height: number;
  header: TextLine[];
  nodes: NodeGeom[];
  edges: EdgeGeom[];
  facts: TextLine[];
  rules: RuleLineGeom[];
}

/** Cuts text to `max` characters with an ellipsis. */
export function clip(text: string, max: number): { text: string; full: string | undefined } {
  if (text.length <= max) return { text, full: undefined };
  return { text: text.slice(0, Math.max(1, max - 1)) + '…', full: text };
}

/** Wraps text at spaces into lines of at most `max` characters (long words are cut). */
export function wrap(text: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    let w = word;
    while (w.length > max) {
      if (cur) {
        out.push(cur);
        cur = '';
      }
      out.push(w.slice(0, max));
      w = w.slice(max);
    }
    if (!cur) cur = w;
    else if (cur.length + 1 + w.length <= max) cur += ' ' + w;
    else {
      out.push(cur);
      cur = w;
    }
  }
  if (cur) out.push(cur);
  return out.length ? out : [''];
}

const PAD = 6;
const LINE = { label: 15, detail: 12, tname: 12, tsum: 11.5 } as const;
const NODE_COL = 176;
const WIRE_COL = 128;
const EDGE_COL = 38;
const VROW = 34;
const NAT_WRAP = 26;

/** Grid place of each node: column (0..10) and row (0..4); a8 spans columns 5..9 between local and route-out. */
const PLACE: Readonly<Record<NodeId, { col: number; row: number }>> = {
  in: { col: 0, row: 0 },
  PREROUTING: { col: 2, row: 0 },
  'route-in': { col: 4, row: 0 },
  FORWARD: { col: 6, row: 0 },
  POSTROUTING: { col: 8, row: 0 },
  out: { col: 10, row: 0 },
  INPUT: { col: 4, row: 2 },
  OUTPUT: { col: 8, row: 2 },
  local: { col: 4, row: 4 },
  'route-out': { col: 8, row: 4 },
};

/** The edge column (horizontal arrows) or edge row (vertical ones) of each arrow. */
const EDGE_PLACE: Readonly<Record<string, { col: number; row: number; dir: 'h' | 'down' | 'up' }>> = {
  'in>PREROUTING': { col: 1, row: 0, dir: 'h' },
  'PREROUTING>route-in': { col: 3, row: 0, dir: 'h' },
  'route-in>FORWARD': { col: 5, row: 0, dir: 'h' },
  'FORWARD>POSTROUTING': { col: 7, row: 0, dir: 'h' },
  'POSTROUTING>out': { col: 9, row: 0, dir: 'h' },
  'route-in>INPUT': { col: 4, row: 1, dir: 'down' },
  'INPUT>local': { col: 4, row: 3, dir: 'down' },
  'local>route-out': { col: 6, row: 4, dir: 'h' },
  'OUTPUT>POSTROUTING': { col: 8, row: 1, dir: 'up' },
  'route-out>OUTPUT': { col: 8, row: 3, dir: 'up' },
};

interface NodeContent {
  lines: Array<{ text: string; cls: TextClass; size: number; h: number }>;
  tables: Array<{ box: TableBox; lines: Array<{ text: string; cls: TextClass; size: number; h: number }> }>;
  height: number;
}

function nodeContent(h: HopView, id: NodeId, width: number): NodeContent {
  const n = h.nodes.get(id)!;
  const inner = width - 2 * PAD;
  const maxS = Math.floor(inner / charW(TEXT.small));
  const maxT = Math.floor((inner - 8) / charW(TEXT.small));
  const lines: NodeContent['lines'] = [{ text: n.label, cls: 'label', size: TEXT.normal, h: LINE.label }];
  const isHook = n.tables.length > 0;
  for (const d of n.detail) {
    if (isHook && d.startsWith('conntrack ')) continue;
    for (const l of wrap(d, maxS).slice(0, 4)) lines.push({ text: l, cls: 'detail', size: TEXT.small, h: LINE.detail });
  }
  let height = PAD + lines.reduce((a, l) => a + l.h, 0);
  const tables: NodeContent['tables'] = [];
  for (const t of n.tables) {
    // The name leaves room for the priority on its right; a long nft name breaks after its table ("netdev stateless/" "from_client").
    const room = maxT - (t.kind === 'confirm' ? 'last' : String(t.priority)).length - 1;
    const cut = t.name.indexOf('/');
    const names = t.name.length > room && cut > 0 ? [t.name.slice(0, cut + 1), t.name.slice(cut + 1)] : [t.name];
    const tl: NodeContent['tables'][number]['lines'] = names.map((text, i) => ({ text: i === 0 ? clip(text, room).text : text, cls: 'tname' as const, size: TEXT.small, h: LINE.tname }));
    if (t.summary) for (const l of wrap(t.summary, maxT).slice(0, 3)) tl.push({ text: l, cls: 'tsum', size: TEXT.small, h: LINE.tsum });
    for (const x of t.nat) for (const l of wrap(x, maxT)) tl.push({ text: l, cls: 'nat', size: TEXT.small, h: LINE.tsum });
    tables.push({ box: t, lines: tl });
    height += 4 + 6 + tl.reduce((a, l) => a + l.h, 0);
  }
  return { lines, tables, height: height + PAD };
}

/** The netfilter picture of one hop, its header and its rule listings, with the origin at the top left. */
export function layoutHop(h: HopView, opts: { rules: boolean }): HopGeometry {
  // Column widths: arrow columns grow to hold their NAT text.
  // The wires hold the device's netdev ingress / egress chains, when it has some: then as wide as a hook.
  const wireW = (id: NodeId): number => (h.nodes.get(id)!.tables.length > 0 ? NODE_COL + 16 : WIRE_COL);
  const cols = [wireW('in'), EDGE_COL, NODE_COL, EDGE_COL, NODE_COL, EDGE_COL, NODE_COL, EDGE_COL, NODE_COL, EDGE_COL, wireW('out')];
  const key = (e: EdgeView): string => `${e.from}>${e.to}`;
  for (const e of h.edges) {
    const p = EDGE_PLACE[key(e)]!;
    if (p.dir !== 'h' || e.labels.length === 0 || p.row !== 0) continue;
    const longest = Math.max(...e.labels.flatMap((l) => wrap(l, NAT_WRAP)).map((l) => l.length));
    cols[p.col] = Math.max(cols[p.col]!, longest * charW(TEXT.small) + 12);
  }
  const colX: number[] = [];
  cols.reduce((x, w, i) => ((colX[i] = x), x + w), 0);
  const gridW = cols.reduce((a, b) => a + b, 0);

  const contents = new Map<NodeId, NodeContent>();
  for (const id of h.nodes.keys()) contents.set(id, nodeContent(h, id, cols[PLACE[id].col]!));
  const rowH = [0, VROW, 0, VROW, 0];
  for (const [id, c] of contents) {
    const r = PLACE[id].row;
    rowH[r] = Math.max(rowH[r]!, c.height);
  }
  for (const e of h.edges) {
    const p = EDGE_PLACE[key(e)]!;
    if (p.dir === 'h' && p.row === 0 && e.labels.length) rowH[0] = Math.max(rowH[0]!, 24 + e.labels.flatMap((l) => wrap(l, NAT_WRAP)).length * 11);
    if (p.dir !== 'h') rowH[p.row] = Math.max(rowH[p.row]!, 10 + e.labels.flatMap((l) => wrap(l, NAT_WRAP)).length * 11);
  }
  // Header: the hop, the verdict.
  const header: TextLine[] = [];
  let y = 16;
  const maxHeader = Math.floor(gridW / charW(TEXT.big));
  const t1 = clip(`#${h.index + 1} ${h.direction} on ${h.host}: ${h.fate}`, maxHeader);
  header.push({ ...t1, x: 0, y, size: TEXT.big, cls: 'title' });
  y += 16;
  for (const l of wrap(h.verdict, Math.floor(gridW / charW(TEXT.normal))).slice(0, 2)) {
    header.push({ text: l, full: undefined, x: 0, y, size: TEXT.normal, cls: 'verdict' });
    y += 14;
  }
  const gridTop = y + 4;
  const rowY: number[] = [];
  rowH.reduce((acc, hh, i) => ((rowY[i] = acc), acc + hh), gridTop);

  const nodes: NodeGeom[] = [];
  const rects = new Map<NodeId, Rect>();
  for (const [id, c] of contents) {
    const p = PLACE[id];
    const rect: Rect = { x: colX[p.col]!, y: rowY[p.row]!, w: cols[p.col]!, h: c.height };
    rects.set(id, rect);
    const lines: TextLine[] = [];
    let ly = rect.y + PAD;
    for (const l of c.lines) {
      ly += l.h;
      const max = Math.floor((rect.w - 2 * PAD) / charW(l.size));
      lines.push({ ...clip(l.text, max), x: rect.x + PAD, y: ly - 3, size: l.size, cls: l.cls });
    }
    const tables: TableGeom[] = [];
    for (const t of c.tables) {
      ly += 4;
      const th = 6 + t.lines.reduce((a, l) => a + l.h, 0);
      const tr: Rect = { x: rect.x + PAD, y: ly, w: rect.w - 2 * PAD, h: th };
      const tlines: TextLine[] = [];
      let ty = ly + 3;
      for (const l of t.lines) {
        ty += l.h;
        tlines.push({ ...clip(l.text, Math.floor((tr.w - 8) / charW(l.size))), x: tr.x + 4, y: ty - 3, size: l.size, cls: l.cls });
      }
      tables.push({ box: t.box, rect: tr, lines: tlines });
      ly += th;
    }
    nodes.push({ id, rect, lines, tables });
  }

  // Arrows: horizontal ones at the height of the box labels, vertical ones from box to box.
  const edges: EdgeGeom[] = [];
  const arrowY = (row: number): number => rowY[row]! + 13;
  for (const e of h.edges) {
    const p = EDGE_PLACE[key(e)]!;
    const a = rects.get(e.from)!;
    const b = rects.get(e.to)!;
    const labels: TextLine[] = [];
    const natLines = e.labels.flatMap((l) => wrap(l, NAT_WRAP));
    let points: Array<[number, number]>;
    if (p.dir === 'h') {
      const yy = p.row === 4 ? rowY[4]! + Math.min(a.h, b.h) / 2 : arrowY(p.row);
      points = [
        [a.x + a.w, yy],
        [b.x, yy],
      ];
      const cx = (a.x + a.w + b.x) / 2;
      natLines.forEach((l, i) => labels.push({ text: l, full: undefined, x: cx, y: yy + 16 + i * 11, size: TEXT.small, cls: 'nat', anchor: 'middle' }));
    } else {
      const cx = colX[p.col]! + cols[p.col]! / 2;
      points = p.dir === 'down' ? [[cx, a.y + a.h], [cx, b.y]] : [[cx, a.y], [cx, b.y + b.h]];
      const top = Math.min(points[0]![1], points[1]![1]);
      natLines.forEach((l, i) => labels.push({ text: l, full: undefined, x: cx + 8, y: top + 12 + i * 11, size: TEXT.small, cls: 'nat' }));
    }
    edges.push({ edge: e, points, labels });
  }

  // Facts and the chain listings under the picture.
  let fy = rowY[4]! + rowH[4]! + 18;
  const facts: TextLine[] = [];
  const maxFact = Math.floor(gridW / charW(TEXT.normal));
  const fact = (text: string): void => {
    for (const l of wrap(text, maxFact).slice(0, 3)) {
      facts.push({ text: l, full: undefined, x: 0, y: fy, size: TEXT.normal, cls: 'fact' });
      fy += 14;
    }
  };
  fact(`packet in: ${h.packetIn}${h.inIface !== null ? ` on ${h.inIface}` : ' (sent by this host)'}`);
  if (h.fate !== 'dropped') fact(`packet out: ${h.packetOut}${h.outIface !== null ? ` on ${h.outIface}` : ' (delivered)'}`);
  fact(`conntrack: ${h.ctState}${h.conntrack !== undefined ? ` ${h.conntrack}` : ''}`);
  if (h.decided) fact(`decided by ${h.decided.where}${h.decided.text !== undefined ? `: ${h.decided.text}` : ''}`);
  const rules: RuleLineGeom[] = [];
  if (opts.rules) {
    fy += 6;
    const maxRule = Math.floor(gridW / charW(TEXT.small));
    for (const w of h.walks) {
      rules.push({ line: { text: w.heading, full: undefined, x: 0, y: fy, size: TEXT.normal, cls: 'walk' }, decisive: false, outcome: 'walk' });
      fy += 14;
      for (const c of w.chains) {
        if (c.chain !== w.base) {
          rules.push({ line: { ...clip(c.path.join(' → '), maxRule), x: 8, y: fy, size: TEXT.small, cls: 'walk' }, decisive: false, outcome: 'walk' });
          fy += 12;
        }
        for (const r of c.rules) {
          const out = outcomeText(r);
          const cls: TextClass = r.outcome === 'matched' ? 'rule-hit' : r.outcome === 'skipped' ? 'rule-miss' : 'rule-none';
          rules.push({ line: { ...clip(`${String(r.num).padStart(3)} ${r.text}  ⟶ ${out}`, maxRule - 2), x: 16, y: fy, size: TEXT.small, cls }, decisive: r.decisive, outcome: r.outcome });
          fy += 12;
        }
        if (c.omitted > 0) {
          rules.push({ line: { text: `    ${c.omitted} more rules never reached`, full: undefined, x: 16, y: fy, size: TEXT.small, cls: 'rule-none' }, decisive: false, outcome: 'omitted' });
          fy += 12;
        }
        if (c.end) {
          rules.push({ line: { text: `    ${c.end.text}`, full: undefined, x: 16, y: fy, size: TEXT.small, cls: 'rule-hit' }, decisive: c.end.decisive, outcome: 'end' });
          fy += 12;
        }
      }
      fy += 4;
    }
  }
  return { width: gridW, height: fy + 4, header, nodes, edges, facts, rules };
}

export interface PlacedHop {
  hop: HopView;
  geom: HopGeometry;
  x: number;
  y: number;
}

export interface CrossingGeom {
  crossing: Crossing;
  points: Array<[number, number]>;
  labels: TextLine[];
}

export interface FigureGeometry {
  width: number;
  height: number;
  title: TextLine;
  lanes: Array<{ name: string; x: number; w: number }>;
  hops: PlacedHop[];
  crossings: CrossingGeom[];
}

const LANE_GAP = 40;
const HOP_GAP = 70;
const FRAME = 12;

/** Lanes side by side, each as wide as its widest hop; the hops one under the other, crossings between. */
export function layoutFigure(f: FigureView, opts: { rules: boolean }): FigureGeometry {
  const geoms = f.hops.map((h) => layoutHop(h, opts));
  const laneW = f.lanes.map((l) => Math.max(...f.hops.map((h, i) => (h.host === l ? geoms[i]!.width + 2 * FRAME : 0))));
  const laneX: number[] = [];
  laneW.reduce((x, w, i) => ((laneX[i] = x), x + w + LANE_GAP), 0);
  const width = laneX[laneX.length - 1]! + laneW[laneW.length - 1]!;
  const title: TextLine = { ...clip(f.title, Math.floor(width / charW(TEXT.big))), x: 0, y: 16, size: TEXT.big, cls: 'title' };
  let y = 50;
  const hops: PlacedHop[] = [];
  f.hops.forEach((h, i) => {
    const lane = f.lanes.indexOf(h.host);
    const g = geoms[i]!;
    hops.push({ hop: h, geom: g, x: laneX[lane]! + FRAME, y: y + FRAME });
    y += g.height + 2 * FRAME + HOP_GAP;
  });
  const crossings: CrossingGeom[] = [];
  for (const c of f.crossings) {
    const a = hops[c.from]!;
    const b = hops[c.to]!;
    const outNode = a.geom.nodes.find((n) => n.id === 'out')!;
    const inNode = b.geom.nodes.find((n) => n.id === (b.hop.inIface !== null ? 'in' : 'local'))!;
    const x1 = a.x + outNode.rect.x + outNode.rect.w / 2;
    const y1 = a.y + a.geom.height + FRAME;
    const x2 = b.x + inNode.rect.x + inNode.rect.w / 2;
    const y2 = b.y - FRAME;
    const mid = y1 + HOP_GAP / 2 + 10;
    const points: Array<[number, number]> = [
      [x1, y1],
      [x1, mid],
      [x2, mid],
      [x2, y2],
    ];
    const lx = Math.min(x1, x2) + 10;
    const max = Math.floor(Math.max(Math.abs(x2 - x1) - 20, 360) / charW(TEXT.small));
    const labels: TextLine[] = [
      { ...clip(`${c.direction}: ${c.label}`, max), x: lx, y: mid - 18, size: TEXT.small, cls: 'crossing' },
      { ...clip(c.via, max), x: lx, y: mid - 6, size: TEXT.small, cls: 'crossing' },
    ];
    crossings.push({ crossing: c, points, labels });
  }
  return { width, height: y - HOP_GAP + 10, title, lanes: f.lanes.map((name, i) => ({ name, x: laneX[i]!, w: laneW[i]! })), hops, crossings };
}

export interface LayeredNode {
  key: string;
  col: number;
  row: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Layers for a chain graph: roots (built-in chains, unreferenced chains) in the first column, every other chain
 * one column right of its deepest caller; within a column, in the order of their callers (one sweep).
 */
export function layered(keys: readonly string[], edges: ReadonlyArray<readonly [string, string]>, isRoot: (k: string) => boolean, size: (k: string) => { w: number; h: number }): { nodes: Map<string, LayeredNode>; width: number; height: number } {
  const depth = new Map<string, number>();
  const parents = new Map<string, string[]>();
  for (const k of keys) parents.set(k, []);
  for (const [a, b] of edges) if (a !== b && parents.has(b) && parents.has(a)) parents.get(b)!.push(a);
  for (const k of keys) depth.set(k, isRoot(k) || parents.get(k)!.length === 0 ? 0 : 1);
  // Longest path by relaxation; at most |keys| rounds, so a cycle cannot loop for ever.
  for (let round = 0; round < keys.length; round++) {
    let changed = false;
    for (const [a, b] of edges) {
      if (a === b || isRoot(b) || !depth.has(a) || !depth.has(b)) continue;
      const d = depth.get(a)! + 1;
      if (d > depth.get(b)! && d <= keys.length) {
        depth.set(b, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns: string[][] = [];
  for (const k of keys) {
    const d = depth.get(k)!;
    (columns[d] ??= []).push(k);
  }
  const rowOf = new Map<string, number>();
  columns.forEach((col, ci) => {
    if (ci > 0) {
      const bary = (k: string): number => {
        const ps = parents.get(k)!.filter((p) => rowOf.has(p));
        return ps.length ? ps.reduce((a, p) => a + rowOf.get(p)!, 0) / ps.length : Number.MAX_SAFE_INTEGER;
      };
      const keyed = col.map((k, i) => ({ k, b: bary(k), i }));
      keyed.sort((x, y) => x.b - y.b || x.i - y.i);
      col.splice(0, col.length, ...keyed.map((x) => x.k));
    }
    col.forEach((k, i) => rowOf.set(k, i));
  });
  const GAP_X = 60;
  const GAP_Y = 14;
  const nodes = new Map<string, LayeredNode>();
  let x = 0;
  let height = 0;
  columns.forEach((col, ci) => {
    const w = Math.max(...col.map((k) => size(k).w));
    let y = 0;
    col.forEach((k, ri) => {
      const s = size(k);
      nodes.set(k, { key: k, col: ci, row: ri, x, y, w, h: s.h });
      y += s.h + GAP_Y;
    });
    height = Math.max(height, y - GAP_Y);
    x += w + GAP_X;
  });
  return { nodes, width: Math.max(0, x - GAP_X), height };
}

/** Character advance at a font size, for renderers that size boxes around text. */
export function textWidth(text: string, size: number): number {
  return text.length * charW(size);
}
