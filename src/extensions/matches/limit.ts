/**
 * limit match (iptables-extensions: "limit"): --limit rate[/second|/minute|/hour|/day] (default 3/hour) and
 * --limit-burst number (default 5, 0..10000). The rate is stored as a period in 1/10000 s units
 * (XT_LIMIT_SCALE * unit / rate) and printed back in the largest unit that keeps it exact (print_rate).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { atoi } from '../values/cstrtoul';
import { prefixOf } from './conntrack';
import type { EvalContext } from '../../eval/context';
import { HZ, jiffiesAt, nowMs } from '../values/semantics';

const XT_LIMIT_SCALE = 10000;
const DEFAULT_BURST = 5;

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['second', 1],
  ['minute', 60],
  ['hour', 3600],
  ['day', 86400],
];

/**
 * The unit of a rate "N[/unit]" as parse_rate() of limit and hashlimit read it: seconds per unit (1 without
 * one), null for an empty or unknown unit (a case-insensitive prefix of second, minute, hour, day).
 */
export function rateUnit(rate: string): number | null {
  const slash = rate.indexOf('/');
  if (slash < 0) return 1;
  const unit = rate.slice(slash + 1);
  if (unit === '') return null;
  return UNITS.find(([name]) => prefixOf(unit, name))?.[1] ?? null;
}

/** parse_rate(): the period for "N[/unit]", null when it is no rate. */
function parseRate(rate: string): number | null {
  const mult = rateUnit(rate);
  if (mult === null) return null;
  const r = atoi(rate) >>> 0;
  if (r === 0) return null;
  const period = Math.floor((XT_LIMIT_SCALE * mult) / r);
  if (period === 0) throw paramProblem(`Rate too fast "${rate}"`);
  return period;
}

const RATES: ReadonlyArray<readonly [string, bigint]> = [
  ['day', 86400n],
  ['hour', 3600n],
  ['min', 60n],
  ['sec', 1n],
];

/**
 * print_rate() of limit and hashlimit: " N/unit" for a period in 1/`scale` s, in the largest unit that divides
 * cleanly enough; also the unit's length in seconds.
 */
export function printRate(period: bigint, scale: bigint): [text: string, unitSeconds: number] {
  if (period === 0n) return [' inf', 0];
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1] * scale;
    if (period > mult || mult / period < mult % period) break;
  }
  const [name, secs] = RATES[i - 1]!;
  return [` ${(secs * scale) / period}/${name}`, Number(secs)];
}

const rateText = (period: number): string => printRate(BigInt(period), BigInt(XT_LIMIT_SCALE))[0];

export interface LimitState {
  avg: number;
  burst: number;
}

export default defineMatch<LimitState>({
  kind: 'match',
  name: 'limit',
  manSection: 'limit',
  style: 'x6',
  help: `limit match options:
--limit avg			max average match rate: default 3/hour
                                [Packets per second unless followed by 
                                /sec /minute /hour /day postfixes]
--limit-burst number		number to match in a burst, default 5
`,
  options: [
    { name: 'limit', arg: 'required' },
    { name: 'limit-burst', arg: 'required' },
  ],
  init: () => ({ avg: parseRate('3/hour')!, burst: DEFAULT_BURST }),
  parse(s, use) {
    if (use.name === 'limit') {
      const avg = parseRate(use.value!);
      if (avg === null) throw paramProblem(`bad rate "${use.value!}"'`);
      s.avg = avg;
    } else {
      // The kernel (nft limit) keeps a burst of 0 as the default 5: recorded `--limit-burst 0` lists as burst 5.
      s.burst = parseX6Uint('limit', 'limit-burst', use.value!, 0, 10000) || DEFAULT_BURST;
    }
  },
  save: (s) => ` --limit${rateText(s.avg)}${s.burst !== DEFAULT_BURST ? ` --limit-burst ${s.burst}` : ''}`,
  print: (s) => ` limit: avg${rateText(s.avg)} burst ${s.burst}`,
  match: (s, ctx) => limitMatch(s, ctx),
  explain: (s) =>
    `--limit${rateText(s.avg)}${s.burst !== DEFAULT_BURST ? ` --limit-burst ${s.burst}` : ''}: the burst of ${s.burst} is used up`,
});

/** xt_limit.c: credits per jiffy, the largest power of two with CREDITS_PER_JIFFY*HZ*86400 < 2^32. */
const CREDITS_PER_JIFFY = (() => {
  const max = Math.floor(0xffffffff / (HZ * 86400));
  let p = 1;
  while (p * 2 <= max) p *= 2;
  return p;
})();

/** user2credits() of xt_limit.c, in its u32 arithmetic. */
function user2credits(user: number): number {
  const u = BigInt(user >>> 0);
  const k = BigInt(HZ * CREDITS_PER_JIFFY);
  if (u > 0xffffffffn / k) return Number(BigInt.asUintN(32, (u / BigInt(XT_LIMIT_SCALE)) * k));
  return Number(BigInt.asUintN(32, (u * k) / BigInt(XT_LIMIT_SCALE)));
}

interface Bucket {
  credit: number;
  /** Jiffies of the last packet. */
  prev: number;
}

/**
 * limit_mt() of xt_limit.c, a token bucket per rule: it starts full (user2credits(avg * burst)); each jiffy
 * adds CREDITS_PER_JIFFY up to that cap; a packet that finds `cost` credits takes them and matches. The
 * packets of a trace come at the time ctx.now says (one instant unless the trace spaces them), so the burst
 * lets `burst` packets through; after that the trace asks whether enough time passed for a new token
 * (assumed no: back-to-back packets), and a yes refills the bucket.
 */
function limitMatch(s: LimitState, ctx: EvalContext): boolean {
  const cap = user2credits(Math.imul(s.avg, s.burst) >>> 0);
  const cost = user2credits(s.avg);
  const now = jiffiesAt(nowMs(ctx));
  const b = ctx.memory<Bucket>(s, () => ({ credit: cap, prev: now }));
  if (now > b.prev) b.credit = Math.min(cap, b.credit + (now - b.prev) * CREDITS_PER_JIFFY);
  b.prev = Math.max(b.prev, now);
  if (b.credit < cost) {
    const rate = rateText(s.avg).trim();
    if (!ctx.decide('limit', `a token came back (limit ${rate}, burst of ${s.burst} used up)`, false)) return false;
    b.credit = cap;
  }
  b.credit -= cost;
  return true;
}
