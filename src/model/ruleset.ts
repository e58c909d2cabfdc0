/**
 * The in-memory ruleset: tables (in the order they came into being, as the kernel lists them), chains (built-in
 * ones with policy and counters, user ones) and rules (base IPv4 match, extension matches, target).
 */
import type { AnyMatch, AnyTarget, Hook, MatchUse, TargetUse } from '../extensions/spec';
import type { AddrMask } from './ip';
import { TABLES, type TableName } from './tables';

/** The nf_tables variant's builtin table order (enum nft_table_type), which iptables-save follows. */
export const SAVE_ORDER: readonly TableName[] = ['mangle', 'security', 'raw', 'filter', 'nat'];

export interface Counters {
  packets: bigint;
  bytes: bigint;
}

export const zeroCounters = (): Counters => ({ packets: 0n, bytes: 0n });

/** The IPv4 part every rule has (struct ipt_ip): addresses pre-masked, interface names, protocol, fragment. */
export interface IpMatch {
  src: AddrMask;
  dst: AddrMask;
  inIface: string;
  outIface: string;
  proto: number;
  fragment: boolean;
  inv: { src: boolean; dst: boolean; inIface: boolean; outIface: boolean; proto: boolean; fragment: boolean };
}

/** What a rule does when it matches. */
export type Verdict =
  | { kind: 'none' }
  | { kind: 'target'; target: TargetUse }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string };

/**
 * A rule. Rules built from a command are complete at once; rules read from the state file are lazy
 * (io/lazy-rule.ts): `line`, `jumpTo` and `counters` cost nothing, the parsed parts are parsed on first use,
 * so a one-rule `-A` into a 110,000-rule state does not parse the other 110,000.
 */
export interface Rule {
  readonly ip: IpMatch;
  readonly matches: readonly MatchUse[];
  readonly verdict: Verdict;
  counters: Counters;
  /**
   * The canonical save text of the rule after `-A CHAIN` up to the target (starts with a space or is empty),
   * and the target part (` -j X ...`). Used for save, -S, and rule comparison (-C, -D by spec).
   * `-S -v` puts ` -c P B` between the two.
   */
  readonly text: string;
  readonly targetText: string;
  /** text + targetText: the save line after `-A CHAIN`. */
  readonly line: string;
  /**
   * Set only when the save text would not read back to the same rule (an extension's stateText(), or an
   * interface name with blanks): the text after `-A CHAIN` that the state file keeps instead.
   */
  readonly stateText: string | undefined;
  /** The chain a jump (-j) or goto (-g) leads to; undefined for targets and rules without one. */
  readonly jumpTo: string | undefined;
  /** What the kernel's fixed checks look at (extension definitions, protocol), known without a full parse. */
  readonly facts: RuleFacts;
  /**
   * A rule parsed from text on demand (io/lazy-rule.ts) drops its parsed parts (they are parsed again if asked
   * for): a listing of 10,000 rules then keeps one parsed rule at a time, not 10,000 for the collector to copy.
   */
  release?(): void;
}

export interface RuleFacts {
  /** The extensions the rule uses: its matches and, when it has one, its target extension. */
  readonly defs: readonly (AnyMatch | AnyTarget)[];
  readonly proto: number;
  readonly protoInverted: boolean;
}

/** The jump target of a verdict, for Rule.jumpTo. */
export function jumpOf(v: Verdict): string | undefined {
  return v.kind === 'jump' || v.kind === 'goto' ? v.chain : undefined;
}

export interface Chain {
  name: string;
  /** Set for built-in chains. */
  hook: Hook | undefined;
  /**
   * Built-in chains only: whether the nf_tables variant has registered the base chain with the kernel yet.
   * `-A INPUT` registers INPUT alone, though iptables-save prints every built-in chain; `-D OUTPUT 1` on an
   * unregistered OUTPUT says "No chain/target/match by that name." (recorded in cli-errors).
   */
  registered: boolean;
  /**
   * Built-in chains only: whether the kernel keeps counters for the policy. nf_tables gives a base chain stats
   * only when iptables-nft creates or updates it with counters: `-P`, or a `:CHAIN POLICY [p:b]` line of a
   * restore; a chain registered implicitly by `-A` counts nothing at its policy (recorded: fixtures/labs).
   */
  counted?: boolean;
  policy: 'ACCEPT' | 'DROP' | undefined;
  counters: Counters;
  rules: Rule[];
  /**
   * Set on chains read from the state file (io/state.ts) whose rules are still the file's text: `rules` turns
   * them into Rule objects on first use, while the jump graph and the state writer can read the text itself.
   */
  readonly pending?: PendingRules;
}

