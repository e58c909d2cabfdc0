/**
 * The PACKET of `tsiptables trace`: iptables-like options describing one packet, with documented defaults.
 *
 *   -p tcp|udp|icmp|N -s ADDR -d ADDR [--sport N] [--dport N] [--syn | --tcp-flags MASK COMP]
 *   [--icmp-type NAME|TYPE[/CODE]] [--icmp-id N] [--icmp-seq N] [-i IFACE] [--uid N] [--gid N] [--mark V]
 *   [--len N] [--ttl N] [--tos N] [--ip-id N] [--no-df] [--seq N] [--ack-seq N] [--window N] [--mac-source MAC]
 *
 * Defaults: TTL 64, TOS 0, DF set, IP id 0x1000 + the packet's index in the batch, tcp sport 40000 and dport
 * 80, udp sport 40000 and dport 53, icmp echo-request with id 0x1234 and seq 1, window 64240, length 40 (tcp),
 * 28 (udp), 84 (icmp echo), 56 (icmp errors: header plus the quoted 28 bytes), 20 otherwise. TCP without flags is
 * a SYN when it opens a connection and an ACK when it belongs to one already seen in the batch; sequence numbers
 * follow the connection (SYN seq 1000; replies ack what they answer). A local packet (no -i) from uid 0.
 *
 * An ARP frame instead: `-p arp [--arp-op request|reply] -s SENDER -d TARGET [-i IFACE] [--mac-source MAC]`; it
 * meets netdev and arp family chains only (buildArpFrame). `-i PORT` of a bridge of the host file: the frame comes
 * in by that port, and is bridged out of `-o PORT` (default: the bridge's first other port) unless it is for the
 * host itself.
 */
import { numericToAddr, addrToString } from '../model/ip';
import { parseIcmpType } from '../extensions/matches/icmp';
import { parseProtocol } from '../extensions/option-types';
import { IptablesError } from '../messages';
import type { ConntrackTable } from './conntrack';
import { peerMac } from './mac';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN, arpFrame, isIcmpError, type Packet, type QuotedPacket } from './packet';

export class PacketLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketLineError';
  }
}

/** The options as given; undefined = default. */
export interface PacketSpec {
  proto: number;
  src: number | undefined;
  dst: number;
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  icmpSeq?: number;
  inIface: string | null;
  uid?: number;
  gid?: number;
  mark?: number;
  len?: number;
  ttl?: number;
  tos?: number;
  ipId?: number;
  df: boolean;
  seq?: number;
  ackSeq?: number;
  window?: number;
  macSource?: string;
  /** `-p arp`: an ARP frame of this operation (1 request, 2 reply). */
  arpOp?: number;
  /** `-o PORT`: the bridge port a frame that came in by another port of the same bridge leaves by. */
  outPort?: string;
}

const FLAG_BITS: Readonly<Record<string, number>> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ALL: 63, NONE: 0 };

/** The value of a string of 1 to 15 decimal digits, else -1 (no regular expression on the hot path). */
function digits(v: string): number {
  const len = v.length;
  if (len === 0 || len > 15) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function num(opt: string, v: string | undefined, max: number): number {
  if (v === undefined) throw new PacketLineError(`${opt}: missing value`);
  const d = digits(v);
  const n = d >= 0 ? d : /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n > max) throw new PacketLineError(`${opt}: "${v}" is not a number from 0 to ${max}`);
  return n;
}

/**
 * A plain dotted quad (four decimal bytes without leading zeros) as numericToAddr() reads it, else -1: the
 * common case without splitting the string.
 */
function dottedQuad(v: string): number {
  let a = 0;
  let part = 0;
  let len = 0;
  let dots = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46) {
      if (len === 0 || dots === 3) return -1;
      a = a * 256 + part;
      part = 0;
      len = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (len === 1 && part === 0)) return -1;
    part = part * 10 + d;
    if (++len > 3 || part > 255) return -1;
  }
  if (len === 0 || dots !== 3) return -1;
  return a * 256 + part;
}

