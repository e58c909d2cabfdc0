/**
 * hashlimit match (iptables-extensions: "hashlimit"), revision 3 as iptables 1.8.9 loads it:
 * --hashlimit-upto / --hashlimit-above (or the old --hashlimit) with packet rates (N[/unit]) or byte rates
 * (N[k|m]b/s), --hashlimit-burst, --hashlimit-mode, --hashlimit-srcmask/-dstmask, --hashlimit-name,
 * --hashlimit-htable-size/-max/-gcinterval/-expire, --hashlimit-rate-match and --hashlimit-rate-interval.
 *
 * --hashlimit and --hashlimit-upto share one option id, and libxt_hashlimit's final check runs before
 * libxtables' generic one, so the once/exclusion/mandatory checks are done here in libxtables' order.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { atoi, atollU64 } from '../values/inet';
import { badValueAct, givenIds, parseX6Plen, x6Fcheck, xtStrtoul, type X6Entry } from '../values/x6';
import { prefixOf } from './conntrack';

const MODE = { DIP: 1, DPT: 2, SIP: 4, SPT: 8, INVERT: 16, BYTES: 32, RATE_MATCH: 64 } as const;
const SCALE = 1000000n; // XT_HASHLIMIT_SCALE_v2
const BYTE_SHIFT = 4n;
const BYTE_EXPIRE = 15;
const BYTE_EXPIRE_BURST = 60;
const BURST_MAX = 1000000n;
const GCINTERVAL = 1000;
const U32_MAX = 0xffffffffn;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Option ids (libxt_hashlimit's O_*); --hashlimit is the old spelling of --hashlimit-upto (same id). */
const O = { UPTO: 0, ABOVE: 1, MODE: 3, SRCMASK: 4, DSTMASK: 5, NAME: 6, BURST: 7, SIZE: 8, MAX: 9, GCINT: 10, EXPIRE: 11, RATEMATCH: 12, INTERVAL: 13 } as const;
const TABLE: readonly X6Entry[] = [
  { name: 'hashlimit-upto', id: O.UPTO, excl: [O.ABOVE] },
  { name: 'hashlimit-above', id: O.ABOVE, excl: [O.UPTO] },
  { name: 'hashlimit', id: O.UPTO, excl: [O.ABOVE] },
  { name: 'hashlimit-srcmask', id: O.SRCMASK },
  { name: 'hashlimit-dstmask', id: O.DSTMASK },
  { name: 'hashlimit-burst', id: O.BURST },
  { name: 'hashlimit-htable-size', id: O.SIZE },
  { name: 'hashlimit-htable-max', id: O.MAX },
  { name: 'hashlimit-htable-gcinterval', id: O.GCINT },
  { name: 'hashlimit-htable-expire', id: O.EXPIRE },
  { name: 'hashlimit-mode', id: O.MODE },
  { name: 'hashlimit-name', id: O.NAME, mandatory: true },
  { name: 'hashlimit-rate-match', id: O.RATEMATCH },
  { name: 'hashlimit-rate-interval', id: O.INTERVAL },
];

export interface HashlimitState {
  mode: number;
  avg: bigint;
  burst: bigint;
  size: number;
  max: number;
  gcInterval: number;
  expire: number;
  srcmask: number;
  dstmask: number;
  interval: number;
  name: string;
  /** hashlimit_mt_udata.mult: seconds per rate unit of the last rate parsed (15 for byte rates). */
  mult: number;
  /** Option ids given so far (xflags). */
  ids: Set<number>;
}

function costToBytes(cost: bigint): bigint {
  const r = cost ? U32_MAX / cost : U32_MAX;
  return U64((r - 1n) << BYTE_SHIFT);
}

function bytesToCost(bytes: bigint): bigint {
  const r = BigInt.asUintN(32, bytes >> BYTE_SHIFT);
  const d = BigInt.asUintN(32, r + 1n);
  return d === 0n ? 0n : U32_MAX / d;
}

function factor(c: string | undefined): bigint {
  return c === 'm' ? 1048576n : c === 'k' ? 1024n : 1n;
}

