/**
 * Packet semantics of every extension: match()/explain() of src/extensions/matches/ and run() of
 * src/extensions/targets/, checked against what the kernel's own code does (the file named above each
 * block). Rules are compiled from their iptables text by the repo's compiler; the EvalContext is a small fake
 * that records decide() questions and side effects.
 */
import { parseCommandLine } from '../grammar/index';
import { parseCommand } from '../src/compile/command';
import { buildRules } from '../src/compile/rule';
import { findMatch, findTarget } from '../src/extensions/registry';
import type { MatchUse, TargetUse } from '../src/extensions/spec';
import {
  IPS,
  RTN,
  type ConnView,
  type CtState,
  type EvalContext,
  type HostView,
  type LogRequest,
  type NatRequest,
  type RouteResult,
  type TargetVerdict,
} from '../src/eval/context';
import type { Hook } from '../src/extensions/spec';
import { TCP_ACK, TCP_SYN, type Packet } from '../src/eval/packet';
import { numericToAddr } from '../src/model/ip';
import { packetBytes } from '../src/extensions/values/wire';

// ---------------------------------------------------------------------------------------------------------
// Fakes

const ip = (s: string): number => numericToAddr(s, false)!;

function packet(over: Partial<Packet> = {}): Packet {
  return {
    src: ip('10.0.0.1'),
    dst: ip('10.0.0.2'),
    proto: 6,
    tos: 0,
    ttl: 64,
    id: 1,
    df: true,
    len: 40,
    ipOptions: new Uint8Array(0),
    sport: 40000,
    dport: 22,
    tcpFlags: TCP_SYN,
    seq: 1000,
    ackSeq: 0,
    window: 64240,
    urgPtr: 0,
    tcpOptions: new Uint8Array(0),
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    icmpSeq: 0,
    quoted: undefined,
    mark: 0,
    inIface: 'eth0',
    outIface: null,
    macSrc: '02:00:00:00:00:09',
    macDst: '02:00:00:00:00:01',
    uid: undefined,
    gid: undefined,
    ...over,
  };
}

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

interface FakeHost {
  addrTypes?: Record<string, number>;
  routes?: (dst: number, opts: Parameters<HostView['route']>[1]) => RouteResult | undefined;
  macs?: Record<string, string>;
}

function host(h: FakeHost = {}): HostView & { routeCalls: Array<Parameters<HostView['route']>> } {
  const routeCalls: Array<Parameters<HostView['route']>> = [];
  return {
    routeCalls,
    addrType(addr, dev) {
      const key = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
      return h.addrTypes?.[`${key}@${dev ?? ''}`] ?? h.addrTypes?.[key] ?? RTN.UNICAST;
    },
    route(dst, opts) {
      routeCalls.push([dst, opts]);
      return h.routes?.(dst, opts);
    },
    primaryAddress: () => undefined,
    macOf: (dev) => h.macs?.[dev],
    isLocalAddress: () => false,
  };
}

interface Recorded {
  decisions: Array<{ ext: string; question: string; assumed: boolean; probability: number | undefined }>;
  logs: LogRequest[];
  nats: NatRequest[];
  rejects: string[];
  notes: string[];
  notracked: number;
  traced: number;
}

interface CtxOptions {
  hook?: Hook;
  table?: string;
  pkt?: Partial<Packet>;
  ctState?: CtState;
  ct?: ConnView;
  ctReply?: boolean;
  host?: HostView;
  now?: number;
  /** Answers for decide(), by extension name. */
  answers?: Record<string, boolean>;
  /** Shared between the packets of one simulated trace run. */
  memory?: Map<object, unknown>;
}

type FakeCtx = EvalContext & { rec: Recorded; pkt: Packet };

