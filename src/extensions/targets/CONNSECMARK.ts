/**
 * CONNSECMARK target (iptables-extensions: "CONNSECMARK", libxt_CONNSECMARK / xt_CONNSECMARK.c): copy the
 * SELinux security mark from the packet to its connection (--save) or back (--restore); one of the two, not
 * both. The kernel takes it in the mangle and security tables and tracks connections for it.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';

/** CONNSECMARK_SAVE 1, CONNSECMARK_RESTORE 2. */
type Mode = 'save' | 'restore';

export default defineTarget<{ mode: Mode | undefined }>({
  kind: 'target',
  needsConntrack: true,
  name: 'CONNSECMARK',
  manSection: 'CONNSECMARK',
  style: 'x6',
  tables: ['mangle', 'security'],
  help: `CONNSECMARK target options:
  --save                   Copy security mark from packet to conntrack
  --restore                Copy security mark from connection to packet
`,
  options: [
    { name: 'save', id: 0, arg: 'none', excludes: ['restore'] },
    { name: 'restore', id: 1, arg: 'none', excludes: ['save'] },
  ],
  init: () => ({ mode: undefined }),
  parse(s, use) {
    s.mode = use.name === 'save' ? 'save' : 'restore';
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('CONNSECMARK target: parameter required');
  },
  save: (s) => (s.mode ? ` --${s.mode}` : ''),
  print: (s) => ` CONNSECMARK ${s.mode ?? ''}`,
  // connsecmark_tg() of xt_CONNSECMARK.c: save copies skb->secmark to an unmarked connection, restore copies
  // the connection's to an unmarked packet. Security marks (SECMARK, SELinux) are not simulated; XT_CONTINUE.
  run(s, ctx) {
    if (!ctx.ct) ctx.note('CONNSECMARK: the packet has no connection: nothing to copy');
    else ctx.note(`CONNSECMARK: ${s.mode === 'save' ? 'packet -> connection' : 'connection -> packet'} security mark (security marks are not simulated)`);
    return 'CONTINUE';
  },
});