/** parse_bytes(): "N[k|m]b/s" as a cost, or null when the text is no byte rate. */
function parseBytes(s: HashlimitState, rate: string): bigint | null {
  const at = rate.indexOf('b/s');
  if (at <= 0) return null;
  const r = atollU64(rate);
  if (r === 0n) return null;
  const cost = bytesToCost(U64(r * factor(rate[at - 1])));
  if (cost === 0n) throw paramProblem(`Rate too high "${rate}"`);
  s.mult = BYTE_EXPIRE;
  return cost;
}

/** parse_rate(): "N[/unit]" as a period in 1/1000000 s, or null. */
function parseRate(s: HashlimitState, rate: string): bigint | null {
  s.mult = 1;
  const slash = rate.indexOf('/');
  if (slash >= 0) {
    const unit = rate.slice(slash + 1);
    if (unit === '') return null;
    const found = (
      [
        ['second', 1],
        ['minute', 60],
        ['hour', 3600],
        ['day', 86400],
      ] as const
    ).find(([n]) => prefixOf(unit, n));
    if (!found) return null;
    s.mult = found[1];
  }
  const r = atollU64(rate);
  if (r === 0n) return null;
  const period = (SCALE * BigInt(s.mult)) / r;
  if (period === 0n) throw paramProblem(`Rate too fast "${rate}"`);
  return period;
}

/** parse_burst(): a number 1..1000000, or a byte amount "N[k|m]" (checked against the rate later). */
function parseBurst(arg: string): bigint {
  const err = (): Error => paramProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
  const r = xtStrtoul(arg, 1n, (1n << 64n) - 1n);
  if (!r) throw err();
  if (r.end === arg.length && r.value > BURST_MAX) throw err();
  return U64(r.value * factor(arg[r.end]));
}

/** parse_mode(): dstip, srcip, srcport, dstport separated by ',' or '|'. */
function parseMode(arg: string): number | null {
  let mode = 0;
  for (const tok of arg.split(/[,|]/)) {
    if (tok === '') continue;
    const bit = ({ dstip: MODE.DIP, srcip: MODE.SIP, srcport: MODE.SPT, dstport: MODE.DPT } as Record<string, number>)[tok];
    if (bit === undefined) return null;
    mode |= bit;
  }
  return mode;
}

const RATES: ReadonlyArray<readonly [string, bigint]> = [
  ['day', SCALE * 86400n],
  ['hour', SCALE * 3600n],
  ['min', SCALE * 60n],
  ['sec', SCALE],
];

/** print_rate(): " N/unit" and the unit in milliseconds (the default expire it implies). */
function rateText(period: bigint): [string, number] {
  if (period === 0n) return [' inf', 0];
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || mult / period < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return [` ${mult / period}/${name}`, Number((mult / SCALE) * 1000n)];
}

const UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['m', 1048576n],
  ['k', 1024n],
  ['', 1n],
];

/** print_bytes(): " Nxb/s" and, with a burst, " PREFIXburst Nxb"; returns the default expire too. */
function bytesText(avg: bigint, burst: bigint, prefix: string): [string, number] {
  let r = costToBytes(avg);
  let i = 0;
  for (; i < UNITS.length - 1; i++) {
    const t = UNITS[i]![1];
    if (r >= t && bytesToCost(r & ~(t - 1n)) === avg) break;
  }
  let out = ` ${r / UNITS[i]![1]}${UNITS[i]![0]}b/s`;
  if (burst === 0n) return [out, BYTE_EXPIRE * 1000];
  r = U64(r * burst);
  for (i = 0; i < UNITS.length - 1; i++) if (r >= UNITS[i]![1]) break;
  out += ` ${prefix}burst ${r / UNITS[i]![1]}${UNITS[i]![0]}b`;
  return [out, BYTE_EXPIRE_BURST * 1000];
}

function modeText(mode: number, sep: string): string {
  const names: string[] = [];
  if (mode & MODE.SIP) names.push('srcip');
  if (mode & MODE.SPT) names.push('srcport');
  if (mode & MODE.DIP) names.push('dstip');
  if (mode & MODE.DPT) names.push('dstport');
  return ` ${names.join(sep)}`;
}

const HASH_BITS = MODE.SIP | MODE.SPT | MODE.DIP | MODE.DPT;

