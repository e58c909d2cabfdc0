/**
 * The LOG and TRACE lines as the Linux kernel writes them to the kernel log (net/netfilter/nf_log_syslog.c:
 * nf_log_ip_packet -> nf_log_dump_packet_common, dump_mac_header, dump_ipv4_packet; the TRACE prefix of
 * ip_tables.c trace_packet). Each function returns the text `dmesg` shows after its `[   12.345678] ` timestamp,
 * with the space the kernel leaves after the last field (`... URGP=0 `) kept.
 *
 * The kernel reads everything from the packet's bytes; here they come from the Packet. Where the Packet contract
 * has no field for a header detail the kernel prints (fragment offset, MF, the reserved "CE" bit, TCP reserved
 * bits, IPsec SPI, the quoted packet's full TCP header...), LogExtras / QuotedExtras carry it; all of them are
 * optional and default to what a plain packet has. What is available of the packet is judged from `len` as the
 * kernel judges it from skb->len: a first fragment too short for its TCP header prints `INCOMPLETE [n bytes]`,
 * an ICMP error whose length leaves no room for the quoted header prints `INCOMPLETE`, and so on.
 *
 * ICMP: the Packet's icmpId / icmpSeq are the two 16-bit halves of the ICMP header's second word whatever the
 * type, so GATEWAY= of a redirect is (icmpId << 16 | icmpSeq), MTU= of frag-needed is icmpSeq and PARAMETER= of
 * a parameter problem is icmpId >> 8.
 *
 * What the caller must get right (seen in fixtures/traces/log-lines.json, not decided here):
 *  - uid/gid: defined whenever the kernel's skb->sk is a full socket whose file is open. That is a local process's
 *    packet in OUTPUT/POSTROUTING, but also an arriving TCP packet of a connected local socket in INPUT (early demux
 *    ties it to the socket before INPUT; not in PREROUTING, not the SYN, not the handshake's last ACK, which meets
 *    a request socket). Kernel-made packets (RST, echo replies, ICMP errors) and TIME_WAIT ACKs have none; a
 *    TIME_WAIT ACK still carries the socket's SO_MARK.
 *  - ipOptions: a Record Route option is filled in (receiving address, pointer + 4) on local delivery, so INPUT
 *    shows other option bytes than PREROUTING.
 *  - TOS= shows tos & 0x1e only (the ECN bits and bit 0 vanish), PREC= tos & 0xe0; the kernel's own ICMP errors
 *    carry PREC=0xC0.
 *
 * Not printed by this code because the Packet carries no such thing: VLAN tags (VPROTO/VID), bridge PHYSIN/
 * PHYSOUT, SIT tunnels (TUNNEL=). The log level (--log-level) is not part of the text dmesg shows.
 */
import type { Packet, QuotedPacket } from './packet';

/** --log-tcp-sequence, --log-tcp-options, --log-ip-options, --log-uid, --log-macdecode (xt_LOG.h). */
export const XT_LOG_TCPSEQ = 0x01;
export const XT_LOG_TCPOPT = 0x02;
export const XT_LOG_IPOPT = 0x04;
export const XT_LOG_UID = 0x08;
export const XT_LOG_MACDECODE = 0x20;
/** The flags TRACE logs with (ip_tables.c trace_loginfo): tcp sequence, tcp options, ip options, uid. */
export const NF_LOG_DEFAULT_MASK = 0x0f;

/** IPv4 header details outside the Packet contract. */
export interface IpExtras {
  /** Fragment offset as the header holds it (8-byte units); the kernel prints it as `FRAG:<n>`. */
  fragOffset?: number;
  /** More-fragments flag (`MF`). */
  mf?: boolean;
  /** The reserved flag bit 0x8000 of frag_off, which the kernel prints as `CE`. */
  ce?: boolean;
}

/** Transport header details outside the Packet contract. */
export interface TransportExtras {
  /**
   * The three reserved bits of the TCP header (the high bits of the data-offset byte's low nibble, 0..7). The
   * fourth bit of that nibble, AE (formerly NS), is tcpFlags 0x100.
   */
  tcpRes?: number;
  /** The UDP header's length field; default: the IP payload length. */
  udpLen?: number;
  /** AH / ESP security parameter index. */
  spi?: number;
}

export type LogExtras = IpExtras & TransportExtras;

