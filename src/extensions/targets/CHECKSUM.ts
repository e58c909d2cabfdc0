/**
 * CHECKSUM target (iptables-extensions: "CHECKSUM"): fill in the checksum of packets that lack one; the
 * kernel takes it in the mangle table only.
 */
import { defineTarget } from '../spec';

export default defineTarget<{ fill: boolean }>({
  kind: 'target',
  name: 'CHECKSUM',
  manSection: 'CHECKSUM',
  style: 'x6',
  tables: ['mangle'],
  help: `CHECKSUM target options
  --checksum-fill			Fill in packet checksum.
`,
  options: [{ name: 'checksum-fill', arg: 'none', mandatory: true }],
  init: () => ({ fill: false }),
  parse(s) {
    s.fill = true;
  },
  save: (s) => (s.fill ? ' --checksum-fill' : ''),
  print: (s) => ` CHECKSUM${s.fill ? ' fill' : ''}`,
  // checksum_tg() of xt_CHECKSUM.c: fills in a checksum left to the NIC (CHECKSUM_PARTIAL, not GSO); the
  // simulated packets always carry theirs, so this is a note; XT_CONTINUE.
  run(s, ctx) {
    if (s.fill) ctx.note('CHECKSUM: checksum filled in (already complete in the simulation)');
    return 'CONTINUE';
  },
});
