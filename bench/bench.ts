/**
 * bench.ts - `npm run bench`: tsiptables against the real iptables 1.8.9 on kube-proxy style rulesets.
 *
 *   npx tsx bench/bench.ts [--reps N] [--ts-only] [--keep] [--small N] [--large N] [--no-write] [--only trace]
 *
 *   --reps N     runs per measurement, the median is reported (default 3); with --only trace, runs of each
 *                trace --batch, the fastest one-packet and batch runs are reported (trace-bench.ts)
 *   --ts-only    do not run the real iptables even where they could run
 *   --keep       keep the temporary directory (dumps, save outputs, tsiptables state)
 *   --small N    services in the small dump (default 1000)
 *   --large N    services in the large dump (default 10000); both with 3 endpoints each
 *   --no-write   print the table only, write no bench/results/<date>.json
 *   --trace-packets N  packets in the trace --batch runs (default 100000), on a 10-service (~130 rules) and
 *                the large ruleset
 *   --only trace only the trace --batch runs (no restore/save/-A... and no real iptables)
 *   --no-trace   everything but the trace --batch runs
 *
 * It generates the dumps with bench/gen-kube-proxy.ts, then measures wall time and peak RSS (GNU time
 * `%e %M`; CI gets it from the Debian package `time`) of each operation, side by side with
 * iptables-nft-* and iptables-legacy-* where they are installed and we are root.  The real tools run in a
 * network namespace tsi-bench-<pid> (`ip netns exec`), created anew for every fresh start and always
 * deleted: at the end, on error and on SIGINT/SIGTERM/SIGHUP.  tsiptables keeps its ruleset in a state file
 * in the temporary directory (TSIPTABLES_STATE).  Nothing here asserts on time: it only reports.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, generate } from './gen-kube-proxy';
import { benchTrace, formatTraceBench, type TraceBenchResult } from './trace-bench';
import { formatTable, summarize, toJson, writeJson, type Measure, type Row, type ToolName } from './lib/report';
import { lastRuleOf, splitSaveLine } from './lib/rule-line';
import { findGnuTime, killCurrentChild, listNetns, Netns, pidAlive, Runner, which, type Sample } from './lib/run';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  reps: number;
  tsOnly: boolean;
  keep: boolean;
  small: number;
  large: number;
  write: boolean;
  tracePackets: number;
  onlyTrace: boolean;
  noTrace: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { reps: 3, tsOnly: false, keep: false, small: 1000, large: 10000, write: true, tracePackets: 100000, onlyTrace: false, noTrace: false };
  const num = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^[1-9]\d*$/.test(v)) {
      process.stderr.write(`bench: ${flag} needs a positive integer\n`);
      process.exit(2);
    }
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--reps':
        a.reps = num('--reps', argv[++i]);
        break;
      case '--small':
        a.small = num('--small', argv[++i]);
        break;
      case '--large':
        a.large = num('--large', argv[++i]);
        break;
      case '--ts-only':
        a.tsOnly = true;
        break;
      case '--keep':
        a.keep = true;
        break;
      case '--trace-packets':
        a.tracePackets = num('--trace-packets', argv[++i]);
        break;
      case '--no-write':
        a.write = false;
        break;
      case '--no-trace':
        a.noTrace = true;
        break;
      case '--only':
        if (argv[++i] !== 'trace') {
          process.stderr.write('bench: --only takes one part: trace\n');
          process.exit(2);
        }
        a.onlyTrace = true;
        break;
      default:
        process.stderr.write(
          `bench: unknown argument ${argv[i]}\n` +
            'usage: bench.ts [--reps N] [--ts-only] [--keep] [--small N] [--large N] [--no-write] [--trace-packets N] [--only trace | --no-trace]\n',
        );
        process.exit(2);
    }
  }
  return a;
}

const log = (msg: string): void => {
  process.stderr.write(msg + '\n');
};

// ---------------------------------------------------------------------------------------------------------
// Operations

type OpKey =
  | 'test-small'
  | 'test-large'
  | 'restore-small'
  | 'restore-large'
  | 'save'
  | 'append'
  | 'check'
  | 'delete'
  | 'list'
  | 'spec';

/** Rows in the order of the report. */
function opLabels(small: number, large: number): Array<[OpKey, string]> {
  const k = (n: number): string => (n % 1000 === 0 ? `${n / 1000}k` : String(n));
  const L = k(large);
  return [
    ['test-small', `restore --test (${k(small)})`],
    ['test-large', `restore --test (${L})`],
    ['restore-small', `restore (${k(small)})`],
    ['restore-large', `restore (${L})`],
    ['save', `save (${L})`],
    ['append', `-A 1 rule (${L})`],
    ['check', `-C last rule (${L})`],
    ['delete', `-D by spec (${L})`],
    ['list', `-L -n nat KUBE-SERVICES (${L})`],
    ['spec', `-S (${L})`],
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Tools

interface Tool {
  name: ToolName;
  restore: string[];
  save: string[];
  ipt: string[];
  netns?: string;
  env?: NodeJS.ProcessEnv;
  /** Empty ruleset: a new state file, or a new network namespace. */
  fresh(): Promise<void>;
}

interface Dump {
  tag: 'small' | 'large';
  services: number;
  file: string;
  lines: number;
}

interface Context {
  runner: Runner;
  reps: number;
  dumps: Dump[];
  tmp: string;
  /** The rule of -C/-D/-A: table, chain and the rest of the iptables-save line. */
  rule: { table: string; chain: string; line: string; args: string[] } | null;
  ruleSource: ToolName | null;
}

const count = (file: string): number => {
  const t = fs.readFileSync(file, 'utf8');
  return t.length === 0 ? 0 : t.split('\n').length - (t.endsWith('\n') ? 1 : 0);
};

/**
 * Measures every operation for one tool.  The order keeps the ruleset equal for all of them: --test on an
 * empty ruleset, restores (each from empty), then save, and -C / -D / -A of the same rule, which puts the
 * ruleset back as it was after every round.
 */
async function measureTool(tool: Tool, ctx: Context): Promise<Partial<Record<OpKey, Measure>>> {
  const res: Partial<Record<OpKey, Measure>> = {};
  const run = (cmd: string[], stdoutFile?: string): Promise<Sample> =>
    ctx.runner.run(cmd, {
      ...(tool.netns ? { netns: tool.netns } : {}),
      ...(tool.env ? { env: tool.env } : {}),
      ...(stdoutFile ? { stdoutFile } : {}),
    });
  const report = (key: OpKey, m: Measure): void => {
    res[key] = m;
    const bad = m.runs.find((r) => r.code !== 0);
    log(
      `  ${key.padEnd(14)} ${m.s === null ? 'err' : m.s.toFixed(2) + ' s'}  ` +
        `${m.mb === null ? '' : m.mb.toFixed(1) + ' MB'}` +
        (bad ? `  (${m.failed} failed, exit ${bad.code}: ${bad.stderr.split('\n')[0]})` : ''),
    );
  };

  for (const d of ctx.dumps) {
    await tool.fresh();
    const runs: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) runs.push(await run([...tool.restore, '--test', d.file]));
    report(`test-${d.tag}`, summarize(runs));
  }
  let lastOk = false;
  for (const d of ctx.dumps) {
    const runs: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) {
      await tool.fresh();
      const s = await run([...tool.restore, d.file]);
      runs.push(s);
      lastOk = s.code === 0;
    }
    report(`restore-${d.tag}`, summarize(runs));
  }
  if (!lastOk) {
    log(`  ${tool.name}: the last restore of the large dump failed; skipping the other operations`);
    return res;
  }

  const saveFile = path.join(ctx.tmp, `save-${tool.name}.txt`);
  {
    const runs: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) runs.push(await run(tool.save, saveFile));
    report('save', summarize(runs, count(saveFile)));
  }
  const saveText = fs.readFileSync(saveFile, 'utf8');
  if (!ctx.rule) {
    const line = lastRuleOf(saveText, 'nat', 'KUBE-SERVICES');
    if (line) {
      const words = splitSaveLine(line);
      ctx.rule = { table: 'nat', chain: words[1], line, args: words.slice(2) };
      ctx.ruleSource = tool.name;
      log(`  rule for -C/-D/-A (last of nat KUBE-SERVICES, from ${tool.name}-save): ${line}`);
    }
  } else if (lastRuleOf(saveText, ctx.rule.table, ctx.rule.chain) !== ctx.rule.line) {
    log(`  note: ${tool.name}-save prints the last rule of ${ctx.rule.chain} differently`);
  }
  if (ctx.rule) {
    const { table, chain, args } = ctx.rule;
    const check: Sample[] = [];
    const del: Sample[] = [];
    const add: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) {
      check.push(await run([...tool.ipt, '-t', table, '-C', chain, ...args]));
      const d = await run([...tool.ipt, '-t', table, '-D', chain, ...args]);
      del.push(d);
      // Re-adding the rule just deleted is the -A measurement: it appends to the large chain and leaves the
      // ruleset as restored.  If -D failed the rule is still there, and appending would make a duplicate.
      if (d.code === 0) add.push(await run([...tool.ipt, '-t', table, '-A', chain, ...args]));
    }
    report('append', summarize(add));
    report('check', summarize(check));
    report('delete', summarize(del));
  } else {
    log(`  no rule found in nat KUBE-SERVICES: -C/-D/-A not measured`);
  }
  {
    const out = path.join(ctx.tmp, `list-${tool.name}.txt`);
    const runs: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) runs.push(await run([...tool.ipt, '-t', 'nat', '-L', 'KUBE-SERVICES', '-n'], out));
    report('list', summarize(runs, count(out)));
  }
  {
    const out = path.join(ctx.tmp, `spec-${tool.name}.txt`);
    const runs: Sample[] = [];
    for (let i = 0; i < ctx.reps; i++) runs.push(await run([...tool.ipt, '-S'], out));
    report('spec', summarize(runs, count(out)));
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------
// Environment

/** Rebuilds dist/ when it is missing or older than src/ or grammar/: the bench measures the bundled CLI. */
function ensureBuilt(): void {
  const dist = path.join(ROOT, 'dist', 'tsiptables.cjs');
  const newest = (dir: string): number => {
    let t = 0;
    if (!fs.existsSync(dir)) return t;
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (e.isFile()) t = Math.max(t, fs.statSync(path.join(e.parentPath ?? dir, e.name)).mtimeMs);
    }
    return t;
  };
  const built = fs.existsSync(dist) ? fs.statSync(dist).mtimeMs : 0;
  if (built > Math.max(newest(path.join(ROOT, 'src')), newest(path.join(ROOT, 'grammar')))) return;
  log(built ? 'dist/ is older than the sources: npm run build' : 'dist/ is missing: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error('npm run build failed');
}

/** HEAD of the checkout measured, and whether src/ or grammar/ differ from it. */
function gitInfo(): { commit: string; sourcesModified: boolean } | null {
  try {
    const git = (...a: string[]): string =>
      execFileSync('git', ['-C', ROOT, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), sourcesModified: git('status', '--porcelain', '--', 'src', 'grammar') !== '' };
  } catch {
    return null;
  }
}

function version(bin: string): string | null {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = Date.now();
  ensureBuilt();
  const load = os.loadavg()[0];
  if (load > os.cpus().length * 0.5) log(`note: load average ${load.toFixed(2)} on ${os.cpus().length} CPUs: other work makes the times noisy`);
  if (args.onlyTrace) {
    traceOnly(args, started, t0, load);
    return;
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsi-bench-'));
  const ipBin = which('ip');
  let netns: Netns | null = null;
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    netns?.destroySync();
    if (!args.keep) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  };
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ];
  for (const [sig, n] of signals) {
    process.on(sig, () => {
      log(`\n${sig}: stopping, deleting the namespace`);
      killCurrentChild();
      cleanup();
      process.exit(128 + n);
    });
  }
  process.on('exit', cleanup);

  try {
    const timeBin = findGnuTime();
    if (!timeBin) log('GNU time not found (Debian/Ubuntu: apt-get install time): peak RSS is n/a, wall time from hrtime');
    const runner = new Runner(timeBin, ipBin, tmp);

    // Which real tools can run.
    const isRoot = process.getuid?.() === 0;
    const nftBins = ['iptables-nft-restore', 'iptables-nft-save', 'iptables-nft'].map(which);
    const legBins = ['iptables-legacy-restore', 'iptables-legacy-save', 'iptables-legacy'].map(which);
    let realReason: string | null = null;
    if (args.tsOnly) realReason = '--ts-only';
    else if (!isRoot) realReason = 'not root';
    else if (!ipBin) realReason = 'ip(8) not found';
    else if (nftBins.some((b) => !b) && legBins.some((b) => !b)) realReason = 'iptables-nft/-legacy not installed';
    if (!realReason && ipBin) {
      // Leftovers of runs that were killed outright (SIGKILL): their process is gone.
      for (const n of listNetns(ipBin)) {
        const m = /^tsi-bench-(\d+)$/.exec(n);
        if (m && !pidAlive(Number(m[1]))) {
          log(`deleting the namespace ${n} left by a run that no longer exists`);
          spawnSync(ipBin, ['netns', 'del', n], { stdio: 'ignore' });
        }
      }
      netns = new Netns(ipBin);
      try {
        netns.fresh();
        netns.destroySync();
      } catch (e) {
        realReason = `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}`;
        netns = null;
      }
    }
    if (realReason) log(`real iptables not measured: ${realReason}`);

    // Dumps.
    const dumps: Dump[] = [];
    for (const [tag, services] of [
      ['small', args.small],
      ['large', args.large],
    ] as const) {
      const file = path.join(tmp, `kube-proxy-${services}x3.txt`);
      const text = generate({ ...DEFAULT_OPTIONS, services, endpoints: 3 });
      fs.writeFileSync(file, text);
      const lines = text.split('\n').length - 1;
      dumps.push({ tag, services, file, lines });
      log(`generated ${services} services x 3 endpoints: ${lines} lines`);
    }

    const ctx: Context = { runner, reps: args.reps, dumps, tmp, rule: null, ruleSource: null };
    const results: Partial<Record<ToolName, Partial<Record<OpKey, Measure>>>> = {};
    const skipped: Partial<Record<ToolName, string>> = {};

    // The real tools first, so that the rule for -C/-D/-A is taken from the real iptables-nft-save.
    if (netns) {
      const ns = netns;
      const real: Array<[ToolName, Array<string | null>]> = [
        ['nft', nftBins],
        ['legacy', legBins],
      ];
      for (const [name, bins] of real) {
        if (bins.some((b) => !b)) {
          skipped[name] = 'not installed';
          continue;
        }
        const [restore, save, ipt] = bins as string[];
        const tool: Tool = {
          name,
          restore: [restore],
          save: [save],
          ipt: [ipt],
          netns: ns.name,
          // Deleting a namespace with the large ruleset costs the kernel well under 0.1 s (kworker time).
          fresh: async () => {
            ns.fresh();
          },
        };
        await tool.fresh();
        const probe = await runner.run([ipt, '-S'], { netns: ns.name });
        if (probe.code !== 0) {
          skipped[name] = `${ipt} -S fails in a namespace: ${probe.stderr.split('\n')[0]}`;
          log(`${name}: skipped (${skipped[name]})`);
          continue;
        }
        log(`${name} (${ns.name}):`);
        results[name] = await measureTool(tool, ctx);
        ns.destroySync();
      }
    }

    const stateDir = path.join(tmp, 'ts-state');
    const tsEnv: NodeJS.ProcessEnv = { ...process.env, TSIPTABLES_STATE: path.join(stateDir, 'rules.v4') };
    const ts: Tool = {
      name: 'tsiptables',
      restore: [path.join(ROOT, 'bin', 'tsiptables-restore')],
      save: [path.join(ROOT, 'bin', 'tsiptables-save')],
      ipt: [path.join(ROOT, 'bin', 'tsiptables')],
      env: tsEnv,
      fresh: async () => {
        fs.rmSync(stateDir, { recursive: true, force: true });
        fs.mkdirSync(stateDir, { recursive: true });
      },
    };
    log('tsiptables:');
    results.tsiptables = await measureTool(ts, ctx);

    netns?.destroySync();

    // tsiptables trace --batch: packets per second (the real kernel has no such command to compare with).
    const traceResults: TraceBenchResult[] = [];
    if (!args.noTrace) log('tsiptables trace --batch:');
    for (const [services, packets] of args.noTrace ? [] : ([
      [10, args.tracePackets],
      [args.large, args.tracePackets],
    ] as const)) {
      const r = benchTrace(services, packets, 1);
      traceResults.push(r);
      log(`  ${services} services (${r.rules} rules): ${Math.round(r.packetsPerSecond)} packets/s`);
    }

    // Report.
    const rows: Row[] = opLabels(args.small, args.large).map(([key, label]) => {
      const tools: Row['tools'] = {};
      for (const name of ['tsiptables', 'nft', 'legacy'] as const) {
        const m = results[name]?.[key];
        if (m) tools[name] = m;
      }
      return { key, label, tools };
    });
    const table = formatTable(rows);
    const elapsed = (Date.now() - t0) / 1000;
    process.stdout.write(
      `\ntsiptables vs iptables 1.8.9, median of ${args.reps}; wall s, peak RSS MiB; x = tsiptables / real` +
        ` (* = some runs failed)\n\n${table}\n\n` +
        (ctx.rule ? `-C/-D/-A rule: -t ${ctx.rule.table} ${ctx.rule.line}\n` : '') +
        (realReason ? `real iptables not measured: ${realReason}\n` : '') +
        `\n${formatTraceBench(traceResults)}\n` +
        `load average at start ${load.toFixed(2)} (${os.cpus().length} CPUs); total ${elapsed.toFixed(0)} s\n`,
    );

    if (args.write) {
      const file = path.join(ROOT, 'bench', 'results', `${started.toISOString().slice(0, 10)}.json`);
      writeJson(file, {
        date: started.toISOString(),
        reps: args.reps,
        git: gitInfo(),
        elapsedSeconds: Math.round(elapsed),
        host: {
          node: process.version,
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? null,
          kernel: os.release(),
          loadAverageAtStart: Math.round(load * 100) / 100,
          gnuTime: timeBin,
          iptablesNft: nftBins[2] ? version(nftBins[2]) : null,
          iptablesLegacy: legBins[2] ? version(legBins[2]) : null,
        },
        realNotMeasured: realReason,
        skipped,
        dumps: dumps.map((d) => ({ services: d.services, endpoints: 3, lines: d.lines })),
        rule: ctx.rule ? { table: ctx.rule.table, line: ctx.rule.line, from: ctx.ruleSource } : null,
        table,
        rows: toJson(rows),
        trace: traceResults,
      });
      log(`wrote ${path.relative(ROOT, file)}`);
    }
  } finally {
    cleanup();
  }
}

