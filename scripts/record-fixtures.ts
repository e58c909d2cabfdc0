/**
 * record-fixtures.ts - record the behaviour of the REAL iptables 1.8.9
 * (nf_tables variant) binaries for a corpus of command sequences.
 *
 * Usage (as root, on a host with iptables-nft 1.8.9 installed):
 *
 *   npx tsx scripts/record-fixtures.ts [options] [corpus.txt ...]
 *
 *   (no files)      record every fixtures/corpus/*.txt
 *   FILE ...        record only the named corpus files
 *   --only NAME     record only the corpus whose base name is NAME
 *                   (with or without ".txt"; may be repeated)
 *   --out DIR       write DIR/<base>.json instead of fixtures/recorded/<base>.json
 *   --quiet         no per-file summary
 *
 * Every corpus file fixtures/corpus/<base>.txt yields <out>/<base>.json.
 * Compare two recorded trees with scripts/diff-fixtures.ts.
 *
 * ---------------------------------------------------------------------------
 * Corpus format (also documented in fixtures/corpus/README.md)
 * ---------------------------------------------------------------------------
 *
 *   - Outside a heredoc, blank lines and lines starting with "# " (or a line
 *     that is exactly "#") are comments.
 *   - "## <case name>" starts a case.  Every case runs in a FRESH network
 *     namespace named tsi-rec-<pid>-<n>, created with `ip netns add` and
 *     always deleted afterwards (also on errors and SIGINT/SIGTERM).
 *   - Every other line is one command: a program and its arguments in simple
 *     shell quoting: 'single quotes' (literal), "double quotes" (backslash
 *     escapes \" \\ \$ \` only, like sh), and backslash escapes outside
 *     quotes.  No shell is invoked; no variables, globs or redirections.
 *     Allowed programs: iptables, iptables-save, iptables-restore.
 *   - A command line may end with <<EOF or <<'EOF'.  The following lines, up
 *     to a line that is exactly EOF, are the command's stdin, verbatim, plus a
 *     final newline.  Without a heredoc the stdin is empty.
 *   - Commands before the first "## " line are an error.
 *
 * Each command runs as `ip netns exec <ns> <argv...>` via spawnSync (no
 * shell), env LC_ALL=C (plus PATH), timeout 30 s; stdout, stderr and the exit
 * status are captured separately.
 *
 * Output (<base>.json, 2-space indent, fixed key order):
 *
 *   { "provenance": { "recorder", "corpus", "iptables", "kernel", "recordedAt" },
 *     "cases": [ { "name", "line", "steps": [
 *         { "cmd", "argv", "stdin", "stdout", "stderr", "exit" } ] } ] }
 *
 *   cmd   the corpus line as written (including a trailing <<EOF)
 *   argv  the split argument vector (argv[0] is the program name)
 *   stdin the heredoc body or null
 *   exit  the exit status; a command killed by a signal (e.g. the timeout)
 *         gets 128+signal number and an extra "signal" key.
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import type { Provenance, RecordedCase, RecordedFile, Step } from "./fixture-format";
export type { Provenance, RecordedCase, RecordedFile, Step };

interface CorpusCommand {
  line: number;
  cmd: string;
  argv: string[];
  stdin: string | null;
}

interface CorpusCase {
  name: string;
  line: number;
  commands: CorpusCommand[];
}

const ALLOWED_PROGRAMS: ReadonlySet<string> = new Set([
  "iptables",
  "iptables-save",
  "iptables-restore",
]);

const TIMEOUT_MS = 30_000;

class CorpusError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** Split a command line with simple sh-like quoting. Throws on unbalanced quotes. */
export function splitCommandLine(input: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === " " || c === "\t") {
      if (inWord) {
        out.push(cur);
        cur = "";
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new Error("unbalanced single quote");
      cur += input.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < input.length) {
        const d = input[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === "\\" && i + 1 < input.length) {
          const n = input[i + 1];
          if (n === '"' || n === "\\" || n === "$" || n === "`") {
            cur += n;
            i += 2;
            continue;
          }
        }
        cur += d;
        i++;
      }
      if (!closed) throw new Error("unbalanced double quote");
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= input.length) throw new Error("trailing backslash");
      cur += input[i + 1];
      i += 2;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) out.push(cur);
  return out;
}

const HEREDOC_RE = /\s*<<(EOF|'EOF')\s*$/;

