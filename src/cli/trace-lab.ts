/**
 * The views of `tsiptables trace --lab SCRIPT --from NS PACKET`: for each host the packet crosses (and then
 * its answer), the explained single-host view of src/cli/trace-output.ts under the host's name; with --json,
 * one object with the hops.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LabTraceError, traceInLab, type LabTrace } from '../lab/trace-lab';
import { PacketLineError } from '../eval/packet-line';
import { TraceInputError } from '../eval/trace';
import type { Hop, Outcome } from '../lab/net';
import { humanView, jsonView, logLines } from './trace-output';
import type { RunResult } from './main';
import { writeDiagrams, type DiagramFiles } from './diagram-files';
import type { DiagramHop, DiagramInput } from '../diagram/model';

export interface LabTraceFlags {
  lab: string;
  from?: string;
  json?: boolean;
  dmesg?: boolean;
  color: boolean;
  now: Date;
  diagrams: DiagramFiles;
}

function fateWord(h: Hop): string {
  const r = h.result;
  return r.fate === 'forwarded' ? `forwarded out ${r.out ?? '?'}` : r.fate === 'sent' ? `sent out ${r.out ?? '?'}` : r.fate;
}

function endText(o: Outcome | undefined): string {
  if (!o) return 'nothing came back';
  if (o.kind === 'delivered') return `delivered in ${o.ns.label()}`;
  if (o.kind === 'dropped') return `dropped in ${o.ns.label()}: ${o.why}`;
  if (o.kind === 'unreachable') return `not sent: ${o.why}`;
  return `lost after ${o.ns.label()}: ${o.why}`;
}

function path(hops: readonly Hop[]): string {
  return hops.map((h) => `${h.ns.label()} (${fateWord(h)})`).join(' -> ');
}

function hopsText(title: string, hops: readonly Hop[], color: boolean): string {
  return hops.map((h, i) => `\n== ${title} ${i + 1}/${hops.length}: ${h.ns.label()} ==\n${humanView(h.result, color)}`).join('');
}

export function labTraceView(t: LabTrace, color: boolean): string {
  let s = `path: ${path(t.request)}\nresult: ${endText(t.outcome)}\n`;
  if (t.reply.length > 0) s += `answer: ${path(t.reply)}\nanswer result: ${endText(t.answer)}\n`;
  for (const n of t.notes) s += `note: ${n}\n`;
  s += hopsText('request', t.request, color);
  if (t.reply.length > 0) s += hopsText('answer', t.reply, color);
  return s;
}

export function labTraceJson(t: LabTrace): Record<string, unknown> {
  const hop = (h: Hop): Record<string, unknown> => ({ host: h.ns.label(), ...jsonView(h.result) });
  return { request: t.request.map(hop), reply: t.reply.map(hop), result: endText(t.outcome), answer: t.reply.length ? endText(t.answer) : null, notes: t.notes };
}

/** The lanes of the picture: one per host, the request's hops then the answer's. */
export function labDiagram(t: LabTrace, title: string): DiagramInput {
  const hop = (h: Hop, direction: 'request' | 'reply'): DiagramHop => ({ host: h.ns.label(), direction, result: h.result, ruleset: h.ruleset, wire: { arrived: h.result.in ?? undefined, left: h.result.out ?? undefined } });
  return { title, hops: [...t.request.map((h) => hop(h, 'request')), ...t.reply.map((h) => hop(h, 'reply'))] };
}

export async function runLabTrace(flags: LabTraceFlags, packet: readonly string[]): Promise<RunResult> {
  const bad = (msg: string): RunResult => ({ stdout: '', stderr: `tsiptables trace: ${msg}\nTry \`tsiptables trace --help' for more information.\n`, status: 2 });
  if (flags.from === undefined) return bad('--lab needs --from NS: the namespace the packet starts in');
  let script: string;
  try {
    script = readFileSync(flags.lab, 'utf8');
  } catch (e) {
    return bad(`--lab ${flags.lab}: ${(e as { code?: string }).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
  let t: LabTrace;
  try {
    t = await traceInLab(script, basename(flags.lab), flags.from, packet, flags.now);
  } catch (e) {
    if (e instanceof LabTraceError || e instanceof PacketLineError || e instanceof TraceInputError) return bad(e.message);
    throw e;
  }
  const dropped = t.outcome.kind !== 'delivered';
  const toStdout = [flags.diagrams.html, flags.diagrams.svg, flags.diagrams.dot].includes('-');
  let stdout = '';
  if (toStdout) stdout = '';
  else if (flags.json) stdout = JSON.stringify(labTraceJson(t)) + '\n';
  else if (flags.dmesg) stdout = [...t.request, ...t.reply].flatMap((h) => logLines(h.result, true)).map((l) => l + '\n').join('');
  else stdout = labTraceView(t, flags.color);
  const warn = t.unsupported.map((u) => `tsiptables trace: ${flags.lab}: line ${u.line}: ${u.message} (skipped)\n`).join('');
  const failed = writeDiagrams(flags.diagrams, (text) => (stdout += text), {
    inputs: [labDiagram(t, `${basename(flags.lab)}: ${packet.join(' ')} from ${flags.from}`)],
    title: `tsiptables trace --lab ${flags.lab} --from ${flags.from} ${packet.join(' ')}`,
    subtitle: `${path(t.request)}${t.reply.length ? ` · answer: ${path(t.reply)}` : ''}`,
    footnote: t.notes.length ? t.notes.join(' ') : undefined,
  });
  if (failed !== undefined) return { stdout, stderr: `${warn}tsiptables trace: ${failed}\n`, status: 2 };
  return { stdout, stderr: warn, status: dropped ? 1 : 0 };
}
