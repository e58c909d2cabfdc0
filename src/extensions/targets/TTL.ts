/**
 * TTL target (iptables-extensions: "TTL", libipt_TTL / xt_HL.c): set, increment or decrement the IPv4 TTL.
 * The three options exclude each other; the kernel takes the target in the mangle table only.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';

/** IPT_TTL_SET, IPT_TTL_INC, IPT_TTL_DEC (ipt_TTL.h). */
type TtlMode = 'set' | 'inc' | 'dec';

export interface TtlState {
  mode: TtlMode | undefined;
  ttl: number;
}

// TTL_opts[] in table order with the C ids (O_TTL_SET 0, O_TTL_INC 1, O_TTL_DEC 2); each excludes all (F_ANY).
const ANY = ['ttl-set', 'ttl-inc', 'ttl-dec'];
const MODE: Readonly<Record<string, TtlMode>> = { 'ttl-set': 'set', 'ttl-dec': 'dec', 'ttl-inc': 'inc' };
const WORDS: Readonly<Record<TtlMode, string>> = { set: 'set to', inc: 'increment by', dec: 'decrement by' };

export default defineTarget<TtlState>({
  kind: 'target',
  name: 'TTL',
  manSection: 'TTL',
  style: 'x6',
  tables: ['mangle'],
  help: `TTL target options
  --ttl-set value		Set TTL to <value 0-255>
  --ttl-dec value		Decrement TTL by <value 1-255>
  --ttl-inc value		Increment TTL by <value 1-255>
`,
  options: [
    { name: 'ttl-set', id: 0, arg: 'required', excludes: ANY },
    { name: 'ttl-dec', id: 2, arg: 'required', excludes: ANY },
    { name: 'ttl-inc', id: 1, arg: 'required', excludes: ANY },
  ],
  init: () => ({ mode: undefined, ttl: 0 }),
  parse(s, use) {
    const mode = MODE[use.name]!;
    s.ttl = parseX6Uint('TTL', use.name, use.value!, mode === 'set' ? 0 : 1, 255);
    s.mode = mode;
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('TTL: You must specify an action');
  },
  save: (s) => (s.mode ? ` --ttl-${s.mode} ${s.ttl}` : ''),
  print: (s) => ` TTL ${s.mode ? WORDS[s.mode] : ''} ${s.ttl}`,
  // ttl_tg() of xt_HL.c: the new TTL saturates at 0 and 255; the header checksum follows; XT_CONTINUE.
  run(s, ctx) {
    const old = ctx.pkt.ttl;
    let ttl = s.ttl;
    if (s.mode === 'inc') ttl = Math.min(old + s.ttl, 255);
    else if (s.mode === 'dec') ttl = Math.max(old - s.ttl, 0);
    ctx.pkt.ttl = ttl;
    ctx.note(`TTL: ${old} -> ${ttl}`);
    return 'CONTINUE';
  },
});
