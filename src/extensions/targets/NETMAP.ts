/**
 * NETMAP target (iptables-extensions: "NETMAP", libipt_NETMAP / xt_NETMAP.c, IPv4 revision 0 with
 * nf_nat_ipv4_multi_range_compat): a static 1:1 map of one network onto another. --to address[/mask] is stored
 * as the range min_ip = address & mask, max_ip = min_ip | ~mask; the host bits of the packet's address are
 * kept. nat table only (all four of its hooks): in PREROUTING and OUTPUT it maps the destination, in
 * POSTROUTING and INPUT the source, through the same NAT setup as DNAT and SNAT.
 */
import { defineTarget } from '../spec';
import { addrToString } from '../../model/ip';
import { parseX6HostMask } from '../values/x6';
import { emptyRange, NAT } from '../values/nat';
import { natRequest } from '../values/nat-request';
import type { EvalContext, TargetVerdict } from '../../eval/context';

export interface NetmapState {
  /** range[0].min_ip and max_ip, host order. */
  minIp: number;
  maxIp: number;
}

/** netmask2bits(): the prefix length of a contiguous mask, -1 with holes. */
function maskBits(mask: number): number {
  let bits = 0;
  let m = mask >>> 0;
  while (m & 0x80000000) {
    bits++;
    m = (m << 1) >>> 0;
  }
  return m ? -1 : bits;
}

/** __NETMAP_print(): min_ip, then the mask ~(min ^ max) as a length or (with holes) dotted. */
function rangeText(s: NetmapState): string {
  const mask = ~(s.minIp ^ s.maxIp) >>> 0;
  const bits = maskBits(mask);
  return `${addrToString(s.minIp)}/${bits < 0 ? addrToString(mask) : bits}`;
}

export default defineTarget<NetmapState>({
  kind: 'target',
  needsConntrack: true,
  name: 'NETMAP',
  manSection: 'NETMAP',
  style: 'x6',
  tables: ['nat'],
  help: `NETMAP target options:
  --to address[/mask]
				Network address to map to.

`,
  options: [{ name: 'to', arg: 'required', mandatory: true }],
  init: () => ({ minIp: 0, maxIp: 0 }),
  parse(s, use) {
    const { addr, mask } = parseX6HostMask('NETMAP', use.name, use.value!);
    s.minIp = (addr & mask) >>> 0;
    s.maxIp = (s.minIp | ~mask) >>> 0;
  },
  save: (s) => ` --to ${rangeText(s)}`,
  print: (s) => ` to:${rangeText(s)}`,
  run: (s, ctx) => netmapRun(s, ctx),
});

/**
 * netmap_tg4() of xt_NETMAP.c: new = (packet address & ~netmask) | (min_ip & netmask), the destination in
 * PREROUTING/OUTPUT and the source in POSTROUTING/INPUT, then nf_nat_setup_info() with the single address
 * new-new (ports kept); NF_ACCEPT.
 */
function netmapRun(s: NetmapState, ctx: EvalContext): TargetVerdict {
  const netmask = ~(s.minIp ^ s.maxIp) >>> 0;
  const dst = ctx.hook === 'PREROUTING' || ctx.hook === 'OUTPUT';
  const from = dst ? ctx.pkt.dst : ctx.pkt.src;
  const mapped = ((from & ~netmask) | (s.minIp & netmask)) >>> 0;
  ctx.note(`NETMAP: ${dst ? 'destination' : 'source'} ${addrToString(from)} maps to ${addrToString(mapped)} (${rangeText(s)})`);
  // The single address new-new, as a range mapping addresses and no ports (NF_NAT_RANGE_MAP_IPS).
  ctx.nat(natRequest(dst ? 'DNAT' : 'SNAT', { ...emptyRange(), flags: NAT.MAP_IPS, minAddr: mapped, maxAddr: mapped }, ctx.pkt));
  return 'ACCEPT';
}
