/**
 * TOS target (iptables-extensions: "TOS"), revision 1 (xt_tos_target_info): the TOS byte becomes
 * `(tos & ~mask) ^ value`. --set-tos takes value[/mask] (mask 0xff by default) or a symbol (mask 0x3f, so the
 * precedence bits are zeroed); --and-tos, --or-tos and --xor-tos are stored as value/mask pairs too, so
 * iptables-save always prints --set-tos and -L names the operation the pair amounts to. Mangle table only
 * (xt_DSCP.c).
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { parseTosMask, TOS_SYMBOLS } from '../matches/tos';

export interface TosTargetState {
  value: number;
  mask: number;
}


// tos_tg_opts[]: O_SET_TOS 0, O_AND_TOS 1, O_OR_TOS 2, O_XOR_TOS 3, each excluding all (F_ANY).
const ANY = ['set-tos', 'and-tos', 'or-tos', 'xor-tos'];
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

export default defineTarget<TosTargetState>({
  kind: 'target',
  name: 'TOS',
  manSection: 'TOS',
  style: 'x6',
  tables: ['mangle'],
  // "v%s" is XTABLES_VERSION, which Debian's 1.8.9 build defines as "libxtables.so.12".
  help: `TOS target vlibxtables.so.12 options:
  --set-tos value[/mask]  Set Type of Service/Priority field to value
                          (Zero out bits in mask and XOR value into TOS)
  --set-tos symbol        Set TOS field (IPv4 only) by symbol
                          (this zeroes the 4-bit Precedence part!)
                          Accepted symbolic names for value are:
${TOS_SYMBOLS.map(([v, name]) => `                            (${hex2(v)}) ${String(v).padStart(2)} ${name}\n`).join('')}
  --and-tos bits          Binary AND the TOS value with bits
  --or-tos  bits          Binary OR the TOS value with bits
  --xor-tos bits          Binary XOR the TOS value with bits
`,
  options: [
    { name: 'set-tos', id: 0, arg: 'required', excludes: ANY },
    { name: 'and-tos', id: 1, arg: 'required', excludes: ANY },
    { name: 'or-tos', id: 2, arg: 'required', excludes: ANY },
    { name: 'xor-tos', id: 3, arg: 'required', excludes: ANY },
  ],
  init: () => ({ value: 0, mask: 0 }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'set-tos':
        Object.assign(s, parseTosMask(v, 0x3f));
        return;
      case 'and-tos':
        s.value = 0;
        s.mask = ~parseX6Uint('TOS', use.name, v, 0, 255) & 0xff;
        return;
      case 'or-tos':
        s.value = s.mask = parseX6Uint('TOS', use.name, v, 0, 255);
        return;
      case 'xor-tos':
        s.value = parseX6Uint('TOS', use.name, v, 0, 255);
        s.mask = 0;
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('TOS: An action is required');
  },
  save: (s) => ` --set-tos ${hex2(s.value)}/${hex2(s.mask)}`,
  // tos_tg_print(): tos_try_print_symbolic(" TOS set", ...) prints " %s%s", hence the double space.
  print(s, numeric) {
    if (numeric) return ` TOS set ${hex2(s.value)}/${hex2(s.mask)}`;
    const sym = s.mask === 0x3f ? TOS_SYMBOLS.find(([v]) => v === s.value) : undefined;
    if (sym) return `  TOS set${sym[1]}`;
    if (s.value === 0) return ` TOS and ${hex2(~s.mask & 0xff)}`;
    if (s.value === s.mask) return ` TOS or ${hex2(s.value)}`;
    if (s.mask === 0) return ` TOS xor ${hex2(s.value)}`;
    return ` TOS set ${hex2(s.value)}/${hex2(s.mask)}`;
  },
  // tos_tg() of xt_DSCP.c: nv = (orig & ~mask) ^ value, written with the checksum fixed; XT_CONTINUE.
  run(s, ctx) {
    const old = ctx.pkt.tos & 0xff;
    const nv = ((old & ~s.mask) ^ s.value) & 0xff;
    ctx.pkt.tos = nv;
    ctx.note(`TOS: ${hex2(old)} -> ${hex2(nv)}`);
    return 'CONTINUE';
  },
});
