/**
 * The random scenario generator (scripts/gen-trace-scenarios.ts): deterministic for a seed, every PACKET line in
 * the documented syntax (scripts/trace-fixture-format.ts) with the fields the recorder needs, every HOSTFILE line
 * one of the documented commands, and every ruleset accepted by tsiptables' own restore parser (`--test`) with
 * only extensions tsiptables has. This checks the generator, not the kernel. The committed scenario files
 * (fixtures/traces/scenarios/generated-<seed>.json) must be what the generator makes for their seed.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRestore } from '../src/cli/main';
import { parseIcmpType } from '../src/extensions/matches/icmp';
import { findMatch, findTarget } from '../src/extensions/registry';
import { Host } from '../src/eval/host';
import { parsePacketArgs, splitWords } from '../src/eval/packet-line';
import { generate, generateScenario } from '../scripts/gen-trace-scenarios';
import type { TraceFixtureFile, TraceScenario } from '../scripts/trace-fixture-format';

const SEEDS = [1, 2, 3, 424242];
const COUNT = 60;
const runs = SEEDS.map((seed) => [seed, generate({ seed, count: COUNT, date: 'fixed' })] as const);
const all: Array<[string, TraceScenario]> = runs.flatMap(([, f]) => f.scenarios.map((s) => [s.name, s] as [string, TraceScenario]));

// ---------------------------------------------------------------------------------------------------------------
// The PACKET syntax of scripts/trace-fixture-format.ts

interface ParsedPacket {
  opts: Map<string, string[]>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const TCP_FLAG_WORDS = new Set(['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ALL', 'NONE']);

const intIn = (lo: number, hi: number) => (v: string): boolean => /^\d+$/.test(v) && Number(v) >= lo && Number(v) <= hi;
const flagList = (v: string): boolean => v.split(',').every((w) => TCP_FLAG_WORDS.has(w));

/** option -> [argument checks]. */
const SYNTAX: Record<string, Array<(v: string) => boolean>> = {
  '-p': [(v) => ['tcp', 'udp', 'icmp'].includes(v) || intIn(0, 255)(v)],
  '-s': [(v) => IPV4.test(v)],
  '-d': [(v) => IPV4.test(v)],
  '--sport': [intIn(0, 65535)],
  '--dport': [intIn(0, 65535)],
  '--syn': [],
  '--tcp-flags': [flagList, flagList],
  '--icmp-type': [
    (v) => {
      try {
        parseIcmpType(v);
        return true;
      } catch {
        return false;
      }
    },
  ],
  '--icmp-id': [intIn(0, 65535)],
  '--icmp-seq': [intIn(0, 65535)],
  '-i': [(v) => /^[a-z][a-z0-9]{0,14}$/.test(v)],
  '--uid': [intIn(0, 0xffffffff)],
  '--gid': [intIn(0, 0xffffffff)],
  '--mark': [(v) => /^(0x[0-9a-f]+|\d+)$/i.test(v)],
  '--len': [intIn(20, 65535)],
  '--ttl': [intIn(0, 255)],
  '--tos': [(v) => /^(0x[0-9a-f]{1,2}|\d+)$/i.test(v) && Number(v) <= 255],
  '--ip-id': [intIn(0, 65535)],
  '--no-df': [],
  '--seq': [intIn(0, 0xffffffff)],
  '--ack-seq': [intIn(0, 0xffffffff)],
  '--window': [intIn(0, 65535)],
  '--mac-source': [(v) => MAC.test(v)],
};

function parsePacket(line: string): ParsedPacket {
  const words = line.split(' ');
  const opts = new Map<string, string[]>();
  for (let i = 0; i < words.length; ) {
    const w = words[i++]!;
    const checks = SYNTAX[w];
    if (!checks) throw new Error(`unknown option ${JSON.stringify(w)} in: ${line}`);
    if (opts.has(w)) throw new Error(`${w} twice in: ${line}`);
    const args = words.slice(i, i + checks.length);
    if (args.length !== checks.length) throw new Error(`${w} needs ${checks.length} argument(s): ${line}`);
    checks.forEach((c, k) => {
      if (!c(args[k]!)) throw new Error(`bad argument ${JSON.stringify(args[k])} for ${w}: ${line}`);
    });
    opts.set(w, args);
    i += checks.length;
  }
  for (const req of ['-p', '-s', '-d']) if (!opts.has(req)) throw new Error(`${req} missing: ${line}`);
  const proto = opts.get('-p')![0];
  const tcpOnly = ['--syn', '--tcp-flags', '--seq', '--ack-seq', '--window'];
  const icmpOnly = ['--icmp-type', '--icmp-id', '--icmp-seq'];
  for (const o of tcpOnly) if (opts.has(o) && proto !== 'tcp') throw new Error(`${o} without -p tcp: ${line}`);
  for (const o of icmpOnly) if (opts.has(o) && proto !== 'icmp') throw new Error(`${o} without -p icmp: ${line}`);
  for (const o of ['--sport', '--dport']) if (opts.has(o) && proto !== 'tcp' && proto !== 'udp') throw new Error(`${o} without tcp/udp: ${line}`);
  if (opts.has('--syn') && opts.has('--tcp-flags')) throw new Error(`--syn and --tcp-flags: ${line}`);
  if (opts.has('-i') && (opts.has('--uid') || opts.has('--gid'))) throw new Error(`--uid on an arriving packet: ${line}`);
  return { opts };
}

