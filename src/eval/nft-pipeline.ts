/**
 * What runs on each hook of a host once nftables chains join the iptables tables: the kernel keeps one list of
 * hook functions per family and hook, sorted by priority (a later registration first among equals,
 * hook-order.ts). IPv4 packets meet the chains of the ip and inet families on the five ip hooks, and, per
 * device, netdev (and inet) ingress chains before PREROUTING and netdev egress chains after POSTROUTING.
 *
 * NAT chains are different: every `type nat` chain of a hook (iptables' nat table and nft nat chains alike)
 * sits behind the one nat hook function at dstnat -100 / srcnat 100 (nf_nat_register_fn), which calls them in
 * their own priority order for a connection's first packet until one of them sets up a mapping
 * (nf_nat_inet_fn). So the list has one 'nat' entry holding those chains.
 *
 * The bridge family has hooks of its own (prerouting, input, forward, output, postrouting), which a frame the
 * bridge switches meets whatever bridge-nf-call-iptables says. br_netfilter sits on three of them as one more hook
 * function ('brnf'): it calls the ip PREROUTING chains from bridge prerouting at NF_BR_PRI_BRNF (0), the ip
 * FORWARD chains from bridge forward at 0 too (6.18: an nft chain of priority 0 made later runs before it, one of
 * priority 1 after, checked by hand), and the ip POSTROUTING chains from bridge postrouting at NF_BR_PRI_LAST. Its
 * hooks are registered when the namespace's first bridge is made, before any nft chain of a lab, so an nft bridge
 * chain of equal priority runs first.
 */
import type { Hook } from '../extensions/spec';
import type { Ruleset } from '../model/ruleset';
import type { TableName } from '../model/tables';
import type { NftChain, NftRuleset, NftTable } from '../nft/model';
import { hookRank } from './hook-order';
import { hookEntries, PRIORITY, type HookEntry } from './hooks';

export interface NftEntry {
  kind: 'nft';
  table: NftTable;
  chain: NftChain;
  priority: number;
}

/** One chain behind the nat hook: the iptables nat table's, or an nft nat chain. */
export type NatChain = { kind: 'ipt'; priority: number } | NftEntry;

/** The bridge family's hooks. */
export type BridgeHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
/** The arp family's hooks. */
export type ArpHook = 'input' | 'output';
/** One hook function on a bridge hook: an nft bridge chain, or br_netfilter calling the ip hook's chains. */
export type BridgeEntry = NftEntry | { kind: 'brnf'; priority: number };

/** NF_BR_PRI_LAST (INT_MAX): br_netfilter's postrouting hook. */
const NF_BR_PRI_LAST = 2147483647;
/** Where br_netfilter calls the ip chains, per bridge hook (NF_BR_PRI_BRNF is 0). */
const BRNF_PRIORITY: Partial<Record<BridgeHook, number>> = { prerouting: 0, forward: 0, postrouting: NF_BR_PRI_LAST };
const BRIDGE_HOOKS: readonly BridgeHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export type PipelineEntry = Exclude<HookEntry, { kind: 'table'; table: 'nat' }> | NftEntry | { kind: 'nat'; priority: number; chains: NatChain[] };

export interface Pipeline {
  hooks: Readonly<Record<Hook, readonly PipelineEntry[]>>;
  /** Ingress chains per device (netdev, inet), in order. */
  ingress: ReadonlyMap<string, readonly NftEntry[]>;
  /** Egress chains per device (netdev). */
  egress: ReadonlyMap<string, readonly NftEntry[]>;
  /** The bridge family's hooks: nft bridge chains and br_netfilter's entries, in order. */
  bridge: Readonly<Record<BridgeHook, readonly BridgeEntry[]>>;
  /** The arp family's hooks (input, output): chains that see the ARP frames a host receives and sends. */
  arp: Readonly<Record<ArpHook, readonly NftEntry[]>>;
  /** Are there nft bridge chains at all? (Without them, a bridged frame meets only br_netfilter.) */
  hasBridgeChains: boolean;
  /** Does any nft rule need conntrack (a ct expression, a nat chain or statement)? */
  nftNeedsConntrack: boolean;
}

