/**
 * The command-line edge: the only place that prints and exits. `main(program, argv)` is what bin/ calls.
 */
import { isAscii } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseCommandLine } from '../../grammar/index';
import { EarlyExitSignal, parseCommand, type ParsedCommand } from '../compile/command';
import { execute } from '../exec/commands';
import { Exit, IptablesError, VERSION_STRING, paramProblem } from '../messages';
import { loadState, saveBodiesFromState, statePath, withLock, writeState } from '../io/state';
import { restore, RestoreEarlyExit, RestoreError } from '../io/restore';
import { frameTable, mayWarn, ruleWarnings, saveRuleset, saveTable } from '../format/save';
import { isTableName } from '../model/tables';
import { Ruleset, SAVE_ORDER, type Table } from '../model/ruleset';
import { formatError } from './output';
import { mainHelp } from './help';
import { Getopt, longGroup } from '../compile/getopt';
import { PACKAGE_VERSION } from './version';
import { runCompletion } from './completion';

export interface RunResult {
  stdout: string;
  stderr: string;
  status: number;
  /** The output in the order it was written, when stdout and stderr interleave (a lab's transcript shows it so). */
  chunks?: ReadonlyArray<readonly [1 | 2, string]>;
}

const MUTATING = new Set<ParsedCommand['command']>([
  'append',
  'delete',
  'delete-num',
  'insert',
  'replace',
  'flush',
  'zero',
  'zero-num',
  'new-chain',
  'delete-chain',
  'set-policy',
  'rename-chain',
]);

/** `tsiptables ARGS`: returns what to print instead of printing, so tests can run it in-process. */
export async function runIptables(program: string, argv: readonly string[], statefile?: string): Promise<RunResult> {
  let stderr = '';
  const warn = (l: string): void => {
    stderr += l + '\n';
  };
  try {
    const parsed = parseCommandLine(argv);
    if (!parsed.ok) throw paramProblem(parsed.problems[0]!.message);
    const cmd = parseCommand(parsed.value, { table: 'filter', restore: false, programName: program, warn });
    const path = statefile ?? statePath();
    const mutating = MUTATING.has(cmd.command) || cmd.alsoZero;
    const run = (): string => {
      // Only the command's table is read, the others written back untouched; unless the kernel's check of the
      // rule looks at rules of every table (IDLETIMER's timers, RATEEST's estimators: KernelView.peers).
      const uses = [...cmd.rule.matches, ...(cmd.rule.target ? [cmd.rule.target] : [])];
      const everyTable = uses.some((u) => u.def.kernelCheckSeesPeers === true);
      const rs = loadState(path, isTableName(cmd.table) && !everyTable ? new Set([cmd.table]) : undefined);
      const res = execute(rs, cmd);
      if (res.changed) writeState(path, rs);
      stderr += res.stderr ?? '';
      return res.stdout;
    };
    const stdout = mutating ? await withLock(path, cmd.wait, run) : run();
    return { stdout, stderr, status: 0 };
  } catch (e) {
    if (e instanceof EarlyExitSignal) {
      if (e.exit.kind === 'version') {
        const text = e.exit.inverted ? `Not ${VERSION_STRING.slice(1)} ;-)\n` : `${program} ${VERSION_STRING}\ntsiptables ${PACKAGE_VERSION}\n`;
        return { stdout: text, stderr, status: 0 };
      }
      return { stdout: mainHelp(program, e.exit.matches, e.exit.target), stderr, status: 0 };
    }
    if (e instanceof IptablesError) return { stdout: '', stderr: stderr + formatError(e, program), status: e.status };
    throw e;
  }
}

/** glibc getopt's own messages (opterr set), then the program's hint line. */
function getoptError(program: string, r: { kind: string; shown?: string }, hint: string): RunResult {
  const shown = r.shown ?? '';
  let text: string;
  if (r.kind === 'missing') {
    text = shown.startsWith('--') ? `${program}: option '${shown}' requires an argument\n` : `${program}: option requires an argument -- '${shown.slice(1)}'\n`;
  } else {
    text = shown.startsWith('--') ? `${program}: unrecognized option '${shown}'\n` : `${program}: invalid option -- '${shown.slice(1)}'\n`;
  }
  return { stdout: '', stderr: `${text}${hint}\n`, status: 1 };
}

