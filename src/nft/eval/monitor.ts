/**
 * The lines `nft monitor trace` (nftables 1.0.6, kernel 6.x) prints for one packet's trace events. Recorded with
 * the real tools (scratch/stateless-nat.raw.txt, scratch/nft-eval/*.txt); the formats:
 *
 *   trace id ID FAMILY TABLE CHAIN packet: [iif "X" ][oif "Y" ][ether saddr M ether daddr M ]IP TRANSPORT
 *   trace id ID FAMILY TABLE CHAIN rule RULE_TEXT (verdict V)
 *   trace id ID FAMILY TABLE CHAIN policy accept|drop [meta mark 0x%08x ]
 *
 * - One `packet:` line per base chain run, before its first line (the kernel dumps the headers once per
 *   nft_do_chain(), with the first event, after that rule's statements ran: `ip daddr set` shows the new address).
 *   It is printed for a first `policy` event too. Each item ends with a blank (so does the line).
 * - RULE_TEXT: the rule as nft's cache holds it (listed when the monitor started: counters show their values at
 *   that time, `counter packets 0 bytes 0` on a fresh ruleset). V: continue, accept, drop, queue, `jump C`,
 *   `goto C`, `return` (an explicit return rule). Reaching the end of a regular chain prints nothing (the next line
 *   is the caller's next rule or the base chain's policy). A drop/accept ends the chain's lines.
 * - policy: `meta mark` only when the mark is not 0; `policy accept ` keeps its trailing blank.
 * - iif: prerouting, input, forward, ingress, and postrouting of a forwarded packet (not output/egress, not
 *   local packets); oif: forward, output, postrouting, egress. The ether header (`ether saddr .. ether daddr ..`,
 *   its type dropped as a dependency) with iif, when the frame came from an ethernet device; from lo, the zeroed
 *   header raw: `iif "lo" @ll,0,112 0x800`. nft names the link header by the in device's type: without iif, only
 *   the bridge family takes it for Ethernet (bridge postrouting and output: `oif "p2" ether saddr ..`); ip
 *   POSTROUTING called by br_netfilter (no in device) prints it raw, destination MAC, source MAC, ethertype:
 *   `oif "br0" @ll,0,112 0xe68843483fe5d2525e5b85660800` (fixtures/labs/bridge-nft-order.sh, recorded on 6.18).
 * - IP: `ip saddr A ip daddr B ip dscp cs0 ip ecn not-ect ip ttl 64 ip id N [ip protocol P ]ip length L`;
 *   `ip protocol` is dropped (a dependency of the transport fields) in the ip family, kept in inet/netdev/bridge.
 *   Version, header length, fragment offset, checksum are never printed.
 * - Transport: up to 20 bytes of the transport header and what follows it:
 *   tcp: `tcp sport S tcp dport D tcp flags == F tcp window W` (F a flag name when exactly one bit, else 0x12);
 *   udp: `udp sport S udp dport D udp length L` then the payload bytes present as `@th,64,N 0xHEX`;
 *   icmp: `icmp type T icmp code C icmp id I icmp sequence S` (code 0 prints net-unreachable; errors show id and
 *   sequence 0) then `@th,64,96 0xHEX` (the echo data, or the quoted IP header's first 12 bytes).
 *   HEX is the bytes read as one number: leading zero bytes vanish, all zeros print 0x0.
 * - netdev egress: no link-layer header is dumped, so nft knows no protocol: `oif "X" @nh,0,160 0xIPHDR
 *   @th,0,160 0xTRANSPORT` (the IPv4 header with its checksum; 20 transport bytes; the TCP/UDP checksum as the
 *   sender left it: full from a wire or scapy, the folded pseudo-header sum from a Linux stack over veth, see
 *   L4Checksum).
 */
import type { Packet } from '../../eval/packet';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, arpBytes, isIcmpError } from '../../eval/packet';
import type { Family, NftRule, NftRuleset } from '../model';
import type { NftHook, NftTraceEvent } from './types';
import { readValue } from '../datatypes';

function ipText(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function hexOf(bytes: readonly number[]): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  s = s.replace(/^0+/, '');
  return `0x${s === '' ? '0' : s}`;
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((b) => parseInt(b, 16) & 255);
}

function u16(n: number): number[] {
  return [(n >>> 8) & 255, n & 255];
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** The Internet checksum of bytes (one's complement of the one's complement sum of 16-bit words). */
export function inetChecksum(bytes: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i]! << 8) | (bytes[i + 1] ?? 0)) >>> 0;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * What the TCP/UDP checksum field holds: 'full', the checksum a packet on a wire carries (a NIC's packets, a
 * packet crafted by scapy: the trace fixtures, fixtures/nft/traces/recorded/egress-hook.json); 'partial', what a
 * Linux stack leaves when sending over veth (labs, scratch/stateless-nat.raw.txt).
 */
