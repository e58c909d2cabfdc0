/**
 * NFQUEUE target (iptables-extensions: "NFQUEUE"), revision 3: hand packets to a userspace queue, or balance
 * them over a range of queues. Needed by the standard-target corpus (`-j NFQUEUE` saves as
 * `--queue-num 0`); the rest checked against the real iptables 1.8.9 with ../shared/ask-iptables.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { parseX6Uint } from '../option-types';
import { parseX6Mint } from '../values/x6';

interface NfqState {
  queuenum: number;
  queuesTotal: number;
  bypass: boolean;
  cpuFanout: boolean;
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
        // XTTYPE_UINT16RC: 1.8.9's xtopt_parse_mint() does not apply the option's own max.
        const r = parseX6Mint('NFQUEUE', use.name, use.value!, 65535n).map(Number);
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
  // nfqueue_tg_v3() of xt_NFQUEUE.c answers NF_QUEUE to a queue of the range; no userspace program listens in
  // the simulation, so nf_queue() fails: the packet is dropped, or with --queue-bypass (NF_VERDICT_FLAG_
  // QUEUE_BYPASS) accepted as if the rule were ACCEPT.
  run(s, ctx) {
    const q = s.queuesTotal > 1 ? `queues ${s.queuenum}:${s.queuenum + s.queuesTotal - 1}` : `queue ${s.queuenum}`;
    ctx.note(`NFQUEUE: no program listens on ${q}: ${s.bypass ? 'bypassed, accepted' : 'dropped'}`);
    return s.bypass ? 'ACCEPT' : 'DROP';
  },
});

function text(s: NfqState, num: string, balance: string, flag: string): string {
  let out = s.queuesTotal > 1 ? ` ${balance}${s.queuenum}:${s.queuenum + s.queuesTotal - 1}` : ` ${num}${s.queuenum}`;
  if (s.bypass) out += ` ${flag}bypass`;
  if (s.cpuFanout) out += ` ${flag}cpu-fanout`;
  return out;
}
