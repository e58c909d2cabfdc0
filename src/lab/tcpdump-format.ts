/**
 * tcpdump 4.99's one-line view of an IPv4 frame with `-n` (no -v, no -e): `HH:MM:SS.uuuuuu IP SRC > DST: ...`
 * for ICMP (echo request/reply, unreachable, time exceeded), TCP (flags, relative sequence numbers after the
 * SYN, window, options, length) and UDP. Sequence numbers are shown relative to the first seen of each
 * connection, as tcpdump does (print-tcp.c keeps a table of the connections it has seen).
 */
import { addrToString } from '../model/ip';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type Packet } from '../eval/packet';

/** Per capture: the initial sequence numbers tcpdump remembers per connection and direction. */
export class TcpdumpState {
  readonly isn = new Map<string, { seq: number; ack: number }>();
}

const UNREACH: Readonly<Record<number, (p: Packet) => string>> = {
  0: (p) => `net ${addrToString(p.quoted?.dst ?? 0)} unreachable`,
  1: (p) => `host ${addrToString(p.quoted?.dst ?? 0)} unreachable`,
  2: (p) => `${addrToString(p.quoted?.dst ?? 0)} protocol ${p.quoted?.proto ?? 0} unreachable`,
  // Other protocols: print-icmp.c reads a "port" from bytes 2-3 of the quoted header (an ICMP checksum).
  3: (p) =>
    p.quoted?.proto === PROTO_TCP || p.quoted?.proto === PROTO_UDP
      ? `${addrToString(p.quoted.dst)} ${p.quoted.proto === PROTO_TCP ? 'tcp' : 'udp'} port ${p.quoted.dport} unreachable`
      : `${addrToString(p.quoted?.dst ?? 0)} protocol ${p.quoted?.proto ?? 0} port ${quotedChecksum(p)} unreachable`,
  9: (p) => `net ${addrToString(p.quoted?.dst ?? 0)} unreachable - admin prohibited`,
  10: (p) => `host ${addrToString(p.quoted?.dst ?? 0)} unreachable - admin prohibited`,
  13: (p) => `host ${addrToString(p.quoted?.dst ?? 0)} unreachable - admin prohibited filter`,
};