export type L4Checksum = 'full' | 'partial';

/**
 * The TCP/UDP checksum field of a packet sent over veth (CHECKSUM_PARTIAL: the stack leaves the folded sum of the
 * pseudo-header in the field, for the device to finish; NAT updates it incrementally): what the recordings show
 * (0x1631 for 10.0.1.1 -> 10.0.1.2, tcp, 40 bytes).
 */
export function partialChecksum(p: Packet, proto: number, len: number): number {
  return ~inetChecksum([...u32(p.src), ...u32(p.dst), 0, proto, ...u16(len)]) & 0xffff;
}

/** The IPv4 header bytes as the packet would carry them (options included, checksum computed). */
export function ipHeaderBytes(p: Packet): number[] {
  const ihl = 5 + Math.ceil(p.ipOptions.length / 4);
  const h = [0x40 | ihl, p.tos & 255, ...u16(p.len), ...u16(p.id), p.df ? 0x40 : 0, 0, p.ttl & 255, p.proto & 255, 0, 0, ...u32(p.src), ...u32(p.dst)];
  for (let i = 0; i < (ihl - 5) * 4; i++) h.push(p.ipOptions[i] ?? 0);
  const c = inetChecksum(h);
  h[10] = c >> 8;
  h[11] = c & 255;
  return h;
}

function payloadBytes(p: Packet, n: number): number[] {
  const out: number[] = [];
  const text = p.payload ?? '';
  for (let i = 0; i < n; i++) out.push(i < text.length ? text.charCodeAt(i) & 255 : 0);
  return out;
}

/** The transport header and the data after it, as far as the IP length goes (all of it, for checksums). */
export function transportBytes(p: Packet, l4checksum: L4Checksum = 'full'): number[] {
  const ihl = 20 + Math.ceil(p.ipOptions.length / 4) * 4;
  const total = Math.max(0, p.len - ihl);
  let hdr: number[];
  if (p.proto === PROTO_TCP) {
    const optLen = Math.ceil(p.tcpOptions.length / 4) * 4;
    const opts = Array.from({ length: optLen }, (_, i) => p.tcpOptions[i] ?? 0);
    hdr = [...u16(p.sport), ...u16(p.dport), ...u32(p.seq), ...u32(p.ackSeq), ((20 + optLen) / 4) << 4, p.tcpFlags & 255, ...u16(p.window), 0, 0, ...u16(p.urgPtr), ...opts];
    const data = payloadBytes(p, Math.max(0, total - hdr.length));
    const seg = [...hdr, ...data];
    const c = l4checksum === 'partial' ? partialChecksum(p, PROTO_TCP, seg.length) : inetChecksum([...u32(p.src), ...u32(p.dst), 0, PROTO_TCP, ...u16(seg.length), ...seg]);
    seg[16] = c >> 8;
    seg[17] = c & 255;
    return seg;
  }
  if (p.proto === PROTO_UDP) {
    hdr = [...u16(p.sport), ...u16(p.dport), ...u16(total), 0, 0];
    const seg = [...hdr, ...payloadBytes(p, Math.max(0, total - 8))];
    let c = l4checksum === 'partial' ? partialChecksum(p, PROTO_UDP, seg.length) : inetChecksum([...u32(p.src), ...u32(p.dst), 0, PROTO_UDP, ...u16(seg.length), ...seg]);
    if (c === 0 && l4checksum === 'full') c = 0xffff;
    seg[6] = c >> 8;
    seg[7] = c & 255;
    return seg;
  }
  if (p.proto === PROTO_ICMP) {
    let rest: number[];
    if (isIcmpError(p.icmpType) && p.quoted) {
      const q = p.quoted;
      const qip = ipHeaderBytes({ ...p, src: q.src, dst: q.dst, proto: q.proto, tos: q.tos, ttl: q.ttl, id: q.id, df: q.df, len: q.len, ipOptions: new Uint8Array(0) });
      let q8: number[];
      if (q.proto === PROTO_TCP) q8 = [...u16(q.sport), ...u16(q.dport), ...u32(q.seq)];
      else if (q.proto === PROTO_UDP) q8 = [...u16(q.sport), ...u16(q.dport), ...u16(Math.max(8, q.len - 20)), 0, 0];
      else if (q.proto === PROTO_ICMP) q8 = [q.icmpType, q.icmpCode, 0, 0, ...u16(q.icmpId), ...u16(q.icmpSeq)];
      else q8 = [0, 0, 0, 0, 0, 0, 0, 0];
      rest = [0, 0, 0, 0, ...qip, ...q8];
    } else rest = [...u16(p.icmpId), ...u16(p.icmpSeq)];
    const seg = [p.icmpType & 255, p.icmpCode & 255, 0, 0, ...rest];
    while (seg.length < total) seg.push(...payloadBytes(p, total - seg.length));
    seg.length = Math.min(seg.length, Math.max(total, 8));
    const c = inetChecksum(seg);
    seg[2] = c >> 8;
    seg[3] = c & 255;
    return seg;
  }
  return payloadBytes(p, total);
}

