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
  // trace_tg() of xt_TRACE.c: sets skb->nf_trace; XT_CONTINUE.
  run(_s, ctx) {
    ctx.startTrace();
    return 'CONTINUE';
  },
});
