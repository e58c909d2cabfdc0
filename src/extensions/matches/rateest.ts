/**
 * rateest match (iptables-extensions: "rateest", old-style options): --rateest/--rateest1 name, --rateest2 name,
 * --rateest-delta, --rateest-bps1/--rateest-pps1/--rateest-bps2/--rateest-pps2 (--rateest-bps/--rateest-pps are
 * the second ones) each with an optional rate (the next word unless it starts with - or !), and
 * [!] --rateest-lt/--rateest-gt/--rateest-eq. Rates: a number (bits/s) or with a tc suffix (kbit, Mibit, KBps,
 * ...), kept in bytes/s.
 *
 * The kernel (rateest_mt_checkentry) refuses with EINVAL a rule without lt/gt/eq or without bps/pps, and with
 * ENOENT one naming an estimator no RATEEST target created (recorded in ext-rateest.json). The estimators are the
 * RATEEST rules of every table (KernelView.peers; kernelCheckSeesPeers makes the CLI read them all).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { xtStrtoui } from '../values/cstrtoul';

const F_INVERT = 1 << 0;
const F_ABS = 1 << 1;
const F_REL = 1 << 2;
const F_DELTA = 1 << 3;
const F_BPS = 1 << 4;
const F_PPS = 1 << 5;
const MODES = ['', 'eq', 'lt', 'gt'];

export interface RateestState {
  name1: string;
  name2: string;
  flags: number;
  mode: number;
  bps1: number;
  pps1: number;
  bps2: number;
  pps2: number;
  /** Option letters given (the C parser's *flags), for its "twice" checks. */
  seen: number;
}

const SUFFIXES: ReadonlyArray<readonly [string, number]> = [
  ['bit', 1], ['Kibit', 1024], ['kbit', 1000], ['Mibit', 1024 ** 2], ['mbit', 1e6], ['Gibit', 1024 ** 3], ['gbit', 1e9],
  ['Tibit', 1024 ** 4], ['tbit', 1e12], ['Bps', 8], ['KiBps', 8 * 1024], ['KBps', 8000], ['MiBps', 8 * 1024 ** 2],
  ['MBps', 8e6], ['GiBps', 8 * 1024 ** 3], ['GBps', 8e9], ['TiBps', 8 * 1024 ** 4], ['TBps', 8e12],
];

/** The C conversion of a double to uint32_t (truncation; wrapped where C would be undefined). */
const toU32 = (d: number): number => (Number.isFinite(d) ? Number(BigInt.asUintN(32, BigInt(Math.trunc(d)))) : 0);

/** rateest_get_rate(): strtod() then an optional suffix; bytes per second, or undefined. */
function parseRate(str: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(str);
  if (!m) return undefined;
  const bps = Number(m[0].trim());
  const rest = str.slice(m[0].length);
  if (rest === '') return toU32(bps / 8);
  const s = SUFFIXES.find(([n]) => n.toLowerCase() === rest.toLowerCase());
  return s ? toU32((bps * s[1]) / 8) : undefined;
}

/** rateest_print_rate(). */
function rateText(rate: number, numeric: boolean): string {
  if (numeric) return ` ${rate}`;
  const bits = rate * 8;
  if (bits >= 1e9) return ` ${(bits / 1e6).toFixed(0)}Mbit`;
  if (bits >= 1e6) return ` ${(bits / 1e3).toFixed(0)}Kbit`;
  return ` ${bits.toFixed(0)}bit`;
}

const modeText = (s: RateestState, prefix: string): string => `${s.flags & F_INVERT ? ' !' : ''} ${prefix}${MODES[s.mode] ?? ''}`;

function saveRate(s: RateestState, name: string, r1: number, r2: number, numeric: boolean): string {
  let out: string;
  if (s.flags & F_DELTA) out = ` --rateest-${name}1${rateText(r1, numeric)}${modeText(s, '--rateest-')} --rateest-${name}2`;
  else out = `${modeText(s, '--rateest-')} --rateest-${name}`;
  if (s.flags & (F_ABS | F_DELTA)) out += rateText(r2, numeric);
  return out;
}

function saveText(s: RateestState): string {
  let out = s.flags & F_DELTA ? ' --rateest-delta' : '';
  const rates = (s.flags & F_BPS ? saveRate(s, 'bps', s.bps1, s.bps2, false) : '') + (s.flags & F_PPS ? saveRate(s, 'pps', s.pps1, s.pps2, true) : '');
  if (s.flags & F_REL) out += ` --rateest1 ${s.name1}${rates} --rateest2 ${s.name2}`;
  else out += ` --rateest ${s.name1}${rates}`;
  return out;
}

function listText(s: RateestState, numeric: boolean): string {
  let out = ` rateest match ${s.name1}`;
  if (s.flags & F_DELTA) out += ' delta';
  if (s.flags & F_BPS) {
    out += ' bps';
    if (s.flags & F_DELTA) out += rateText(s.bps1, numeric);
    if (s.flags & F_ABS) out += rateText(s.bps2, numeric) + modeText(s, '');
  }
  if (s.flags & F_PPS) {
    out += ' pps';
    if (s.flags & F_DELTA) out += ` ${s.pps1}`;
    if (s.flags & F_ABS) out += `${modeText(s, '')} ${s.pps2}`;
  }
  if (s.flags & F_REL) {
    out += `${modeText(s, '')} ${s.name2}`;
    if (s.flags & F_BPS) out += ` bps${s.flags & F_DELTA ? rateText(s.bps2, numeric) : ''}`;
    if (s.flags & F_PPS) out += ` pps${s.flags & F_DELTA ? ` ${s.pps2}` : ''}`;
  }
  return out;
}