/** `tsiptables-save [-c] [-t table] [-M cmd] [-f file]` */
export function runSave(program: string, argv: readonly string[], now = new Date(), statefile?: string): RunResult {
  try {
    return save(program, argv, now, statefile ?? statePath());
  } catch (e) {
    if (e instanceof IptablesError) return { stdout: '', stderr: formatError(e, program), status: e.status };
    throw e;
  }
}

/** iptables-save's and iptables-restore's long options (getopt_long tables of xtables-save.c/-restore.c). */
const SAVE_OPTIONS = [
  longGroup<string>([
    { name: 'counters', hasArg: 0, key: 'c' },
    { name: 'dump', hasArg: 0, key: 'd' },
    { name: 'table', hasArg: 1, key: 't' },
    { name: 'modprobe', hasArg: 1, key: 'M' },
    { name: 'file', hasArg: 1, key: 'f' },
    { name: 'version', hasArg: 0, key: 'V' },
  ]),
];
const RESTORE_OPTIONS = [
  longGroup<string>([
    { name: 'counters', hasArg: 0, key: 'c' },
    { name: 'verbose', hasArg: 0, key: 'v' },
    { name: 'version', hasArg: 0, key: 'V' },
    { name: 'test', hasArg: 0, key: 't' },
    { name: 'help', hasArg: 0, key: 'h' },
    { name: 'noflush', hasArg: 0, key: 'n' },
    { name: 'modprobe', hasArg: 1, key: 'M' },
    { name: 'table', hasArg: 1, key: 'T' },
    { name: 'ipv4', hasArg: 0, key: '4' },
    { name: 'ipv6', hasArg: 0, key: '6' },
    { name: 'wait', hasArg: 2, key: 'w' },
    { name: 'wait-interval', hasArg: 1, key: 'W' },
  ]),
];

function save(program: string, argv: readonly string[], now: Date, statefile: string): RunResult {
  const g = new Getopt<string>(argv, 'bcdt:M:f:V');
  let counters = false;
  let table: string | undefined;
  let file: string | undefined;
  let stray = false;
  for (;;) {
    const r = g.next(SAVE_OPTIONS);
    if (r.kind === 'end') break;
    if (r.kind === 'word') {
      stray = true;
      continue;
    }
    if (r.kind === 'unknown' || r.kind === 'missing') return getoptError(program, r, `Look at manual page \`${program}.8' for more information.`);
    const k = r.kind === 'short' ? r.letter : r.kind === 'long' ? r.option.key : '';
    const arg = r.kind === 'short' || r.kind === 'long' ? r.arg : undefined;
    if (k === 'c') counters = true;
    else if (k === 't') table = arg;
    else if (k === 'f') file = arg;
    else if (k === 'V') return { stdout: `${program} ${VERSION_STRING}\n`, stderr: '', status: 0 };
  }
  if (stray) return { stdout: '', stderr: 'Unknown arguments found on commandline\n', status: 1 };
  // A state this program wrote is iptables-save -c text already: its tables are printed from the text.
  const bodies = table === undefined || isTableName(table) ? saveBodiesFromState(statefile, counters, (text) => !mayWarn(text)) : undefined;
  const wanted = table !== undefined && isTableName(table) ? [table] : SAVE_ORDER.filter((n) => bodies?.has(n));
  if (bodies !== undefined && wanted.every((n) => bodies.has(n))) {
    return finishSave(wanted.map((n) => frameTable(bodies.get(n)!, program, now)).join(''), '', file);
  }
  const rs = loadState(statefile, table !== undefined && isTableName(table) ? new Set([table]) : undefined);
  let text: string;
  let tables: Table[];
  if (table !== undefined) {
    if (!isTableName(table)) return { stdout: '', stderr: `Table \`${table}' does not exist\n`, status: 1 };
    const t = rs.table(table) ?? new Ruleset().ensureTable(table);
    text = saveTable(t, counters, program, now);
    tables = [t];
  } else {
    text = saveRuleset(rs, counters, program, now);
    tables = rs.tablesInSaveOrder();
  }
  return finishSave(text, ruleWarnings(tables.flatMap((t) => [...t.chains.values()])), file);
}

