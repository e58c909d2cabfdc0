/**
 * REDIRECT target (iptables-extensions: "REDIRECT"): destination NAT to the host itself, only in the nat
 * table's PREROUTING and OUTPUT hooks. Revision 0: shifted port maps are refused.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { runNat } from '../values/nat-request';
import { emptyRange, NAT, natFlag, natText, parsePorts, portsAllowed, type NatRange } from '../values/nat';

export default defineTarget<NatRange>({
  kind: 'target',
  needsConntrack: true,
  name: 'REDIRECT',
  manSection: 'REDIRECT',
  style: 'x6',
  tables: ['nat'],
  hooks: ['PREROUTING', 'OUTPUT'],
  help: `REDIRECT target options:
 --to-ports <port>[-<port>]
				Port (range) to map to.
 [--random]
`,
  options: [
    { name: 'to-ports', arg: 'required' },
    { name: 'random', arg: 'none' },
  ],
  init: emptyRange,
  parse(r, use, ctx) {
    if (use.name === 'to-ports') parsePorts(use.value!, portsAllowed(ctx.protocol), r);
    else r.flags |= natFlag(use.name);
  },
  finalCheck(r) {
    if (r.flags & NAT.PROTO_OFFSET) throw paramProblem('Shifted portmap ranges not supported with this kernel');
  },
  save: (r) => natText(r, '--to-ports ', '--', true),
  print: (r) => natText(r, 'redir ports ', '', true),
  // redirect_tg4() of xt_REDIRECT.c: destination NAT to the host (the in device's primary address, or
  // 127.0.0.1 for local packets: the evaluator picks it), ports from the range; NF_ACCEPT.
  run: (r, ctx) => runNat('REDIRECT', r, ctx),
});
