/**
 * ULOG target (iptables-extensions: "ULOG", libipt_ULOG / the removed ipt_ULOG.c): log to a netlink multicast
 * group. --ulog-nlgroup 1-32 (default 1), --ulog-prefix (1 to 31 bytes, no newline), --ulog-cprange bytes,
 * --ulog-qthreshold 1-50 (default 1). ipt_ULOG left Linux in 3.17: every current kernel refuses the rule with
 * ENOENT after libxtables' "not supported" warning (recorded in ext-target-ULOG); NFLOG replaced it. The
 * save and -L texts follow libipt_ULOG.c.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint, parseX6Uint64, saveString } from '../option-types';
import { defineTarget } from '../spec';
import { truncateBytes } from '../values/cstring';

const ULOG_DEFAULT_NLGROUP = 1;
const ULOG_DEFAULT_QTHRESHOLD = 1;
const ULOG_MAX_QLEN = 50;
const ULOG_PREFIX_LEN = 32;

export interface UlogState {
  /** nl_group as the bit mask 1 << (group - 1). */
  nlGroup: number;
  prefix: string;
  copyRange: bigint;
  qthreshold: bigint;
}

/** ffs(): the 1-based index of the lowest set bit. */
const ffs = (n: number): number => (n === 0 ? 0 : 32 - Math.clz32(n & -n));
/** printf("%u", (unsigned int)x) of a 64-bit value. */
const u32 = (x: bigint): string => String(x & 0xffffffffn);

export default defineTarget<UlogState>({
  kind: 'target',
  kernelMissing: true,
  name: 'ULOG',
  manSection: 'ULOG',
  style: 'x6',
  help: `ULOG target options:
 --ulog-nlgroup nlgroup		NETLINK group used for logging
 --ulog-cprange size		Bytes of each packet to be passed
 --ulog-qthreshold		Threshold of in-kernel queue
 --ulog-prefix prefix		Prefix log messages with this prefix.
`,
  options: [
    { name: 'ulog-nlgroup', arg: 'required' },
    { name: 'ulog-prefix', arg: 'required' },
    { name: 'ulog-cprange', arg: 'required' },
    { name: 'ulog-qthreshold', arg: 'required' },
  ],
  init: () => ({ nlGroup: ULOG_DEFAULT_NLGROUP, prefix: '', copyRange: 0n, qthreshold: BigInt(ULOG_DEFAULT_QTHRESHOLD) }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'ulog-nlgroup':
        s.nlGroup = (1 << (parseX6Uint('ULOG', use.name, v, 1, 32) - 1)) >>> 0;
        return;
      case 'ulog-prefix':
        if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
        if (v.includes('\n')) throw paramProblem('Newlines not allowed in --ulog-prefix');
        s.prefix = truncateBytes(v, ULOG_PREFIX_LEN - 1);
        return;
      case 'ulog-cprange':
        s.copyRange = parseX6Uint64('ULOG', use.name, v, 0n, (1n << 64n) - 1n);
        return;
      case 'ulog-qthreshold':
        s.qthreshold = parseX6Uint64('ULOG', use.name, v, 1n, BigInt(ULOG_MAX_QLEN));
        return;
    }
  },
  save(s) {
    let out = s.prefix !== '' ? ` --ulog-prefix${saveString(s.prefix)}` : '';
    if (s.nlGroup !== ULOG_DEFAULT_NLGROUP) out += ` --ulog-nlgroup ${ffs(s.nlGroup)}`;
    if (s.copyRange) out += ` --ulog-cprange ${u32(s.copyRange)}`;
    if (s.qthreshold !== BigInt(ULOG_DEFAULT_QTHRESHOLD)) out += ` --ulog-qthreshold ${u32(s.qthreshold)}`;
    return out;
  },
  print: (s) =>
    ` ULOG copy_range ${u32(s.copyRange)} nlgroup ${ffs(s.nlGroup)}${s.prefix !== '' ? ` prefix "${s.prefix}"` : ''} queue_threshold ${u32(s.qthreshold)}`,
  // ipt_ulog_target(): the packet (copy_range bytes) queued to the netlink group; XT_CONTINUE. No current
  // kernel has it.
  run(s, ctx) {
    ctx.note(`ULOG: logged to netlink group ${ffs(s.nlGroup)}${s.prefix ? ` prefix "${s.prefix}"` : ''} (no current kernel has ULOG)`);
    return 'CONTINUE';
  },
});
