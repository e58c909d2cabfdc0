/**
 * What the diagrams are drawn from, and the view of one hop they share. The input is a list of hops: one traced
 * packet on one host each (a single-host trace is one hop; a lab's request and reply crossing several hosts are
 * several, one lane per distinct host). hop-view.ts turns each hop's TraceResult into a HopView: the netfilter
 * picture's nodes (wires, routing decisions, the five hooks with their tables and nftables base chains in the
 * order the kernel runs them, the local process; netdev ingress chains on the in wire, egress chains on the out
 * wire), which of them the packet visited, the arrows it took with the NAT done on them, and each walked
 * chain's rules with their outcome. html.ts, svg.ts and dot.ts only draw HopViews.
 */
import type { Hook } from '../extensions/spec';
import type { Ruleset } from '../model/ruleset';
import type { TraceResult } from '../eval/trace';

export interface DiagramHop {
  /** The host (lane) the packet crossed; hops with the same name share a lane. */
  host: string;
  direction: 'request' | 'reply';
  result: TraceResult;
  /** The host's ruleset, for the rules of each chain the packet walked (also the ones it never reached). */
  ruleset: Ruleset;
  /** The link (wire, bridge, network) the packet arrived on and left on, when known: shown on the crossings. */
  wire?: { arrived?: string; left?: string };
}

export interface DiagramInput {
  title: string;
  hops: DiagramHop[];
}

/** The places of the netfilter picture. */
export type NodeId = 'in' | 'PREROUTING' | 'route-in' | 'INPUT' | 'local' | 'FORWARD' | 'route-out' | 'OUTPUT' | 'POSTROUTING' | 'out';

