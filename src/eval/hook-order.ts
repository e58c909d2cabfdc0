/**
 * The order in which tables and base chains were made (registered with the kernel). Chains on one hook run by
 * priority; at the same priority the one registered LAST runs first (nf_hook_entries_grow() inserts a new hook
 * before the first one of equal or higher priority; recorded: an iptables-nft `filter FORWARD` made after an nft
 * chain `forward` of priority filter traverses first, fixtures/labs/stateless-nat.sh). `nft list ruleset` prints
 * tables, and the chains of a table, in the order they were made (fixtures/nft/corpus/nft-iptables.txt).
 *
 * iptables (Ruleset.tables) and nft (Ruleset.nft) keep their rules apart, so the order of both is one list,
 * Ruleset.hookOrder, stored as a state line `# tsiptables: hook order KEY KEY ...` with keys `ipt:TABLE`,
 * `ipt:TABLE:CHAIN` (a registered built-in chain) and `nft:FAMILY:TABLE:CHAIN` (a base chain). It is brought up
 * to date whenever the state is written (reconcileHookOrder): what is gone leaves the list, what is new is
 * appended (iptables first: it existed before an nft command could add anything). A key not listed counts as
 * the oldest.
 */
import type { Ruleset } from '../model/ruleset';

export const HOOK_ORDER_MARK = '# tsiptables: hook order';

/** The keys of the nft base chains in a stored nft text, in text order. */
export function nftBaseChainKeys(nft: string): string[] {
  const keys: string[] = [];
  let table: string | undefined;
  let chain: string | undefined;
  for (const line of nft.split('\n')) {
    const t = /^table (\w+) ("[^"]*"|\S+) \{/.exec(line);
    if (t) {
      table = `${t[1]}:${unquote(t[2]!)}`;
      continue;
    }
    const c = /^\tchain ("[^"]*"|\S+) \{/.exec(line);
    if (c) {
      chain = unquote(c[1]!);
      continue;
    }
    if (table !== undefined && chain !== undefined && /^\t\ttype \w+ hook /.test(line)) keys.push(`nft:${table}:${chain}`);
  }
  return keys;
}

function unquote(s: string): string {
  return s.startsWith('"') ? s.slice(1, -1) : s;
}

/** The keys of the iptables tables, of the built-in chains the nf_tables variant has registered and of user chains. */
export function iptablesKeys(rs: Ruleset): string[] {
  const keys: string[] = [];
  for (const t of rs.tables.values()) {
    keys.push(`ipt:${t.name}`);
    for (const c of t.chains.values()) if (c.hook && c.registered) keys.push(`ipt:${t.name}:${c.name}`);
    for (const c of t.chains.values()) if (!c.hook) keys.push(`ipt:${t.name}:${c.name}`);
  }
  return keys;
}

/** `-E`: a renamed chain keeps its place (the kernel renames the chain object; recorded in nft-iptables). */
export function renameInHookOrder(rs: Ruleset, table: string, from: string, to: string): void {
  const at = rs.hookOrder.indexOf(`ipt:${table}:${from}`);
  if (at >= 0) rs.hookOrder[at] = `ipt:${table}:${to}`;
}

/**
 * What one restore section makes, in line order (iptables-restore without --noflush deletes the table and
 * makes it again: the table moves to the end and its chains come in the order its lines make them; with
 * --noflush the chains that exist keep their places). Recorded in fixtures/nft/corpus/nft-iptables.txt.
 */
export class SectionMade {
  private readonly known: Set<string>;
  constructor(
    private readonly rs: Ruleset,
    private readonly table: string,
    flush: boolean,
  ) {
    rs.orderShape = undefined;
    if (flush) rs.hookOrder = rs.hookOrder.filter((k) => k !== `ipt:${table}` && !k.startsWith(`ipt:${table}:`));
    this.known = new Set(rs.hookOrder);
    this.made(`ipt:${table}`);
  }
  /** A chain the section's line named: made now unless it already was. */
  chain(name: string): void {
    this.made(`ipt:${this.table}:${name}`);
  }
  /** `-E` in the section: renameInHookOrder() has already put the new name in the old one's place. */
  renamed(from: string, to: string): void {
    this.known.delete(`ipt:${this.table}:${from}`);
    this.known.add(`ipt:${this.table}:${to}`);
  }
  /** `-X` in the section: the chains `exists` no longer knows lose their places (made again, they come last). */
  deleted(exists: (chain: string) => boolean): void {
    const prefix = `ipt:${this.table}:`;
    this.rs.hookOrder = this.rs.hookOrder.filter((k) => {
      if (!k.startsWith(prefix) || exists(k.slice(prefix.length))) return true;
      this.known.delete(k);
      return false;
    });
  }
  private made(key: string): void {
    if (this.known.has(key)) return;
    this.known.add(key);
    this.rs.hookOrder.push(key);
  }
}

/** The order line of a state file's text (searched after its last table), as keys. */
export function hookOrderInText(text: string): string[] {
  const lastCommit = text.lastIndexOf('\nCOMMIT\n');
  const at = text.indexOf(`\n${HOOK_ORDER_MARK} `, lastCommit < 0 ? 0 : lastCommit);
  if (at < 0) return [];
  const end = text.indexOf('\n', at + 1);
  return text.slice(at + 1 + HOOK_ORDER_MARK.length, end < 0 ? undefined : end).split(' ').filter((k) => k !== '');
}

/** The state line of an order (empty when there is none). */
export function hookOrderLine(order: readonly string[]): string {
  return order.length === 0 ? '' : `${HOOK_ORDER_MARK} ${order.join(' ')}\n`;
}

/**
 * What decides the order's keys: the loaded tables with their numbers of chains and of registered built-in
 * chains, and the nft side's text. Commands that make or remove a table or chain change it; a rename keeps it
 * (renameInHookOrder() renames the key in place) and a restore section forgets it (SectionMade). Comparing it
 * spares a write into a kube-proxy state (40,000 chains) hashing every key again.
 */
export function orderShape(rs: Ruleset): string {
  let shape = rs.nft ?? '';
  for (const t of rs.tables.values()) {
    let registered = 0;
    for (const c of t.chains.values()) if (c.hook && c.registered) registered++;
    shape += `\n${t.name} ${t.chains.size} ${registered}`;
  }
  return shape;
}

/** Brings rs.hookOrder up to date with the tables and chains that exist now (nothing to do while orderShape() is the same). */
export function reconcileHookOrder(rs: Ruleset): void {
  const shape = orderShape(rs);
  if (rs.orderShape === shape) return;
  rs.orderShape = shape;
  const ipt = iptablesKeys(rs);
  const nft = rs.nft === undefined ? [] : nftBaseChainKeys(rs.nft);
  const present = new Set([...ipt, ...nft]);
  // Tables a command did not load (Ruleset.untouched) keep their places.
  const untouched = (k: string): boolean => k.startsWith('ipt:') && rs.untouched.has(k.split(':')[1] as never);
  const kept = rs.hookOrder.filter((k) => present.has(k) || untouched(k));
  const known = new Set(kept);
  rs.hookOrder = [...kept, ...[...ipt, ...nft].filter((k) => !known.has(k))];
}

/** Rank of a key: higher made later (unlisted: -1, the oldest). */
export function hookRank(order: readonly string[]): (key: string) => number {
  const m = new Map(order.map((k, i) => [k, i]));
  return (k) => m.get(k) ?? -1;
}