/** hashlimit_mt_print() (revision 3, -L) and hashlimit_mt_save(). */
function render(s: HashlimitState, save: boolean): string {
  const p = save ? '--hashlimit-' : '';
  let out = save ? (s.mode & MODE.INVERT ? ' --hashlimit-above' : ' --hashlimit-upto') : s.mode & MODE.INVERT ? ' limit: above' : ' limit: up to';
  let quantum: number;
  if (s.mode & MODE.BYTES) {
    const [t, q] = bytesText(s.avg, s.burst, p);
    out += t;
    quantum = q;
  } else {
    const period = !save && s.interval !== 0 ? U64(s.avg * BigInt(s.interval)) : s.avg;
    const [t, q] = rateText(period);
    out += `${t} ${p}burst ${s.burst}`;
    quantum = q;
  }
  if (s.mode & HASH_BITS) out += ` ${p}mode${modeText(s.mode, save ? ',' : '-')}`;
  if (save) out += ` --hashlimit-name ${s.name}`;
  if (s.size !== 0) out += ` ${p}htable-size ${s.size}`;
  if (s.max !== 0) out += ` ${p}htable-max ${s.max}`;
  if (s.gcInterval !== GCINTERVAL) out += ` ${p}htable-gcinterval ${s.gcInterval}`;
  if (s.expire !== quantum) out += ` ${p}htable-expire ${s.expire}`;
  if (s.srcmask !== 32) out += ` ${p}srcmask ${s.srcmask}`;
  if (s.dstmask !== 32) out += ` ${p}dstmask ${s.dstmask}`;
  if (s.mode & MODE.RATE_MATCH) {
    out += ` ${p}rate-match`;
    if (s.interval !== 1) out += ` ${p}rate-interval ${s.interval}`;
  }
  return out;
}

/**
 * What xt_hashlimit's checkentry refuses: EINVAL for a zero gc interval or expire, a prefix over 32 bits, a zero byte cost; ERANGE when avg * burst is
 * too large for the kernel's credit arithmetic (measured on the recording kernel: 172799e6 passes, 172800e6 not).
 */
function kernelCheck(s: HashlimitState): string | undefined {
  if (s.gcInterval === 0 || s.expire === 0) return 'Invalid argument';
  if (s.srcmask > 32 || s.dstmask > 32) return 'Invalid argument';
  if (s.mode & MODE.BYTES) return undefined;
  if (s.burst === 0n || s.avg * s.burst >= 172800000000n) return 'Numerical result out of range';
  return undefined;
}

