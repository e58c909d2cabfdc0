/**
 * conntrack match (iptables-extensions: "conntrack"), revision 3 as iptables 1.8.9 loads it: --ctstate,
 * --ctproto, --ctorigsrc/--ctorigdst/--ctreplsrc/--ctrepldst, the four --ct*port options (port or range),
 * --ctstatus, --ctexpire and --ctdir. x6-style options; the state/status lists are prefix-matched without
 * regard to case (strncasecmp), as libxt_conntrack does.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { addrToAnyName, addrToString, maskToListString } from '../../model/ip';
import { parseProtocol } from '../option-types';
import { badValueAct, parseX6HostMask, parseX6Mint, parseX6PortRange } from '../values/x6';
import { IPS, type EvalContext, type Tuple } from '../../eval/context';
import { opt } from '../values/semantics';

/** XT_CONNTRACK_STATE_* bits (xt_conntrack.h): INVALID, then 1 << (ctinfo + 1), UNTRACKED, SNAT, DNAT. */
export const CT_STATE = {
  INVALID: 1 << 0,
  ESTABLISHED: 1 << 1,
  RELATED: 1 << 2,
  NEW: 1 << 3,
  UNTRACKED: 1 << 6,
  SNAT: 1 << 8,
  DNAT: 1 << 9,
} as const;

/** Parse order (the strncasecmp chain) and print order (print_state) differ: both as libxt_conntrack has them. */
const STATE_PARSE_ORDER = ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT'] as const;
const STATE_PRINT_ORDER = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'] as const;

/** IPS_* status bits; NONE adds nothing and prints when the mask is empty. */
const STATUS: ReadonlyArray<readonly [string, number]> = [
  ['NONE', 0],
  ['EXPECTED', 1 << 0],
  ['SEEN_REPLY', 1 << 1],
  ['ASSURED', 1 << 2],
  ['CONFIRMED', 1 << 3],
];

/** strncasecmp(word, name, word.length) == 0: `word` is a (case-insensitive) prefix of `name`. */
export function prefixOf(word: string, name: string): boolean {
  return word.length <= name.length && name.slice(0, word.length).toLowerCase() === word.toLowerCase();
}

/** conntrack_ps_state() without the state-alias rules: the bit for one word, or 0. */
export function stateBit(word: string, names: readonly string[] = STATE_PARSE_ORDER): number {
  for (const n of names) if (prefixOf(word, n)) return CT_STATE[n as keyof typeof CT_STATE];
  return 0;
}

/** print_state(): the names of the bits set, in kernel order, joined by commas. */
export function stateText(mask: number, names: readonly string[] = STATE_PRINT_ORDER): string {
  return names.filter((n) => mask & CT_STATE[n as keyof typeof CT_STATE]).join(',');
}

/** conntrack_ps_states(): every comma-separated word must name a state; "Bad ctstate" quotes the rest. */
function parseStates(arg: string): number {
  let mask = 0;
  let rest = arg;
  for (let comma = rest.indexOf(','); comma >= 0; comma = rest.indexOf(',')) {
    const bit = comma === 0 ? 0 : stateBit(rest.slice(0, comma));
    if (!bit) throw paramProblem(`Bad ctstate "${rest}"`);
    mask |= bit;
    rest = rest.slice(comma + 1);
  }
  const bit = rest === '' ? 0 : stateBit(rest);
  if (!bit) throw paramProblem(`Bad ctstate "${rest}"`);
  return mask | bit;
}

function statusWord(word: string): number | undefined {
  for (const [n, bit] of STATUS) if (prefixOf(word, n)) return bit;
  return undefined;
}

/** conntrack_ps_statuses() */
function parseStatuses(arg: string): number {
  let mask = 0;
  let rest = arg;
  for (let comma = rest.indexOf(','); comma >= 0; comma = rest.indexOf(',')) {
    const bit = comma === 0 ? undefined : statusWord(rest.slice(0, comma));
    if (bit === undefined) throw paramProblem(`Bad ctstatus "${rest}"`);
    mask |= bit;
    rest = rest.slice(comma + 1);
  }
  const bit = rest === '' ? undefined : statusWord(rest);
  if (bit === undefined) throw paramProblem(`Bad ctstatus "${rest}"`);
  return mask | bit;
}

