/**
 * statistic match (iptables-extensions: "statistic"): random (--probability) or every-nth (--every/--packet)
 * packet selection. x6 style. The probability is kept as the kernel's 31-bit fixed point
 * (lround(p * 2^31)) and printed back with %.11f, so 0.3333333335 and 0.33333333349 are the same rule.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import type { EvalContext } from '../../eval/context';

const MODE_RANDOM = 0;
const MODE_NTH = 1;

export interface StatisticState {
  mode: number;
  invert: boolean;
  /**
   * The first word of the C union: u.random.probability in random mode, u.nth.every (minus one) in nth mode.
   * statistic_check() compares --packet against it whatever the mode.
   */
  word: number;
  packet: number;
}

/** C strtod() over the whole argument (decimal, hex float, inf, nan); undefined when it is not all a number. */
function strtod(text: string): number | undefined {
  const s = text.replace(/^[ \t\n\v\f\r]+/, '');
  const m = /^([+-]?)(.*)$/s.exec(s)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2]!;
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) return sign * Number(body);
  if (/^(inf|infinity)$/i.test(body)) return sign * Infinity;
  if (/^nan(\([0-9A-Za-z_]*\))?$/i.test(body)) return NaN;
  const h = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(body);
  if (h && (h[1]! + (h[2] ?? '')).length > 0) {
    const digits = h[1]! + (h[2] ?? '');
    let v = 0;
    for (const d of digits) v = v * 16 + parseInt(d, 16);
    return sign * v * 2 ** (Number(h[3] ?? '0') - 4 * (h[2] ?? '').length);
  }
  return undefined;
}

/** `%.11f` of k / 2^31, computed exactly (round half to even, as glibc does). */
function fixed11(k: number): string {
  const num = BigInt(k) * 10n ** 11n;
  const den = 1n << 31n;
  let q = num / den;
  const r = num % den;
  if (2n * r > den || (2n * r === den && q % 2n === 1n)) q++;
  const int = q / 10n ** 11n;
  const frac = (q % 10n ** 11n).toString().padStart(11, '0');
  return `${int}.${frac}`;
}

function text(s: StatisticState, prefix: string): string {
  const inv = s.invert ? ' !' : '';
  if (s.mode === MODE_RANDOM) return ` ${prefix}mode random${inv} ${prefix}probability ${fixed11(s.word)}`;
  let out = ` ${prefix}mode nth${inv} ${prefix}every ${(s.word + 1) >>> 0}`;
  if (s.packet || prefix) out += ` ${prefix}packet ${s.packet}`;
  return out;
}

export default defineMatch<StatisticState>({
  kind: 'match',
  name: 'statistic',
  manSection: 'statistic',
  style: 'x6',
  help: `statistic match options:
 --mode mode                    Match mode (random, nth)
 random mode:
[!] --probability p		 Probability
 nth mode:
[!] --every n			 Match every nth packet
 --packet p			 Initial counter value (0 <= p <= n-1, default 0)
`,
  options: [
    { name: 'mode', arg: 'required', mandatory: true },
    { name: 'probability', arg: 'required', invert: true, excludes: ['every', 'packet'] },
    { name: 'every', arg: 'required', invert: true, excludes: ['probability'], also: ['packet'] },
    { name: 'packet', arg: 'required', excludes: ['probability'], also: ['every'] },
  ],
  init: () => ({ mode: MODE_RANDOM, invert: false, word: 0, packet: 0 }),
  parse(s, use) {
    if (use.inverted) s.invert = true;
    switch (use.name) {
      case 'mode':
        if (use.value === 'random') s.mode = MODE_RANDOM;
        else if (use.value === 'nth') s.mode = MODE_NTH;
        else throw paramProblem(`Bad mode "${use.value!}"`);
        return;
      case 'probability': {
        const p = strtod(use.value!);
        if (p === undefined || p < 0 || p > 1) {
          throw paramProblem('statistic: bad value for option "--probability", or out of range (0-1).\n');
        }
        // lround(); NaN passes the range test and converts to 0 on x86-64.
        s.word = Number.isNaN(p) ? 0 : Math.round(0x80000000 * p) >>> 0;
        return;
      }
      case 'every':
        s.word = (parseX6Uint('statistic', 'every', use.value!, 1, 0xffffffff) - 1) >>> 0;
        return;
      case 'packet':
        s.packet = parseX6Uint('statistic', 'packet', use.value!, 0, 0xffffffff);
        return;
    }
  },
  finalCheck(s, _ctx, given) {
    if (s.mode === MODE_RANDOM && !given.has('probability')) {
      throw paramProblem('--probability must be specified when using random mode');
    }
    if (s.mode === MODE_NTH && !given.has('every') && !given.has('packet')) {
      throw paramProblem('--every and --packet must be specified when using nth mode');
    }
    if (s.packet > s.word) throw paramProblem('the --packet p must be 0 <= p <= n-1');
  },
  save: (s) => text(s, '--'),
  print: (s) => ` statistic${text(s, '')}`,
  match: (s, ctx) => statisticMatch(s, ctx),
  explain(s, ctx) {
    const head = text(s, '--').trim();
    if (s.mode === MODE_RANDOM) {
      return `${head}: packet ${s.invert ? 'was' : 'was not'} picked${s.word > 0 && s.word < 0x80000000 ? ' (assumed)' : ''}`;
    }
    const n = (s.word + 1) >>> 0;
    const count = ctx.memory<NthCounter>(s, () => ({ count: nthStart(s) })).count;
    return `${head}: packet is number ${count} of every ${n} (number 0 ${s.invert ? 'does not match' : 'matches'})`;
  },
});

interface NthCounter {
  count: number;
}

/** The counter checkentry starts from: libxt_statistic's u.nth.count = every - packet (every is n - 1). */
const nthStart = (s: StatisticState): number => (s.word - s.packet) >>> 0;

/** The question a random pick asks, by probability word: made once, not per packet (a BigInt division). */
const QUESTIONS = new Map<number, string>();
function randomQuestion(word: number): string {
  let q = QUESTIONS.get(word);
  if (q === undefined) {
    q = `random pick with probability ${fixed11(word)}`;
    QUESTIONS.set(word, q);
  }
  return q;
}

/**
 * statistic_mt() of xt_statistic.c. Random mode: the packet is picked when a random 31-bit number is below
 * the probability; the trace asks (assumed: picked, unless the probability is 0 — 1.0 always picks), then
 * `!`. Nth mode: a per-rule counter steps to (count == every ? 0 : count + 1) and the packet is picked when it
 * reaches 0: with --every n --packet p the packets numbered p, p + n, p + 2n... (from 0) of the trace are
 * picked; then `!`.
 */
function statisticMatch(s: StatisticState, ctx: EvalContext): boolean {
  let picked: boolean;
  if (s.mode === MODE_RANDOM) {
    const p = s.word / 0x80000000;
    if (s.word === 0) picked = false;
    else if (s.word >= 0x80000000) picked = true;
    else picked = ctx.decide('statistic', randomQuestion(s.word), true, p);
  } else {
    const c = ctx.memory<NthCounter>(s, () => ({ count: nthStart(s) }));
    c.count = c.count === s.word ? 0 : (c.count + 1) >>> 0;
    picked = c.count === 0;
  }
  return picked !== s.invert;
}
