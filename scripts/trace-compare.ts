/**
 * Replays recorded kernel trace scenarios through tsiptables' evaluator and compares, packet by packet, what
 * the kernel did with what tsiptables says: fate, out interface, the packet after NAT, the TRACE steps and the
 * dmesg lines (TRACE and LOG), byte for byte, and `conntrack -L` after the packet; the recorder gives its veths the MACs the simulator derives.
 *
 * Used by test/trace-fixtures.test.ts and by scripts/trace-agreement.ts (figures, and --accept of the baseline).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Host } from '../src/eval/host';
import { BatchRunner } from '../src/eval/batch';
import { splitWords } from '../src/eval/packet-line';
import { parseDump } from '../src/io/state';
import { dmesgLines, stepText, wireView } from '../src/cli/trace-output';
import type { TraceFixtureFile, TraceScenario, KernelOutcome, WirePacket } from './trace-fixture-format';

export const RECORDED_DIR = 'fixtures/traces/recorded';
export const BASELINE = 'test/baselines/trace-disagreeing.txt';

export interface PacketComparison {
  /** `file#scenario#index`. */
  id: string;
  packet: string;
  agree: boolean;
  /** Field: expected vs actual, for each field that differs. */
  diffs: string[];
}


function samePacket(a: WirePacket | null, b: WirePacket | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function compareScenario(file: string, sc: TraceScenario): PacketComparison[] {
  const out: PacketComparison[] = [];
  let runner: BatchRunner;
  try {
    runner = new BatchRunner(parseDump(sc.rules), Host.parse(sc.host), { explain: false, assume: new Map(), now: new Date(0) });
  } catch (e) {
    return sc.packets.map((p, i) => ({ id: `${file}#${sc.name}#${i + 1}`, packet: p.packet, agree: false, diffs: [`setup failed: ${(e as Error).message}`] }));
  }
  const randomPorts = new Map<string, number>();
  sc.packets.forEach((p, i) => {
    const id = `${file}#${sc.name}#${i + 1}`;
    const k: KernelOutcome | undefined = p.kernel;
    let diffs: string[] = [];
    try {
      const r = runner.next(splitWords(p.packet));
      if (!k) return;
      const mine = {
        fate: r.fate,
        out: r.out,
        packet: r.fate === 'dropped' ? null : (wireView(r.packet) as WirePacket),
        trace: r.steps.map(stepText),
        dmesg: dmesgLines(r),
      };
      if (mine.fate !== k.fate) diffs.push(`fate: kernel ${k.fate}, tsiptables ${mine.fate}`);
      if (mine.out !== k.out) diffs.push(`out: kernel ${k.out}, tsiptables ${mine.out}`);
      // Where the kernel remapped a source port to a random free one (a clash), any free port is its answer:
      // tsiptables remaps too (deterministically), so compare everything but that port.
      const orig = r.original.sport;
      if (k.packet && mine.packet && k.packet.sport !== undefined && k.packet.sport !== orig && mine.packet.sport !== orig && mine.packet.sport !== undefined) {
        randomPorts.set(`${mine.packet.proto} ${mine.packet.sport}`, k.packet.sport);
        mine.packet = { ...mine.packet, sport: k.packet.sport };
      }
      if (k.packet !== undefined && !samePacket(k.packet, mine.packet)) diffs.push(`packet: kernel ${JSON.stringify(k.packet)}, tsiptables ${JSON.stringify(mine.packet)}`);
      if (JSON.stringify(k.trace) !== JSON.stringify(mine.trace)) diffs.push(`trace: kernel ${k.trace.join(' ')} | tsiptables ${mine.trace.join(' ')}`);
      // The same random ports in conntrack's reply tuples (dport=...): the kernel's choice for ours.
      const ct = runner.tracer.conntrack.listLines().map((l) =>
        l.replace(/ dport=(\d+)( \[ASSURED\])? mark=/, (m, port: string, a: string | undefined) => {
          const kp = randomPorts.get(`${l.split(' ')[0]!} ${port}`);
          return kp === undefined ? m : ` dport=${kp}${a ?? ''} mark=`;
        }),
      );
      if (JSON.stringify(ct) !== JSON.stringify(k.conntrack)) diffs.push(`conntrack:\n      kernel:     ${k.conntrack.join('\n                  ')}\n      tsiptables: ${ct.join('\n                  ')}`);
      const kd = k.dmesg;
      for (let j = 0; j < Math.max(kd.length, mine.dmesg.length); j++) {
        if (kd[j] !== mine.dmesg[j]) {
          diffs.push(`dmesg line ${j + 1}:\n      kernel:     ${kd[j] ?? '(none)'}\n      tsiptables: ${mine.dmesg[j] ?? '(none)'}`);
          break;
        }
      }
    } catch (e) {
      diffs = [`error: ${(e as Error).message}`];
    }
    if (!k) return;
    out.push({ id, packet: p.packet, agree: diffs.length === 0, diffs });
  });
  return out;
}

export function recordedFiles(dir = RECORDED_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
}

export function compareFiles(files: readonly string[]): PacketComparison[] {
  const all: PacketComparison[] = [];
  for (const f of files) {
    const data = JSON.parse(readFileSync(f, 'utf8')) as TraceFixtureFile;
    const base = f.split('/').pop()!;
    for (const sc of data.scenarios) all.push(...compareScenario(base, sc));
  }
  return all;
}

export function readBaseline(path = BASELINE): Set<string> {
  if (!existsSync(path)) return new Set();
  return new Set(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split('\t')[0]!),
  );
}