/** What the kernel may print of a quoted packet beyond QuotedPacket (whatever the ICMP error's length reaches). */
export interface QuotedExtras extends IpExtras, TransportExtras {
  /** Raw IP option bytes of the quoted header. */
  ipOptions?: Uint8Array;
  ackSeq?: number;
  tcpFlags?: number;
  window?: number;
  urgPtr?: number;
  tcpOptions?: Uint8Array;
}

/** A Packet, plus the header details LOG prints that the Packet contract leaves out. */
export type LogPacket = Omit<Packet, 'quoted'> & LogExtras & { quoted: (QuotedPacket & QuotedExtras) | undefined };

/** The kind of device the packet came in on, which decides how the link-layer header is shown. */
export type LinkType = 'ether' | 'loopback' | 'none';

export interface LogLineInput {
  /** The --log-prefix (or the TRACE prefix), printed as is before `IN=`. */
  prefix: string;
  /** XT_LOG_* bits. */
  flags: number;
  pkt: LogPacket;
  /** IN= (null: empty, and then no link-layer part). */
  inIface: string | null;
  /** OUT= (null: empty). */
  outIface: string | null;
  /** false: leave out the link-layer part (MAC=... or MACSRC=... MACDST=... MACPROTO=...), as the JSON output does. */
  macHeader: boolean;
  /** Default: 'loopback' for `lo` (its MAC= reads 00:00:00:00:00:00:00:00:00:00:00:00:08:00), else 'ether'. */
  linkType?: LinkType;
}

export type TraceType = 'rule' | 'return' | 'policy';

/**
 * The kernel's log buffer (struct nf_log_buf): 1019 bytes counting the two-byte level marker; what does not fit
 * is cut, and nothing is added once it is full.
 */
class LogBuf {
  private static readonly SIZE = 1024 - 5;
  private text = '';
  private count = 2; // KERN_SOH + level digit
  private full = false;

  add(s: string): void {
    if (this.full) return;
    if (this.count + s.length < LogBuf.SIZE) {
      this.text += s;
      this.count += s.length;
      return;
    }
    // vsnprintf wrote what fitted, less one byte for its NUL.
    this.text += s.slice(0, LogBuf.SIZE - this.count - 1);
    this.count = LogBuf.SIZE;
    this.full = true;
  }

  toString(): string {
    return this.text;
  }
}

const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');
const HEX2 = (n: number): string => hex2(n).toUpperCase();
const ip4 = (a: number): string => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
const bytesHex = (b: Uint8Array): string => Array.from(b, HEX2).join('');

function macText(mac: string | null): string {
  if (!mac) return '00:00:00:00:00:00';
  return mac
    .split(':')
    .map((x) => x.toLowerCase().padStart(2, '0'))
    .join(':');
}

// Protocol numbers dump_ipv4_packet knows.
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ESP = 50;
const IPPROTO_AH = 51;
const IPPROTO_UDPLITE = 136;

const ICMP_ECHOREPLY = 0;
const ICMP_DEST_UNREACH = 3;
const ICMP_SOURCE_QUENCH = 4;
const ICMP_REDIRECT = 5;
const ICMP_ECHO = 8;
const ICMP_TIME_EXCEEDED = 11;
const ICMP_PARAMETERPROB = 12;
const ICMP_FRAG_NEEDED = 4;
const NR_ICMP_TYPES = 18;
/** dump_ipv4_packet's required_len: bytes after the IP header an ICMP type needs before its fields are printed. */
const ICMP_REQUIRED_LEN: Record<number, number> = { 0: 4, 3: 28, 4: 28, 5: 28, 8: 4, 11: 28, 12: 28, 13: 20, 14: 20, 17: 12, 18: 12 };

/** One IPv4 header and what follows it, as dump_ipv4_packet reads them (outer packet or quoted one). */
interface IpView {
  src: number;
  dst: number;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  mf: boolean;
  ce: boolean;
  fragOffset: number;
  len: number;
  ipOptions: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ackSeq: number;
  tcpFlags: number;
  tcpRes: number;
  window: number;
  urgPtr: number;
  tcpOptions: Uint8Array;
  udpLen: number | undefined;
  spi: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
}

const EMPTY = new Uint8Array(0);
const ZERO_QUOTED: QuotedPacket = {
  src: 0,
  dst: 0,
  proto: 0,
  tos: 0,
  ttl: 0,
  id: 0,
  df: false,
  len: 0,
  sport: 0,
  dport: 0,
  seq: 0,
  icmpType: 0,
  icmpCode: 0,
  icmpId: 0,
  icmpSeq: 0,
};

