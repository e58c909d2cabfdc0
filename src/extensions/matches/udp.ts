/**
 * udp match (iptables-extensions: "udp"). Loaded by `-m udp` or implicitly by `-p udp` when a udp option
 * follows. x6 options of type XTTYPE_PORTRC: each end of `port[:port]` goes through getaddrinfo() as a service,
 * so a number is taken modulo 65536 and a reversed range is kept as given. iptables-nft turns a udp match
 * with ports into payload expressions and then insists on `-p udp` itself ("UDP match requires '-p udp'");
 * a bare `-m udp` stays an xt match, which the kernel refuses without `-p udp`.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { serviceToPort } from '../option-types';
import { cStrtoul } from '../values/cstrtoul';
import { X6Table } from '../values/x6ids';
import { printPorts, savePorts } from './tcp';

export interface UdpState {
  spts: [number, number];
  dpts: [number, number];
  invSport: boolean;
  invDport: boolean;
  /** x6 option flags (1 << id) given so far. */
  flags: number;
}

const O_SOURCE_PORT = 0;
const O_DEST_PORT = 1;

const TABLE = new X6Table('udp', [
  { name: 'source-port', id: O_SOURCE_PORT },
  { name: 'sport', id: O_SOURCE_PORT },
  { name: 'destination-port', id: O_DEST_PORT },
  { name: 'dport', id: O_DEST_PORT },
]);

/**
 * xtables_getportbyname(): getaddrinfo(NULL, name) without hints. glibc reads the service with
 * strtoul(.., 10) into an int: all digits and not negative as an int is a port (modulo 65536), anything else
 * is looked up as a service name (tcp first, then udp). -1 when nothing resolves.
 */
export function getPortByName(name: string): number {
  if (name === '') return -1;
  const r = cStrtoul(name, 0, 10);
  if (r.end > 0 && r.end === name.length) {
    const num = Number(BigInt.asIntN(32, r.value));
    if (num >= 0) return num & 0xffff;
  }
  return serviceToPort(name, 'tcp') ?? serviceToPort(name, 'udp') ?? -1;
}

/** xtopt_parse_mport(): "port[:port]", an empty end keeps its default (0 / 65535), one port means [p, p]. */
export function parsePortRangeRC(ext: string, optName: string, arg: string): [number, number] {
  const range: [number, number] = [0, 65535];
  let nvals = 0;
  for (const part of arg.split(':')) {
    if (nvals === 2) throw paramProblem(`${ext}: Too many components for option "--${optName}" (max: 2)\n`);
    if (part !== '') {
      const v = getPortByName(part);
      if (v < 0) throw paramProblem(`Port "${part}" does not resolve to anything.\n`);
      range[nvals] = v;
    }
    nvals++;
  }
  if (nvals === 1) range[1] = range[0];
  return range;
}

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
  // Aliases share an id: `multi` keeps the core's name-based once-check out; TABLE does it by id.
  options: [
    { name: 'source-port', arg: 'required', invert: true, multi: true },
    { name: 'sport', arg: 'required', invert: true, multi: true },
    { name: 'destination-port', arg: 'required', invert: true, multi: true },
    { name: 'dport', arg: 'required', invert: true, multi: true },
  ],
  init: () => ({ spts: [0, 65535], dpts: [0, 65535], invSport: false, invDport: false, flags: 0 }),
  parse(s, use) {
    s.flags = TABLE.once(s.flags, use.name);
    const id = TABLE.id(use.name);
    const range = parsePortRangeRC('udp', TABLE.primary(id), use.value!);
    if (id === O_SOURCE_PORT) {
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
});
