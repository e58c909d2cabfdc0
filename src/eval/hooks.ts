/**
 * The base chains on each hook in kernel priority order (enum nf_ip_hook_priorities): raw -300, conntrack
 * -200, mangle -150, nat dstnat -100, filter 0, security 50, nat srcnat 100, conntrack confirm last. The
 * evaluator walks this list; later families (nftables chains, netdev, bridge) add entries with their own
 * priorities and slot in without changing the walk.
 */
import type { Hook } from '../extensions/spec';
import type { TableName } from '../model/tables';

export type HookEntry =
  | { kind: 'table'; table: TableName; priority: number }
  | { kind: 'conntrack'; priority: number }
  | { kind: 'confirm'; priority: number };

export const PRIORITY = {
  raw: -300,
  conntrack: -200,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
  confirm: 2147483647,
} as const;

const t = (table: TableName, priority: number): HookEntry => ({ kind: 'table', table, priority });

const HOOKS: Readonly<Record<Hook, readonly HookEntry[]>> = {
  PREROUTING: [t('raw', PRIORITY.raw), { kind: 'conntrack', priority: PRIORITY.conntrack }, t('mangle', PRIORITY.mangle), t('nat', PRIORITY.dstnat)],
  INPUT: [t('mangle', PRIORITY.mangle), t('filter', PRIORITY.filter), t('security', PRIORITY.security), t('nat', PRIORITY.srcnat), { kind: 'confirm', priority: PRIORITY.confirm }],
  FORWARD: [t('mangle', PRIORITY.mangle), t('filter', PRIORITY.filter), t('security', PRIORITY.security)],
  OUTPUT: [
    t('raw', PRIORITY.raw),
    { kind: 'conntrack', priority: PRIORITY.conntrack },
    t('mangle', PRIORITY.mangle),
    t('nat', PRIORITY.dstnat),
    t('filter', PRIORITY.filter),
    t('security', PRIORITY.security),
  ],
  POSTROUTING: [t('mangle', PRIORITY.mangle), t('nat', PRIORITY.srcnat), { kind: 'confirm', priority: PRIORITY.confirm }],
};

const byPriority = (entries: readonly HookEntry[]): readonly HookEntry[] => [...entries].sort((a, b) => a.priority - b.priority);
const SORTED: Readonly<Record<Hook, readonly HookEntry[]>> = {
  PREROUTING: byPriority(HOOKS.PREROUTING),
  INPUT: byPriority(HOOKS.INPUT),
  FORWARD: byPriority(HOOKS.FORWARD),
  OUTPUT: byPriority(HOOKS.OUTPUT),
  POSTROUTING: byPriority(HOOKS.POSTROUTING),
};

/** The entries of a hook in priority order (sorted once, so entries added later with their priority slot in). */
export function hookEntries(hook: Hook): readonly HookEntry[] {
  return SORTED[hook];
}

/** The nat manip type of a hook (HOOK2MANIP): destination before routing, source after. */
export function manipOf(hook: Hook): 'src' | 'dst' {
  return hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
}