/** Header length in bytes of an IP header with these options (ihl * 4; options padded to 4 bytes). */
const ipHeaderLen = (opts: Uint8Array): number => 20 + Math.ceil(opts.length / 4) * 4;
/** Option bytes as the header carries them, padded with zeros (EOL) to a multiple of 4. */
function paddedOptions(opts: Uint8Array): Uint8Array {
  const n = Math.ceil(opts.length / 4) * 4;
  if (n === opts.length) return opts;
  const out = new Uint8Array(n);
  out.set(opts);
  return out;
}

function outerView(p: LogPacket): IpView {
  return {
    src: p.src,
    dst: p.dst,
    proto: p.proto,
    tos: p.tos,
    ttl: p.ttl,
    id: p.id,
    df: p.df,
    mf: p.mf ?? false,
    ce: p.ce ?? false,
    fragOffset: p.fragOffset ?? 0,
    len: p.len,
    ipOptions: p.ipOptions ?? EMPTY,
    sport: p.sport,
    dport: p.dport,
    seq: p.seq,
    ackSeq: p.ackSeq,
    tcpFlags: p.tcpFlags,
    tcpRes: p.tcpRes ?? 0,
    window: p.window,
    urgPtr: p.urgPtr,
    tcpOptions: p.tcpOptions ?? EMPTY,
    udpLen: p.udpLen,
    spi: p.spi ?? 0,
    icmpType: p.icmpType,
    icmpCode: p.icmpCode,
    icmpId: p.icmpId,
    icmpSeq: p.icmpSeq,
  };
}

function quotedView(q: QuotedPacket & QuotedExtras): IpView {
  return {
    src: q.src,
    dst: q.dst,
    proto: q.proto,
    tos: q.tos,
    ttl: q.ttl,
    id: q.id,
    df: q.df,
    mf: q.mf ?? false,
    ce: q.ce ?? false,
    fragOffset: q.fragOffset ?? 0,
    len: q.len,
    ipOptions: q.ipOptions ?? EMPTY,
    sport: q.sport,
    dport: q.dport,
    seq: q.seq,
    ackSeq: q.ackSeq ?? 0,
    tcpFlags: q.tcpFlags ?? 0,
    tcpRes: q.tcpRes ?? 0,
    window: q.window ?? 0,
    urgPtr: q.urgPtr ?? 0,
    tcpOptions: q.tcpOptions ?? EMPTY,
    udpLen: q.udpLen,
    spi: q.spi ?? 0,
    icmpType: q.icmpType,
    icmpCode: q.icmpCode,
    icmpId: q.icmpId,
    icmpSeq: q.icmpSeq,
  };
}

interface DumpCtx {
  m: LogBuf;
  flags: number;
  /** skb->len: the outer datagram's length; every header read must fit in it. */
  skbLen: number;
  pkt: LogPacket;
}

/** nf_log_dump_tcp_header; true when the dump stops there (no UID/MARK after). */
function dumpTcp(c: DumpCtx, h: IpView, fragment: boolean, offset: number): boolean {
  const { m } = c;
  m.add('PROTO=TCP ');
  if (fragment) return false;
  if (c.skbLen - offset < 20) {
    m.add(`INCOMPLETE [${c.skbLen - offset} bytes] `);
    return true;
  }
  m.add(`SPT=${h.sport} DPT=${h.dport} `);
  if (c.flags & XT_LOG_TCPSEQ) m.add(`SEQ=${h.seq >>> 0} ACK=${h.ackSeq >>> 0} `);
  m.add(`WINDOW=${h.window} `);
  // RES: the reserved bits of the flag word (TCP_RESERVED_BITS, AE excluded) shifted right by 22.
  m.add(`RES=0x${hex2((h.tcpRes & 7) << 3)} `);
  const f = h.tcpFlags;
  if (f & 0x100) m.add('AE ');
  if (f & 0x80) m.add('CWR ');
  if (f & 0x40) m.add('ECE ');
  if (f & 0x20) m.add('URG ');
  if (f & 0x10) m.add('ACK ');
  if (f & 0x08) m.add('PSH ');
  if (f & 0x04) m.add('RST ');
  if (f & 0x02) m.add('SYN ');
  if (f & 0x01) m.add('FIN ');
  m.add(`URGP=${h.urgPtr} `);
  const opts = paddedOptions(h.tcpOptions);
  if (c.flags & XT_LOG_TCPOPT && opts.length > 0) {
    if (c.skbLen - offset - 20 < opts.length) {
      m.add('OPT (TRUNCATED)');
      return true;
    }
    m.add(`OPT (${bytesHex(opts)}) `);
  }
  return false;
}

