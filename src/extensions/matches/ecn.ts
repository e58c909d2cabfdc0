/**
 * ecn match (iptables-extensions: "ecn"): [!] --ecn-tcp-cwr, [!] --ecn-tcp-ece (TCP header bits) and
 * [!] --ecn-ip-ect 0..3 (the IP header's ECN field), each with its own `!`. The kernel (ecn_mt_check4) refuses
 * the TCP bits unless the rule says `-p tcp` (recorded in ext-ecn.json).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import type { EvalContext } from '../../eval/context';

const OP_ECE = 0x01;
const OP_CWR = 0x02;
const OP_IP = 0x04;
const TCP_ECE = 0x40;
const TCP_CWR = 0x80;

export interface EcnState {
  operation: number;
  invert: number;
  ipEct: number;
}

function text(s: EcnState, list: boolean): string {
  const inv = (bit: number): string => (s.invert & bit ? (list ? '!' : ' !') : '');
  let out = list ? ' ECN match' : '';
  if (s.operation & OP_ECE) out += list ? ` ${inv(OP_ECE)}ECE` : `${inv(OP_ECE)} --ecn-tcp-ece`;
  if (s.operation & OP_CWR) out += list ? ` ${inv(OP_CWR)}CWR` : `${inv(OP_CWR)} --ecn-tcp-cwr`;
  if (s.operation & OP_IP) out += list ? ` ${inv(OP_IP)}ECT=${s.ipEct}` : `${inv(OP_IP)} --ecn-ip-ect ${s.ipEct}`;
  return out;
}

export default defineMatch<EcnState>({
  kind: 'match',
  name: 'ecn',
  manSection: 'ecn',
  style: 'x6',
  help: `ECN match options
[!] --ecn-tcp-cwr 		Match CWR bit of TCP header
[!] --ecn-tcp-ece		Match ECE bit of TCP header
[!] --ecn-ip-ect [0..3]	Match ECN codepoint in IPv4/IPv6 header
`,
  options: [
    { name: 'ecn-tcp-cwr', arg: 'none', invert: true },
    { name: 'ecn-tcp-ece', arg: 'none', invert: true },
    { name: 'ecn-ip-ect', arg: 'required', invert: true },
  ],
  init: () => ({ operation: 0, invert: 0, ipEct: 0 }),
  parse(s, use) {
    let bit = OP_IP;
    if (use.name === 'ecn-tcp-cwr') bit = OP_CWR;
    else if (use.name === 'ecn-tcp-ece') bit = OP_ECE;
    else s.ipEct = parseX6Uint('ecn', 'ecn-ip-ect', use.value!, 0, 3);
    s.operation |= bit;
    if (use.inverted) s.invert |= bit;
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('ECN match: some option required');
  },
  save: (s) => text(s, false),
  print: (s) => text(s, true),
  kernelCheck: (s, view) =>
    s.operation & (OP_ECE | OP_CWR) && (view.protocol !== 6 || view.protocolInverted) ? 'Invalid argument' : undefined,
  match: (s, ctx) => ecnMiss(s, ctx) === undefined,
  explain: (s, ctx) => ecnMiss(s, ctx) ?? '',
});

/**
 * ecn_mt4() of xt_ecn.c: the IP ECN field ((tos & 3) == ect) ^ invert, then each TCP bit asked for must be set
 * (or clear under `!`). Returns why the packet does not match, or undefined.
 */
function ecnMiss(s: EcnState, ctx: EvalContext): string | undefined {
  const p = ctx.pkt;
  if (s.operation & OP_IP && ((p.tos & 3) === s.ipEct) === !!(s.invert & OP_IP)) {
    return `${s.invert & OP_IP ? '! ' : ''}--ecn-ip-ect ${s.ipEct}: packet has ${p.tos & 3}`;
  }
  const bits: Array<[number, number, string]> = [
    [OP_ECE, TCP_ECE, 'ece'],
    [OP_CWR, TCP_CWR, 'cwr'],
  ];
  for (const [op, flag, name] of bits) {
    if (!(s.operation & op)) continue;
    const set = (p.tcpFlags & flag) !== 0;
    if (set === !!(s.invert & op)) return `${s.invert & op ? '! ' : ''}--ecn-tcp-${name}: packet has ${name.toUpperCase()} ${set ? 'set' : 'clear'}`;
  }
  return undefined;
}
