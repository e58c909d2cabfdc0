/**
 * CLUSTERIP target (iptables-extensions: "CLUSTERIP", libipt_CLUSTERIP / ipt_CLUSTERIP.c): share one address
 * between cluster nodes; each node takes the packets whose hash falls on its node number. A rule with --new
 * configures the cluster and needs --hashmode, --clustermac (multicast), --total-nodes and --local-node
 * (--hash-init optional); one without names a cluster configured before. The module left Linux in 6.3 and the
 * kernel the fixtures were recorded on lacks it: libxtables warns and the kernel refuses every rule with ENOENT
 * (recorded in ext-target-CLUSTERIP); the save and -L texts follow libipt_CLUSTERIP.c.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { parseEtherMac } from '../matches/mac';

const CLUSTERIP_MAX_NODES = 16;
const HASHMODES = ['sourceip', 'sourceip-sourceport', 'sourceip-sourceport-destport'] as const;
// O_NEW 0, O_HASHMODE 1, O_CLUSTERMAC 2, O_TOTAL_NODES 3, O_LOCAL_NODE 4, O_HASH_INIT 5; F_FULL is the first five.
const FULL = ['new', 'hashmode', 'clustermac', 'total-nodes', 'local-node'];

export interface ClusteripState {
  isNew: boolean;
  hashMode: number;
  mac: number[];
  totalNodes: number;
  localNode: number;
  hashInit: number;
}

const macText = (mac: readonly number[]): string => mac.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
const modeText = (m: number): string => (m >= 1 && m <= 3 ? HASHMODES[m - 1]! : 'unknown-error');

export default defineTarget<ClusteripState>({
  kind: 'target',
  kernelMissing: true,
  name: 'CLUSTERIP',
  manSection: 'CLUSTERIP',
  style: 'x6',
  help: `CLUSTERIP target options:
  --new			 Create a new ClusterIP
  --hashmode <mode>		 Specify hashing mode
					sourceip
					sourceip-sourceport
					sourceip-sourceport-destport
  --clustermac <mac>		 Set clusterIP MAC address
  --total-nodes <num>		 Set number of total nodes in cluster
  --local-node <num>		 Set the local node number
  --hash-init <num>		 Set init value of the Jenkins hash
`,
  options: [
    { name: 'new', arg: 'none' },
    { name: 'hashmode', arg: 'required', also: ['new'] },
    { name: 'clustermac', arg: 'required', also: ['new'] },
    { name: 'total-nodes', arg: 'required', also: ['new'] },
    { name: 'local-node', arg: 'required', also: ['new'] },
    { name: 'hash-init', arg: 'required', also: ['new'] },
  ],
  init: () => ({ isNew: false, hashMode: 0, mac: [0, 0, 0, 0, 0, 0], totalNodes: 0, localNode: 0, hashInit: 0 }),
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'new':
        s.isNew = true;
        return;
      case 'hashmode': {
        const i = HASHMODES.findIndex((m) => m === v);
        if (i < 0) throw paramProblem(`Unknown hashmode "${v}"`);
        s.hashMode = i + 1;
        return;
      }
      case 'clustermac':
        s.mac = parseEtherMac(v);
        if (!(s.mac[0]! & 0x01)) throw paramProblem('MAC has to be a multicast ethernet address');
        return;
      case 'total-nodes':
        s.totalNodes = parseX6Uint('CLUSTERIP', use.name, v, 0, CLUSTERIP_MAX_NODES);
        return;
      case 'local-node':
        s.localNode = parseX6Uint('CLUSTERIP', use.name, v, 0, CLUSTERIP_MAX_NODES);
        return;
      case 'hash-init':
        s.hashInit = parseX6Uint('CLUSTERIP', use.name, v, 0, 0xffffffff);
        return;
    }
  },
  // CLUSTERIP_check(): nothing, or at least the five of F_FULL.
  finalCheck(_s, _ctx, given) {
    if (given.size === 0 || FULL.every((o) => given.has(o))) return;
    throw paramProblem('CLUSTERIP target: Invalid parameter combination');
  },
  save: (s) =>
    s.isNew
      ? ` --new --hashmode ${modeText(s.hashMode)} --clustermac ${macText(s.mac)} --total-nodes ${s.totalNodes} --local-node ${s.localNode} --hash-init ${s.hashInit}`
      : '',
  print: (s) =>
    s.isNew
      ? ` CLUSTERIP hashmode=${modeText(s.hashMode)} clustermac=${macText(s.mac)} total_nodes=${s.totalNodes} local_node=${s.localNode} hash_init=${s.hashInit}`
      : ' CLUSTERIP',
  // clusterip_tg(): hash the packet (source address, ports per hashmode, with hash_init) onto 1..total_nodes;
  // this node's packets XT_CONTINUE, the others NF_DROP. The hash is not simulated: asked, assumed ours.
  run(s, ctx) {
    const mine = ctx.decide('CLUSTERIP', `the packet hashes onto this node${s.isNew ? ` (local node ${s.localNode} of ${s.totalNodes})` : ''}`, true);
    if (!mine) {
      ctx.note('CLUSTERIP: another node answers this packet: dropped here');
      return 'DROP';
    }
    return 'CONTINUE';
  },
});