const ECN = ['not-ect', 'ect1', 'ect0', 'ce'];
const ICMP_CODES: Record<number, string> = { 0: 'net-unreachable', 1: 'host-unreachable', 2: 'prot-unreachable', 3: 'port-unreachable', 4: 'frag-needed', 9: 'net-prohibited', 10: 'host-prohibited', 13: 'admin-prohibited' };
const TCP_FLAG_NAMES: Record<number, string> = { 1: 'fin', 2: 'syn', 4: 'rst', 8: 'psh', 16: 'ack', 32: 'urg', 64: 'ecn', 128: 'cwr' };
const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 51: 'ah', 132: 'sctp' };

function sym(type: string, n: number): string {
  try {
    return readValue(type, String(n)).text;
  } catch {
    return String(n);
  }
}

function hasIif(hook: NftHook, p: Packet): boolean {
  return p.inIface !== null && hook !== 'output' && hook !== 'egress';
}

function hasOif(hook: NftHook, p: Packet): boolean {
  return p.outIface !== null && (hook === 'forward' || hook === 'output' || hook === 'postrouting' || hook === 'egress');
}

/** What follows `packet: ` (with its trailing blank). */
export function packetLine(p: Packet, hook: NftHook, family: Family, l4checksum: L4Checksum = 'full'): string {
  const out: string[] = [];
  const iif = hasIif(hook, p);
  if (iif) out.push(`iif "${p.inIface}"`);
  if (hasOif(hook, p)) out.push(`oif "${p.outIface}"`);
  // Loopback frames carry a zeroed ethernet header nft has no name for (no ARPHRD_LOOPBACK protocol): raw.
  const loopback = iif && p.inIface === 'lo';
  if (loopback) out.push('@ll,0,112 0x800');
  const macs = p.macSrc !== null && p.macDst !== null;
  // nft names the link header by the type of the in device; without one, as Ethernet in the bridge family only.
  const ether = !loopback && macs && (iif || family === 'bridge');
  if (ether) out.push(`ether saddr ${p.macSrc!.toLowerCase()} ether daddr ${p.macDst!.toLowerCase()}`);
  // ip POSTROUTING called by br_netfilter: the bridged frame still has its link header, but no in device: raw.
  else if (!iif && macs && p.physIn !== undefined && hook === 'postrouting' && (family === 'ip' || family === 'inet')) {
    out.push(`@ll,0,112 ${hexOf([...macBytes(p.macDst!), ...macBytes(p.macSrc!), 0x08, 0x00])}`);
  }
  if (p.arp) {
    // An ARP frame: nft names its operation alone where it knows the protocol (an Ethernet header, or the arp
    // family's own hooks); at netdev egress it dumps the 28 bytes raw (recorded: fixtures/labs/bridge-arp.sh).
    if (ether || family === 'arp') out.push(`arp operation ${sym('arp_op', p.arp.op)}`);
    else out.push(`@nh,0,224 ${hexOf(arpBytes(p.arp))}`);
    return out.map((s) => `${s} `).join('');
  }
  // Without a link-layer header (netdev egress, or netdev/bridge without ethernet) nft knows no network protocol.
  const knowsNetwork = family === 'ip' || family === 'inet' || ether;
  const iph = ipHeaderBytes(p);
  const th = transportBytes(p, l4checksum).slice(0, 20);
  if (!knowsNetwork) {
    out.push(`@nh,0,${iph.length * 8} ${hexOf(iph.slice(0, 40))}`);
    if (th.length > 0) out.push(`@th,0,${th.length * 8} ${hexOf(th)}`);
    return out.map((s) => `${s} `).join('');
  }
  const known = p.proto === PROTO_TCP || p.proto === PROTO_UDP || p.proto === PROTO_ICMP;
  out.push(`ip saddr ${ipText(p.src)} ip daddr ${ipText(p.dst)}`);
  out.push(`ip dscp ${sym('dscp', p.tos >> 2)} ip ecn ${ECN[p.tos & 3]} ip ttl ${p.ttl} ip id ${p.id}`);
  if (family !== 'ip' || !known) out.push(`ip protocol ${PROTO_NAMES[p.proto] ?? p.proto}`);
  out.push(`ip length ${p.len}`);
  if (p.ipOptions.length > 0) out.push(`@nh,160,${Math.min(iph.length - 20, 20) * 8} ${hexOf(iph.slice(20, 40))}`);
  if (th.length === 0) return out.map((s) => `${s} `).join('');
  if (p.proto === PROTO_TCP) {
    const f = p.tcpFlags & 255;
    out.push(`tcp sport ${p.sport} tcp dport ${p.dport} tcp flags == ${TCP_FLAG_NAMES[f] ?? `0x${f.toString(16)}`} tcp window ${p.window}`);
  } else if (p.proto === PROTO_UDP) {
    out.push(`udp sport ${p.sport} udp dport ${p.dport} udp length ${(th[4]! << 8) | th[5]!}`);
    if (th.length > 8) out.push(`@th,64,${(th.length - 8) * 8} ${hexOf(th.slice(8))}`);
  } else if (p.proto === PROTO_ICMP) {
    out.push(`icmp type ${sym('icmp_type', th[0]!)} icmp code ${ICMP_CODES[th[1]!] ?? th[1]}`);
    if (th.length >= 8) out.push(`icmp id ${(th[4]! << 8) | th[5]!} icmp sequence ${(th[6]! << 8) | th[7]!}`);
    if (th.length > 8) out.push(`@th,64,${(th.length - 8) * 8} ${hexOf(th.slice(8))}`);
  } else out.push(`@th,0,${th.length * 8} ${hexOf(th)}`);
  return out.map((s) => `${s} `).join('');
}

