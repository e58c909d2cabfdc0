/**
 * multiport match (iptables-extensions: "multiport", revision 1): [!] --source-ports/--sports,
 * [!] --destination-ports/--dports, [!] --ports, each a comma list of up to 15 ports where a range a:b counts
 * as two. Needs `-p tcp|udp|udplite|sctp|dccp` before it (checked when the option is parsed); the options
 * exclude each other.
 */
import { defineMatch, type OptionDef } from '../spec';
import { paramProblem } from '../../messages';
import { parsePort, portToService } from '../option-types';
import { primaryName } from '../values/x6';

type Which = 'sports' | 'dports' | 'ports';

export interface MultiportState {
  which: Which | undefined;
  /** Ports in kernel order; a range occupies two slots, its first flagged in `range`. */
  ports: number[];
  range: boolean[];
  inverted: boolean;
  /** The rule's protocol when parsed: service names in -L are looked up for it. */
  proto: string;
}

const XT_MULTI_PORTS = 15;

// multiport_opts[]: the aliases share the id of their long name, and every option excludes all (s_ALL).
const ANY = ['source-ports', 'destination-ports', 'ports'];
const OPTIONS: readonly OptionDef[] = [
  { name: 'source-ports', id: 0, arg: 'required', invert: true, excludes: ANY },
  { name: 'sports', id: 0, arg: 'required', invert: true, excludes: ANY },
  { name: 'destination-ports', id: 1, arg: 'required', invert: true, excludes: ANY },
  { name: 'dports', id: 1, arg: 'required', invert: true, excludes: ANY },
  { name: 'ports', id: 2, arg: 'required', invert: true, excludes: ANY },
];
const WHICH: Readonly<Record<string, Which>> = { 'source-ports': 'sports', 'destination-ports': 'dports', ports: 'ports' };

const PROTO_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 132: 'sctp', 33: 'dccp' };

/** check_proto() */
function checkProto(proto: number, inverted: boolean): string {
  const name = PROTO_NAMES[proto];
  if (inverted || (name === undefined && proto !== 0)) {
    throw paramProblem('multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP');
  }
  if (name === undefined) {
    throw paramProblem("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
  }
  return name;
}

/** parse_multi_ports_v1() */
function parsePorts(list: string, proto: string): { ports: number[]; range: boolean[] } {
  const ports: number[] = [];
  const range: boolean[] = [];
  const items = list.split(',');
  let n = 0;
  for (const item of items) {
    if (ports.length >= XT_MULTI_PORTS) break;
    n++;
    const colon = item.indexOf(':');
    if (colon >= 0 && ports.length === XT_MULTI_PORTS - 1) throw paramProblem('too many ports specified');
    const first = parsePort(colon >= 0 ? item.slice(0, colon) : item, proto);
    ports.push(first);
    range.push(colon >= 0);
    if (colon >= 0) {
      const last = parsePort(item.slice(colon + 1), proto);
      if (first >= last) throw paramProblem('invalid portrange specified');
      ports.push(last);
      range.push(false);
    }
  }
  if (n < items.length) throw paramProblem('too many ports specified');
  return { ports, range };
}

function portList(s: MultiportState, name: (port: number) => string): string {
  let out = '';
  for (let i = 0; i < s.ports.length; i++) {
    out += (i ? ',' : '') + name(s.ports[i]!);
    if (s.range[i]) out += ':' + name(s.ports[++i]!);
  }
  return out;
}

export default defineMatch<MultiportState>({
  kind: 'match',
  name: 'multiport',
  manSection: 'multiport',
  style: 'x6',
  help: `multiport match options:
[!] --source-ports port[,port:port,port...]
 --sports ...
				match source port(s)
[!] --destination-ports port[,port:port,port...]
 --dports ...
				match destination port(s)
[!] --ports port[,port:port,port]
				match both source and destination port(s)
`,
  options: OPTIONS,
  init: () => ({ which: undefined, ports: [], range: [], inverted: false, proto: '' }),
  parse(s, use, ctx) {
    s.proto = checkProto(ctx.protocol, ctx.protocolInverted);
    Object.assign(s, parsePorts(use.value!, s.proto));
    s.which = WHICH[primaryName(OPTIONS, use.name)];
    if (use.inverted) s.inverted = true;
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('multiport expection an option');
  },
  save: (s) => `${s.inverted ? ' !' : ''} --${s.which ?? ''} ${portList(s, String)}`,
  print(s, numeric) {
    const name = (p: number): string => (numeric ? String(p) : (portToService(p, s.proto) ?? String(p)));
    return ` multiport ${s.which ?? 'ERROR'} ${s.inverted ? ' !' : ''}${portList(s, name)}`;
  },
  compareKey: (s) => `${s.inverted ? '!' : ''}${s.which ?? ''} ${portList(s, String)}`,
  match: (s, ctx) => portsMatch(s, ctx.pkt.sport, ctx.pkt.dport),
  explain(s, ctx) {
    const p = ctx.pkt;
    const has = s.which === 'sports' ? `${p.sport}` : s.which === 'dports' ? `${p.dport}` : `source ${p.sport}, destination ${p.dport}`;
    return `${s.inverted ? '! ' : ''}--${s.which ?? ''} ${portList(s, String)}: packet has ${has}`;
  },
});

/**
 * ports_match_v1() of xt_multiport.c: the first entry (single port or inclusive range) that the source,
 * destination or either port falls in answers `!invert`; none answers `invert`. The ports are the first
 * four bytes of the transport header (tcp, udp, udplite, sctp, dccp); fragments never match.
 */
function portsMatch(s: MultiportState, src: number, dst: number): boolean {
  const hit = (lo: number, hi: number): boolean => {
    const inr = (p: number): boolean => p >= lo && p <= hi;
    if (s.which === 'sports') return inr(src);
    if (s.which === 'dports') return inr(dst);
    return inr(src) || inr(dst);
  };
  for (let i = 0; i < s.ports.length; i++) {
    const lo = s.ports[i]!;
    const hi = s.range[i] ? s.ports[++i]! : lo;
    if (hit(lo, hi)) return !s.inverted;
  }
  return s.inverted;
}
