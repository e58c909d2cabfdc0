/**
 * NAT as nf_nat_core.c does it: a binding per connection and manip type (source or destination), chosen once
 * on the first packet (get_unique_tuple: keep the tuple when it is in range and unused, else pick an address,
 * then a port), then applied to every packet of the connection in both directions (nf_nat_packet), and to
 * ICMP errors about it (nf_nat_icmp_reply_translation). Where the kernel picks at random (a port clash), the
 * choice here is deterministic — the next free port — and said in the trace.
 */
import { addrToString } from '../model/ip';
import { IPS, type NatRequest, type Tuple } from './context';
import { icmpInvertible, invertTuple, type Conn, type ConntrackTable } from './conntrack';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, type Packet } from './packet';

export type Manip = 'src' | 'dst';

/** The resolved range of a NAT request (addresses known: MASQUERADE/REDIRECT already resolved). */
export interface NatRange {
  mapIps: boolean;
  minAddr: number;
  maxAddr: number;
  protoSpecified: boolean;
  minPort: number;
  maxPort: number;
  randomAll: boolean;
  persistent: boolean;
}

export function rangeOf(req: NatRequest): NatRange {
  return {
    mapIps: true,
    minAddr: req.minAddr,
    maxAddr: req.maxAddr,
    protoSpecified: req.mapPorts,
    minPort: req.minPort,
    maxPort: req.maxPort,
    randomAll: req.random || req.fullyRandom,
    persistent: req.persistent,
  };
}

const hasKey = (proto: number): boolean => proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_ICMP;

/** The port (or icmp id) NAT may change for this manip: source port for SRC, destination port for DST; icmp id for both. */
function keyOf(t: Tuple, manip: Manip): number {
  if (t.proto === PROTO_ICMP) return t.sport;
  return manip === 'src' ? t.sport : t.dport;
}

function withKey(t: Tuple, manip: Manip, key: number): Tuple {
  if (t.proto === PROTO_ICMP) return { ...t, sport: key };
  return manip === 'src' ? { ...t, sport: key } : { ...t, dport: key };
}

function withAddr(t: Tuple, manip: Manip, addr: number): Tuple {
  return manip === 'src' ? { ...t, src: addr } : { ...t, dst: addr };
}

function inRange(t: Tuple, manip: Manip, r: NatRange): boolean {
  const a = manip === 'src' ? t.src : t.dst;
  if (r.mapIps && (a < r.minAddr || a > r.maxAddr)) return false;
  if (r.protoSpecified && hasKey(t.proto)) {
    const k = keyOf(t, manip);
    if (k < r.minPort || k > r.maxPort) return false;
  }
  return true;
}

/**
 * nf_nat_setup_info(): bind the connection's `manip` to a tuple from `range` (null = the null binding the
 * kernel sets up when no NAT rule matched). Updates the reply tuple and status; returns a note when a choice
 * had to be made.
 */
