/**
 * The walker's compiled path (rules skipped on their precompiled base, port and interface criteria, matches
 * those criteria prove left out, jump targets resolved once, and in long chains an index by destination address
 * and by protocol and destination port) must give what the naive walk gives (every rule tried, as when
 * explanations are collected): same steps, same verdict, same side effects in the same order (random picks,
 * LOG, REJECT, MARK) and the same counters, for random chains and packets (fast-check).
 */
import fc from 'fast-check';
import { restore } from '../src/io/restore';
import { Ruleset } from '../src/model/ruleset';
import { WalkCache, walkTable, type Step } from '../src/eval/walk';
import type { EvalContext } from '../src/eval/context';
import { PROTO_TCP, PROTO_UDP, PROTO_ICMP, type Packet } from '../src/eval/packet';
import { readFileSync } from 'node:fs';
import { BatchRunner } from '../src/eval/batch';
import type { TraceResult } from '../src/eval/trace';
import { Host } from '../src/eval/host';
import { BatchHistory, splitWords } from '../src/eval/packet-line';
import { parseDump } from '../src/io/state';
import { JsonLines } from '../src/cli/trace';
import { jsonView } from '../src/cli/trace-output';
import { recordedFiles } from '../scripts/trace-compare';
import type { TraceFixtureFile } from '../scripts/trace-fixture-format';
import { DEFAULT_OPTIONS, generate } from '../bench/gen-kube-proxy';

const addrs = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '192.168.1.1'];
const nets = ['10.0.0.0/8', '10.0.0.0/24', '10.0.1.0/24', '10.0.0.1/32', '10.0.0.2', '192.168.0.0/16', '0.0.0.0/0'];

const criterion = fc.oneof(
  fc.record({ k: fc.constant('-s'), v: fc.constantFrom(...nets), neg: fc.boolean() }),
  fc.record({ k: fc.constant('-d'), v: fc.constantFrom(...nets), neg: fc.boolean() }),
  fc.record({ k: fc.constant('-p'), v: fc.constantFrom('tcp', 'udp', 'icmp'), neg: fc.boolean() }),
  fc.record({ k: fc.constant('-i'), v: fc.constantFrom('eth0', 'eth1', 'eth+'), neg: fc.boolean() }),
);
const target = fc.constantFrom('-j ACCEPT', '-j DROP', '-j RETURN', '-j USER', '-g USER', '');
const ruleText = fc.tuple(fc.array(criterion, { maxLength: 3 }), target).map(([cs, t]) => {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const c of cs) {
    if (seen.has(c.k)) continue;
    seen.add(c.k);
    parts.push(`${c.neg ? '! ' : ''}${c.k} ${c.v}`);
  }
  return `${parts.join(' ')} ${t}`.trim();
});

const parse = (text: string): Ruleset =>
  restore(text, new Ruleset(), { counters: false, noflush: false, test: false, onlyTable: undefined, verbose: false, programName: 't', warn: () => undefined }).ruleset;

function ruleset(input: string[], user: string[]): Ruleset {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', ':USER - [0:0]'];
  for (const r of input) lines.push(`-A FORWARD ${r}`.trimEnd());
  for (const r of user) lines.push(`-A USER ${r.replace(/-[jg] USER/, '-j ACCEPT')}`.trimEnd());
  lines.push('COMMIT', '');
  return parse(lines.join('\n'));
}

function packet(src: string, dst: string, proto: number, iface: string, sport = 1, dport = 2, mark = 0, out = 'eth9'): Packet {
  const a = (s: string): number => s.split('.').reduce((x, b) => x * 256 + Number(b), 0) >>> 0;
  return {
    src: a(src), dst: a(dst), proto, tos: 0, ttl: 64, id: 1, df: true, len: 60, ipOptions: new Uint8Array(0),
    sport, dport, tcpFlags: 2, seq: 0, ackSeq: 0, window: 0, urgPtr: 0, tcpOptions: new Uint8Array(0),
    icmpType: 8, icmpCode: 0, icmpId: 0, icmpSeq: 0, quoted: undefined, mark, inIface: iface, outIface: out,
    macSrc: null, macDst: null, uid: undefined, gid: undefined,
  };
}