const get = (p: ParsedPacket, o: string): string | undefined => p.opts.get(o)?.[0];
const flagsOf = (p: ParsedPacket): string => (p.opts.has('--syn') ? 'SYN' : (p.opts.get('--tcp-flags')?.[1] ?? ''));

// ---------------------------------------------------------------------------------------------------------------
// HOSTFILE lines

const HOST_LINE = [
  /^#/,
  /^ip addr add \d+\.\d+\.\d+\.\d+\/\d+ dev (eth\d)$/,
  /^ip route add (default|\d+\.\d+\.\d+\.\d+\/\d+)( via \d+\.\d+\.\d+\.\d+)?( dev (eth\d))?$/,
  /^ip link set dev (eth\d) address [0-9a-f]{2}(:[0-9a-f]{2}){5}$/,
  /^sysctl -w net\.ipv4\.ip_forward=[01]$/,
  /^sysctl -w net\.ipv4\.conf\.(all|eth\d)\.rp_filter=[012]$/,
];

function interfaces(host: string): Set<string> {
  const s = new Set<string>();
  for (const l of host.split('\n')) {
    const m = /^ip addr add \S+ dev (\S+)$/.exec(l);
    if (m) s.add(m[1]!);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------------

describe('determinism', () => {
  test('the same seed gives the same scenarios; another seed others', () => {
    const a = generate({ seed: 7, count: 12, date: 'x' });
    const b = generate({ seed: 7, count: 12, date: 'x' });
    expect(b).toEqual(a);
    const c = generate({ seed: 8, count: 12, date: 'x' });
    expect(c.scenarios.map((s) => s.rules)).not.toEqual(a.scenarios.map((s) => s.rules));
  });

  test('scenario i depends only on (seed, i): a shorter run is a prefix', () => {
    const long = generate({ seed: 11, count: 20, date: 'x' });
    const short = generate({ seed: 11, count: 5, date: 'x' });
    expect(short.scenarios).toEqual(long.scenarios.slice(0, 5));
    expect(generateScenario(11, 13)).toEqual(long.scenarios[13]);
  });

  test('the header says how the file was made and that nothing is recorded yet', () => {
    const f = generate({ seed: 5, count: 2, date: '2026-01-01T00:00:00.000Z' });
    expect(f.recorded).toEqual({
      by: 'scripts/gen-trace-scenarios.ts --seed 5 --count 2 (inputs only, not recorded)',
      iptables: '',
      kernel: '',
      date: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('shape', () => {
  test('names are unique, every scenario says why, and has 2-8 packets without a kernel outcome', () => {
    const names = all.map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
    for (const [name, s] of all) {
      expect(name).toMatch(/^gen-\d+-\d+$/);
      expect(s.why).toMatch(/seed \d+, index \d+; /);
      expect(s.packets.length).toBeGreaterThanOrEqual(2);
      expect(s.packets.length).toBeLessThanOrEqual(8);
      for (const p of s.packets) expect(p.kernel).toBeUndefined();
    }
  });

  test('about 60 scenarios x 5 packets for the default count', () => {
    for (const [, f] of runs) {
      const n = f.scenarios.reduce((s, x) => s + x.packets.length, 0);
      expect(n).toBeGreaterThan(240);
      expect(n).toBeLessThan(360);
    }
  });

  test('routers with 2-3 interfaces and plain hosts with one', () => {
    let routers = 0;
    let hosts = 0;
    for (const [, s] of all) {
      const n = interfaces(s.host).size;
      if (s.host.startsWith('# router')) {
        routers++;
        expect(n === 2 || n === 3).toBe(true);
      } else {
        hosts++;
        expect(n).toBe(1);
        expect(s.host).toContain('sysctl -w net.ipv4.ip_forward=0');
      }
    }
    expect(routers).toBeGreaterThan(hosts);
    expect(hosts).toBeGreaterThan(0);
  });
});

describe.each(SEEDS)('seed %i', (seed) => {
  const file = runs.find(([s]) => s === seed)![1];

  test('every HOSTFILE line is a documented command, with a MAC for every interface', () => {
    for (const s of file.scenarios) {
      const lines = s.host.split('\n').filter((l) => l !== '');
      for (const l of lines) expect({ name: s.name, line: l, ok: HOST_LINE.some((re) => re.test(l)) }).toEqual({ name: s.name, line: l, ok: true });
      for (const i of interfaces(s.host)) expect(s.host).toMatch(new RegExp(`^ip link set dev ${i} address `, 'm'));
      expect(s.host).toMatch(/^sysctl -w net\.ipv4\.ip_forward=[01]$/m);
    }
  });

  test('tsiptables trace reads every HOSTFILE and PACKET line', () => {
    for (const s of file.scenarios) {
      expect(() => Host.parse(s.host)).not.toThrow();
      for (const { packet } of s.packets) expect(() => parsePacketArgs(splitWords(packet))).not.toThrow();
    }
  });

  test('every PACKET line parses, with a unique --ip-id, a --ttl, and -i naming an interface of the host', () => {
    for (const s of file.scenarios) {
      const ifaces = interfaces(s.host);
      const ids = new Set<string>();
      for (const { packet } of s.packets) {
        const p = parsePacket(packet);
        const id = get(p, '--ip-id');
        expect({ packet, id }).toEqual({ packet, id: expect.any(String) });
        expect(ids.has(id!)).toBe(false);
        ids.add(id!);
        expect(get(p, '--ttl')).toBeDefined();
        const i = get(p, '-i');
        if (i !== undefined) {
          expect(ifaces.has(i)).toBe(true);
          expect(get(p, '--mac-source')).toBeDefined();
        }
        if (get(p, '-p') === 'tcp') {
          for (const o of ['--sport', '--dport', '--seq', '--ack-seq', '--window']) expect({ packet, o, has: p.opts.has(o) }).toEqual({ packet, o, has: true });
          expect(p.opts.has('--syn') || p.opts.has('--tcp-flags')).toBe(true);
        }
        if (get(p, '-p') === 'udp') for (const o of ['--sport', '--dport']) expect(p.opts.has(o)).toBe(true);
        if (get(p, '-p') === 'icmp') expect(p.opts.has('--icmp-type')).toBe(true);
      }
    }
  });

  test('tcp handshakes have consistent sequence numbers (SYN S/0, SYN-ACK R/S+1, ACK S+1/R+1)', () => {
    let handshakes = 0;
    for (const s of file.scenarios) {
      const ps = s.packets.map(({ packet }) => parsePacket(packet)).filter((p) => get(p, '-p') === 'tcp');
      const syns = new Map<string, number>(); // "sport dport" of the client -> S
      const synacks = new Map<string, number>(); // same key -> R
      for (const p of ps) {
        const fl = flagsOf(p);
        const sp = get(p, '--sport')!;
        const dp = get(p, '--dport')!;
        const seq = Number(get(p, '--seq'));
        const ack = Number(get(p, '--ack-seq'));
        if (fl === 'SYN') {
          expect(ack).toBe(0);
          syns.set(sp, seq);
        } else if (fl === 'SYN,ACK' && syns.has(dp)) {
          expect(ack).toBe((syns.get(dp)! + 1) >>> 0);
          synacks.set(dp, seq);
        } else if (fl === 'ACK' && synacks.has(sp)) {
          expect(seq).toBe((syns.get(sp)! + 1) >>> 0);
          expect(ack).toBe((synacks.get(sp)! + 1) >>> 0);
          handshakes++;
        }
      }
    }
    expect(handshakes).toBeGreaterThan(10);
  });

  test('the traffic is varied: tcp, udp, icmp echo and errors, other protocols, local and arriving packets', () => {
    const lines = file.scenarios.flatMap((s) => s.packets.map((p) => p.packet));
    const some = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
    expect(some(/^-p tcp /)).toBeGreaterThan(50);
    expect(some(/^-p udp /)).toBeGreaterThan(15);
    expect(some(/--icmp-type echo-request/)).toBeGreaterThan(10);
    expect(some(/--icmp-type echo-reply/)).toBeGreaterThan(5);
    expect(some(/^-p \d+ /) + some(/--icmp-type (port-unreachable|host-unreachable|3\/3|time-exceeded|destination-unreachable|network-unreachable|communication-prohibited)/)).toBeGreaterThan(4);
    expect(some(/ -i /)).toBeGreaterThan(some(/^(?!.* -i ).*$/));
    expect(some(/^(?!.* -i ).*$/)).toBeGreaterThan(15);
  });
});

describe('rulesets', () => {
  let dir: string;
  const saved = process.env.TSIPTABLES_STATE;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsi-gen-'));
    process.env.TSIPTABLES_STATE = join(dir, 'rules.v4');
  });
  afterAll(() => {
    process.env.TSIPTABLES_STATE = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN']);

  test.each(all)('%s: accepted by tsiptables-restore --test, a *raw table, known extensions only', async (_name, s) => {
    expect(s.rules).toMatch(/^\*raw$/m);
    const r = await runRestore('tsiptables-restore', ['--test'], () => s.rules);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const userChains = new Set([...s.rules.matchAll(/^:(\S+) - /gm)].map((m) => m[1]!));
    for (const m of s.rules.matchAll(/ -m (\S+)/g)) expect({ match: m[1], known: findMatch(m[1]!) !== undefined }).toEqual({ match: m[1], known: true });
    for (const m of s.rules.matchAll(/ -[jg] (\S+)/g)) {
      const t = m[1]!;
      if (BUILTIN_TARGETS.has(t) || userChains.has(t)) continue;
      expect({ target: t, known: findTarget(t) !== undefined }).toEqual({ target: t, known: true });
    }
    for (const bad of ['limit', 'statistic', 'recent', 'hashlimit', 'time', 'quota']) expect(s.rules).not.toMatch(new RegExp(` -m ${bad} `));
  });

  test('user chains never loop: every jump goes to a chain defined later in creation order or is acyclic', () => {
    for (const [name, s] of all) {
      for (const block of s.rules.split(/^COMMIT$/m)) {
        const edges = new Map<string, Set<string>>();
        const users = new Set([...block.matchAll(/^:(\S+) - /gm)].map((m) => m[1]!));
        for (const m of block.matchAll(/^-A (\S+) .*-[jg] (\S+)/gm)) {
          if (!users.has(m[2]!)) continue;
          if (!edges.has(m[1]!)) edges.set(m[1]!, new Set());
          edges.get(m[1]!)!.add(m[2]!);
        }
        const visiting = new Set<string>();
        const done = new Set<string>();
        const dfs = (c: string): void => {
          if (done.has(c)) return;
          if (visiting.has(c)) throw new Error(`${name}: loop through ${c}`);
          visiting.add(c);
          for (const n of edges.get(c) ?? []) dfs(n);
          visiting.delete(c);
          done.add(c);
        };
        for (const c of edges.keys()) dfs(c);
      }
    }
  });

  test('rules aim at the traffic: many use the scenario packets\' addresses or ports', () => {
    let rules = 0;
    let aimed = 0;
    for (const [, s] of all) {
      const words = new Set(s.packets.flatMap(({ packet }) => packet.split(' ')));
      for (const l of s.rules.split('\n')) {
        if (!l.startsWith('-A ')) continue;
        rules++;
        const addrs = [...l.matchAll(/(\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]!);
        const ports = [...l.matchAll(/--d?s?ports? (\d+)\b/g)].map((m) => m[1]!);
        if ([...addrs, ...ports].some((w) => words.has(w))) aimed++;
      }
    }
    expect(aimed / rules).toBeGreaterThan(0.2);
  });
});

describe('committed scenario files', () => {
  const DIR = join(process.cwd(), 'fixtures', 'traces', 'scenarios');
  const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => /^generated-\d+\.json$/.test(f)) : [];

  test('there is one', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test.each(files)('%s is what the generator makes for its seed (kernel outcomes aside)', (f) => {
    const seed = Number(/^generated-(\d+)\.json$/.exec(f)![1]);
    const file = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as TraceFixtureFile;
    for (const s of file.scenarios) {
      const m = /^gen-(\d+)-(\d+)$/.exec(s.name);
      expect(m && Number(m[1])).toBe(seed);
      const inputsOnly = { ...s, packets: s.packets.map(({ packet }) => ({ packet })) };
      expect(inputsOnly).toEqual(generateScenario(seed, Number(m![2])));
    }
  });
});
