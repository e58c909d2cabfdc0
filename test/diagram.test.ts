/**
 * The trace pictures (src/diagram): the HTML page, the SVG and the DOT graph of the router lab's packets, each
 * checked against the trace it was drawn from (the hooks and tables the events name, the deciding step, the NAT
 * events, the misses), a synthetic two-host trip for the lanes, the CLI options and `tsiptables graph`.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseDump } from '../src/io/state';
import { Host } from '../src/eval/host';
import { BatchRunner } from '../src/eval/batch';
import { splitWords } from '../src/eval/packet-line';
import type { TraceEvent, TraceResult } from '../src/eval/trace';
import type { Ruleset } from '../src/model/ruleset';
import { connectionInputs, snapshotResult } from '../src/diagram/connections';
import { renderHtml } from '../src/diagram/html';
import { renderSvg } from '../src/diagram/svg';
import { renderDot } from '../src/diagram/dot';
import { buildChainGraph, chainGraphDot, chainGraphPage } from '../src/diagram/chain-graph';
import type { DiagramInput } from '../src/diagram/model';
import { runTrace } from '../src/cli/trace';
import { runGraph } from '../src/cli/graph';
import { all, hasClass, one, parseMarkup, select, type El } from './support/mini-dom';

const LAB = join(__dirname, '..', 'fixtures', 'examples', 'router-lab');
const NOW = new Date('2024-01-01T00:00:00Z');
const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

function traceLab(): { results: TraceResult[]; ruleset: Ruleset } {
  const ruleset = parseDump(readFileSync(join(LAB, 'rules.txt'), 'utf8'));
  const host = Host.parse(readFileSync(join(LAB, 'host.txt'), 'utf8'));
  const runner = new BatchRunner(ruleset, host, { explain: true, assume: new Map(), now: NOW, stepPackets: false });
  const lines = readFileSync(join(LAB, 'packets.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return { results: lines.map((l) => snapshotResult(runner.next(splitWords(l)))), ruleset };
}

const hooksOf = (r: TraceResult): Set<string> => new Set(r.events.filter((e): e is Extract<TraceEvent, { kind: 'hook' }> => e.kind === 'hook').map((e) => e.hook));
const walkedOf = (r: TraceResult): Set<string> => new Set(r.events.filter((e): e is Extract<TraceEvent, { kind: 'chain' }> => e.kind === 'chain').map((e) => `${e.hook}/${e.table}`));
const natOf = (r: TraceResult): Array<Extract<TraceEvent, { kind: 'nat' }>> => r.events.filter((e): e is Extract<TraceEvent, { kind: 'nat' }> => e.kind === 'nat');
const missesOf = (r: TraceResult): Array<Extract<TraceEvent, { kind: 'miss' }>['miss']> => r.events.flatMap((e) => (e.kind === 'miss' ? [e.miss] : []));

/** The packet of a result whose original source/destination are these. */
function find(results: TraceResult[], pred: (r: TraceResult) => boolean): TraceResult {
  const r = results.find(pred);
  if (!r) throw new Error('no such packet in the lab');
  return r;
}

