/**
 * RATEEST target (iptables-extensions: "RATEEST", libxt_RATEEST / xt_RATEEST.c): feed the packets into a named
 * rate estimator that the rateest match reads. --rateest-name (char[16]: 15 bytes kept), --rateest-interval
 * and --rateest-ewmalog are all mandatory; both are times read with strtod and a unit (s/sec/secs,
 * ms/msec/msecs, us/usec/usecs, none = us). The final check turns them into the kernel's two small numbers:
 * the interval as a power of two of 250ms (250ms to 8s), the averaging constant as a shift; -L and save print
 * them back as times. Any table and chain.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { needsQuotes, restoreWord, truncateBytes } from '../values/cstring';

const TIME_UNITS_PER_SEC = 1000000;
const IFNAMSIZ = 16;

export interface RateestState {
  name: string;
  /** What the options said, in microseconds (rateest_tg_udata). */
  udInterval: number;
  udEwmaLog: number;
  /** xt_rateest_target_info: interval (signed char, -2..3) and ewma_log. */
  interval: number;
  ewmaLog: number;
}

/** glibc strtod() in the C locale: the value and the index after it, or undefined without a number. */
export function cStrtod(s: string): { value: number; end: number } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:(infinity|inf)|(nan)(\([0-9A-Za-z_]*\))?|0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))/i.exec(s);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  let v: number;
  let end = m[0].length;
  if (m[2] !== undefined) v = Infinity;
  else if (m[3] !== undefined) v = NaN;
  else if (m[5] !== undefined) {
    const [int, frac = ''] = m[5].split('.');
    v = parseInt(`${int || '0'}${frac}`, 16) * 2 ** (-4 * frac.length) * 2 ** Number(m[6] ?? 0);
  } else {
    // An exponent without digits is not part of the number ("1e" reads as 1, end before the e).
    const dec = /^((?:[0-9]+\.?[0-9]*|\.[0-9]+))([eE][+-]?[0-9]+)?/.exec(m[7]!)!;
    v = Number(dec[0]);
    end = m[0].length - m[7]!.length + dec[0].length;
  }
  return { value: sign * v, end };
}

/** `*time = t` of a double into an unsigned int, as x86-64 compiles it (cvttsd2si to 64 bits, low half). */
function toUint32(t: number): number {
  if (!Number.isFinite(t) || Math.abs(t) >= 2 ** 63) return 0;
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(t))));
}

/** RATEEST_get_time(): microseconds, or undefined for a bad value. */
function getTime(str: string): number | undefined {
  const r = cStrtod(str);
  if (!r) return undefined;
  let t = r.value;
  const unit = str.slice(r.end).toLowerCase();
  if (unit !== '') {
    if (['s', 'sec', 'secs'].includes(unit)) t *= TIME_UNITS_PER_SEC;
    else if (['ms', 'msec', 'msecs'].includes(unit)) t *= TIME_UNITS_PER_SEC / 1000;
    else if (['us', 'usec', 'usecs'].includes(unit)) t *= TIME_UNITS_PER_SEC / 1000000;
    else return undefined;
  }
  return toUint32(t);
}

/** RATEEST_print_time(). */
function timeText(time: number): string {
  if (time >= TIME_UNITS_PER_SEC) return `${(time / TIME_UNITS_PER_SEC).toFixed(1)}s`;
  if (time >= TIME_UNITS_PER_SEC / 1000) return `${(time / (TIME_UNITS_PER_SEC / 1000)).toFixed(1)}ms`;
  return `${time}us`;
}

/** __RATEEST_print(): the interval and the averaging time the two numbers stand for. */
function describe(s: RateestState, prefix: string, name: string): string {
  const interval = (TIME_UNITS_PER_SEC * 2 ** (s.interval + 2)) / 4;
  const ewma = Number((BigInt(interval) * (1n << BigInt(s.ewmaLog))) & 0xffffffffn);
  return ` ${prefix}name${name} ${prefix}interval ${timeText(interval)} ${prefix}ewmalog ${timeText(ewma)}`;
}

export default defineTarget<RateestState>({
  kind: 'target',
  name: 'RATEEST',
  manSection: 'RATEEST',
  style: 'x6',
  help: `RATEEST target options:
  --rateest-name name		Rate estimator name
  --rateest-interval sec	Rate measurement interval in seconds
  --rateest-ewmalog value	Rate measurement averaging time constant
`,
  options: [
    { name: 'rateest-name', arg: 'required', mandatory: true },
    { name: 'rateest-interval', arg: 'required', mandatory: true },
    { name: 'rateest-ewmalog', arg: 'required', mandatory: true },
  ],
  init: () => ({ name: '', udInterval: 0, udEwmaLog: 0, interval: 0, ewmaLog: 0 }),
  parse(s, use) {
    const v = use.value!;
    if (use.name === 'rateest-name') {
      s.name = truncateBytes(v, IFNAMSIZ - 1);
      return;
    }
    const t = getTime(v);
    const what = use.name === 'rateest-interval' ? 'interval' : 'ewmalog';
    if (t === undefined) throw paramProblem(`RATEEST: bad ${what} value "${v}"`);
    if (use.name === 'rateest-interval') s.udInterval = t;
    else s.udEwmaLog = t;
  },
  // RATEEST_final_check(): runs before libxtables' "must be specified", on whatever was given.
  finalCheck(s) {
    let i = 0;
    for (; i <= 5; i++) if (s.udInterval <= 2 ** i * (TIME_UNITS_PER_SEC / 4)) break;
    if (i > 5) throw paramProblem('RATEEST: interval value is too large');
    s.interval = i - 2;
    let e = 1;
    for (; e < 32; e++) {
      // (1 << 31) is INT_MIN in C: w > 1, -log(w) < 0, and the comparison fails.
      const w = 1.0 - 1.0 / (e === 31 ? -(2 ** 31) : 2 ** e);
      if (s.udInterval / -Math.log(w) > s.udEwmaLog) break;
    }
    e--;
    if (e === 0 || e >= 31) throw paramProblem('RATEEST: ewmalog value is out of range');
    s.ewmaLog = e;
  },
  // xt_rateest_tg_checkentry(): an estimator of that name already there must have the same parameters.
  kernelCheckSeesPeers: true,
  kernelCheck(s, k) {
    for (const peer of k.peers?.('RATEEST') ?? []) {
      if (peer.def.name !== 'RATEEST') continue;
      const other = peer.state as RateestState;
      if (other.name === s.name) return other.interval === s.interval && other.ewmaLog === s.ewmaLog ? undefined : 'Invalid argument';
    }
    return undefined;
  },
  save: (s) => describe(s, '--rateest-', ` ${s.name}`),
  stateText: (s) => (needsQuotes(s.name) ? describe(s, '--rateest-', restoreWord(s.name)) : undefined),
  print: (s) => describe(s, '', ` ${s.name}`),
  // xt_rateest_tg(): the packet's bytes and one packet are added to the estimator's counters; XT_CONTINUE.
  run(s, ctx) {
    ctx.note(`RATEEST: counted in rate estimator ${s.name}`);
    return 'CONTINUE';
  },
});