/** nf_log_dump_udp_header; true when the dump stops there. */
function dumpUdp(c: DumpCtx, h: IpView, fragment: boolean, offset: number, ihl: number): boolean {
  const { m } = c;
  m.add(h.proto === IPPROTO_UDP ? 'PROTO=UDP ' : 'PROTO=UDPLITE ');
  if (fragment) return false;
  if (c.skbLen - offset < 8) {
    m.add(`INCOMPLETE [${c.skbLen - offset} bytes] `);
    return true;
  }
  m.add(`SPT=${h.sport} DPT=${h.dport} LEN=${h.udpLen ?? h.len - ihl} `);
  return false;
}

/** dump_ipv4_packet: the header at `iphoff` (0 for the packet itself, > 0 for the packet an ICMP error quotes). */
function dumpIpv4(c: DumpCtx, h: IpView, iphoff: number): void {
  const { m } = c;
  if (c.skbLen - iphoff < 20) {
    m.add('TRUNCATED');
    return;
  }
  m.add(`SRC=${ip4(h.src)} DST=${ip4(h.dst)} `);
  m.add(`LEN=${h.len} TOS=0x${HEX2(h.tos & 0x1e)} PREC=0x${HEX2(h.tos & 0xe0)} TTL=${h.ttl} ID=${h.id} `);
  if (h.ce) m.add('CE ');
  if (h.df) m.add('DF ');
  if (h.mf) m.add('MF ');
  const fragOffset = h.fragOffset & 0x1fff;
  if (fragOffset) m.add(`FRAG:${fragOffset} `);
  const fragment = fragOffset !== 0;
  const opts = paddedOptions(h.ipOptions);
  const ihl = ipHeaderLen(h.ipOptions);
  if (c.flags & XT_LOG_IPOPT && opts.length > 0) {
    if (c.skbLen - iphoff - 20 < opts.length) {
      m.add('TRUNCATED');
      return;
    }
    m.add(`OPT (${bytesHex(opts)}) `);
  }
  const l4 = iphoff + ihl;
  const avail = c.skbLen - l4;
  switch (h.proto) {
    case IPPROTO_TCP:
      if (dumpTcp(c, h, fragment, l4)) return;
      break;
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      if (dumpUdp(c, h, fragment, l4, ihl)) return;
      break;
    case IPPROTO_ICMP: {
      m.add('PROTO=ICMP ');
      if (fragment) break;
      if (avail < 8) {
        m.add(`INCOMPLETE [${avail} bytes] `);
        break;
      }
      const type = h.icmpType;
      m.add(`TYPE=${type} CODE=${h.icmpCode} `);
      const need = type <= NR_ICMP_TYPES ? ICMP_REQUIRED_LEN[type] : undefined;
      if (need !== undefined && avail < need) {
        m.add(`INCOMPLETE [${avail} bytes] `);
        break;
      }
      const word = ((h.icmpId & 0xffff) * 0x10000 + (h.icmpSeq & 0xffff)) >>> 0;
      switch (type) {
        case ICMP_ECHOREPLY:
        case ICMP_ECHO:
          m.add(`ID=${h.icmpId} SEQ=${h.icmpSeq} `);
          break;
        case ICMP_PARAMETERPROB:
          m.add(`PARAMETER=${word >>> 24} `);
          break;
        case ICMP_REDIRECT:
        case ICMP_DEST_UNREACH:
        case ICMP_SOURCE_QUENCH:
        case ICMP_TIME_EXCEEDED:
          if (type === ICMP_REDIRECT) m.add(`GATEWAY=${ip4(word)} `);
          // Only the packet itself recurses, once.
          if (iphoff === 0) {
            m.add('[');
            // An error that quotes no known packet is shown as quoting an all-zero header.
            dumpIpv4(c, quotedView(c.pkt.quoted ?? ZERO_QUOTED), l4 + 8);
            m.add('] ');
          }
          if (type === ICMP_DEST_UNREACH && h.icmpCode === ICMP_FRAG_NEEDED) m.add(`MTU=${word & 0xffff} `);
          break;
        default:
          break;
      }
      break;
    }
    case IPPROTO_AH:
      // A later fragment of AH prints not even its protocol.
      if (fragment) break;
      m.add('PROTO=AH ');
      if (avail < 12) {
        m.add(`INCOMPLETE [${avail} bytes] `);
        break;
      }
      m.add(`SPI=0x${(h.spi >>> 0).toString(16)} `);
      break;
    case IPPROTO_ESP:
      m.add('PROTO=ESP ');
      if (fragment) break;
      if (avail < 8) {
        m.add(`INCOMPLETE [${avail} bytes] `);
        break;
      }
      m.add(`SPI=0x${(h.spi >>> 0).toString(16)} `);
      break;
    default:
      m.add(`PROTO=${h.proto} `);
  }
  if (iphoff !== 0) return;
  // nf_log_dump_sk_uid_gid: only a full socket with an open file (a local process's packet).
  if (c.flags & XT_LOG_UID && c.pkt.uid !== undefined) m.add(`UID=${c.pkt.uid >>> 0} GID=${(c.pkt.gid ?? 0) >>> 0} `);
  if (c.pkt.mark) m.add(`MARK=0x${(c.pkt.mark >>> 0).toString(16)} `);
}