/** The rules of a chain as state-file text, not yet turned into Rule objects. */
export interface PendingRules {
  /** Whether Chain.rules has been read (or set) since: from then on the rules, not the text, are the truth. */
  readonly loaded: boolean;
  /** The chains the rules jump or go to, one entry per such rule, in rule order. */
  jumps(): readonly string[];
  /** The rules' lines as the state file holds them, each ending with a newline. */
  readonly text: string;
  /**
   * The rules as iptables-save lines (`-A CHAIN ...`, with `[p:b] ` before each when `counters`), read from the
   * text; undefined when a rule's save line must come from parsing it (a state spelling, Rule.stateText).
   */
  saveText(counters: boolean): string | undefined;
  /** A copy of the chain, its own counters, its rules still the same text. */
  copy(): Chain;
}

/** The chains `c`'s rules jump or go to, one entry per such rule, without parsing rules still pending. */
export function jumpsOf(c: Chain): readonly string[] {
  const p = c.pending;
  if (p !== undefined && !p.loaded) return p.jumps();
  const out: string[] = [];
  for (const r of c.rules) if (r.jumpTo !== undefined) out.push(r.jumpTo);
  return out;
}

export interface Table {
  name: TableName;
  /** Chains in creation order; built-in ones first (they are created with the table). */
  chains: Map<string, Chain>;
}

export class Ruleset {
  /** Tables in the order they were created (iptables-save prints them in SAVE_ORDER instead). */
  readonly tables = new Map<TableName, Table>();
  /**
   * Tables of the state file a command did not need, kept as their state text and written back as they are
   * (a `-A INPUT` into a kube-proxy state does not read its 100,000 nat rules).
   */
  readonly untouched = new Map<TableName, string>();
  /**
   * The nftables side of the same host (src/nft): its ruleset as `nft list ruleset` text, kept opaque here and
   * stored in the state file after the iptables tables; undefined when there is none.
   */
  nft: string | undefined = undefined;
  /** The order tables and chains were made in, both sides (src/eval/hook-order.ts). */
  hookOrder: string[] = [];
  /**
   * What the tables, chains and nft side looked like when hookOrder was last brought up to date (orderShape());
   * writing the state skips reconcileHookOrder() while it is the same (undefined: always reconcile).
   */
  orderShape: string | undefined = undefined;

  /** Existing tables in the order iptables-save prints them. */
  tablesInSaveOrder(): Table[] {
    return SAVE_ORDER.map((n) => this.tables.get(n)).filter((t): t is Table => t !== undefined);
  }

  table(name: TableName): Table | undefined {
    return this.tables.get(name);
  }

  /** Creates the table with all its built-in chains (ACCEPT, zero counters) if it does not exist yet. */
  ensureTable(name: TableName): Table {
    let t = this.tables.get(name);
    if (!t) {
      t = { name, chains: new Map() };
      for (const hook of TABLES[name].chains) {
        t.chains.set(hook, { name: hook, hook, registered: false, policy: 'ACCEPT', counters: zeroCounters(), rules: [] });
      }
      this.tables.set(name, t);
    }
    return t;
  }

  /** A deep copy (rule matches share their immutable parsed state). */
  clone(): Ruleset {
    const r = new Ruleset();
    for (const [name, text] of this.untouched) r.untouched.set(name, text);
    r.nft = this.nft;
    r.hookOrder = [...this.hookOrder];
    r.orderShape = this.orderShape;
    for (const [name, t] of this.tables) {
      const chains = new Map<string, Chain>();
      for (const [cn, c] of t.chains) {
        const pending = c.pending;
        chains.set(cn, pending !== undefined && !pending.loaded ? pending.copy() : chainWithRules(c, c.rules.map(withOwnCounters)));
      }
      r.tables.set(name, { name, chains });
    }
    return r;
  }
}

/**
 * A plain copy of chain `c` (its own counters object) holding `rules`. Not a spread: a chain read from the
 * state file is a class whose name is an accessor, which `{ ...c }` would not copy.
 */
export function chainWithRules(c: Chain, rules: Rule[]): Chain {
  const copy: Chain = { name: c.name, hook: c.hook, registered: c.registered, policy: c.policy, counters: { ...c.counters }, rules };
  if (c.counted !== undefined) copy.counted = c.counted;
  return copy;
}

/** The same rule with a counters object of its own (a clone must not share counters with the original). */
function withOwnCounters(r: Rule): Rule {
  const copy = Object.create(Object.getPrototypeOf(r) as object) as Rule;
  Object.assign(copy, r);
  copy.counters = { ...r.counters };
  return copy;
}

/** Built-in chains first in hook order, then user chains sorted by name (strcmp), as iptables-save prints them. */
export function chainsInSaveOrder(t: Table): Chain[] {
  const builtin: Chain[] = [];
  const user: Chain[] = [];
  for (const c of t.chains.values()) (c.hook ? builtin : user).push(c);
  const order = TABLES[t.name].chains;
  builtin.sort((a, b) => order.indexOf(a.hook!) - order.indexOf(b.hook!));
  user.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...builtin, ...user];
}

/** How many rules in the table jump or go to each chain (the `(N references)` of -L), in one pass. */
export function referenceCounts(t: Table): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of t.chains.values()) {
    for (const to of jumpsOf(c)) counts.set(to, (counts.get(to) ?? 0) + 1);
  }
  return counts;
}
