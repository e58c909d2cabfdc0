/**
 * AUDIT target (iptables-extensions: "AUDIT", libxt_AUDIT / xt_AUDIT.c): write an audit record for the packet.
 * --type accept|drop|reject (case-insensitive, mandatory) only labels the record; the target does not decide
 * anything. Any table and chain.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';

/** XT_AUDIT_TYPE_ACCEPT 0, XT_AUDIT_TYPE_DROP 1, XT_AUDIT_TYPE_REJECT 2. */
const TYPES = ['accept', 'drop', 'reject'] as const;
type AuditType = (typeof TYPES)[number];

export default defineTarget<{ type: AuditType }>({
  kind: 'target',
  name: 'AUDIT',
  manSection: 'AUDIT',
  style: 'x6',
  help: `AUDIT target options
  --type TYPE		Action type to be recorded.
`,
  options: [{ name: 'type', arg: 'required', mandatory: true }],
  init: () => ({ type: 'accept' }),
  parse(s, use) {
    const t = TYPES.find((x) => x === use.value!.toLowerCase());
    if (!t) throw paramProblem(`Bad action type value "${use.value!}"`);
    s.type = t;
  },
  save: (s) => ` --type ${s.type}`,
  print: (s) => ` AUDIT ${s.type}`,
  // audit_tg() of xt_AUDIT.c: audit_log_start(AUDIT_NETFILTER_PKT) with mark, addresses and protocol; XT_CONTINUE.
  run(s, ctx) {
    ctx.note(`AUDIT: an audit record (NETFILTER_PKT, type ${s.type}) is written`);
    return 'CONTINUE';
  },
});
