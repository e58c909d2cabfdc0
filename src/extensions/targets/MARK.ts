/**
 * MARK target (iptables-extensions: "MARK"), revision 2 (xt_mark_tginfo2): every form is stored as
 * mark/mask with `nfmark = (nfmark & ~mask) ^ mark`, so iptables-save always prints `--set-xmark`, and -L
 * names the operation the pair amounts to (set, and, or, xor, xset).
 */
import { defineTarget } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { hex32, parseValMask } from '../values/mark';

interface MarkState {
  mark: number;
  mask: number;
}

// mark_tg_opts[] with the C ids (O_SET_MARK 0, O_AND_MARK 1, O_OR_MARK 2, O_XOR_MARK 3, O_SET_XMARK 4); each
// excludes them all (F_ANY).
const ANY = ['set-mark', 'and-mark', 'or-mark', 'xor-mark', 'set-xmark'];

export default defineTarget<MarkState>({
  kind: 'target',
  name: 'MARK',
  manSection: 'MARK',
  style: 'x6',
  help: `MARK target options:
  --set-xmark value[/mask]  Clear bits in mask and XOR value into nfmark
  --set-mark value[/mask]   Clear bits in mask and OR value into nfmark
  --and-mark bits           Binary AND the nfmark with bits
  --or-mark bits            Binary OR the nfmark with bits
  --xor-mark bits           Binary XOR the nfmark with bits
`,
  options: [
    { name: 'set-xmark', id: 4, arg: 'required', excludes: ANY },
    { name: 'set-mark', id: 0, arg: 'required', excludes: ANY },
    { name: 'and-mark', id: 1, arg: 'required', excludes: ANY },
    { name: 'or-mark', id: 2, arg: 'required', excludes: ANY },
    { name: 'xor-mark', id: 3, arg: 'required', excludes: ANY },
  ],
  init: () => ({ mark: 0, mask: 0 }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'set-xmark': {
        const m = parseValMask('MARK', use.name, v);
        s.mark = m.mark;
        s.mask = m.mask;
        return;
      }
      case 'set-mark': {
        const m = parseValMask('MARK', use.name, v);
        s.mark = m.mark;
        s.mask = (m.mark | m.mask) >>> 0;
        return;
      }
      case 'and-mark':
        s.mark = 0;
        s.mask = ~parseX6Uint('MARK', use.name, v, 0, 0xffffffff) >>> 0;
        return;
      case 'or-mark':
        s.mark = s.mask = parseX6Uint('MARK', use.name, v, 0, 0xffffffff);
        return;
      case 'xor-mark':
        s.mark = parseX6Uint('MARK', use.name, v, 0, 0xffffffff);
        s.mask = 0;
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required');
  },
  save: (s) => ` --set-xmark ${hex32(s.mark)}/${hex32(s.mask)}`,
  print(s) {
    if (s.mark === 0) return ` MARK and ${hex32(~s.mask)}`;
    if (s.mark === s.mask) return ` MARK or ${hex32(s.mark)}`;
    if (s.mask === 0) return ` MARK xor ${hex32(s.mark)}`;
    if (s.mask === 0xffffffff) return ` MARK set ${hex32(s.mark)}`;
    return ` MARK xset ${hex32(s.mark)}/${hex32(s.mask)}`;
  },
  // mark_tg() of xt_mark.c (xt_mark_tginfo2): skb->mark = (skb->mark & ~mask) ^ mark; XT_CONTINUE.
  run(s, ctx) {
    ctx.pkt.mark = ((ctx.pkt.mark & ~s.mask) ^ s.mark) >>> 0;
    return 'CONTINUE';
  },
});
