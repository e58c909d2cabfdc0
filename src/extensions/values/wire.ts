/**
 * The bytes of a simulated packet as the kernel's IPv4 hooks see them (skb->data starts at the IP header):
 * the IP header with its options, the tcp/udp/icmp header (an ICMP error carries the quoted IP header and
 * the first 8 bytes of its transport header), then the payload up to the IP total length. No payload is
 * simulated: those bytes are zeros. Checksums are computed over exactly these bytes. Used by the matches that
 * read raw packet bytes (u32, string).
 */
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, isIcmpError, type Packet, type QuotedPacket } from '../../eval/packet';

/** The IP header length in bytes (20 plus the options, padded to 4 bytes as the IHL field counts them). */
export function ipHeaderLength(pkt: Packet): number {
  return 20 + pad4(pkt.ipOptions.length);
}

/** The TCP header length in bytes (20 plus the options, padded to 4 bytes as doff counts them). */
export function tcpHeaderLength(pkt: Packet): number {
  return 20 + pad4(pkt.tcpOptions.length);
}

/** The transport header length this serialiser writes (tcp, udp, icmp; 0 for other protocols). */
export function transportHeaderLength(pkt: Packet): number {
  switch (pkt.proto) {
    case PROTO_TCP:
      return tcpHeaderLength(pkt);
    case PROTO_UDP:
      return 8;
    case PROTO_ICMP:
      return isIcmpError(pkt.icmpType) && pkt.quoted ? 8 + 28 : 8;
    default:
      return 0;
  }
}

/** All headers: where the (zero) payload starts. */
export function headersLength(pkt: Packet): number {
  return ipHeaderLength(pkt) + transportHeaderLength(pkt);
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** RFC 1071 ones' complement sum over bytes [start, end), folded, not yet complemented. */
function sum16(b: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

interface IpFields {
  src: number;
  dst: number;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  len: number;
}

/** An IPv4 header at `at` (options copied after the 20 fixed bytes), checksum filled in. */
function writeIpHeader(b: Uint8Array, at: number, f: IpFields, options: Uint8Array): void {
  const hl = 20 + pad4(options.length);
  b[at] = 0x40 | (hl >>> 2);
  b[at + 1] = f.tos & 0xff;
  put16(b, at + 2, f.len & 0xffff);
  put16(b, at + 4, f.id & 0xffff);
  put16(b, at + 6, f.df ? 0x4000 : 0);
  b[at + 8] = f.ttl & 0xff;
  b[at + 9] = f.proto & 0xff;
  put32(b, at + 12, f.src);
  put32(b, at + 16, f.dst);
  b.set(options, at + 20);
  put16(b, at + 10, ~sum16(b, at, at + hl) & 0xffff);
}

/** The quoted packet of an ICMP error: its IP header and the first 8 bytes of its transport header. */
function writeQuoted(b: Uint8Array, at: number, q: QuotedPacket): void {
  writeIpHeader(b, at, q, new Uint8Array(0));
  const t = at + 20;
  switch (q.proto) {
    case PROTO_TCP:
      put16(b, t, q.sport);
      put16(b, t + 2, q.dport);
      put32(b, t + 4, q.seq);
      break;
    case PROTO_UDP:
      put16(b, t, q.sport);
      put16(b, t + 2, q.dport);
      put16(b, t + 4, Math.max(0, q.len - 20));
      break;
    case PROTO_ICMP:
      b[t] = q.icmpType & 0xff;
      b[t + 1] = q.icmpCode & 0xff;
      put16(b, t + 4, q.icmpId);
      put16(b, t + 6, q.icmpSeq);
      break;
  }
}

/**
 * The packet's bytes: max(pkt.len, headers) long, so a header never gets cut even when the total length
 * given is too short for it. Callers that bound reads by the datagram length use `pkt.len`.
 */
export function packetBytes(pkt: Packet): Uint8Array {
  const ihl = ipHeaderLength(pkt);
  const total = Math.max(pkt.len, headersLength(pkt));
  const b = new Uint8Array(total);
  writeIpHeader(b, 0, pkt, pkt.ipOptions);
  const t = ihl;
  const l4len = total - ihl;
  // The pseudo header of tcp/udp checksums: saddr, daddr, zero+proto, l4 length.
  const pseudo = (): number => {
    let s = 0;
    s += (pkt.src >>> 16) + (pkt.src & 0xffff) + (pkt.dst >>> 16) + (pkt.dst & 0xffff);
    s += pkt.proto + l4len;
    return s;
  };
  switch (pkt.proto) {
    case PROTO_TCP: {
      const thl = tcpHeaderLength(pkt);
      put16(b, t, pkt.sport);
      put16(b, t + 2, pkt.dport);
      put32(b, t + 4, pkt.seq);
      put32(b, t + 8, pkt.ackSeq);
      b[t + 12] = (thl >>> 2) << 4;
      b[t + 13] = pkt.tcpFlags & 0xff;
      put16(b, t + 14, pkt.window);
      put16(b, t + 18, pkt.urgPtr);
      b.set(pkt.tcpOptions, t + 20);
      put16(b, t + 16, ~sum16(b, t, total, pseudo()) & 0xffff);
      break;
    }
    case PROTO_UDP: {
      put16(b, t, pkt.sport);
      put16(b, t + 2, pkt.dport);
      put16(b, t + 4, l4len);
      const c = ~sum16(b, t, total, pseudo()) & 0xffff;
      put16(b, t + 6, c === 0 ? 0xffff : c);
      break;
    }
    case PROTO_ICMP: {
      b[t] = pkt.icmpType & 0xff;
      b[t + 1] = pkt.icmpCode & 0xff;
      if (isIcmpError(pkt.icmpType)) {
        if (pkt.quoted) writeQuoted(b, t + 8, pkt.quoted);
      } else {
        put16(b, t + 4, pkt.icmpId);
        put16(b, t + 6, pkt.icmpSeq);
      }
      put16(b, t + 2, ~sum16(b, t, total) & 0xffff);
      break;
    }
  }
  return b;
}
