/**
 * connmark match (iptables-extensions: "connmark"), revision 1: [!] --mark value[/mask] against the mark of
 * the packet's connection. `-L` prints "connmark match " then `!` or nothing, then the value (two spaces when
 * not inverted, as libxt_connmark does).
 */
import { defineMatch } from '../spec';
import { hex32, parseValMask } from '../values/mark';
import { markMaskText } from './mark';

export interface ConnmarkState {
  mark: number;
  mask: number;
  inverted: boolean;
}

export default defineMatch<ConnmarkState>({
  kind: 'match',
  needsConntrack: true,
  name: 'connmark',
  manSection: 'connmark',
  style: 'x6',
  help: `connmark match options:
[!] --mark value[/mask]    Match ctmark value with optional mask
`,
  options: [{ name: 'mark', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ mark: 0, mask: 0xffffffff, inverted: false }),
  parse(s, use) {
    const { mark, mask } = parseValMask('connmark', 'mark', use.value!);
    s.mark = mark;
    s.mask = mask;
    s.inverted = use.inverted;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --mark${markMaskText(s.mark, s.mask)}`,
  print: (s) => ` connmark match ${s.inverted ? '!' : ''}${markMaskText(s.mark, s.mask)}`,
  // connmark_mt() of xt_connmark.c: no connection (INVALID, UNTRACKED) never matches, `!` or not; else
  // ((ct->mark & mask) == mark) ^ invert.
  match: (s, ctx) => ctx.ct !== undefined && (((ctx.ct.mark & s.mask) >>> 0) === s.mark) !== s.inverted,
  explain(s, ctx) {
    const head = `${s.inverted ? '! ' : ''}--mark${markMaskText(s.mark, s.mask)}`;
    if (!ctx.ct) return `${head}: packet has no connection (${ctx.ctState})`;
    return `${head}: connection mark is ${hex32(ctx.ct.mark)}`;
  },
});