export const HOOK_IDS: readonly Hook[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/** The arrows of the picture, in the direction packets travel. */
export const EDGES: ReadonlyArray<readonly [NodeId, NodeId]> = [
  ['in', 'PREROUTING'],
  ['PREROUTING', 'route-in'],
  ['route-in', 'INPUT'],
  ['route-in', 'FORWARD'],
  ['INPUT', 'local'],
  ['FORWARD', 'POSTROUTING'],
  ['local', 'route-out'],
  ['route-out', 'OUTPUT'],
  ['OUTPUT', 'POSTROUTING'],
  ['POSTROUTING', 'out'],
];

/** An nft base chain's box: which chain it is. */
export interface NftBoxInfo {
  family: string;
  table: string;
  chain: string;
  /** The nft hook: ingress, prerouting, ..., egress. */
  hook: string;
  /** A `type nat` chain: it sits behind the one nat hook with the iptables nat table (a connection's first packet). */
  natChain: boolean;
}

/**
 * One entry of a hook in the order the kernel runs them: an iptables table's base chain, an nft base chain, or
 * conntrack's own step (lookup / confirm). The in and out wires hold the device's netdev ingress / egress chains.
 */
export interface TableBox {
  kind: 'table' | 'conntrack' | 'confirm' | 'nft';
  /** The table name, "conntrack" / "confirm", or for nft "FAMILY TABLE/CHAIN" ("ip bypass/forward"). */
  name: string;
  /** nft base chains only. */
  nft?: NftBoxInfo;
  priority: number;
  /** The packet went through it (a table: its chain was walked). */
  visited: boolean;
  /** One line: what happened there ("policy ACCEPT", "rule 3: ACCEPT", "NEW", ...), or why it was not walked. */
  summary: string;
  /** The deciding rule or policy is in this table's walk. */
  decisive: boolean;
  /** The packet was dropped here. */
  dropped: boolean;
  /** NAT rewrites done by this entry ("DNAT 10.0.1.1:8800 -> 10.0.2.2:80"). */
  nat: string[];
  /** The id of its chain listing in the HTML page (tables that were walked). */
  anchor: string | undefined;
}

export interface NodeView {
  id: NodeId;
  /** "PREROUTING", "routing", "in eth0", "local process". */
  label: string;
  /** Lines under the label: the packet on a wire, the routing decision, the conntrack state. */
  detail: string[];
  visited: boolean;
  /** The packet's trip ended here without leaving or being delivered. */
  dropped: boolean;
  /** Hooks: the table boxes in the order they run; the wires: the device's netdev ingress / egress chains. */
  tables: TableBox[];
  /** Place of the node in the packet's path (1-based), 0 when not visited. */
  order: number;
}

export interface EdgeView {
  from: NodeId;
  to: NodeId;
  visited: boolean;
  /** NAT done before the packet took this arrow, one line per rewrite. */
  labels: string[];
}

export type RuleOutcome = 'matched' | 'skipped' | 'not-reached';

export interface RuleRow {
  num: number;
  /** `-A CHAIN ...` as iptables-save prints it. */
  text: string;
  outcome: RuleOutcome;
  /** matched: what the walk did next (ACCEPT, DROP, CONTINUE, JUMP, ...). */
  verdict: string | undefined;
  /** matched: the rule's target or jump ("LOG", "DNAT", "→ KUBE-SERVICES"). */
  action: string | undefined;
  /** skipped: the first criterion that failed. */
  why: string | undefined;
  decisive: boolean;
  /** nft rules: the rule's handle. */
  handle?: number;
  /**
   * nft, matched: no trace event says so (the packet was not traced, skb->nf_trace unset, and the kernel reports
   * nothing then); the walk passed the rule without a miss before it ended further on, so it matched and went on.
   */
  inferred?: boolean;
}

export interface ChainListing {
  table: string;
  chain: string;
  /** Base chain first, then the chains it jumped to, in the order they were entered. */
  rules: RuleRow[];
  /** Rules left out of a long listing (never reached, no detail). */
  omitted: number;
  /** How the walk left the chain when it did not leave by a rule: "policy ACCEPT", "end of chain: return". */
  end: { text: string; decisive: boolean } | undefined;
  /** The chain path from the base chain (PREROUTING -> KUBE-SERVICES -> ...). */
  path: readonly string[];
}

/** One walk of a table's base chain (iptables) or of an nft base chain on a hook: the chains it entered. */
export interface WalkListing {
  id: string;
  /** The node of its box: a hook, or the in / out wire for netdev ingress / egress chains. */
  hook: NodeId;
  /** The iptables table, or "FAMILY TABLE" for nft ("ip bypass"). */
  table: string;
  /** The base chain's name (the hook's name for iptables). */
  base: string;
  /** "filter FORWARD", "ip bypass forward (nft: hook forward, priority 0)". */
  heading: string;
  nft: boolean;
  chains: ChainListing[];
}

export interface HopView {
  index: number;
  host: string;
  direction: 'request' | 'reply';
  /** Element id prefix, unique in a page ("f0-h1"). */
  id: string;
  fate: TraceResult['fate'];
  verdict: string;
  /** The packet as it arrived / was sent, and as it left or was delivered. */
  packetIn: string;
  packetOut: string;
  inIface: string | null;
  outIface: string | null;
  ctState: string;
  /** The conntrack entry after the packet, when there is one. */
  conntrack: string | undefined;
  nodes: Map<NodeId, NodeView>;
  edges: EdgeView[];
  /** The visited nodes in the order the packet went through them. */
  path: NodeId[];
  walks: WalkListing[];
  /** "filter FORWARD rule 3" and its rule text, when a rule or policy decided. */
  decided: { where: string; text: string | undefined; table: string; chain: string; hook: NodeId | undefined } | undefined;
  /** Notes worth showing: LOG lines, assumptions, the host's answers. */
  notes: string[];
  wire: DiagramHop['wire'];
}

/** A crossing between two consecutive hops of an input: the packet leaves one host and reaches the next. */
export interface Crossing {
  from: number;
  to: number;
  fromLane: number;
  toLane: number;
  direction: 'request' | 'reply';
  /** The packet on the wire (as the earlier hop sent it). */
  label: string;
  /** out eth1 -> in eth0 (and the wire's name). */
  via: string;
}

export interface FigureView {
  id: string;
  title: string;
  lanes: string[];
  hops: HopView[];
  crossings: Crossing[];
}
