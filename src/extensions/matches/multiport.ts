/**
 * multiport match (iptables-extensions: "multiport", revision 1): [!] --source-ports/--sports,
 * [!] --destination-ports/--dports, [!] --ports, each a comma list of up to 15 ports where a range a:b counts
 * as two. Needs `-p tcp|udp|udplite|sctp|dccp` before it (checked when the option is parsed); the options
 * exclude each other.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parsePort, portToService } from '../option-types';
import { X6Table } from '../values/x6ids';

type Which = 'sports' | 'dports' | 'ports';

export interface MultiportState {
  which: Which | undefined;
  /** Ports in kernel order; a range occupies two slots, its first flagged in `range`. */
  ports: number[];
  range: boolean[];
  inverted: boolean;
  /** The rule's protocol when parsed: service names in -L are looked up for it. */
  proto: string;
  flags: number;
}

const XT_MULTI_PORTS = 15;
const O_SOURCE = 0;
const O_DEST = 1;
const O_SD = 2;
const F_ANY = 7;

const TABLE = new X6Table('multiport', [
  { name: 'source-ports', id: O_SOURCE, excl: F_ANY },
  { name: 'sports', id: O_SOURCE, excl: F_ANY },
  { name: 'destination-ports', id: O_DEST, excl: F_ANY },
  { name: 'dports', id: O_DEST, excl: F_ANY },
  { name: 'ports', id: O_SD, excl: F_ANY },
]);

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
  // Aliases share an id: `multi` keeps the core's name-based checks out; TABLE does them by id.
  options: [
    { name: 'source-ports', arg: 'required', invert: true, multi: true },
    { name: 'sports', arg: 'required', invert: true, multi: true },
    { name: 'destination-ports', arg: 'required', invert: true, multi: true },
    { name: 'dports', arg: 'required', invert: true, multi: true },
    { name: 'ports', arg: 'required', invert: true, multi: true },
  ],
  init: () => ({ which: undefined, ports: [], range: [], inverted: false, proto: '', flags: 0 }),
  parse(s, use, ctx) {
    s.flags = TABLE.once(s.flags, use.name);
    const id = TABLE.id(use.name);
    s.proto = checkProto(ctx.protocol, ctx.protocolInverted);
    Object.assign(s, parsePorts(use.value!, s.proto));
    s.which = id === O_SOURCE ? 'sports' : id === O_DEST ? 'dports' : 'ports';
    if (use.inverted) s.inverted = true;
  },
  finalCheck(s) {
    TABLE.fcheck(s.flags);
    if (s.flags === 0) throw paramProblem('multiport expection an option');
  },
  save: (s) => `${s.inverted ? ' !' : ''} --${s.which ?? ''} ${portList(s, String)}`,
  print(s, numeric) {
    const name = (p: number): string => (numeric ? String(p) : (portToService(p, s.proto) ?? String(p)));
    return ` multiport ${s.which ?? 'ERROR'} ${s.inverted ? ' !' : ''}${portList(s, name)}`;
  },
  compareKey: (s) => `${s.inverted ? '!' : ''}${s.which ?? ''} ${portList(s, String)}`,
});
