/**
 * udp match (iptables-extensions: "udp"). Loaded by `-m udp` or implicitly by `-p udp` when a udp option
 * follows. x6 options of type XTTYPE_PORTRC: each end of `port[:port]` goes through getaddrinfo() as a service,
 * so a number is taken modulo 65536 and a reversed range is kept as given. iptables-nft turns a udp match
 * with ports into payload expressions and then insists on `-p udp` itself ("UDP match requires '-p udp'");
 * a bare `-m udp` stays an xt match, which the kernel refuses without `-p udp`.
 */
import { defineMatch, type OptionDef } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6PortRange, primaryName } from '../values/x6';
import { printPorts, savePorts } from './tcp';
import { PROTO_UDP } from '../../eval/packet';
import type { EvalContext } from '../../eval/context';
import { inRange, opt } from '../values/semantics';

export interface UdpState {
  spts: [number, number];
  dpts: [number, number];
  invSport: boolean;
  invDport: boolean;
}

const OPTIONS: readonly OptionDef[] = [
  { name: 'source-port', id: 0, arg: 'required', invert: true },
  { name: 'sport', id: 0, arg: 'required', invert: true },
  { name: 'destination-port', id: 1, arg: 'required', invert: true },
  { name: 'dport', id: 1, arg: 'required', invert: true },
];

function allZero(s: UdpState): boolean {
  return s.spts[0] === 0 && s.spts[1] === 65535 && s.dpts[0] === 0 && s.dpts[1] === 65535 && !s.invSport && !s.invDport;
}

export default defineMatch<UdpState>({
  kind: 'match',
  name: 'udp',
  manSection: 'udp',
  style: 'x6',
  help: `udp match options:
[!] --source-port port[:port]
 --sport ...
				match source port(s)
[!] --destination-port port[:port]
 --dport ...
				match destination port(s)
`,
  // Aliases share an id: libxtables names the first entry of the id in its messages.
  options: OPTIONS,
  init: () => ({ spts: [0, 65535], dpts: [0, 65535], invSport: false, invDport: false }),
  parse(s, use) {
    const name = primaryName(OPTIONS, use.name);
    const range = parseX6PortRange('udp', name, use.value!);
    if (name === 'source-port') {
      s.spts = range;
      if (use.inverted) s.invSport = true;
    } else {
      s.dpts = range;
      if (use.inverted) s.invDport = true;
    }
  },
  finalCheck(s, ctx) {
    // nft.c add_nft_udp(): ports become payload matches, which need the l4 protocol of the rule.
    if (!allZero(s) && ctx.protocol !== 17) throw paramProblem("UDP match requires '-p udp'");
  },
  kernelCheck(s, view) {
    // A bare `-m udp` stays an xt match: the kernel wants `-p udp` (xt_match.proto), not inverted.
    if (allZero(s) && (view.protocol !== 17 || view.protocolInverted)) return 'Invalid argument';
    return undefined;
  },
  save: (s) => savePorts('sport', s.spts, s.invSport) + savePorts('dport', s.dpts, s.invDport),
  print: (s, numeric) =>
    ' udp' + printPorts('spt', s.spts, s.invSport, numeric, 'udp') + printPorts('dpt', s.dpts, s.invDport, numeric, 'udp'),
  match: (s, ctx) => failedCriterion(s, ctx) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx) ?? 'matches',
});

/**
 * udp_mt() of xt_tcpudp.c: source then destination port range (inclusive; a reversed range never matches),
 * each with its own `!`. Undefined when the packet matches, else why not.
 */
function failedCriterion(s: UdpState, ctx: EvalContext): string | undefined {
  const p = ctx.pkt;
  if (p.proto !== PROTO_UDP) return `-p udp: packet is not udp (protocol ${p.proto})`;
  if (inRange(p.sport, s.spts[0], s.spts[1]) === s.invSport) {
    return `${opt(savePorts('sport', s.spts, s.invSport))}: packet has ${p.sport}`;
  }
  if (inRange(p.dport, s.dpts[0], s.dpts[1]) === s.invDport) {
    return `${opt(savePorts('dport', s.dpts, s.invDport))}: packet has ${p.dport}`;
  }
  return undefined;
}
