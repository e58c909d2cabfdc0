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
});
