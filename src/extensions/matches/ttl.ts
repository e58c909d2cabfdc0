/**
 * ttl match (iptables-extensions: "ttl", IPv4): [!] --ttl-eq value, --ttl-lt value, --ttl-gt value, each an
 * x6 XTTYPE_UINT8 (C number 0-255), mutually exclusive. An undocumented --ttl is an alias of --ttl-eq, so
 * libxtables reports and checks it under that name (invertible too).
 */
import { defineMatch, type OptionDef } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { primaryName } from '../values/x6';

type Mode = 'eq' | 'ne' | 'lt' | 'gt';

export interface TtlState {
  mode: Mode | undefined;
  ttl: number;
}

// ttl_opts[]: every option excludes the others and itself (F_ANY); --ttl shares the id of --ttl-eq (O_TTL_EQ),
// so it is reported, checked once and allowed `!` as --ttl-eq.
const ANY = ['ttl-lt', 'ttl-gt', 'ttl-eq'];
const OPTIONS: readonly OptionDef[] = [
  { name: 'ttl-lt', id: 1, arg: 'required', excludes: ANY },
  { name: 'ttl-gt', id: 2, arg: 'required', excludes: ANY },
  { name: 'ttl-eq', id: 0, arg: 'required', invert: true, excludes: ANY },
  { name: 'ttl', id: 0, arg: 'required', excludes: ANY },
];

const SAVE: Record<Mode, string> = { eq: ' --ttl-eq', ne: ' ! --ttl-eq', lt: ' --ttl-lt', gt: ' --ttl-gt' };
const PRINT: Record<Mode, string> = { eq: 'TTL ==', ne: 'TTL !=', lt: 'TTL <', gt: 'TTL >' };

export default defineMatch<TtlState>({
  kind: 'match',
  name: 'ttl',
  manSection: 'ttl',
  style: 'x6',
  help: `ttl match options:
[!] --ttl-eq value	Match time to live value
  --ttl-lt value	Match TTL < value
  --ttl-gt value	Match TTL > value
`,
  options: OPTIONS,
  init: () => ({ mode: undefined, ttl: 0 }),
  parse(s, use) {
    const name = primaryName(OPTIONS, use.name);
    s.ttl = parseX6Uint('ttl', name, use.value!, 0, 255);
    s.mode = name === 'ttl-eq' ? (use.inverted ? 'ne' : 'eq') : name === 'ttl-lt' ? 'lt' : 'gt';
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) {
      throw paramProblem("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt");
    }
  },
  save: (s) => `${s.mode ? SAVE[s.mode] : ''} ${s.ttl}`,
  print: (s) => ` TTL match ${s.mode ? PRINT[s.mode] : ''} ${s.ttl}`,
  // ttl_mt() of ipt_ttl.c (xt_hl.c): ==, !=, < or > against the IP header's TTL.
  match(s, ctx) {
    const t = ctx.pkt.ttl;
    switch (s.mode) {
      case 'eq':
        return t === s.ttl;
      case 'ne':
        return t !== s.ttl;
      case 'lt':
        return t < s.ttl;
      case 'gt':
        return t > s.ttl;
      default:
        return false;
    }
  },
  explain: (s, ctx) => `${(s.mode ? SAVE[s.mode] : '').trim()} ${s.ttl}: packet has ${ctx.pkt.ttl}`,
});
