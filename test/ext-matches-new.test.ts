/**
 * Packet semantics of the matches added for issue 4 (time, connlimit, connbytes, quota, policy, tcpmss, dscp,
 * ecn, esp, ah, helper, devgroup, cpu, sctp, dccp, realm, cgroup, cluster, connlabel, ipcomp, ...): match() and
 * explain() checked against what the kernel's xt_*.c does, on rules compiled from their iptables text, with a
 * small fake EvalContext (as test/extension-semantics.test.ts does for the older extensions).
 */
import { parseCommandLine } from '../grammar/index';
import { parseCommand } from '../src/compile/command';
import { buildRules } from '../src/compile/rule';
import { findMatch } from '../src/extensions/registry';
import type { MatchUse } from '../src/extensions/spec';
import { IPS, RTN, type ConnView, type CtState, type EvalContext } from '../src/eval/context';
import { TCP_SYN, newPacket, type Packet } from '../src/eval/packet';
import { numericToAddr } from '../src/model/ip';
import { jhash1word } from '../src/extensions/matches/cluster';
import { checkClassic } from '../src/extensions/matches/bpf';

const ip = (s: string): number => numericToAddr(s, false)!;

interface CtxOptions {
  pkt?: Partial<Packet>;
  ctState?: CtState;
  ct?: ConnView;
  ctReply?: boolean;
  now?: number;
  answers?: Record<string, boolean>;
  memory?: Map<object, unknown>;
}

type FakeCtx = EvalContext & { decisions: string[]; notes: string[] };

function conn(over: Partial<ConnView> = {}): ConnView {
  return {
    orig: { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), proto: 6, sport: 40000, dport: 22 },
    reply: { src: ip('10.0.0.2'), dst: ip('10.0.0.1'), proto: 6, sport: 22, dport: 40000 },
    status: IPS.CONFIRMED,
    mark: 0,
    expires: 120,
    helper: undefined,
    ...over,
  };
}

function context(o: CtxOptions = {}): FakeCtx {
  const memory = o.memory ?? new Map<object, unknown>();
  const decisions: string[] = [];
  const notes: string[] = [];
  return {
    decisions,
    notes,
    hook: 'INPUT',
    table: 'filter',
    chain: 'INPUT',
    pkt: newPacket({
      src: ip('10.0.0.1'),
      dst: ip('10.0.0.2'),
      proto: 6,
      sport: 40000,
      dport: 22,
      tcpFlags: TCP_SYN,
      len: 60,
      inIface: 'eth0',
      ...o.pkt,
    }),
    ctState: o.ctState ?? (o.ct ? 'ESTABLISHED' : 'INVALID'),
    ct: o.ct,
    ctReply: o.ctReply ?? false,
    host: {
      addrType: () => RTN.UNICAST,
      route: () => undefined,
      primaryAddress: () => undefined,
      macOf: () => undefined,
      isLocalAddress: () => false,
    },
    now: new Date(o.now ?? Date.UTC(2026, 0, 1)),
    decide(ext, question, assumed) {
      decisions.push(`${ext}: ${question}`);
      return o.answers?.[ext] ?? assumed;
    },
    memory<T>(key: object, init: () => T): T {
      if (!memory.has(key)) memory.set(key, init());
      return memory.get(key) as T;
    },
    log: () => undefined,
    nat: () => undefined,
    reject: () => undefined,
    notrack: () => undefined,
    startTrace: () => undefined,
    note: (t) => void notes.push(t),
  };
}

