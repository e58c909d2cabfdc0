/**
 * length match (iptables-extensions: "length"): [!] --length length[:length], the IP packet length or an
 * inclusive range. The value is libxtables' XTTYPE_UINT16RC: C numbers (hex and octal too) 0-65535, an
 * empty end defaulting to 0 or 65535; 1.8.9 keeps a reversed range as given.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { strtoul } from '../../model/cnum';

export interface LengthState {
  min: number;
  max: number;
  inverted: boolean;
}

/** xtopt_parse_mint() as 1.8.9 has it: at most two ':'-separated C numbers within [0, max]. */
function parseRangeRC(ext: string, opt: string, arg: string, max: number): number[] {
  const vals: number[] = [];
  let pos = 0;
  for (;;) {
    if (vals.length === 2) throw paramProblem(`${ext}: Too many components for option "--${opt}" (max: 2)\n`);
    let end = pos;
    let value: number;
    if (pos === arg.length || arg[pos] === ':') {
      value = vals.length === 1 ? max : 0;
    } else {
      const r = strtoul(arg, 0, pos);
      if (!r || r.overflow || r.value > BigInt(max)) {
        throw paramProblem(`${ext}: bad value for option "--${opt}" near "${arg.slice(pos)}", or out of range (0-${max}).\n`);
      }
      end = r.end;
      if (end < arg.length && arg[end] !== ':') {
        throw paramProblem(`${ext}: Argument to "--${opt}" has unexpected characters near "${arg.slice(end)}".\n`);
      }
      value = Number(r.value);
    }
    vals.push(value);
    if (end >= arg.length) return vals;
    pos = end + 1;
  }
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
    const vals = parseRangeRC('length', 'length', use.value!, 65535);
    s.min = vals[0]!;
    s.max = vals[1] ?? s.min;
    if (use.inverted) s.inverted = true;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --length ${rangeText(s)}`,
  print: (s) => ` length ${s.inverted ? '!' : ''}${rangeText(s)}`,
});