function walk(rs: Ruleset, p: Packet, naive: boolean): { steps: string[]; verdict: string } {
  const steps: string[] = [];
  const res = walkTable(rs.tables.get('filter')!, 'FORWARD', p, true, () => ({}) as EvalContext, {
    step: (s: Step) => steps.push(`${s.chain}:${s.type}:${s.num}:${s.verdict}`),
    miss: naive ? () => undefined : undefined,
    unsimulated: () => undefined,
  });
  return { steps, verdict: res.verdict };
}

test.each([
  ['short chains (scanned)', 0, 12, 400],
  ['long chains (indexed)', 64, 130, 120],
])('the compiled walk equals the naive walk: %s', (_name, min, max, runs) => {
  fc.assert(
    fc.property(
      fc.array(ruleText, { minLength: min, maxLength: max }),
      fc.array(ruleText, { maxLength: 6 }),
      fc.constantFrom(...addrs),
      fc.constantFrom(...addrs),
      fc.constantFrom(PROTO_TCP, PROTO_UDP, PROTO_ICMP),
      fc.constantFrom('eth0', 'eth1', 'wlan0'),
      (fwd, user, s, d, proto, iface) => {
        const rs = ruleset(fwd, user);
        expect(walk(rs, packet(s, d, proto, iface), false)).toEqual(walk(rs, packet(s, d, proto, iface), true));
      },
    ),
    { numRuns: runs },
  );
});

// ---------------------------------------------------------------------------------------------------------
// Ports, multiport, matches with side effects, targets, gotos and returns; several packets through one cache.

const PORTS = [22, 80, 443, 1000, 1500, 8080, 40000];
const portSpec = fc.constantFrom('22', '80', '443', '1000', '8080', '1000:2000', '0:1023', '80:443');
const portList = fc.array(fc.constantFrom('22', '80', '443', '1000', '8080', '1000:2000', '0:1023'), { minLength: 1, maxLength: 3 }).map((l) => l.join(','));
const bang = (neg: boolean): string => (neg ? '! ' : '');
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { nil: null });