/** iptables-save's output to stdout, or to `-f FILE`. */
function finishSave(text: string, warnings: string, file: string | undefined): RunResult {
  if (file !== undefined) {
    try {
      writeFileSync(file, text);
    } catch (e) {
      return { stdout: '', stderr: `Failed to open file, error: ${(e as Error).message}\n`, status: 1 };
    }
    return { stdout: '', stderr: warnings, status: 0 };
  }
  return { stdout: text, stderr: warnings, status: 0 };
}

/** `tsiptables-restore [-c] [-n] [-t] [-v] [-T table] [-w] [file]` */
export async function runRestore(program: string, argv: readonly string[], stdin: () => string, statefile?: string): Promise<RunResult> {
  const g = new Getopt<string>(argv, 'bcvVthnwW:M:T:');
  const opts = { counters: false, noflush: false, test: false, verbose: false, onlyTable: undefined as string | undefined };
  let wait: number | undefined;
  const files: string[] = [];
  for (;;) {
    const r = g.next(RESTORE_OPTIONS);
    if (r.kind === 'end') break;
    if (r.kind === 'unknown' || r.kind === 'missing') return getoptError(program, r, `Try \`${program} -h' for more information.`);
    if (r.kind === 'word') {
      files.push(r.arg);
      continue;
    }
    const k = r.kind === 'short' ? r.letter : r.option.key;
    const arg = r.arg;
    if (k === 'c') opts.counters = true;
    else if (k === 'n') opts.noflush = true;
    else if (k === 't') opts.test = true;
    else if (k === 'v') opts.verbose = true;
    else if (k === 'T') opts.onlyTable = arg;
    else if (k === 'w') {
      // parse_wait_time(): an attached value, or the next argument when it does not look like an option.
      const text = arg ?? (g.hasArg() ? g.take() : undefined);
      wait = text !== undefined ? Number.parseInt(text, 10) : -1;
    }
    else if (k === 'V') return { stdout: `${program} ${VERSION_STRING}\n`, stderr: '', status: 0 };
    else if (k === 'h') {
      const usage = ['--counters', '--verbose', '--version', '--test', '--help', '--noflush', '--table=<TABLE>', '--modprobe=<command>', '--ipv4', '--ipv6']
        .map((o) => `\t   [ ${o}${o === '--version' ? '' : ' '}]\n`)
        .join('');
      return {
        stdout: '',
        stderr: `Usage: ${program} [-c] [-v] [-V] [-t] [-h] [-n] [-T table] [-M command] [-4] [-6] [file]\n${usage}`,
        status: 0,
      };
    }
  }
  if (files.length > 1) return { stdout: '', stderr: 'Unknown arguments found on commandline\n', status: 1 };
  let text: string;
  if (files.length === 1) {
    try {
      text = readText(files[0]!);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const reason = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : String(code);
      return { stdout: '', stderr: `Can't open ${files[0]}: ${reason}\n`, status: 1 };
    }
  } else text = stdin();
  let stderr = '';
  const warn = (l: string): void => {
    stderr += l + '\n';
  };
  const path = statefile ?? statePath();
  const work = (): string => {
    const base = loadState(path);
    let res: ReturnType<typeof restore>;
    try {
      res = restore(text, base, { ...opts, programName: program, warn, compact: true });
    } catch (e) {
      // Tables committed before the failure stay (the nft variant applied them): written under the same lock,
      // so that no other writer's change made in between is overwritten.
      if ((e instanceof RestoreError || e instanceof RestoreEarlyExit) && !opts.test && e.committed) writeState(path, e.committed);
      throw e;
    }
    if (!opts.test) writeState(path, res.ruleset);
    return res.stdout;
  };
  try {
    const stdout = opts.test ? work() : await withLock(path, wait, work);
    return { stdout, stderr, status: 0 };
  } catch (e) {
    if (e instanceof RestoreEarlyExit) {
      // -h/-V on a rule line: the help or version on stdout, exit 0 (do_parse() exits there).
      const x = e.exit;
      const text = x.kind === 'help' ? mainHelp(program, x.matches, x.target) : x.inverted ? `Not ${VERSION_STRING.slice(1)} ;-)\n` : `${program} ${VERSION_STRING}\n`;
      return { stdout: e.stdout + text, stderr, status: 0 };
    }
    if (e instanceof RestoreError) {
      const err = e.error;
      const line = err.framing === 'param' || err.framing === 'bad-argument' ? e.line : undefined;
      return { stdout: '', stderr: stderr + formatError(err, program, line), status: err.status };
    }
    if (e instanceof IptablesError) return { stdout: '', stderr: stderr + formatError(e, program), status: e.status };
    throw e;
  }
}

