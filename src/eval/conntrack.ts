/**
 * Connection tracking as nf_conntrack_in() and __nf_conntrack_confirm() do it: tuples per direction, a new
 * entry for the first packet (kept only if the packet survives to confirmation), ctinfo (NEW, ESTABLISHED,
 * RELATED, INVALID) per packet, the TCP state machine (tcp_conntracks[][][] of nf_conntrack_proto_tcp.c,
 * without window tracking), ICMP errors RELATED to the connection they quote, and NAT bindings.
 */
import { addrToString } from '../model/ip';
import { flagsText } from '../extensions/matches/tcp';
import { IPS, type ConnView, type CtState, type Tuple } from './context';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TCP_URG, isIcmpError, protoName, type Packet, type QuotedPacket } from './packet';

/** TCP conntrack states, in the kernel's order (tcp_conntrack_names). */
export const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'] as const;
export type TcpCtState = (typeof TCP_STATES)[number];

// Indices into TCP_STATES, plus the two pseudo-states of the table.
const sNO = 0, sSS = 1, sSR = 2, sES = 3, sFW = 4, sCW = 5, sLA = 6, sTW = 7, sCL = 8, sS2 = 9, sIV = 10, sIG = 11;

/**
 * tcp_conntracks[direction][packet kind][state] -> new state (sIV invalid, sIG ignored). Rows: syn, synack,
 * fin, ack, rst, none (get_conntrack_index). Columns: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2. As in current
 * kernels: a SYN/ACK from the client is invalid, and a SYN from the server in TIME_WAIT reopens (role switch).
 */
