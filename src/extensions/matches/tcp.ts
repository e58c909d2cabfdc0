/**
 * tcp match (iptables-extensions: "tcp"). Loaded by `-m tcp` or implicitly by `-p tcp` when a tcp option
 * follows. Old-style option handling: its own "Only one ..." messages, `!` accepted before every option.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseUint } from '../../model/cnum';
import { parsePortRange, portToService } from '../option-types';
import { PROTO_TCP } from '../../eval/packet';
import type { EvalContext } from '../../eval/context';
import { inRange, opt } from '../values/semantics';

export interface TcpState {
  spts: [number, number];
  dpts: [number, number];
  option: number;
  flagMask: number;
  flagCmp: number;
  invSport: boolean;
  invDport: boolean;
  invOption: boolean;
  invFlags: boolean;
  /** Which options were given (old-style flags). */
  given: Set<'sport' | 'dport' | 'flags' | 'option'>;
}

const FLAG_NAMES: ReadonlyArray<readonly [string, number]> = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ALL', 0x3f],
  ['NONE', 0],
];

function parseFlags(list: string): number {
  let v = 0;
  for (const part of list.split(',').filter((p) => p !== '')) {
    const f = FLAG_NAMES.find(([n]) => n.toLowerCase() === part.toLowerCase());
    if (!f) throw paramProblem(`Unknown TCP flag \`${part}'`);
    v |= f[1];
  }
  return v;
}

/** print_tcpf(): FIN,SYN,... lowest bit first, or NONE. */
export function flagsText(flags: number): string {
  const out: string[] = [];
  let f = flags;
  while (f) {
    const entry = FLAG_NAMES.find(([, bit]) => (f & bit) !== 0)!;
    out.push(entry[0]);
    f &= ~entry[1];
  }
  return out.length ? out.join(',') : 'NONE';
}

/** The port printing shared by tcp and udp -L output. */
export function printPorts(name: string, range: readonly [number, number], inv: boolean, numeric: boolean, proto: string): string {
  const [min, max] = range;
  if (min === 0 && max === 65535 && !inv) return '';
  const p = (port: number): string => (numeric ? String(port) : (portToService(port, proto) ?? String(port)));
  const i = inv ? '!' : '';
  return min === max ? ` ${name}:${i}${p(min)}` : ` ${name}s:${i}${p(min)}:${p(max)}`;
}

/** The port save text shared by tcp and udp. */
export function savePorts(opt: string, range: readonly [number, number], inv: boolean): string {
  const [min, max] = range;
  if (min === 0 && max === 65535 && !inv) return '';
  return `${inv ? ' !' : ''} --${opt} ${min === max ? min : `${min}:${max}`}`;
}

/** parse_tcp_ports()/parse_udp_ports(): "invalid portrange (min > max)" for reversed ranges. */
export function parsePorts(spec: string, proto: string): [number, number] {
  const r = parsePortRange(spec, proto);
  if (r[0] > r[1]) throw paramProblem('invalid portrange (min > max)');
  return r;
}

function hasPorts(s: TcpState): boolean {
  return s.given.has('sport') || s.given.has('dport');
}

