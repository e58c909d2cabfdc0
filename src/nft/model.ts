/** The nftables ruleset as tsiptables keeps it: tables, their sets and chains, rules as canonical text. */

export type Family = 'ip' | 'ip6' | 'inet' | 'netdev' | 'bridge' | 'arp';
export const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet', 'netdev', 'bridge', 'arp'];

export interface BaseChainSpec {
  type: 'filter' | 'nat' | 'route';
  hook: string;
  /** netdev (and inet ingress) devices, as given. */
  devices: string[];
  priority: number;
  policy: 'accept' | 'drop';
}

export interface NftRule {
  /** The rule as `nft list ruleset` prints it. */
  text: string;
  handle: number;
}

export interface NftChain {
  name: string;
  handle: number;
  base: BaseChainSpec | undefined;
  comment: string | undefined;
  rules: NftRule[];
}

/** One element of a set or map: its printed text and the key it sorts by (the kernel's order). */
export interface SetElement {
  text: string;
  key: bigint[];
  /** What an element of an interval set covers (for auto-merge). */
  range?: { lo: bigint; hi: bigint };
}

export interface NftSet {
  kind: 'set' | 'map';
  name: string;
  handle: number;
  /** The `type ...` or `typeof ...` line's text after the tab. */
  typeLine: string;
  /** The key's datatype (for element parsing and line breaks), and the map's data type. */
  keyType: string;
  /** The key's datatypes, one per field of a concatenation. */
  keyTypes: string[];
  dataType: string | undefined;
  flags: string[];
  timeout: string | undefined;
  size: number | undefined;
  autoMerge: boolean;
  comment: string | undefined;
  elements: SetElement[];
}

/** A named stateful object of a table: a counter (its numbers) or a quota (its text: `over 100 mbytes`). */
export type NftObject =
  | { kind: 'counter'; name: string; handle: number; packets: bigint; bytes: bigint }
  | { kind: 'quota'; name: string; handle: number; text: string };

/** The key of a named object in NftTable.objects. */
export function objectKey(kind: NftObject['kind'], name: string): string {
  return `${kind} ${name}`;
}

export interface NftTable {
  family: Family;
  name: string;
  handle: number;
  /** The last handle the kernel gave a chain, set or rule of this table (table->hgenerator). */
  lastHandle: number;
  flags: string[];
  comment: string | undefined;
  sets: Map<string, NftSet>;
  chains: Map<string, NftChain>;
  /** Named counters and quotas by `KIND NAME` (a counter and a quota may share a name), in the order they were made (listed before the sets). */
  objects: Map<string, NftObject>;
}

export class NftRuleset {
  tables: NftTable[] = [];
  /** The last table handle given out in this network namespace (deleted tables keep theirs used). */
  lastTableHandle = 0;

  table(family: Family, name: string): NftTable | undefined {
    return this.tables.find((t) => t.family === family && t.name === name);
  }

  clone(): NftRuleset {
    const r = new NftRuleset();
    r.lastTableHandle = this.lastTableHandle;
    r.tables = this.tables.map((t) => ({
      ...t,
      flags: [...t.flags],
      sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, flags: [...s.flags], keyTypes: [...s.keyTypes], elements: [...s.elements] }])),
      chains: new Map([...t.chains].map(([k, c]) => [k, { ...c, base: c.base ? { ...c.base, devices: [...c.base.devices] } : undefined, rules: [...c.rules] }])),
      objects: new Map([...t.objects].map(([k, o]) => [k, { ...o }])),
    }));
    return r;
  }
}