const TCP_TABLE: readonly (readonly (readonly number[])[])[] = [
  [
    [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [
    [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** get_conntrack_index(). */
function tcpIndex(flags: number): number {
  if (flags & TCP_RST) return 4;
  if (flags & TCP_SYN) return flags & TCP_ACK ? 1 : 0;
  if (flags & TCP_FIN) return 2;
  if (flags & TCP_ACK) return 3;
  return 5;
}

/** tcp_valid_flags[] of tcp_error(), on the flags without ECE, CWR and PSH. */
const VALID_TCP_FLAGS = new Set([TCP_SYN, TCP_SYN | TCP_URG, TCP_SYN | TCP_ACK, TCP_RST, TCP_RST | TCP_ACK, TCP_FIN | TCP_ACK, TCP_FIN | TCP_ACK | TCP_URG, TCP_ACK, TCP_ACK | TCP_URG]);

/** ICMP types that may open a connection (icmp_new valid_new[]), and the reply type of each (invmap). */
const ICMP_INVERSE: ReadonlyMap<number, number> = new Map([
  [8, 0],
  [0, 8],
  [13, 14],
  [14, 13],
  [15, 16],
  [16, 15],
  [17, 18],
  [18, 17],
]);
const ICMP_NEW = new Set([8, 13, 15, 17]);

/** Protocols with a tracker of their own that validates the header (nf_conntrack_proto_{dccp,sctp,udplite}). */
const CHECKED_PROTOS: ReadonlyMap<number, string> = new Map([
  [33, 'DCCP'],
  [132, 'SCTP'],
  [136, 'UDP-Lite'],
]);

export interface Conn extends ConnView {
  orig: Tuple;
  reply: Tuple;
  status: number;
  mark: number;
  expires: number;
  helper: undefined;
  id: number;
  tcpState: number;
  /** Whether the nat table ran (or a null binding was set up) for the source / destination manip. */
  natInit: { src: boolean; dst: boolean };
  confirmed: boolean;
  /** Dropped at the end of this packet (a RST answering an unanswered SYN). */
  dying: boolean;
  /**
   * MASQUERADE: the out device. The kernel forgets such connections when that device goes down or loses the
   * address they were masqueraded to (nf_nat_masquerade's notifiers); SNAT ones stay.
   */
  masq?: string;
}

/** What conntrack decided for one packet at PREROUTING/OUTPUT. */
export interface CtResult {
  state: CtState;
  conn: Conn | undefined;
  reply: boolean;
  /** Why INVALID, for a person. */
  why: string | undefined;
  /** The entry is new (unconfirmed) and exists only if the packet survives. */
  fresh: boolean;
}

export function tupleKey(t: Tuple): string {
  return `${t.proto}|${t.src}|${t.dst}|${t.sport}|${t.dport}`;
}

export function tupleText(t: Tuple): string {
  const p = protoName(t.proto);
  if (t.proto === PROTO_TCP || t.proto === PROTO_UDP) return `${p} ${addrToString(t.src)}:${t.sport} -> ${addrToString(t.dst)}:${t.dport}`;
  if (t.proto === PROTO_ICMP) return `icmp ${addrToString(t.src)} -> ${addrToString(t.dst)} type ${t.dport >> 8} id ${t.sport}`;
  return `${p} ${addrToString(t.src)} -> ${addrToString(t.dst)}`;
}

/** The tuple of a packet in its direction of travel (nf_ct_get_tuple). */
export function packetTuple(p: { src: number; dst: number; proto: number; sport: number; dport: number; icmpType: number; icmpCode: number; icmpId: number }): Tuple {
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) return { src: p.src, dst: p.dst, proto: p.proto, sport: p.sport, dport: p.dport };
  if (p.proto === PROTO_ICMP) return { src: p.src, dst: p.dst, proto: p.proto, sport: p.icmpId, dport: (p.icmpType << 8) | p.icmpCode };
  return { src: p.src, dst: p.dst, proto: p.proto, sport: 0, dport: 0 };
}

/** Does invertTuple() invert an ICMP tuple of this type (has the type a reply type)? */
export function icmpInvertible(type: number): boolean {
  return ICMP_INVERSE.has(type);
}

/** nf_ct_invert_tuple(). */
export function invertTuple(t: Tuple): Tuple | undefined {
  if (t.proto === PROTO_ICMP) {
    const inv = ICMP_INVERSE.get(t.dport >> 8);
    if (inv === undefined) return undefined;
    return { src: t.dst, dst: t.src, proto: t.proto, sport: t.sport, dport: (inv << 8) | (t.dport & 255) };
  }
  return { src: t.dst, dst: t.src, proto: t.proto, sport: t.dport, dport: t.sport };
}

function quotedTuple(q: QuotedPacket): Tuple {
  return packetTuple({ ...q, icmpId: q.icmpId });
}

/** A tuple table entry: the connection, and whether the tuple is its reply direction. */
export interface CtHit {
  conn: Conn;
  reply: boolean;
}

/** Int32 words per slot of a TupleMap: proto, src, dst, sport, dport. */
const TW = 5;

/**
 * Tuples to values without a string key per look-up: open addressing with linear probing over an Int32Array of
 * the five fields, backward-shift deletion, growing at half full. It iterates as a Map would, in the order keys
 * were first set (a key set again keeps its place; deleted and set again, it goes last).
 */
export class TupleMap<V> {
  private keys = new Int32Array(1024 * TW);
  private vals: Array<V | undefined> = new Array<V | undefined>(1024).fill(undefined);
  /** When each slot's key was first set, for the iteration order. */
  private seqs = new Float64Array(1024);
  private mask = 1023;
  private count = 0;
  private nextSeq = 0;

  get size(): number {
    return this.count;
  }

  private static hash(proto: number, src: number, dst: number, sport: number, dport: number): number {
    let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ dst, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ ((sport << 16) ^ dport), 0x27d4eb2f);
    h = Math.imul(h ^ (h >>> 16) ^ proto, 0x165667b1);
    return h ^ (h >>> 15);
  }

  /** The slot holding the key, or the empty slot where it would go. */
  private find(proto: number, src: number, dst: number, sport: number, dport: number): number {
    const k = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = TupleMap.hash(proto, src, dst, sport, dport) & mask;
    for (;;) {
      if (vals[i] === undefined) return i;
      const o = i * TW;
      if (k[o] === proto && k[o + 1] === src && k[o + 2] === dst && k[o + 3] === sport && k[o + 4] === dport) return i;
      i = (i + 1) & mask;
    }
  }

  get(proto: number, src: number, dst: number, sport: number, dport: number): V | undefined {
    return this.vals[this.find(proto | 0, src | 0, dst | 0, sport | 0, dport | 0)];
  }

  getTuple(t: Tuple): V | undefined {
    return this.get(t.proto, t.src, t.dst, t.sport, t.dport);
  }

  setTuple(t: Tuple, v: V): void {
    const proto = t.proto | 0;
    const src = t.src | 0;
    const dst = t.dst | 0;
    const sport = t.sport | 0;
    const dport = t.dport | 0;
    let i = this.find(proto, src, dst, sport, dport);
    if (this.vals[i] === undefined) {
      if ((this.count + 1) * 2 > this.mask + 1) {
        this.grow();
        i = this.find(proto, src, dst, sport, dport);
      }
      const o = i * TW;
      const k = this.keys;
      k[o] = proto;
      k[o + 1] = src;
      k[o + 2] = dst;
      k[o + 3] = sport;
      k[o + 4] = dport;
      this.seqs[i] = this.nextSeq++;
      this.count++;
    }
    this.vals[i] = v;
  }

  deleteTuple(t: Tuple): void {
    let i = this.find(t.proto | 0, t.src | 0, t.dst | 0, t.sport | 0, t.dport | 0);
    const vals = this.vals;
    if (vals[i] === undefined) return;
    this.count--;
    // Backward shift: move up every later entry of the run that may sit at i, so no look-up stops short.
    const k = this.keys;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (vals[j] === undefined) break;
      const o = j * TW;
      const home = TupleMap.hash(k[o]!, k[o + 1]!, k[o + 2]!, k[o + 3]!, k[o + 4]!) & mask;
      // The entry at j stays when its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      k.copyWithin(i * TW, o, o + TW);
      vals[i] = vals[j];
      this.seqs[i] = this.seqs[j]!;
      i = j;
    }
    vals[i] = undefined;
  }

  /** The values in the order their keys were first set. */
  values(): V[] {
    const slots: number[] = [];
    for (let i = 0; i <= this.mask; i++) if (this.vals[i] !== undefined) slots.push(i);
    slots.sort((a, b) => this.seqs[a]! - this.seqs[b]!);
    return slots.map((i) => this.vals[i]!);
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const oldSeqs = this.seqs;
    const size = (this.mask + 1) * 2;
    this.keys = new Int32Array(size * TW);
    this.vals = new Array<V | undefined>(size).fill(undefined);
    this.seqs = new Float64Array(size);
    this.mask = size - 1;
    for (let s = 0; s < oldVals.length; s++) {
      const v = oldVals[s];
      if (v === undefined) continue;
      const o = s * TW;
      const i = this.find(oldKeys[o]!, oldKeys[o + 1]!, oldKeys[o + 2]!, oldKeys[o + 3]!, oldKeys[o + 4]!);
      const n = i * TW;
      for (let w = 0; w < TW; w++) this.keys[n + w] = oldKeys[o + w]!;
      this.vals[i] = v;
      this.seqs[i] = oldSeqs[s]!;
    }
  }
}

export class ConntrackTable {
  private readonly byTuple = new TupleMap<CtHit>();
  /**
   * Where the next search for a free NAT port starts, per mapping (nat.ts): keeps the choice linear in time.
   * Keyed by the mapping's fields packed into a tuple (nat.ts says how).
   */
  readonly natCursor = new TupleMap<number>();
  private nextId = 1;

  /** Confirmed entries, oldest first. */
  entries(): Conn[] {
    const out: Conn[] = [];
    for (const v of this.byTuple.values()) if (!v.reply) out.push(v.conn);
    return out;
  }

  lookup(t: Tuple): CtHit | undefined {
    return this.byTuple.getTuple(t);
  }

  /** lookup() of the tuple given by its fields. */
  lookupFields(proto: number, src: number, dst: number, sport: number, dport: number): CtHit | undefined {
    return this.byTuple.get(proto, src, dst, sport, dport);
  }

  /** nf_nat_used_tuple(): is this reply tuple taken by another confirmed connection? */
  replyTaken(reply: Tuple, self: Conn): boolean {
    const hit = this.byTuple.getTuple(reply);
    return hit !== undefined && hit.conn !== self;
  }

  /**
   * nf_nat_used_tuple() of the reply to the tuple (proto, src, dst, sport, dport), the tuple inverted as
   * invertTuple() does it (an ICMP type without a reply type is never taken): replyTaken(invertTuple(t), self).
   */
  inverseTaken(proto: number, src: number, dst: number, sport: number, dport: number, self: Conn): boolean {
    let hit: CtHit | undefined;
    if (proto === PROTO_ICMP) {
      const inv = ICMP_INVERSE.get(dport >> 8);
      if (inv === undefined) return false;
      hit = this.byTuple.get(proto, dst, src, sport, (inv << 8) | (dport & 255));
    } else hit = this.byTuple.get(proto, dst, src, dport, sport);
    return hit !== undefined && hit.conn !== self;
  }

  /** nf_conntrack_in(): classify the packet and find or create its entry. */
  classify(p: Packet): CtResult {
    const invalid = (why: string): CtResult => ({ state: 'INVALID', conn: undefined, reply: false, why, fresh: false });
    if (p.proto === PROTO_ICMP && isIcmpError(p.icmpType)) {
      if (!p.quoted) return invalid('ICMP error without a quoted packet');
      const inner = invertTuple(quotedTuple(p.quoted));
      const hit = inner ? this.lookup(inner) : undefined;
      if (!hit) return invalid(`ICMP error quotes ${tupleText(quotedTuple(p.quoted))}, which belongs to no known connection`);
      return { state: 'RELATED', conn: hit.conn, reply: hit.reply, why: undefined, fresh: false };
    }
    const t = packetTuple(p);
    if (CHECKED_PROTOS.has(p.proto)) {
      // The simulated packet carries no header for these protocols (its payload is zeros), which their own
      // trackers refuse: SCTP's checksum, DCCP's header length, UDP-Lite's missing checksum (recorded: gen-2-7).
      return invalid(`protocol ${p.proto} has its own conntrack checks, which a packet without a real ${CHECKED_PROTOS.get(p.proto)!} header fails`);
    }
    if (p.proto === PROTO_TCP) {
      const f = p.tcpFlags & ~0x08 & 0x3f;
      if (!VALID_TCP_FLAGS.has(f)) return invalid(`TCP flags ${tcpFlagNames(p.tcpFlags)} are not a valid combination`);
    }
    const hit = this.lookup(t);
    if (hit) {
      const { conn, reply } = hit;
      if (p.proto === PROTO_TCP) {
        const idx = tcpIndex(p.tcpFlags);
        const old = conn.tcpState;
        const next = TCP_TABLE[reply ? 1 : 0]![idx]![old]!;
        if (next === sSS && (old === sTW || old === sCL)) {
          // Reopened connection: the old entry goes and the packet is looked up again (-NF_REPEAT), as a new one.
          this.remove(conn);
          return this.fresh(p, t);
        }
        if (next === sIV) return invalid(`TCP ${tcpFlagNames(p.tcpFlags)} is invalid in state ${TCP_STATES[old]} (${reply ? 'reply' : 'original'} direction)`);
        if (next !== sIG) conn.tcpState = next;
        if (!(conn.status & IPS.SEEN_REPLY)) {
          // Only a RST answered: the entry goes at once.
          if (p.tcpFlags & TCP_RST) conn.dying = true;
        } else if ((old === sSR || old === sES) && next === sES) {
          // A valid ACK after SYN_RECV (or in a picked-up connection) makes it ASSURED.
          conn.status |= IPS.ASSURED;
        }
      }
      const state: CtState = reply || conn.status & IPS.SEEN_REPLY ? 'ESTABLISHED' : 'NEW';
      if (reply) conn.status |= IPS.SEEN_REPLY;
      return { state, conn, reply, why: undefined, fresh: false };
    }
    if (p.proto === PROTO_TCP && TCP_TABLE[0]![tcpIndex(p.tcpFlags)]![sNO] === sIV) {
      return invalid(`TCP ${tcpFlagNames(p.tcpFlags)} cannot open a connection`);
    }
    if (p.proto === PROTO_ICMP && !ICMP_NEW.has(p.icmpType)) return invalid(`ICMP type ${p.icmpType} cannot open a connection`);
    return this.fresh(p, t);
  }

  private fresh(p: Packet, t: Tuple): CtResult {
    const reply = invertTuple(t) ?? t;
    const conn: Conn = {
      orig: t,
      reply,
      status: 0,
      mark: 0,
      expires: p.proto === PROTO_TCP ? 120 : p.proto === PROTO_UDP ? 30 : p.proto === PROTO_ICMP ? 30 : 600,
      helper: undefined,
      id: this.nextId++,
      tcpState: p.proto === PROTO_TCP ? (p.tcpFlags & TCP_SYN ? sSS : sES) : sNO,
      natInit: { src: false, dst: false },
      confirmed: false,
      dying: false,
      // Set here, not added by MASQUERADE later: every entry keeps one shape and its fields in the object.
      masq: undefined,
    };
    return { state: 'NEW', conn, reply: false, why: undefined, fresh: true };
  }

  /** __nf_conntrack_confirm(): the packet left the host or was delivered; keep its new entry. */
  confirm(conn: Conn): void {
    if (conn.dying) {
      this.remove(conn);
      return;
    }
    if (conn.confirmed) return;
    conn.confirmed = true;
    conn.status |= IPS.CONFIRMED;
    this.byTuple.setTuple(conn.orig, { conn, reply: false });
    this.byTuple.setTuple(conn.reply, { conn, reply: true });
  }

  remove(conn: Conn): void {
    if (this.byTuple.getTuple(conn.orig)?.conn === conn) this.byTuple.deleteTuple(conn.orig);
    if (this.byTuple.getTuple(conn.reply)?.conn === conn) this.byTuple.deleteTuple(conn.reply);
    conn.confirmed = false;
  }

  /**
   * `conntrack -L` as the recorder normalises it (sorted, no timeout, no use=): `tcp 6 ESTABLISHED src=.. dst=..
   * sport=.. dport=.. src=.. dst=.. sport=.. dport=.. [ASSURED] mark=0`, `[UNREPLIED]` before the reply tuple.
   */
  listLines(): string[] {
    return this.entries()
      .map((c) => entryText(c, false))
      .sort();
  }

  /** The tcp state name of an entry (conntrack -L shows it). */
  static tcpStateName(conn: Conn): string {
    return TCP_STATES[conn.tcpState] ?? 'NONE';
  }
}

/**
 * One entry as `conntrack -L` prints it. `full`: conntrack-tools 1.4.7's own line (the protocol name padded to 8,
 * the timeout, `use=1`), as a lab shows it; otherwise the recorder's normalised form without them.
 */
export function entryText(c: Conn, full: boolean): string {
  const t = c.orig;
  const name = t.proto === PROTO_TCP ? 'tcp' : t.proto === PROTO_UDP ? 'udp' : t.proto === PROTO_ICMP ? 'icmp' : t.proto === 47 ? 'gre' : 'unknown';
  const parts = full ? [`${name.padEnd(8, ' ')} ${t.proto} ${c.expires}`] : [name, String(t.proto)];
  if (t.proto === PROTO_TCP) parts.push(TCP_STATES[c.tcpState] ?? 'NONE');
  parts.push(tupleFields(c.orig));
  if (!(c.status & IPS.SEEN_REPLY)) parts.push('[UNREPLIED]');
  parts.push(tupleFields(c.reply));
  if (c.status & IPS.ASSURED) parts.push('[ASSURED]');
  parts.push(`mark=${c.mark >>> 0}`);
  if (full) parts.push('use=1');
  return parts.join(' ');
}

function tupleFields(t: Tuple): string {
  const a = `src=${addrToString(t.src)} dst=${addrToString(t.dst)}`;
  if (t.proto === PROTO_TCP || t.proto === PROTO_UDP) return `${a} sport=${t.sport} dport=${t.dport}`;
  if (t.proto === PROTO_ICMP) return `${a} type=${t.dport >> 8} code=${t.dport & 255} id=${t.sport}`;
  if (t.proto === 47) return `${a} srckey=0x0 dstkey=0x0`;
  return a;
}

/** FIN,SYN,RST,PSH,ACK,URG as iptables prints them (ECE/CWR aside), or NONE. */
export function tcpFlagNames(flags: number): string {
  return flagsText(flags & 0x3f);
}
