/**
 * SNAT target (iptables-extensions: "SNAT"), revision 0 (nf_nat_ipv4_multi_range_compat): only in the nat
 * table's POSTROUTING and INPUT hooks. That struct has no room for a port base: `ports/base` keeps its flag
 * and shows as `/0`, which only the state file reads back.
 */
import { defineTarget } from '../spec';
import { runNat } from '../values/nat-request';
import { emptyRange, NAT, natFlag, natText, parseTo, portsAllowed, type NatRange } from '../values/nat';

export default defineTarget<NatRange>({
  kind: 'target',
  needsConntrack: true,
  name: 'SNAT',
  manSection: 'SNAT',
  style: 'x6',
  tables: ['nat'],
  hooks: ['POSTROUTING', 'INPUT'],
  help: `SNAT target options:
 --to-source [<ipaddr>[-<ipaddr>]][:port[-port]]
				Address to map source to.
[--random] [--random-fully] [--persistent]
`,
  options: [
    { name: 'to-source', arg: 'required', mandatory: true },
    { name: 'random', arg: 'none' },
    { name: 'random-fully', arg: 'none' },
    { name: 'persistent', arg: 'none' },
  ],
  init: emptyRange,
  parse(r, use, ctx) {
    if (use.name === 'to-source') {
      parseTo(use.value!, portsAllowed(ctx.protocol), r, ctx.trusted);
      r.basePort = 0;
    } else r.flags |= natFlag(use.name);
  },
  save: (r) => natText(r, '--to-source ', '--', false),
  stateText: (r) => (r.flags & NAT.PROTO_OFFSET ? natText(r, '--to-source ', '--', false) : undefined),
  print: (r) => natText(r, 'to:', '', false),
  // xt_snat_target_v0() of xt_nat.c: nf_nat_setup_info(NF_NAT_MANIP_SRC) with the range; NF_ACCEPT.
  run: (r, ctx) => runNat('SNAT', r, ctx),
});
