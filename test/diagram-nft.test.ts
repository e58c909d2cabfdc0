/**
 * nftables chains in the trace pictures (src/diagram): the stateless NAT lab (fixtures/labs/stateless-nat.sh)
 * traced through its hosts, and single hosts set up with `tsiptables nft -f` (the README's fixtures/examples/nft-edge
 * and small rulesets of its own) traced in-process. Each picture is checked against the trace it was drawn from:
 * the boxes of each hook in the order the walks ran (nft base chains among the iptables tables, netdev ingress on
 * the in wire, egress on the out wire), the deciding box and rule, the drop, the rewrites on the arrows and the
 * listing rows (matched with the verdict, skipped with why, not reached).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceInLab, type LabTrace } from '../src/lab/trace-lab';
import { labDiagram } from '../src/cli/trace-lab';
import { runNft } from '../src/cli/nft';
import { runTrace } from '../src/cli/trace';
import { runIptables } from '../src/cli/main';
import type { TraceEvent, TraceResult } from '../src/eval/trace';
import { renderHtml } from '../src/diagram/html';
import { renderSvg } from '../src/diagram/svg';
import { renderDot } from '../src/diagram/dot';
import { buildHopView } from '../src/diagram/hop-view';
import type { DiagramHop } from '../src/diagram/model';
import { hasClass, one, parseMarkup, select, type El } from './support/mini-dom';

const LAB = join(__dirname, '..', 'fixtures', 'labs', 'stateless-nat.sh');
const EX = join(__dirname, '..', 'fixtures', 'examples', 'nft-edge');
const NOW = new Date('2024-01-01T00:00:00Z');

async function labTrace(from: string, packet: string[]): Promise<LabTrace> {
  return traceInLab(readFileSync(LAB, 'utf8'), 'stateless-nat.sh', from, packet, NOW);
}

/** The walks of a trace in order, named as the picture names their boxes ("filter", "ip bypass/forward"), by node. */
function walksOf(r: TraceResult): Array<{ node: string; name: string }> {
  const node: Record<string, string> = { ingress: 'in', prerouting: 'PREROUTING', input: 'INPUT', forward: 'FORWARD', output: 'OUTPUT', postrouting: 'POSTROUTING', egress: 'out' };
  return r.events.flatMap((e: TraceEvent) => (e.kind === 'chain' ? [{ node: e.hook, name: e.table }] : e.kind === 'nft' ? [{ node: node[e.hook]!, name: `${e.family} ${e.table}/${e.chain}` }] : []));
}

const boxes = (art: El, node: string): El[] => select(one(art, { 'data-node': node, class: 'cell' }), { class: 'tbl' });
const names = (els: El[]): string[] => els.map((e) => e.attrs['data-table']!);
const visitedNames = (art: El, node: string): string[] => names(boxes(art, node).filter((b) => b.attrs['data-visited'] === 'true' && !hasClass(b, 'pseudo')));
const walkOf = (art: El, table: string, chain: string): El => one(art, { class: 'walk', 'data-table': table, 'data-chain': chain });
const rows = (walk: El): Array<{ num: string | undefined; outcome: string; out: string; decisive: boolean }> =>
  select(walk, { class: 'rule' }).map((r) => ({ num: r.attrs['data-num'], outcome: r.attrs['data-outcome']!, out: one(r, { class: 'out' }).text, decisive: hasClass(r, 'decisive') }));

/** Every visited box of every node, in the page's order, equals the trace's walks in order (per node). */
function expectBoxesInWalkOrder(art: El, r: TraceResult): void {
  const walks = walksOf(r);
  expect(walks.length).toBeGreaterThan(0);
  for (const n of ['in', 'PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING', 'out']) {
    const want = walks.filter((w) => w.node === n).map((w) => w.name);
    expect([n, visitedNames(art, n)]).toEqual([n, want]);
  }
}