/** `-p tcp|udp` with port options of the implicit match and a multiport match, or another protocol part. */
const protoPart = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('', '-p icmp', '! -p tcp', '! -p udp') },
  {
    weight: 4,
    arbitrary: fc
      .record({
        p: fc.constantFrom('tcp', 'udp'),
        sport: maybe(fc.tuple(fc.boolean(), portSpec)),
        dport: maybe(fc.tuple(fc.boolean(), portSpec)),
        syn: maybe(fc.boolean()),
        multi: maybe(fc.tuple(fc.boolean(), fc.constantFrom('dports', 'sports', 'ports'), portList)),
      })
      .map(({ p, sport, dport, syn, multi }) => {
        const parts = [`-p ${p}`];
        if (sport) parts.push(`${bang(sport[0])}--sport ${sport[1]}`);
        if (dport) parts.push(`${bang(dport[0])}--dport ${dport[1]}`);
        if (syn !== null && p === 'tcp') parts.push(`${bang(syn)}--syn`);
        if (multi) parts.push(`-m multiport ${bang(multi[0])}--${multi[1]} ${multi[2]}`);
        return parts.join(' ');
      }),
  },
);
/** Matches of their own: side-effect free (comment, mark) and not (statistic asks, or counts packets). */
const extra = fc.constantFrom('-m comment --comment c', '-m statistic --mode random --probability 0.5', '-m statistic --mode nth --every 2 --packet 0', '-m mark --mark 0x1', '-m mark ! --mark 0x1');
const richTarget = fc.constantFrom('-j ACCEPT', '-j DROP', '-j RETURN', '-j USER', '-g USER', '-j USER2', '-g USER2', '', '', '-j LOG --log-prefix x', '-j REJECT', '-j MARK --set-mark 0x1');
const richRule = fc
  .record({
    s: maybe(fc.tuple(fc.boolean(), fc.constantFrom(...nets))),
    // Mostly single addresses: the destination index.
    d: maybe(fc.tuple(fc.boolean(), fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.1.1', '192.168.1.1', '10.0.0.0/24', '0.0.0.0/0'))),
    i: maybe(fc.tuple(fc.boolean(), fc.constantFrom('eth0', 'eth1', 'eth+'))),
    o: maybe(fc.tuple(fc.boolean(), fc.constantFrom('eth9', 'eth0'))),
    proto: protoPart,
    extras: fc.uniqueArray(extra, { maxLength: 2, selector: (e) => e.split(' ')[1] }),
    extrasFirst: fc.boolean(),
    target: richTarget,
  })
  .map((r) => {
    const parts: string[] = [];
    if (r.s) parts.push(`${bang(r.s[0])}-s ${r.s[1]}`);
    if (r.d) parts.push(`${bang(r.d[0])}-d ${r.d[1]}`);
    if (r.i) parts.push(`${bang(r.i[0])}-i ${r.i[1]}`);
    if (r.o) parts.push(`${bang(r.o[0])}-o ${r.o[1]}`);
    // Extensions before the port match: a random pick or an nth count must still happen when the ports miss.
    if (r.extrasFirst) parts.push(...r.extras, r.proto);
    else parts.push(r.proto, ...r.extras);
    return { text: parts.filter((x) => x !== '').join(' '), target: r.target };
  });

/** Rules as long kube-proxy chains have them, which the index files by address or by port: most packets pass them. */
const narrowRule = fc
  .record({
    d: maybe(fc.constantFrom(...addrs)),
    p: fc.constantFrom('tcp', 'udp'),
    ports: fc.oneof(
      fc.constantFrom(...PORTS).map((x) => `--dport ${x}`),
      fc.constantFrom(...PORTS).map((x) => `-m multiport --dports ${x},${(x + 1) % 65536}`),
      fc.constant(''),
    ),
    comment: fc.boolean(),
    target: fc.constantFrom('-j ACCEPT', '-j DROP', '-j USER', '-j LOG --log-prefix n', ''),
  })
  .map((r) => ({ text: [r.d ? `-d ${r.d}/32` : '', r.comment ? '-m comment --comment svc' : '', `-p ${r.p}`, r.ports].filter((x) => x !== '').join(' '), target: r.target }));
const chainRule = fc.oneof({ weight: 1, arbitrary: richRule }, { weight: 2, arbitrary: narrowRule });

type RuleArgs = { text: string; target: string };

function richRuleset(fwd: RuleArgs[], user: RuleArgs[], user2: RuleArgs[], user3: RuleArgs[]): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', ':USER - [0:0]', ':USER2 - [0:0]', ':USER3 - [0:0]'];
  const rule = (chain: string, r: RuleArgs, t: string): string => `-A ${chain} ${r.text} ${t}`.replace(/ +/g, ' ').trimEnd();
  for (const r of fwd) lines.push(rule('FORWARD', r, r.target));
  // FORWARD jumps to USER and USER2, USER to USER2, USER2 to USER3, USER3 nowhere (no loops): USER2 and USER3
  // are reached on more than one path.
  for (const r of user) lines.push(rule('USER', r, r.target.replace(/-([jg]) USER$/, '-$1 USER2')));
  for (const r of user2) lines.push(rule('USER2', r, r.target.replace(/-([jg]) USER2?$/, '-$1 USER3')));
  for (const r of user3) lines.push(rule('USER3', r, r.target.replace(/-[jg] USER2?$/, '-j RETURN')));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** A context recording every side effect in order; random picks answered from a fixed sequence. */
function recorder(p: Packet, log: string[]): (chain: string) => EvalContext {
  const memory = new Map<object, unknown>();
  let picks = 0;
  let chain = '';
  const ctx = {
    hook: 'FORWARD',
    table: 'filter',
    get chain() {
      return chain;
    },
    pkt: p,
    ctState: 'NEW',
    ct: undefined,
    ctReply: false,
    now: new Date(0),
    decide(ext: string, question: string) {
      const answer = picks++ % 3 !== 1;
      log.push(`${chain}: ${ext} ${question} -> ${answer}`);
      return answer;
    },
    memory<T>(key: object, init: () => T): T {
      if (!memory.has(key)) memory.set(key, init());
      return memory.get(key) as T;
    },
    log: (req: { prefix: string }) => log.push(`${chain}: LOG ${req.prefix} mark ${p.mark}`),
    nat: () => log.push(`${chain}: nat`),
    reject: (w: string) => log.push(`${chain}: reject ${w}`),
    notrack: () => log.push(`${chain}: notrack`),
    startTrace: () => undefined,
    note: (t: string) => log.push(`${chain}: note ${t}`),
  } as unknown as EvalContext;
  return (c) => {
    chain = c;
    return ctx;
  };
}

interface PacketArgs {
  src: string;
  dst: string;
  proto: number;
  iface: string;
  out: string;
  sport: number;
  dport: number;
  mark: number;
}
const packetArgs: fc.Arbitrary<PacketArgs> = fc.record({
  src: fc.constantFrom(...addrs),
  dst: fc.constantFrom(...addrs),
  proto: fc.constantFrom(PROTO_TCP, PROTO_UDP, PROTO_ICMP),
  iface: fc.constantFrom('eth0', 'eth1', 'wlan0'),
  out: fc.constantFrom('eth9', 'eth0'),
  sport: fc.constantFrom(...PORTS),
  dport: fc.constantFrom(...PORTS),
  mark: fc.constantFrom(0, 1),
});

/**
 * Walks the packets one after another (one cache for the compiled walk, counting in BigInts or deferred and
 * flushed at the end); steps, side effects, counters.
 */
function series(text: string, packets: readonly PacketArgs[], mode: 'naive' | 'compiled' | 'deferred'): { walks: unknown[]; counters: string[] } {
  const rs = parse(text);
  const table = rs.tables.get('filter')!;
  const naive = mode === 'naive';
  const cache = new WalkCache({ deferCounters: mode === 'deferred' });
  const walks = packets.map((a) => {
    const p = packet(a.src, a.dst, a.proto, a.iface, a.sport, a.dport, a.mark, a.out);
    const steps: string[] = [];
    const effects: string[] = [];
    const res = walkTable(
      table,
      'FORWARD',
      p,
      true,
      recorder(p, effects),
      {
        step: (s: Step) => steps.push(`${s.chain}:${s.type}:${s.num}:${s.verdict}:${s.path.join('>')}`),
        miss: naive ? () => undefined : undefined,
        unsimulated: (what) => effects.push(`unsimulated ${what}`),
      },
      naive ? undefined : cache,
    );
    return { steps, effects, verdict: res.verdict, decided: res.decidedBy ? `${res.decidedBy.chain}:${res.decidedBy.num}` : null, mark: p.mark };
  });
  cache.flushCounters();
  const counters: string[] = [];
  for (const c of table.chains.values()) {
    counters.push(`${c.name} policy ${c.counters.packets}/${c.counters.bytes}`);
    c.rules.forEach((r, i) => counters.push(`${c.name} ${i + 1} ${r.counters.packets}/${r.counters.bytes}`));
  }
  return { walks, counters };
}

test.each([
  ['short chains (scanned)', 0, 12, 300],
  ['chains around the index threshold', 24, 40, 100],
  ['long chains (indexed by address and by port)', 48, 120, 80],
])('the compiled walk equals the naive walk with ports, multiport, side effects and jumps: %s', (_name, min, max, runs) => {
  fc.assert(
    fc.property(
      fc.array(chainRule, { minLength: min, maxLength: max }),
      fc.array(richRule, { maxLength: 8 }),
      fc.array(richRule, { maxLength: 5 }),
      fc.array(richRule, { maxLength: 4 }),
      fc.array(packetArgs, { minLength: 1, maxLength: 6 }),
      (fwd, user, user2, user3, packets) => {
        const text = richRuleset(fwd, user, user2, user3);
        const naive = series(text, packets, 'naive');
        expect(series(text, packets, 'compiled')).toEqual(naive);
        expect(series(text, packets, 'deferred')).toEqual(naive);
      },
    ),
    { numRuns: runs },
  );
});

test('the index by address and by port on a kube-proxy style chain (tcp and udp node ports, cluster IPs, multiport)', () => {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (let i = 0; i < 200; i++) lines.push(`-A FORWARD -p tcp -m comment --comment "node port ${i}" -m tcp --dport ${30000 + i} -j ACCEPT`);
  for (let i = 0; i < 200; i++) lines.push(`-A FORWARD -d 10.96.${i >> 8}.${i & 255}/32 -p udp -m udp --dport 53 -j ACCEPT`);
  for (let i = 0; i < 100; i++) lines.push(`-A FORWARD -p udp -m udp --dport ${31000 + i} -j ACCEPT`);
  lines.push('-A FORWARD -p tcp -m multiport --dports 80,443 -j DROP', 'COMMIT', '');
  const text = lines.join('\n');
  const packets: PacketArgs[] = [
    { src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_TCP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 30123, mark: 0 },
    { src: '10.0.0.1', dst: '10.96.0.77', proto: PROTO_UDP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 53, mark: 0 },
    { src: '10.0.0.1', dst: '10.96.0.77', proto: PROTO_TCP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 443, mark: 0 },
    { src: '10.0.0.1', dst: '10.96.0.77', proto: PROTO_UDP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 54, mark: 0 },
    { src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_UDP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 31007, mark: 0 },
    { src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_UDP, iface: 'eth0', out: 'eth9', sport: 1000, dport: 30007, mark: 0 },
  ];
  const fast = series(text, packets, 'compiled');
  expect(fast).toEqual(series(text, packets, 'naive'));
  expect(series(text, packets, 'deferred')).toEqual(fast);
  expect(fast.walks.map((w) => (w as { decided: string | null }).decided)).toEqual(['FORWARD:124', 'FORWARD:278', 'FORWARD:501', 'FORWARD:502', 'FORWARD:408', 'FORWARD:502']);
});

test('a chain reached on two paths: each step names the path it was reached on', () => {
  const text = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':USER - [0:0]',
    ':USER2 - [0:0]',
    ':USER3 - [0:0]',
    '-A FORWARD -p tcp -j USER',
    '-A FORWARD -j USER2',
    '-A USER -j USER2',
    '-A USER2 -j USER3',
    '-A USER3 -j LOG --log-prefix deep',
    'COMMIT',
    '',
  ].join('\n');
  const p = (proto: number): PacketArgs => ({ src: '10.0.0.1', dst: '10.0.0.2', proto, iface: 'eth0', out: 'eth9', sport: 1000, dport: 80, mark: 0 });
  const packets = [p(PROTO_TCP), p(PROTO_UDP), p(PROTO_TCP)];
  const fast = series(text, packets, 'compiled');
  expect(fast).toEqual(series(text, packets, 'naive'));
  const deepest = fast.walks.map((w) => (w as { steps: string[] }).steps.find((s) => s.startsWith('USER3:rule')));
  expect(deepest).toEqual(['USER3:rule:1:CONTINUE:FORWARD>USER>USER2>USER3', 'USER3:rule:1:CONTINUE:FORWARD>USER2>USER3', 'USER3:rule:1:CONTINUE:FORWARD>USER>USER2>USER3']);
});

// ---------------------------------------------------------------------------------------------------------
// The --batch --json writer against the JSON view it stands for.

/**
 * Packets through two BatchRunners, one keeping every event as the other views need them, one only those of the
 * JSON view (as `--json --batch` runs); the writer's line of either result must be JSON.stringify(jsonView())
 * of the full one. One writer may serve several rulesets (what it remembers per rule must notice the change).
 */
function jsonMismatches(rules: string, host: string, packets: readonly string[], explain: boolean, lines = new JsonLines(), assume = new Map<string, boolean>()): string[] {
  const opts = { explain, assume, now: new Date(0), stepPackets: false, deferCounters: true };
  const full = new BatchRunner(parseDump(rules), Host.parse(host), opts);
  const lean = new BatchRunner(parseDump(rules), Host.parse(host), { ...opts, events: 'json' });
  const bad: string[] = [];
  // The batch's way: every line appended to one writer, taken as one string at the end.
  const appended = new JsonLines();
  let wanted = '';
  for (const p of packets) {
    let r: TraceResult;
    try {
      r = full.next(splitWords(p));
    } catch (e) {
      expect(() => lean.next(splitWords(p))).toThrow((e as Error).message);
      continue;
    }
    const l = lean.next(splitWords(p));
    const want = JSON.stringify(jsonView(r)) + '\n';
    for (const got of [lines.line(r), lines.line(l), JSON.stringify(jsonView(l)) + '\n']) if (got !== want) bad.push(`${p}\n  want ${want}  got  ${got}`);
    appended.append(l);
    wanted += want;
  }
  if (appended.take() !== wanted) bad.push('the appended lines, taken at once, differ');
  return bad;
}

test('the --json writer of a batch prints JSON.stringify(jsonView(result)) for every recorded kernel case', () => {
  let packets = 0;
  const bad: string[] = [];
  const writer = new JsonLines();
  for (const f of recordedFiles()) {
    const data = JSON.parse(readFileSync(f, 'utf8')) as TraceFixtureFile;
    for (const sc of data.scenarios) {
      const lines = sc.packets.map((p) => p.packet);
      packets += lines.length;
      for (const explain of [false, true]) bad.push(...jsonMismatches(sc.rules, sc.host, lines, explain, writer));
    }
  }
  expect(packets).toBeGreaterThan(600);
  expect(bad).toEqual([]);
});

test('the --json writer of a batch prints JSON.stringify(jsonView(result)) on a kube-proxy ruleset', () => {
  const dump = generate({ ...DEFAULT_OPTIONS, services: 40 });
  const svc = [...dump.matchAll(/^-A KUBE-SERVICES .*-p (tcp|udp) -d (\S+?)(?:\/32)? --dport (\d+) -j KUBE-SVC-/gm)];
  expect(svc.length).toBeGreaterThan(10);
  const packets: string[] = [];
  svc.forEach((m, i) => {
    const [, proto, ip, port] = m;
    packets.push(`-p ${proto!} -s 192.168.1.${1 + (i % 200)} -d ${ip!} --sport ${2000 + i} --dport ${port!} -i eth1`);
    packets.push(`-p ${proto!} -s ${ip!} -d 192.168.1.${1 + (i % 200)} --sport ${port!} --dport ${2000 + i} -i eth0`);
    packets.push(`-p icmp -s 192.168.1.${1 + (i % 200)} -d ${ip!} -i eth1`);
    packets.push(`-p tcp -s 10.0.0.10 -d ${ip!} --dport ${port!}`);
  });
  const host = 'ip addr add 10.0.0.10/8 dev eth0\nip addr add 192.168.0.10/16 dev eth1\nsysctl -w net.ipv4.ip_forward=1\n';
  expect(jsonMismatches(dump, host, packets, false)).toEqual([]);
  // Every random pick answered no: each service's last endpoint, after the 1/3 and 1/2 picks.
  expect(jsonMismatches(dump, host, packets, false, new JsonLines(), new Map([['statistic', false]]))).toEqual([]);
});

test('the batch history finds the flows and address pairs a plain record of every packet finds', () => {
  const addr = fc.constantFrom(0x0a000001, 0x0a000002, 0xc0a80101, 0xfffffffe, 0x80000000);
  const pkt = fc.record({ proto: fc.constantFrom(PROTO_TCP, PROTO_UDP, PROTO_ICMP), src: addr, dst: addr, sport: fc.constantFrom(0, 80, 65535, 40000), dport: fc.constantFrom(0, 80, 65535, 40000), seq: fc.constantFrom(0, 1000, 0xffffffff), tcpFlags: fc.constantFrom(2, 16, 1, 18) });
  const full = (p: { proto: number; src: number; dst: number; sport: number; dport: number; seq: number; tcpFlags: number }): Packet => ({ ...packet('0.0.0.0', '0.0.0.0', p.proto, 'eth0', p.sport, p.dport), src: p.src, dst: p.dst, seq: p.seq, tcpFlags: p.tcpFlags });
  fc.assert(
    fc.property(fc.array(fc.tuple(pkt, fc.option(pkt, { nil: undefined })), { maxLength: 30 }), fc.array(pkt, { maxLength: 10 }), (sent, asked) => {
      const h = new BatchHistory();
      const quotes = new Map<string, Packet>();
      const given = new Map<string, number>();
      const any = new Map<string, number>();
      const key = (p: Packet): string => `${p.proto} ${p.src} ${p.dst} ${p.sport} ${p.dport}`;
      sent.forEach(([g, w], i) => {
        // Halfway, an ICMP error's question builds the index by address pair; later packets must update it.
        if (i === sent.length >> 1) h.latestBetween(0, 0);
        const gp = full(g);
        const wp = w ? full(w) : gp;
        h.add({ given: gp, wire: wp });
        quotes.set(`${gp.src} ${gp.dst}`, gp);
        quotes.set(`${wp.src} ${wp.dst}`, wp);
        if (gp.proto === PROTO_TCP) {
          const next = (gp.seq + (gp.tcpFlags & 3 ? 1 : 0)) >>> 0;
          given.set(key(gp), next);
          any.set(key(gp), next);
          any.set(key(wp), next);
        }
      });
      for (const a of asked) {
        const p = full(a);
        expect(h.sameFlow(p)).toBe(given.get(key(p)));
        expect(h.otherDirection(p)).toBe(any.get(`${p.proto} ${p.dst} ${p.src} ${p.dport} ${p.sport}`));
        const q = quotes.get(`${p.src} ${p.dst}`);
        expect(h.latestBetween(p.src, p.dst)).toEqual(q && { src: q.src, dst: q.dst, proto: q.proto, tos: q.tos, ttl: q.ttl, id: q.id, df: q.df, len: q.len, sport: q.sport, dport: q.dport, seq: q.seq, icmpType: q.icmpType, icmpCode: q.icmpCode, icmpId: q.icmpId, icmpSeq: q.icmpSeq });
      }
    }),
    { numRuns: 300 },
  );
});

test('the --json writer escapes as JSON.stringify does: any text in any string field', () => {
  const rules = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:USER - [0:0]\n-A FORWARD -j USER\n-A USER -p tcp -j LOG --log-prefix x\n-A USER -j REJECT\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.2.9\nCOMMIT\n';
  const host = 'ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\nsysctl -w net.ipv4.ip_forward=1\n';
  const runner = new BatchRunner(parseDump(rules), Host.parse(host), { explain: false, assume: new Map([['statistic', true]]), now: new Date(0), stepPackets: false });
  const base = runner.next(splitWords('-p tcp -s 10.0.1.2 -d 10.0.1.1 --dport 80 -i eth0'));
  expect(base.steps.length).toBeGreaterThan(2);
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('a"b', 'a\\b', '\t\n\u0000', '\u001f', 'x\u0001', '\u2028\u2029', '\ud800', 'x\udfffy', '😀', 'é', '\u007f'));
  const writer = new JsonLines();
  // Lines appended one after another and taken together: a plain one and one with any text, in one string.
  const batch = new JsonLines();
  fc.assert(
    fc.property(fc.array(text, { minLength: 8, maxLength: 8 }), (t) => {
      const r: TraceResult = {
        ...base,
        verdict: t[0]!,
        reason: t[1]!,
        in: t[2]!,
        rejectWith: t[3]!,
        steps: base.steps.map((s, i) => ({ ...s, chain: i === 1 ? t[4]! : s.chain })),
        events: [...base.events, { kind: 'route', text: t[5]! }, { kind: 'note', text: t[6]! }, { kind: 'unsimulated', what: t[7]! }, { kind: 'nat', manip: 'dst', before: t[0]!, after: t[5]!, note: undefined }],
        assumptions: [{ ext: t[6]!, question: t[7]!, answer: true, probability: 0.5 }],
        decidedBy: base.decidedBy && { ...base.decidedBy, chain: t[4]!, path: [t[4]!, t[2]!] },
      };
      const want = JSON.stringify(jsonView(r)) + '\n';
      expect(writer.line(r)).toBe(want);
      batch.append(base);
      batch.append(r);
      expect(batch.take()).toBe(JSON.stringify(jsonView(base)) + '\n' + want);
    }),
    { numRuns: 500 },
  );
  // All plain: taken as Latin-1.
  batch.append(base);
  expect(batch.take()).toBe(JSON.stringify(jsonView(base)) + '\n');
});