// The C option letters (enum rateest_options), for the "twice" checks and messages.
const OPT: Record<string, number> = {
  rateest1: 0, rateest: 0, rateest2: 1, 'rateest-bps1': 2, 'rateest-pps1': 3, 'rateest-bps2': 4, 'rateest-pps2': 5,
  'rateest-bps': 4, 'rateest-pps': 5, 'rateest-delta': 6, 'rateest-lt': 7, 'rateest-gt': 8, 'rateest-eq': 9,
};

export default defineMatch<RateestState>({
  kind: 'match',
  name: 'rateest',
  manSection: 'rateest',
  style: 'old',
  help: `rateest match options:
 --rateest1 name		Rate estimator name
 --rateest2 name		Rate estimator name
 --rateest-delta		Compare difference(s) to given rate(s)
 --rateest-bps1 [bps]		Compare bps
 --rateest-pps1 [pps]		Compare pps
 --rateest-bps2 [bps]		Compare bps
 --rateest-pps2 [pps]		Compare pps
 [!] --rateest-lt		Match if rate is less than given rate/estimator
 [!] --rateest-gt		Match if rate is greater than given rate/estimator
 [!] --rateest-eq		Match if rate is equal to given rate/estimator
`,
  options: [
    { name: 'rateest1', id: 0, arg: 'required', invert: true },
    { name: 'rateest', id: 0, arg: 'required', invert: true },
    { name: 'rateest2', id: 1, arg: 'required', invert: true },
    { name: 'rateest-bps1', id: 2, arg: 'none', invert: true },
    { name: 'rateest-pps1', id: 3, arg: 'none', invert: true },
    { name: 'rateest-bps2', id: 4, arg: 'none', invert: true },
    { name: 'rateest-pps2', id: 5, arg: 'none', invert: true },
    { name: 'rateest-bps', id: 4, arg: 'none', invert: true },
    { name: 'rateest-pps', id: 5, arg: 'none', invert: true },
    { name: 'rateest-delta', id: 6, arg: 'none', invert: true },
    { name: 'rateest-lt', id: 7, arg: 'none', invert: true },
    { name: 'rateest-gt', id: 8, arg: 'none', invert: true },
    { name: 'rateest-eq', id: 9, arg: 'none', invert: true },
  ],
  init: () => ({ name1: '', name2: '', flags: 0, mode: 0, bps1: 0, pps1: 0, bps2: 0, pps2: 0, seen: 0 }),
  parse(s, use, ctx) {
    const c = OPT[use.name]!;
    const once = (what: string): void => {
      if (s.seen & (1 << c)) throw paramProblem(`rateest: can't specify ${what} twice`);
      s.seen |= 1 << c;
    };
    const noInvert = (what: string): void => {
      if (use.inverted) throw paramProblem(`rateest: ${what} can't be inverted`);
    };
    if (c <= 1) {
      noInvert('rateest');
      once(c === 0 ? '--rateest1' : '--rateest2');
      const name = Buffer.from(use.value!).subarray(0, 15).toString();
      if (c === 0) s.name1 = name;
      else {
        s.name2 = name;
        s.flags |= F_REL;
      }
      return;
    }
    if (c <= 5) {
      const bps = c === 2 || c === 4;
      noInvert(bps ? 'rateest-bps' : 'rateest-pps');
      once(`--${['', '', 'rateest-bps1', 'rateest-pps1', 'rateest-bps2', 'rateest-pps2'][c]}`);
      s.flags |= bps ? F_BPS : F_PPS;
      const arg = ctx.nextArg();
      if (arg === undefined) return;
      if (bps) {
        const r = parseRate(arg);
        if (r === undefined) throw paramProblem(`rateest: could not parse rate \`${arg}'`);
        if (c === 2) s.bps1 = r;
        else s.bps2 = r;
      } else {
        const v = xtStrtoui(arg, 0, 0xffffffff);
        if (!v || v.end !== arg.length) throw paramProblem(`rateest: could not parse pps \`${arg}'`);
        if (c === 3) s.pps1 = v.value;
        else s.pps2 = v.value;
      }
      return;
    }
    if (c === 6) {
      noInvert('rateest-delta');
      once('--rateest-delta');
      s.flags |= F_DELTA;
      return;
    }
    once('lt/gt/eq');
    s.mode = c === 9 ? 1 : c === 7 ? 2 : 3;
    if (use.inverted) s.flags |= F_INVERT;
  },
  finalCheck(s) {
    if (!(s.flags & F_REL)) s.flags |= F_ABS;
  },
  save: saveText,
  print: listText,
  compareKey: (s) => JSON.stringify({ ...s, seen: 0 }),
  kernelCheckSeesPeers: true,
  kernelCheck(s, view) {
    if (!(s.flags & (F_BPS | F_PPS)) || s.mode === 0) return 'Invalid argument';
    // xt_rateest_lookup() of each name: an estimator exists while a RATEEST rule of that name does.
    if (!view.peers) return undefined;
    const names = new Set<unknown>();
    for (const peer of view.peers('RATEEST')) names.add((peer.state as { name?: unknown }).name);
    const missing = !names.has(s.name1) || (s.flags & F_REL && !names.has(s.name2));
    return missing ? 'No such file or directory' : undefined;
  },
  // rateest_mt() of xt_rateest.c compares the estimators' current rates; none exist here (and no rule could be
  // added), so the answer is asked, assumed no.
  match: (s, ctx) => ctx.decide('rateest', `${listText(s, true).trim()} holds`, false),
  explain: (s) => `${saveText(s).trim()}: the estimated rates do not compare so (assumed)`,
});
