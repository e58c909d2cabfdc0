/**
 * pkttype match (iptables-extensions: "pkttype"): the link-layer packet type (unicast, broadcast, multicast,
 * otherhost). x6 style: one mandatory, invertible `--pkt-type`; names compare case-insensitively and the
 * aliases host/bcast/mcast save as their canonical names.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { RTN, type EvalContext } from '../../eval/context';

/** linux/if_packet.h PACKET_* numbers. */
const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;

/** supported_types[] in libxt_pkttype.c order: canonical names first (printed in help), then aliases. */
const TYPES: ReadonlyArray<readonly [string, number, string | undefined]> = [
  ['unicast', PACKET_HOST, 'to us'],
  ['broadcast', PACKET_BROADCAST, 'to all'],
  ['multicast', PACKET_MULTICAST, 'to group'],
  ['otherhost', PACKET_OTHERHOST, 'to someone else'],
  ['bcast', PACKET_BROADCAST, undefined],
  ['mcast', PACKET_MULTICAST, undefined],
  ['host', PACKET_HOST, undefined],
];

export interface PkttypeState {
  pkttype: number;
  invert: boolean;
}

function typeName(t: number): string {
  return TYPES.find(([, n]) => n === t)?.[0] ?? String(t);
}

const typeHelp = TYPES.filter(([, , h]) => h !== undefined)
  .map(([name, , h]) => `\t${name.padEnd(14)}\t\t${h!}\n`)
  .join('');

export default defineMatch<PkttypeState>({
  kind: 'match',
  name: 'pkttype',
  manSection: 'pkttype',
  style: 'x6',
  help: `pkttype match options:
[!] --pkt-type packettype    match packet type
Valid packet types:
${typeHelp}
`,
  options: [{ name: 'pkt-type', arg: 'required', mandatory: true, invert: true }],
  init: () => ({ pkttype: 0, invert: false }),
  parse(s, use) {
    const v = use.value!;
    const t = TYPES.find(([n]) => n.toLowerCase() === v.toLowerCase());
    if (!t) throw paramProblem(`Bad packet type '${v}'`);
    s.pkttype = t[1];
    if (use.inverted) s.invert = true;
  },
  save: (s) => `${s.invert ? ' !' : ''} --pkt-type ${typeName(s.pkttype)}`,
  print: (s) => ` PKTTYPE ${s.invert ? '!' : ''}= ${typeName(s.pkttype)}`,
  // pkttype_mt() of xt_pkttype.c: (skb->pkt_type == wanted) ^ invert.
  match: (s, ctx) => (packetType(ctx) === s.pkttype) !== s.invert,
  explain: (s, ctx) => `${s.invert ? '! ' : ''}--pkt-type ${typeName(s.pkttype)}: packet is ${typeName(packetType(ctx))}`,
});

/**
 * skb->pkt_type as eth_type_trans() set it on arrival: from the destination MAC when the frame has one
 * that is broadcast or multicast; else from the destination address (a broadcast address of the host or
 * 255.255.255.255: broadcast; 224.0.0.0/4: multicast), as a sender puts the matching link-layer address;
 * else host ("unicast"). Never otherhost: ip_rcv() drops PACKET_OTHERHOST before netfilter sees it.
 * Packets the host sends keep PACKET_HOST (alloc_skb's zero), so they are "unicast" even to a group.
 */
function packetType(ctx: EvalContext): number {
  const p = ctx.pkt;
  if (p.inIface === null) return PACKET_HOST;
  const mac = p.macDst?.toLowerCase() ?? null;
  if (mac === 'ff:ff:ff:ff:ff:ff') return PACKET_BROADCAST;
  if (mac !== null && parseInt(mac.slice(0, 2), 16) & 1) return PACKET_MULTICAST;
  if (p.dst >>> 28 === 0xe) return PACKET_MULTICAST;
  if (p.dst === 0xffffffff || ctx.host.addrType(p.dst) === RTN.BROADCAST) return PACKET_BROADCAST;
  return PACKET_HOST;
}
