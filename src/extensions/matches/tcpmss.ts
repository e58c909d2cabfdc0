/**
 * tcpmss match (iptables-extensions: "tcpmss"): [!] --mss value[:value] (XTTYPE_UINT16RC, mandatory), the MSS
 * option of a TCP SYN or SYN/ACK. The kernel match is TCP only (xt_tcpmss .proto = IPPROTO_TCP): without
 * `-p tcp` the rule is refused with EINVAL (recorded in ext-tcpmss.json).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Mint } from '../values/x6';
import type { Packet } from '../../eval/packet';

export interface TcpmssState {
  min: number;
  max: number;
  inverted: boolean;
}

const rangeText = (s: TcpmssState): string => (s.min === s.max ? String(s.min) : `${s.min}:${s.max}`);
const saveText = (s: TcpmssState): string => `${s.inverted ? ' !' : ''} --mss ${rangeText(s)}`;

/** The MSS option's value as tcpmss_mt() walks the options (kinds 0 and 1 take one byte), or undefined. */
export function mssOption(pkt: Packet): number | undefined {
  const op = pkt.tcpOptions;
  for (let i = 0; i < op.length; ) {
    if (op[i] === 2 && op.length - i >= 4 && op[i + 1] === 4) return (op[i + 2]! << 8) | op[i + 3]!;
    if (op[i]! < 2) i++;
    else i += op[i + 1] || 1;
  }
  return undefined;
}

export default defineMatch<TcpmssState>({
  kind: 'match',
  name: 'tcpmss',
  manSection: 'tcpmss',
  style: 'x6',
  requiresProtocol: 6,
  help: `tcpmss match options:
[!] --mss value[:value]	Match TCP MSS range.
				(only valid for TCP SYN or SYN/ACK packets)
`,
  options: [{ name: 'mss', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ min: 0, max: 0, inverted: false }),
  parse(s, use) {
    const vals = parseX6Mint('tcpmss', 'mss', use.value!, 65535n).map(Number);
    s.min = vals[0]!;
    s.max = vals[1] ?? s.min;
    if (s.max < s.min) throw paramProblem('tcpmss: invalid range given');
    if (use.inverted) s.inverted = true;
  },
  save: saveText,
  print: (s) => ` tcpmss match ${s.inverted ? '!' : ''}${rangeText(s)}`,
  // tcpmss_mt() of xt_tcpmss.c: (min <= mss <= max) ^ invert; a packet without an MSS option gives `invert`.
  match(s, ctx) {
    const mss = mssOption(ctx.pkt);
    return mss === undefined ? s.inverted : (mss >= s.min && mss <= s.max) !== s.inverted;
  },
  explain(s, ctx) {
    const mss = mssOption(ctx.pkt);
    return `${saveText(s).trim()}: packet has ${mss === undefined ? 'no MSS option' : `MSS ${mss}`}`;
  },
});