/**
 * The rule texts nft's cache holds: listed when `nft monitor` started (counters as they were then). A rule not
 * snapshotted takes its text from before the first packet that reached it in this process.
 */
const monitorCache = new WeakMap<NftRule, string>();

/** `nft monitor trace` starts now: its cache lists every rule as it is (counters included). */
export function startMonitor(ruleset: NftRuleset): void {
  for (const t of ruleset.tables) for (const c of t.chains.values()) for (const r of c.rules) monitorCache.set(r, r.text);
}

/** The text the monitor prints for a rule (recorded on first sight). */
export function monitorText(rule: NftRule): string {
  let t = monitorCache.get(rule);
  if (t === undefined) {
    t = rule.text;
    monitorCache.set(rule, t);
  }
  return t;
}

export interface MonitorOptions {
  /** The rule text nft's cache holds (listed when the monitor started), when it differs from the event's. */
  ruleText?(table: string, chain: string, handle: number): string | undefined;
  /** The TCP/UDP checksum in raw dumps (netdev egress): 'full' (default, a packet from a wire or scapy) or
   * 'partial' (sent by a Linux stack over veth, as in labs). */
  l4checksum?: L4Checksum;
}

/** The lines `nft monitor trace` prints for the events of one packet run, given the trace id (8 hex digits). */
export function monitorLines(events: readonly NftTraceEvent[], id: string, hook: NftHook, family: Family, opts: MonitorOptions = {}): string[] {
  const lines: string[] = [];
  for (const e of events) {
    // What ran while the packet was not traced (skb->nf_trace clear) is the explained view's, not the monitor's.
    if ('traced' in e && e.traced === false) continue;
    const fam = e.table.family ?? family;
    const head = `trace id ${id} ${fam} ${e.table.name} ${e.chain.name} `;
    switch (e.kind) {
      case 'packet':
        lines.push(`${head}packet: ${packetLine(e.pkt, hook, fam, opts.l4checksum)}`);
        break;
      case 'rule':
        lines.push(`${head}rule ${opts.ruleText?.(e.table.name, e.chain.name, e.handle) ?? e.text} (verdict ${e.verdict})`);
        break;
      case 'policy':
        lines.push(`${head}policy ${e.verdict} ${e.pkt.mark !== 0 ? `meta mark 0x${(e.pkt.mark >>> 0).toString(16).padStart(8, '0')} ` : ''}`);
        break;
      default:
        // 'return' (the end of a regular chain) prints nothing; 'miss' is not the kernel's.
        break;
    }
  }
  return lines;
}
