/**
 * hashlimit match (iptables-extensions: "hashlimit"), revision 3 as iptables 1.8.9 loads it:
 * --hashlimit-upto / --hashlimit-above (or the old --hashlimit) with packet rates (N[/unit]) or byte rates
 * (N[k|m]b/s), --hashlimit-burst, --hashlimit-mode, --hashlimit-srcmask/-dstmask, --hashlimit-name,
 * --hashlimit-htable-size/-max/-gcinterval/-expire, --hashlimit-rate-match and --hashlimit-rate-interval.
 * --hashlimit is the old spelling of --hashlimit-upto (one option id).
 */
import { defineMatch, type OptionDef } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { atoi, atollU64, xtStrtoul } from '../values/cstrtoul';
import { needsQuotes, restoreWord } from '../values/cstring';
import { badValueAct, parseX6Plen } from '../values/x6';
import { printRate, rateUnit } from './limit';
import { PROTO_TCP, PROTO_UDP } from '../../eval/packet';
import { addrToString } from '../../model/ip';
import type { EvalContext } from '../../eval/context';
import { HZ, jiffiesAt, namedKey, nowMs } from '../values/semantics';

const MODE = { DIP: 1, DPT: 2, SIP: 4, SPT: 8, INVERT: 16, BYTES: 32, RATE_MATCH: 64 } as const;
const SCALE = 1000000n; // XT_HASHLIMIT_SCALE_v2
const BYTE_SHIFT = 4n;
const BYTE_EXPIRE = 15;
const BYTE_EXPIRE_BURST = 60;
const BURST_MAX = 1000000n;
const GCINTERVAL = 1000;
const U32_MAX = 0xffffffffn;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** hashlimit_mt_opts[] with libxt_hashlimit's O_* ids; --hashlimit is the old spelling of --hashlimit-upto. */
const OPTIONS: readonly OptionDef[] = [
  { name: 'hashlimit-upto', id: 0, arg: 'required', invert: true, excludes: ['hashlimit-above'] },
  { name: 'hashlimit-above', id: 1, arg: 'required', invert: true, excludes: ['hashlimit-upto'] },
  { name: 'hashlimit', id: 0, arg: 'required', invert: true, excludes: ['hashlimit-above'] },
  { name: 'hashlimit-srcmask', id: 4, arg: 'required' },
  { name: 'hashlimit-dstmask', id: 5, arg: 'required' },
  { name: 'hashlimit-burst', id: 7, arg: 'required' },
  { name: 'hashlimit-htable-size', id: 8, arg: 'required' },
  { name: 'hashlimit-htable-max', id: 9, arg: 'required' },
  { name: 'hashlimit-htable-gcinterval', id: 10, arg: 'required' },
  { name: 'hashlimit-htable-expire', id: 11, arg: 'required' },
  { name: 'hashlimit-mode', id: 3, arg: 'required' },
  { name: 'hashlimit-name', id: 6, arg: 'required', mandatory: true },
  { name: 'hashlimit-rate-match', id: 12, arg: 'none' },
  { name: 'hashlimit-rate-interval', id: 13, arg: 'required' },
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
}

const initState = (): HashlimitState => ({
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
});

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
  const mult = rateUnit(rate);
  s.mult = mult ?? 1;
  if (mult === null) return null;
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

/** print_rate(): " N/unit" and the unit in milliseconds (the default expire it implies). */
function rateText(period: bigint): [string, number] {
  const [text, secs] = printRate(period, SCALE);
  return [text, secs * 1000];
}

const UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['m', 1048576n],
  ['k', 1024n],
  ['', 1n],
];