export function setupNat(table: ConntrackTable, conn: Conn, manip: Manip, range: NatRange | null): string | undefined {
  // The tuple as it stands: the inverse of the current reply (earlier manips included).
  const curr = invertTuple(conn.reply) ?? conn.orig;
  const r: NatRange = range ?? {
    mapIps: true,
    minAddr: manip === 'src' ? curr.src : curr.dst,
    maxAddr: manip === 'src' ? curr.src : curr.dst,
    protoSpecified: false,
    minPort: 0,
    maxPort: 0,
    randomAll: false,
    persistent: false,
  };
  // Is the reply to t taken by another connection (its inverse looked up without building it)?
  const used = (t: Tuple): boolean => table.inverseTaken(t.proto, t.src, t.dst, t.sport, t.dport, conn);
  let note: string | undefined;
  let chosen: Tuple | undefined;
  if (manip === 'src' && !r.randomAll && inRange(curr, manip, r) && !used(curr)) chosen = curr;
  if (!chosen) {
    // find_best_ips_proto(): one address, or (deterministically here) the first of the range.
    let t = curr;
    if (r.mapIps) {
      const a = manip === 'src' ? curr.src : curr.dst;
      const pick = a >= r.minAddr && a <= r.maxAddr && r.minAddr !== r.maxAddr ? a : r.minAddr;
      if (r.minAddr !== r.maxAddr && pick === r.minAddr && a !== r.minAddr) {
        note = `address range ${addrToString(r.minAddr)}-${addrToString(r.maxAddr)}: the kernel picks by a hash of the addresses; ${addrToString(pick)} assumed`;
      }
      t = withAddr(curr, manip, pick);
    }
    if (!r.randomAll && (r.protoSpecified ? inRange(t, manip, r) && (r.minPort === r.maxPort || !used(t)) : !used(t))) {
      chosen = t;
    } else if (!hasKey(t.proto) || (manip === 'dst' && !r.protoSpecified)) {
      chosen = t;
    } else {
      // nf_nat_l4proto_unique_tuple(): the port class of the original port, or the given range.
      const k = keyOf(t, manip);
      let min = 1024;
      let size = 64512;
      if (r.protoSpecified) {
        min = r.minPort;
        size = r.maxPort - r.minPort + 1;
      } else if (t.proto === PROTO_ICMP) {
        min = 0;
        size = 65536;
      } else if (k < 512) {
        min = 1;
        size = 511;
      } else if (k < 1024) {
        min = 600;
        size = 424;
      }
      // The kernel starts at a random offset (source) or at the range's start (destination). Here a source
      // search runs down from the top of the range: deterministic, and unlikely to take a port that a later
      // connection brings as its own (clients count up from the bottom of the ephemeral range).
      // The search resumes where the last one for the same mapping ended, so a run of connections through one
      // address costs linear time, not quadratic.
      const down = manip === 'src' && !r.protoSpecified;
      // The mapping's key: manip and protocol, the addresses, the port NAT keeps, the range (min, size - 1).
      const cursor: Tuple = {
        proto: t.proto + (manip === 'src' ? 256 : 0),
        src: t.src,
        dst: t.dst,
        sport: t.proto === PROTO_ICMP ? 0 : manip === 'src' ? t.dport : t.sport,
        dport: (min << 16) | ((size - 1) & 0xffff),
      };
      const start = table.natCursor.getTuple(cursor) ?? 0;
      const icmp = t.proto === PROTO_ICMP;
      for (let i = 0; i < size; i++) {
        const step = (start + i) % size;
        const key = down ? min + size - 1 - step : min + step;
        const sport = icmp || manip === 'src' ? key : t.sport;
        const dport = !icmp && manip === 'dst' ? key : t.dport;
        if (!table.inverseTaken(t.proto, t.src, t.dst, sport, dport, conn)) {
          chosen = withKey(t, manip, key);
          if (size > 1) table.natCursor.setTuple(cursor, (step + 1) % size);
          break;
        }
      }
      chosen ??= t;
      const what = t.proto === PROTO_ICMP ? 'icmp id' : 'port';
      if (keyOf(chosen, manip) !== k && (manip === 'src' || r.randomAll)) {
        if (r.randomAll) note = randomNote(what, keyOf(chosen, manip));
        else {
          const why = used(t) ? `${what} ${k} clashes with another connection` : `${what} ${k} is outside the range`;
          note = `${why}; the kernel picks a free ${what} at random, ${keyOf(chosen, manip)} chosen here`;
        }
      }
    }
  }
  const rep = invertTuple(chosen) ?? chosen;
  const changed = chosen.src !== curr.src || chosen.dst !== curr.dst || chosen.sport !== curr.sport || chosen.dport !== curr.dport;
  if (changed) {
    conn.reply = rep;
    conn.status |= manip === 'src' ? IPS.SRC_NAT : IPS.DST_NAT;
  }
  conn.status |= manip === 'src' ? IPS.SRC_NAT_DONE : IPS.DST_NAT_DONE;
  conn.natInit[manip] = true;
  return note;
}

/**
 * The note of a --random/--random-fully mapping that chose `key`: the last one made is made again by the next
 * connection through the same mapping (kube-proxy's MASQUERADE --random-fully: every connection).
 */
function randomNote(what: string, key: number): string {
  if (lastRandomNote.what !== what || lastRandomNote.key !== key) {
    const text = `--random/--random-fully asks for a random ${what}; the kernel picks a free ${what} at random, ${key} chosen here`;
    lastRandomNote = { what, key, text };
  }
  return lastRandomNote.text;
}
let lastRandomNote = { what: '', key: -1, text: '' };

/** nf_nat_packet(): rewrite the packet for `manip` according to the connection's bindings. */
export function applyNat(conn: Conn, manip: Manip, reply: boolean, p: Packet): boolean {
  let bit = manip === 'src' ? IPS.SRC_NAT : IPS.DST_NAT;
  if (reply) bit = bit === IPS.SRC_NAT ? IPS.DST_NAT : IPS.SRC_NAT;
  if (!(conn.status & bit)) return false;
  // The target: the inverse of the tuple of the other direction (invertTuple(other) ?? other, read in place).
  const other = reply ? conn.orig : conn.reply;
  const inverse = other.proto !== PROTO_ICMP || icmpInvertible(other.dport >> 8);
  const targetSrc = inverse ? other.dst : other.src;
  const targetDst = inverse ? other.src : other.dst;
  const targetSport = inverse && other.proto !== PROTO_ICMP ? other.dport : other.sport;
  const targetDport = inverse && other.proto !== PROTO_ICMP ? other.sport : other.dport;
  if (p.proto === PROTO_ICMP && p.quoted && (p.icmpType === 3 || p.icmpType === 4 || p.icmpType === 5 || p.icmpType === 11 || p.icmpType === 12)) {
    // nf_nat_icmp_reply_translation(): the quoted packet with the other manip, the outer addresses with this one.
    const q = p.quoted;
    if (manip === 'src') {
      q.dst = other.dst;
      if (q.proto === PROTO_TCP || q.proto === PROTO_UDP) q.dport = other.dport;
      p.src = targetSrc;
    } else {
      q.src = other.src;
      if (q.proto === PROTO_TCP || q.proto === PROTO_UDP) q.sport = other.sport;
      p.dst = targetDst;
    }
    if (q.proto === PROTO_ICMP) q.icmpId = other.sport;
    return true;
  }
  if (manip === 'src') {
    p.src = targetSrc;
    if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) p.sport = targetSport;
    else if (p.proto === PROTO_ICMP) p.icmpId = targetSport;
  } else {
    p.dst = targetDst;
    if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) p.dport = targetDport;
    else if (p.proto === PROTO_ICMP) p.icmpId = targetSport;
  }
  return true;
}
