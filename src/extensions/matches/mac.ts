/**
 * mac match (iptables-extensions: "mac"): the source MAC address of Ethernet frames. x6 style (XTTYPE_ETHERMAC);
 * the kernel allows it only in PREROUTING, INPUT and FORWARD.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { cStrtoul } from '../values/cstrtoul';

export interface MacState {
  mac: number[];
  invert: boolean;
}

/** xtopt_parse_ethermac(): six strtoul(,16) fields of at most 2 characters, ':'-separated. */
export function parseEtherMac(arg: string): number[] {
  const out: number[] = [];
  let pos = 0;
  for (let i = 0; i < 6; i++) {
    const r = cStrtoul(arg, pos, 16);
    const last = i === 5;
    if ((last ? r.end !== arg.length : arg[r.end] !== ':') || r.end - pos > 2) {
      throw paramProblem('Invalid MAC address specified.');
    }
    out.push(Number(r.value & 0xffn));
    pos = r.end + 1;
  }
  return out;
}

/** xtables_print_mac(). */
export function macText(mac: readonly number[]): string {
  return mac.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export default defineMatch<MacState>({
  kind: 'match',
  name: 'mac',
  manSection: 'mac',
  style: 'x6',
  hooks: ['PREROUTING', 'INPUT', 'FORWARD'],
  help: `mac match options:
[!] --mac-source XX:XX:XX:XX:XX:XX
				Match source MAC address
`,
  options: [{ name: 'mac-source', arg: 'required', mandatory: true, invert: true }],
  init: () => ({ mac: [0, 0, 0, 0, 0, 0], invert: false }),
  parse(s, use) {
    s.mac = parseEtherMac(use.value!);
    if (use.inverted) s.invert = true;
  },
  save: (s) => `${s.invert ? ' !' : ''} --mac-source ${macText(s.mac)}`,
  print: (s) => ` MAC ${s.invert ? '! ' : ''}${macText(s.mac)}`,
  // mac_mt() of xt_mac.c: a packet without an Ethernet header (locally generated, or from a non-Ethernet
  // device such as lo) never matches, `!` or not; else (source MAC == wanted) ^ invert.
  match: (s, ctx) => {
    const src = sourceMac(ctx.pkt.macSrc, ctx.pkt.inIface);
    return src !== undefined && (src === macText(s.mac)) !== s.invert;
  },
  explain(s, ctx) {
    const src = sourceMac(ctx.pkt.macSrc, ctx.pkt.inIface);
    const head = `${s.invert ? '! ' : ''}--mac-source ${macText(s.mac)}`;
    return src === undefined ? `${head}: packet has no MAC header` : `${head}: packet has ${src}`;
  },
});

/** The frame's source MAC in xtables_print_mac() form, undefined without an Ethernet header. */
function sourceMac(mac: string | null, inIface: string | null): string | undefined {
  if (mac === null || inIface === null || inIface === 'lo') return undefined;
  const bytes = mac.split(':').map((b) => parseInt(b, 16));
  if (bytes.length !== 6 || bytes.some((b) => !(b >= 0 && b <= 255))) return undefined;
  return macText(bytes);
}