describe('the stateless NAT lab: the ping to the published address and its reply', () => {
  let t: LabTrace;
  let doc: El;
  let lbReq: El;
  let lbRep: El;
  beforeAll(async () => {
    t = await labTrace('client', ['-p', 'icmp', '-d', '10.0.1.1']);
    doc = parseMarkup(renderHtml(labDiagram(t, 'stateless-nat')));
    // hops: client, lb, backend (request); backend, lb, client (reply)
    lbReq = one(doc, { id: 'f0-h1' }, 'article');
    lbRep = one(doc, { id: 'f0-h4' }, 'article');
  });

  it('crosses the lb both ways', () => {
    expect([...t.request, ...t.reply].map((h) => `${h.ns.label()}:${h.result.fate}`)).toEqual(['client:sent', 'lb:forwarded', 'backend:delivered', 'backend:sent', 'lb:forwarded', 'client:delivered']);
    expect(lbReq.attrs['data-host']).toBe('lb');
    expect(lbRep.attrs['data-host']).toBe('lb');
  });

  it('draws the boxes each hook ran in the order the walks ran: nft chains among the iptables tables', () => {
    expectBoxesInWalkOrder(lbReq, t.request[1]!.result);
    expectBoxesInWalkOrder(lbRep, t.reply[1]!.result);
    // The ingress chain on the in wire, before PREROUTING; raw-priority nft chain before conntrack; the iptables-nft
    // FORWARD chain (registered last) before nft's forward chain at the same priority.
    expect(names(boxes(lbReq, 'in'))).toEqual(['netdev stateless/from_client']);
    expect(names(boxes(lbReq, 'PREROUTING'))).toEqual(['ip bypass/pre', 'conntrack']);
    expect(names(boxes(lbReq, 'FORWARD'))).toEqual(['filter', 'ip bypass/forward']);
    expect(boxes(lbReq, 'FORWARD').map((b) => b.text.match(/-?\d+|last/)![0])).toEqual(['0', '0']);
    // Ingress on eth1 and egress on eth0 for the reply; the request's out wire (eth1) has no egress chain.
    expect(names(boxes(lbRep, 'in'))).toEqual(['netdev stateless/from_backend']);
    expect(names(boxes(lbRep, 'out'))).toEqual(['netdev stateless/to_client']);
    expect(boxes(lbReq, 'out')).toHaveLength(0);
    expect(one(lbRep, { 'data-node': 'out', class: 'cell' }).attrs['data-visited']).toBe('true');
    // Nodes: the wire boxes are nft boxes.
    for (const b of [...boxes(lbReq, 'in'), ...boxes(lbRep, 'out')]) {
      expect(b.attrs['data-kind']).toBe('nft');
      expect(hasClass(b, 'nft')).toBe(true);
    }
  });

  it('the nft forward chain decided, rule 1 for the request and rule 2 for the reply: the only decisive box and row', () => {
    for (const [art, num, other] of [[lbReq, '1', '2'], [lbRep, '2', '1']] as const) {
      expect(names(select(art, { class: 'tbl' }).filter((b) => hasClass(b, 'decisive')))).toEqual(['ip bypass/forward']);
      expect(one(art, { 'data-node': 'FORWARD', class: 'cell' }).attrs['class']).toContain('decisive');
      const w = walkOf(art, 'ip bypass', 'forward');
      expect(one(w, {}, 'h4').text).toBe('ip bypass forward (nft: hook forward, priority 0)');
      const rs = rows(w);
      expect(rs.find((r) => r.num === num)).toEqual({ num, outcome: 'matched', out: 'matched: ACCEPT', decisive: true });
      expect(select(art, { class: 'rule' }).filter((r) => hasClass(r, 'decisive'))).toHaveLength(1);
      // The request never reaches rule 2; the reply's mark 2 fails rule 1's mark test.
      const o = rs.find((r) => r.num === other)!;
      if (other === '2') expect(o.outcome).toBe('not-reached');
      else expect(o.out).toBe('skipped: meta mark 0x00000001 (meta mark is 0x00000002)');
    }
    expect(one(lbReq, { class: 'facts' }).text).toContain('ip bypass forward rule 1 ct state untracked meta mark 0x00000001');
  });

  it('lists the ingress chain rule by rule: the rewrite that matched, the rule passed over and why, the policy', () => {
    const w = walkOf(lbReq, 'netdev stateless', 'from_client');
    expect(w.attrs['data-hook']).toBe('in');
    expect(one(w, {}, 'h4').text).toBe('netdev stateless from_client (nft: ingress eth0, priority -500)');
    expect(rows(w)).toEqual([
      { num: '1', outcome: 'matched', out: 'matched: meta mark set 0x00000001, ip daddr set 10.0.2.2 (continue)', decisive: false },
      { num: '2', outcome: 'skipped', out: 'skipped: ip daddr 10.0.1.1 (ip daddr is 10.0.2.2)', decisive: false },
      { num: undefined, outcome: 'end', out: 'policy accept', decisive: false },
    ]);
    // The box links to its listing and says what happened.
    const b = one(lbReq, { 'data-table': 'netdev stateless/from_client', class: 'tbl' });
    expect(one(b, {}, 'a').attrs['href']).toBe(`#${w.attrs['id']}`);
    expect(one(b, { class: 'sum' }).text).toBe('#1 mark set, daddr set, policy accept');
  });

  it('shows the header rewrites: ingress on the arrow into PREROUTING, egress in the out wire', () => {
    expect(select(one(lbReq, { 'data-edge': 'in>PREROUTING', class: 'edge' }), { class: 'nat' }).map((e) => e.text)).toEqual(['ip daddr 10.0.1.1 → 10.0.2.2']);
    expect(select(one(lbReq, { 'data-table': 'netdev stateless/from_client', class: 'tbl' }), { class: 'nat' }).map((e) => e.text)).toEqual(['ip daddr 10.0.1.1 → 10.0.2.2']);
    expect(select(one(lbRep, { 'data-table': 'netdev stateless/to_client', class: 'tbl' }), { class: 'nat' }).map((e) => e.text)).toEqual(['ip saddr 10.0.2.2 → 10.0.1.1']);
    expect(select(one(lbRep, { 'data-edge': 'in>PREROUTING', class: 'edge' }), { class: 'nat' })).toHaveLength(0);
    // The picture's packet in and out agree with the rewrites.
    expect(one(lbReq, { 'data-node': 'out' }).text).toContain('icmp 10.0.1.2 → 10.0.2.2 echo-request');
    expect(one(lbRep, { 'data-node': 'out' }).text).toContain('icmp 10.0.1.1 → 10.0.1.2 echo-reply');
  });

  it('SVG and DOT carry the same nft boxes', () => {
    const input = labDiagram(t, 'stateless-nat');
    const svg = parseMarkup(renderSvg(input));
    const hop = one(svg, { id: 'f0-h1' }, 'g');
    expect(select(hop, { 'data-kind': 'nft' }, 'g').map((g) => `${g.attrs['data-hook']}:${g.attrs['data-table']}:${g.attrs['data-visited']}`)).toEqual([
      'in:netdev stateless/from_client:true',
      'PREROUTING:ip bypass/pre:true',
      'FORWARD:ip bypass/forward:true',
    ]);
    expect(one(hop, { 'data-table': 'ip bypass/forward' }, 'g').attrs['class']).toBe('decisive');
    expect(select(hop, { class: 'nftbar' }, 'rect')).toHaveLength(3);
    const dot = renderDot(input);
    expect(dot).toContain('<B>netdev stateless/from_client</B>');
    expect(dot).toMatch(/BGCOLOR="#fff3b0"><FONT COLOR="#1d2330"><B>ip bypass\/forward<\/B>/);
  });
});

