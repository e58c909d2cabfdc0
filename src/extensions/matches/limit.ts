/**
 * limit match (iptables-extensions: "limit"): --limit rate[/second|/minute|/hour|/day] (default 3/hour) and
 * --limit-burst number (default 5, 0..10000). The rate is stored as a period in 1/10000 s units
 * (XT_LIMIT_SCALE * unit / rate) and printed back in the largest unit that keeps it exact (print_rate).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { atoi } from '../values/inet';
import { prefixOf } from './conntrack';

const XT_LIMIT_SCALE = 10000;
const DEFAULT_BURST = 5;

/** parse_rate(): the period for "N[/unit]" (unit a case-insensitive prefix), null when it is no rate. */
function parseRate(rate: string): number | null {
  let mult = 1;
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
    ).find(([name]) => prefixOf(unit, name));
    if (!found) return null;
    mult = found[1];
  }
  const r = atoi(rate) >>> 0;
  if (r === 0) return null;
  const period = Math.floor((XT_LIMIT_SCALE * mult) / r);
  if (period === 0) throw paramProblem(`Rate too fast "${rate}"`);
  return period;
}

const RATES: ReadonlyArray<readonly [string, number]> = [
  ['day', XT_LIMIT_SCALE * 86400],
  ['hour', XT_LIMIT_SCALE * 3600],
  ['min', XT_LIMIT_SCALE * 60],
  ['sec', XT_LIMIT_SCALE],
];

/** print_rate(): " N/unit" in the largest unit that divides cleanly enough. */
export function rateText(period: number): string {
  if (period === 0) return ' inf';
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return ` ${Math.floor(mult / period)}/${name}`;
}

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
});
