/** The evaluator's contract with the packet walk (src/eval/trace.ts): what a chain run reads, asks for, reports. */
import type { Packet } from '../../eval/packet';
import type { CtState, ConnView, NatRequest, LogRequest, HostView } from '../../eval/context';
import type { NftChain, NftTable, Family } from '../model';

export type NftHook = 'ingress' | 'egress' | 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** What the walk may read and ask for; the integrator implements it. */
export interface NftEnv {
  /** Mutable: mark set, payload set (ip saddr set ...) change it in place. */
  pkt: Packet;
  /** The table's family. */
  family: Family;
  hook: NftHook;
  /** 'UNTRACKED' after notrack; INVALID when conntrack has not run. */
  ctState: CtState;
  /** ct mark reads/writes conn.mark. */
  ct: ConnView | undefined;
  /** ct direction. */
  ctReply: boolean;
  host: HostView & { ifIndex(name: string): number | undefined };
  notrack(): void;
  nat(req: NatRequest, kind: 'snat' | 'dnat' | 'masquerade' | 'redirect'): void;
  log(req: LogRequest): void;
  /** Same strings REJECT uses: 'icmp-port-unreachable', 'tcp-reset', 'icmp-admin-prohibited', ... */
  reject(what: string): void;
  /** netdev `fwd to "dev"`. */
  fwd(dev: string): void;
  /** `meta nftrace set 1` was executed (tracing starts/continues). */
  setTrace(on: boolean): void;
  /** Is the packet traced (skb->nf_trace)? Monitor events are only produced when true. */
  traced(): boolean;
  /** Answer for things not simulated exactly (limit, quota, random numgen): return the default. */
  decide(what: string, question: string, assumed: boolean): boolean;
  /** Update `counter packets N bytes M` in rule text (and set/chain counters). */
  countRules: boolean;
}

export type NftVerdict = 'accept' | 'drop' | 'queue' | 'stolen';

/**
 * One trace event, in order; monitor lines are made from these. `packet` comes right before the first traced
 * event of a base chain run (the kernel dumps the headers once per nft_do_chain, with its first event, after the
 * rule's statements ran). `return`: the end of a regular chain was reached (the kernel's NFT_TRACETYPE_RETURN with
 * verdict continue; nft 1.0.6 prints no line for it). A rule whose verdict is `return` is a `rule` event.
 * `rule`, `policy` and `return` events are always emitted, `traced` telling whether skb->nf_trace was set then
 * (only those print as monitor lines; the explained view shows them all); `packet` only when traced. `miss`
 * events are always emitted: the first criterion of the rule that did not match.
 */
export type NftTraceEvent =
  | { kind: 'packet'; table: NftTable; chain: NftChain; pkt: Packet }
  | { kind: 'rule'; table: NftTable; chain: NftChain; handle: number; text: string; verdict: string; pkt: Packet; traced?: boolean }
  | { kind: 'policy'; table: NftTable; chain: NftChain; verdict: 'accept' | 'drop'; pkt: Packet; traced?: boolean }
  | { kind: 'return'; table: NftTable; chain: NftChain; pkt: Packet; verdict?: 'continue'; traced?: boolean }
  | { kind: 'miss'; table: NftTable; chain: NftChain; handle: number; text: string; why: string };

export interface NftChainResult {
  verdict: NftVerdict;
  events: NftTraceEvent[];
  decidedBy?: { chain: string; handle: number; policy: boolean };
}