/** A file's (or stdin's) text; ASCII, as dumps nearly always are, is read as latin1: a copy, no UTF-8 decoding. */
function readText(file: string | number): string {
  const bytes = readFileSync(file);
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** bin/ entry point. */
export function main(program: string, argv: string[]): void {
  // A reader that goes away (`tsiptables -S | head`): the real iptables dies of SIGPIPE without a word, and the
  // shell reports 128 + 13; Node ignores SIGPIPE, so the write fails with EPIPE instead, and is ended the same way.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
  const done = (r: RunResult): void => {
    if (r.chunks !== undefined) {
      // Interleaved as the real program writes them (nft's warning before the table it is about).
      for (const [fd, text] of r.chunks) (fd === 1 ? process.stdout : process.stderr).write(text);
    } else {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
    }
    process.exitCode = r.status;
  };
  const crash = (e: unknown): void => {
    // An iptables error a runner let through (e.g. the state file's lock or write under `trace
    // --update-counters`) is still printed as iptables prints it, with its exit status.
    if (e instanceof IptablesError) {
      process.stderr.write(formatError(e, program));
      process.exitCode = e.status;
      return;
    }
    process.stderr.write(`${program}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = Exit.Other;
  };
  try {
    if (program === 'tsiptables-save') done(runSave(program, argv));
    else if (program === 'tsiptables-restore') runRestore(program, argv, () => readText(0)).then(done, crash);
    // The subcommands are loaded when used (commander, the tracer and the lab are no part of an iptables command's
    // start-up: commander alone pulls in child_process and net, ~12 ms).
    else if (argv[0] === 'trace') {
      const io = { stdin: () => readFileSync(0, 'utf8'), isTTY: process.stdout.isTTY === true, env: process.env, write: (t: string): void => void process.stdout.write(t) };
      import('./trace').then((m) => m.runTrace(argv.slice(1), io)).then(done, crash);
    } else if (argv[0] === 'completion') done(runCompletion(argv.slice(1)));
    else if (argv[0] === 'lab') import('./lab').then((m) => m.runLabCommand(argv.slice(1), () => readFileSync(0, 'utf8'))).then(done, crash);
    else if (argv[0] === 'graph') import('./graph').then((m) => done(m.runGraph(argv.slice(1))), crash);
    else if (argv[0] === 'nft') import('./nft').then((m) => m.runNft(argv.slice(1), () => readFileSync(0, 'utf8'))).then(done, crash);
    else if (argv[0] === 'translate' && ((argv.length === 3 && (argv[1] === '-f' || argv[1] === '--file') && (argv[2] === '-' || !argv[2]!.startsWith('-'))) || (argv.length === 2 && argv[1]!.startsWith('--file=')))) {
      import('./nft').then((m) => done(m.runRestoreTranslate(argv.slice(1), () => readFileSync(0, 'utf8'))), crash);
    } else if (argv[0] === 'restore-translate') import('./nft').then((m) => done(m.runRestoreTranslate(argv.slice(1), () => readFileSync(0, 'utf8'))), crash);
    else if (argv[0] === 'translate') import('./nft').then((m) => done(m.runTranslate(argv.slice(1))), crash);
    else runIptables(program, argv).then(done, crash);
  } catch (e) {
    crash(e);
  }
}