function addr(opt: string, v: string | undefined): number {
  const quad = v === undefined ? -1 : dottedQuad(v);
  if (quad >= 0) return quad;
  const a = v === undefined ? null : numericToAddr(v, false);
  if (a === null || v === undefined || v.split('.').length !== 4) throw new PacketLineError(`${opt}: "${v ?? ''}" is not an IPv4 address`);
  return a;
}

function flags(opt: string, v: string | undefined): number {
  if (v === undefined) throw new PacketLineError(`${opt}: missing flags`);
  let f = 0;
  for (const w of v.split(',').filter((x) => x !== '')) {
    const b = FLAG_BITS[w.toUpperCase()];
    if (b === undefined) throw new PacketLineError(`${opt}: unknown TCP flag "${w}"`);
    f |= b;
  }
  return f;
}

/** No quote or backslash: the words are the runs of non-blanks. */
const PLAIN_LINE = /^[^"'\\]*$/;

/**
 * Splits a PACKET line as a shell would (quotes, backslashes), for --batch files. A line of ASCII without
 * quotes or backslashes is cut at its blanks in one pass; any other goes through splitQuoted().
 */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    // The ASCII characters of \s: tab, line feed, vertical tab, form feed, carriage return, space.
    if (c === 32 || (c >= 9 && c <= 13)) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (c === 34 || c === 39 || c === 92 || c >= 0x80) return splitQuoted(line);
    else if (start < 0) start = i;
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

function splitQuoted(line: string): string[] {
  if (PLAIN_LINE.test(line)) {
    const t = line.trim();
    return t === '' ? [] : t.split(/\s+/);
  }
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|((?:[^\s"'\\]|\\.)+)/g;
  let m: RegExpExecArray | null;
  let cur = '';
  let last = -1;
  while ((m = re.exec(line)) !== null) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]!.replace(/\\(.)/g, '$1');
    if (last === m.index) cur += piece;
    else {
      if (last >= 0) out.push(cur);
      cur = piece;
    }
    last = re.lastIndex;
  }
  if (last >= 0) out.push(cur);
  return out;
}

/** Protocol words seen so far and their numbers (parseProtocol() walks the protocol table). */
const protocols = new Map<string, number>();

function protocol(v: string | undefined): number {
  const known = v === undefined ? undefined : protocols.get(v);
  if (known !== undefined) return known;
  let n: number;
  try {
    n = parseProtocol(v ?? '');
  } catch {
    throw new PacketLineError(`-p: unknown protocol "${v ?? ''}"`);
  }
  if (v !== undefined && protocols.size < 1024) protocols.set(v, n);
  return n;
}

export function parsePacketArgs(argv: readonly string[]): PacketSpec {
  let proto: number | undefined;
  let arp = false;
  let arpOp: number | undefined;
  let src: number | undefined;
  let dst: number | undefined;
  const spec: Partial<PacketSpec> & { df: boolean; inIface: string | null } = { df: true, inIface: null };
  let i = 0;
  const val = (): string | undefined => argv[++i];
  for (; i < argv.length; i++) {
    const opt = argv[i]!;
    switch (opt) {
      case '-p':
      case '--protocol': {
        const v = val();
        arp = v === 'arp';
        proto = arp ? 0 : protocol(v);
        break;
      }
      case '--arp-op': {
        const v = val();
        const op = v === 'request' ? 1 : v === 'reply' ? 2 : undefined;
        if (op === undefined) throw new PacketLineError(`--arp-op: "${v ?? ''}" is not request or reply`);
        arpOp = op;
        break;
      }
      case '-s':
      case '--source':
        src = addr(opt, val());
        break;
      case '-d':
      case '--destination':
        dst = addr(opt, val());
        break;
      case '--sport':
        spec.sport = num(opt, val(), 65535);
        break;
      case '--dport':
        spec.dport = num(opt, val(), 65535);
        break;
      case '--syn':
        spec.tcpFlags = TCP_SYN;
        break;
      case '--tcp-flags':
        flags(opt, val());
        spec.tcpFlags = flags(opt, val());
        break;
      case '--icmp-type': {
        const v = val() ?? '';
        try {
          const t = parseIcmpType(v);
          spec.icmpType = t.type;
          spec.icmpCode = t.codeMin === 0 && t.codeMax === 255 ? 0 : t.codeMin;
        } catch (e) {
          throw new PacketLineError(`--icmp-type: ${e instanceof IptablesError ? e.message : `bad type "${v}"`}`);
        }
        break;
      }
      case '--icmp-id':
        spec.icmpId = num(opt, val(), 65535);
        break;
      case '--icmp-seq':
        spec.icmpSeq = num(opt, val(), 65535);
        break;
      case '-i':
      case '--in-interface': {
        const v = val();
        if (!v) throw new PacketLineError('-i: missing interface name');
        spec.inIface = v;
        break;
      }
      case '-o':
      case '--out-interface': {
        const v = val();
        if (!v) throw new PacketLineError(`${opt}: missing interface name`);
        spec.outPort = v;
        break;
      }
      case '--uid':
        spec.uid = num(opt, val(), 0xffffffff);
        break;
      case '--gid':
        spec.gid = num(opt, val(), 0xffffffff);
        break;
      case '--mark':
        spec.mark = num(opt, val(), 0xffffffff);
        break;
      case '--len':
        spec.len = num(opt, val(), 65535);
        break;
      case '--ttl':
        spec.ttl = num(opt, val(), 255);
        break;
      case '--tos':
        spec.tos = num(opt, val(), 255);
        break;
      case '--ip-id':
        spec.ipId = num(opt, val(), 65535);
        break;
      case '--no-df':
        spec.df = false;
        break;
      case '--seq':
        spec.seq = num(opt, val(), 0xffffffff);
        break;
      case '--ack-seq':
        spec.ackSeq = num(opt, val(), 0xffffffff);
        break;
      case '--window':
        spec.window = num(opt, val(), 65535);
        break;
      case '--mac-source': {
        const v = val() ?? '';
        if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v)) throw new PacketLineError(`--mac-source: "${v}" is not a MAC address`);
        spec.macSource = v.toLowerCase();
        break;
      }
      default:
        throw new PacketLineError(`unknown packet option "${opt}"`);
    }
  }
  if (proto === undefined) throw new PacketLineError('-p PROTO is required (tcp, udp, icmp, a number, or arp)');
  if (arp) spec.arpOp = arpOp ?? 1;
  else if (arpOp !== undefined) throw new PacketLineError('--arp-op needs -p arp');
  if (dst === undefined) throw new PacketLineError('-d ADDR is required');
  if (src === undefined && spec.inIface !== null) throw new PacketLineError('-s ADDR is required for a packet arriving with -i');
  if ((spec.sport !== undefined || spec.dport !== undefined) && proto !== PROTO_TCP && proto !== PROTO_UDP) throw new PacketLineError('--sport/--dport need -p tcp or -p udp');
  if (spec.tcpFlags !== undefined && proto !== PROTO_TCP) throw new PacketLineError('--syn/--tcp-flags need -p tcp');
  if (spec.icmpType !== undefined && proto !== PROTO_ICMP) throw new PacketLineError('--icmp-type needs -p icmp');
  if (spec.arpOp !== undefined) {
    const ipOnly = ['--len', '--ttl', '--tos', '--ip-id', '--no-df', '--mark', '--uid', '--gid', '--seq', '--ack-seq', '--window', '--icmp-id', '--icmp-seq'];
    const given = argv.find((a) => ipOnly.includes(a));
    if (given !== undefined) throw new PacketLineError(`-p arp: an ARP frame has no IP header, mark or owner (${given})`);
  }
  spec.proto = proto;
  spec.src = src;
  spec.dst = dst;
  return spec as PacketSpec;
}