describe('the router lab as an HTML page', () => {
  const { results, ruleset } = traceLab();
  const inputs = connectionInputs(results, ruleset, 'router');
  const html = renderHtml(inputs, { title: 'router-lab' });
  const doc = parseMarkup(html);
  /** The <article> of the hop that drew result r. */
  const hopOf = (r: TraceResult): El => {
    const fi = inputs.findIndex((i) => i.hops.some((h) => h.result === r));
    const hi = inputs[fi]!.hops.findIndex((h) => h.result === r);
    return one(doc, { id: `f${fi}-h${hi}` }, 'article');
  };

  it('is one self-contained page: no script, no external reference', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(select(doc, {}, 'script')).toHaveLength(0);
    expect(select(doc, {}, 'link')).toHaveLength(0);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:|\/\/)/i);
    expect(html).not.toMatch(/@import|url\(/);
    expect(select(doc, {}, 'style')[0]!.text).toMatch(/@media screen and \(max-width:720px\)/);
    expect(select(doc, {}, 'style')[0]!.text).toMatch(/@media print/);
  });

  it('groups the batch by connection: request and reply hops in order', () => {
    // packets 1-2: ping and its reply; 3-5: the handshake through DNAT; 6: a lone SYN; 7, 8: pings from the router
    expect(inputs.map((i) => i.hops.length)).toEqual([2, 3, 1, 1, 1]);
    expect(inputs[1]!.hops.map((h) => h.direction)).toEqual(['request', 'reply', 'request']);
    const cards = select(one(doc, { id: 'f1' }, 'section'), { class: 'hop-card' });
    expect(cards.map((c) => c.attrs['data-direction'])).toEqual(['request', 'reply', 'request']);
    expect(select(one(doc, { id: 'f1' }, 'section'), { class: 'crossing' }).map((c) => c.attrs['data-to'])).toEqual(['1', '2']);
  });

  it('marks the hooks and tables each packet went through, and greys the others', () => {
    for (const r of results) {
      const art = hopOf(r);
      const hooks = hooksOf(r);
      for (const hook of HOOKS) {
        const cell = one(art, { 'data-hook': hook, class: 'cell' });
        expect([hook, cell.attrs['data-visited']]).toEqual([hook, String(hooks.has(hook))]);
      }
      const walked = walkedOf(r);
      const shown = select(art, { class: 'tbl', 'data-visited': 'true' }).filter((t) => !hasClass(t, 'pseudo'));
      expect(new Set(shown.map((t) => `${t.attrs['data-hook']}/${t.attrs['data-table']}`))).toEqual(walked);
      // Tables not walked are drawn, greyed.
      const greyed = select(art, { class: 'tbl', 'data-visited': 'false' }).filter((t) => !hasClass(t, 'pseudo'));
      for (const t of greyed) expect(walked.has(`${t.attrs['data-hook']}/${t.attrs['data-table']}`)).toBe(false);
    }
    // The forwarded ping: INPUT and OUTPUT greyed, the wires visited.
    const ping = results[0]!;
    expect(ping.fate).toBe('forwarded');
    const art = hopOf(ping);
    expect(one(art, { 'data-hook': 'INPUT', class: 'cell' }).attrs['data-visited']).toBe('false');
    expect(one(art, { 'data-node': 'local' }).attrs['data-visited']).toBe('false');
    expect(one(art, { 'data-node': 'in' }).text).toContain('in eth0');
    expect(one(art, { 'data-node': 'out' }).text).toContain('out eth1');
    expect(one(art, { 'data-edge': 'route-in>FORWARD', class: 'edge' }).attrs['data-visited']).toBe('true');
    expect(one(art, { 'data-edge': 'route-in>INPUT', class: 'edge' }).attrs['data-visited']).toBe('false');
    expect(one(art, { class: 'netfilter' }).attrs['data-path']).toBe('in PREROUTING route-in FORWARD POSTROUTING out');
  });

  it('highlights the deciding table and rule, and only those', () => {
    for (const r of results) {
      const art = hopOf(r);
      const d = r.decidedBy;
      const tbls = select(art, { class: 'tbl' }).filter((t) => hasClass(t, 'decisive'));
      const rows = select(art, { class: 'rule' }).filter((t) => hasClass(t, 'decisive'));
      if (!d) {
        expect(tbls).toHaveLength(0);
        continue;
      }
      expect(tbls).toHaveLength(1);
      expect(tbls[0]!.attrs['data-table']).toBe(d.table);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.attrs['data-chain']).toBe(d.chain);
      if (d.rule) {
        expect(row.attrs['data-num']).toBe(String(d.num));
        expect(row.text).toContain(`-A ${d.chain}${d.rule.line}`);
      } else expect(row.text).toContain(`policy ${d.verdict}`);
    }
    // The handshake's SYN: accepted by filter FORWARD rule 3 (-i eth0 -o eth1), after rule 2 missed (NEW).
    const syn = find(results, (r) => r.original.dport === 8800 && r.original.tcpFlags === 0x02);
    const art = hopOf(syn);
    const row = select(art, { class: 'rule' }).find((e) => hasClass(e, 'decisive'))!;
    expect(row.text).toContain('-A FORWARD -i eth0 -o eth1 -j ACCEPT');
    expect(row.text).toContain('matched: ACCEPT');
    expect(one(art, { class: 'cell', 'data-hook': 'FORWARD' }).attrs['class']).toContain('decisive');
  });

  it('lists each walked chain rule by rule: the verdict, the first criterion that failed, or not reached', () => {
    for (const r of results) {
      const art = hopOf(r);
      for (const m of missesOf(r)) {
        const rows = select(art, { class: 'rule', 'data-chain': m.chain, 'data-num': String(m.num), 'data-outcome': 'skipped' });
        expect(rows.some((row) => row.text.includes(`skipped: ${m.why}`))).toBe(true);
      }
      for (const s of r.steps.filter((x) => x.rule !== undefined)) {
        const rows = select(art, { class: 'rule', 'data-chain': s.chain, 'data-num': String(s.num), 'data-outcome': 'matched' });
        const target = s.rule!.verdict.kind === 'target' ? s.rule!.verdict.target.def.name : undefined;
        const shown = target === undefined || target === s.verdict ? s.verdict : `${target} (${s.verdict.toLowerCase()})`;
        expect(rows.some((row) => row.text.includes(`matched: ${shown}`))).toBe(true);
      }
    }
    // The ping: filter FORWARD rule 4 comes after the accepting rule 3: never reached.
    const art = hopOf(results[0]!);
    const walk = select(art, { class: 'walk', 'data-hook': 'FORWARD', 'data-table': 'filter' })[0]!;
    const four = one(walk, { 'data-num': '4' });
    expect(four.attrs['data-outcome']).toBe('not-reached');
    expect(four.text).toContain('-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT');
    expect(one(walk, { 'data-num': '2' }).text).toContain('skipped: --ctstate RELATED,ESTABLISHED: connection is NEW');
  });

  it('writes the NAT rewrites on the arrows out of the hook that did them', () => {
    const syn = find(results, (r) => r.original.dport === 8800 && r.original.tcpFlags === 0x02);
    const nat = natOf(syn);
    expect(nat.map((n) => n.manip)).toEqual(['dst', 'src']);
    const art = hopOf(syn);
    // DNAT --to-destination 10.0.2.2:80 in PREROUTING; MASQUERADE takes eth1's 10.0.2.1 in POSTROUTING.
    expect(one(art, { class: 'edge', 'data-edge': 'PREROUTING>route-in' }).text).toBe('DNAT 10.0.1.1:8800 → 10.0.2.2:80');
    expect(one(art, { class: 'edge', 'data-edge': 'POSTROUTING>out' }).text).toBe('SNAT 10.0.1.2:40000 → 10.0.2.1:40000');
    expect(one(art, { class: 'edge', 'data-edge': 'FORWARD>POSTROUTING' }).text).toBe('');
    expect(one(art, { 'data-hook': 'PREROUTING', 'data-table': 'nat', class: 'tbl' }).text).toContain('DNAT 10.0.1.1:8800 → 10.0.2.2:80');
    expect(one(art, { 'data-node': 'out' }).text).toContain('tcp 10.0.2.1:40000 → 10.0.2.2:80 SYN');
    // The SYN/ACK: conntrack undoes both (nat table not walked), the arrows say so.
    const synack = find(results, (r) => r.original.sport === 80 && r.original.tcpFlags === 0x12);
    const art2 = hopOf(synack);
    expect(natOf(synack)).toHaveLength(2);
    expect(one(art2, { class: 'edge', 'data-edge': 'PREROUTING>route-in' }).text).toBe('DNAT 10.0.2.1:40000 → 10.0.1.2:40000 (conntrack)');
    expect(one(art2, { class: 'edge', 'data-edge': 'POSTROUTING>out' }).text).toBe('SNAT 10.0.2.2:80 → 10.0.1.1:8800 (conntrack)');
    const natBox = one(art2, { 'data-hook': 'PREROUTING', 'data-table': 'nat', class: 'tbl' });
    expect(natBox.attrs['data-visited']).toBe('false');
    expect(natBox.text).toContain('not walked');
  });

  it('shows the conntrack state as it was for each packet', () => {
    const [req, rep] = inputs[0]!.hops;
    expect(one(hopOf(req!.result), { 'data-hook': 'PREROUTING', 'data-table': 'conntrack' }).text).toContain('NEW');
    expect(one(hopOf(rep!.result), { 'data-hook': 'PREROUTING', 'data-table': 'conntrack' }).text).toContain('ESTABLISHED');
    // The request's entry before the reply came: no SEEN_REPLY yet (the live entry has it by the end of the batch).
    const facts = select(hopOf(req!.result), { class: 'facts' })[0]!.text;
    expect(facts).toContain('[SNAT]');
    expect(facts).not.toContain('SEEN_REPLY');
    expect(select(hopOf(rep!.result), { class: 'facts' })[0]!.text).toContain('SEEN_REPLY');
  });

  it('marks where a dropped packet died and greys the rest of its way', () => {
    const ssh = find(results, (r) => r.original.dport === 22);
    expect(ssh.fate).toBe('dropped');
    const art = hopOf(ssh);
    expect(art.attrs['data-fate']).toBe('dropped');
    const fwd = one(art, { class: 'cell', 'data-hook': 'FORWARD' });
    expect(fwd.attrs['data-dropped']).toBe('true');
    expect(one(fwd, { 'data-table': 'filter' }).attrs['class']).toContain('dropped');
    expect(one(art, { class: 'cell', 'data-hook': 'POSTROUTING' }).attrs['data-visited']).toBe('false');
    expect(one(art, { 'data-node': 'out' }).attrs['data-visited']).toBe('false');
    const end = select(art, { class: 'rule', 'data-outcome': 'end' }).find((e) => hasClass(e, 'decisive'))!;
    expect(end.text).toContain('policy DROP');
  });

  it('draws a packet the router sends itself from the local process through OUTPUT', () => {
    const own = find(results, (r) => r.original.inIface === null && r.original.dst === 0x0a000102);
    expect(own.fate).toBe('sent');
    const art = hopOf(own);
    expect(one(art, { class: 'netfilter' }).attrs['data-path']).toBe('local route-out OUTPUT POSTROUTING out');
    expect(one(art, { 'data-node': 'in' }).attrs['data-visited']).toBe('false');
    expect(one(art, { class: 'edge', 'data-edge': 'OUTPUT>POSTROUTING' }).attrs['data-visited']).toBe('true');
    expect(one(art, { class: 'edge', 'data-edge': 'local>route-out' }).attrs['data-visited']).toBe('true');
  });

  it('orders the one-column layout by the path: visited boxes first, with their arrows between', () => {
    const art = hopOf(results[0]!);
    const order = (e: El): number => Number(/--o:(\d+)/.exec(e.attrs['style'] ?? '')![1]);
    const path = one(art, { class: 'netfilter' }).attrs['data-path']!.split(' ');
    const cells = path.map((n) => order(one(art, { class: 'cell', 'data-node': n })));
    expect([...cells].sort((a, b) => a - b)).toEqual(cells);
    expect(order(one(art, { class: 'edge', 'data-edge': 'PREROUTING>route-in' }))).toBeGreaterThan(order(one(art, { class: 'cell', 'data-node': 'PREROUTING' })));
    expect(order(one(art, { class: 'cell', 'data-node': 'INPUT' }))).toBeGreaterThan(Math.max(...cells));
  });

  it("lists the host's chains with the ones the packets walked marked", () => {
    const g = one(doc, { 'data-graph': 'g0' });
    expect(g.text).toContain('Chains of router');
    const fwd = select(g, { 'data-chain': 'FORWARD', 'data-visited': 'true' });
    expect(fwd.length).toBeGreaterThan(0);
  });
});

