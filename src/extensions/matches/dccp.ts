/**
 * dccp match (iptables-extensions: "dccp"): [!] --source-port/--sport and [!] --destination-port/--dport
 * (XTTYPE_PORTRC: no order check, a number is kept in 16 bits), [!] --dccp-types type[,...] (REQUEST RESPONSE
 * DATA ACK DATAACK CLOSEREQ CLOSE RESET SYNC SYNCACK INVALID; INVALID stands for types 10-15), [!] --dccp-option
 * 1-255. The kernel match needs `-p dccp`.
 */
import { defineMatch } from '../spec';
import { DST, portsList, portsMiss, savePorts, SRC } from '../values/port-pair';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { parseX6PortRange } from '../values/x6';
import type { EvalContext } from '../../eval/context';

const TYPE = 0x04;
const OPTION = 0x08;
const TYPES = ['REQUEST', 'RESPONSE', 'DATA', 'ACK', 'DATAACK', 'CLOSEREQ', 'CLOSE', 'RESET', 'SYNC', 'SYNCACK', 'INVALID'];
const INVALID = 10;

export interface DccpState {
  flags: number;
  invflags: number;
  spts: [number, number];
  dpts: [number, number];
  typemask: number;
  option: number;
}

/** parse_dccp_types(): names (case-insensitive), empty items skipped; INVALID also sets 11-15. */
function parseTypes(list: string): number {
  let mask = 0;
  for (const item of list.split(',').filter((x) => x !== '')) {
    const i = TYPES.findIndex((t) => t.toLowerCase() === item.toLowerCase());
    if (i < 0) throw paramProblem(`Unknown DCCP type \`${item}'`);
    mask |= 1 << i;
  }
  if (mask & (1 << INVALID)) mask |= 0xf800;
  return mask;
}

/** print_types(): names (stopping at INVALID) or bit numbers, after a blank. */
function typesText(mask: number, numeric: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < 16; i++) {
    if (!(mask & (1 << i))) continue;
    if (numeric) out.push(String(i));
    else {
      out.push(TYPES[i] ?? '');
      if (i === INVALID) break;
    }
  }
  return ` ${out.join(',')}`;
}

function saveText(s: DccpState): string {
  let out = '';
  out += savePorts(s.flags, s.invflags, s.spts, s.dpts);
  if (s.flags & TYPE) out += `${s.invflags & TYPE ? ' !' : ''} --dccp-types${typesText(s.typemask, false)}`;
  if (s.flags & OPTION) out += `${s.invflags & OPTION ? ' !' : ''} --dccp-option ${s.option}`;
  return out;
}

export default defineMatch<DccpState>({
  kind: 'match',
  name: 'dccp',
  manSection: 'dccp',
  style: 'x6',
  requiresProtocol: 33,
  help: `dccp match options
[!] --source-port port[:port]                          match source port(s)
 --sport ...
[!] --destination-port port[:port]                     match destination port(s)
 --dport ...
[!] --dccp-types type[,...]                            match when packet is one of the given types
[!] --dccp-option option                               match if option (by number!) is set
`,
  options: [
    { name: 'source-port', id: 0, arg: 'required', invert: true },
    { name: 'sport', id: 0, arg: 'required', invert: true },
    { name: 'destination-port', id: 1, arg: 'required', invert: true },
    { name: 'dport', id: 1, arg: 'required', invert: true },
    { name: 'dccp-types', id: 2, arg: 'required', invert: true },
    { name: 'dccp-option', id: 3, arg: 'required', invert: true },
  ],
  init: () => ({ flags: 0, invflags: 0, spts: [0, 0], dpts: [0, 0], typemask: 0, option: 0 }),
  parse(s, use) {
    const v = use.value!;
    let bit: number;
    if (use.name === 'source-port' || use.name === 'sport') {
      bit = SRC;
      s.spts = parseX6PortRange('dccp', 'source-port', v).map((n) => n & 0xffff) as [number, number];
    } else if (use.name === 'destination-port' || use.name === 'dport') {
      bit = DST;
      s.dpts = parseX6PortRange('dccp', 'destination-port', v).map((n) => n & 0xffff) as [number, number];
    } else if (use.name === 'dccp-types') {
      bit = TYPE;
      s.typemask = parseTypes(v);
    } else {
      bit = OPTION;
      s.option = parseX6Uint('dccp', 'dccp-option', v, 1, 255);
    }
    s.flags |= bit;
    if (use.inverted) s.invflags |= bit;
  },
  save: saveText,
  // No type at all saves as a bare `--dccp-types`, which would read the next word as its list.
  stateText: (s) => (s.flags & TYPE && s.typemask === 0 ? saveText(s).replace(' --dccp-types ', ' --dccp-types ""') : undefined),
  print(s, numeric) {
    let out = ' dccp';
    if (s.flags & SRC) out += portsList('spt', s.spts, !!(s.invflags & SRC), numeric, 'dccp');
    if (s.flags & DST) out += portsList('dpt', s.dpts, !!(s.invflags & DST), numeric, 'dccp');
    if (s.flags & TYPE) out += `${s.invflags & TYPE ? ' !' : ''}${typesText(s.typemask, numeric)}`;
    if (s.flags & OPTION && (s.option || s.invflags & OPTION)) out += ` option=${s.invflags & OPTION ? '!' : ''}${s.option}`;
    return out;
  },
  match: (s, ctx) => dccpMiss(s, ctx) === undefined,
  explain: (s, ctx) => dccpMiss(s, ctx) ?? '',
});

/**
 * dccp_mt() of xt_dccp.c: each option given must hold (its `!` applied): ports from the packet's sport/dport;
 * the DCCP packet type and options are not simulated, so the trace asks (assumed to match as written).
 */
function dccpMiss(s: DccpState, ctx: EvalContext): string | undefined {
  const ports = portsMiss(s.flags, s.invflags, s.spts, s.dpts, ctx.pkt);
  if (ports !== undefined) return ports;
  const asks: Array<[number, string]> = [
    [TYPE, `--dccp-types${typesText(s.typemask, false)}`],
    [OPTION, `--dccp-option ${s.option}`],
  ];
  for (const [bit, text] of asks) {
    if (!(s.flags & bit)) continue;
    const what = bit === TYPE ? "the packet's type is one of" : 'the packet carries';
    if (ctx.decide('dccp', `${what} ${text}`, true) === !!(s.invflags & bit)) {
      return `${s.invflags & bit ? '! ' : ''}${text}: ${bit === TYPE ? 'packet type' : 'option'} does not match (asked)`;
    }
  }
  return undefined;
}
