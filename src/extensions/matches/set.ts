/**
 * set match (iptables-extensions: "set"), revision 4: [!] --match-set name flags, --return-nomatch,
 * [!] --update-counters, [!] --update-subcounters, [!] --packets-eq/--packets-lt/--packets-gt and the --bytes-*
 * counterparts. Old-style option handling.
 *
 * iptables asks the kernel's ipset for the set while parsing. tsiptables models no ipset sets (the recording
 * namespaces had none either), so every lookup answers "Set NAME doesn't exist.", as the real one did there.
 */
import { defineMatch, type ParseContext } from '../spec';
import { paramProblem } from '../../messages';
import { xtStrtoul } from '../values/cstrtoul';
import { addrToString } from '../../model/ip';
import type { EvalContext } from '../../eval/context';

const IPSET_MAXNAMELEN = 32;
const IPSET_DIM_MAX = 6;
const FLAG = { INV_MATCH: 1, RETURN_NOMATCH: 1 << 7, SKIP_COUNTER_UPDATE: 1 << 8, SKIP_SUBCOUNTER_UPDATE: 1 << 9 } as const;

type CounterOp = 'none' | 'eq' | 'ne' | 'lt' | 'gt';
interface Counter {
  op: CounterOp;
  value: bigint;
}

/** struct xt_set_info: a set and the directions of its dimensions. */
export interface SetInfo {
  name: string;
  /** Dimensions given (0 until the set option). */
  dim: number;
  /** Bit i (1..dim) set: dimension i is "src", else "dst". */
  dirs: number;
}

export interface SetState extends SetInfo {
  flags: number;
  packets: Counter;
  bytes: Counter;
}

/** The sets the kernel's ipset knows: none (see the header). */
function lookupSet(name: string): boolean {
  void name;
  return false;
}

/**
 * The set option of the set match and the SET target (parse_target): `--OPT name dirs`, once, the name
 * looked up in the kernel's ipset before the directions are read.
 */
export function parseSetOption(info: SetInfo, opt: string, name: string, ctx: ParseContext): void {
  if (info.dim) throw paramProblem(`--${opt} can be specified only once`);
  const dirs = ctx.nextArg();
  if (dirs === undefined) throw paramProblem(`--${opt} requires two args.`);
  if (name.length > IPSET_MAXNAMELEN - 1) {
    throw paramProblem(`setname \`${name}' too long, max ${IPSET_MAXNAMELEN - 1} characters.`);
  }
  if (!lookupSet(name)) throw paramProblem(`Set ${name} doesn't exist.\n`);
  info.name = name;
  parseDirs(info, dirs);
}

/** print_target() / the match's set part: ` OPT name src,dst...`. */
export function setInfoText(opt: string, info: SetInfo): string {
  let out = ` ${opt} ${info.name}`;
  for (let i = 1; i <= info.dim; i++) out += `${i === 1 ? ' ' : ','}${info.dirs & (1 << i) ? 'src' : 'dst'}`;
  return out;
}

/** parse_dirs(): up to six comma-separated "src"/"dst" (only the first three letters are compared). */
function parseDirs(s: SetInfo, arg: string): void {
  const parts = arg.split(',');
  let i = 0;
  while (s.dim < IPSET_DIM_MAX && i < parts.length) {
    s.dim++;
    const p = parts[i++]!;
    if (p.startsWith('src')) s.dirs |= 1 << s.dim;
    else if (!p.startsWith('dst')) throw paramProblem("You must spefify (the comma separated list of) 'src' or 'dst'.");
  }
  if (i < parts.length) throw paramProblem(`Can't be more src/dst options than ${IPSET_DIM_MAX}.`);
}

function parseCounter(arg: string): bigint {
  const r = xtStrtoul(arg, 0n, (1n << 64n) - 1n);
  if (!r || r.end !== arg.length) throw paramProblem(`Cannot parse ${arg} as a counter value`);
  return r.value;
}

function counterText(c: Counter, name: string, sep: string): string {
  switch (c.op) {
    case 'eq':
      return ` ${sep}${name}-eq ${c.value}`;
    case 'ne':
      return ` ! ${sep}${name}-eq ${c.value}`;
    case 'lt':
      return ` ${sep}${name}-lt ${c.value}`;
    case 'gt':
      return ` ${sep}${name}-gt ${c.value}`;
    case 'none':
      return '';
  }
}

/** set_print_v4_matchinfo(): shared by -L ("match-set", "") and save ("--match-set", "--"). */
function render(s: SetState, opt: string, sep: string): string {
  let out = `${s.flags & FLAG.INV_MATCH ? ' !' : ''}${setInfoText(opt, s)}`;
  if (s.flags & FLAG.RETURN_NOMATCH) out += ` ${sep}return-nomatch`;
  if (s.flags & FLAG.SKIP_COUNTER_UPDATE) out += ` ! ${sep}update-counters`;
  if (s.flags & FLAG.SKIP_SUBCOUNTER_UPDATE) out += ` ! ${sep}update-subcounters`;
  return out + counterText(s.packets, 'packets', sep) + counterText(s.bytes, 'bytes', sep);
}