/** A packet of the batch so far, remembered for defaults (TCP sequence numbers, ICMP errors' quotes). */
export interface SentRecord {
  /** The packet as it left the host or was delivered (after NAT), or as it arrived when dropped. */
  wire: Packet;
  /** As given. */
  given: Packet;
}

// Address pair keys as short flat strings, one UTF-16 unit per 16 bits: cheap to build and to hash.
const pairKey = (src: number, dst: number): string => String.fromCharCode(src >>> 16, src & 0xffff, dst >>> 16, dst & 0xffff);

/**
 * Flows (protocol, addresses and ports; addresses taken modulo 2^32, protocol and ports modulo 2^16) to two
 * uint32 values, the flow's latest as given or on the wire ("any") and its latest as given, in an
 * open-addressing hash table in one Int32Array: a 100,000-packet batch's 200,000 flows cost the garbage
 * collector nothing, a flow never seen is answered after a probe or two, and a packet's flow as given is
 * found once for both of its values.
 */
class FlowTable {
  /**
   * Per slot: protocol + 1 (0: empty; GIVEN set once a value as given is kept), source, destination, ports
   * (source << 16 | destination), the value on any view, the value as given.
   */
  private slots = new Int32Array(4096 * SLOT);
  private mask = 4095;
  private count = 0;

