/**
 * From a NAT target's parsed range (values/nat.ts, struct nf_nat_range2) to the request the evaluator
 * carries out (EvalContext.nat()): the ports only when the range names them (NF_NAT_RANGE_PROTO_SPECIFIED),
 * and the flags. Addresses: the range's when it maps them (NF_NAT_RANGE_MAP_IPS); without that flag the
 * kernel keeps the address, which NatRequest (no map-ips flag) says as the packet's current address for
 * SNAT/DNAT, and as 0 for MASQUERADE/REDIRECT, whose address the evaluator picks.
 */
import type { EvalContext, NatRequest, TargetVerdict } from '../../eval/context';
import type { Packet } from '../../eval/packet';
import { NAT, rangeText, type NatRange } from './nat';

export function natRequest(kind: NatRequest['kind'], r: NatRange, pkt: Packet): NatRequest {
  const mapIps = (r.flags & NAT.MAP_IPS) !== 0;
  const mapPorts = (r.flags & NAT.PROTO_SPECIFIED) !== 0;
  const keep = kind === 'SNAT' ? pkt.src : kind === 'DNAT' ? pkt.dst : 0;
  return {
    kind,
    minAddr: mapIps ? r.minAddr : keep,
    maxAddr: mapIps ? r.maxAddr : keep,
    mapPorts,
    minPort: mapPorts ? r.minPort : 0,
    maxPort: mapPorts ? r.maxPort : 0,
    random: (r.flags & NAT.PROTO_RANDOM) !== 0,
    fullyRandom: (r.flags & NAT.PROTO_RANDOM_FULLY) !== 0,
    persistent: (r.flags & NAT.PERSISTENT) !== 0,
  };
}

/**
 * The NAT targets' run(): nf_nat_setup_info() for the connection with the range, which answers NF_ACCEPT
 * (the nat chain ends for this packet). A port map shifted by a base (`ports/base`, DNAT revision 2) has no
 * field in NatRequest: the trace notes it and the plain range is requested.
 */
export function runNat(kind: NatRequest['kind'], r: NatRange, ctx: EvalContext): TargetVerdict {
  if (r.flags & NAT.PROTO_OFFSET && r.basePort !== 0) {
    ctx.note(`${kind}: the port map ${rangeText(r)} is shifted from base ${r.basePort}: not simulated, the plain range is used`);
  }
  ctx.nat(natRequest(kind, r, ctx.pkt));
  return 'ACCEPT';
}
