/**
 * connmark match (iptables-extensions: "connmark"), revision 1: [!] --mark value[/mask] against the mark of
 * the packet's connection. `-L` prints "connmark match " then `!` or nothing, then the value (two spaces when
 * not inverted, as libxt_connmark does).
 */
import { defineMatch } from '../spec';
import { parseValMask } from '../values/mark';
import { markMaskText } from './mark';

export interface ConnmarkState {
  mark: number;
  mask: number;
  inverted: boolean;
}

export default defineMatch<ConnmarkState>({
  kind: 'match',
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
});