function statusText(mask: number): string {
  const names = STATUS.filter(([, bit]) => bit !== 0 && mask & bit).map(([n]) => n);
  return names.length ? names.join(',') : 'NONE';
}

type AddrOpt = 'ctorigsrc' | 'ctorigdst' | 'ctreplsrc' | 'ctrepldst';
type PortOpt = 'ctorigsrcport' | 'ctorigdstport' | 'ctreplsrcport' | 'ctrepldstport';
const ADDR_OPTS: readonly AddrOpt[] = ['ctorigsrc', 'ctorigdst', 'ctreplsrc', 'ctrepldst'];
const PORT_OPTS: readonly PortOpt[] = ['ctorigsrcport', 'ctorigdstport', 'ctreplsrcport', 'ctrepldstport'];

export interface ConntrackState {
  /** Options given (XT_CONNTRACK_* match_flags), by option name; ctdir is kept in `reply`. */
  given: Set<string>;
  /** Options given with `!` (invert_flags). */
  inverted: Set<string>;
  stateMask: number;
  statusMask: number;
  l4proto: number;
  addrs: Partial<Record<AddrOpt, { addr: number; mask: number }>>;
  ports: Partial<Record<PortOpt, [number, number]>>;
  expires: [number, number];
  /** --ctdir REPLY (ORIGINAL when false). */
  reply: boolean;
}

function dumpAddr(a: { addr: number; mask: number }, numeric: boolean): string {
  if (!numeric && a.addr === 0) return ' anywhere';
  return ` ${numeric ? addrToString(a.addr) : addrToAnyName(a.addr)}${maskToListString(a.mask)}`;
}

/** conntrack_dump(): shared by -L (prefix "") and save (prefix "--", numeric). */
function dump(s: ConntrackState, prefix: string, numeric: boolean): string {
  let out = '';
  const inv = (opt: string): string => (s.inverted.has(opt) ? ' !' : '');
  if (s.given.has('ctstate')) out += `${inv('ctstate')} ${prefix}ctstate ${stateText(s.stateMask)}`;
  if (s.given.has('ctproto')) out += `${inv('ctproto')} ${prefix}ctproto ${s.l4proto}`;
  for (const o of ADDR_OPTS) {
    const a = s.addrs[o];
    if (a) out += `${inv(o)} ${prefix}${o}${dumpAddr(a, numeric)}`;
  }
  for (const o of PORT_OPTS) {
    const p = s.ports[o];
    if (!p) continue;
    const [lo, hi] = p;
    out += `${inv(o)} ${prefix}${o} ${hi === 0 || lo === hi ? lo : `${lo}:${hi}`}`;
  }
  if (s.given.has('ctstatus')) out += `${inv('ctstatus')} ${prefix}ctstatus ${statusText(s.statusMask)}`;
  if (s.given.has('ctexpire')) {
    const [min, max] = s.expires;
    out += `${inv('ctexpire')} ${prefix}ctexpire ${min === max ? min : `${min}:${max}`}`;
  }
  if (s.given.has('ctdir')) out += ` ${prefix}ctdir ${s.reply ? 'REPLY' : 'ORIGINAL'}`;
  return out;
}