export default defineMatch<TcpState>({
  kind: 'match',
  name: 'tcp',
  manSection: 'tcp',
  style: 'old',
  help: `tcp match options:
[!] --tcp-flags mask comp	match when TCP flags & mask == comp
				(Flags: SYN ACK FIN RST URG PSH ALL NONE)
[!] --syn			match when only SYN flag set
				(equivalent to --tcp-flags SYN,RST,ACK,FIN SYN)
[!] --source-port port[:port]
 --sport ...
				match source port(s)
[!] --destination-port port[:port]
 --dport ...
				match destination port(s)
[!] --tcp-option number        match if TCP option set
`,
  options: [
    { name: 'source-port', arg: 'required' },
    { name: 'sport', arg: 'required' },
    { name: 'destination-port', arg: 'required' },
    { name: 'dport', arg: 'required' },
    { name: 'syn', arg: 'none' },
    { name: 'tcp-flags', arg: 'required' },
    { name: 'tcp-option', arg: 'required' },
  ],
  init: () => ({
    spts: [0, 65535],
    dpts: [0, 65535],
    option: 0,
    flagMask: 0,
    flagCmp: 0,
    invSport: false,
    invDport: false,
    invOption: false,
    invFlags: false,
    given: new Set(),
  }),
  parse(s, use, ctx) {
    switch (use.name) {
      case 'source-port':
      case 'sport':
        if (s.given.has('sport')) throw paramProblem("Only one `--source-port' allowed");
        s.spts = parsePorts(use.value!, 'tcp');
        s.invSport = use.inverted;
        s.given.add('sport');
        return;
      case 'destination-port':
      case 'dport':
        if (s.given.has('dport')) throw paramProblem("Only one `--destination-port' allowed");
        s.dpts = parsePorts(use.value!, 'tcp');
        s.invDport = use.inverted;
        s.given.add('dport');
        return;
      case 'syn':
      case 'tcp-flags': {
        if (s.given.has('flags')) throw paramProblem("Only one of `--syn' or `--tcp-flags'  allowed");
        let mask = 'SYN,RST,ACK,FIN';
        let cmp = 'SYN';
        if (use.name === 'tcp-flags') {
          const second = ctx.nextArg();
          if (second === undefined) throw paramProblem('--tcp-flags requires two args.');
          mask = use.value!;
          cmp = second;
        }
        s.flagMask = parseFlags(mask);
        s.flagCmp = parseFlags(cmp);
        s.invFlags = use.inverted;
        s.given.add('flags');
        return;
      }
      case 'tcp-option': {
        if (s.given.has('option')) throw paramProblem("Only one `--tcp-option' allowed");
        const v = parseUint(use.value!, 1, 255);
        if (v === null) throw paramProblem(`Bad TCP option "${use.value!}"`);
        s.option = v;
        s.invOption = use.inverted;
        s.given.add('option');
        return;
      }
    }
  },
  merge(a, b) {
    // Each field once: the nftables rule has one payload match per field (recorded in ext-tcp).
    for (const f of b.given) if (a.given.has(f)) return false;
    if (b.given.has('sport')) [a.spts, a.invSport] = [b.spts, b.invSport];
    if (b.given.has('dport')) [a.dpts, a.invDport] = [b.dpts, b.invDport];
    if (b.given.has('flags')) [a.flagMask, a.flagCmp, a.invFlags] = [b.flagMask, b.flagCmp, b.invFlags];
    if (b.given.has('option')) [a.option, a.invOption] = [b.option, b.invOption];
    for (const f of b.given) a.given.add(f);
    return true;
  },
  finalCheck(s, ctx) {
    // The nf_tables variant turns port matches into payload expressions and checks `-p tcp` itself.
    if (hasPorts(s) && ctx.protocol !== 6) throw paramProblem("TCP match requires '-p tcp'");
  },
  kernelCheck(s, view) {
    // Otherwise the xt tcp match goes to the kernel, which wants `-p tcp` (xt_match.proto), not inverted.
    if (!hasPorts(s) && (view.protocol !== 6 || view.protocolInverted)) return 'Invalid argument';
    return undefined;
  },
  save(s) {
    let out = savePorts('sport', s.spts, s.invSport) + savePorts('dport', s.dpts, s.invDport);
    if (s.option || s.invOption) out += `${s.invOption ? ' !' : ''} --tcp-option ${s.option}`;
    if (s.flagMask || s.invFlags) out += `${s.invFlags ? ' !' : ''} --tcp-flags ${flagsText(s.flagMask)} ${flagsText(s.flagCmp)}`;
    return out;
  },
  print(s, numeric) {
    let out = ' tcp' + printPorts('spt', s.spts, s.invSport, numeric, 'tcp') + printPorts('dpt', s.dpts, s.invDport, numeric, 'tcp');
    if (s.option || s.invOption) out += ` option=${s.invOption ? '!' : ''}${s.option}`;
    if (s.flagMask || s.invFlags) {
      const hex2 = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
      out += ` flags:${s.invFlags ? '!' : ''}${numeric ? `${hex2(s.flagMask)}/${hex2(s.flagCmp)}` : `${flagsText(s.flagMask)}/${flagsText(s.flagCmp)}`}`;
    }
    return out;
  },
  match: (s, ctx) => failedCriterion(s, ctx) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx) ?? 'matches',
});

/**
 * tcp_find_option() of xt_tcpudp.c: walks the option bytes (doff*4 - 20 of them, the padding zeros) and
 * answers `!invert` when the kind is found, `invert` otherwise.
 */
function hasTcpOption(options: Uint8Array, kind: number): boolean {
  const len = (options.length + 3) & ~3;
  const at = (i: number): number => (i < options.length ? options[i]! : 0);
  for (let i = 0; i < len; ) {
    if (at(i) === kind) return true;
    if (at(i) < 2) i++;
    else i += at(i + 1) || 1;
  }
  return false;
}

/**
 * tcp_mt() of xt_tcpudp.c, criterion by criterion in the kernel's order: source ports, destination ports,
 * `(flags & mask) == cmp`, then the option; each with its own `!`. Undefined when the packet matches, else
 * the explanation of the first criterion that failed. (Fragments never match; the simulation has none.)
 */
function failedCriterion(s: TcpState, ctx: EvalContext): string | undefined {
  const p = ctx.pkt;
  if (p.proto !== PROTO_TCP) return `-p tcp: packet is not tcp (protocol ${p.proto})`;
  if (inRange(p.sport, s.spts[0], s.spts[1]) === s.invSport) {
    return `${opt(savePorts('sport', s.spts, s.invSport))}: packet has ${p.sport}`;
  }
  if (inRange(p.dport, s.dpts[0], s.dpts[1]) === s.invDport) {
    return `${opt(savePorts('dport', s.dpts, s.invDport))}: packet has ${p.dport}`;
  }
  if (((p.tcpFlags & s.flagMask) === s.flagCmp) === s.invFlags) {
    const text = `${s.invFlags ? '! ' : ''}--tcp-flags ${flagsText(s.flagMask)} ${flagsText(s.flagCmp)}`;
    return `${text}: packet has ${flagsText(p.tcpFlags & 0x3f)}`;
  }
  if (s.option && hasTcpOption(p.tcpOptions, s.option) === s.invOption) {
    const text = `${s.invOption ? '! ' : ''}--tcp-option ${s.option}`;
    return `${text}: packet ${s.invOption ? 'has' : 'has no'} option ${s.option}`;
  }
  return undefined;
}
