/**
 * NFQUEUE target (iptables-extensions: "NFQUEUE"), revision 3: hand packets to a userspace queue, or balance
 * them over a range of queues. Needed by the standard-target corpus (`-j NFQUEUE` saves as
 * `--queue-num 0`); the rest checked against the real iptables 1.8.9 with ../shared/ask-iptables.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { parseX6Uint } from '../option-types';
import { strtouiPrefix } from '../values/mark';

interface NfqState {
  queuenum: number;
  queuesTotal: number;
  bypass: boolean;
  cpuFanout: boolean;
}

/**
 * XTTYPE_UINT16RC as 1.8.9's xtopt_parse_mint() reads it: up to two `:`-separated numbers 0..65535, an empty
 * first part meaning 0 and an empty second one 65535 (the option's own max is not applied).
 */
function parseRange(opt: string, arg: string): number[] {
  const vals: number[] = [];
  let at = 0;
  for (;;) {
    if (vals.length === 2) throw paramProblem(`NFQUEUE: Too many components for option "--${opt}" (max: 2)\n`);
    let end = at;
    let value: number;
    if (at >= arg.length || arg[at] === ':') value = vals.length === 1 ? 65535 : 0;
    else {
      const r = strtouiPrefix(arg, 0, 65535, at);
      if (!r) throw paramProblem(`NFQUEUE: bad value for option "--${opt}" near "${arg.slice(at)}", or out of range (0-65535).\n`);
      end = r.end;
      if (end < arg.length && arg[end] !== ':') {
        throw paramProblem(`NFQUEUE: Argument to "--${opt}" has unexpected characters near "${arg.slice(end)}".\n`);
      }
      value = r.value;
    }
    vals.push(value);
    if (end >= arg.length) return vals;
    at = end + 1;
  }
}

export default defineTarget<NfqState>({
  kind: 'target',
  name: 'NFQUEUE',
  manSection: 'NFQUEUE',
  style: 'x6',
  help: `NFQUEUE target options
  --queue-num value            Send packet to QUEUE number <value>.
                               Valid queue numbers are 0-65535
  --queue-balance first:last   Balance flows between queues <value> to <value>.
  --queue-bypass               Bypass Queueing if no queue instance exists.
  --queue-cpu-fanout	Use current CPU (no hashing)
`,
  options: [
    { name: 'queue-num', arg: 'required', excludes: ['queue-balance'] },
    { name: 'queue-balance', arg: 'required', excludes: ['queue-num'] },
    { name: 'queue-bypass', arg: 'none' },
    { name: 'queue-cpu-fanout', arg: 'none', also: ['queue-balance'] },
  ],
  init: () => ({ queuenum: 0, queuesTotal: 1, bypass: false, cpuFanout: false }),
  parse(s, use) {
    switch (use.name) {
      case 'queue-num':
        s.queuenum = parseX6Uint('NFQUEUE', use.name, use.value!, 0, 65535);
        return;
      case 'queue-balance': {
        const r = parseRange(use.name, use.value!);
        if (r.length !== 2) throw paramProblem(`Bad range "${use.value!}"`);
        if (r[0]! >= r[1]!) throw paramProblem(`${r[0]} should be less than ${r[1]}`);
        s.queuenum = r[0]!;
        s.queuesTotal = r[1]! - r[0]! + 1;
        return;
      }
      case 'queue-bypass':
        s.bypass = true;
        return;
      case 'queue-cpu-fanout':
        s.cpuFanout = true;
        return;
    }
  },
  save: (s) => text(s, '--queue-num ', '--queue-balance ', '--queue-'),
  print: (s) => ` NFQUEUE${text(s, 'num ', 'balance ', '')}`,
});

function text(s: NfqState, num: string, balance: string, flag: string): string {
  let out = s.queuesTotal > 1 ? ` ${balance}${s.queuenum}:${s.queuenum + s.queuesTotal - 1}` : ` ${num}${s.queuenum}`;
  if (s.bypass) out += ` ${flag}bypass`;
  if (s.cpuFanout) out += ` ${flag}cpu-fanout`;
  return out;
}
