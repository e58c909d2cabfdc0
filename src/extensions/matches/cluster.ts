/**
 * cluster match (iptables-extensions: "cluster"): --cluster-total-nodes 1-32 and --cluster-hash-seed (both
 * mandatory), [!] --cluster-local-node 1-32 or [!] --cluster-local-nodemask 1-32 (exclusive); always saved as
 * the node mask.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import type { EvalContext } from '../../eval/context';

export interface ClusterState {
  totalNodes: number;
  nodeMask: number;
  hashSeed: number;
  inverted: boolean;
}

const hex8 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const saveText = (s: ClusterState): string =>
  `${s.inverted ? ' !' : ''} --cluster-local-nodemask ${hex8(s.nodeMask)} --cluster-total-nodes ${s.totalNodes} --cluster-hash-seed ${hex8(s.hashSeed)}`;

export default defineMatch<ClusterState>({
  kind: 'match',
  needsConntrack: true,
  name: 'cluster',
  manSection: 'cluster',
  style: 'x6',
  help: `cluster match options:
  --cluster-total-nodes <num>		Set number of total nodes in cluster
  [!] --cluster-local-node <num>	Set the local node number
  [!] --cluster-local-nodemask <num>	Set the local node mask
  --cluster-hash-seed <num>		Set seed value of the Jenkins hash
`,
  options: [
    { name: 'cluster-total-nodes', arg: 'required', mandatory: true },
    { name: 'cluster-local-node', arg: 'required', invert: true, excludes: ['cluster-local-nodemask'] },
    { name: 'cluster-local-nodemask', arg: 'required', invert: true, excludes: ['cluster-local-node'] },
    { name: 'cluster-hash-seed', arg: 'required', mandatory: true },
  ],
  init: () => ({ totalNodes: 0, nodeMask: 0, hashSeed: 0, inverted: false }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'cluster-total-nodes':
        s.totalNodes = parseX6Uint('cluster', use.name, v, 1, 32);
        return;
      case 'cluster-local-node':
        s.nodeMask = (1 << (parseX6Uint('cluster', use.name, v, 1, 32) - 1)) >>> 0;
        if (use.inverted) s.inverted = true;
        return;
      case 'cluster-local-nodemask':
        s.nodeMask = parseX6Uint('cluster', use.name, v, 1, 32);
        if (use.inverted) s.inverted = true;
        return;
      default:
        s.hashSeed = parseX6Uint('cluster', use.name, v, 0, 0xffffffff);
    }
  },
  finalCheck(s, _ctx, given) {
    // cluster_check(), before libxtables' mandatory-option check.
    const total = given.has('cluster-total-nodes') && given.has('cluster-hash-seed');
    const tooBig = s.nodeMask >= 2 ** s.totalNodes;
    if (total && given.has('cluster-local-node')) {
      if (tooBig) throw paramProblem("cluster match: `--cluster-local-node' must be <= `--cluster-total-nodes'");
      return;
    }
    if (total && given.has('cluster-local-nodemask')) {
      if (tooBig) throw paramProblem("cluster match: `--cluster-local-nodemask' too big for `--cluster-total-nodes'");
      return;
    }
    if (!given.has('cluster-local-node') && !given.has('cluster-local-nodemask')) {
      throw paramProblem("cluster match: `--cluster-local-node' or`--cluster-local-nodemask' is missing");
    }
  },
  save: saveText,
  // A mask above 32 (from --cluster-local-node 6 and up) does not read back as --cluster-local-nodemask (1-32):
  // the state file says the node instead.
  stateText: (s) =>
    s.nodeMask > 32
      ? saveText(s).replace(/--cluster-local-nodemask \S+/, `--cluster-local-node ${31 - Math.clz32(s.nodeMask) + 1}`)
      : undefined,
  print: (s) => ` cluster ${s.inverted ? '!' : ''}node_mask=${hex8(s.nodeMask)} total_nodes=${s.totalNodes} hash_seed=${hex8(s.hashSeed)}`,
  match: (s, ctx) => clusterNode(s, ctx) !== undefined && (((s.nodeMask >>> clusterNode(s, ctx)!) & 1) === 1) !== s.inverted,
  explain(s, ctx) {
    const node = clusterNode(s, ctx);
    return `${saveText(s).trim()}: ${node === undefined ? `packet has no connection (${ctx.ctState})` : `the connection hashes to node ${node + 1}`}`;
  },
});

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** jhash_1word() of linux/jhash.h. */
export function jhash1word(a: number, initval: number): number {
  const iv = (initval + 0xdeadbeef + (1 << 2)) >>> 0;
  let x = (a + iv) >>> 0;
  let b = iv;
  let c = iv;
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  x = ((x ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ x) - rol32(x, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  x = ((x ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ x) - rol32(x, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

/**
 * cluster_mt() of xt_cluster.c: the node (0-based) of the connection, jhash_1word() of its original source
 * address (the __be32 as a little-endian host reads it) with the seed, scaled to total_nodes
 * (reciprocal_scale); no connection: no node, no match.
 */
function clusterNode(s: ClusterState, ctx: EvalContext): number | undefined {
  if (!ctx.ct) return undefined;
  const src = ctx.ct.orig.src >>> 0;
  const le = (((src & 0xff) << 24) | ((src >>> 8) & 0xff) << 16 | ((src >>> 16) & 0xff) << 8 | (src >>> 24)) >>> 0;
  const hash = jhash1word(le, s.hashSeed);
  return Number((BigInt(hash) * BigInt(s.totalNodes)) >> 32n);
}