/** --only trace: the trace --batch runs alone, fastest of --reps; results in bench/results/<date>-trace.json. */
function traceOnly(args: Args, started: Date, t0: number, load: number): void {
  log(`tsiptables trace --batch (fastest one-packet and batch runs of ${args.reps}):`);
  const traceResults: TraceBenchResult[] = [];
  for (const services of [10, args.large]) {
    const r = benchTrace(services, args.tracePackets, args.reps);
    traceResults.push(r);
    log(`  ${services} services (${r.rules} rules): ${Math.round(r.packetsPerSecond)} packets/s (runs: ${r.runs.join(', ')})`);
  }
  const elapsed = (Date.now() - t0) / 1000;
  process.stdout.write(`\n${formatTraceBench(traceResults)}\nload average at start ${load.toFixed(2)} (${os.cpus().length} CPUs); total ${elapsed.toFixed(0)} s\n`);
  if (!args.write) return;
  const file = path.join(ROOT, 'bench', 'results', `${started.toISOString().slice(0, 10)}-trace.json`);
  writeJson(file, {
    date: started.toISOString(),
    only: 'trace',
    reps: args.reps,
    pick: 'fastest one-packet run and fastest batch run',
    git: gitInfo(),
    elapsedSeconds: Math.round(elapsed),
    host: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, kernel: os.release(), loadAverageAtStart: Math.round(load * 100) / 100 },
    trace: traceResults,
  });
  log(`wrote ${path.relative(ROOT, file)}`);
}

main().catch((e: unknown) => {
  log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
