/**
 * DNAT target (iptables-extensions: "DNAT"), revision 2 (nf_nat_range2, with shifted port maps
 * `ports/base`): only in the nat table's PREROUTING and OUTPUT hooks.
 */
import { defineTarget } from '../spec';
import { runNat } from '../values/nat-request';
import { emptyRange, natFlag, natText, parseTo, portsAllowed, type NatRange } from '../values/nat';

export default defineTarget<NatRange>({
  kind: 'target',
  needsConntrack: true,
  name: 'DNAT',
  manSection: 'DNAT',
  style: 'x6',
  tables: ['nat'],
  hooks: ['PREROUTING', 'OUTPUT'],
  help: `DNAT target options:
 --to-destination [<ipaddr>[-<ipaddr>]][:port[-port[/port]]]
				Address to map destination to.
[--random] [--persistent]
`,
  options: [
    { name: 'to-destination', arg: 'required', mandatory: true },
    { name: 'random', arg: 'none' },
    { name: 'persistent', arg: 'none' },
  ],
  init: emptyRange,
  parse(r, use, ctx) {
    if (use.name === 'to-destination') parseTo(use.value!, portsAllowed(ctx.protocol), r);
    else r.flags |= natFlag(use.name);
  },
  save: (r) => natText(r, '--to-destination ', '--', false),
  print: (r) => natText(r, 'to:', '', false),
  // xt_dnat_target_v2() of xt_nat.c: nf_nat_setup_info(NF_NAT_MANIP_DST) with the range; NF_ACCEPT.
  run: (r, ctx) => runNat('DNAT', r, ctx),
});