/** Splits like a shell: blanks separate words, double quotes group. */
function words(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function matchOf(text: string, name: string): MatchUse {
  const p = parseCommandLine(words(text));
  if (!p.ok) throw new Error(`syntax: ${text}`);
  const cmd = parseCommand(p.value, { table: 'filter', restore: false, programName: 'tsiptables', warn: () => undefined });
  const m = buildRules(cmd.rule)[0]!.matches.find((u) => u.def.name === name);
  if (!m) throw new Error(`no ${name} match in ${text}`);
  return m;
}

interface Case {
  rule: string;
  ctx?: CtxOptions;
  expect: boolean;
  why?: string;
}

/** Each case on a fresh context: match() gives `expect`; a miss is explained as `why`. */
function table(ext: string, cases: Case[]): void {
  describe(ext, () => {
    test.each(cases.map((c, i) => [`${i + 1}: ${c.rule}${c.why ? ` / ${c.why}` : ''}`, c] as const))('%s', (_n, c) => {
      const m = matchOf(c.rule, ext);
      const ctx = context(c.ctx);
      expect(m.def.match!(m.state, ctx)).toBe(c.expect);
      if (!c.expect) expect(m.def.explain!(m.state, ctx)).toBe(c.why);
    });
  });
}

/** Runs packets one after another through one rule, sharing the trace run's memory. */
function sequence(rule: string, ext: string, ctxs: CtxOptions[]): boolean[] {
  const m = matchOf(rule, ext);
  const memory = new Map<object, unknown>();
  return ctxs.map((c) => m.def.match!(m.state, context({ ...c, memory })));
}

test('every new match has its packet semantics', () => {
  for (const n of ['time', 'connlimit', 'connbytes', 'quota', 'policy', 'tcpmss', 'dscp', 'ecn', 'esp', 'ah', 'ipcomp', 'helper', 'devgroup', 'cpu', 'realm', 'sctp', 'dccp', 'cgroup', 'cluster', 'connlabel', 'nfacct', 'bpf', 'osf', 'ipvs', 'rateest']) {
    expect([n, typeof findMatch(n)?.match, typeof findMatch(n)?.explain]).toEqual([n, 'function', 'function']);
  }
});

// xt_time.c time_mt(): dates, daytime (wrapping past midnight), weekday (Mon=1..Sun=7) and month day, in UTC.
const at = (iso: string): CtxOptions => ({ now: Date.parse(`${iso}Z`) });
table('time', [
  // 2026-01-01 is a Thursday.
  { rule: '-A INPUT -m time --timestart 08:00 --timestop 17:00', ctx: at('2026-01-01T12:00:00'), expect: true },
  {
    rule: '-A INPUT -m time --timestart 08:00 --timestop 17:00',
    ctx: at('2026-01-01T17:00:01'),
    expect: false,
    why: '--timestart 08:00:00 --timestop 17:00:00 --datestop 2038-01-19T03:14:07: packet time is 2026-01-01T17:00:01',
  },
  { rule: '-A INPUT -m time --timestart 22:00 --timestop 06:00', ctx: at('2026-01-01T23:30:00'), expect: true },
  { rule: '-A INPUT -m time --timestart 22:00 --timestop 06:00', ctx: at('2026-01-01T05:00:00'), expect: true },
  { rule: '-A INPUT -m time --timestart 22:00 --timestop 06:00', ctx: at('2026-01-01T12:00:00'), expect: false, why: '--timestart 22:00:00 --timestop 06:00:00 --datestop 2038-01-19T03:14:07: packet time is 2026-01-01T12:00:00' },
  { rule: '-A INPUT -m time --weekdays Thu', ctx: at('2026-01-01T12:00:00'), expect: true },
  { rule: '-A INPUT -m time ! --weekdays Thu', ctx: at('2026-01-01T12:00:00'), expect: false, why: '--weekdays Mon,Tue,Wed,Fri,Sat,Sun --datestop 2038-01-19T03:14:07: packet time is 2026-01-01T12:00:00, a Thu' },
  // --contiguous: 05:00 on Friday belongs to Thursday's 22:00-06:00 window.
  { rule: '-A INPUT -m time --timestart 22:00 --timestop 06:00 --contiguous --weekdays Thu', ctx: at('2026-01-02T05:00:00'), expect: true },
  { rule: '-A INPUT -m time --timestart 22:00 --timestop 06:00 --weekdays Thu', ctx: at('2026-01-02T05:00:00'), expect: false, why: '--timestart 22:00:00 --timestop 06:00:00 --weekdays Thu --datestop 2038-01-19T03:14:07: packet time is 2026-01-02T05:00:00, a Fri' },
  { rule: '-A INPUT -m time --monthdays 1,15', ctx: at('2026-01-15T00:00:00'), expect: true },
  { rule: '-A INPUT -m time --monthdays 1,15', ctx: at('2026-01-16T00:00:00'), expect: false, why: '--monthdays 1,15 --datestop 2038-01-19T03:14:07: packet time is 2026-01-16T00:00:00, day 16 of the month' },
  { rule: '-A INPUT -m time --datestart 2026-06-01', ctx: at('2026-01-01T00:00:00'), expect: false, why: '--datestart 2026-06-01T00:00:00 --datestop 2038-01-19T03:14:07: packet time is 2026-01-01T00:00:00' },
  { rule: '-A INPUT -m time --datestop 2025-12-31T23:59:59', ctx: at('2026-01-01T00:00:00'), expect: false, why: '--datestop 2025-12-31T23:59:59: packet time is 2026-01-01T00:00:00' },
]);

test('time --kerneltz notes that the kernel timezone is taken as UTC', () => {
  const m = matchOf('-A INPUT -m time --kerneltz --timestart 10:00', 'time');
  const ctx = context(at('2026-01-01T11:00:00'));
  expect(m.def.match!(m.state, ctx)).toBe(true);
  expect(ctx.notes).toEqual(['time --kerneltz: the kernel timezone is taken as UTC (sys_tz unset)']);
});

// xt_connlimit.c connlimit_mt(): the connections of the (masked) address seen by this rule, this one included.
describe('connlimit', () => {
  const from = (src: string, sport: number): CtxOptions => ({
    pkt: { src: ip(src), sport },
    ct: conn({ orig: { src: ip(src), dst: ip('10.0.0.2'), proto: 6, sport, dport: 22 } }),
  });
  test('--connlimit-above 2 matches the third connection of a source', () => {
    const r = sequence('-A INPUT -p tcp -m connlimit --connlimit-above 2', 'connlimit', [
      from('10.0.0.1', 1000),
      from('10.0.0.1', 1001),
      from('10.0.0.1', 1001),
      from('10.0.0.9', 1000),
      from('10.0.0.1', 1002),
    ]);
    expect(r).toEqual([false, false, false, false, true]);
  });
  test('--connlimit-mask groups sources; --connlimit-upto inverts', () => {
    const r = sequence('-A INPUT -p tcp -m connlimit --connlimit-upto 1 --connlimit-mask 24', 'connlimit', [
      from('10.0.0.1', 1000),
      from('10.0.0.9', 1000),
    ]);
    expect(r).toEqual([true, false]);
  });
  test('explains the count', () => {
    const m = matchOf('-A INPUT -p tcp -m connlimit --connlimit-above 1 --connlimit-daddr', 'connlimit');
    const ctx = context(from('10.0.0.1', 1000));
    expect(m.def.match!(m.state, ctx)).toBe(false);
    expect(m.def.explain!(m.state, ctx)).toBe(
      '--connlimit-above 1 --connlimit-mask 32 --connlimit-daddr: 1 connection from this destination group',
    );
  });
});

// xt_connbytes.c connbytes_mt(): per-direction packet/byte counters of the connection.
describe('connbytes', () => {
  const ct = conn();
  test('packets in the original direction, counted once per packet', () => {
    const r = sequence('-A INPUT -m connbytes --connbytes 2:3 --connbytes-dir original --connbytes-mode packets', 'connbytes', [
      { ct },
      { ct },
      { ct, ctReply: true },
      { ct },
      { ct },
    ]);
    expect(r).toEqual([false, true, true, true, false]);
  });
  test('bytes in both directions and the average packet size', () => {
    expect(
      sequence('-A INPUT -m connbytes --connbytes 100: --connbytes-dir both --connbytes-mode bytes', 'connbytes', [
        { ct, pkt: { len: 60 } },
        { ct, ctReply: true, pkt: { len: 60 } },
      ]),
    ).toEqual([false, true]);
    expect(
      sequence('-A INPUT -m connbytes ! --connbytes 0:100 --connbytes-dir both --connbytes-mode avgpkt', 'connbytes', [
        { ct, pkt: { len: 60 } },
        { ct, pkt: { len: 1500 } },
      ]),
    ).toEqual([false, true]);
  });
  table('connbytes', [
    {
      rule: '-A INPUT -m connbytes ! --connbytes 0 --connbytes-dir both --connbytes-mode bytes',
      expect: false,
      why: '! --connbytes 0 --connbytes-mode bytes --connbytes-dir both: packet has no connection (INVALID)',
    },
  ]);
});

// xt_quota.c quota_mt(): packets that fit take their length from the quota.
describe('quota', () => {
  test('the quota runs out, then `!` matches', () => {
    const pkts = [{ pkt: { len: 60 } }, { pkt: { len: 60 } }, { pkt: { len: 60 } }, { pkt: { len: 10 } }];
    expect(sequence('-A INPUT -m quota --quota 130', 'quota', pkts)).toEqual([true, true, false, false]);
    expect(sequence('-A INPUT -m quota ! --quota 130', 'quota', pkts)).toEqual([false, false, true, true]);
  });
  table('quota', [{ rule: '-A INPUT -m quota --quota 10', expect: false, why: '--quota 10: 0 bytes left, packet has 60' }]);
});

// xt_policy.c policy_mt(): the simulation has no IPsec, so only `--pol none` matches.
table('policy', [
  { rule: '-A INPUT -m policy --dir in --pol none', expect: true },
  {
    rule: '-A INPUT -m policy --dir in --pol ipsec --proto esp',
    expect: false,
    why: '--dir in --pol ipsec --proto esp: packet has no IPsec policy (the simulation has no IPsec)',
  },
]);

// xt_tcpmss.c tcpmss_mt(): the MSS option's value in the range, `!`; no option gives `invert`.
const mss = (v: number): CtxOptions => ({ pkt: { tcpOptions: Uint8Array.of(1, 1, 2, 4, v >> 8, v & 255) } });
table('tcpmss', [
  { rule: '-A INPUT -p tcp -m tcpmss --mss 1000:1500', ctx: mss(1460), expect: true },
  { rule: '-A INPUT -p tcp -m tcpmss --mss 1000:1400', ctx: mss(1460), expect: false, why: '--mss 1000:1400: packet has MSS 1460' },
  { rule: '-A INPUT -p tcp -m tcpmss ! --mss 1460', ctx: mss(1460), expect: false, why: '! --mss 1460: packet has MSS 1460' },
  { rule: '-A INPUT -p tcp -m tcpmss --mss 0:65535', expect: false, why: '--mss 0:65535: packet has no MSS option' },
  { rule: '-A INPUT -p tcp -m tcpmss ! --mss 1460', expect: true },
]);

// xt_dscp.c dscp_mt(): (tos >> 2) == dscp, `!`.
table('dscp', [
  { rule: '-A INPUT -m dscp --dscp-class EF', ctx: { pkt: { tos: 0xb8 } }, expect: true },
  { rule: '-A INPUT -m dscp --dscp 46', ctx: { pkt: { tos: 0xb9 } }, expect: true },
  { rule: '-A INPUT -m dscp --dscp 10', ctx: { pkt: { tos: 0xb8 } }, expect: false, why: '--dscp 0x0a: packet has 0x2e' },
  { rule: '-A INPUT -m dscp ! --dscp 0', expect: false, why: '! --dscp 0x00: packet has 0x00' },
]);

// xt_ecn.c ecn_mt4(): the IP ECN field, then the TCP ECE/CWR bits.
table('ecn', [
  { rule: '-A INPUT -m ecn --ecn-ip-ect 2', ctx: { pkt: { tos: 0x02 } }, expect: true },
  { rule: '-A INPUT -m ecn ! --ecn-ip-ect 2', ctx: { pkt: { tos: 0x02 } }, expect: false, why: '! --ecn-ip-ect 2: packet has 2' },
  { rule: '-A INPUT -p tcp -m ecn --ecn-tcp-ece', ctx: { pkt: { tcpFlags: 0x42 } }, expect: true },
  { rule: '-A INPUT -p tcp -m ecn --ecn-tcp-cwr', expect: false, why: '--ecn-tcp-cwr: packet has CWR clear' },
  { rule: '-A INPUT -p tcp -m ecn ! --ecn-tcp-cwr --ecn-ip-ect 0', expect: true },
]);

// xt_esp.c / xt_ah.c / xt_ipcomp.c spi_match(): the packet carries no SPI, so the trace asks.
describe('esp, ah, ipcomp', () => {
  test('a range asks whether the SPI is in it; `!` inverts the answer', () => {
    const m = matchOf('-A INPUT -p esp -m esp ! --espspi 1:1000', 'esp');
    const ctx = context({ pkt: { proto: 50 } });
    expect(m.def.match!(m.state, ctx)).toBe(false);
    expect(ctx.decisions).toEqual(["esp: the packet's SPI is in 1:1000"]);
    expect(m.def.explain!(m.state, ctx)).toBe("! --espspi 1:1000: the packet's SPI is not in the range (assumed)");
    const no = context({ pkt: { proto: 50 }, answers: { esp: false } });
    expect(m.def.match!(m.state, no)).toBe(true);
  });
  test('the full range needs no question, a reversed range never matches', () => {
    const all = matchOf('-A INPUT -p ah -m ah', 'ah');
    const ctx = context({ pkt: { proto: 51 } });
    expect(all.def.match!(all.state, ctx)).toBe(true);
    const rev = matchOf('-A INPUT -p ah -m ah --ahspi 200:100', 'ah');
    expect(rev.def.match!(rev.state, ctx)).toBe(false);
    expect(ctx.decisions).toEqual([]);
  });
  test('ipcomp: CPIs are 16 bits; without --ipcompspi the range is 0:0', () => {
    const wide = matchOf('-A INPUT -p ipcomp -m ipcomp --ipcompspi 0:70000', 'ipcomp');
    const ctx = context({ pkt: { proto: 108 } });
    expect(wide.def.match!(wide.state, ctx)).toBe(true);
    const dflt = matchOf('-A INPUT -p ipcomp -m ipcomp', 'ipcomp');
    expect(dflt.def.match!(dflt.state, ctx)).toBe(true);
    expect(ctx.decisions).toEqual(["ipcomp: the packet's CPI is in 0:0"]);
  });
});

// xt_helper.c helper_mt(): no connection expected by a helper in the simulation, so `invert`.
table('helper', [
  { rule: '-A INPUT -m helper ! --helper ftp', ctx: { ct: conn() }, expect: true },
  { rule: '-A INPUT -m helper --helper ftp', ctx: { ct: conn() }, expect: false, why: '--helper ftp: packet belongs to no connection a helper expected' },
]);

// xt_devgroup.c devgroup_mt(): every simulated device is in group 0.
table('devgroup', [
  { rule: '-A FORWARD -m devgroup --src-group default', expect: true },
  { rule: '-A FORWARD -m devgroup --src-group 0/1 --dst-group 0x10/0x10', expect: false, why: '--dst-group 0x10/0x10: outgoing device is in group 0 (default)' },
  { rule: '-A FORWARD -m devgroup ! --dst-group 1', expect: true },
]);

// xt_cpu.c cpu_mt(): the CPU is asked, CPU 0 assumed.
describe('cpu', () => {
  test('CPU 0 is assumed; another CPU is asked', () => {
    const zero = matchOf('-A INPUT -m cpu --cpu 0', 'cpu');
    const ctx = context();
    expect(zero.def.match!(zero.state, ctx)).toBe(true);
    const three = matchOf('-A INPUT -m cpu ! --cpu 3', 'cpu');
    expect(three.def.match!(three.state, ctx)).toBe(true);
    expect(ctx.decisions).toEqual(['cpu: the packet is processed on CPU 0', 'cpu: the packet is processed on CPU 3']);
    expect(three.def.match!(three.state, context({ answers: { cpu: true } }))).toBe(false);
  });
});

// xt_realm.c realm_mt(): simulated routes have realm 0.
table('realm', [
  { rule: '-A INPUT -m realm --realm cosmos', expect: true },
  { rule: '-A INPUT -m realm --realm 0x10/0xf0', expect: false, why: '--realm 0x10/0xf0: the route has realm 0' },
  { rule: '-A INPUT -m realm ! --realm 3', expect: true },
]);

// xt_sctp.c sctp_mt() / xt_dccp.c dccp_mt(): ports from the packet; chunks, types and options are asked.
table('sctp', [
  { rule: '-A INPUT -p sctp -m sctp --dport 80', ctx: { pkt: { proto: 132, dport: 80 } }, expect: true },
  { rule: '-A INPUT -p sctp -m sctp ! --sport 1:1024', ctx: { pkt: { proto: 132, sport: 80 } }, expect: false, why: '! --sport 1:1024: packet has 80' },
  {
    rule: '-A INPUT -p sctp -m sctp --chunk-types any INIT',
    ctx: { pkt: { proto: 132 }, answers: { sctp: false } },
    expect: false,
    why: "--chunk-types any INIT: the packet's chunks do not match (asked)",
  },
]);
table('dccp', [
  { rule: '-A INPUT -p dccp -m dccp --dport 80', ctx: { pkt: { proto: 33, dport: 80 } }, expect: true },
  { rule: '-A INPUT -p dccp -m dccp --dport 80', ctx: { pkt: { proto: 33, dport: 81 } }, expect: false, why: '--dport 80: packet has 81' },
  { rule: '-A INPUT -p dccp -m dccp ! --dccp-types REQUEST', ctx: { pkt: { proto: 33 } }, expect: false, why: '! --dccp-types REQUEST: packet type does not match (asked)' },
  { rule: '-A INPUT -p dccp -m dccp --dccp-option 4', ctx: { pkt: { proto: 33 }, answers: { dccp: false } }, expect: false, why: '--dccp-option 4: option does not match (asked)' },
]);

// xt_cgroup.c cgroup_mt_v2(): only local sockets; the root path holds everyone; classid asked, 0 assumed.
table('cgroup', [
  { rule: '-A OUTPUT -m cgroup --path /', ctx: { pkt: { uid: 0 } }, expect: true },
  { rule: '-A OUTPUT -m cgroup ! --cgroup 1', ctx: { pkt: { uid: 0 } }, expect: true },
  { rule: '-A OUTPUT -m cgroup --cgroup 1', ctx: { pkt: { uid: 0 } }, expect: false, why: "--cgroup 1: the socket's classid is not 1 (assumed 0)" },
  { rule: '-A OUTPUT -m cgroup ! --cgroup 1', expect: false, why: '! --cgroup 1: packet has no local socket' },
]);

// xt_cluster.c: jhash_1word() of the original source address, scaled to the node count.
describe('cluster', () => {
  test('jhash_1word matches the kernel on known values', () => {
    // Reference values from linux/jhash.h's jhash_1word() compiled with gcc.
    expect(jhash1word(0, 0)).toBe(76781240);
    expect(jhash1word(0x0100000a, 0xdeadbeef)).toBe(1390571101);
    expect(jhash1word(123456789, 42)).toBe(2005530834);
  });
  test('exactly one node of a cluster takes a connection; `!` the others', () => {
    const ct = conn();
    const taken = [1, 2, 3].filter((n) => {
      const m = matchOf(`-A INPUT -m cluster --cluster-total-nodes 3 --cluster-local-node ${n} --cluster-hash-seed 0xdeadbeef`, 'cluster');
      return m.def.match!(m.state, context({ ct }));
    });
    expect(taken.length).toBe(1);
    const inv = matchOf(`-A INPUT -m cluster --cluster-total-nodes 3 ! --cluster-local-node ${taken[0]} --cluster-hash-seed 0xdeadbeef`, 'cluster');
    expect(inv.def.match!(inv.state, context({ ct }))).toBe(false);
  });
  table('cluster', [
    {
      rule: '-A INPUT -m cluster --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 1',
      expect: false,
      why: '--cluster-local-nodemask 0x00000001 --cluster-total-nodes 2 --cluster-hash-seed 0x00000001: packet has no connection (INVALID)',
    },
  ]);
});

// xt_connlabel.c: no labels on simulated connections; --set matches.
table('connlabel', [
  { rule: '-A INPUT -m connlabel --label 3 --set', ctx: { ct: conn() }, expect: true },
  { rule: '-A INPUT -m connlabel ! --label 3', ctx: { ct: conn() }, expect: true },
  { rule: '-A INPUT -m connlabel --label 3', ctx: { ct: conn() }, expect: false, why: '--label "3": the connection has no labels' },
]);

table('nfacct', [{ rule: '-A INPUT -m nfacct --nfacct-name x', expect: true }]);

// xt_bpf.c: classic BPF over the packet from its IP header.
describe('bpf', () => {
  table('bpf', [
    // ldb [9]; jeq #6 (tcp); ret 1; ret 0
    { rule: '-A INPUT -m bpf --bytecode "4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0"', expect: true },
    {
      rule: '-A INPUT -m bpf --bytecode "4,48 0 0 9,21 0 1 17,6 0 0 1,6 0 0 0"',
      expect: false,
      why: '--bytecode "4,48 0 0 9,21 0 1 17,6 0 0 1,6 0 0 0": the program returned 0',
    },
    // ldh [2] (total length) > 59
    { rule: '-A INPUT -m bpf --bytecode "4,40 0 0 2,37 0 1 59,6 0 0 1,6 0 0 0"', expect: true },
  ]);
  test('the kernel checks: last is RET, jumps in range, scratch memory written before read', () => {
    expect(checkClassic([{ code: 6, jt: 0, jf: 0, k: 0 }])).toBe(true);
    expect(checkClassic([{ code: 0, jt: 0, jf: 0, k: 0 }])).toBe(false);
    expect(checkClassic([{ code: 21, jt: 5, jf: 0, k: 6 }, { code: 6, jt: 0, jf: 0, k: 0 }])).toBe(false);
    expect(checkClassic([{ code: 0x60, jt: 0, jf: 0, k: 1 }, { code: 6, jt: 0, jf: 0, k: 0 }])).toBe(false);
    expect(checkClassic([{ code: 0x02, jt: 0, jf: 0, k: 1 }, { code: 0x60, jt: 0, jf: 0, k: 1 }, { code: 0x16, jt: 0, jf: 0, k: 0 }])).toBe(true);
  });
});

table('osf', [{ rule: '-A INPUT -p tcp -m osf ! --genre Linux', expect: false, why: '! --genre Linux: no OS fingerprints are loaded' }]);

table('ipvs', [
  { rule: '-A INPUT -m ipvs ! --ipvs', expect: true },
  { rule: '-A INPUT -m ipvs --vport 80', expect: false, why: '--vport 80: packet is not IPVS traffic (no IPVS in the simulation)' },
]);

// xt_rateest.c: no estimators in the simulation; the comparison is asked, assumed not to hold.
describe('rateest', () => {
  test('asks, assumes no', () => {
    const m = matchOf('-A INPUT -m rateest --rateest a --rateest-bps 1mbit --rateest-gt', 'rateest');
    const ctx = context();
    expect(m.def.match!(m.state, ctx)).toBe(false);
    expect(ctx.decisions).toEqual(['rateest: rateest match a bps 125000 gt holds']);
    expect(m.def.explain!(m.state, ctx)).toBe('--rateest a --rateest-gt --rateest-bps 1000Kbit: the estimated rates do not compare so (assumed)');
    expect(m.def.match!(m.state, context({ answers: { rateest: true } }))).toBe(true);
  });
});
