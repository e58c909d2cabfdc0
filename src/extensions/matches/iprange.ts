/**
 * iprange match (iptables-extensions: "iprange", revision 1): [!] --src-range from[-to],
 * [!] --dst-range from[-to]. Each end is a numeric IPv4 address as libxtables reads one (C numbers per byte,
 * a short form completing with zeros); a single address is the range from itself to itself. A reversed
 * range is accepted with a warning.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { addrToString, numericToAddr } from '../../model/ip';

interface Range {
  min: number;
  max: number;
  inverted: boolean;
}

export interface IprangeState {
  src: Range | undefined;
  dst: Range | undefined;
}

/** iprange_parse_range(): "from[-to]" split at the first '-'. */
function parseRange(arg: string, optname: string, warn: (line: string) => void): [number, number] {
  const dash = arg.indexOf('-');
  const from = dash < 0 ? arg : arg.slice(0, dash);
  const to = dash < 0 ? arg : arg.slice(dash + 1);
  const ends = [from, to].map((spec) => {
    const a = numericToAddr(spec, false);
    if (a === null) throw paramProblem(`iprange: Bad value for "${optname}" option: "${spec}"`);
    return a;
  });
  const [min, max] = ends as [number, number];
  if (dash >= 0 && min > max) warn(`xt_iprange: range ${from}-${to} is reversed and will never match`);
  return [min, max];
}

function text(r: Range): string {
  return `${addrToString(r.min)}-${addrToString(r.max)}`;
}

export default defineMatch<IprangeState>({
  kind: 'match',
  name: 'iprange',
  manSection: 'iprange',
  style: 'x6',
  help: `iprange match options:
[!] --src-range ip[-ip]    Match source IP in the specified range
[!] --dst-range ip[-ip]    Match destination IP in the specified range
`,
  options: [
    { name: 'src-range', arg: 'required', invert: true },
    { name: 'dst-range', arg: 'required', invert: true },
  ],
  init: () => ({ src: undefined, dst: undefined }),
  parse(s, use, ctx) {
    const [min, max] = parseRange(use.value!, `--${use.name}`, ctx.warn);
    const range = { min, max, inverted: use.inverted };
    if (use.name === 'src-range') s.src = range;
    else s.dst = range;
  },
  finalCheck(s) {
    if (!s.src && !s.dst) throw paramProblem("iprange match: You must specify `--src-range' or `--dst-range'");
  },
  save(s) {
    let out = '';
    if (s.src) out += `${s.src.inverted ? ' !' : ''} --src-range ${text(s.src)}`;
    if (s.dst) out += `${s.dst.inverted ? ' !' : ''} --dst-range ${text(s.dst)}`;
    return out;
  },
  print(s) {
    let out = '';
    if (s.src) out += ` source IP range${s.src.inverted ? ' !' : ''} ${text(s.src)}`;
    if (s.dst) out += ` destination IP range${s.dst.inverted ? ' !' : ''} ${text(s.dst)}`;
    return out;
  },
  match: (s, ctx) => failedCriterion(s, ctx.pkt.src, ctx.pkt.dst) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx.pkt.src, ctx.pkt.dst) ?? 'matches',
});

/**
 * iprange_mt4() of xt_iprange.c: min <= address <= max (host order; a reversed range never matches), source
 * then destination, each with its own `!`.
 */
function failedCriterion(s: IprangeState, src: number, dst: number): string | undefined {
  const test = (r: Range | undefined, addr: number, opt: string): string | undefined => {
    if (!r || (addr >= r.min && addr <= r.max) !== r.inverted) return undefined;
    return `${r.inverted ? '! ' : ''}--${opt} ${text(r)}: packet has ${addrToString(addr)}`;
  };
  return test(s.src, src, 'src-range') ?? test(s.dst, dst, 'dst-range');
}