/** dump_mac_header, for a packet that came in on a device (IN= set). */
function dumpMac(m: LogBuf, i: LogLineInput): void {
  const link: LinkType = i.linkType ?? (i.inIface === 'lo' ? 'loopback' : 'ether');
  if (i.flags & XT_LOG_MACDECODE && link === 'ether') {
    m.add(`MACSRC=${macText(i.pkt.macSrc)} MACDST=${macText(i.pkt.macDst)} MACPROTO=0800 `);
    return;
  }
  if (link === 'none') {
    m.add('MAC= ');
    return;
  }
  const src = link === 'loopback' ? null : i.pkt.macSrc;
  const dst = link === 'loopback' ? null : i.pkt.macDst;
  m.add(`MAC=${macText(dst)}:${macText(src)}:08:00 `);
}

/** A LOG target's line: `PREFIX IN=.. OUT=.. MAC=.. SRC=.. ...` (what dmesg shows after the timestamp). */
export function formatLogLine(i: LogLineInput): string {
  const m = new LogBuf();
  m.add(`${i.prefix}IN=${i.inIface ?? ''} OUT=${i.outIface ?? ''} `);
  // br_netfilter: a bridged packet also names its bridge ports, where they are not IN/OUT themselves
  // (nf_log_dump_packet_common; recorded: fixtures/labs/bridge-nf.sh).
  if (i.pkt.physIn !== undefined && i.pkt.physIn !== i.inIface) m.add(`PHYSIN=${i.pkt.physIn} `);
  if (i.pkt.physOut !== undefined && i.pkt.physOut !== i.outIface) m.add(`PHYSOUT=${i.pkt.physOut} `);
  if (i.pkt.arp) {
    // nf_log_arp's dump_arp_packet(): no MAC= part, and no blank at the end (recorded: fixtures/labs/bridge-arp.sh).
    const a = i.pkt.arp;
    m.add(`ARP HTYPE=1 PTYPE=0x0800 OPCODE=${a.op} MACSRC=${macText(a.sha)} IPSRC=${ip4(a.spa)} MACDST=${macText(a.tha)} IPDST=${ip4(a.tpa)}`);
    return m.toString();
  }
  if (i.inIface !== null && i.macHeader) dumpMac(m, i);
  dumpIpv4({ m, flags: i.flags, skbLen: i.pkt.len, pkt: i.pkt }, outerView(i.pkt), 0);
  return m.toString();
}

/** The TRACE prefix ip_tables.c builds: `TRACE: raw:PREROUTING:policy:2 `. */
export function tracePrefix(table: string, chain: string, type: TraceType, n: number): string {
  return `TRACE: ${table}:${chain}:${type}:${n} `;
}

/** A TRACE line: the TRACE prefix, then the packet dumped with NF_LOG_DEFAULT_MASK (no MAC decoding). */
export function traceLine(
  table: string,
  chain: string,
  type: TraceType,
  n: number,
  i: Omit<LogLineInput, 'prefix' | 'flags'>,
): string {
  return formatLogLine({ ...i, prefix: tracePrefix(table, chain, type, n), flags: NF_LOG_DEFAULT_MASK });
}