/** The quoted ICMP echo's checksum (ones' complement sum of type/code, id, seq; zero payload). */
function quotedChecksum(p: Packet): number {
  const q = p.quoted;
  if (!q) return 0;
  let sum = ((q.icmpType << 8) | q.icmpCode) + q.icmpId + q.icmpSeq;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function clock(at: number): string {
  const s = Math.floor(at);
  const us = Math.floor((at - s) * 1e6);
  const hh = Math.floor(s / 3600) % 24;
  const mm = Math.floor(s / 60) % 60;
  const ss = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(12 + hh)}:${two(mm)}:${two(ss)}.${String(us).padStart(6, '0')}`;
}

function flagText(f: number): string {
  let s = '';
  if (f & TCP_FIN) s += 'F';
  if (f & TCP_SYN) s += 'S';
  if (f & TCP_RST) s += 'R';
  if (f & TCP_PSH) s += 'P';
  if (f & TCP_URG) s += 'U';
  if (f & TCP_ACK) s += '.';
  return s === '' ? 'none' : s;
}

/** TCP options as tcpdump lists them: mss, sackOK, TS val/ecr, nop, wscale. */
function optionText(o: Uint8Array): string {
  const out: string[] = [];
  let i = 0;
  while (i < o.length) {
    const kind = o[i]!;
    if (kind === 0) {
      out.push('eol');
      break;
    }
    if (kind === 1) {
      out.push('nop');
      i++;
      continue;
    }
    const len = o[i + 1] ?? 2;
    const u16 = (k: number): number => ((o[k] ?? 0) << 8) | (o[k + 1] ?? 0);
    const u32 = (k: number): number => (((o[k] ?? 0) << 24) | ((o[k + 1] ?? 0) << 16) | ((o[k + 2] ?? 0) << 8) | (o[k + 3] ?? 0)) >>> 0;
    if (kind === 2) out.push(`mss ${u16(i + 2)}`);
    else if (kind === 3) out.push(`wscale ${o[i + 2] ?? 0}`);
    else if (kind === 4) out.push('sackOK');
    else if (kind === 8) out.push(`TS val ${u32(i + 2)} ecr ${u32(i + 6)}`);
    else out.push(`unknown-${kind}`);
    i += Math.max(2, len);
  }
  return out.join(',');
}

/** An ARP frame: `ARP, Request who-has T tell S, length 28` / `ARP, Reply T is-at MAC, length 28`. */
export function formatArpLine(arp: { op: 'request' | 'reply'; target: number; sender: number; mac: string }, at: number): string {
  const what = arp.op === 'request' ? `Request who-has ${addrToString(arp.target)} tell ${addrToString(arp.sender)}` : `Reply ${addrToString(arp.target)} is-at ${arp.mac}`;
  return `${clock(at)} ARP, ${what}, length 28\n`;
}

export function formatTcpdumpLine(p: Packet, at: number, st: TcpdumpState): string {
  const a = addrToString;
  const head = `${clock(at)} IP `;
  if (p.proto === PROTO_ICMP) {
    const len = p.len - 20;
    let what: string;
    if (p.icmpType === 8) what = `ICMP echo request, id ${p.icmpId}, seq ${p.icmpSeq}, length ${len}`;
    else if (p.icmpType === 0) what = `ICMP echo reply, id ${p.icmpId}, seq ${p.icmpSeq}, length ${len}`;
    else if (p.icmpType === 3) what = `ICMP ${(UNREACH[p.icmpCode] ?? ((): string => `unreachable code ${p.icmpCode}`))(p)}, length ${len}`;
    else if (p.icmpType === 11) what = `ICMP time exceeded in-transit, length ${len}`;
    else what = `ICMP type-#${p.icmpType}, length ${len}`;
    return `${head}${a(p.src)} > ${a(p.dst)}: ${what}\n`;
  }
  if (p.proto === PROTO_UDP) {
    // print-udp.c hands port 53 to the DNS printer: a datagram shorter than a DNS header is "invalid" (recorded:
    // nc -zu's one-byte probe to port 53); a longer one would be decoded, which is not simulated.
    const dns = (p.sport === 53 || p.dport === 53) && p.len - 28 < 12 ? `domain [length ${p.len - 28} < 12] (invalid)` : `UDP, length ${p.len - 28}`;
    return `${head}${a(p.src)}.${p.sport} > ${a(p.dst)}.${p.dport}: ${dns}\n`;
  }
  if (p.proto !== PROTO_TCP) return `${head}${a(p.src)} > ${a(p.dst)}: ip-proto-${p.proto} ${p.len - 20}\n`;
  const hdr = 20 + p.tcpOptions.length;
  const payload = Math.max(0, p.len - 20 - hdr);
  const key = `${p.src}.${p.sport}>${p.dst}.${p.dport}`;
  const rev = `${p.dst}.${p.dport}>${p.src}.${p.sport}`;
  let seqText: string;
  let ackText = '';
  const known = st.isn.get(key);
  if (!known || p.tcpFlags & TCP_SYN) {
    // First segment seen of this direction: absolute numbers, remembered as the base.
    const back = st.isn.get(rev);
    st.isn.set(key, { seq: p.seq, ack: back ? back.seq : p.ackSeq });
    seqText = payload > 0 ? `${p.seq}:${(p.seq + payload) >>> 0}` : `${p.seq}`;
    if (p.tcpFlags & TCP_ACK) ackText = `, ack ${p.ackSeq}`;
  } else {
    const rs = (p.seq - known.seq) >>> 0;
    seqText = payload > 0 ? `${rs}:${rs + payload}` : `${rs}`;
    const back = st.isn.get(rev);
    if (p.tcpFlags & TCP_ACK) ackText = `, ack ${back ? (p.ackSeq - back.seq) >>> 0 : p.ackSeq}`;
  }
  const showSeq = payload > 0 || p.tcpFlags & (TCP_SYN | TCP_FIN | TCP_RST) || !(p.tcpFlags & TCP_ACK);
  const opts = p.tcpOptions.length > 0 ? `, options [${optionText(p.tcpOptions)}]` : '';
  const parts = `Flags [${flagText(p.tcpFlags)}]${showSeq ? `, seq ${seqText}` : ''}${ackText}, win ${p.window}${opts}, length ${payload}`;
  // print-http.c: the first line of a request or response on port 80 or 8080 (print-tcp.c's HTTP_PORT_ALT, recorded:
  // docker-bridge).
  const firstLine = p.payload?.split(/\r?\n/)[0];
  const isHttp = (port: number): boolean => port === 80 || port === 8080;
  const http = payload > 0 && (isHttp(p.dport) || isHttp(p.sport)) ? `: HTTP${firstLine && /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|HTTP\/)/.test(firstLine) ? `: ${firstLine}` : ''}` : '';
  return `${head}${a(p.src)}.${p.sport} > ${a(p.dst)}.${p.dport}: ${parts}${http}\n`;
}
