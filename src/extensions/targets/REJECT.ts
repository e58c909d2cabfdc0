/**
 * REJECT target (iptables-extensions: "REJECT (IPv4)"): answer with an ICMP error or a TCP RST. The kernel
 * takes it in the filter table's INPUT, FORWARD and OUTPUT hooks only, and tcp-reset only on `-p tcp` rules.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';

/** reject_table[] of libipt_REJECT.c, indexed by enum ipt_reject_with (4, echo-reply, is gone). */
const TYPES: ReadonlyArray<readonly [with_: number, name: string, alias: string, desc: string]> = [
  [0, 'icmp-net-unreachable', 'net-unreach', 'ICMP network unreachable'],
  [1, 'icmp-host-unreachable', 'host-unreach', 'ICMP host unreachable'],
  [2, 'icmp-proto-unreachable', 'proto-unreach', 'ICMP protocol unreachable'],
  [3, 'icmp-port-unreachable', 'port-unreach', 'ICMP port unreachable (default)'],
  [5, 'icmp-net-prohibited', 'net-prohib', 'ICMP network prohibited'],
  [6, 'icmp-host-prohibited', 'host-prohib', 'ICMP host prohibited'],
  [7, 'tcp-reset', 'tcp-rst', 'TCP RST packet'],
  [8, 'icmp-admin-prohibited', 'admin-prohib', 'ICMP administratively prohibited (*)'],
];
const TCP_RESET = 7;

/** strncasecmp(name, arg, strlen(arg)) == 0: `arg` is a case-insensitive prefix of `name`. */
const prefixOf = (arg: string, name: string): boolean => name.toLowerCase().startsWith(arg.toLowerCase());

const nameOf = (w: number): string => TYPES.find(([x]) => x === w)![1];

export default defineTarget<{ with_: number }>({
  kind: 'target',
  name: 'REJECT',
  manSection: 'REJECT (IPv4)',
  style: 'x6',
  tables: ['filter'],
  hooks: ['INPUT', 'FORWARD', 'OUTPUT'],
  help:
    `REJECT target options:
--reject-with type              drop input packet and send back
                                a reply packet according to type:
Valid reject types:
` +
    TYPES.map(([, n, a, d]) => `    ${n.padEnd(25)}\t${d}\n    ${a.padEnd(25)}\talias\n`).join('') +
    `
(*) See man page or read the INCOMPATIBILITES file for compatibility issues.
`,
  options: [{ name: 'reject-with', arg: 'required' }],
  init: () => ({ with_: 3 }),
  parse(s, use, ctx) {
    const arg = use.value!;
    const t = TYPES.find(([, n, a]) => prefixOf(arg, n) || prefixOf(arg, a));
    if (t) {
      s.with_ = t[0];
      return;
    }
    if (prefixOf(arg, 'echo-reply') || prefixOf(arg, 'echoreply')) ctx.warn('--reject-with echo-reply no longer supported');
    throw paramProblem(`unknown reject type "${arg}"`);
  },
  // reject_tg_check(): "TCP_RESET invalid for non-tcp".
  kernelCheck: (s, k) => (s.with_ === TCP_RESET && (k.protocol !== 6 || k.protocolInverted) ? 'Invalid argument' : undefined),
  save: (s) => ` --reject-with ${nameOf(s.with_)}`,
  print: (s) => ` reject-with ${nameOf(s.with_)}`,
  // reject_tg() of ipt_REJECT.c: sends the ICMP error (nf_send_unreach) or the TCP RST (nf_send_reset) named
  // by --reject-with (the evaluator decides whether one can be sent for this packet); NF_DROP.
  run(s, ctx) {
    ctx.reject(nameOf(s.with_));
    return 'DROP';
  },
});