export default defineMatch<HashlimitState>({
  kind: 'match',
  name: 'hashlimit',
  manSection: 'hashlimit',
  style: 'x6',
  help: `hashlimit match options:
  --hashlimit-upto <avg>           max average match rate
                                   [Packets per second unless followed by 
                                   /sec /minute /hour /day postfixes]
  --hashlimit-above <avg>          min average match rate
  --hashlimit-mode <mode>          mode is a comma-separated list of
                                   dstip,srcip,dstport,srcport (or none)
  --hashlimit-srcmask <length>     source address grouping prefix length
  --hashlimit-dstmask <length>     destination address grouping prefix length
  --hashlimit-name <name>          name for /proc/net/ipt_hashlimit
  --hashlimit-burst <num>	    number to match in a burst, default 5
  --hashlimit-htable-size <num>    number of hashtable buckets
  --hashlimit-htable-max <num>     number of hashtable entries
  --hashlimit-htable-gcinterval    interval between garbage collection runs
  --hashlimit-htable-expire        after which time are idle entries expired?
  --hashlimit-rate-match           rate match the flow without rate-limiting it
  --hashlimit-rate-interval        interval in seconds for hashlimit-rate-match

`,
  options: [
    { name: 'hashlimit-upto', arg: 'required', invert: true },
    { name: 'hashlimit-above', arg: 'required', invert: true },
    { name: 'hashlimit', arg: 'required', invert: true },
    { name: 'hashlimit-srcmask', arg: 'required' },
    { name: 'hashlimit-dstmask', arg: 'required' },
    { name: 'hashlimit-burst', arg: 'required' },
    { name: 'hashlimit-htable-size', arg: 'required' },
    { name: 'hashlimit-htable-max', arg: 'required' },
    { name: 'hashlimit-htable-gcinterval', arg: 'required' },
    { name: 'hashlimit-htable-expire', arg: 'required' },
    { name: 'hashlimit-mode', arg: 'required' },
    { name: 'hashlimit-name', arg: 'required' },
    { name: 'hashlimit-rate-match', arg: 'none' },
    { name: 'hashlimit-rate-interval', arg: 'required' },
  ],
  init: () => ({
    mode: 0,
    avg: 0n,
    burst: 5n,
    size: 0,
    max: 0,
    gcInterval: GCINTERVAL,
    expire: 0,
    srcmask: 32,
    dstmask: 32,
    interval: 0,
    name: '',
    mult: 0,
    ids: new Set(),
  }),
  parse(s, use) {
    const v = use.value ?? '';
    const entry = TABLE.find((e) => e.name === use.name)!;
    // The generic check caught a repeated name; --hashlimit after --hashlimit-upto (one id) is caught here.
    if (s.ids.has(entry.id)) throw paramProblem(`hashlimit: option "--${use.name}" can only be used once.\n`);
    s.ids.add(entry.id);
    switch (use.name) {
      case 'hashlimit-burst':
        s.burst = parseBurst(v);
        break;
      case 'hashlimit':
      case 'hashlimit-upto':
      case 'hashlimit-above': {
        const above = use.name === 'hashlimit-above';
        if (use.inverted !== above) s.mode |= MODE.INVERT;
        const bytes = parseBytes(s, v);
        if (bytes !== null) {
          s.mode |= MODE.BYTES;
          s.avg = bytes;
          break;
        }
        const period = parseRate(s, v);
        if (period === null) throw badValueAct('hashlimit', above ? '--hashlimit-above' : '--hashlimit-upto', v);
        s.avg = period;
        break;
      }
      case 'hashlimit-mode': {
        const m = parseMode(v);
        if (m === null) throw badValueAct('hashlimit', '--hashlimit-mode', v);
        s.mode |= m;
        break;
      }
      case 'hashlimit-srcmask':
        s.srcmask = parseX6Plen('hashlimit', use.name, v);
        break;
      case 'hashlimit-dstmask':
        s.dstmask = parseX6Plen('hashlimit', use.name, v);
        break;
      case 'hashlimit-htable-size':
        s.size = parseX6Uint('hashlimit', use.name, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-max':
        s.max = parseX6Uint('hashlimit', use.name, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-gcinterval':
        s.gcInterval = parseX6Uint('hashlimit', use.name, v, 0, 0xffffffff);
        break;
      case 'hashlimit-htable-expire':
        s.expire = parseX6Uint('hashlimit', use.name, v, 0, 0xffffffff);
        break;
      case 'hashlimit-name':
        if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
        s.name = v.slice(0, 254); // name[NAME_MAX]: strncpy of at most 254 characters
        break;
      case 'hashlimit-rate-match':
        s.mode |= MODE.RATE_MATCH;
        break;
      case 'hashlimit-rate-interval': {
        const r = atoi(v);
        if (r <= 0) throw badValueAct('hashlimit', '--hashlimit-rate-interval', v);
        s.interval = r;
        break;
      }
    }
  },
  finalCheck(s, _ctx, given) {
    // hashlimit_mt_check() first, then libxtables' generic checks (xtables_option_mfcall order).
    if (!s.ids.has(O.UPTO) && !s.ids.has(O.ABOVE)) throw paramProblem('You have to specify --hashlimit');
    if (!s.ids.has(O.EXPIRE)) s.expire = s.mult * 1000;
    if (s.mode & MODE.BYTES) {
      let burst = 0n;
      if (s.ids.has(O.BURST)) {
        const ctb = costToBytes(s.avg);
        if (s.burst < ctb) throw paramProblem(`burst cannot be smaller than ${ctb}b`);
        burst = BigInt.asUintN(32, BigInt.asUintN(32, s.burst) / ctb);
        if (s.burst % ctb) burst = BigInt.asUintN(32, burst + 1n);
        if (!s.ids.has(O.EXPIRE)) s.expire = BYTE_EXPIRE_BURST * 1000;
      }
      s.burst = burst;
    } else if (s.burst > BURST_MAX) {
      throw paramProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
    }
    if (s.ids.has(O.RATEMATCH)) {
      if (!(s.mode & MODE.BYTES)) s.avg /= BigInt(s.mult);
      if (s.interval === 0) s.interval = s.mode & MODE.BYTES ? 1 : s.mult;
    }
    x6Fcheck('hashlimit', TABLE, givenIds(TABLE, given));
  },
  save: (s) => render(s, true),
  print: (s) => render(s, false),
  kernelCheck,
});
