/**
 * What an extension's packet semantics see and may do while the walker runs a rule (the kernel's
 * struct xt_action_param plus the conntrack entry, routing and the trace's assumptions). Matches read it;
 * targets read it and ask for side effects through it (log, NAT, reject, notrack), so the evaluator keeps
 * every change in one place and the trace can report it.
 */
import type { Hook } from '../extensions/spec';
import type { Packet } from './packet';

/** Conntrack state as ctstate sees it; UNTRACKED after raw NOTRACK / CT --notrack. */
export type CtState = 'INVALID' | 'NEW' | 'ESTABLISHED' | 'RELATED' | 'UNTRACKED';

/** One direction of a connection. For icmp, `sport` holds the echo id and `dport` the type/code key (0). */
export interface Tuple {
  src: number;
  dst: number;
  proto: number;
  sport: number;
  dport: number;
}

/** IPS_* status bits (nf_conntrack_common.h). */
export const IPS = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
} as const;

/** The connection a packet belongs to. `mark` is writable (CONNMARK, CT --mark). */
export interface ConnView {
  readonly orig: Tuple;
  /** The reply tuple, NAT applied (what replies look like on the wire). */
  readonly reply: Tuple;
  readonly status: number;
  mark: number;
  /** Seconds left before the entry expires. */
  readonly expires: number;
  /** Has a helper (ftp, ...) been attached: always undefined here; kept for the helper match. */
  readonly helper: string | undefined;
}

/** Routing types (RTN_*), the bit positions the addrtype match uses. */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
  NAT: 10,
  XRESOLVE: 11,
} as const;

export interface RouteResult {
  /** RTN_* type of the route's destination: UNICAST for a gateway or link route, LOCAL, BROADCAST... */
  type: number;
  /** Output device (for LOCAL: the device owning the address, as `ip route get` shows `dev lo`). */
  dev: string;
  gateway: number | undefined;
  /** The preferred source address for this route (the device's primary address in the route's subnet). */
  prefsrc: number | undefined;
}

/** What the host looks like, for matches and targets that consult routing or interfaces. */
export interface HostView {
  /** RTN_* type of an address as seen from the host (the local table first), optionally limited to one device (`--limit-iface-in/out`). */
  addrType(addr: number, dev?: string): number;
  /** The route the host would pick for dst (fib lookup), optionally as if it arrived on `iif` from `src`. */
  route(dst: number, opts?: { src?: number; iif?: string; oif?: string; mark?: number; tos?: number }): RouteResult | undefined;
  /** The primary IPv4 address of a device (MASQUERADE), or undefined when it has none. */
  primaryAddress(dev: string, towards?: number): number | undefined;
  /** The device's MAC address. */
  macOf(dev: string): string | undefined;
  /** All local addresses. */
  isLocalAddress(addr: number): boolean;
}

/** NAT asked for by SNAT, DNAT, MASQUERADE, REDIRECT (nf_nat_range2). Addresses host order; ports 0 = keep. */
export interface NatRequest {
  kind: 'SNAT' | 'DNAT' | 'MASQUERADE' | 'REDIRECT';
  minAddr: number;
  maxAddr: number;
  /** Port range to map to; `mapPorts` false keeps the port unless it clashes. */
  mapPorts: boolean;
  minPort: number;
  maxPort: number;
  random: boolean;
  fullyRandom: boolean;
  persistent: boolean;
}

/** The LOG target's request (struct nf_loginfo): level, prefix and the --log-* flag bits of xt_log_info. */
export interface LogRequest {
  prefix: string;
  level: number;
  /** XT_LOG_TCPSEQ 0x01, TCPOPT 0x02, IPOPT 0x04, UID 0x08, MACDECODE 0x20. */
  flags: number;
}

/** What a target tells the walker (NF_* verdicts and XT_CONTINUE / XT_RETURN). */
export type TargetVerdict = 'ACCEPT' | 'DROP' | 'CONTINUE' | 'RETURN' | 'QUEUE' | 'STOLEN';

export interface EvalContext {
  readonly hook: Hook;
  readonly table: string;
  /** The chain the rule is in. */
  readonly chain: string;
  /** The packet, changed in place by mangle/NAT targets. */
  readonly pkt: Packet;
  /** Conntrack state of the packet at this point (INVALID in raw: conntrack has not run yet). */
  readonly ctState: CtState;
  /** The connection, when the packet has one (not INVALID/UNTRACKED). */
  readonly ct: ConnView | undefined;
  /** The packet travels in the reply direction of its connection. */
  readonly ctReply: boolean;
  readonly host: HostView;
  /** Time of the packet (the `time` match); fixed per trace so results repeat. */
  readonly now: Date;

  /**
   * For matches whose outcome depends on state the trace does not simulate exactly (statistic random, limit
   * when tokens run out, socket, ...): the answer assumed, recorded in the trace. `probability` is the chance
   * the real kernel answers yes, when known. The user may override the answer (`--assume EXT=yes|no`).
   */
  decide(ext: string, question: string, assumed: boolean, probability?: number): boolean;
  /**
   * State an extension keeps across the packets of one trace run (recent lists, quota counters, nth counters,
   * limit buckets), keyed by an object of the extension's choosing (usually the rule's parsed state).
   */
  memory<T>(key: object, init: () => T): T;

  // Side effects of targets
  log(req: LogRequest): void;
  nat(req: NatRequest): void;
  /** REJECT: what would be sent back, e.g. "icmp-port-unreachable" or "tcp-reset". */
  reject(what: string): void;
  /** CT --notrack / NOTRACK: the packet becomes UNTRACKED. */
  notrack(): void;
  /** TRACE target: start tracing this packet (the trace shows every later rule). */
  startTrace(): void;
  /** Free-form note for the trace (e.g. "TCPMSS set to 1360", "CHECKSUM filled in"). */
  note(text: string): void;
}