function context(o: CtxOptions = {}): FakeCtx {
  const rec: Recorded = { decisions: [], logs: [], nats: [], rejects: [], notes: [], notracked: 0, traced: 0 };
  const memory = o.memory ?? new Map<object, unknown>();
  const ctState = o.ctState ?? (o.ct ? 'ESTABLISHED' : 'INVALID');
  return {
    hook: o.hook ?? 'INPUT',
    table: o.table ?? 'filter',
    chain: o.hook ?? 'INPUT',
    pkt: packet(o.pkt),
    ctState,
    ct: o.ct,
    ctReply: o.ctReply ?? false,
    host: o.host ?? host(),
    now: new Date(o.now ?? Date.UTC(2026, 0, 1)),
    rec,
    decide(ext, question, assumed, probability) {
      rec.decisions.push({ ext, question, assumed, probability });
      return o.answers?.[ext] ?? assumed;
    },
    memory<T>(key: object, init: () => T): T {
      if (!memory.has(key)) memory.set(key, init());
      return memory.get(key) as T;
    },
    log: (r) => void rec.logs.push(r),
    nat: (r) => void rec.nats.push(r),
    reject: (w) => void rec.rejects.push(w),
    notrack: () => void rec.notracked++,
    startTrace: () => void rec.traced++,
    note: (t) => void rec.notes.push(t),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rules from their iptables text

/** Splits like a shell: blanks separate words, double quotes group (and are dropped). */
function words(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let cur: string | undefined;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const glued = m.index === last && cur !== undefined;
    const piece = m[1] ?? m[2]!;
    if (glued) cur += piece;
    else {
      if (cur !== undefined) out.push(cur);
      cur = piece;
    }
    last = re.lastIndex;
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

function compile(text: string): { matches: readonly MatchUse[]; target: TargetUse | undefined } {
  const p = parseCommandLine(words(text));
  if (!p.ok) throw new Error(`syntax: ${text}`);
  const cmd = parseCommand(p.value, { table: 'filter', restore: false, programName: 'tsiptables', warn: () => undefined });
  const r = buildRules(cmd.rule)[0]!;
  return { matches: r.matches, target: r.verdict.kind === 'target' ? r.verdict.target : undefined };
}

/** The one match named `name` of a rule ("-A INPUT -p tcp --dport 22"). */
function matchOf(text: string, name: string): MatchUse {
  const m = compile(text).matches.find((u) => u.def.name === name);
  if (!m) throw new Error(`no ${name} match in ${text}`);
  return m;
}

function targetOf(text: string): TargetUse {
  const t = compile(text).target;
  if (!t) throw new Error(`no target in ${text}`);
  return t;
}

const runMatch = (m: MatchUse, ctx: EvalContext): boolean => m.def.match!(m.state, ctx);
const explain = (m: MatchUse, ctx: EvalContext): string => m.def.explain!(m.state, ctx);
const runTarget = (t: TargetUse, ctx: EvalContext): TargetVerdict => t.def.run!(t.state, ctx);

interface MatchCase {
  rule: string;
  ext: string;
  ctx?: CtxOptions;
  expect: boolean;
  /** explain() of a packet that does not match. */
  why?: string;
}

function table(title: string, cases: MatchCase[]): void {
  describe(title, () => {
    test.each(cases.map((c, i) => [`${i + 1}: ${c.rule}${c.why ? ` / ${c.why}` : ''}`, c] as const))('%s', (_name, c) => {
      const m = matchOf(c.rule, c.ext);
      const ctx = context(c.ctx);
      expect(runMatch(m, ctx)).toBe(c.expect);
      if (!c.expect) expect(explain(m, ctx)).toBe(c.why);
      else expect(c.why).toBeUndefined();
    });
  });
}

test('every extension has its packet semantics', () => {
  const matchNames = ['addrtype', 'comment', 'connmark', 'conntrack', 'hashlimit', 'icmp', 'iprange', 'length', 'limit', 'mac',
    'mark', 'multiport', 'owner', 'physdev', 'pkttype', 'recent', 'rpfilter', 'set', 'socket', 'state', 'statistic', 'string',
    'tcp', 'tos', 'ttl', 'u32', 'udp'];
  for (const n of matchNames) {
    expect([n, typeof findMatch(n)?.match, typeof findMatch(n)?.explain]).toEqual([n, 'function', 'function']);
  }
  const targetNames = ['ACCEPT', 'DROP', 'RETURN', 'QUEUE', 'CHECKSUM', 'CONNMARK', 'CT', 'NOTRACK', 'DNAT', 'LOG', 'MARK',
    'MASQUERADE', 'NFLOG', 'NFQUEUE', 'REDIRECT', 'REJECT', 'SET', 'SNAT', 'TCPMSS', 'TRACE'];
  for (const n of targetNames) expect([n, typeof findTarget(n)?.run]).toEqual([n, 'function']);
});

// ---------------------------------------------------------------------------------------------------------
// Matches

// xt_tcpudp.c tcp_mt(): inclusive port ranges with a `!` each, (flags & mask) == cmp, tcp_find_option().
table('tcp', [
  { rule: '-A INPUT -p tcp --dport 22', ext: 'tcp', expect: true },
  { rule: '-A INPUT -p tcp --dport 22', ext: 'tcp', ctx: { pkt: { dport: 80 } }, expect: false, why: '--dport 22: packet has 80' },
  { rule: '-A INPUT -p tcp ! --dport 22', ext: 'tcp', expect: false, why: '! --dport 22: packet has 22' },
  { rule: '-A INPUT -p tcp --dport 20:22', ext: 'tcp', ctx: { pkt: { dport: 20 } }, expect: true },
  { rule: '-A INPUT -p tcp --sport 1024:', ext: 'tcp', ctx: { pkt: { sport: 80 } }, expect: false, why: '--sport 1024:65535: packet has 80' },
  { rule: '-A INPUT -p tcp --syn', ext: 'tcp', expect: true },
  {
    rule: '-A INPUT -p tcp --syn',
    ext: 'tcp',
    ctx: { pkt: { tcpFlags: TCP_SYN | TCP_ACK } },
    expect: false,
    why: '--tcp-flags FIN,SYN,RST,ACK SYN: packet has SYN,ACK',
  },
  { rule: '-A INPUT -p tcp ! --syn', ext: 'tcp', ctx: { pkt: { tcpFlags: TCP_SYN | TCP_ACK } }, expect: true },
  { rule: '-A INPUT -p tcp --tcp-flags ALL NONE', ext: 'tcp', ctx: { pkt: { tcpFlags: 0 } }, expect: true },
  { rule: '-A INPUT -p tcp --tcp-option 2', ext: 'tcp', ctx: { pkt: { tcpOptions: Uint8Array.of(2, 4, 5, 180) } }, expect: true },
  // The kind must be at an option boundary: a 2 inside the timestamp option's data is no MSS option.
  {
    rule: '-A INPUT -p tcp --tcp-option 2',
    ext: 'tcp',
    ctx: { pkt: { tcpOptions: Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 2) } },
    expect: false,
    why: '--tcp-option 2: packet has no option 2',
  },
  { rule: '-A INPUT -p tcp ! --tcp-option 2', ext: 'tcp', expect: true },
  { rule: '-A INPUT -p tcp -m tcp', ext: 'tcp', ctx: { pkt: { dport: 1 } }, expect: true },
]);

// xt_tcpudp.c udp_mt(): port_match() per option; 1.8.9 keeps a reversed range, which never matches.
table('udp', [
  { rule: '-A INPUT -p udp --dport 53', ext: 'udp', ctx: { pkt: { proto: 17, dport: 53 } }, expect: true },
  { rule: '-A INPUT -p udp --dport 53', ext: 'udp', ctx: { pkt: { proto: 17, dport: 54 } }, expect: false, why: '--dport 53: packet has 54' },
  { rule: '-A INPUT -p udp ! --sport 67:68', ext: 'udp', ctx: { pkt: { proto: 17, sport: 68 } }, expect: false, why: '! --sport 67:68: packet has 68' },
  { rule: '-A INPUT -p udp --sport 100:50', ext: 'udp', ctx: { pkt: { proto: 17, sport: 70 } }, expect: false, why: '--sport 100:50: packet has 70' },
]);

// ip_tables.c icmp_match() / icmp_type_code_match(): type 0xff is any, code range inclusive, then `!`.
const icmp = (type: number, code = 0): CtxOptions => ({ pkt: { proto: 1, icmpType: type, icmpCode: code } });
table('icmp', [
  { rule: '-A INPUT -p icmp --icmp-type echo-request', ext: 'icmp', ctx: icmp(8), expect: true },
  { rule: '-A INPUT -p icmp --icmp-type echo-request', ext: 'icmp', ctx: icmp(0), expect: false, why: '--icmp-type 8: packet has 0/0' },
  { rule: '-A INPUT -p icmp --icmp-type port-unreachable', ext: 'icmp', ctx: icmp(3, 1), expect: false, why: '--icmp-type 3/3: packet has 3/1' },
  { rule: '-A INPUT -p icmp --icmp-type 3/0:5', ext: 'icmp', ctx: icmp(3, 5), expect: true },
  { rule: '-A INPUT -p icmp --icmp-type any', ext: 'icmp', ctx: icmp(13), expect: true },
  { rule: '-A INPUT -p icmp ! --icmp-type any', ext: 'icmp', ctx: icmp(13), expect: false, why: '! --icmp-type any: packet has 13/0' },
  { rule: '-A INPUT -p icmp ! --icmp-type 8', ext: 'icmp', ctx: icmp(0), expect: true },
]);

// xt_multiport.c ports_match_v1(): single ports and inclusive ranges; --ports tries source and destination.
table('multiport', [
  { rule: '-A INPUT -p tcp -m multiport --dports 22,80:90', ext: 'multiport', ctx: { pkt: { dport: 85 } }, expect: true },
  {
    rule: '-A INPUT -p tcp -m multiport --dports 22,80:90',
    ext: 'multiport',
    ctx: { pkt: { dport: 91 } },
    expect: false,
    why: '--dports 22,80:90: packet has 91',
  },
  { rule: '-A INPUT -p tcp -m multiport --ports 22', ext: 'multiport', ctx: { pkt: { sport: 22, dport: 1000 } }, expect: true },
  {
    rule: '-A INPUT -p tcp -m multiport --ports 22',
    ext: 'multiport',
    ctx: { pkt: { sport: 1, dport: 2 } },
    expect: false,
    why: '--ports 22: packet has source 1, destination 2',
  },
  { rule: '-A INPUT -p udp -m multiport ! --sports 53,123', ext: 'multiport', ctx: { pkt: { proto: 17, sport: 123 } }, expect: false, why: '! --sports 53,123: packet has 123' },
]);

// xt_conntrack.c conntrack_mt(): state bits (INVALID/UNTRACKED without a connection, SNAT/DNAT from the
// status), then no connection means "--ctstate given"; direction, addresses, protocol, ports, status, expiry.
const established: CtxOptions = { ctState: 'ESTABLISHED', ct: conn() };
table('conntrack', [
  { rule: '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED', ext: 'conntrack', ctx: established, expect: true },
  { rule: '-A INPUT -m conntrack --ctstate ESTABLISHED', ext: 'conntrack', ctx: { ...established, ctReply: true }, expect: true },
  {
    rule: '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED',
    ext: 'conntrack',
    ctx: { ctState: 'NEW', ct: conn() },
    expect: false,
    why: '--ctstate RELATED,ESTABLISHED: connection is NEW',
  },
  { rule: '-A INPUT -m conntrack --ctstate INVALID', ext: 'conntrack', expect: true },
  { rule: '-A INPUT -m conntrack --ctstate NEW', ext: 'conntrack', expect: false, why: '--ctstate NEW: connection is INVALID' },
  { rule: '-A INPUT -m conntrack ! --ctstate NEW', ext: 'conntrack', expect: true },
  { rule: '-A INPUT -m conntrack --ctstate UNTRACKED', ext: 'conntrack', ctx: { ctState: 'UNTRACKED' }, expect: true },
  { rule: '-A INPUT -m conntrack --ctstate DNAT', ext: 'conntrack', ctx: { ctState: 'NEW', ct: conn({ status: IPS.DST_NAT }) }, expect: true },
  {
    rule: '-A INPUT -m conntrack --ctstate SNAT',
    ext: 'conntrack',
    ctx: { ctState: 'NEW', ct: conn({ status: IPS.DST_NAT }) },
    expect: false,
    why: '--ctstate SNAT: connection is NEW,DNAT',
  },
  { rule: '-A INPUT -m conntrack --ctdir REPLY', ext: 'conntrack', ctx: { ...established, ctReply: true }, expect: true },
  {
    rule: '-A INPUT -m conntrack --ctdir REPLY',
    ext: 'conntrack',
    ctx: established,
    expect: false,
    why: '--ctdir REPLY: packet is in the ORIGINAL direction',
  },
  { rule: '-A INPUT -m conntrack --ctdir ORIGINAL', ext: 'conntrack', expect: false, why: '--ctdir ORIGINAL: packet has no connection (INVALID)' },
  { rule: '-A INPUT -m conntrack --ctorigdst 10.0.0.0/8', ext: 'conntrack', ctx: established, expect: true },
  {
    rule: '-A INPUT -m conntrack ! --ctorigdst 10.0.0.0/8',
    ext: 'conntrack',
    ctx: established,
    expect: false,
    why: '! --ctorigdst 10.0.0.0/8: original destination is 10.0.0.2',
  },
  { rule: '-A INPUT -m conntrack --ctreplsrc 10.0.0.2', ext: 'conntrack', ctx: established, expect: true },
  { rule: '-A INPUT -m conntrack --ctproto udp', ext: 'conntrack', ctx: established, expect: false, why: '--ctproto 17: connection is protocol 6' },
  { rule: '-A INPUT -m conntrack --ctorigdstport 20:30', ext: 'conntrack', ctx: established, expect: true },
  {
    rule: '-A INPUT -m conntrack --ctrepldstport 22',
    ext: 'conntrack',
    ctx: established,
    expect: false,
    why: '--ctrepldstport 22: reply destination port is 40000',
  },
  { rule: '-A INPUT -m conntrack --ctstatus ASSURED,CONFIRMED', ext: 'conntrack', ctx: established, expect: true },
  // A mask of no bits never matches (!!(0 & status) is false).
  { rule: '-A INPUT -m conntrack --ctstatus NONE', ext: 'conntrack', ctx: established, expect: false, why: '--ctstatus NONE: connection status is CONFIRMED' },
  { rule: '-A INPUT -m conntrack --ctexpire 100:200', ext: 'conntrack', ctx: established, expect: true },
  {
    rule: '-A INPUT -m conntrack --ctexpire 100:200',
    ext: 'conntrack',
    ctx: { ctState: 'ESTABLISHED', ct: conn({ expires: 300 }) },
    expect: false,
    why: '--ctexpire 100:200: connection expires in 300 s',
  },
]);

// iptables 1.8.9 sends -m state as xt_conntrack with only the state flag.
table('state', [
  { rule: '-A INPUT -m state --state NEW', ext: 'state', ctx: { ctState: 'NEW', ct: conn() }, expect: true },
  { rule: '-A INPUT -m state --state NEW', ext: 'state', ctx: established, expect: false, why: '--state NEW: connection is ESTABLISHED' },
  { rule: '-A INPUT -m state ! --state INVALID', ext: 'state', expect: false, why: '! --state INVALID: connection is INVALID' },
  { rule: '-A INPUT -m state --state RELATED,UNTRACKED', ext: 'state', ctx: { ctState: 'UNTRACKED' }, expect: true },
]);

// xt_mark.c mark_mt(): ((mark & mask) == value) ^ invert.
table('mark', [
  { rule: '-A INPUT -m mark --mark 0x1', ext: 'mark', expect: false, why: '--mark 0x1: packet mark is 0x0' },
  { rule: '-A INPUT -m mark --mark 0x1/0xff', ext: 'mark', ctx: { pkt: { mark: 0x101 } }, expect: true },
  { rule: '-A INPUT -m mark ! --mark 1', ext: 'mark', ctx: { pkt: { mark: 1 } }, expect: false, why: '! --mark 0x1: packet mark is 0x1' },
  { rule: '-A INPUT -m mark --mark 0x80000000/0x80000000', ext: 'mark', ctx: { pkt: { mark: 0xffffffff } }, expect: true },
]);

// xt_connmark.c connmark_mt(): no connection never matches, not even inverted.
table('connmark', [
  { rule: '-A INPUT -m connmark --mark 5', ext: 'connmark', ctx: { ct: conn({ mark: 5 }) }, expect: true },
  { rule: '-A INPUT -m connmark --mark 4/4', ext: 'connmark', ctx: { ct: conn({ mark: 1 }) }, expect: false, why: '--mark 0x4/0x4: connection mark is 0x1' },
  { rule: '-A INPUT -m connmark ! --mark 5', ext: 'connmark', expect: false, why: '! --mark 0x5: packet has no connection (INVALID)' },
]);

// xt_addrtype.c addrtype_mt_v1(): inet_dev_addr_type() of the address (on the in/out device when limited).
table('addrtype', [
  { rule: '-A INPUT -m addrtype --dst-type LOCAL', ext: 'addrtype', ctx: { host: host({ addrTypes: { '10.0.0.2': RTN.LOCAL } }) }, expect: true },
  { rule: '-A INPUT -m addrtype --dst-type LOCAL', ext: 'addrtype', expect: false, why: '--dst-type LOCAL: destination 10.0.0.2 is UNICAST' },
  {
    rule: '-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in',
    ext: 'addrtype',
    ctx: { host: host({ addrTypes: { '10.0.0.2': RTN.LOCAL, '10.0.0.2@eth0': RTN.UNICAST } }) },
    expect: false,
    why: '--dst-type LOCAL --limit-iface-in: destination 10.0.0.2 is UNICAST on eth0',
  },
  { rule: '-A INPUT -m addrtype ! --src-type LOCAL,BROADCAST', ext: 'addrtype', expect: true },
  {
    rule: '-A INPUT -m addrtype --src-type UNICAST --dst-type BROADCAST,MULTICAST',
    ext: 'addrtype',
    expect: false,
    why: '--dst-type BROADCAST,MULTICAST: destination 10.0.0.2 is UNICAST',
  },
]);

// xt_comment.c: always true.
table('comment', [{ rule: '-A INPUT -m comment --comment "hello world"', ext: 'comment', expect: true }]);

// xt_iprange.c iprange_mt4(): min <= addr <= max, `!` per option.
table('iprange', [
  { rule: '-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9', ext: 'iprange', expect: true },
  {
    rule: '-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9',
    ext: 'iprange',
    ctx: { pkt: { src: ip('10.0.0.10') } },
    expect: false,
    why: '--src-range 10.0.0.1-10.0.0.9: packet has 10.0.0.10',
  },
  { rule: '-A INPUT -m iprange ! --dst-range 10.0.0.2', ext: 'iprange', expect: false, why: '! --dst-range 10.0.0.2-10.0.0.2: packet has 10.0.0.2' },
]);

// xt_length.c: the IP total length against the inclusive range.
table('length', [
  { rule: '-A INPUT -m length --length 0:100', ext: 'length', expect: true },
  { rule: '-A INPUT -m length --length 0:100', ext: 'length', ctx: { pkt: { len: 1500 } }, expect: false, why: '--length 0:100: packet has 1500' },
  { rule: '-A INPUT -m length ! --length 40', ext: 'length', expect: false, why: '! --length 40: packet has 40' },
]);

// ipt_ttl.c ttl_mt(): eq, ne, lt, gt.
table('ttl', [
  { rule: '-A INPUT -m ttl --ttl-eq 64', ext: 'ttl', expect: true },
  { rule: '-A INPUT -m ttl --ttl-eq 64', ext: 'ttl', ctx: { pkt: { ttl: 63 } }, expect: false, why: '--ttl-eq 64: packet has 63' },
  { rule: '-A INPUT -m ttl ! --ttl-eq 64', ext: 'ttl', ctx: { pkt: { ttl: 63 } }, expect: true },
  { rule: '-A INPUT -m ttl --ttl-lt 10', ext: 'ttl', ctx: { pkt: { ttl: 5 } }, expect: true },
  { rule: '-A INPUT -m ttl --ttl-gt 10', ext: 'ttl', ctx: { pkt: { ttl: 10 } }, expect: false, why: '--ttl-gt 10: packet has 10' },
]);

// xt_dscp.c tos_mt(): ((tos & mask) == value) ^ invert; a symbol means mask 0x3f.
table('tos', [
  { rule: '-A INPUT -m tos --tos 0x10/0x3f', ext: 'tos', ctx: { pkt: { tos: 0x12 } }, expect: false, why: '--tos 0x10/0x3f: packet has 0x12' },
  { rule: '-A INPUT -m tos --tos Minimize-Delay', ext: 'tos', ctx: { pkt: { tos: 0x50 } }, expect: true },
  { rule: '-A INPUT -m tos ! --tos 0', ext: 'tos', ctx: { pkt: { tos: 0 } }, expect: false, why: '! --tos 0x00/0xff: packet has 0x00' },
]);

// xt_pkttype.c pkttype_mt(): skb->pkt_type as eth_type_trans() set it; sent packets are PACKET_HOST.
const eth0Mac = host({ macs: { eth0: '02:00:00:00:00:01' }, addrTypes: { '10.0.0.255': RTN.BROADCAST } });
table('pkttype', [
  { rule: '-A INPUT -m pkttype --pkt-type unicast', ext: 'pkttype', ctx: { host: eth0Mac }, expect: true },
  {
    rule: '-A INPUT -m pkttype --pkt-type broadcast',
    ext: 'pkttype',
    ctx: { host: eth0Mac, pkt: { proto: 17, dst: ip('10.0.0.255'), macDst: 'ff:ff:ff:ff:ff:ff' } },
    expect: true,
  },
  { rule: '-A INPUT -m pkttype --pkt-type broadcast', ext: 'pkttype', ctx: { host: eth0Mac, pkt: { dst: ip('10.0.0.255'), macDst: null } }, expect: true },
  { rule: '-A INPUT -m pkttype --pkt-type multicast', ext: 'pkttype', ctx: { host: eth0Mac, pkt: { dst: ip('224.0.0.251') } }, expect: true },
  {
    rule: '-A OUTPUT -m pkttype --pkt-type multicast',
    ext: 'pkttype',
    ctx: { hook: 'OUTPUT', host: eth0Mac, pkt: { dst: ip('224.0.0.251'), inIface: null, macSrc: null, macDst: null } },
    expect: false,
    why: '--pkt-type multicast: packet is unicast',
  },
  // ip_rcv() drops PACKET_OTHERHOST before PREROUTING: what netfilter sees to a unicast address is "unicast".
  { rule: '-A FORWARD -m pkttype --pkt-type otherhost', ext: 'pkttype', ctx: { hook: 'FORWARD', host: eth0Mac }, expect: false, why: '--pkt-type otherhost: packet is unicast' },
  { rule: '-A INPUT -m pkttype ! --pkt-type unicast', ext: 'pkttype', ctx: { host: eth0Mac }, expect: false, why: '! --pkt-type unicast: packet is unicast' },
]);

// xt_mac.c mac_mt(): no Ethernet header never matches, `!` or not.
table('mac', [
  { rule: '-A INPUT -m mac --mac-source 02:00:00:00:00:09', ext: 'mac', expect: true },
  { rule: '-A INPUT -m mac --mac-source 02:00:00:00:00:09', ext: 'mac', ctx: { pkt: { macSrc: '02:00:00:00:00:0A' } }, expect: false, why: '--mac-source 02:00:00:00:00:09: packet has 02:00:00:00:00:0a' },
  { rule: '-A INPUT -m mac --mac-source 02:00:00:00:00:0a', ext: 'mac', ctx: { pkt: { macSrc: '02:00:00:00:00:0A' } }, expect: true },
  { rule: '-A INPUT -m mac ! --mac-source 02:00:00:00:00:01', ext: 'mac', ctx: { pkt: { macSrc: null } }, expect: false, why: '! --mac-source 02:00:00:00:00:01: packet has no MAC header' },
]);

// xt_owner.c owner_mt(): without a socket `(match ^ invert) == 0`; `! --socket-exists` fails with one.
const sent = (uid: number | undefined, gid?: number): CtxOptions => ({ hook: 'OUTPUT', pkt: { inIface: null, outIface: 'eth0', uid, gid } });
table('owner', [
  { rule: '-A OUTPUT -m owner --uid-owner 1000', ext: 'owner', ctx: sent(1000, 1000), expect: true },
  { rule: '-A OUTPUT -m owner --uid-owner 1000', ext: 'owner', ctx: sent(0, 0), expect: false, why: "--uid-owner 1000: socket's uid is 0" },
  { rule: '-A OUTPUT -m owner --uid-owner 1000-2000', ext: 'owner', ctx: sent(1500, 0), expect: true },
  { rule: '-A OUTPUT -m owner --uid-owner 1000', ext: 'owner', ctx: sent(undefined), expect: false, why: '--uid-owner 1000: packet has no local socket' },
  { rule: '-A OUTPUT -m owner ! --uid-owner 1000', ext: 'owner', ctx: sent(undefined), expect: true },
  { rule: '-A OUTPUT -m owner --socket-exists', ext: 'owner', ctx: sent(undefined), expect: false, why: '--socket-exists: packet has no local socket' },
  { rule: '-A OUTPUT -m owner ! --socket-exists', ext: 'owner', ctx: sent(0, 0), expect: false, why: '! --socket-exists: packet has a local socket' },
  { rule: '-A OUTPUT -m owner ! --gid-owner 100 --suppl-groups', ext: 'owner', ctx: sent(undefined), expect: false, why: '--suppl-groups: packet has no local socket' },
  { rule: '-A OUTPUT -m owner --gid-owner 100', ext: 'owner', ctx: sent(5, 100), expect: true },
]);

test('owner --suppl-groups asks about the supplementary groups', () => {
  const m = matchOf('-A OUTPUT -m owner --gid-owner 100 --suppl-groups', 'owner');
  const no = context(sent(5, 5));
  expect(runMatch(m, no)).toBe(false);
  expect(no.rec.decisions.map((d) => [d.ext, d.assumed])).toEqual([['owner', false]]);
  expect(runMatch(m, context({ ...sent(5, 5), answers: { owner: true } }))).toBe(true);
});

// xt_physdev.c physdev_mt(): a packet that crossed no bridge matches only when every option is inverted.
table('physdev', [
  { rule: '-A FORWARD -m physdev --physdev-in eth0', ext: 'physdev', ctx: { hook: 'FORWARD' }, expect: false, why: '--physdev-in eth0: packet is not bridged' },
  { rule: '-A FORWARD -m physdev ! --physdev-is-bridged', ext: 'physdev', ctx: { hook: 'FORWARD' }, expect: true },
  {
    rule: '-A FORWARD -m physdev ! --physdev-in eth0 --physdev-is-bridged',
    ext: 'physdev',
    ctx: { hook: 'FORWARD' },
    expect: false,
    why: '--physdev-is-bridged: packet is not bridged',
  },
]);

// ipt_rpfilter.c rpfilter_mt(): the route back to the source must leave by the arrival device.
const rpHost = (dev: string, type: number = RTN.UNICAST) => host({ routes: () => ({ type, dev, gateway: undefined, prefsrc: undefined }) });
table('rpfilter', [
  { rule: '-t raw -A PREROUTING -m rpfilter', ext: 'rpfilter', ctx: { hook: 'PREROUTING', host: rpHost('eth0') }, expect: true },
  {
    rule: '-t raw -A PREROUTING -m rpfilter',
    ext: 'rpfilter',
    ctx: { hook: 'PREROUTING', host: rpHost('eth1') },
    expect: false,
    why: '-m rpfilter: the route back to 10.0.0.1 leaves by eth1, not eth0',
  },
  { rule: '-t raw -A PREROUTING -m rpfilter --loose', ext: 'rpfilter', ctx: { hook: 'PREROUTING', host: rpHost('eth1') }, expect: true },
  { rule: '-t raw -A PREROUTING -m rpfilter --invert', ext: 'rpfilter', ctx: { hook: 'PREROUTING', host: rpHost('eth1') }, expect: true },
  {
    rule: '-t raw -A PREROUTING -m rpfilter',
    ext: 'rpfilter',
    ctx: { hook: 'PREROUTING', host: host() },
    expect: false,
    why: '-m rpfilter: no route back to 10.0.0.1',
  },
  {
    rule: '-t raw -A PREROUTING -m rpfilter',
    ext: 'rpfilter',
    ctx: { hook: 'PREROUTING', host: rpHost('lo', RTN.LOCAL) },
    expect: false,
    why: '-m rpfilter: the route back to 10.0.0.1 is local',
  },
  { rule: '-t raw -A PREROUTING -m rpfilter --accept-local', ext: 'rpfilter', ctx: { hook: 'PREROUTING', host: rpHost('eth0', RTN.LOCAL) }, expect: true },
  { rule: '-t raw -A PREROUTING -m rpfilter', ext: 'rpfilter', ctx: { hook: 'PREROUTING', host: host(), pkt: { inIface: 'lo' } }, expect: true },
  {
    rule: '-t raw -A PREROUTING -m rpfilter',
    ext: 'rpfilter',
    ctx: { hook: 'PREROUTING', host: host(), pkt: { proto: 17, src: 0, dst: 0xffffffff } },
    expect: true,
  },
]);

test('rpfilter looks the source up with the mark only under --validmark, and the TOS routing bits', () => {
  for (const [rule, mark] of [
    ['-t raw -A PREROUTING -m rpfilter', 0],
    ['-t raw -A PREROUTING -m rpfilter --validmark', 7],
  ] as const) {
    const h = rpHost('eth0');
    runMatch(matchOf(rule, 'rpfilter'), context({ hook: 'PREROUTING', host: h, pkt: { mark: 7, tos: 0xff } }));
    expect(h.routeCalls).toEqual([[ip('10.0.0.1'), { src: ip('10.0.0.2'), mark, tos: 0x1c }]]);
  }
});

// xt_socket.c: the host's sockets are not simulated: asked of the trace, assumed none.
test('socket asks whether a local socket matches', () => {
  const m = matchOf('-t mangle -A PREROUTING -m socket --transparent', 'socket');
  const ctx = context({ hook: 'PREROUTING' });
  expect(runMatch(m, ctx)).toBe(false);
  expect(ctx.rec.decisions).toEqual([{ ext: 'socket', question: 'a local socket matches --transparent', assumed: false, probability: undefined }]);
  expect(explain(m, ctx)).toBe('-m socket --transparent: no local socket for the packet (assumed)');
  expect(runMatch(m, context({ hook: 'PREROUTING', answers: { socket: true } }))).toBe(true);
});

// xt_set.c set_match_v4(): no ipset sets exist (a rule naming one cannot be added), so the state is made here.
test('set asks whether the packet is in the set, then applies `!`', () => {
  const def = findMatch('set')!;
  const state = def.init() as { name: string; dim: number; dirs: number; flags: number };
  Object.assign(state, { name: 'blocked', dim: 1, dirs: 1 << 1 });
  const ctx = context();
  expect(def.match!(state, ctx)).toBe(false);
  expect(ctx.rec.decisions.map((d) => [d.ext, d.question, d.assumed])).toEqual([['set', 'packet (10.0.0.1) is in set blocked', false]]);
  expect(def.explain!(state, ctx)).toBe('--match-set blocked src: packet is not in set blocked (assumed)');
  expect(def.match!(state, context({ answers: { set: true } }))).toBe(true);
  state.flags |= 1; // IPSET_INV_MATCH
  expect(def.match!(state, context())).toBe(true);
});

// xt_statistic.c statistic_mt(): random mode asks; nth mode counts from every - packet.
describe('statistic', () => {
  test('random mode asks with the probability, assumed picked', () => {
    const m = matchOf('-A INPUT -m statistic --mode random --probability 0.25', 'statistic');
    const ctx = context();
    expect(runMatch(m, ctx)).toBe(true);
    expect(ctx.rec.decisions).toEqual([{ ext: 'statistic', question: 'random pick with probability 0.25000000000', assumed: true, probability: 0.25 }]);
    const no = context({ answers: { statistic: false } });
    expect(runMatch(m, no)).toBe(false);
    expect(explain(m, no)).toBe('--mode random --probability 0.25000000000: packet was not picked (assumed)');
    expect(runMatch(matchOf('-A INPUT -m statistic --mode random ! --probability 0.25', 'statistic'), context())).toBe(false);
  });
  test('probabilities 0 and 1 are certain', () => {
    const zero = context();
    expect(runMatch(matchOf('-A INPUT -m statistic --mode random --probability 0', 'statistic'), zero)).toBe(false);
    const one = context();
    expect(runMatch(matchOf('-A INPUT -m statistic --mode random --probability 1', 'statistic'), one)).toBe(true);
    expect([...zero.rec.decisions, ...one.rec.decisions]).toEqual([]);
  });
  test.each([
    ['--every 3 --packet 0', [true, false, false, true, false, false, true]],
    ['--every 3 --packet 2', [false, false, true, false, false, true, false]],
    ['! --every 2 --packet 0', [false, true, false, true]],
  ] as const)('nth %s', (opts, want) => {
    const m = matchOf(`-A INPUT -m statistic --mode nth ${opts}`, 'statistic');
    const memory = new Map<object, unknown>();
    expect(want.map(() => runMatch(m, context({ memory })))).toEqual(want);
  });
  test('nth explains where the counter is', () => {
    const m = matchOf('-A INPUT -m statistic --mode nth --every 3 --packet 0', 'statistic');
    const memory = new Map<object, unknown>();
    runMatch(m, context({ memory }));
    const ctx = context({ memory });
    expect(runMatch(m, ctx)).toBe(false);
    expect(explain(m, ctx)).toBe('--mode nth --every 3 --packet 0: packet is number 1 of every 3 (number 0 matches)');
  });
});

// xt_limit.c limit_mt(): a full bucket of `burst` tokens; time from ctx.now; then the trace is asked.
describe('limit', () => {
  test('the burst passes, then a token must come back', () => {
    const m = matchOf('-A INPUT -m limit --limit 1/sec --limit-burst 3', 'limit');
    const memory = new Map<object, unknown>();
    const at = (now: number) => context({ memory, now });
    const t0 = Date.UTC(2026, 0, 1);
    expect([1, 2, 3].map(() => runMatch(m, at(t0)))).toEqual([true, true, true]);
    const fourth = at(t0);
    expect(runMatch(m, fourth)).toBe(false);
    expect(fourth.rec.decisions.map((d) => [d.ext, d.assumed])).toEqual([['limit', false]]);
    expect(explain(m, fourth)).toBe('--limit 1/sec --limit-burst 3: the burst of 3 is used up');
    // One second later one token is back.
    const later = at(t0 + 1000);
    expect(runMatch(m, later)).toBe(true);
    expect(later.rec.decisions).toEqual([]);
    expect(runMatch(m, at(t0 + 1000))).toBe(false);
  });
  test('the default is 3/hour with a burst of 5', () => {
    const m = matchOf('-A INPUT -m limit', 'limit');
    const memory = new Map<object, unknown>();
    expect([1, 2, 3, 4, 5, 6].map(() => runMatch(m, context({ memory })))).toEqual([true, true, true, true, true, false]);
    expect(runMatch(m, context({ memory, answers: { limit: true } }))).toBe(true);
  });
});

// xt_hashlimit.c hashlimit_mt_common(): one bucket per flow of the named table.
describe('hashlimit', () => {
  const upto = '-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name t1';
  test('per source address, upto', () => {
    const m = matchOf(upto, 'hashlimit');
    const memory = new Map<object, unknown>();
    const from = (src: string) => context({ memory, pkt: { src: ip(src) } });
    expect([1, 2, 3].map(() => runMatch(m, from('10.0.0.1')))).toEqual([true, true, false]);
    expect(runMatch(m, from('10.0.0.7'))).toBe(true);
    const ctx = from('10.0.0.1');
    expect(runMatch(m, ctx)).toBe(false);
    expect(ctx.rec.decisions.map((d) => d.question)).toEqual(['the flow srcip 10.0.0.1/32 in hashlimit t1 got tokens back (burst used up)']);
    expect(explain(m, ctx)).toBe('--hashlimit-upto 1/sec --hashlimit-name t1: this flow is over the limit');
  });
  test('above: matches once over the limit', () => {
    const m = matchOf('-A INPUT -m hashlimit --hashlimit-above 1/sec --hashlimit-burst 2 --hashlimit-name t2', 'hashlimit');
    const memory = new Map<object, unknown>();
    const ctx = () => context({ memory });
    expect([1, 2, 3].map(() => runMatch(m, ctx()))).toEqual([false, false, true]);
    const first = context();
    runMatch(m, first);
    expect(explain(m, first)).toBe('--hashlimit-above 1/sec --hashlimit-name t2: this flow is within the limit');
  });
  test('rules naming the same table share it', () => {
    const a = matchOf(upto, 'hashlimit');
    const b = matchOf(upto, 'hashlimit');
    const memory = new Map<object, unknown>();
    expect([runMatch(a, context({ memory })), runMatch(b, context({ memory })), runMatch(a, context({ memory }))]).toEqual([true, true, false]);
  });
});

// xt_recent.c recent_mt(): lists by name, stamps from ctx.now, --hitcount within --seconds.
describe('recent', () => {
  const set = '-A INPUT -m recent --set --name SSH';
  const check = '-A INPUT -m recent --rcheck --seconds 60 --hitcount 3 --name SSH';
  test('--set then --rcheck --hitcount', () => {
    const memory = new Map<object, unknown>();
    const s = matchOf(set, 'recent');
    const c = matchOf(check, 'recent');
    const t0 = Date.UTC(2026, 0, 1);
    const ctx = (now = t0, src = '10.0.0.1') => context({ memory, now, pkt: { src: ip(src) } });
    expect(runMatch(s, ctx())).toBe(true);
    const first = ctx();
    expect(runMatch(c, first)).toBe(false);
    expect(explain(c, first)).toBe('--rcheck --seconds 60 --hitcount 3 --name SSH --mask 255.255.255.255 --rsource: source 10.0.0.1 was seen 1 time(s) within the last 60 s');
    const other = ctx(t0, '10.0.0.8');
    expect(runMatch(c, other)).toBe(false);
    expect(explain(c, other)).toBe('--rcheck --seconds 60 --hitcount 3 --name SSH --mask 255.255.255.255 --rsource: source 10.0.0.8 is not in list SSH');
    runMatch(s, ctx());
    runMatch(s, ctx());
    expect(runMatch(c, ctx())).toBe(true);
    // Two minutes later the stamps are too old.
    expect(runMatch(c, ctx(t0 + 120_000))).toBe(false);
  });
  test('--remove and --update', () => {
    const memory = new Map<object, unknown>();
    const ctx = () => context({ memory });
    runMatch(matchOf('-A INPUT -m recent --set --name L', 'recent'), ctx());
    expect(runMatch(matchOf('-A INPUT -m recent --update --name L', 'recent'), ctx())).toBe(true);
    expect(runMatch(matchOf('-A INPUT -m recent --remove --name L', 'recent'), ctx())).toBe(true);
    expect(runMatch(matchOf('-A INPUT -m recent --rcheck --name L', 'recent'), ctx())).toBe(false);
    expect(runMatch(matchOf('-A INPUT -m recent ! --rcheck --name L', 'recent'), ctx())).toBe(true);
  });
  test('--rttl compares the TTL the address was set with', () => {
    const memory = new Map<object, unknown>();
    runMatch(matchOf('-A INPUT -m recent --set --name T', 'recent'), context({ memory, pkt: { ttl: 60 } }));
    const c = matchOf('-A INPUT -m recent --rcheck --rttl --name T', 'recent');
    expect(runMatch(c, context({ memory, pkt: { ttl: 60 } }))).toBe(true);
    expect(runMatch(c, context({ memory, pkt: { ttl: 61 } }))).toBe(false);
  });
  test('--rdest and --mask', () => {
    const memory = new Map<object, unknown>();
    runMatch(matchOf('-A INPUT -m recent --set --name D --rdest --mask 255.255.255.0', 'recent'), context({ memory }));
    const c = matchOf('-A INPUT -m recent --rcheck --name D --rdest --mask 255.255.255.0', 'recent');
    expect(runMatch(c, context({ memory, pkt: { dst: ip('10.0.0.99') } }))).toBe(true);
    expect(runMatch(c, context({ memory, pkt: { dst: ip('10.0.1.2') } }))).toBe(false);
  });
});

// xt_string.c string_mt(): skb_find_text() between --from and --to over the bytes from the IP header on.
describe('string', () => {
  test('a pattern in the headers is found without asking', () => {
    // 10.0.0.1 is the source address, bytes 12..15 of the IP header.
    const m = matchOf('-A INPUT -m string --hex-string "|0a000001|" --algo bm', 'string');
    const ctx = context();
    expect(runMatch(m, ctx)).toBe(true);
    expect(ctx.rec.decisions).toEqual([]);
    const late = matchOf('-A INPUT -m string --hex-string "|0a000001|" --algo bm --from 13', 'string');
    expect(runMatch(late, context())).toBe(false);
  });
  test('the payload is not simulated: asked, assumed absent', () => {
    const m = matchOf('-A INPUT -p tcp -m string --string "GET /" --algo kmp', 'string');
    const headersOnly = context();
    expect(runMatch(m, headersOnly)).toBe(false);
    expect(headersOnly.rec.decisions).toEqual([]);
    const withData = context({ pkt: { len: 200 } });
    expect(runMatch(m, withData)).toBe(false);
    expect(withData.rec.decisions.map((d) => [d.ext, d.question, d.assumed])).toEqual([
      ['string', 'the payload holds "GET /" between offsets 0 and 65535', false],
    ]);
    expect(explain(m, withData)).toBe('--string "GET /": not found between offsets 0 and 65535 (the payload is not simulated: its bytes are zeros)');
    expect(runMatch(m, context({ pkt: { len: 200 }, answers: { string: true } }))).toBe(true);
    expect(runMatch(matchOf('-A INPUT -p tcp -m string ! --string "GET /" --algo kmp', 'string'), context({ pkt: { len: 200 } }))).toBe(true);
  });
  test('--icase folds ASCII case', () => {
    const pkt = packet({ ttl: 0x6a }); // 'j' at offset 8
    expect(packetBytes(pkt).includes(0x4a)).toBe(false);
    expect(runMatch(matchOf('-A INPUT -m string --string J --algo bm', 'string'), context({ pkt: { ttl: 0x6a } }))).toBe(false);
    expect(runMatch(matchOf('-A INPUT -m string --string J --algo bm --icase', 'string'), context({ pkt: { ttl: 0x6a } }))).toBe(true);
  });
});

// xt_u32.c u32_match_it(): words at computed offsets of the packet's bytes.
table('u32', [
  { rule: '-A INPUT -m u32 --u32 "6&0xFF=6"', ext: 'u32', expect: true },
  {
    rule: '-A INPUT -m u32 --u32 "6&0xFF=6"',
    ext: 'u32',
    ctx: { pkt: { proto: 17 } },
    expect: false,
    why: '--u32 "0x6&0xff=0x6": test "0x6&0xff=0x6" fails: value is 0x11',
  },
  { rule: '-A INPUT -m u32 --u32 "0&0xFFFF=40"', ext: 'u32', expect: true },
  { rule: '-A INPUT -m u32 --u32 "0>>22&0x3C@0>>16=40000"', ext: 'u32', expect: true },
  { rule: '-A INPUT -m u32 --u32 "0>>22&0x3C@0&0xFFFF=22&&0>>22&0x3C@4=1000"', ext: 'u32', expect: true },
  { rule: '-A INPUT -m u32 --u32 "0>>22&0x3C@4=1:999"', ext: 'u32', expect: false, why: '--u32 "0x0>>0x16&0x3c@0x4=0x1:0x3e7": test "0x0>>0x16&0x3c@0x4=0x1:0x3e7" fails: value is 0x3e8' },
  { rule: '-A INPUT -m u32 --u32 "100=0"', ext: 'u32', expect: false, why: '--u32 "0x64=0x0": test "0x64=0x0" fails: offset 100 is past the end of the 40-byte packet' },
  { rule: '-A INPUT -m u32 ! --u32 "100=0"', ext: 'u32', expect: true },
]);

// ---------------------------------------------------------------------------------------------------------
// Targets

describe('targets', () => {
  test.each(['ACCEPT', 'DROP', 'RETURN'] as const)('standard %s returns its verdict', (v) => {
    expect(runTarget(targetOf(`-A INPUT -j ${v}`), context())).toBe(v);
  });

  // xt_LOG.c log_tg(): nf_log_packet(), XT_CONTINUE.
  test('LOG', () => {
    const ctx = context();
    expect(runTarget(targetOf('-A INPUT -j LOG --log-prefix "in: " --log-level 6 --log-uid --log-tcp-options'), ctx)).toBe('CONTINUE');
    expect(ctx.rec.logs).toEqual([{ prefix: 'in: ', level: 6, flags: 0x0a }]);
    const plain = context();
    runTarget(targetOf('-A INPUT -j LOG'), plain);
    expect(plain.rec.logs).toEqual([{ prefix: '', level: 4, flags: 0 }]);
  });

  test('NFLOG notes and continues', () => {
    const ctx = context();
    expect(runTarget(targetOf('-A INPUT -j NFLOG --nflog-group 5 --nflog-prefix dropped'), ctx)).toBe('CONTINUE');
    expect(ctx.rec.notes).toEqual(['NFLOG to group 5 prefix "dropped"']);
  });

  // xt_mark.c mark_tg(): mark = (mark & ~mask) ^ value.
  test.each([
    ['--set-xmark 0x1/0xff', 0x302, 0x301],
    ['--set-mark 5', 0x1234, 5],
    ['--set-mark 0x10/0xf0', 0x1234, 0x1214],
    ['--and-mark 0xf', 0x1234, 0x4],
    ['--or-mark 0x100', 0x1, 0x101],
    ['--xor-mark 1', 0x3, 0x2],
  ])('MARK %s', (opts, before, after) => {
    const ctx = context({ pkt: { mark: before } });
    expect(runTarget(targetOf(`-t mangle -A PREROUTING -j MARK ${opts}`), ctx)).toBe('CONTINUE');
    expect(ctx.pkt.mark).toBe(after);
  });

  // xt_connmark.c connmark_tg_shift().
  test.each([
    ['--set-mark 7', 0, 0x100, 7, 0x100],
    ['--set-xmark 0x1/0x1 --left-shift-mark 4', 0x10, 0, 0x110, 0],
    ['--save-mark', 0, 0x55, 0x55, 0x55],
    ['--save-mark --mask 0xff --right-shift-mark 4', 0xab00, 0x1234, 0xab03, 0x1234],
    ['--restore-mark --mask 0xff', 0x12, 0xab00, 0x12, 0xab12],
    ['--restore-mark --nfmask 0xff00 --ctmask 0xff --left-shift-mark 8', 0x34, 0x12, 0x34, 0x3412],
  ])('CONNMARK %s', (opts, ctmark, mark, ctAfter, markAfter) => {
    const ct = conn({ mark: ctmark });
    const ctx = context({ ct, pkt: { mark } });
    expect(runTarget(targetOf(`-t mangle -A PREROUTING -j CONNMARK ${opts}`), ctx)).toBe('CONTINUE');
    expect([ct.mark, ctx.pkt.mark]).toEqual([ctAfter, markAfter]);
  });

  test('CONNMARK without a connection changes nothing', () => {
    const ctx = context({ pkt: { mark: 3 } });
    expect(runTarget(targetOf('-t mangle -A PREROUTING -j CONNMARK --restore-mark'), ctx)).toBe('CONTINUE');
    expect(ctx.pkt.mark).toBe(3);
  });

  // xt_CT.c xt_ct_target().
  test('CT --notrack and NOTRACK untrack the packet', () => {
    for (const rule of ['-t raw -A PREROUTING -j CT --notrack', '-t raw -A PREROUTING -j NOTRACK']) {
      const ctx = context({ hook: 'PREROUTING', table: 'raw' });
      expect(runTarget(targetOf(rule), ctx)).toBe('CONTINUE');
      expect(ctx.rec.notracked).toBe(1);
    }
    const already = context({ hook: 'PREROUTING', table: 'raw', ctState: 'UNTRACKED' });
    runTarget(targetOf('-t raw -A PREROUTING -j CT --notrack'), already);
    expect(already.rec.notracked).toBe(0);
  });

  test('CT with a zone or helper notes what is not simulated', () => {
    const ctx = context({ hook: 'PREROUTING', table: 'raw' });
    expect(runTarget(targetOf('-t raw -A PREROUTING -p tcp -j CT --helper ftp --zone 5'), ctx)).toBe('CONTINUE');
    expect(ctx.rec.notes).toEqual(['CT: the connection would get helper ftp, zone 5 (not simulated)']);
    expect(ctx.rec.notracked).toBe(0);
  });

  // xt_nat.c / xt_MASQUERADE.c / xt_REDIRECT.c: nf_nat_setup_info(), NF_ACCEPT.
  const nat = (over: Partial<NatRequest>): NatRequest => ({
    kind: 'DNAT',
    minAddr: 0,
    maxAddr: 0,
    mapPorts: false,
    minPort: 0,
    maxPort: 0,
    random: false,
    fullyRandom: false,
    persistent: false,
    ...over,
  });
  test.each([
    ['-t nat -A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.5:8080', nat({ minAddr: ip('10.0.0.5'), maxAddr: ip('10.0.0.5'), mapPorts: true, minPort: 8080, maxPort: 8080 })],
    ['-t nat -A PREROUTING -j DNAT --to-destination 10.0.0.5-10.0.0.9 --random --persistent', nat({ minAddr: ip('10.0.0.5'), maxAddr: ip('10.0.0.9'), random: true, persistent: true })],
    // No address in the range: the kernel keeps the destination, requested as the packet's own.
    ['-t nat -A PREROUTING -p tcp -j DNAT --to-destination :8080', nat({ minAddr: ip('10.0.0.2'), maxAddr: ip('10.0.0.2'), mapPorts: true, minPort: 8080, maxPort: 8080 })],
    ['-t nat -A POSTROUTING -p tcp -j SNAT --to-source :2000-3000', nat({ kind: 'SNAT', minAddr: ip('10.0.0.1'), maxAddr: ip('10.0.0.1'), mapPorts: true, minPort: 2000, maxPort: 3000 })],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4 --random-fully', nat({ kind: 'SNAT', minAddr: ip('1.2.3.4'), maxAddr: ip('1.2.3.4'), fullyRandom: true })],
    ['-t nat -A POSTROUTING -p udp -j MASQUERADE --to-ports 1000-2000', nat({ kind: 'MASQUERADE', mapPorts: true, minPort: 1000, maxPort: 2000 })],
    ['-t nat -A POSTROUTING -j MASQUERADE', nat({ kind: 'MASQUERADE' })],
    ['-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 3128', nat({ kind: 'REDIRECT', mapPorts: true, minPort: 3128, maxPort: 3128 })],
  ])('%s', (rule, want) => {
    const ctx = context({ table: 'nat' });
    expect(runTarget(targetOf(rule), ctx)).toBe('ACCEPT');
    expect(ctx.rec.nats).toEqual([want]);
  });

  // ipt_REJECT.c reject_tg(): send the reply, NF_DROP.
  test.each([
    ['-A INPUT -j REJECT', 'icmp-port-unreachable'],
    ['-A INPUT -p tcp -j REJECT --reject-with tcp-reset', 'tcp-reset'],
    ['-A INPUT -j REJECT --reject-with admin-prohib', 'icmp-admin-prohibited'],
  ])('%s', (rule, what) => {
    const ctx = context();
    expect(runTarget(targetOf(rule), ctx)).toBe('DROP');
    expect(ctx.rec.rejects).toEqual([what]);
  });

  // xt_TCPMSS.c tcpmss_mangle_packet().
  describe('TCPMSS', () => {
    const rule = '-t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400';
    test('lowers an MSS option', () => {
      const ctx = context({ hook: 'FORWARD', pkt: { tcpOptions: Uint8Array.of(2, 4, 0x05, 0xb4), len: 44 } });
      expect(runTarget(targetOf(rule), ctx)).toBe('CONTINUE');
      expect([...ctx.pkt.tcpOptions]).toEqual([2, 4, 0x05, 0x78]);
    });
    test('never raises one', () => {
      const ctx = context({ hook: 'FORWARD', pkt: { tcpOptions: Uint8Array.of(1, 1, 2, 4, 0x05, 0x14), len: 48 } });
      runTarget(targetOf(rule), ctx);
      expect([...ctx.pkt.tcpOptions]).toEqual([1, 1, 2, 4, 0x05, 0x14]);
    });
    test('adds min(mss, 536) to a segment without one and without data', () => {
      const ctx = context({ hook: 'FORWARD' });
      runTarget(targetOf(rule), ctx);
      expect([...ctx.pkt.tcpOptions]).toEqual([2, 4, 0x02, 0x18]);
      expect(ctx.pkt.len).toBe(44);
    });
    test('leaves a segment with data alone', () => {
      const ctx = context({ hook: 'FORWARD', pkt: { len: 100 } });
      runTarget(targetOf(rule), ctx);
      expect([...ctx.pkt.tcpOptions, ctx.pkt.len]).toEqual([100]);
    });
    test('clamps to the assumed path MTU', () => {
      const ctx = context({ hook: 'FORWARD', pkt: { tcpOptions: Uint8Array.of(2, 4, 0x23, 0x28), len: 44 } });
      runTarget(targetOf('-t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu'), ctx);
      expect([...ctx.pkt.tcpOptions]).toEqual([2, 4, 0x05, 0xb4]);
    });
  });

  test('CHECKSUM notes and continues', () => {
    const ctx = context();
    expect(runTarget(targetOf('-t mangle -A POSTROUTING -p udp -j CHECKSUM --checksum-fill'), ctx)).toBe('CONTINUE');
    expect(ctx.rec.notes.length).toBe(1);
  });

  // xt_NFQUEUE.c: no listener, so the packet is dropped unless --queue-bypass.
  test('NFQUEUE', () => {
    expect(runTarget(targetOf('-A INPUT -j NFQUEUE --queue-num 3'), context())).toBe('DROP');
    expect(runTarget(targetOf('-A INPUT -j NFQUEUE --queue-balance 0:3 --queue-bypass'), context())).toBe('ACCEPT');
  });

  test('TRACE starts tracing', () => {
    const ctx = context({ table: 'raw' });
    expect(runTarget(targetOf('-t raw -A PREROUTING -j TRACE'), ctx)).toBe('CONTINUE');
    expect(ctx.rec.traced).toBe(1);
  });

  // xt_set.c set_target_v3(): no ipset sets; the state is made here as for the set match.
  test('SET notes and continues', () => {
    const def = findTarget('SET')!;
    const state = def.init() as { add: { name: string; dim: number; dirs: number } };
    Object.assign(state.add, { name: 'seen', dim: 1, dirs: 2 });
    const ctx = context();
    expect(def.run!(state, ctx)).toBe('CONTINUE');
    expect(ctx.rec.notes).toEqual(['SET: would add the packet to set seen (ipset not simulated)']);
  });
});
