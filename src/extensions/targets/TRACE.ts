/**
 * TRACE target (iptables-extensions: "TRACE"): mark packets for rule tracing. No options; the nf_tables
 * variant accepts it in every table (recorded: filter, mangle, nat, raw).
 */
import { defineTarget } from '../spec';

export default defineTarget<Record<string, never>>({
  kind: 'target',
  name: 'TRACE',
  manSection: 'TRACE',
  style: 'x6',
  help: 'TRACE does not take any options\n',
  options: [],
  init: () => ({}),
  parse: () => undefined,
  save: () => '',
  print: () => '',
});