test('the --json writer: a rule line with non-ASCII text, and a buffer grown past its size', () => {
  const rules = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m comment --comment "café 😀" -j ACCEPT\nCOMMIT\n';
  const host = 'ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\nsysctl -w net.ipv4.ip_forward=1\n';
  const runner = new BatchRunner(parseDump(rules), Host.parse(host), { explain: false, assume: new Map(), now: new Date(0), stepPackets: false });
  const r = runner.next(splitWords('-p udp -s 10.0.1.2 -d 10.0.2.2 -i eth0'));
  expect(r.decidedBy?.rule?.line).toContain('café');
  const writer = new JsonLines();
  // Only the deciding rule's line (written from the writer's memory) is not ASCII.
  writer.append(r);
  expect(writer.take()).toBe(JSON.stringify(jsonView(r)) + '\n');
  // Lines of 15,000 bytes and more, 40 of them: the buffer grows several times, a multi-byte character at its end.
  let wanted = '';
  for (let i = 0; i < 40; i++) {
    const long: TraceResult = { ...r, verdict: `${'x'.repeat(i)}${'é'.repeat(5000)}`, reason: '😀'.repeat(i) };
    writer.append(long);
    wanted += JSON.stringify(jsonView(long)) + '\n';
  }
  expect(writer.take()).toBe(wanted);
});

