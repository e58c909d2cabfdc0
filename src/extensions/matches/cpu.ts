/**
 * cpu match (iptables-extensions: "cpu"): [!] --cpu number (XTTYPE_UINT32, mandatory), the CPU handling the
 * packet.
 */
import { defineMatch } from '../spec';
import { parseX6Uint } from '../option-types';

export interface CpuState {
  cpu: number;
  inverted: boolean;
}

const saveText = (s: CpuState): string => `${s.inverted ? ' !' : ''} --cpu ${s.cpu}`;

export default defineMatch<CpuState>({
  kind: 'match',
  name: 'cpu',
  manSection: 'cpu',
  style: 'x6',
  help: `cpu match options:
[!] --cpu number   Match CPU number
`,
  options: [{ name: 'cpu', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ cpu: 0, inverted: false }),
  parse(s, use) {
    s.cpu = parseX6Uint('cpu', 'cpu', use.value!, 0, 0xffffffff);
    if (use.inverted) s.inverted = true;
  },
  save: saveText,
  print: (s) => ` cpu ${s.inverted ? '! ' : ''}${s.cpu}`,
  // cpu_mt() of xt_cpu.c: (cpu == smp_processor_id()) ^ invert. Which CPU runs the packet is not simulated: the
  // trace asks, assuming CPU 0.
  match: (s, ctx) => ctx.decide('cpu', `the packet is processed on CPU ${s.cpu}`, s.cpu === 0) !== s.inverted,
  explain: (s) => `${saveText(s).trim()}: the packet is ${s.inverted ? '' : 'not '}processed on CPU ${s.cpu} (assumed CPU 0)`,
});
