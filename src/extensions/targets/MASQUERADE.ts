/**
 * MASQUERADE target (iptables-extensions: "MASQUERADE"): source NAT to the outgoing interface's address,
 * only in the nat table's POSTROUTING hook. Revision 0 struct: a port base keeps its flag and shows as `/0`,
 * which only the state file reads back.
 */
import { defineTarget } from '../spec';
import { runNat } from '../values/nat-request';
import { emptyRange, NAT, natFlag, natText, parsePorts, portsAllowed, type NatRange } from '../values/nat';

export default defineTarget<NatRange>({
  kind: 'target',
  needsConntrack: true,
  name: 'MASQUERADE',
  manSection: 'MASQUERADE',
  style: 'x6',
  tables: ['nat'],
  hooks: ['POSTROUTING'],
  help: `MASQUERADE target options:
 --to-ports <port>[-<port>]
				Port (range) to map to.
 --random
				Randomize source port.
 --random-fully
				Fully randomize source port.
`,
  options: [
    { name: 'to-ports', arg: 'required' },
    { name: 'random', arg: 'none' },
    { name: 'random-fully', arg: 'none' },
  ],
  init: emptyRange,
  parse(r, use, ctx) {
    if (use.name === 'to-ports') {
      parsePorts(use.value!, portsAllowed(ctx.protocol), r, ctx.trusted);
      r.basePort = 0;
    } else r.flags |= natFlag(use.name);
  },
  save: (r) => natText(r, '--to-ports ', '--', true),
  stateText: (r) => (r.flags & NAT.PROTO_OFFSET ? natText(r, '--to-ports ', '--', true) : undefined),
  print: (r) => natText(r, 'masq ports: ', '', true),
  // masquerade_tg() of xt_MASQUERADE.c: source NAT to the out device's address (the evaluator picks it),
  // ports from the range; NF_ACCEPT.
  run: (r, ctx) => runNat('MASQUERADE', r, ctx),
});