describe('the stateless NAT lab: a ping without a mark dies at the forward policy', () => {
  it('marks the nft forward chain decisive and dropped, the rest of the way greyed, the listing ends at the policy', async () => {
    const t = await labTrace('client', ['-p', 'icmp', '-d', '10.0.2.2']);
    const lb = t.request[1]!;
    expect(lb.result.fate).toBe('dropped');
    const doc = parseMarkup(renderHtml(labDiagram(t, 'drop')));
    const art = one(doc, { id: 'f0-h1' }, 'article');
    expectBoxesInWalkOrder(art, lb.result);
    const fwd = one(art, { 'data-node': 'FORWARD', class: 'cell' });
    expect(fwd.attrs['data-dropped']).toBe('true');
    const b = one(art, { 'data-table': 'ip bypass/forward', class: 'tbl' });
    expect(hasClass(b, 'decisive') && hasClass(b, 'dropped')).toBe(true);
    expect(one(b, { class: 'sum' }).text).toBe('policy drop');
    expect(one(art, { 'data-node': 'POSTROUTING', class: 'cell' }).attrs['data-visited']).toBe('false');
    expect(one(art, { class: 'netfilter' }).attrs['data-path']).toBe('in PREROUTING route-in FORWARD');
    // No rule matched at ingress or prerouting: every rule skipped with why.
    expect(rows(walkOf(art, 'netdev stateless', 'from_client')).map((r) => r.outcome)).toEqual(['skipped', 'skipped', 'end']);
    expect(rows(walkOf(art, 'ip bypass', 'pre'))[0]!.out).toBe('skipped: meta mark { 0x00000001, 0x00000002 } (meta mark is 0x00000000)');
    expect(rows(walkOf(art, 'ip bypass', 'forward'))).toEqual([
      { num: '1', outcome: 'skipped', out: 'skipped: ct state untracked (ct state is new)', decisive: false },
      { num: '2', outcome: 'skipped', out: 'skipped: ct state untracked (ct state is new)', decisive: false },
      { num: undefined, outcome: 'end', out: 'policy drop', decisive: true },
    ]);
    // No rewrite happened: no label on the arrow.
    expect(select(one(art, { 'data-edge': 'in>PREROUTING', class: 'edge' }), { class: 'nat' })).toHaveLength(0);
  });
});