export default defineMatch<ConntrackState>({
  kind: 'match',
  needsConntrack: true,
  name: 'conntrack',
  manSection: 'conntrack',
  style: 'x6',
  help: `conntrack match options:
[!] --ctstate {INVALID|ESTABLISHED|NEW|RELATED|UNTRACKED|SNAT|DNAT}[,...]
                               State(s) to match
[!] --ctproto proto            Protocol to match; by number or name, e.g. "tcp"
[!] --ctorigsrc address[/mask]
[!] --ctorigdst address[/mask]
[!] --ctreplsrc address[/mask]
[!] --ctrepldst address[/mask]
                               Original/Reply source/destination address
[!] --ctorigsrcport port
[!] --ctorigdstport port
[!] --ctreplsrcport port
[!] --ctrepldstport port
                               TCP/UDP/SCTP orig./reply source/destination port
[!] --ctstatus {NONE|EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED}[,...]
                               Status(es) to match
[!] --ctexpire time[:time]     Match remaining lifetime in seconds against
                               value or range of values (inclusive)
    --ctdir {ORIGINAL|REPLY}   Flow direction of packet
`,
  options: [
    { name: 'ctstate', arg: 'required', invert: true },
    { name: 'ctproto', arg: 'required', invert: true },
    { name: 'ctorigsrc', arg: 'required', invert: true },
    { name: 'ctorigdst', arg: 'required', invert: true },
    { name: 'ctreplsrc', arg: 'required', invert: true },
    { name: 'ctrepldst', arg: 'required', invert: true },
    { name: 'ctstatus', arg: 'required', invert: true },
    { name: 'ctexpire', arg: 'required', invert: true },
    { name: 'ctorigsrcport', arg: 'required', invert: true },
    { name: 'ctorigdstport', arg: 'required', invert: true },
    { name: 'ctreplsrcport', arg: 'required', invert: true },
    { name: 'ctrepldstport', arg: 'required', invert: true },
    { name: 'ctdir', arg: 'required' },
  ],
  init: () => ({
    given: new Set(),
    inverted: new Set(),
    stateMask: 0,
    statusMask: 0,
    l4proto: 0,
    addrs: {},
    ports: {},
    expires: [0, 0],
    reply: false,
  }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'ctstate':
        s.stateMask = parseStates(v);
        break;
      case 'ctproto':
        // 1.8.9 takes 0 either way (its "never match" test looks at a flag not yet set; 1.8.11 refuses 0).
        s.l4proto = parseProtocol(v);
        break;
      case 'ctorigsrc':
      case 'ctorigdst':
      case 'ctreplsrc':
      case 'ctrepldst':
        s.addrs[use.name] = parseX6HostMask('conntrack', use.name, v);
        break;
      case 'ctorigsrcport':
      case 'ctorigdstport':
      case 'ctreplsrcport':
      case 'ctrepldstport':
        s.ports[use.name] = parseX6PortRange('conntrack', use.name, v);
        break;
      case 'ctstatus':
        s.statusMask = parseStatuses(v);
        break;
      case 'ctexpire': {
        const r = parseX6Mint('conntrack', 'ctexpire', v, 0xffffffffn);
        s.expires = [Number(r[0]), Number(r[r.length - 1])];
        break;
      }
      case 'ctdir':
        if (v.toLowerCase() === 'original') s.reply = false;
        else if (v.toLowerCase() === 'reply') s.reply = true;
        else throw badValueAct('conntrack', '--ctdir', v);
        break;
    }
    s.given.add(use.name);
    if (use.inverted) s.inverted.add(use.name);
  },
  finalCheck(s) {
    if (s.given.size === 0) throw paramProblem('conntrack: At least one option is required');
  },
  save: (s) => dump(s, '--', true),
  print: (s, numeric) => dump(s, '', numeric),
  match: (s, ctx) => failedCriterion(s, ctx, false) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx, true) ?? 'matches',
});

/**
 * The XT_CONNTRACK_STATE_* bits of the packet (conntrack_mt() of xt_conntrack.c): INVALID without a
 * connection, UNTRACKED after NOTRACK, else NEW/ESTABLISHED/RELATED from ctinfo (the same bit in either
 * direction); SNAT and DNAT join from the IPS_SRC_NAT/IPS_DST_NAT status bits when `nat` is asked for.
 */
export function packetStateBits(ctx: EvalContext, nat: boolean): number {
  let bits: number = CT_STATE[ctx.ctState];
  if (nat && ctx.ct) {
    if (ctx.ct.status & IPS.SRC_NAT) bits |= CT_STATE.SNAT;
    if (ctx.ct.status & IPS.DST_NAT) bits |= CT_STATE.DNAT;
  }
  return bits;
}

/** One option of the rule as iptables-save prints it. */
function optionText(s: ConntrackState, name: string): string {
  const only: ConntrackState = {
    ...s,
    given: new Set(s.given.has(name) ? [name] : []),
    addrs: name in s.addrs ? { [name]: s.addrs[name as AddrOpt] } : {},
    ports: name in s.ports ? { [name]: s.ports[name as PortOpt] } : {},
  };
  return opt(dump(only, '--', true));
}