  /** The flow's slot, or the empty one where it would go (linear probing). */
  private find(t: Int32Array, mask: number, proto: number, src: number, dst: number, ports: number): number {
    let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ dst, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ ports, 0x27d4eb2f);
    h = Math.imul(h ^ (h >>> 16) ^ proto, 0x165667b1);
    let i = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const o = i * SLOT;
      const p = t[o]!;
      if (p === 0 || ((p & PROTO_BITS) === proto + 1 && t[o + 1] === src && t[o + 2] === dst && t[o + 3] === ports)) return o;
      i = (i + 1) & mask;
    }
  }

  /** The flow's latest value as given (`given`), or on any view. */
  get(proto: number, src: number, dst: number, sport: number, dport: number, given: boolean): number | undefined {
    const t = this.slots;
    const o = this.find(t, this.mask, proto & 0xffff, src | 0, dst | 0, ((sport & 0xffff) << 16) | (dport & 0xffff));
    const w = t[o]!;
    if (w === 0 || (given && !(w & GIVEN))) return undefined;
    return t[o + (given ? 5 : 4)]! >>> 0;
  }

  /** Keeps the value on any view, and as given when `given`. */
  set(proto: number, src: number, dst: number, sport: number, dport: number, value: number, given: boolean): void {
    const pr = proto & 0xffff;
    const s = src | 0;
    const d = dst | 0;
    const ports = ((sport & 0xffff) << 16) | (dport & 0xffff);
    let o = this.find(this.slots, this.mask, pr, s, d, ports);
    if (this.slots[o] === 0) {
      if ((this.count + 1) * 2 > this.mask + 1) {
        this.grow();
        o = this.find(this.slots, this.mask, pr, s, d, ports);
      }
      this.count++;
      const t = this.slots;
      t[o] = pr + 1;
      t[o + 1] = s;
      t[o + 2] = d;
      t[o + 3] = ports;
    }
    const t = this.slots;
    t[o + 4] = value | 0;
    if (given) {
      t[o] = t[o]! | GIVEN;
      t[o + 5] = value | 0;
    }
  }

  /** Four times the slots, every flow placed again. */
  private grow(): void {
    const old = this.slots;
    const size = (this.mask + 1) * 4;
    const t = new Int32Array(size * SLOT);
    const mask = size - 1;
    for (let o = 0; o < old.length; o += SLOT) {
      if (old[o] === 0) continue;
      const n = this.find(t, mask, (old[o]! & PROTO_BITS) - 1, old[o + 1]!, old[o + 2]!, old[o + 3]!);
      for (let w = 0; w < SLOT; w++) t[n + w] = old[o + w]!;
    }
    this.slots = t;
    this.mask = mask;
  }
}
const SLOT = 6;
/** The protocol + 1 part of a slot's first word, and the bit saying a value as given is kept. */
const PROTO_BITS = 0xfffff;
const GIVEN = 1 << 20;