export function parseCorpus(text: string, file: string): CorpusCase[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const cases: CorpusCase[] = [];
  let current: CorpusCase | null = null;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i].replace(/\r$/, "");
    if (raw.startsWith("## ")) {
      const name = raw.slice(3).trim();
      if (name === "") throw new CorpusError(file, lineNo, "empty case name");
      if (cases.some((c) => c.name === name)) {
        throw new CorpusError(file, lineNo, `duplicate case name "${name}"`);
      }
      current = { name, line: lineNo, commands: [] };
      cases.push(current);
      continue;
    }
    if (raw.trim() === "" || raw.startsWith("# ") || raw === "#") continue;
    if (current === null) {
      throw new CorpusError(file, lineNo, "command before the first '## case' line");
    }
    let stdin: string | null = null;
    let cmdText = raw;
    const m = HEREDOC_RE.exec(raw);
    if (m) {
      cmdText = raw.slice(0, m.index);
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        if (lines[j].replace(/\r$/, "") === "EOF") break;
        body.push(lines[j]);
      }
      if (j >= lines.length) throw new CorpusError(file, lineNo, "heredoc without closing EOF line");
      stdin = body.length === 0 ? "" : body.join("\n") + "\n";
      i = j;
    }
    let argv: string[];
    try {
      argv = splitCommandLine(cmdText);
    } catch (e) {
      throw new CorpusError(file, lineNo, (e as Error).message);
    }
    if (argv.length === 0) throw new CorpusError(file, lineNo, "empty command");
    if (!ALLOWED_PROGRAMS.has(argv[0])) {
      throw new CorpusError(
        file,
        lineNo,
        `program "${argv[0]}" not allowed (only ${[...ALLOWED_PROGRAMS].join(", ")})`,
      );
    }
    current.commands.push({ line: lineNo, cmd: raw, argv, stdin });
  }
  return cases;
}

// ---------------------------------------------------------------------------
// Network namespaces, with cleanup on every exit path.

const SIGNAL_NUMBERS: Record<string, number> = os.constants.signals as unknown as Record<string, number>;
const liveNamespaces = new Set<string>();
let nsCounter = 0;