export default defineMatch<SetState>({
  kind: 'match',
  name: 'set',
  manSection: 'set',
  style: 'old',
  help: `set match options:
 [!] --match-set name flags [--return-nomatch]
   [! --update-counters] [! --update-subcounters]
   [[!] --packets-eq value | --packets-lt value | --packets-gt value
   [[!] --bytes-eq value | --bytes-lt value | --bytes-gt value
		 'name' is the set name from to match,
		 'flags' are the comma separated list of
		 'src' and 'dst' specifications.
`,
  options: [
    { name: 'match-set', arg: 'required' },
    { name: 'set', arg: 'required' },
    { name: 'return-nomatch', arg: 'none' },
    { name: 'update-counters', arg: 'none' },
    { name: 'packets-eq', arg: 'required' },
    { name: 'packets-lt', arg: 'required' },
    { name: 'packets-gt', arg: 'required' },
    { name: 'bytes-eq', arg: 'required' },
    { name: 'bytes-lt', arg: 'required' },
    { name: 'bytes-gt', arg: 'required' },
    { name: 'update-subcounters', arg: 'none' },
  ],
  init: () => ({
    name: '',
    dim: 0,
    dirs: 0,
    flags: 0,
    packets: { op: 'none', value: 0n },
    bytes: { op: 'none', value: 0n },
  }),
  parse(s, use, ctx) {
    const inv = use.inverted;
    const v = use.value ?? '';
    const counter = (which: 'packets' | 'bytes', op: 'eq' | 'lt' | 'gt'): void => {
      if (s[which].op !== 'none') throw paramProblem(`only one of the --${which}-[eq|lt|gt] is allowed`);
      if (inv && op !== 'eq') throw paramProblem(`--${which}-${op} option cannot be inverted`);
      s[which] = { op: inv ? 'ne' : op, value: parseCounter(v) };
    };
    switch (use.name) {
      case 'update-subcounters':
        if (inv) s.flags |= FLAG.SKIP_SUBCOUNTER_UPDATE;
        return;
      case 'update-counters':
        if (inv) s.flags |= FLAG.SKIP_COUNTER_UPDATE;
        return;
      case 'return-nomatch':
        if (inv) throw paramProblem('--return-nomatch flag cannot be inverted');
        s.flags |= FLAG.RETURN_NOMATCH;
        return;
      case 'packets-eq':
      case 'packets-lt':
      case 'packets-gt':
      case 'bytes-eq':
      case 'bytes-lt':
      case 'bytes-gt': {
        const [which, op] = use.name.split('-') as ['packets' | 'bytes', 'eq' | 'lt' | 'gt'];
        counter(which, op);
        return;
      }
      case 'set':
      case 'match-set': {
        if (use.name === 'set') ctx.warn('--set option deprecated, please use --match-set');
        if (inv) s.flags |= FLAG.INV_MATCH;
        parseSetOption(s, 'match-set', v, ctx);
        return;
      }
    }
  },
  finalCheck(s) {
    if (!s.dim) throw paramProblem("You must specify `--match-set' with proper arguments");
  },
  save: (s) => render(s, '--match-set', '--'),
  print: (s) => render(s, 'match-set', ''),
  match: (s, ctx) => setMatch(s, ctx).ok,
  explain: (s, ctx) => `${render(s, '--match-set', '--').trim()}: ${setMatch(s, ctx, false).why}`,
});

/** The packet's values for the set's dimensions ("src,dst" picks the source address, then the destination...). */
function element(s: SetState, ctx: EvalContext): string {
  const p = ctx.pkt;
  const parts: string[] = [];
  for (let i = 1; i <= s.dim; i++) {
    const src = (s.dirs & (1 << i)) !== 0;
    // ipset types put the address first, then ports; we cannot know the set's type, so name both.
    parts.push(i === 1 ? addrToString(src ? p.src : p.dst) : String(src ? p.sport : p.dport));
  }
  return parts.join(',');
}

/**
 * set_match_v4() of xt_set.c: the packet's element is looked up in the ipset set, then `!`; with
 * --packets-eq/lt/gt and --bytes-eq/lt/gt a hit also compares the element's counters. tsiptables models no ipset sets (a rule
 * naming one cannot even be added), so membership and the counters are asked of the trace: assumed not a
 * member, counters assumed to satisfy the test.
 */
function setMatch(s: SetState, ctx: EvalContext, ask = true): { ok: boolean; why: string } {
  const question = `packet (${element(s, ctx)}) is in set ${s.name}`;
  const member = ask ? ctx.decide('set', question, false) : undefined;
  if (member === undefined) {
    // explain(): the answer match() had, without asking twice.
    const inv = (s.flags & FLAG.INV_MATCH) !== 0;
    return { ok: false, why: inv ? `packet is in set ${s.name} (assumed)` : `packet is not in set ${s.name} (assumed)` };
  }
  const ret = member !== ((s.flags & FLAG.INV_MATCH) !== 0);
  if (!ret || (s.packets.op === 'none' && s.bytes.op === 'none')) return { ok: ret, why: '' };
  const counters = ctx.decide('set', `the counters of ${s.name}'s element satisfy the --packets/--bytes test`, true);
  return { ok: counters, why: '' };
}