/** The fields of a quote, in the order a QuoteStore keeps them. */
const QUOTE_FIELDS = ['src', 'dst', 'proto', 'tos', 'ttl', 'id', 'df', 'len', 'sport', 'dport', 'seq', 'icmpType', 'icmpCode', 'icmpId', 'icmpSeq'] as const;
const QF = QUOTE_FIELDS.length;

/**
 * The quotes of a batch's packets, one row of numbers each in a growing Float64Array (outside the garbage
 * collector's heap, which a 100,000-packet batch would otherwise fill with 200,000 small objects).
 */
class QuoteStore {
  private data = new Float64Array(QF * 1024);
  count = 0;

  push(w: Packet): void {
    if ((this.count + 1) * QF > this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    const d = this.data;
    const o = this.count++ * QF;
    d[o] = w.src;
    d[o + 1] = w.dst;
    d[o + 2] = w.proto;
    d[o + 3] = w.tos;
    d[o + 4] = w.ttl;
    d[o + 5] = w.id;
    d[o + 6] = w.df ? 1 : 0;
    d[o + 7] = w.len;
    d[o + 8] = w.sport;
    d[o + 9] = w.dport;
    d[o + 10] = w.seq;
    d[o + 11] = w.icmpType;
    d[o + 12] = w.icmpCode;
    d[o + 13] = w.icmpId;
    d[o + 14] = w.icmpSeq;
  }

  /** The addresses of row i, as pairKey() keys them. */
  key(i: number): string {
    return pairKey(this.data[i * QF]!, this.data[i * QF + 1]!);
  }

  get(i: number): QuotedPacket {
    const d = this.data;
    const o = i * QF;
    return {
      src: d[o]!,
      dst: d[o + 1]!,
      proto: d[o + 2]!,
      tos: d[o + 3]!,
      ttl: d[o + 4]!,
      id: d[o + 5]!,
      df: d[o + 6] === 1,
      len: d[o + 7]!,
      sport: d[o + 8]!,
      dport: d[o + 9]!,
      seq: d[o + 10]!,
      icmpType: d[o + 11]!,
      icmpCode: d[o + 12]!,
      icmpId: d[o + 13]!,
      icmpSeq: d[o + 14]!,
    };
  }
}

/**
 * The batch's earlier packets, indexed so that a packet's defaults find the latest one that matters however
 * long the batch: by address pair (an ICMP error's quote) and by flow (TCP sequence numbers: where the flow's
 * sequence space ends, the seq after the packet, + 1 for SYN or FIN). Only the small parts those defaults read
 * are kept, so a 100,000-packet batch does not hold 100,000 packets; the index by address pair is built when
 * the first ICMP error asks for it.
 */
export class BatchHistory {
  private readonly quotes = new QuoteStore();
  /** Address pair -> row of the latest quote; undefined until an ICMP error first asks. */
  private byPair: Map<string, number> | undefined;
  /** By flow: where its sequence space ends, as given and on any view. */
  private readonly byFlow = new FlowTable();

  add(r: SentRecord): void {
    const g = r.given;
    const w = r.wire;
    // One quote when NAT did not change the addresses (most packets): the wire view. The wire view comes last,
    // so it wins when both views have the same addresses.
    if ((g.src & 0xffffffff) !== (w.src & 0xffffffff) || (g.dst & 0xffffffff) !== (w.dst & 0xffffffff)) this.quote(g);
    this.quote(w);
    if (g.proto === PROTO_TCP) {
      const next = (g.seq + (g.tcpFlags & (TCP_SYN | 1) ? 1 : 0)) >>> 0;
      this.byFlow.set(g.proto, g.src, g.dst, g.sport, g.dport, next, true);
      this.byFlow.set(w.proto, w.src, w.dst, w.sport, w.dport, next, false);
    }
  }

  private quote(p: Packet): void {
    this.quotes.push(p);
    this.byPair?.set(pairKey(p.src, p.dst), this.quotes.count - 1);
  }

