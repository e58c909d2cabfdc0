/**
 * SECMARK target (iptables-extensions: "SECMARK", libxt_SECMARK / xt_SECMARK.c): set the packet's security mark
 * from an SELinux context (--selctx, mandatory, kept in char[256]). The kernel takes it in the mangle and
 * security tables and asks the LSM for the context's secid: the kernel the fixtures were recorded on runs no
 * SELinux, so it refuses every such rule with ENOENT (recorded in ext-target-SECMARK); tsiptables does the same.
 */
import { defineTarget } from '../spec';
import { needsQuotes, restoreWord, truncateBytes } from '../values/cstring';

const SECMARK_SECCTX_MAX = 256;

export default defineTarget<{ selctx: string }>({
  kind: 'target',
  name: 'SECMARK',
  manSection: 'SECMARK',
  style: 'x6',
  tables: ['mangle', 'security'],
  help: `SECMARK target options:
  --selctx value                     Set the SELinux security context
`,
  options: [{ name: 'selctx', arg: 'required', mandatory: true }],
  init: () => ({ selctx: '' }),
  parse(s, use) {
    s.selctx = truncateBytes(use.value!, SECMARK_SECCTX_MAX - 1);
  },
  // secmark_tg_check() / checkentry_lsm(): security_secctx_to_secid() finds no secid without an LSM.
  kernelCheck: () => 'No such file or directory',
  save: (s) => ` --selctx ${s.selctx}`,
  stateText: (s) => (needsQuotes(s.selctx) ? ` --selctx${restoreWord(s.selctx)}` : undefined),
  print: (s) => ` SECMARK selctx ${s.selctx}`,
  // secmark_tg(): skb->secmark = secid; XT_CONTINUE. Security marks are not simulated.
  run(s, ctx) {
    ctx.note(`SECMARK: security mark of ${s.selctx} (not simulated)`);
    return 'CONTINUE';
  },
});