describe('single hosts set up with tsiptables nft -f, traced in-process', () => {
  let dir: string;
  let saved: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsi-diagram-nft-'));
    saved = process.env.TSIPTABLES_STATE;
    process.env.TSIPTABLES_STATE = join(dir, 'rules.v4');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TSIPTABLES_STATE;
    else process.env.TSIPTABLES_STATE = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  const io = { isTTY: false, env: {}, stdin: (): string => '' };
  const load = async (text: string): Promise<void> => {
    const file = join(dir, 'ruleset.nft');
    writeFileSync(file, text);
    const r = await runNft(['--host', join(EX, 'host.txt'), '-f', file], () => '', process.env.TSIPTABLES_STATE);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  };
  const page = async (packet: string[]): Promise<El> => {
    const r = await runTrace(['--host', join(EX, 'host.txt'), '--html', '-', ...packet], io);
    expect(r.stderr).toBe('');
    return one(parseMarkup(r.stdout), { id: 'f0-h0' }, 'article');
  };

  it('the README example (nft-edge): the ping rewritten at ingress, untracked, forwarded by ip bypass forward rule 1', async () => {
    await load(readFileSync(join(EX, 'ruleset.nft'), 'utf8'));
    const art = await page(['-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.1.1', '-i', 'eth0']);
    expect(art.attrs['data-fate']).toBe('forwarded');
    expect(visitedNames(art, 'in')).toEqual(['netdev stateless/from_client']);
    expect(visitedNames(art, 'PREROUTING')).toEqual(['ip bypass/pre']);
    expect(visitedNames(art, 'FORWARD')).toEqual(['ip bypass/forward']);
    expect(names(select(art, { class: 'tbl' }).filter((b) => hasClass(b, 'decisive')))).toEqual(['ip bypass/forward']);
    expect(select(one(art, { 'data-edge': 'in>PREROUTING', class: 'edge' }), { class: 'nat' }).map((e) => e.text)).toEqual(['ip daddr 10.0.1.1 → 10.0.2.2']);
    expect(one(art, { class: 'netfilter' }).attrs['data-path']).toBe('in PREROUTING route-in FORWARD POSTROUTING out');
  });

  it('the chain graph has the nft tables: base chains with their policy, jump/goto/vmap edges, the walked chains marked', async () => {
    await load(
      [
        'table inet fw {',
        '\tchain input {',
        '\t\ttype filter hook input priority filter; policy drop;',
        '\t\ttcp dport vmap { 22 : jump ssh, 80 : goto web }',
        '\t\tip saddr 10.0.1.2 jump ssh',
        '\t}',
        '\tchain ssh {',
        '\t\tip saddr 10.0.1.0/24 accept',
        '\t}',
        '\tchain web {',
        '\t\tlog prefix "jump unused " accept',
        '\t}',
        '\tchain unused {',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    const r = await runTrace(['--host', join(EX, 'host.txt'), '--html', '-', '-p', 'tcp', '-s', '10.0.1.2', '-d', '10.0.1.1', '--dport', '22', '-i', 'eth0'], io);
    expect(r.stderr).toBe('');
    const doc = parseMarkup(r.stdout);
    const sec = one(one(doc, { class: 'chain-graph' }, 'section'), { 'data-table': 'inet fw' }, 'section');
    expect(one(sec, {}, 'h3').text).toBe('inet fw: 4 chains, 4 rules, 3 jumps');
    const chains = select(sec, {}, 'tr').filter((tr) => tr.attrs['data-chain'] !== undefined);
    expect(chains.map((tr) => `${tr.attrs['data-chain']}:${tr.attrs['data-visited']}:${select(tr, {}, 'td').map((td) => td.text).join('|')}`)).toEqual([
      'input:true:input|2|policy drop|ssh, goto web|',
      'ssh:true:ssh|1|2||input #1,#2',
      'web:false:web|1|1||input #1',
      'unused:false:unused|0|0||',
    ]);
    expect(select(sec, { 'data-kind': 'goto' }, 'g').map((g) => g.attrs['data-edge'])).toEqual(['input>web']);
    // DOT of `tsiptables graph` has them as a cluster of their own, after the iptables tables.
    expect((await runIptables('tsiptables', ['-A', 'INPUT', '-j', 'ACCEPT'], process.env.TSIPTABLES_STATE)).status).toBe(0);
    const { buildChainGraph, chainGraphDot } = await import('../src/diagram/chain-graph');
    const { loadState } = await import('../src/io/state');
    const dot = chainGraphDot(buildChainGraph(loadState(process.env.TSIPTABLES_STATE!)));
    expect(dot.indexOf('subgraph "cluster_filter"')).toBeLessThan(dot.indexOf('subgraph "cluster_inet fw"'));
    expect(dot).toContain('"inet fw/input" -> "inet fw/web" [label="#1", style=dashed];');
    expect(dot).toContain('"inet fw/input" -> "inet fw/ssh" [label="#1,#2"];');
  });

  it('an nft nat chain behind the nat hook, an inet input chain: DNAT on the arrow, rules matched untraced', async () => {
    await load(
      [
        'table ip nat {',
        '\tchain pre {',
        '\t\ttype nat hook prerouting priority dstnat; policy accept;',
        '\t\ttcp dport 8080 dnat to 10.0.1.1:22',
        '\t}',
        '}',
        'table inet host {',
        '\tchain in {',
        '\t\ttype filter hook input priority filter; policy drop;',
        '\t\tcounter',
        '\t\ttcp dport 80 accept',
        '\t\ttcp dport 22 accept',
        '\t\ttcp dport 443 accept',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    const art = await page(['-p', 'tcp', '-s', '10.0.1.2', '-d', '10.0.1.1', '--dport', '8080', '-i', 'eth0']);
    expect(art.attrs['data-fate']).toBe('delivered');
    expect(names(boxes(art, 'PREROUTING'))).toEqual(['conntrack', 'ip nat/pre']);
    const nat = one(art, { 'data-table': 'ip nat/pre', class: 'tbl' });
    expect(nat.attrs['data-visited']).toBe('true');
    expect(select(nat, { class: 'nat' }).map((e) => e.text)).toEqual(['DNAT 10.0.1.1:8080 → 10.0.1.1:22']);
    expect(select(one(art, { 'data-edge': 'PREROUTING>route-in', class: 'edge' }), { class: 'nat' }).map((e) => e.text)).toEqual(['DNAT 10.0.1.1:8080 → 10.0.1.1:22']);
    expect(visitedNames(art, 'INPUT')).toEqual(['inet host/in']);
    const w = walkOf(art, 'inet host', 'in');
    expect(rows(w).map((r) => `${r.num}:${r.outcome}${r.decisive ? ':decisive' : ''}`)).toEqual(['1:matched', '2:skipped', '3:matched:decisive', '4:not-reached']);
    expect(rows(w)[1]!.out).toBe('skipped: tcp dport 80 (tcp dport is 22)');
    expect(one(art, { 'data-table': 'inet host/in', class: 'tbl' }).attrs['class']).toContain('decisive');
  });

  it("iptables' nat table and an nft nat chain behind the one nat hook: both walked in order, the DNAT on the chain that mapped", async () => {
    await load(['table ip natx {', '\tchain pre {', '\t\ttype nat hook prerouting priority dstnat; policy accept;', '\t\ttcp dport 8080 dnat to 10.0.2.2:80', '\t}', '}', ''].join('\n'));
    // Registered after the nft chain at the same priority: iptables' nat PREROUTING runs first, maps nothing for 8080.
    const ipt = await runIptables('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '8081', '-j', 'DNAT', '--to-destination', '10.0.2.2:81'], process.env.TSIPTABLES_STATE);
    expect(ipt.status).toBe(0);
    const r = await runTrace(['--host', join(EX, 'host.txt'), '--json', '-p', 'tcp', '-s', '10.0.1.2', '-d', '10.0.1.1', '--dport', '8080', '-i', 'eth0'], io);
    expect((JSON.parse(r.stdout) as { fate: string }).fate).toBe('forwarded');
    const art = await page(['-p', 'tcp', '-s', '10.0.1.2', '-d', '10.0.1.1', '--dport', '8080', '-i', 'eth0']);
    expect(names(boxes(art, 'PREROUTING'))).toEqual(['conntrack', 'nat', 'ip natx/pre']);
    expect(visitedNames(art, 'PREROUTING')).toEqual(['nat', 'ip natx/pre']);
    expect(select(one(art, { 'data-table': 'nat', 'data-hook': 'PREROUTING', class: 'tbl' }), { class: 'nat' })).toHaveLength(0);
    expect(select(one(art, { 'data-table': 'ip natx/pre', class: 'tbl' }), { class: 'nat' }).map((e) => e.text)).toEqual(['DNAT 10.0.1.1:8080 → 10.0.2.2:80']);
    expect(rows(walkOf(art, 'ip natx', 'pre')).map((x) => `${x.num}:${x.outcome}`)).toEqual(['1:matched']);
    expect(rows(one(art, { class: 'walk', 'data-table': 'nat', 'data-hook': 'PREROUTING' })).map((x) => `${x.num}:${x.outcome}`)).toEqual(['1:skipped', 'undefined:end']);
  });

  it('a drop at netdev egress: the out wire is where the packet died', async () => {
    await load(
      [
        'table netdev edge {',
        '\tchain out {',
        '\t\ttype filter hook egress device "eth1" priority 0; policy accept;',
        '\t\tip daddr 10.0.2.9 accept',
        '\t\tip daddr 10.0.2.2 drop',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    const art = await page(['-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.2.2', '-i', 'eth0']);
    expect(art.attrs['data-fate']).toBe('dropped');
    const out = one(art, { 'data-node': 'out', class: 'cell' });
    expect(out.attrs['data-visited']).toBe('true');
    expect(out.attrs['data-dropped']).toBe('true');
    expect(one(out, { class: 'label' }).text).toBe('out eth1');
    const b = one(out, { 'data-table': 'netdev edge/out', class: 'tbl' });
    expect(hasClass(b, 'decisive') && hasClass(b, 'dropped')).toBe(true);
    expect(one(b, { class: 'sum' }).text).toBe('#2 drop');
    expect(one(art, { 'data-node': 'POSTROUTING', class: 'cell' }).attrs['data-dropped']).toBe('false');
    expect(one(art, { class: 'netfilter' }).attrs['data-path']).toBe('in PREROUTING route-in FORWARD POSTROUTING out');
    expect(rows(walkOf(art, 'netdev edge', 'out')).map((r) => `${r.num}:${r.outcome}${r.decisive ? ':decisive' : ''}`)).toEqual(['1:skipped', '2:matched:decisive']);
    expect(one(art, { class: 'facts' }).text).toContain('netdev edge out rule 2 ip daddr 10.0.2.2 drop');
  });
});

describe('the hop view tolerates walks reported without rule events', () => {
  it('a walk whose rule events are missing (untraced) still shows the deciding rule from the trace steps', async () => {
    const t = await labTrace('client', ['-p', 'icmp', '-d', '10.0.1.1']);
    const lb = t.request[1]!;
    // The same trace with every rule/policy event of the nft walks taken out, as an untraced packet reports them.
    const events = lb.result.events.map((e) => (e.kind === 'nft' ? { ...e, events: e.events.filter((x) => x.kind === 'miss') } : e));
    const hop: DiagramHop = { host: 'lb', direction: 'request', result: { ...lb.result, events }, ruleset: lb.ruleset };
    const v = buildHopView(hop, 0, 'x');
    const fwd = v.walks.find((w) => w.table === 'ip bypass' && w.base === 'forward')!;
    expect(fwd.chains[0]!.rules.map((r) => `${r.num}:${r.outcome}${r.decisive ? ':decisive' : ''}`)).toEqual(['1:matched:decisive', '2:not-reached']);
    const ing = v.walks.find((w) => w.base === 'from_client')!;
    expect(ing.chains[0]!.rules.map((r) => `${r.num}:${r.outcome}`)).toEqual(['1:matched', '2:skipped']);
    expect(ing.chains[0]!.end?.text).toBe('policy accept');
    expect(v.nodes.get('in')!.tables[0]!.nat).toEqual(['ip daddr 10.0.1.1 → 10.0.2.2']);
    expect(v.decided?.text).toBe('ct state untracked meta mark 0x00000001 counter packets 0 bytes 0 accept');
  });
});