  /** The latest packet whose addresses (as sent or on the wire) go from src to dst, as a quote. */
  latestBetween(src: number, dst: number): QuotedPacket | undefined {
    if (this.byPair === undefined) {
      this.byPair = new Map();
      for (let i = 0; i < this.quotes.count; i++) this.byPair.set(this.quotes.key(i), i);
    }
    const i = this.byPair.get(pairKey(src, dst));
    return i === undefined ? undefined : this.quotes.get(i);
  }

  /** Where the latest packet given on the same flow, same direction, ended its sequence space. */
  sameFlow(p: Packet): number | undefined {
    return this.byFlow.get(p.proto, p.src, p.dst, p.sport, p.dport, true);
  }

  /** Where the latest packet of the flow's other direction (as given or on the wire) ended it. */
  otherDirection(p: Packet): number | undefined {
    return this.byFlow.get(p.proto, p.dst, p.src, p.dport, p.sport, false);
  }
}

/** No IP or TCP options: one empty array for every packet (options are replaced, never written in place). */
const NO_OPTIONS = new Uint8Array(0);

const peerMacs = new Map<string, string>();
/** peerMac(), remembered: a batch names the same few interfaces. */
function peerMacOf(iface: string): string {
  let m = peerMacs.get(iface);
  if (m === undefined) {
    m = peerMac(iface);
    if (peerMacs.size < 1024) peerMacs.set(iface, m);
  }
  return m;
}

/**
 * Builds the packet with every default filled in. `index` numbers packets in the batch (IP id default);
 * `history` holds the batch's earlier packets (the ICMP error quote, TCP defaults), `ct` the conntrack table.
 */
export function buildPacket(spec: PacketSpec, index: number, history: BatchHistory, ct: ConntrackTable, routeSource: (dst: number) => number | undefined): Packet {
  const proto = spec.proto;
  const src = spec.src ?? routeSource(spec.dst);
  if (src === undefined) throw new PacketLineError(`-s: no route to ${addrToString(spec.dst)} to take a source address from; give -s`);
  const p: Packet = {
    src,
    dst: spec.dst,
    proto,
    tos: spec.tos ?? 0,
    ttl: spec.ttl ?? 64,
    id: spec.ipId ?? (0x1000 + index) & 0xffff,
    df: spec.df,
    len: 20,
    ipOptions: NO_OPTIONS,
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    seq: 0,
    ackSeq: 0,
    window: 0,
    urgPtr: 0,
    tcpOptions: NO_OPTIONS,
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    icmpSeq: 0,
    quoted: undefined,
    mark: spec.mark ?? 0,
    inIface: spec.inIface,
    outIface: null,
    macSrc: spec.inIface !== null ? (spec.macSource ?? peerMacOf(spec.inIface)) : null,
    macDst: null,
    uid: spec.inIface === null ? (spec.uid ?? 0) : undefined,
    gid: spec.inIface === null ? (spec.gid ?? spec.uid ?? 0) : undefined,
  };
  if (proto === PROTO_TCP || proto === PROTO_UDP) {
    p.sport = spec.sport ?? 40000;
    p.dport = spec.dport ?? (proto === PROTO_TCP ? 80 : 53);
  }
  if (proto === PROTO_TCP) {
    const hit = ct.lookupFields(proto, p.src, p.dst, p.sport, p.dport);
    p.tcpFlags = spec.tcpFlags ?? (hit ? TCP_ACK : TCP_SYN);
    // Sequence numbers that conntrack will find plausible: continue from the flow's last packets.
    const mine = history.sameFlow(p);
    const theirs = history.otherDirection(p);
    const defSeq = mine !== undefined ? mine : theirs !== undefined ? 5000 : 1000;
    p.seq = spec.seq ?? defSeq;
    const defAck = p.tcpFlags & TCP_ACK && theirs !== undefined ? theirs : 0;
    p.ackSeq = spec.ackSeq ?? defAck;
    p.window = spec.window ?? 64240;
    p.len = spec.len ?? 40;
  } else if (proto === PROTO_UDP) {
    p.len = spec.len ?? 28;
  } else if (proto === PROTO_ICMP) {
    p.icmpType = spec.icmpType ?? 8;
    p.icmpCode = spec.icmpCode ?? 0;
    if (isIcmpError(p.icmpType)) {
      p.quoted = quoteFor(p, history);
      p.len = spec.len ?? 56;
    } else {
      p.icmpId = spec.icmpId ?? 0x1234;
      p.icmpSeq = spec.icmpSeq ?? 1;
      p.len = spec.len ?? 84;
    }
  } else {
    p.len = spec.len ?? 20;
  }
  if (p.len < minLength(p)) throw new PacketLineError(`--len ${p.len}: a ${proto === PROTO_TCP ? 'tcp' : proto === PROTO_UDP ? 'udp' : proto === PROTO_ICMP ? 'icmp' : 'IP'} packet has at least ${minLength(p)} bytes`);
  return p;
}

function minLength(p: Packet): number {
  if (p.proto === PROTO_TCP) return 40;
  if (p.proto === PROTO_UDP) return 28;
  if (p.proto === PROTO_ICMP) return p.quoted ? 56 : 28;
  return 20;
}

/** An ICMP error quotes the latest earlier packet whose addresses it reverses (as that packet was on the wire). */
function quoteFor(p: Packet, history: BatchHistory): QuotedPacket | undefined {
  return history.latestBetween(p.dst, p.src);
}

/**
 * The ARP frame of a `-p arp` PACKET: arriving on -i (from the link partner's MAC, or --mac-source; a request to
 * the broadcast address, a reply to the interface's MAC), or sent by this host out of the route's device towards
 * TARGET (from its MAC; a reply to the link partner's). `src` is the sender's address, `dst` the target's; a
 * target behind a gateway is refused (the host asks for the gateway), and so is `lo`, which does no ARP.
 */
export function buildArpFrame(spec: PacketSpec, host: { macOf(dev: string): string | undefined; route(dst: number): { dev: string; gateway?: number; prefsrc?: number } | undefined }): Packet {
  const op = spec.arpOp ?? 1;
  const what = `the ARP ${op === 1 ? 'request' : 'reply'}`;
  const broadcast = 'ff:ff:ff:ff:ff:ff';
  if (spec.inIface === 'lo') throw new PacketLineError('-i lo: the loopback device does no ARP');
  if (spec.inIface !== null) {
    const macSrc = spec.macSource ?? peerMacOf(spec.inIface);
    const macDst = op === 1 ? broadcast : (host.macOf(spec.inIface) ?? broadcast);
    const arp = { op, sha: macSrc, spa: spec.src!, tha: op === 1 ? '00:00:00:00:00:00' : macDst, tpa: spec.dst };
    return arpFrame(arp, macSrc, macDst, spec.inIface);
  }
  const r = host.route(spec.dst);
  if (r === undefined) throw new PacketLineError(`-d: no route to ${addrToString(spec.dst)} to send ${what} out of`);
  if (r.dev === 'lo') throw new PacketLineError(`-d: ${addrToString(spec.dst)} is reached through lo, which does no ARP`);
  if (r.gateway !== undefined) throw new PacketLineError(`-d: ${addrToString(spec.dst)} is behind the gateway ${addrToString(r.gateway)}: the host asks for the gateway, not for it`);
  const spa = spec.src ?? r.prefsrc;
  if (spa === undefined) throw new PacketLineError(`-s: no address to send ${what} from; give -s`);
  const macSrc = spec.macSource ?? host.macOf(r.dev) ?? peerMacOf(`${r.dev}-self`);
  const macDst = op === 1 ? broadcast : peerMacOf(r.dev);
  return arpFrame({ op, sha: macSrc, spa, tha: op === 1 ? '00:00:00:00:00:00' : macDst, tpa: spec.dst }, macSrc, macDst, null, r.dev);
}
