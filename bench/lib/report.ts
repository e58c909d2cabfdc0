/**
 * report.ts - medians, the printed table and the JSON results file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Sample } from './run';

export type ToolName = 'tsiptables' | 'nft' | 'legacy';
export const TOOLS: ToolName[] = ['tsiptables', 'nft', 'legacy'];

export interface Measure {
  /** Median wall time (s) of the successful runs, null if none succeeded. */
  s: number | null;
  /** Median peak RSS (MiB) of the successful runs, null if none succeeded or no GNU time. */
  mb: number | null;
  /** Runs that exited non-zero (their numbers are left out of the medians). */
  failed: number;
  runs: Sample[];
  /** Lines of standard output of the last run, where it was kept. */
  outputLines?: number;
}

export interface Row {
  key: string;
  label: string;
  tools: Partial<Record<ToolName, Measure>>;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(runs: Sample[], outputLines?: number): Measure {
  const ok = runs.filter((r) => r.code === 0);
  const rss = ok.map((r) => r.maxRssKB).filter((v): v is number => v !== null);
  const m: Measure = {
    s: median(ok.map((r) => r.wall)),
    mb: rss.length ? (median(rss) as number) / 1024 : null,
    failed: runs.length - ok.length,
    runs,
  };
  if (outputLines !== undefined) m.outputLines = outputLines;
  return m;
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b <= 0) return null;
  return a / b;
}

const fmtS = (m: Measure | undefined): string =>
  !m ? '-' : m.s === null ? 'err' : m.s.toFixed(2) + (m.failed ? '*' : '');
const fmtMB = (m: Measure | undefined): string => (!m ? '-' : m.mb === null ? 'n/a' : m.mb.toFixed(1));
const fmtX = (x: number | null): string => (x === null ? 'n/a' : x >= 100 ? `${x.toFixed(0)}x` : `${x.toFixed(1)}x`);

export function formatTable(rows: Row[]): string {
  const head = ['operation', 'ts s', 'ts MB', 'nft s', 'nft MB', 'x time', 'x RSS', 'legacy s', 'legacy MB', 'x time(leg)'];
  const body = rows.map((r) => {
    const t = r.tools.tsiptables;
    const n = r.tools.nft;
    const l = r.tools.legacy;
    return [
      r.label,
      fmtS(t),
      fmtMB(t),
      fmtS(n),
      fmtMB(n),
      fmtX(ratio(t?.s, n?.s)),
      fmtX(ratio(t?.mb, n?.mb)),
      fmtS(l),
      fmtMB(l),
      fmtX(ratio(t?.s, l?.s)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** JSON-friendly copy: rounded numbers, ratios, stderr only of failed runs. */
export function toJson(rows: Row[]): unknown[] {
  const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);
  return rows.map((r) => {
    const tools: Record<string, unknown> = {};
    for (const name of TOOLS) {
      const m = r.tools[name];
      if (!m) continue;
      tools[name] = {
        s: r3(m.s),
        mb: r3(m.mb),
        failed: m.failed,
        ...(m.outputLines !== undefined ? { outputLines: m.outputLines } : {}),
        runs: m.runs.map((s) => ({
          s: r3(s.wall),
          mb: s.maxRssKB === null ? null : r3(s.maxRssKB / 1024),
          code: s.code,
          ...(s.code !== 0 && s.stderr ? { stderr: s.stderr } : {}),
        })),
      };
    }
    const t = r.tools.tsiptables;
    return {
      key: r.key,
      operation: r.label,
      ...tools,
      ratioTime: r3(ratio(t?.s, r.tools.nft?.s)),
      ratioRss: r3(ratio(t?.mb, r.tools.nft?.mb)),
      ratioTimeLegacy: r3(ratio(t?.s, r.tools.legacy?.s)),
      ratioRssLegacy: r3(ratio(t?.mb, r.tools.legacy?.mb)),
    };
  });
}

/** Writes JSON atomically (a .tmp beside it, ignored by git, then rename). */
export function writeJson(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
