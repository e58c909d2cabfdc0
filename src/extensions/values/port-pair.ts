/**
 * The source and destination port ranges of the dccp and sctp matches (libxt_dccp.c and libxt_sctp.c print and
 * save them alike; dccp_mt() and sctp_mt() check them alike): flag bits SRC and DST, each range [min, max].
 */
import { portToService } from '../option-types';

export const SRC = 0x01;
export const DST = 0x02;

type Range = [number, number];

/** The `-L` text of one range (`spt:80`, `dpts:!1000:2000`, service names unless numeric); empty for any port. */
export function portsList(name: string, [min, max]: Range, inv: boolean, numeric: boolean, proto: string): string {
  if (min === 0 && max === 0xffff && !inv) return '';
  const p = (n: number): string => (numeric ? undefined : portToService(n, proto)) ?? String(n);
  return min === max ? ` ${name}:${inv ? '!' : ''}${p(min)}` : ` ${name}s:${inv ? '!' : ''}${p(min)}:${p(max)}`;
}

const portSave = (opt: string, [a, b]: Range): string => ` --${opt} ${a === b ? a : `${a}:${b}`}`;

/** The save text of the ranges given: ` [!] --sport A[:B] [!] --dport C[:D]`. */
export function savePorts(flags: number, invflags: number, spts: Range, dpts: Range): string {
  let out = '';
  if (flags & SRC) out += `${invflags & SRC ? ' !' : ''}${portSave('sport', spts)}`;
  if (flags & DST) out += `${invflags & DST ? ' !' : ''}${portSave('dport', dpts)}`;
  return out;
}

/** Why the packet's ports miss the ranges given (`! --sport 80: packet has 80`), or undefined when they hold. */
export function portsMiss(flags: number, invflags: number, spts: Range, dpts: Range, pkt: { sport: number; dport: number }): string | undefined {
  const ports: Array<[number, Range, number, string]> = [
    [SRC, spts, pkt.sport, 'sport'],
    [DST, dpts, pkt.dport, 'dport'],
  ];
  for (const [bit, [lo, hi], v, opt] of ports) {
    if (!(flags & bit)) continue;
    if ((v >= lo && v <= hi) === !!(invflags & bit)) {
      return `${invflags & bit ? '! ' : ''}${portSave(opt, [lo, hi]).trim()}: packet has ${v}`;
    }
  }
  return undefined;
}
