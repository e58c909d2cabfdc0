/**
 * ttl match (iptables-extensions: "ttl", IPv4): [!] --ttl-eq value, --ttl-lt value, --ttl-gt value, each an
 * x6 XTTYPE_UINT8 (C number 0-255), mutually exclusive. An undocumented --ttl is an alias of --ttl-eq, so
 * libxtables reports and checks it under that name (invertible too).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { X6Table } from '../values/x6ids';

type Mode = 'eq' | 'ne' | 'lt' | 'gt';

export interface TtlState {
  mode: Mode | undefined;
  ttl: number;
  flags: number;
}

const O_TTL_EQ = 0;
const O_TTL_LT = 1;
const O_TTL_GT = 2;
const F_ANY = 7;

const TABLE = new X6Table('ttl', [
  { name: 'ttl-lt', id: O_TTL_LT, excl: F_ANY },
  { name: 'ttl-gt', id: O_TTL_GT, excl: F_ANY },
  { name: 'ttl-eq', id: O_TTL_EQ, excl: F_ANY, invert: true },
  { name: 'ttl', id: O_TTL_EQ, excl: F_ANY },
]);

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
  // Every option excludes the others and itself. TABLE checks once and `!` by id (--ttl is --ttl-eq, and
  // the double use comes before the `!`), so the core's name-based checks are kept out (multi, invert).
  options: [
    { name: 'ttl-lt', arg: 'required', invert: true, multi: true },
    { name: 'ttl-gt', arg: 'required', invert: true, multi: true },
    { name: 'ttl-eq', arg: 'required', invert: true, multi: true },
    { name: 'ttl', arg: 'required', invert: true, multi: true },
  ],
  init: () => ({ mode: undefined, ttl: 0, flags: 0 }),
  parse(s, use) {
    s.flags = TABLE.use(s.flags, use.name, use.inverted);
    const id = TABLE.id(use.name);
    s.ttl = parseX6Uint('ttl', TABLE.primary(id), use.value!, 0, 255);
    s.mode = id === O_TTL_EQ ? (use.inverted ? 'ne' : 'eq') : id === O_TTL_LT ? 'lt' : 'gt';
  },
  finalCheck(s) {
    TABLE.fcheck(s.flags);
    if (!(s.flags & F_ANY)) {
      throw paramProblem("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt");
    }
  },
  save: (s) => `${s.mode ? SAVE[s.mode] : ''} ${s.ttl}`,
  print: (s) => ` TTL match ${s.mode ? PRINT[s.mode] : ''} ${s.ttl}`,
});
