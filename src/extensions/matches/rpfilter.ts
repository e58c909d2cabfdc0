/**
 * rpfilter match (iptables-extensions: "rpfilter"): reverse-path filtering by a route lookup on the source
 * address. x6 style, four flags without values (none invertible: --invert is the inversion). The kernel accepts
 * it only in PREROUTING of the raw and mangle tables.
 */
import { defineMatch } from '../spec';
import { RTN, type EvalContext } from '../../eval/context';
import { addrToString } from '../../model/ip';

const FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['loose', 0x01],
  ['validmark', 0x02],
  ['accept-local', 0x04],
  ['invert', 0x08],
];

export interface RpfilterState {
  flags: number;
}

function flagText(flags: number, prefix: string): string {
  return FLAGS.filter(([, bit]) => flags & bit)
    .map(([name]) => ` ${prefix}${name}`)
    .join('');
}

export default defineMatch<RpfilterState>({
  kind: 'match',
  name: 'rpfilter',
  manSection: 'rpfilter',
  style: 'x6',
  hooks: ['PREROUTING'],
  tables: ['raw', 'mangle'],
  help: `rpfilter match options:
    --loose          permit reverse path via any interface
    --validmark      use skb nfmark when performing route lookup
    --accept-local   do not reject packets with a local source address
    --invert         match packets that failed the reverse path test
`,
  options: FLAGS.map(([name]) => ({ name, arg: 'none' as const })),
  init: () => ({ flags: 0 }),
  parse(s, use) {
    s.flags |= FLAGS.find(([name]) => name === use.name)![1];
  },
  save: (s) => flagText(s.flags, '--'),
  print: (s) => ` rpfilter${flagText(s.flags, '')}`,
  match: (s, ctx) => reversePathOk(s, ctx).ok !== !!(s.flags & INVERT),
  explain(s, ctx) {
    const head = `-m rpfilter${flagText(s.flags, '--')}`;
    const r = reversePathOk(s, ctx);
    return `${head}: ${r.why}`;
  },
});

const LOOSE = 0x01;
const VALIDMARK = 0x02;
const ACCEPT_LOCAL = 0x04;
const INVERT = 0x08;

const isMulticast = (a: number): boolean => a >>> 28 === 0xe;
const isLocalMulticast = (a: number): boolean => a >>> 8 === 0xe00000;

/**
 * rpfilter_mt() of ipt_rpfilter.c, before its `--invert`: packets from lo pass; a source of 0.0.0.0 to the
 * limited broadcast or 224.0.0.0/24 passes (DHCP); else the route back to the source, looked up as the host's
 * own (iif lo) from the packet's destination (none for a multicast, broadcast or zero destination), with the
 * packet's mark under --validmark and its TOS bits, must be unicast (or local under --accept-local) and leave
 * by the arrival device (any under --loose).
 */
function reversePathOk(s: RpfilterState, ctx: EvalContext): { ok: boolean; why: string } {
  const p = ctx.pkt;
  const iif = p.inIface;
  const src = addrToString(p.src);
  if (iif === null || iif === 'lo') return { ok: true, why: 'packet is from the loopback device' };
  if (p.src === 0 && (p.dst === 0xffffffff || isLocalMulticast(p.dst))) {
    return { ok: true, why: 'packet is from 0.0.0.0 to a broadcast or local multicast address' };
  }
  const saddr = isMulticast(p.dst) || p.dst === 0xffffffff || p.dst >>> 24 === 0 ? undefined : p.dst;
  const route = ctx.host.route(p.src, {
    ...(saddr !== undefined ? { src: saddr } : {}),
    mark: s.flags & VALIDMARK ? p.mark : 0,
    tos: p.tos & 0x1c,
  });
  if (!route) return { ok: false, why: `no route back to ${src}` };
  if (route.type !== RTN.UNICAST && !(route.type === RTN.LOCAL && s.flags & ACCEPT_LOCAL)) {
    return { ok: false, why: `the route back to ${src} is ${route.type === RTN.LOCAL ? 'local' : `of type ${route.type}`}` };
  }
  if (route.dev === iif) return { ok: true, why: `the route back to ${src} leaves by ${iif}` };
  if (s.flags & LOOSE) return { ok: true, why: `a route back to ${src} exists (by ${route.dev})` };
  return { ok: false, why: `the route back to ${src} leaves by ${route.dev}, not ${iif}` };
}
