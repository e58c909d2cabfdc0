/**
 * The traced path as Graphviz DOT: one cluster per host (lane), inside it one cluster per hop with the netfilter
 * places as nodes (a hook's node lists its tables in priority order, the deciding one on yellow), the arrows
 * the packet took in blue with the NAT text as labels, the rest grey and dashed; edges between hops carry the
 * packet from one host to the next (request and reply). `dot -Tsvg` draws it.
 */
import { buildFigure } from './hop-view';
import { dotString, esc } from './escape';
import type { DiagramInput, FigureView, HopView, NodeView, TableBox } from './model';

const BLUE = '#1565c0';
const GREY = '#9ca3af';

const nodeName = (h: HopView, id: string): string => dotString(`${h.id}:${id}`);

/** A Graphviz HTML-like label: the node's name, then one row per table. */
function hookLabel(n: NodeView, colour: string): string {
  const row = (t: TableBox): string => {
    const bg = t.decisive ? ' BGCOLOR="#fff3b0"' : t.visited ? ' BGCOLOR="#eef5ff"' : '';
    const colour = t.visited ? '#1d2330' : GREY;
    const sum = t.summary ? `<BR/><FONT POINT-SIZE="9">${esc(t.summary)}</FONT>` : '';
    const nat = t.nat.map((x) => `<BR/><FONT POINT-SIZE="9" COLOR="#7b1fa2">${esc(x)}</FONT>`).join('');
    return `<TR><TD ALIGN="LEFT"${bg}><FONT COLOR="${colour}"><B>${esc(t.name)}</B>${sum}${nat}</FONT></TD></TR>`;
  };
  const detail = n.detail.filter((d) => !d.startsWith('conntrack ')).map((d) => `<TR><TD><FONT POINT-SIZE="9">${esc(d)}</FONT></TD></TR>`);
  return `<<TABLE BORDER="${n.visited ? 2 : 1}" COLOR="${colour}" STYLE="ROUNDED" CELLBORDER="1" CELLSPACING="2"><TR><TD><B>${esc(n.label)}</B>${n.dropped ? ' <FONT COLOR="#c62828">✕ dropped</FONT>' : ''}</TD></TR>${detail.join('')}${n.tables.map(row).join('')}</TABLE>>`;
}

function plainLabel(n: NodeView): string {
  return dotString([n.label + (n.dropped ? ' ✕ dropped' : ''), ...n.detail].join('\n'));
}

function hopDot(h: HopView, indent: string): string[] {
  const out: string[] = [];
  out.push(`${indent}subgraph ${dotString(`cluster_${h.id}`)} {`);
  out.push(`${indent}  label=${dotString(`#${h.index + 1} ${h.direction} on ${h.host}: ${h.fate}${h.decided ? ` (${h.decided.where})` : ''}`)};`);
  out.push(`${indent}  style=rounded; color="#d5dae1";`);
  for (const n of h.nodes.values()) {
    const isHook = n.tables.length > 0;
    const colour = n.dropped ? '#c62828' : n.visited ? BLUE : GREY;
    const attrs = [
      `label=${isHook ? hookLabel(n, colour) : plainLabel(n)}`,
      `shape=${isHook ? 'plain' : n.id.startsWith('route') ? 'ellipse' : 'box'}`,
      `color=${dotString(colour)}`,
      `fontcolor=${dotString(n.visited ? '#1d2330' : GREY)}`,
      `style=${dotString(n.visited ? (n.id === 'local' ? 'dashed,bold' : 'bold') : 'dashed')}`,
      `penwidth=${n.visited ? 2 : 1}`,
    ];
    if (isHook) attrs.push(`tooltip=${dotString(n.label)}`);
    out.push(`${indent}  ${nodeName(h, n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of h.edges) {
    const attrs = [`color=${dotString(e.visited ? BLUE : GREY)}`, `penwidth=${e.visited ? 2.5 : 1}`, `style=${e.visited ? 'solid' : 'dashed'}`];
    if (e.labels.length) attrs.push(`label=${dotString(e.labels.join('\n'))}`, 'fontcolor="#7b1fa2"');
    out.push(`${indent}  ${nodeName(h, e.from)} -> ${nodeName(h, e.to)} [${attrs.join(', ')}];`);
  }
  out.push(`${indent}}`);
  return out;
}

function figureDot(f: FigureView, indent: string): string[] {
  const out: string[] = [];
  out.push(`${indent}subgraph ${dotString(`cluster_${f.id}`)} {`);
  out.push(`${indent}  label=${dotString(f.title)}; fontsize=16;`);
  f.lanes.forEach((lane, li) => {
    out.push(`${indent}  subgraph ${dotString(`cluster_${f.id}_lane${li}`)} {`);
    out.push(`${indent}    label=${dotString(lane)}; style=filled; fillcolor="#fafbfc"; color="#d5dae1";`);
    for (const h of f.hops.filter((x) => x.host === lane)) out.push(...hopDot(h, `${indent}    `));
    out.push(`${indent}  }`);
  });
  out.push(`${indent}}`);
  for (const c of f.crossings) {
    const a = f.hops[c.from]!;
    const b = f.hops[c.to]!;
    const target = b.inIface !== null ? 'in' : 'local';
    out.push(`${indent}${nodeName(a, 'out')} -> ${nodeName(b, target)} [label=${dotString(`${c.direction}: ${c.label}\n${c.via}`)}, color=${dotString(BLUE)}, fontcolor=${dotString(BLUE)}, style=bold, constraint=true];`);
  }
  return out;
}

export function renderDot(inputs: DiagramInput | readonly DiagramInput[], opts: { title?: string } = {}): string {
  const list: readonly DiagramInput[] = Array.isArray(inputs) ? inputs : [inputs as DiagramInput];
  const figures = list.map((inp, i) => buildFigure(inp, i));
  const title = opts.title ?? list[0]?.title ?? 'tsiptables trace';
  const lines = [
    `digraph ${dotString(title)} {`,
    '  rankdir=LR; compound=true; newrank=true;',
    '  graph [fontname="Helvetica", fontsize=12];',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
    ...figures.flatMap((f) => figureDot(f, '  ')),
    '}',
    '',
  ];
  return lines.join('\n');
}
