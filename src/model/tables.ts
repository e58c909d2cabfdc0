/**
 * The IPv4 tables the nf_tables variant of iptables knows, with their built-in chains in the order
 * iptables lists them, and the netfilter hook each chain sits on (nft.c xtables_ipv4).
 */
import type { Hook } from '../extensions/spec';

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

export interface TableSpec {
  name: TableName;
  chains: readonly Hook[];
}

export const TABLES: Readonly<Record<TableName, TableSpec>> = {
  raw: { name: 'raw', chains: ['PREROUTING', 'OUTPUT'] },
  mangle: { name: 'mangle', chains: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] },
  filter: { name: 'filter', chains: ['INPUT', 'FORWARD', 'OUTPUT'] },
  security: { name: 'security', chains: ['INPUT', 'FORWARD', 'OUTPUT'] },
  nat: { name: 'nat', chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'] },
};

export function isTableName(name: string): name is TableName {
  return Object.prototype.hasOwnProperty.call(TABLES, name);
}

export function isBuiltinChain(table: TableName, chain: string): chain is Hook {
  return (TABLES[table].chains as readonly string[]).includes(chain);
}
