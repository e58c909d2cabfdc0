/**
 * rpfilter match (iptables-extensions: "rpfilter"): reverse-path filtering by a route lookup on the source
 * address. x6 style, four flags without values (none invertible: --invert is the inversion). The kernel accepts
 * it only in PREROUTING of the raw and mangle tables.
 */
import { defineMatch } from '../spec';

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
});
