/**
 * record-nft.ts - record what the REAL nft 1.0.6 prints for the corpora fixtures/nft/corpus/*.txt.
 *
 * Usage (as root, with nftables 1.0.6 installed):
 *
 *   npx tsx scripts/record-nft.ts [--only NAME]... [--out DIR] [--quiet]
 *
 * The corpus format is fixtures/corpus/README.md's (`## case` headers, one command a line in simple shell
 * quoting, `<<EOF` heredocs as stdin), with only the programs of PROGRAMS below allowed. Every case runs in a FRESH network
 * namespace tsi-nft-<pid>-<n> (created with `ip netns add`, always deleted afterwards, also on SIGINT/SIGTERM/
 * SIGHUP), every command as `ip netns exec NS nft ...` with env LC_ALL=C and PATH only, timeout 30 s.
 * Output: <out>/<base>.json in the shape of scripts/fixture-format.ts, provenance naming nft's version.
 * Nothing expected is ever typed by hand.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RecordedCase, RecordedFile, Step } from './fixture-format';

interface Command {
  line: number;
  cmd: string;
  argv: string[];
  stdin: string | null;
}
interface Case {
  name: string;
  line: number;
  commands: Command[];
}

/** sh-like splitting: 'single' literal, "double" with \" \\ \$ \` escapes, backslash outside quotes. */
export function splitWords(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new Error('unbalanced single quote');
      cur += input.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < input.length && input[i] !== '"'; i++) {
        if (input[i] === '\\' && '"\\$`'.includes(input[i + 1] ?? '')) i++;
        cur += input[i];
      }
      if (i >= input.length) throw new Error('unbalanced double quote');
      inWord = true;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * nft, iptables-translate and iptables-restore-translate for the translation corpus (their output is nft syntax), and iptables / iptables-save /
 * iptables-restore (the nf_tables variant) for the cases where both sides share a host (nft-iptables.txt).
 */
const PROGRAMS = new Set(['nft', 'iptables-translate', 'iptables-restore-translate', 'iptables', 'iptables-save', 'iptables-restore']);

const HEREDOC = /\s*<<(EOF|'EOF')\s*$/;

export function parseNftCorpus(text: string, file: string): Case[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const cases: Case[] = [];
  let current: Case | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.startsWith('## ')) {
      const name = raw.slice(3).trim();
      if (cases.some((c) => c.name === name)) throw new Error(`${file}:${i + 1}: duplicate case name "${name}"`);
      current = { name, line: i + 1, commands: [] };
      cases.push(current);
      continue;
    }
    if (raw.trim() === '' || raw.startsWith('# ') || raw === '#') continue;
    if (!current) throw new Error(`${file}:${i + 1}: command before the first '## case' line`);
    let stdin: string | null = null;
    let cmdText = raw;
    const m = HEREDOC.exec(raw);
    if (m) {
      cmdText = raw.slice(0, m.index);
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j] !== 'EOF'; j++) body.push(lines[j]!);
      if (j >= lines.length) throw new Error(`${file}:${i + 1}: heredoc without closing EOF line`);
      stdin = body.length === 0 ? '' : `${body.join('\n')}\n`;
      const line = i + 1;
      i = j;
      const argv = splitWords(cmdText);
      if (!PROGRAMS.has(argv[0]!)) throw new Error(`${file}:${line}: program "${argv[0]}" not allowed (only ${[...PROGRAMS].join(', ')})`);
      current.commands.push({ line, cmd: raw, argv, stdin });
      continue;
    }
    const argv = splitWords(cmdText);
    if (!PROGRAMS.has(argv[0]!)) throw new Error(`${file}:${i + 1}: program "${argv[0]}" not allowed (only ${[...PROGRAMS].join(', ')})`);
    current.commands.push({ line: i + 1, cmd: raw, argv, stdin });
  }
  return cases;
}

const live = new Set<string>();
let counter = 0;

function run(argv: string[], input: string): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  return spawnSync(argv[0]!, argv.slice(1), {
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    timeout: 30_000,
  }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
}

function cleanup(): void {
  for (const ns of [...live]) {
    run(['ip', 'netns', 'del', ns], '');
    live.delete(ns);
  }
}

function recordCase(c: Case): RecordedCase {
  const ns = `tsi-nft-${process.pid}-${++counter}`;
  const r = run(['ip', 'netns', 'add', ns], '');
  if (r.status !== 0) throw new Error(`ip netns add ${ns} failed: ${r.stderr}`);
  live.add(ns);
  try {
    const steps: Step[] = c.commands.map((cmd) => {
      // A program that opens /dev/stdin cannot open the socket Node gives it as stdin: it reads the
      // here-document from a temporary file instead (the step keeps its own command line).
      const viaFile = cmd.stdin !== null && cmd.argv.includes('/dev/stdin');
      const tmp = viaFile ? path.join(os.tmpdir(), `tsi-nft-stdin-${process.pid}-${counter}`) : '';
      if (viaFile) fs.writeFileSync(tmp, cmd.stdin!);
      const argv = viaFile ? cmd.argv.map((a) => (a === '/dev/stdin' ? tmp : a)) : cmd.argv;
      const x = run(['ip', 'netns', 'exec', ns, ...argv], cmd.stdin ?? '');
      if (viaFile) fs.rmSync(tmp, { force: true });
      const sigNo = x.signal ? ((os.constants.signals as Record<string, number>)[x.signal] ?? 0) : 0;
      const step: Step = { cmd: cmd.cmd, argv: cmd.argv, stdin: cmd.stdin, stdout: x.stdout ?? '', stderr: x.stderr ?? '', exit: x.status ?? 128 + sigNo };
      if (x.signal) step.signal = x.signal;
      return step;
    });
    return { name: c.name, line: c.line, steps };
  } finally {
    run(['ip', 'netns', 'del', ns], '');
    live.delete(ns);
  }
}

function main(): void {
  const root = path.resolve(path.dirname(path.resolve(process.argv[1] ?? '.')), '..');
  const corpusDir = path.join(root, 'fixtures', 'nft', 'corpus');
  let out = path.join(root, 'fixtures', 'nft', 'recorded');
  const only: string[] = [];
  let quiet = false;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = path.resolve(args[++i] ?? '.');
    else if (args[i] === '--only') only.push((args[++i] ?? '').replace(/\.txt$/, ''));
    else if (args[i] === '--quiet') quiet = true;
    else throw new Error(`unknown argument ${args[i]}`);
  }
  const version = run(['nft', '--version'], '').stdout.trim();
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(corpusDir).filter((x) => x.endsWith('.txt')).sort()) {
    const base = f.replace(/\.txt$/, '');
    if (only.length > 0 && !only.includes(base)) continue;
    const cases = parseNftCorpus(fs.readFileSync(path.join(corpusDir, f), 'utf8'), f);
    const file: RecordedFile = {
      provenance: {
        recorder: 'scripts/record-nft.ts',
        corpus: `fixtures/nft/corpus/${f}`,
        iptables: version,
        kernel: os.release(),
        recordedAt: new Date().toISOString(),
      },
      cases: cases.map(recordCase),
    };
    fs.writeFileSync(path.join(out, `${base}.json`), `${JSON.stringify(file, null, 2)}\n`);
    if (!quiet) process.stdout.write(`${base}: ${cases.length} cases -> ${path.join(out, `${base}.json`)}\n`);
  }
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

if (/record-nft\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  try {
    main();
  } catch (e) {
    cleanup();
    process.stderr.write(`record-nft: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