const ADDR_FIELD: Record<AddrOpt, [dir: 'orig' | 'reply', side: 'src' | 'dst', words: string]> = {
  ctorigsrc: ['orig', 'src', 'original source'],
  ctorigdst: ['orig', 'dst', 'original destination'],
  ctreplsrc: ['reply', 'src', 'reply source'],
  ctrepldst: ['reply', 'dst', 'reply destination'],
};
const PORT_FIELD: Record<PortOpt, [dir: 'orig' | 'reply', side: 'sport' | 'dport', words: string]> = {
  ctorigsrcport: ['orig', 'sport', 'original source port'],
  ctorigdstport: ['orig', 'dport', 'original destination port'],
  ctreplsrcport: ['reply', 'sport', 'reply source port'],
  ctrepldstport: ['reply', 'dport', 'reply destination port'],
};

/** What failedCriterion() returns for a miss when no one asked why. */
const MISS = '';

/**
 * conntrack_mt() of xt_conntrack.c (revision 3), in the kernel's order, each test with its own `!`:
 * --ctstate; then, without a connection (INVALID, UNTRACKED), the match holds only if --ctstate was given;
 * --ctdir, the four addresses ((addr ^ want) & mask == 0), --ctproto, the four port ranges, --ctstatus (any
 * of the bits; NONE never matches), --ctexpire (seconds left, inclusive range). The sentence of a miss is
 * made only when `why` asks for it (the match alone needs none).
 */
function failedCriterion(s: ConntrackState, ctx: EvalContext, why: boolean): string | undefined {
  const inv = (o: string): boolean => s.inverted.has(o);
  if (s.given.has('ctstate')) {
    const bits = packetStateBits(ctx, true);
    if (((s.stateMask & bits) !== 0) === inv('ctstate')) {
      return why ? `${optionText(s, 'ctstate')}: connection is ${stateText(bits)}` : MISS;
    }
  }
  const ct = ctx.ct;
  if (!ct) {
    if (s.given.has('ctstate')) return undefined;
    if (!why) return MISS;
    const first = [...s.given][0] ?? 'ctstate';
    return `${optionText(s, first)}: packet has no connection (${ctx.ctState})`;
  }
  if (s.given.has('ctdir') && ctx.ctReply !== s.reply) {
    return why ? `${optionText(s, 'ctdir')}: packet is in the ${ctx.ctReply ? 'REPLY' : 'ORIGINAL'} direction` : MISS;
  }
  for (const o of ADDR_OPTS) {
    const a = s.addrs[o];
    if (!a) continue;
    const [dir, side, words] = ADDR_FIELD[o];
    const have = (ct[dir] as Tuple)[side];
    if ((((have ^ a.addr) & a.mask) === 0) === inv(o)) return why ? `${optionText(s, o)}: ${words} is ${addrToString(have)}` : MISS;
  }
  if (s.given.has('ctproto') && (ct.orig.proto === s.l4proto) === inv('ctproto')) {
    return why ? `${optionText(s, 'ctproto')}: connection is protocol ${ct.orig.proto}` : MISS;
  }
  for (const o of PORT_OPTS) {
    const r = s.ports[o];
    if (!r) continue;
    const [dir, side, words] = PORT_FIELD[o];
    const have = (ct[dir] as Tuple)[side];
    if ((have >= r[0] && have <= r[1]) === inv(o)) return why ? `${optionText(s, o)}: ${words} is ${have}` : MISS;
  }
  if (s.given.has('ctstatus') && ((s.statusMask & ct.status) !== 0) === inv('ctstatus')) {
    return why ? `${optionText(s, 'ctstatus')}: connection status is ${statusText(ct.status)}` : MISS;
  }
  if (s.given.has('ctexpire')) {
    const left = Math.max(0, Math.floor(ct.expires));
    if ((left >= s.expires[0] && left <= s.expires[1]) === inv('ctexpire')) {
      return why ? `${optionText(s, 'ctexpire')}: connection expires in ${left} s` : MISS;
    }
  }
  return undefined;
}
