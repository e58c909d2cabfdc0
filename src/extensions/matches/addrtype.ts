/**
 * addrtype match (iptables-extensions: "addrtype", revision 1): [!] --src-type type[,...],
 * [!] --dst-type type[,...], --limit-iface-in, --limit-iface-out. Type names are the kernel's route types,
 * matched case-insensitively by prefix. The kernel refuses --limit-iface-in in POSTROUTING/OUTPUT and
 * --limit-iface-out in PREROUTING/INPUT (addrtype_mt_checkentry_v1, run on the hook of the base chain the
 * rule is added to; a rule in a user chain is not checked, not even when a base chain jumps to it later).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { addrToString } from '../../model/ip';
import type { EvalContext } from '../../eval/context';

export interface AddrtypeState {
  source: number;
  dest: number;
  invSource: boolean;
  invDest: boolean;
  limitIn: boolean;
  limitOut: boolean;
}

/** linux/rtnetlink.h RTN_* order: bit i of a mask is RTN_NAMES[i]. */
const RTN_NAMES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const;

/** parse_type(): the first name the text is a case-insensitive prefix of (strncasecmp over its length). */
function parseType(name: string): number | undefined {
  const i = RTN_NAMES.findIndex((n) => n.slice(0, name.length).toLowerCase() === name.toLowerCase() && n.length >= name.length);
  return i < 0 ? undefined : 1 << i;
}

/** parse_types(): a comma list; an empty or unknown element is an error naming the rest of the list. */
function parseTypes(arg: string): number {
  let mask = 0;
  let rest = arg;
  for (let comma = rest.indexOf(','); comma >= 0; comma = rest.indexOf(',')) {
    const bit = comma === 0 ? undefined : parseType(rest.slice(0, comma));
    if (bit === undefined) throw paramProblem(`addrtype: bad type \`${rest}'`);
    mask |= bit;
    rest = rest.slice(comma + 1);
  }
  const bit = rest === '' ? undefined : parseType(rest);
  if (bit === undefined) throw paramProblem(`addrtype: bad type "${rest}"`);
  return mask | bit;
}

function types(mask: number): string {
  return RTN_NAMES.filter((_, i) => mask & (1 << i)).join(',');
}

export default defineMatch<AddrtypeState>({
  kind: 'match',
  name: 'addrtype',
  manSection: 'addrtype',
  style: 'x6',
  help: `Address type match options:
 [!] --src-type type[,...]      Match source address type
 [!] --dst-type type[,...]      Match destination address type
     --limit-iface-in           Match only on the packet's incoming device
     --limit-iface-out          Match only on the packet's outgoing device

Valid types:           
${RTN_NAMES.map((n) => `                                ${n}\n`).join('')}`,
  options: [
    { name: 'src-type', arg: 'required', invert: true },
    { name: 'dst-type', arg: 'required', invert: true },
    { name: 'limit-iface-in', arg: 'none', excludes: ['limit-iface-out'] },
    { name: 'limit-iface-out', arg: 'none', excludes: ['limit-iface-in'] },
  ],
  init: () => ({ source: 0, dest: 0, invSource: false, invDest: false, limitIn: false, limitOut: false }),
  parse(s, use) {
    switch (use.name) {
      case 'src-type':
        s.source |= parseTypes(use.value!);
        if (use.inverted) s.invSource = true;
        return;
      case 'dst-type':
        s.dest |= parseTypes(use.value!);
        if (use.inverted) s.invDest = true;
        return;
      case 'limit-iface-in':
        s.limitIn = true;
        return;
      case 'limit-iface-out':
        s.limitOut = true;
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (!given.has('src-type') && !given.has('dst-type')) {
      throw paramProblem('addrtype: you must specify --src-type or --dst-type');
    }
  },
  kernelCheck(s, view) {
    if (s.limitIn && (view.hooks.has('POSTROUTING') || view.hooks.has('OUTPUT'))) return 'Invalid argument';
    if (s.limitOut && (view.hooks.has('PREROUTING') || view.hooks.has('INPUT'))) return 'Invalid argument';
    return undefined;
  },
  save(s) {
    let out = '';
    if (s.source) out += `${s.invSource ? ' !' : ''} --src-type ${types(s.source)}`;
    if (s.dest) out += `${s.invDest ? ' !' : ''} --dst-type ${types(s.dest)}`;
    if (s.limitIn) out += ' --limit-iface-in';
    if (s.limitOut) out += ' --limit-iface-out';
    return out;
  },
  print(s) {
    let out = ' ADDRTYPE match';
    if (s.source) out += ` src-type ${s.invSource ? '!' : ''}${types(s.source)}`;
    if (s.dest) out += ` dst-type ${s.invDest ? '!' : ''}${types(s.dest)}`;
    if (s.limitIn) out += ' limit-in';
    if (s.limitOut) out += ' limit-out';
    return out;
  },
  match: (s, ctx) => failedCriterion(s, ctx) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx) ?? 'matches',
});

/** The device of --limit-iface-in/out (xt_in / xt_out), undefined when not limited. */
function limitDev(s: AddrtypeState, ctx: EvalContext): string | undefined {
  if (s.limitIn) return ctx.pkt.inIface ?? undefined;
  if (s.limitOut) return ctx.pkt.outIface ?? undefined;
  return undefined;
}

/**
 * addrtype_mt_v1() of xt_addrtype.c: the route type of the source (then the destination) address, as
 * inet_dev_addr_type() gives it for the device of --limit-iface-in/out (any device otherwise), must be one of
 * the types given, each test with its own `!`.
 */
function failedCriterion(s: AddrtypeState, ctx: EvalContext): string | undefined {
  const dev = limitDev(s, ctx);
  const limit = s.limitIn ? ' --limit-iface-in' : s.limitOut ? ' --limit-iface-out' : '';
  const on = dev !== undefined ? ` on ${dev}` : '';
  const test = (mask: number, inv: boolean, addr: number, opt: string, words: string): string | undefined => {
    const t = ctx.host.addrType(addr, dev);
    if (((mask & (1 << t)) !== 0) !== inv) return undefined;
    return `${inv ? '! ' : ''}--${opt} ${types(mask)}${limit}: ${words} ${addrToString(addr)} is ${RTN_NAMES[t] ?? t}${on}`;
  };
  if (s.source) {
    const why = test(s.source, s.invSource, ctx.pkt.src, 'src-type', 'source');
    if (why) return why;
  }
  if (s.dest) return test(s.dest, s.invDest, ctx.pkt.dst, 'dst-type', 'destination');
  return undefined;
}