function run(
  argv: string[],
  input: string,
): { stdout: string; stderr: string; status: number | null; signal: NodeJS.Signals | null; error?: Error } {
  const r = spawnSync(argv[0], argv.slice(1), {
    input,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { stdout: r.stdout ?? "", stderr: r.stderr ?? "", status: r.status, signal: r.signal, error: r.error };
}

function createNamespace(): string {
  const name = `tsi-rec-${process.pid}-${++nsCounter}`;
  const r = run(["ip", "netns", "add", name], "");
  if (r.status !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim() || r.error?.message}`);
  liveNamespaces.add(name);
  return name;
}

function deleteNamespace(name: string): void {
  const r = run(["ip", "netns", "del", name], "");
  if (r.status !== 0) {
    process.stderr.write(`warning: ip netns del ${name} failed: ${r.stderr.trim()}\n`);
  }
  liveNamespaces.delete(name);
}

function cleanupAll(): void {
  for (const ns of [...liveNamespaces]) deleteNamespace(ns);
}

process.on("exit", cleanupAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    interrupted = sig;
    cleanupAll();
    process.stderr.write(`record-fixtures: interrupted by ${sig}, namespaces removed\n`);
    process.exit(128 + (SIGNAL_NUMBERS[sig] ?? 2));
  });
}


function runStep(ns: string, c: CorpusCommand): Step {
  const r = run(["ip", "netns", "exec", ns, ...c.argv], c.stdin ?? "");
  if (r.error && r.status === null && r.signal === null) {
    throw new Error(`cannot run ${c.argv[0]}: ${r.error.message}`);
  }
  const step: Step = {
    cmd: c.cmd,
    argv: c.argv,
    stdin: c.stdin,
    stdout: r.stdout,
    stderr: r.stderr,
    exit: r.status ?? 128 + (r.signal ? SIGNAL_NUMBERS[r.signal] ?? 0 : 0),
  };
  if (r.signal) step.signal = r.signal;
  return step;
}

/** Let pending signal handlers run (spawnSync blocks the event loop). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

let interrupted: NodeJS.Signals | null = null;

async function recordCase(c: CorpusCase): Promise<RecordedCase> {
  const ns = createNamespace();
  try {
    const steps: Step[] = [];
    for (const cmd of c.commands) {
      await yieldToEventLoop();
      if (interrupted) throw new Error(`interrupted by ${interrupted}`);
      steps.push(runStep(ns, cmd));
    }
    return { name: c.name, line: c.line, steps };
  } finally {
    deleteNamespace(ns);
  }
}

// ---------------------------------------------------------------------------

/**
 * JSON.stringify with 2-space indentation, except that arrays holding only
 * strings/numbers (argv) stay on one line.  Key order is insertion order,
 * which the code above keeps fixed.
 */
function formatJson(value: unknown, indent = ""): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((v) => typeof v === "string" || typeof v === "number")) {
      return "[" + value.map((v) => JSON.stringify(v)).join(", ") + "]";
    }
    const inner = indent + "  ";
    return "[\n" + value.map((v) => inner + formatJson(v, inner)).join(",\n") + "\n" + indent + "]";
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const inner = indent + "  ";
    return (
      "{\n" +
      entries.map(([k, v]) => inner + JSON.stringify(k) + ": " + formatJson(v, inner)).join(",\n") +
      "\n" +
      indent +
      "}"
    );
  }
  return JSON.stringify(value);
}

function fail(msg: string): never {
  process.stderr.write(`record-fixtures: ${msg}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const repoRoot = path.resolve(path.dirname(path.resolve(process.argv[1] ?? ".")), "..");
  const corpusDir = path.join(repoRoot, "fixtures", "corpus");
  let outDir = path.join(repoRoot, "fixtures", "recorded");
  const only: string[] = [];
  const files: string[] = [];
  let quiet = false;

  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--out" || a === "--only") {
      const v = args[++i];
      if (v === undefined) fail(`${a} needs an argument`);
      if (a === "--out") outDir = path.resolve(v);
      else only.push(v.replace(/\.txt$/, ""));
    } else if (a.startsWith("--out=")) {
      outDir = path.resolve(a.slice(6));
    } else if (a.startsWith("--only=")) {
      only.push(a.slice(7).replace(/\.txt$/, ""));
    } else if (a === "--quiet" || a === "-q") {
      quiet = true;
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "usage: record-fixtures.ts [--out DIR] [--only NAME]... [--quiet] [corpus.txt ...]\n",
      );
      return;
    } else if (a.startsWith("-")) {
      fail(`unknown option ${a}`);
    } else {
      files.push(path.resolve(a));
    }
  }

  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    fail("must run as root (needs ip netns and iptables)");
  }
  const v = run(["iptables", "-V"], "");
  if (v.status !== 0) fail(`iptables not runnable: ${v.error?.message ?? v.stderr.trim()}`);
  const iptablesVersion = v.stdout.trim();
  if (!/nf_tables/.test(iptablesVersion)) {
    fail(`iptables is not the nf_tables variant: "${iptablesVersion}"`);
  }
  if (!/^iptables v1\.8\.9 /.test(iptablesVersion)) {
    process.stderr.write(`record-fixtures: warning: expected iptables v1.8.9, got "${iptablesVersion}"\n`);
  }
  const ipCheck = run(["ip", "netns", "list"], "");
  if (ipCheck.status !== 0) fail(`ip netns not usable: ${ipCheck.error?.message ?? ipCheck.stderr.trim()}`);
  const kernel = os.release();

  let corpusFiles: string[];
  if (files.length > 0) {
    corpusFiles = files;
  } else {
    corpusFiles = fs
      .readdirSync(corpusDir)
      .filter((f) => f.endsWith(".txt"))
      .sort()
      .map((f) => path.join(corpusDir, f));
  }
  if (only.length > 0) {
    corpusFiles = corpusFiles.filter((f) => only.includes(path.basename(f, ".txt")));
    const missing = only.filter((o) => !corpusFiles.some((f) => path.basename(f, ".txt") === o));
    if (missing.length > 0) fail(`no corpus file named ${missing.join(", ")}`);
  }
  if (corpusFiles.length === 0) fail("no corpus files");

  // Parse everything first so a syntax error aborts before any recording.
  const parsed = corpusFiles.map((f) => {
    const rel = path.relative(repoRoot, f);
    const corpusName = rel.startsWith("..") ? f : rel;
    try {
      return { file: f, corpusName, cases: parseCorpus(fs.readFileSync(f, "utf8"), corpusName) };
    } catch (e) {
      return fail((e as Error).message);
    }
  });

  fs.mkdirSync(outDir, { recursive: true });
  for (const p of parsed) {
    const recordedAt = new Date().toISOString();
    const cases: RecordedCase[] = [];
    for (const c of p.cases) cases.push(await recordCase(c));
    const result: RecordedFile = {
      provenance: {
        recorder: "scripts/record-fixtures.ts",
        corpus: p.corpusName.split(path.sep).join("/"),
        iptables: iptablesVersion,
        kernel,
        recordedAt,
      },
      cases,
    };
    const outFile = path.join(outDir, path.basename(p.file, ".txt") + ".json");
    fs.writeFileSync(outFile, formatJson(result) + "\n");
    const steps = cases.reduce((n, c) => n + c.steps.length, 0);
    if (!quiet) {
      process.stdout.write(
        `${p.corpusName}: ${cases.length} cases, ${steps} steps -> ${path.relative(process.cwd(), outFile) || outFile}\n`,
      );
    }
  }
}

// Run only when executed directly, so the helpers can be imported by tests.
if (/record-fixtures\.[cm]?[jt]s$/.test(process.argv[1] ?? "")) {
  main().catch((e: unknown) => {
    cleanupAll();
    process.stderr.write(`record-fixtures: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
