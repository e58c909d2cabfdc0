/**
 * mark match (iptables-extensions: "mark"), revision 1: [!] --mark value[/mask] against the packet's nfmark.
 * Saved and listed in hex; the mask only when it is not 0xffffffff (xtables_print_mark_mask).
 */
import { defineMatch } from '../spec';
import { hex32 } from '../values/mark';
import { parseValMask } from '../values/mark';

export interface MarkState {
  mark: number;
  mask: number;
  inverted: boolean;
}

/** xtables_print_mark_mask(): " 0xMARK" or " 0xMARK/0xMASK". */
export function markMaskText(mark: number, mask: number): string {
  return mask === 0xffffffff ? ` ${hex32(mark)}` : ` ${hex32(mark)}/${hex32(mask)}`;
}

export default defineMatch<MarkState>({
  kind: 'match',
  name: 'mark',
  manSection: 'mark',
  style: 'x6',
  help: `mark match options:
[!] --mark value[/mask]    Match nfmark value with optional mask
`,
  options: [{ name: 'mark', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ mark: 0, mask: 0xffffffff, inverted: false }),
  parse(s, use) {
    const { mark, mask } = parseValMask('mark', 'mark', use.value!);
    s.mark = mark;
    s.mask = mask;
    s.inverted = use.inverted;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --mark${markMaskText(s.mark, s.mask)}`,
  print: (s) => ` mark match${s.inverted ? ' !' : ''}${markMaskText(s.mark, s.mask)}`,
  // mark_mt() of xt_mark.c: ((skb->mark & mask) == mark) ^ invert.
  match: (s, ctx) => (((ctx.pkt.mark & s.mask) >>> 0) === s.mark) !== s.inverted,
  explain: (s, ctx) => `${s.inverted ? '! ' : ''}--mark${markMaskText(s.mark, s.mask)}: packet mark is ${hex32(ctx.pkt.mark)}`,
});
