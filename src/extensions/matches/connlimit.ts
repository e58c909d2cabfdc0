/**
 * connlimit match (iptables-extensions: "connlimit", revision 1): [!] --connlimit-upto n / [!] --connlimit-above n
 * (XTTYPE_UINT32, mutually exclusive; `! --connlimit-upto n` is `--connlimit-above n`), --connlimit-mask
 * prefix_length (XTTYPE_PLENMASK: 0-32 or a dotted mask), --connlimit-saddr (default) / --connlimit-daddr.
 *
 * The kernel keeps a 16-byte mask (union nf_inet_addr) whose IPv4 part is its first word: --connlimit-mask 32
 * leaves the other words zero, the default leaves them all ones, so `-C ... --connlimit-mask 32` does not find
 * a rule given without a mask although both print `--connlimit-mask 32` (recorded in ext-connlimit.json).
 * The prefix length is kept as given (undefined: the default all-ones mask) so that difference survives.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { parseX6Plen } from '../values/x6';
import type { EvalContext, Tuple } from '../../eval/context';

export interface ConnlimitState {
  limit: number;
  /** XT_CONNLIMIT_INVERT: match when the count is <= limit. */
  upto: boolean;
  daddr: boolean;
  /** --connlimit-mask as a prefix length 0-128; undefined for the default (and 255: every word all ones). */
  plen: number | undefined;
}

/** The IPv4 word of the 16-byte plen mask: a prefix above 32 leaves it all ones. */
function v4Mask(s: ConnlimitState): number {
  const p = s.plen;
  if (p === undefined || p >= 32) return 0xffffffff;
  return p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
}

/** count_bits4(): 32 minus the bit length of ~mask. */
function countBits(mask: number): number {
  const inv = ~mask >>> 0;
  return 32 - (inv === 0 ? 0 : 32 - Math.clz32(inv));
}

function text(s: ConnlimitState, mask: string): string {
  return ` --connlimit-${s.upto ? 'upto' : 'above'} ${s.limit}${mask} --connlimit-${s.daddr ? 'daddr' : 'saddr'}`;
}

const saveText = (s: ConnlimitState): string => text(s, ` --connlimit-mask ${countBits(v4Mask(s))}`);

export default defineMatch<ConnlimitState>({
  kind: 'match',
  needsConntrack: true,
  name: 'connlimit',
  manSection: 'connlimit',
  style: 'x6',
  help: `connlimit match options:
  --connlimit-upto n     match if the number of existing connections is 0..n
  --connlimit-above n    match if the number of existing connections is >n
  --connlimit-mask n     group hosts using prefix length (default: max len)
  --connlimit-saddr      select source address for grouping
  --connlimit-daddr      select destination addresses for grouping
`,
  options: [
    { name: 'connlimit-upto', arg: 'required', invert: true, excludes: ['connlimit-above'] },
    { name: 'connlimit-above', arg: 'required', invert: true, excludes: ['connlimit-upto'] },
    { name: 'connlimit-mask', arg: 'required' },
    { name: 'connlimit-saddr', arg: 'none', excludes: ['connlimit-daddr'] },
    { name: 'connlimit-daddr', arg: 'none', excludes: ['connlimit-saddr'] },
  ],
  init: () => ({ limit: 0, upto: false, daddr: false, plen: undefined }),
  parse(s, use) {
    switch (use.name) {
      case 'connlimit-upto':
      case 'connlimit-above':
        s.limit = parseX6Uint('connlimit', use.name, use.value!, 0, 0xffffffff);
        s.upto = (use.name === 'connlimit-upto') !== use.inverted;
        return;
      case 'connlimit-mask': {
        const p = parseX6Plen('connlimit', use.name, use.value!);
        s.plen = p > 128 ? undefined : p;
        return;
      }
      default:
        s.daddr = use.name === 'connlimit-daddr';
    }
  },
  finalCheck(_s, _ctx, given) {
    if (!given.has('connlimit-upto') && !given.has('connlimit-above')) {
      throw paramProblem('You must specify "--connlimit-above" or "--connlimit-upto".');
    }
  },
  save: saveText,
  // The state file keeps the prefix length as given: none for the default mask, 33-128 where save prints 32.
  stateText: (s) => (s.plen === undefined || s.plen > 32 ? text(s, s.plen === undefined ? '' : ` --connlimit-mask ${s.plen}`) : undefined),
  compareKey: (s) => `${saveText(s)} plen=${s.plen ?? 'default'}`,
  print: (s) => ` #conn ${s.daddr ? 'dst' : 'src'}/${countBits(v4Mask(s))} ${s.upto ? '<=' : '>'} ${s.limit}`,
  match: (s, ctx) => connlimitMatch(s, ctx).matched,
  explain(s, ctx) {
    const { count } = connlimitMatch(s, ctx, false);
    return `${saveText(s).trim()}: ${count} connection${count === 1 ? '' : 's'} from this ${s.daddr ? 'destination' : 'source'} group`;
  },
});

const tupleKey = (t: Tuple): string => `${t.proto}/${t.src}:${t.sport}>${t.dst}:${t.dport}`;

/**
 * connlimit_mt() of xt_connlimit.c: the packet's (masked) source or destination address is the key; the rule's
 * own nf_conncount list holds the connections seen under that key, the packet's connection added (its
 * original tuple, or the packet's own tuple without one); then (count > limit) ^ invert. The list is the trace
 * run's memory of this rule: connections made before the trace started are not known and count as none.
 */
function connlimitMatch(s: ConnlimitState, ctx: EvalContext, add = true): { matched: boolean; count: number } {
  const p = ctx.pkt;
  const key = (((s.daddr ? p.dst : p.src) & v4Mask(s)) >>> 0).toString();
  const lists = ctx.memory<Map<string, Set<string>>>(s, () => new Map());
  let list = lists.get(key);
  if (!list) {
    list = new Set();
    lists.set(key, list);
  }
  const tuple = ctx.ct ? ctx.ct.orig : { src: p.src, dst: p.dst, proto: p.proto, sport: p.sport, dport: p.dport };
  if (add) list.add(tupleKey(tuple));
  const count = list.size;
  return { matched: count > s.limit !== s.upto, count };
}