/** print_bytes(): the rate "Nxb/s", the burst "Nxb" (undefined without one) and the default expire they imply. */
function bytesText(avg: bigint, burst: bigint): { rate: string; burst: string | undefined; quantum: number } {
  let r = costToBytes(avg);
  let i = 0;
  for (; i < UNITS.length - 1; i++) {
    const t = UNITS[i]![1];
    if (r >= t && bytesToCost(r & ~(t - 1n)) === avg) break;
  }
  const rate = `${r / UNITS[i]![1]}${UNITS[i]![0]}b/s`;
  if (burst === 0n) return { rate, burst: undefined, quantum: BYTE_EXPIRE * 1000 };
  r = U64(r * burst);
  for (i = 0; i < UNITS.length - 1; i++) if (r >= UNITS[i]![1]) break;
  return { rate, burst: `${r / UNITS[i]![1]}${UNITS[i]![0]}b`, quantum: BYTE_EXPIRE_BURST * 1000 };
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

/** hashlimit_mt_print() (revision 3, -L). */
function print(s: HashlimitState): string {
  let out = s.mode & MODE.INVERT ? ' limit: above' : ' limit: up to';
  let quantum: number;
  if (s.mode & MODE.BYTES) {
    const b = bytesText(s.avg, s.burst);
    out += ` ${b.rate}${b.burst === undefined ? '' : ` burst ${b.burst}`}`;
    quantum = b.quantum;
  } else {
    const [t, q] = rateText(s.interval !== 0 ? U64(s.avg * BigInt(s.interval)) : s.avg);
    out += `${t} burst ${s.burst}`;
    quantum = q;
  }
  if (s.mode & HASH_BITS) out += ` mode${modeText(s.mode, '-')}`;
  if (s.size !== 0) out += ` htable-size ${s.size}`;
  if (s.max !== 0) out += ` htable-max ${s.max}`;
  if (s.gcInterval !== GCINTERVAL) out += ` htable-gcinterval ${s.gcInterval}`;
  if (s.expire !== quantum) out += ` htable-expire ${s.expire}`;
  if (s.srcmask !== 32) out += ` srcmask ${s.srcmask}`;
  if (s.dstmask !== 32) out += ` dstmask ${s.dstmask}`;
  if (s.mode & MODE.RATE_MATCH) {
    out += ' rate-match';
    if (s.interval !== 1) out += ` rate-interval ${s.interval}`;
  }
  return out;
}

/** One option of a save line: name (without dashes) and value. */
type Opt = readonly [name: string, value?: string];

/**
 * hashlimit_mt_save()'s options ('save'), or the state file's: 'state' keeps the usual spellings but gives a
 * byte burst in bytes and the expire and interval always; 'exact' also gives the rate as the stored value,
 * `@AVG` (`@AVGb` for a byte rate), which only a trusted parse reads.
 */
function saveOpts(s: HashlimitState, variant: 'save' | 'state' | 'exact'): Opt[] {
  const bytes = (s.mode & MODE.BYTES) !== 0;
  const out: Opt[] = [];
  const rateOpt = s.mode & MODE.INVERT ? 'hashlimit-above' : 'hashlimit-upto';
  let quantum: number;
  if (variant === 'exact') {
    out.push([rateOpt, `@${s.avg}${bytes ? 'b' : ''}`]);
    quantum = -1;
  } else if (bytes) {
    const b = bytesText(s.avg, s.burst);
    out.push([rateOpt, b.rate]);
    quantum = b.quantum;
  } else {
    const [t, q] = rateText(s.avg);
    out.push([rateOpt, t.slice(1)]);
    quantum = q;
  }
  if (!bytes) out.push(['hashlimit-burst', `${s.burst}`]);
  else if (s.burst !== 0n) {
    out.push(['hashlimit-burst', variant === 'save' ? bytesText(s.avg, s.burst).burst! : `${s.burst * costToBytes(s.avg)}b`]);
  }
  if (s.mode & HASH_BITS) out.push(['hashlimit-mode', modeText(s.mode, ',').slice(1)]);
  out.push(['hashlimit-name', s.name]);
  if (s.size !== 0) out.push(['hashlimit-htable-size', `${s.size}`]);
  if (s.max !== 0) out.push(['hashlimit-htable-max', `${s.max}`]);
  if (s.gcInterval !== GCINTERVAL) out.push(['hashlimit-htable-gcinterval', `${s.gcInterval}`]);
  if (s.expire !== quantum || variant !== 'save') out.push(['hashlimit-htable-expire', `${s.expire}`]);
  if (s.srcmask !== 32) out.push(['hashlimit-srcmask', `${s.srcmask}`]);
  if (s.dstmask !== 32) out.push(['hashlimit-dstmask', `${s.dstmask}`]);
  if (s.mode & MODE.RATE_MATCH) out.push(['hashlimit-rate-match']);
  if (variant === 'save' ? s.mode & MODE.RATE_MATCH && s.interval !== 1 : s.interval !== 0) {
    out.push(['hashlimit-rate-interval', `${s.interval}`]);
  }
  return out;
}

function optsText(opts: readonly Opt[], word: (v: string) => string): string {
  return opts.map(([n, v]) => ` --${n}${v === undefined ? '' : word(v)}`).join('');
}

/** Whether these options, parsed again (trusted), give this very state. */
function readsBack(s: HashlimitState, opts: readonly Opt[]): boolean {
  const t = initState();
  const given = new Set<string>();
  try {
    for (const [name, value] of opts) {
      parseOption(t, name, value, false, true);
      given.add(name);
    }
    finish(t, given);
  } catch {
    return false;
  }
  const keys = Object.keys(s).filter((k) => k !== 'mult') as Array<keyof HashlimitState>;
  return keys.every((k) => t[k] === s[k]);
}

/**
 * The state file's text when the save text does not read back to this state (a 0b/s byte rate, an interval
 * without rate-match, a byte burst the unit rounds, a rate the unit rounds, a name with blanks).
 */
function stateText(s: HashlimitState): string | undefined {
  const save = saveOpts(s, 'save');
  if (!needsQuotes(s.name) && readsBack(s, save)) return undefined;
  const state = saveOpts(s, 'state');
  return optsText(readsBack(s, state) ? state : saveOpts(s, 'exact'), restoreWord);
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

/** hashlimit_mt_parse() for one option; `trusted` (the state file) also reads the `@AVG` rate of stateText(). */
function parseOption(s: HashlimitState, name: string, value: string | undefined, inverted: boolean, trusted: boolean): void {
  const v = value ?? '';
  switch (name) {
    case 'hashlimit-burst':
      s.burst = parseBurst(v);
      break;
    case 'hashlimit':
    case 'hashlimit-upto':
    case 'hashlimit-above': {
      const above = name === 'hashlimit-above';
      if (inverted !== above) s.mode |= MODE.INVERT;
      const stored = trusted ? /^@(\d+)(b?)$/.exec(v) : null;
      if (stored) {
        s.avg = BigInt(stored[1]!);
        s.mult = 1;
        if (stored[2]) s.mode |= MODE.BYTES;
        break;
      }
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
      s.srcmask = parseX6Plen('hashlimit', name, v);
      break;
    case 'hashlimit-dstmask':
      s.dstmask = parseX6Plen('hashlimit', name, v);
      break;
    case 'hashlimit-htable-size':
      s.size = parseX6Uint('hashlimit', name, v, 0, 0xffffffff);
      break;
    case 'hashlimit-htable-max':
      s.max = parseX6Uint('hashlimit', name, v, 0, 0xffffffff);
      break;
    case 'hashlimit-htable-gcinterval':
      s.gcInterval = parseX6Uint('hashlimit', name, v, 0, 0xffffffff);
      break;
    case 'hashlimit-htable-expire':
      s.expire = parseX6Uint('hashlimit', name, v, 0, 0xffffffff);
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
}

/** hashlimit_mt_check() (libxtables' generic checks follow it). */
function finish(s: HashlimitState, given: ReadonlySet<string>): void {
  if (!given.has('hashlimit-upto') && !given.has('hashlimit') && !given.has('hashlimit-above')) {
    throw paramProblem('You have to specify --hashlimit');
  }
  const expireGiven = given.has('hashlimit-htable-expire');
  if (!expireGiven) s.expire = s.mult * 1000;
  if (s.mode & MODE.BYTES) {
    let burst = 0n;
    if (given.has('hashlimit-burst')) {
      const ctb = costToBytes(s.avg);
      if (s.burst < ctb) throw paramProblem(`burst cannot be smaller than ${ctb}b`);
      burst = BigInt.asUintN(32, BigInt.asUintN(32, s.burst) / ctb);
      if (s.burst % ctb) burst = BigInt.asUintN(32, burst + 1n);
      if (!expireGiven) s.expire = BYTE_EXPIRE_BURST * 1000;
    }
    s.burst = burst;
  } else if (s.burst > BURST_MAX) {
    throw paramProblem(`bad value for option "--hashlimit-burst", or out of range (1-${BURST_MAX}).`);
  }
  if (given.has('hashlimit-rate-match')) {
    if (!(s.mode & MODE.BYTES)) s.avg /= BigInt(s.mult);
    if (s.interval === 0) s.interval = s.mode & MODE.BYTES ? 1 : s.mult;
  }
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
  options: OPTIONS,
  init: initState,
  parse: (s, use, ctx) => parseOption(s, use.name, use.value, use.inverted, ctx.trusted),
  finalCheck: (s, _ctx, given) => finish(s, given),
  save: (s) => optsText(saveOpts(s, 'save'), (v) => ` ${v}`),
  print,
  stateText,
  kernelCheck,
  match: (s, ctx) => hashlimitMatch(s, ctx),
  explain(s) {
    const [[rateOpt, rate]] = saveOpts(s, 'save') as [Opt];
    const over = !(s.mode & MODE.INVERT);
    return `--${rateOpt} ${rate ?? ''} --hashlimit-name ${s.name}: this flow is ${over ? 'over' : 'within'} the limit`;
  },
});

// xt_hashlimit.c's fixed point, revision 3 (u64 credits), with HZ as values/semantics.ts assumes it.
const BIG_HZ = BigInt(HZ);
/** The largest power of two not above x (POW2_BELOW32/64). */
const pow2Below = (x: bigint): bigint => {
  let p = 1n;
  while (p * 2n <= x) p *= 2n;
  return p;
};
const CREDITS_PER_JIFFY = pow2Below(U64(-1n) / (BIG_HZ * 86400n));
const CREDITS_PER_JIFFY_BYTES = pow2Below(U32_MAX / BIG_HZ);

function user2credits(user: bigint): bigint {
  const k = BIG_HZ * CREDITS_PER_JIFFY;
  return SCALE >= k ? U64(user / (SCALE / k)) : U64(user * (k / SCALE));
}
const user2creditsByte = (user: bigint): bigint => BigInt.asUintN(32, (BigInt.asUintN(32, user) * BIG_HZ * CREDITS_PER_JIFFY_BYTES) >> 32n);
const user2rate = (user: bigint): bigint => (user !== 0n ? SCALE / user : 0n);
const user2rateBytes = (user: bigint): bigint => {
  const u = BigInt.asUintN(32, user);
  const r = u !== 0n ? U32_MAX / u : U32_MAX;
  return U64((r - 1n) << BYTE_SHIFT);
};

/** struct dsthash_ent's rateinfo. */
interface RateInfo {
  prev: number;
  credit: bigint;
  creditCap: bigint;
  cost: bigint;
  rate: bigint;
  burst: bigint;
  interval: bigint;
  currentRate: bigint;
  prevWindow: boolean;
}

/** A hashlimit table: the kernel shares one per name, configured by the rule that created it. */
interface Htable {
  cfg: HashlimitState;
  entries: Map<string, RateInfo>;
}

/** rateinfo_init() */
function rateinfoInit(cfg: HashlimitState, now: number): RateInfo {
  const r: RateInfo = {
    prev: now,
    credit: 0n,
    creditCap: 0n,
    cost: 0n,
    rate: 0n,
    burst: 0n,
    interval: 0n,
    currentRate: 0n,
    prevWindow: false,
  };
  if (cfg.mode & MODE.RATE_MATCH) {
    if (cfg.mode & MODE.BYTES) {
      r.rate = user2rateBytes(cfg.avg);
      r.burst = cfg.burst ? U64(cfg.burst * r.rate) : r.rate;
    } else {
      r.rate = user2rate(cfg.avg);
      r.burst = U64(cfg.burst + r.rate);
    }
    r.interval = BigInt(cfg.interval);
  } else if (cfg.mode & MODE.BYTES) {
    r.credit = CREDITS_PER_JIFFY_BYTES * BIG_HZ;
    r.cost = user2creditsByte(cfg.avg);
    r.creditCap = cfg.burst;
  } else {
    r.credit = user2credits(U64(cfg.avg * cfg.burst));
    r.cost = user2credits(cfg.avg);
    r.creditCap = r.credit;
  }
  return r;
}

/** rateinfo_recalc() */
function rateinfoRecalc(r: RateInfo, now: number, mode: number): void {
  const delta = BigInt(now - r.prev);
  if (delta <= 0n) return;
  if (mode & MODE.RATE_MATCH) {
    const interval = r.interval * BIG_HZ;
    if (delta < interval) return;
    r.prev = now;
    r.prevWindow = r.currentRate * interval > delta * r.rate;
    r.currentRate = 0n;
    return;
  }
  r.prev = now;
  let cap: bigint;
  if (mode & MODE.BYTES) {
    r.credit += CREDITS_PER_JIFFY_BYTES * delta;
    cap = CREDITS_PER_JIFFY_BYTES * BIG_HZ;
  } else {
    r.credit += delta * CREDITS_PER_JIFFY;
    cap = r.creditCap;
  }
  if (r.credit > cap) r.credit = cap;
}

/** hashlimit_byte_cost() */
function byteCost(len: number, r: RateInfo): bigint {
  const full = CREDITS_PER_JIFFY_BYTES * BIG_HZ;
  let tmp = (BigInt(len >>> 4) + 1n) * r.cost;
  if (tmp > full) tmp = full;
  if (r.credit < tmp && r.creditCap) {
    r.creditCap--;
    r.credit = full;
  }
  return tmp;
}

const maskl = (a: number, l: number): number => (l === 0 ? 0 : l >= 32 ? a >>> 0 : (a & (0xffffffff << (32 - l))) >>> 0);

/** hashlimit_init_dst(): the flow's key from the table's mode and prefix lengths (ports of tcp/udp only). */
function flowKey(cfg: HashlimitState, ctx: EvalContext): string {
  const p = ctx.pkt;
  const ports = p.proto === PROTO_TCP || p.proto === PROTO_UDP;
  return [
    cfg.mode & MODE.DIP ? maskl(p.dst, cfg.dstmask) : 0,
    cfg.mode & MODE.SIP ? maskl(p.src, cfg.srcmask) : 0,
    cfg.mode & MODE.SPT && ports ? p.sport : 0,
    cfg.mode & MODE.DPT && ports ? p.dport : 0,
  ].join(',');
}

/** The flow for a person: "the flow srcip 10.0.0.1/32 dstport 22", or "all packets" without a mode. */
function flowText(cfg: HashlimitState, ctx: EvalContext): string {
  const p = ctx.pkt;
  const parts: string[] = [];
  if (cfg.mode & MODE.SIP) parts.push(`srcip ${addrToString(maskl(p.src, cfg.srcmask))}/${cfg.srcmask}`);
  if (cfg.mode & MODE.SPT) parts.push(`srcport ${p.sport}`);
  if (cfg.mode & MODE.DIP) parts.push(`dstip ${addrToString(maskl(p.dst, cfg.dstmask))}/${cfg.dstmask}`);
  if (cfg.mode & MODE.DPT) parts.push(`dstport ${p.dport}`);
  return parts.length ? `the flow ${parts.join(' ')}` : 'the one flow of all packets';
}

/**
 * hashlimit_mt_common() of xt_hashlimit.c: one token bucket (or, with --hashlimit-rate-match, one rate
 * window) per flow of the table named by --hashlimit-name. Under the limit answers "upto" (true for
 * --hashlimit-upto, false for --hashlimit-above); over it the opposite. Time comes from ctx.now, so the
 * packets of one instant drain the burst; once over the limit the trace asks whether the flow got tokens
 * back (assumed no: back-to-back packets).
 */
function hashlimitMatch(s: HashlimitState, ctx: EvalContext): boolean {
  const now = jiffiesAt(nowMs(ctx));
  const table = ctx.memory<Htable>(namedKey('hashlimit', s.name), () => ({ cfg: s, entries: new Map() }));
  const key = flowKey(table.cfg, ctx);
  let r = table.entries.get(key);
  if (!r) {
    r = rateinfoInit(table.cfg, now);
    table.entries.set(key, r);
  } else {
    rateinfoRecalc(r, now, table.cfg.mode);
  }
  const under = !(s.mode & MODE.INVERT);
  if (s.mode & MODE.RATE_MATCH) {
    r.currentRate += s.mode & MODE.BYTES ? BigInt(ctx.pkt.len) : 1n;
    if (!r.prevWindow && r.currentRate <= r.burst) return under;
  } else {
    const cost = s.mode & MODE.BYTES ? byteCost(ctx.pkt.len, r) : r.cost;
    if (r.credit >= cost) {
      r.credit -= cost;
      return under;
    }
  }
  if (ctx.decide('hashlimit', `${flowText(table.cfg, ctx)} in hashlimit ${s.name} got tokens back (burst used up)`, false)) {
    Object.assign(r, rateinfoInit(table.cfg, now));
    if (s.mode & MODE.RATE_MATCH) r.currentRate += s.mode & MODE.BYTES ? BigInt(ctx.pkt.len) : 1n;
    else r.credit -= s.mode & MODE.BYTES ? byteCost(ctx.pkt.len, r) : r.cost;
    return under;
  }
  return !under;
}
