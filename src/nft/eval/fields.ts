/**
 * What a selector (`ip saddr`, `tcp dport`, `meta mark`, `ct state`, ...) reads from the simulated packet and
 * how a `set` statement writes it. A value is a bigint, or a string for interface names (iif/oif compare by name:
 * the simulated host's ifindexes name one device each). `undefined` means the packet lacks the field (a tcp
 * field of a udp packet, an ether field of a local packet, ct mark without a connection): the expression breaks
 * and the rule does not match, whatever the operator (the kernel's NFT_BREAK).
 */
import type { NftEnv } from './types';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, type ArpHeader } from '../../eval/packet';
import { RTN } from '../../eval/context';
import { transportBytes } from './monitor';

export type FieldValue = bigint | string;

export interface Field {
  get(env: NftEnv): FieldValue | undefined;
  set?(env: NftEnv, v: FieldValue): void;
}

const big = (n: number): bigint => BigInt(n >>> 0);
const num = (v: FieldValue): number => Number(typeof v === 'bigint' ? v & 0xffffffffn : BigInt(v));

export function macToBig(mac: string): bigint {
  return BigInt(`0x${mac.replace(/:/g, '')}`);
}

export function bigToMac(v: bigint): string {
  return v.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

const CT_STATE_BITS: Record<string, number> = { INVALID: 1, ESTABLISHED: 2, RELATED: 4, NEW: 8, UNTRACKED: 64 };

const isTcp = (e: NftEnv): boolean => e.pkt.proto === PROTO_TCP;
const isUdp = (e: NftEnv): boolean => e.pkt.proto === PROTO_UDP;
const isIcmp = (e: NftEnv): boolean => e.pkt.proto === PROTO_ICMP;
/** An IPv4 header is there: every simulated packet is IPv4 or an ARP frame (ip6 matches never match). */
const isIp = (e: NftEnv): boolean => e.pkt.arp === undefined;
/** An ARP frame's field, absent from an IPv4 packet. */
const arpField = (get: (a: ArpHeader) => bigint): Field => ({ get: (e) => (e.pkt.arp ? get(e.pkt.arp) : undefined) });
const ipField = (get: (e: NftEnv) => bigint, set?: (e: NftEnv, v: FieldValue) => void): Field => ({ get: (e) => (isIp(e) ? get(e) : undefined), ...(set ? { set } : {}) });

function ipHdrLen(e: NftEnv): number {
  return 20 + e.pkt.ipOptions.length;
}

function pkttype(e: NftEnv): number {
  if (e.pkt.arp) return e.pkt.macDst === 'ff:ff:ff:ff:ff:ff' ? 1 : 0;
  const t = e.host.addrType(e.pkt.dst);
  if (t === RTN.BROADCAST || e.pkt.dst === 0xffffffff) return 1;
  if (t === RTN.MULTICAST || (e.pkt.dst >>> 28) === 0xe) return 2;
  return 0;
}

/** A 16-bit word of the transport header of a packet that is neither tcp nor udp (absent when too short). */
function thWord(e: NftEnv, off: number): bigint | undefined {
  const b = transportBytes(e.pkt);
  if (b.length < off + 2) return undefined;
  return BigInt((b[off]! << 8) | b[off + 1]!);
}

/** Fields by printed selector (src/nft/selectors.ts prints `iif`, `meta mark`, `ct state`, `ip saddr`). */
export const FIELDS: Record<string, Field> = {
  'ip saddr': { get: (e) => (isIp(e) ? big(e.pkt.src) : undefined), set: (e, v) => void (e.pkt.src = num(v)) },
  'ip daddr': { get: (e) => (isIp(e) ? big(e.pkt.dst) : undefined), set: (e, v) => void (e.pkt.dst = num(v)) },
  'ip protocol': ipField((e) => BigInt(e.pkt.proto), (e, v) => void (e.pkt.proto = num(v) & 0xff)),
  'ip ttl': ipField((e) => BigInt(e.pkt.ttl), (e, v) => void (e.pkt.ttl = num(v) & 0xff)),
  'ip length': ipField((e) => BigInt(e.pkt.len), (e, v) => void (e.pkt.len = num(v) & 0xffff)),
  'ip id': ipField((e) => BigInt(e.pkt.id), (e, v) => void (e.pkt.id = num(v) & 0xffff)),
  'ip dscp': ipField((e) => BigInt(e.pkt.tos >> 2), (e, v) => void (e.pkt.tos = ((num(v) & 0x3f) << 2) | (e.pkt.tos & 3))),
  'ip version': ipField(() => 4n),
  'ip hdrlength': ipField((e) => BigInt(ipHdrLen(e) / 4)),
  'tcp sport': { get: (e) => (isTcp(e) ? BigInt(e.pkt.sport) : undefined), set: (e, v) => void (isTcp(e) && (e.pkt.sport = num(v) & 0xffff)) },
  'tcp dport': { get: (e) => (isTcp(e) ? BigInt(e.pkt.dport) : undefined), set: (e, v) => void (isTcp(e) && (e.pkt.dport = num(v) & 0xffff)) },
  'tcp flags': { get: (e) => (isTcp(e) ? BigInt(e.pkt.tcpFlags & 0xff) : undefined), set: (e, v) => void (isTcp(e) && (e.pkt.tcpFlags = num(v) & 0xff)) },
  'tcp sequence': { get: (e) => (isTcp(e) ? big(e.pkt.seq) : undefined), set: (e, v) => void (isTcp(e) && (e.pkt.seq = num(v))) },
  'tcp window': { get: (e) => (isTcp(e) ? BigInt(e.pkt.window) : undefined), set: (e, v) => void (isTcp(e) && (e.pkt.window = num(v) & 0xffff)) },
  'udp sport': { get: (e) => (isUdp(e) ? BigInt(e.pkt.sport) : undefined), set: (e, v) => void (isUdp(e) && (e.pkt.sport = num(v) & 0xffff)) },
  'udp dport': { get: (e) => (isUdp(e) ? BigInt(e.pkt.dport) : undefined), set: (e, v) => void (isUdp(e) && (e.pkt.dport = num(v) & 0xffff)) },
  'udp length': { get: (e) => (isUdp(e) ? BigInt(e.pkt.len - ipHdrLen(e)) : undefined) },
  // th: the first two 16-bit words of any transport header (icmp: type and code, then the checksum).
  'th sport': { get: (e) => (isTcp(e) || isUdp(e) ? BigInt(e.pkt.sport) : isIp(e) ? thWord(e, 0) : undefined), set: (e, v) => void ((isTcp(e) || isUdp(e)) && (e.pkt.sport = num(v) & 0xffff)) },
  'th dport': { get: (e) => (isTcp(e) || isUdp(e) ? BigInt(e.pkt.dport) : isIp(e) ? thWord(e, 2) : undefined), set: (e, v) => void ((isTcp(e) || isUdp(e)) && (e.pkt.dport = num(v) & 0xffff)) },
  'icmp type': { get: (e) => (isIcmp(e) ? BigInt(e.pkt.icmpType) : undefined), set: (e, v) => void (isIcmp(e) && (e.pkt.icmpType = num(v) & 0xff)) },
  'icmp code': { get: (e) => (isIcmp(e) ? BigInt(e.pkt.icmpCode) : undefined), set: (e, v) => void (isIcmp(e) && (e.pkt.icmpCode = num(v) & 0xff)) },
  'icmp id': { get: (e) => (isIcmp(e) ? BigInt(e.pkt.icmpId) : undefined), set: (e, v) => void (isIcmp(e) && (e.pkt.icmpId = num(v) & 0xffff)) },
  'icmp sequence': { get: (e) => (isIcmp(e) ? BigInt(e.pkt.icmpSeq) : undefined), set: (e, v) => void (isIcmp(e) && (e.pkt.icmpSeq = num(v) & 0xffff)) },
  'ether saddr': { get: (e) => (e.pkt.macSrc ? macToBig(e.pkt.macSrc) : undefined), set: (e, v) => void (e.pkt.macSrc = bigToMac(BigInt(v))) },
  'ether daddr': { get: (e) => (e.pkt.macDst ? macToBig(e.pkt.macDst) : undefined), set: (e, v) => void (e.pkt.macDst = bigToMac(BigInt(v))) },
  'ether type': { get: (e) => (e.pkt.macSrc ? (e.pkt.arp ? 0x0806n : 0x0800n) : undefined) },
  'meta mark': { get: (e) => big(e.pkt.mark), set: (e, v) => void (e.pkt.mark = num(v)) },
  iif: { get: (e) => e.pkt.inIface ?? undefined },
  oif: { get: (e) => e.pkt.outIface ?? undefined },
  iifname: { get: (e) => e.pkt.inIface ?? undefined },
  oifname: { get: (e) => e.pkt.outIface ?? undefined },
  'meta iiftype': { get: (e) => (e.pkt.inIface ? (e.pkt.inIface === 'lo' ? 772n : 1n) : undefined) },
  'meta oiftype': { get: (e) => (e.pkt.outIface ? (e.pkt.outIface === 'lo' ? 772n : 1n) : undefined) },
  'meta l4proto': ipField((e) => BigInt(e.pkt.proto)),
  'meta nfproto': { get: () => 2n },
  'meta protocol': { get: (e) => (e.pkt.arp ? 0x0806n : 0x0800n) },
  'meta pkttype': { get: (e) => BigInt(pkttype(e)), set: () => undefined },
  'meta skuid': { get: (e) => (e.pkt.uid === undefined ? undefined : BigInt(e.pkt.uid)) },
  'meta skgid': { get: (e) => (e.pkt.gid === undefined ? undefined : BigInt(e.pkt.gid)) },
  'meta length': { get: (e) => BigInt(frameLength(e)) },
  'meta cpu': { get: () => 0n },
  'meta priority': { get: () => 0n, set: () => undefined },
  'meta nftrace': { get: (e) => (e.traced() ? 1n : 0n), set: (e, v) => e.setTrace(BigInt(v) !== 0n) },
  'ct state': { get: (e) => BigInt(CT_STATE_BITS[e.ctState] ?? 1) },
  'ct status': { get: (e) => (e.ct ? big(e.ct.status) : undefined) },
  'ct mark': {
    get: (e) => (e.ct ? big(e.ct.mark) : undefined),
    set: (e, v) => {
      if (e.ct) e.ct.mark = num(v);
    },
  },
  'ct direction': { get: (e) => (e.ct ? (e.ctReply ? 1n : 0n) : undefined) },
  'ct zone': { get: (e) => (e.ct ? 0n : undefined) },
  'ct expiration': { get: (e) => (e.ct ? BigInt(Math.round(e.ct.expires * 1000)) : undefined) },
  'ip checksum': ipField((e) => BigInt(ipChecksum(e))),
  'arp operation': arpField((a) => BigInt(a.op)),
  'arp htype': arpField(() => 1n),
  'arp ptype': arpField(() => 0x0800n),
  'arp hlen': arpField(() => 6n),
  'arp plen': arpField(() => 4n),
  'arp saddr ip': arpField((a) => big(a.spa)),
  'arp daddr ip': arpField((a) => big(a.tpa)),
  'arp saddr ether': arpField((a) => macToBig(a.sha)),
  'arp daddr ether': arpField((a) => macToBig(a.tha)),
};

/**
 * skb->len as a counter or `meta length` sees it: the network header on (IPv4 packet or ARP frame), plus the
 * Ethernet header where it is already in front (netdev egress; arp output, recorded in fixtures/labs/bridge-arp.sh).
 */
export function frameLength(e: Pick<NftEnv, 'pkt' | 'hook' | 'family'>): number {
  return e.pkt.len + (e.hook === 'egress' || (e.family === 'arp' && e.hook === 'output') ? 14 : 0);
}

/** Headers a simulated (IPv4 or ARP, untagged) frame never has: their fields are absent, the match breaks. */
for (const sel of [
  'ip6 saddr', 'ip6 daddr', 'ip6 nexthdr', 'ip6 hoplimit', 'ip6 length', 'icmpv6 type', 'icmpv6 code', 'icmpv6 id',
  'icmpv6 sequence', 'vlan id', 'vlan pcp', 'vlan type', 'sctp sport', 'sctp dport',
]) {
  FIELDS[sel] = { get: () => undefined };
}

/** The IPv4 header checksum (RFC 1071 over the header with its checksum field zero). */
function ipChecksum(e: NftEnv): number {
  const p = e.pkt;
  const words = [((0x40 | (5 + Math.ceil(p.ipOptions.length / 4))) << 8) | (p.tos & 255), p.len & 0xffff, p.id & 0xffff, p.df ? 0x4000 : 0, ((p.ttl & 255) << 8) | (p.proto & 255), 0, p.src >>> 16, p.src & 0xffff, p.dst >>> 16, p.dst & 0xffff];
  for (let i = 0; i + 1 < p.ipOptions.length; i += 2) words.push((p.ipOptions[i]! << 8) | p.ipOptions[i + 1]!);
  let sum = words.reduce((a, w) => a + w, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
