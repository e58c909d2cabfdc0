/**
 * tos match (iptables-extensions: "tos", revision 1): [!] --tos value[/mask] or [!] --tos symbol. A number
 * (C syntax, 0-255) without mask means mask 0xff; a symbolic name (case-insensitive) means mask 0x3f. Saved as
 * 0xVV/0xMM; `-L` shows the symbol when the mask is 0x3f and the value has one.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { xtStrtoui } from '../values/cstrtoul';

export interface TosState {
  value: number;
  mask: number;
  inverted: boolean;
}

/** tos_values.c: IPTOS_* values and their names, in its order (the TOS target's help and -L use them too). */
export const TOS_SYMBOLS: ReadonlyArray<readonly [number, string]> = [
  [0x10, 'Minimize-Delay'],
  [0x08, 'Maximize-Throughput'],
  [0x04, 'Maximize-Reliability'],
  [0x02, 'Minimize-Cost'],
  [0x00, 'Normal-Service'],
];

/** xtopt_parse_tosmask() with the symbolic default mask `symbolMask` (the option's .max). */
export function parseTosMask(arg: string, symbolMask: number): { value: number; mask: number } {
  const lead = xtStrtoui(arg, 0, 255);
  if (lead) {
    // tos_parse_numeric()
    let mask = 0xff;
    let end = lead.end;
    if (arg[end] === '/') {
      const m = xtStrtoui(arg, 0, 255, end + 1);
      if (!m) throw paramProblem(`Illegal value: "${arg}"`);
      mask = m.value;
      end = m.end;
    }
    if (end < arg.length) throw paramProblem(`Illegal value: "${arg}"`);
    return { value: lead.value, mask };
  }
  const sym = TOS_SYMBOLS.find(([, name]) => name.toLowerCase() === arg.toLowerCase());
  if (!sym) throw paramProblem(`Symbolic name "${arg}" is unknown`);
  return { value: sym[0], mask: symbolMask };
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

export default defineMatch<TosState>({
  kind: 'match',
  name: 'tos',
  manSection: 'tos',
  style: 'x6',
  help: `tos match options:
[!] --tos value[/mask]    Match Type of Service/Priority field value
[!] --tos symbol          Match TOS field (IPv4 only) by symbol
                          Accepted symbolic names for value are:
${TOS_SYMBOLS.map(([v, name]) => `                          (${hex2(v)}) ${String(v).padStart(2)} ${name}\n`).join('')}
`,
  options: [{ name: 'tos', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ value: 0, mask: 0, inverted: false }),
  parse(s, use) {
    Object.assign(s, parseTosMask(use.value!, 0x3f));
    if (use.inverted) s.inverted = true;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --tos ${hex2(s.value)}/${hex2(s.mask)}`,
  print(s, numeric) {
    const sym = !numeric && s.mask === 0x3f ? TOS_SYMBOLS.find(([v]) => v === s.value) : undefined;
    return ` tos match${s.inverted ? '!' : ''}${sym ? ` ${sym[1]}` : `${hex2(s.value)}/${hex2(s.mask)}`}`;
  },
  // tos_mt() of xt_dscp.c: ((iph->tos & mask) == value) ^ invert.
  match: (s, ctx) => ((ctx.pkt.tos & s.mask) === s.value) !== s.inverted,
  explain: (s, ctx) => `${s.inverted ? '! ' : ''}--tos ${hex2(s.value)}/${hex2(s.mask)}: packet has ${hex2(ctx.pkt.tos & 0xff)}`,
});