test('the batch history keeps every flow of a long batch (its table grows many times)', () => {
  const h = new BatchHistory();
  const given = new Map<string, number>();
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const key = (p: Packet): string => `${p.proto} ${p.src} ${p.dst} ${p.sport} ${p.dport}`;
  // Random flows, and flows alike but in one field (only the destination, the source, a port or the protocol
  // differs): every field of the key must tell them apart.
  const make = (): Packet => {
    const kind = rnd(5);
    const sport = kind === 0 ? rnd(65536) : kind === 3 ? rnd(30000) : 1000;
    const dport = kind === 0 ? rnd(3) * 40000 : 80;
    const p = packet('0.0.0.0', '0.0.0.0', kind === 4 ? rnd(256) : PROTO_TCP, 'eth0', sport, dport);
    return { ...p, src: kind === 0 ? (0xc0a80000 + rnd(20000)) >>> 0 : kind === 2 ? (0x0a000000 + rnd(30000)) >>> 0 : 0xc0a80101, dst: kind === 0 ? 0x0a600001 + rnd(50) : kind === 1 ? (0xac100000 + rnd(30000)) >>> 0 : 0x0a600001, seq: rnd(2 ** 31), tcpFlags: 2 };
  };
  for (let i = 0; i < 30000; i++) {
    const p = make();
    h.add({ given: p, wire: p });
    // Only TCP flows are kept (their sequence numbers); a SYN takes one.
    if (p.proto === PROTO_TCP) given.set(key(p), (p.seq + 1) >>> 0);
  }
  expect(given.size).toBeGreaterThan(20000);
  // The protocol is part of the flow.
  const tcp = { ...packet('0.0.0.0', '0.0.0.0', PROTO_TCP, 'eth0', 1000, 80), src: 0xc0a80101, dst: 0x0a600001, seq: 41 };
  const probe = new BatchHistory();
  probe.add({ given: tcp, wire: tcp });
  expect(probe.sameFlow(tcp)).toBe(42);
  expect(probe.sameFlow({ ...tcp, proto: PROTO_UDP })).toBeUndefined();
  seed = 7;
  for (let i = 0; i < 30000; i++) {
    const p = make();
    expect(h.sameFlow(p)).toBe(given.get(key(p)));
    const q = make();
    expect(h.sameFlow(q)).toBe(given.get(key(q)));
  }
});