describe('the router lab as SVG and DOT', () => {
  const { results, ruleset } = traceLab();
  const inputs = connectionInputs(results, ruleset, 'router');

  it('SVG: well-formed, the same visited hooks, decisive rule and NAT labels', () => {
    const svg = renderSvg(inputs);
    const doc = parseMarkup(svg);
    const root = doc.children[0]!;
    expect(root.tag).toBe('svg');
    expect(root.attrs['xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(svg).not.toMatch(/href\s*=\s*["'](https?:)?\/\//);
    inputs.forEach((inp, fi) =>
      inp.hops.forEach((h, hi) => {
        const g = one(doc, { id: `f${fi}-h${hi}` }, 'g');
        const hooks = hooksOf(h.result);
        for (const hook of HOOKS) expect(one(g, { 'data-node': hook }, 'g').attrs['data-visited']).toBe(String(hooks.has(hook)));
        const tables = select(g, { 'data-table': true, 'data-visited': 'true' }, 'g').filter((t) => t.attrs['data-table'] !== 'conntrack' && t.attrs['data-table'] !== 'confirm');
        expect(new Set(tables.map((t) => `${t.attrs['data-hook']}/${t.attrs['data-table']}`))).toEqual(walkedOf(h.result));
        const d = h.result.decidedBy;
        const hl = select(g, { 'data-decisive': 'true' }, 'text');
        if (d?.rule) {
          expect(hl).toHaveLength(1);
          expect(hl[0]!.text).toContain(`-A ${d.chain}${d.rule.line}`.slice(0, 40));
        }
      }),
    );
    const syn = one(doc, { id: 'f1-h0' }, 'g');
    // A long label is wrapped into lines (<text> elements).
    const lines = (g: El): string => select(g, {}, 'text').map((t) => t.text).join(' ');
    expect(lines(one(syn, { 'data-edge': 'PREROUTING>route-in' }, 'g'))).toBe('DNAT 10.0.1.1:8800 → 10.0.2.2:80');
    expect(lines(one(syn, { 'data-edge': 'POSTROUTING>out' }, 'g'))).toBe('SNAT 10.0.1.2:40000 → 10.0.2.1:40000');
    expect(lines(one(syn, { 'data-edge': 'FORWARD>POSTROUTING' }, 'g'))).toBe('');
    expect(select(doc, { 'data-crossing': true }, 'g')).toHaveLength(3);
  });

  it('DOT: balanced, every edge between declared nodes, the path in blue with the NAT labels', () => {
    const dot = renderDot(inputs);
    const body = stripDotStrings(dot);
    let depth = 0;
    for (const ch of body) {
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
    expect(dot.startsWith('digraph "connection icmp 10.0.1.2 → 10.0.2.2')).toBe(true);
    const nodes = new Set([...dot.matchAll(/^\s*("f\d+-h\d+:[\w-]+") \[/gm)].map((m) => m[1]));
    const edges = [...dot.matchAll(/^\s*("[^"]+") -> ("[^"]+") \[([^\n]*)\];$/gm)];
    expect(nodes.size).toBe(8 * 10);
    expect(edges.length).toBe(8 * 10 + 3);
    for (const e of edges) {
      expect(nodes.has(e[1]!)).toBe(true);
      expect(nodes.has(e[2]!)).toBe(true);
    }
    // Lines inside braces are statements ending in ; (or open/close a block).
    for (const line of dot.split('\n').slice(1, -2)) expect(line.trim()).toMatch(/(;|\{|\})$/);
    const blue = edges.filter((e) => e[3]!.includes('color="#1565c0"') && e[1]!.startsWith('"f1-h0:') && e[2]!.startsWith('"f1-h0:'));
    expect(blue.map((e) => `${e[1]}>${e[2]}`)).toEqual(['in>PREROUTING', 'PREROUTING>route-in', 'route-in>FORWARD', 'FORWARD>POSTROUTING', 'POSTROUTING>out'].map((k) => k.split('>').map((n) => `"f1-h0:${n}"`).join('>')));
    expect(dot).toContain('label="DNAT 10.0.1.1:8800 → 10.0.2.2:80"');
    expect(dot).toMatch(/subgraph "cluster_f1_lane0" \{\n\s+label="router"/);
  });

  const dotBin = ['/usr/bin/dot', '/usr/local/bin/dot'].find((p) => existsSync(p));
  (dotBin ? it : it.skip)('DOT: Graphviz reads it (when installed)', () => {
    const r = spawnSync(dotBin!, ['-Tsvg'], { input: renderDot(inputs) + chainGraphDot(buildChainGraph(ruleset)), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

/** DOT text without its quoted strings and HTML-like labels (which may hold braces). */
function stripDotStrings(dot: string): string {
  let out = '';
  for (let i = 0; i < dot.length; i++) {
    const c = dot[i]!;
    if (c === '"') {
      i++;
      while (i < dot.length && dot[i] !== '"') i += dot[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '<') {
      let d = 1;
      while (d > 0 && ++i < dot.length) d += dot[i] === '<' ? 1 : dot[i] === '>' ? -1 : 0;
      continue;
    }
    out += c;
  }
  return out;
}

describe('lanes: a packet across two hosts and its reply', () => {
  // gw: 10.0.1.1/24 on eth0 (clients), 10.0.2.1/24 on eth1; forwards with MASQUERADE. web: 10.0.2.2/24 on eth0.
  const gwRules = parseDump('*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT\n-A FORWARD -i eth0 -p tcp --dport 80 -j ACCEPT\nCOMMIT\n');
  const webRules = parseDump('*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n');
  const gw = new BatchRunner(gwRules, Host.parse('ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\nsysctl -w net.ipv4.ip_forward=1\n'), { explain: true, assume: new Map(), now: NOW });
  const web = new BatchRunner(webRules, Host.parse('ip addr add 10.0.2.2/24 dev eth0\nip route add default via 10.0.2.1\n'), { explain: true, assume: new Map(), now: NOW });
  const h1 = snapshotResult(gw.next(splitWords('-p tcp -s 10.0.1.2 -d 10.0.2.2 --sport 40000 --dport 80 --syn -i eth0')));
  // web sees what gw sent: the source rewritten by MASQUERADE.
  const w = h1.packet;
  const h2 = snapshotResult(web.next(splitWords(`-p tcp -s 10.0.2.1 -d 10.0.2.2 --sport ${w.sport} --dport 80 --syn -i eth0`)));
  const h3 = snapshotResult(web.next(splitWords(`-p tcp -s 10.0.2.2 -d 10.0.2.1 --sport 80 --dport ${w.sport} --tcp-flags ALL SYN,ACK`)));
  const h4 = snapshotResult(gw.next(splitWords(`-p tcp -s 10.0.2.2 -d 10.0.2.1 --sport 80 --dport ${w.sport} --tcp-flags ALL SYN,ACK -i eth1`)));
  const input: DiagramInput = {
    title: 'client → web through gw',
    hops: [
      { host: 'gw', direction: 'request', result: h1, ruleset: gwRules, wire: { arrived: 'lan', left: 'dmz' } },
      { host: 'web', direction: 'request', result: h2, ruleset: webRules, wire: { arrived: 'dmz' } },
      { host: 'web', direction: 'reply', result: h3, ruleset: webRules, wire: { left: 'dmz' } },
      { host: 'gw', direction: 'reply', result: h4, ruleset: gwRules, wire: { arrived: 'dmz', left: 'lan' } },
    ],
  };

  it('traces what the lanes are drawn from', () => {
    expect([h1.fate, h2.fate, h3.fate, h4.fate]).toEqual(['forwarded', 'delivered', 'sent', 'forwarded']);
    expect(w.src).toBe(0x0a000201);
    expect(h4.packet.dst).toBe(0x0a000102);
  });

  it('HTML: one lane per host, each hop in its lane, crossings between lanes both ways', () => {
    const doc = parseMarkup(renderHtml(input));
    const lanes = select(doc, { class: 'lane-head' });
    expect(lanes.map((l) => l.text)).toEqual(['gw', 'web']);
    const cards = select(doc, { class: 'hop-card' });
    expect(cards.map((c) => [c.attrs['data-host'], c.attrs['data-lane'], /grid-column:(\d+)/.exec(c.attrs['style']!)![1]])).toEqual([
      ['gw', '0', '1'],
      ['web', '1', '2'],
      ['web', '1', '2'],
      ['gw', '0', '1'],
    ]);
    const crossings = select(doc, { class: 'crossing' });
    expect(crossings.map((c) => [c.attrs['data-from-lane'], c.attrs['data-to-lane'], ['right', 'left', 'same'].find((k) => hasClass(c, k))])).toEqual([
      ['0', '1', 'right'],
      ['1', '1', 'same'],
      ['1', '0', 'left'],
    ]);
    expect(hasClass(crossings[0]!, 'request')).toBe(true);
    expect(hasClass(crossings[2]!, 'reply')).toBe(true);
    expect(crossings[0]!.text).toContain(`tcp 10.0.2.1:${w.sport} → 10.0.2.2:80 SYN`);
    expect(crossings[0]!.text).toContain('gw out eth1 → dmz → web in eth0');
    expect(crossings[2]!.text).toContain('web out eth0 → dmz → gw in eth1');
    // Each hop's own picture: gw forwards (FORWARD visited), web delivers (INPUT visited, FORWARD greyed).
    const art = (i: number): El => one(doc, { id: `f0-h${i}` }, 'article');
    expect(one(art(0), { class: 'cell', 'data-hook': 'FORWARD' }).attrs['data-visited']).toBe('true');
    expect(one(art(1), { class: 'cell', 'data-hook': 'INPUT' }).attrs['data-visited']).toBe('true');
    expect(one(art(1), { class: 'cell', 'data-hook': 'FORWARD' }).attrs['data-visited']).toBe('false');
    expect(select(art(1), { class: 'rule' }).find((r) => hasClass(r, 'decisive'))!.text).toContain('-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT');
    expect(one(art(1), { 'data-num': '1', 'data-chain': 'INPUT' }).text).toContain('skipped: --dport 22');
    // The reply through gw: conntrack undoes the MASQUERADE in PREROUTING, nothing else is rewritten.
    expect(one(art(3), { class: 'edge', 'data-edge': 'POSTROUTING>out' }).text).toBe('');
    expect(one(art(3), { class: 'edge', 'data-edge': 'PREROUTING>route-in' }).text).toBe(`DNAT 10.0.2.1:${w.sport} → 10.0.1.2:40000 (conntrack)`);
    // One chain graph per host.
    expect(select(doc, { class: 'chain-graph' }).map((g) => all(g, (e) => e.tag === 'h2')[0]!.text)).toEqual(['Chains of gw', 'Chains of web']);
  });

  it('SVG: lanes side by side, hops placed in their lane, crossing lines from lane to lane', () => {
    const doc = parseMarkup(renderSvg(input));
    const x = (i: number): number => Number(/translate\(([\d.]+),/.exec(one(doc, { id: `f0-h${i}` }, 'g').attrs['transform']!)![1]);
    expect(x(0)).toBe(x(3));
    expect(x(1)).toBe(x(2));
    expect(x(1)).toBeGreaterThan(x(0));
    const lanes = select(doc, { 'data-lane': true }, 'g');
    expect(lanes.map((l) => l.text)).toEqual(['gw', 'web']);
    const cross = select(doc, { 'data-crossing': true }, 'g');
    expect(cross.map((c) => c.attrs['data-direction'])).toEqual(['request', 'reply', 'reply']);
    // The first crossing goes right (gw -> web), the last one left (web -> gw).
    const pts = (c: El): number[][] => one(c, {}, 'polyline').attrs['points']!.split(' ').map((p) => p.split(',').map(Number));
    const first = pts(cross[0]!);
    const last = pts(cross[2]!);
    expect(first[first.length - 1]![0]!).toBeGreaterThan(first[0]![0]!);
    expect(last[last.length - 1]![0]!).toBeLessThan(last[0]![0]!);
  });

  it('DOT: one cluster per host holding its hops, edges across for the crossings', () => {
    const dot = renderDot(input);
    const gwLane = dot.slice(dot.indexOf('subgraph "cluster_f0_lane0"'), dot.indexOf('subgraph "cluster_f0_lane1"'));
    expect(gwLane).toContain('label="gw"');
    expect(gwLane).toContain('cluster_f0-h0');
    expect(gwLane).toContain('cluster_f0-h3');
    expect(gwLane).not.toContain('cluster_f0-h1');
    expect(dot).toMatch(/"f0-h0:out" -> "f0-h1:in" \[label="request: /);
    expect(dot).toMatch(/"f0-h1:out" -> "f0-h2:local" \[label="reply: /);
    expect(dot).toMatch(/"f0-h2:out" -> "f0-h3:in" \[label="reply: /);
  });
});

describe('tsiptables trace --html/--svg/--dot and tsiptables graph', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsi-diagram-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const io = { stdin: (): string => '', isTTY: false, env: {} as NodeJS.ProcessEnv };
  const lab = ['--rules', join(LAB, 'rules.txt'), '--host', join(LAB, 'host.txt')];

  it('writes the three files next to the usual output', async () => {
    const f = (x: string): string => join(dir, x);
    const r = await runTrace([...lab, '--batch', join(LAB, 'packets.txt'), '--html', f('t.html'), '--svg', f('t.svg'), '--dot', f('t.dot'), '--name', 'router'], io);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('forwarded: forwarded out eth1');
    const doc = parseMarkup(readFileSync(f('t.html'), 'utf8'));
    expect(select(doc, { class: 'hop' }, 'article')).toHaveLength(8);
    expect(select(doc, { class: 'lane-head' })[0]!.text).toBe('router');
    expect(parseMarkup(readFileSync(f('t.svg'), 'utf8')).children[0]!.tag).toBe('svg');
    expect(readFileSync(f('t.dot'), 'utf8')).toMatch(/^digraph "tsiptables trace --batch /);
  });

  it('- writes the picture to stdout instead of the trace; the exit status stays the fate', async () => {
    const r = await runTrace([...lab, '--html', '-', '-p', 'tcp', '-s', '10.0.2.2', '-d', '10.0.1.2', '--dport', '22', '-i', 'eth1'], io);
    expect(r.status).toBe(1);
    expect(r.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(r.stdout).not.toContain('┌');
    const doc = parseMarkup(r.stdout);
    expect(one(doc, { class: 'cell', 'data-hook': 'FORWARD' }).attrs['data-dropped']).toBe('true');
    const d = await runTrace([...lab, '--dot', '-', '-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.2.2', '-i', 'eth0'], io);
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/^digraph /);
  });

  it('bad input: exit 2 with a message, no stack trace', async () => {
    const two = await runTrace([...lab, '--html', '-', '--svg', '-', '-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.2.2'], io);
    expect(two.status).toBe(2);
    expect(two.stderr).toContain('--html and --svg: only one of them can write to stdout (-)');
    const nodir = await runTrace([...lab, '--svg', join(dir, 'missing', 'x.svg'), '-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.2.2'], io);
    expect(nodir.status).toBe(2);
    expect(nodir.stderr).toBe(`tsiptables trace: --svg ${join(dir, 'missing', 'x.svg')}: No such file or directory\n`);
  });

  it('graph: DOT edges are the jumps of the dump, with their rule numbers', () => {
    const dump = join(__dirname, '..', 'fixtures', 'dumps', 'docker-2net.save.txt');
    const r = runGraph(['--rules', dump, '-t', 'filter']);
    expect(r.status).toBe(0);
    // Expected from the dump's own lines: FORWARD rules that jump to DOCKER.
    const fwd = readFileSync(dump, 'utf8').split('\n').filter((l) => /^-A FORWARD /.test(l));
    const nums = fwd.flatMap((l, i) => (/ -j DOCKER$/.test(l) ? [`#${i + 1}`] : []));
    expect(nums.length).toBeGreaterThan(1);
    expect(r.stdout).toContain(`"filter/FORWARD" -> "filter/DOCKER" [label="${nums.join(',')}"];`);
    expect(r.stdout).toContain(`"filter/FORWARD" [label="FORWARD\\n${fwd.length} rules, policy DROP"`);
    expect(r.stdout).not.toContain('cluster_nat');
    const g = buildChainGraph(parseDump(readFileSync(dump, 'utf8')));
    const edges = g.flatMap((t) => t.edges.map((e) => `${t.table}/${e.from}>${e.to}`));
    const dotEdges = [...runGraph(['--rules', dump]).stdout.matchAll(/"([^"]+)" -> "([^"]+)"/g)].map((m) => `${m[1]}>${m[2]!.split('/')[1]}`);
    expect(dotEdges).toEqual(edges);
  });

  it('graph --format html: a page with one drawing per table, the chains as boxes and jumps as arrows', () => {
    const dump = join(__dirname, '..', 'fixtures', 'dumps', 'kube-proxy-20x3.save.txt');
    const out = join(dir, 'g.html');
    expect(runGraph(['--rules', dump, '--format', 'html', '-o', out]).status).toBe(0);
    const doc = parseMarkup(readFileSync(out, 'utf8'));
    const rs = parseDump(readFileSync(dump, 'utf8'));
    const nat = one(doc, { 'data-table': 'nat' }, 'section');
    const svg = select(nat, {}, 'svg')[0]!;
    expect(select(svg, { 'data-chain': true }, 'g')).toHaveLength(rs.tables.get('nat')!.chains.size);
    const jumps = [...rs.tables.get('nat')!.chains.values()].flatMap((c) => c.rules.filter((r) => r.jumpTo !== undefined).map((r) => `${c.name}>${r.jumpTo!}`));
    expect(new Set(select(svg, { 'data-edge': true }, 'g').map((e) => e.attrs['data-edge']))).toEqual(new Set(jumps));
    expect(chainGraphPage(rs, { title: 't' })).not.toMatch(/<script|(src|href)=["']?https?:/);
  });

  it('graph: errors', () => {
    expect(runGraph(['--format', 'png']).status).toBe(2);
    expect(runGraph(['-t', 'nope']).stderr).toContain('-t nope: no such table');
    expect(runGraph(['--rules', join(dir, 'none.txt')]).stderr).toContain('No such file or directory');
  });
});
