/**
 * length match (iptables-extensions: "length"): [!] --length length[:length], the IP packet length or an
 * inclusive range. The value is libxtables' XTTYPE_UINT16RC: C numbers (hex and octal too) 0-65535, an
 * empty end defaulting to 0 or 65535; 1.8.9 keeps a reversed range as given.
 */
import { defineMatch } from '../spec';
import { parseX6Mint } from '../values/x6';

export interface LengthState {
  min: number;
  max: number;
  inverted: boolean;
}

function rangeText(s: LengthState): string {
  return s.min === s.max ? String(s.min) : `${s.min}:${s.max}`;
}

export default defineMatch<LengthState>({
  kind: 'match',
  name: 'length',
  manSection: 'length',
  style: 'x6',
  help: `length match options:
[!] --length length[:length]    Match packet length against value or range
                                of values (inclusive)
`,
  options: [{ name: 'length', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ min: 0, max: 0, inverted: false }),
  parse(s, use) {
    const vals = parseX6Mint('length', 'length', use.value!, 65535n).map(Number);
    s.min = vals[0]!;
    s.max = vals[1] ?? s.min;
    if (use.inverted) s.inverted = true;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --length ${rangeText(s)}`,
  print: (s) => ` length ${s.inverted ? '!' : ''}${rangeText(s)}`,
  // length_mt() of xt_length.c: min <= tot_len <= max, then `!`.
  match: (s, ctx) => (ctx.pkt.len >= s.min && ctx.pkt.len <= s.max) !== s.inverted,
  explain: (s, ctx) => `${s.inverted ? '! ' : ''}--length ${rangeText(s)}: packet has ${ctx.pkt.len}`,
});
