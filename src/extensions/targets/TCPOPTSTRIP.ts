/**
 * TCPOPTSTRIP target (iptables-extensions: "TCPOPTSTRIP", libxt_TCPOPTSTRIP / xt_TCPOPTSTRIP.c): overwrite the
 * listed TCP options with NOPs. --strip-options takes a comma list of names (wscale, mss, sack-permitted, sack,
 * timestamp, md5) or numbers 2-255, kept as a 256-bit map; without the option the map is empty and the rule
 * prints nothing after its target. Mangle table only, and the kernel demands `-p tcp`.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { xtStrtoui } from '../values/cstrtoul';
import { PROTO_TCP } from '../../eval/packet';
import type { EvalContext, TargetVerdict } from '../../eval/context';

/** tcp_optionmap[]: name, description, option kind. */
const OPTION_MAP: ReadonlyArray<readonly [string, string, number]> = [
  ['wscale', 'Window scale', 3],
  ['mss', 'Maximum Segment Size', 2],
  ['sack-permitted', 'SACK permitted', 4],
  ['sack', 'Selective ACK', 5],
  ['timestamp', 'Timestamp', 8],
  ['md5', 'MD5 signature', 19],
];

/** The option kinds to strip, ascending (the bitmap's order). */
export interface TcpOptStripState {
  kinds: number[];
}

/** parse_list(): each element a name or a number 0-255 (not 0 or 1), none twice. */
function parseList(s: TcpOptStripState, arg: string): void {
  for (const item of arg.split(',')) {
    let kind = OPTION_MAP.find(([name]) => name === item)?.[2] ?? 0;
    if (kind === 0) {
      const n = xtStrtoui(item, 0, 255);
      if (!n || n.end !== item.length) throw paramProblem(`Bad TCP option value "${item}"`);
      kind = n.value;
    }
    if (kind < 2) throw paramProblem('Option value may not be 0 or 1');
    if (s.kinds.includes(kind)) throw paramProblem(`Option "${item}" already specified`);
    s.kinds.push(kind);
  }
  s.kinds.sort((a, b) => a - b);
}

function listText(s: TcpOptStripState, numeric: boolean): string {
  return s.kinds.map((k) => (numeric ? undefined : OPTION_MAP.find(([, , kind]) => kind === k)?.[0]) ?? String(k)).join(',');
}

export default defineTarget<TcpOptStripState>({
  kind: 'target',
  name: 'TCPOPTSTRIP',
  manSection: 'TCPOPTSTRIP',
  style: 'x6',
  tables: ['mangle'],
  help: `TCPOPTSTRIP target options:
  --strip-options value     strip specified TCP options denoted by value
                            (separated by comma) from TCP header
  Instead of the numeric value, you can also use the following names:
${OPTION_MAP.map(([name, desc]) => `    ${name.padEnd(14)}    strip "${desc}" option\n`).join('')}`,
  options: [{ name: 'strip-options', arg: 'required' }],
  init: () => ({ kinds: [] }),
  parse(s, use) {
    parseList(s, use.value!);
  },
  // xt_TCPOPTSTRIP's .proto = IPPROTO_TCP: xt_check_target() wants `-p tcp`, not inverted.
  kernelCheck(_s, k) {
    return k.protocol !== PROTO_TCP || k.protocolInverted ? 'Invalid argument' : undefined;
  },
  save: (s) => (s.kinds.length ? ` --strip-options ${listText(s, true)}` : ''),
  print: (s, numeric) => (s.kinds.length ? ` TCPOPTSTRIP options ${listText(s, numeric)}` : ''),
  run: (s, ctx) => stripRun(s, ctx),
});

/**
 * tcpoptstrip_mangle_packet() of xt_TCPOPTSTRIP.c: walk the options of the TCP header (optlen(): kinds 0 and 1,
 * and a zero length, take one byte); each option whose kind is in the map, and that fits the header, becomes
 * NOPs (kind 1) byte for byte. XT_CONTINUE.
 */
function stripRun(s: TcpOptStripState, ctx: EvalContext): TargetVerdict {
  const p = ctx.pkt;
  if (p.proto !== PROTO_TCP) return 'CONTINUE';
  const room = (p.tcpOptions.length + 3) & ~3;
  const opts = new Uint8Array(room);
  opts.set(p.tcpOptions);
  const stripped: number[] = [];
  for (let i = 0; i < room - 1; ) {
    const optl = opts[i]! <= 1 || opts[i + 1] === 0 ? 1 : opts[i + 1]!;
    if (i + optl > room) break;
    if (s.kinds.includes(opts[i]!)) {
      stripped.push(opts[i]!);
      opts.fill(1, i, i + optl);
    }
    i += optl;
  }
  if (stripped.length === 0) {
    ctx.note('TCPOPTSTRIP: none of the options to strip is in the header');
    return 'CONTINUE';
  }
  p.tcpOptions = opts.slice(0, p.tcpOptions.length);
  ctx.note(`TCPOPTSTRIP: option${stripped.length > 1 ? 's' : ''} ${stripped.join(',')} replaced by NOPs`);
  return 'CONTINUE';
}