const HOOK_OF: Readonly<Record<string, Hook>> = { prerouting: 'PREROUTING', input: 'INPUT', forward: 'FORWARD', output: 'OUTPUT', postrouting: 'POSTROUTING' };
const HOOKS: readonly Hook[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/** The pipeline of a ruleset; `nft` is its parsed nft side (undefined: iptables only). */
export function buildPipeline(rs: Ruleset, nft: NftRuleset | undefined): Pipeline {
  const rank = hookRank(rs.hookOrder);
  type Ranked = { e: PipelineEntry | NatChain | BridgeEntry; priority: number; rank: number };
  const byHook = new Map<Hook, Ranked[]>(HOOKS.map((h) => [h, []]));
  const natByHook = new Map<Hook, Ranked[]>(HOOKS.map((h) => [h, []]));
  const ingress = new Map<string, Ranked[]>();
  const egress = new Map<string, Ranked[]>();
  const bridge = new Map<BridgeHook, Ranked[]>(BRIDGE_HOOKS.map((h) => [h, []]));
  const arp: Record<ArpHook, Ranked[]> = { input: [], output: [] };
  for (const h of BRIDGE_HOOKS) {
    const priority = BRNF_PRIORITY[h];
    if (priority !== undefined) bridge.get(h)!.push({ e: { kind: 'brnf', priority }, priority, rank: -1 });
  }
  let hasBridgeChains = false;
  let needsCt = false;

  for (const hook of HOOKS) {
    for (const e of hookEntries(hook)) {
      if (e.kind !== 'table') {
        byHook.get(hook)!.push({ e, priority: e.priority, rank: -1 });
        continue;
      }
      if (!rs.tables.has(e.table as TableName)) continue;
      const r = rank(`ipt:${e.table}:${hook}`);
      if (e.table === 'nat') natByHook.get(hook)!.push({ e: { kind: 'ipt', priority: e.priority }, priority: e.priority, rank: r });
      else byHook.get(hook)!.push({ e: e as PipelineEntry, priority: e.priority, rank: r });
    }
  }
  for (const table of nft?.tables ?? []) {
    for (const chain of table.chains.values()) {
      if (chain.rules.some((r) => /\bct |\b(snat|dnat|masquerade|redirect)\b/.test(r.text))) needsCt = true;
      const base = chain.base;
      if (!base) continue;
      const entry: NftEntry = { kind: 'nft', table, chain, priority: base.priority };
      const ranked: Ranked = { e: entry, priority: base.priority, rank: rank(`nft:${table.family}:${table.name}:${chain.name}`) };
      if ((table.family === 'netdev' || table.family === 'inet') && (base.hook === 'ingress' || base.hook === 'egress')) {
        const into = base.hook === 'ingress' ? ingress : egress;
        for (const dev of base.devices) {
          if (!into.has(dev)) into.set(dev, []);
          into.get(dev)!.push(ranked);
        }
        continue;
      }
      if (table.family === 'arp') {
        if (base.hook === 'input' || base.hook === 'output') arp[base.hook].push(ranked);
        continue;
      }
      if (table.family === 'bridge') {
        const list = bridge.get(base.hook as BridgeHook);
        if (list) {
          list.push(ranked);
          hasBridgeChains = true;
        }
        continue;
      }
      if (table.family !== 'ip' && table.family !== 'inet') continue;
      const hook = HOOK_OF[base.hook];
      if (!hook) continue;
      if (base.type === 'nat') {
        needsCt = true;
        natByHook.get(hook)!.push(ranked);
      } else byHook.get(hook)!.push(ranked);
    }
  }
  const sorted = <T>(list: Ranked[]): T[] => [...list].sort((a, b) => a.priority - b.priority || b.rank - a.rank).map((x) => x.e as T);
  const hooks = {} as Record<Hook, PipelineEntry[]>;
  for (const hook of HOOKS) {
    const list = byHook.get(hook)!;
    const nat = natByHook.get(hook)!;
    if (nat.length > 0) {
      const priority = hook === 'PREROUTING' || hook === 'OUTPUT' ? PRIORITY.dstnat : PRIORITY.srcnat;
      list.push({ e: { kind: 'nat', priority, chains: sorted<NatChain>(nat) }, priority, rank: -1 });
    }
    hooks[hook] = sorted<PipelineEntry>(list);
  }
  const devices = (m: Map<string, Ranked[]>): Map<string, NftEntry[]> => new Map([...m].map(([d, l]) => [d, sorted<NftEntry>(l)]));
  const bridgeHooks = {} as Record<BridgeHook, BridgeEntry[]>;
  for (const h of BRIDGE_HOOKS) bridgeHooks[h] = sorted<BridgeEntry>(bridge.get(h)!);
  return {
    hooks,
    ingress: devices(ingress),
    egress: devices(egress),
    bridge: bridgeHooks,
    arp: { input: sorted<NftEntry>(arp.input), output: sorted<NftEntry>(arp.output) },
    hasBridgeChains,
    nftNeedsConntrack: needsCt,
  };
}
