/**
 * The walker's fast path (rules skipped by a typed-array prefilter on addresses and protocol, and in long chains
 * an index by destination address) must give what
 * the naive walk gives (every rule tried, as when explanations are collected): same steps, same verdict, for
 * random chains and packets (fast-check).
 */
import fc from 'fast-check';
import { restore } from '../src/io/restore';
import { Ruleset } from '../src/model/ruleset';
import { walkTable, type Step } from '../src/eval/walk';
import type { EvalContext } from '../src/eval/context';
import { PROTO_TCP, PROTO_UDP, PROTO_ICMP, type Packet } from '../src/eval/packet';

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

function ruleset(input: string[], user: string[]): Ruleset {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', ':USER - [0:0]'];
  for (const r of input) lines.push(`-A FORWARD ${r}`.trimEnd());
  for (const r of user) lines.push(`-A USER ${r.replace(/-[jg] USER/, '-j ACCEPT')}`.trimEnd());
  lines.push('COMMIT', '');
  return restore(lines.join('\n'), new Ruleset(), { counters: false, noflush: false, test: false, onlyTable: undefined, verbose: false, programName: 't', warn: () => undefined }).ruleset;
}

function packet(src: string, dst: string, proto: number, iface: string): Packet {
  const a = (s: string): number => s.split('.').reduce((x, b) => x * 256 + Number(b), 0) >>> 0;
  return {
    src: a(src), dst: a(dst), proto, tos: 0, ttl: 64, id: 1, df: true, len: 60, ipOptions: new Uint8Array(0),
    sport: 1, dport: 2, tcpFlags: 2, seq: 0, ackSeq: 0, window: 0, urgPtr: 0, tcpOptions: new Uint8Array(0),
    icmpType: 8, icmpCode: 0, icmpId: 0, icmpSeq: 0, quoted: undefined, mark: 0, inIface: iface, outIface: 'eth9',
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
  ['long chains (indexed by destination)', 64, 130, 120],
])('the prefiltered walk equals the naive walk: %s', (_name, min, max, runs) => {
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
