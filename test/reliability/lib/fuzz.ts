/**
 * Hostile input (item 6 of issue 7): fast-check runs mutated real dumps and command lines, random bytes,
 * huge lines, NUL bytes and invalid UTF-8 through the CLI in-process (runIptables, runRestore, runTrace).
 * For every input: no exception, an exit status iptables uses, only lines iptables prints (every stderr line
 * is one of the recorded message families of fixtures/recorded/, or a kernel refusal line), never an internal
 * error, and the state file unchanged when the command failed (for restore: unchanged or the tables COMMITted
 * before the failing line, as the nft variant keeps them). Each case is bounded in time (a hang bound).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { runIptables, runRestore, type RunResult } from '../../../src/cli/main';
import { runTrace } from '../../../src/cli/trace';
import { ROOT, Scratch } from './harness';

export interface FuzzSizes {
  commandRuns: number;
  dumpRuns: number;
  byteRuns: number;
  traceRuns: number;
  /** Hang bound of one in-process case, ms. */
  caseBoundMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Seeds: what the real iptables was recorded running, and the real dumps.

interface RecordedStep {
  argv: string[];
  stdin: string | null;
  stderr: string;
}

function recordedSteps(): RecordedStep[] {
  const dir = join(ROOT, 'fixtures', 'recorded');
  const out: RecordedStep[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { cases: Array<{ steps: RecordedStep[] }> };
    for (const c of rec.cases) out.push(...c.steps);
  }
  return out;
}

let cache: { commands: string[][]; dumps: string[]; tokens: string[]; known: Known } | undefined;

function seeds(): NonNullable<typeof cache> {
  if (cache) return cache;
  const steps = recordedSteps();
  const commands = steps.filter((s) => s.argv[0] === 'iptables' && s.argv.length > 1).map((s) => s.argv.slice(1));
  const dumpDir = join(ROOT, 'fixtures', 'dumps');
  const dumps = [
    ...readdirSync(dumpDir)
      .filter((n) => /\.(rules|txt)$/.test(n))
      .sort()
      .map((n) => readFileSync(join(dumpDir, n), 'utf8')),
    ...steps.filter((s) => s.argv[0] === 'iptables-restore' && s.stdin).map((s) => s.stdin!),
  ];
  const tokens = [...new Set(commands.flat())].filter((t) => t.length < 64);
  cache = { commands, dumps, tokens, known: messageHeads(steps) };
  return cache;
}

// ---------------------------------------------------------------------------------------------------------
// What iptables prints: the message families of every recorded stderr line.

const PROGRAM_PREFIX = /^(?:ts)?iptables(?:-restore|-save)?(?: v1\.8\.9 \(nf_tables\))?: ?/;

/** A message with its variable parts masked: quoted words as Q, numbers standing alone as N. */
function template(body: string): string {
  return body.replace(/`[^`']*'|'[^']*'|"[^"]*"/g, 'Q').replace(/\b\d+\b/g, 'N');
}

interface Known {
  heads: readonly string[];
  templates: ReadonlySet<string>;
}

/**
 * Every recorded stderr line as a template, and its head (the template up to its first variable part), e.g.
 * "Bad argument ", "Chain Q does not exist" (whole), "u32: at char ", "multiple -s flags not allowed".
 */
function messageHeads(steps: RecordedStep[]): Known {
  const heads = new Set<string>();
  const templates = new Set<string>();
  for (const s of steps) {
    for (const raw of s.stderr.split('\n')) {
      const t = template(raw.replace(PROGRAM_PREFIX, ''));
      templates.add(t);
      const head = t.split(/[QN]/)[0]!;
      if (head.trim().length >= 4) heads.add(head);
    }
  }
  return { heads: [...heads].sort((a, b) => b.length - a.length), templates };
}

/**
 * Message families of iptables 1.8.9 with a variable part no recorded case shows (format strings of
 * xshared.c, libxt_set.c, libxt_icmp.c, xtables-restore.c), and tsiptables' own messages about its state file.
 */
const MORE_FAMILIES = [
  /^multiple -. flags not allowed$/,
  /^Cannot use -. with -.$/,
  /^cannot have ! before -.$/,
  /^[\w -]+: option "--[\w-]+" (can only be used once|must be specified|cannot be inverted)\.$/,
  /^Rule ranges are not supported$/,
  /^Newlines not allowed in --log-prefix$/,
  /^[\w -]+: (bad value|bad integer value|trailing garbage after value) for option "--[\w-]+"(\.| near .*)$/s,
  /^[\w -]+: Argument to "--[\w-]+" has unexpected characters near ".*"\.$/s,
  /^[\w -]+: Too many components for option "--[\w-]+" \(max: \d+\)$/,
  /^-c (packet|byte) counter not numeric$/,
  /^Set .* doesn't exist\.$/s,
  /^You cannot use `-[wW]' from iptables-restore$/,
  /^wait interval (not numeric|value required)$/,
  /^COMMIT expected at line \d+$/,
  /^unknown character .*$/s,
  /^Odd number of hex digits$/,
  /^Garbage after port range: `.*'$/s,
  /^ICMP type range not supported$/,
  /^Invalid address format$/,
  /^--[\w-]+ requires two args\.$/,
  /^burst cannot be smaller than \d+b$/,
  /^--reject-with [\w-]+ no longer supported$/,
  // libxt_rateest.c: "rateest: can't specify --rateest-pps2 twice" (and -bps, -pps1, ...; one asked of the real
  // iptables 1.8.9 after a full-size fuzz run found it).
  /^rateest: can't specify --rateest-[\w-]+ twice$/,
  // libxt_time.c: "%s is not a valid day specifier", "%s is not a valid day for --monthdays" (recorded with Xy,
  // mon, ! and numbers; any word can stand there).
  /^.+ is not a valid day (specifier|for --monthdays)$/s,
  // state.ts (README, "The state file"): the file or its lock cannot be read or written.
  /^Fatal: can't (open lock file|read state file|write state file) .+: [A-Z][a-z -]+$/,
  /^state file .+ is damaged/,
];

function isKnownLine(line: string, known: Known): boolean {
  if (line === '') return true;
  if (/^Try `(?:ts)?iptables(?:-restore)? -h' or '(?:ts)?iptables(?:-restore)? --help' for more information\.$/.test(line)) return true;
  if (/^Error occurred at line: \d+$/.test(line)) return true;
  // Our program names where iptables prints its own (tests/support/replay.ts does the same the other way).
  const body = line.replace(PROGRAM_PREFIX, '').replace(/(^|[\s`'(])tsiptables/g, '$1iptables');
  if (body === '') return true;
  // The nft variant's kernel refusals: "[line N:] RULE_APPEND failed (Errno text): rule in chain X".
  if (/^(?:line \d+:)? ?[A-Z_]+ failed \([A-Za-z ,'-]+\): .+$/s.test(body)) return true;
  if (known.templates.has(template(body))) return true;
  return known.heads.some((h) => body.startsWith(h)) || MORE_FAMILIES.some((f) => f.test(body));
}

const CRASH_MARKS = ['internal error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'Maximum call stack', '[object ', 'undefined', 'NaN'];

const COLLECT: Set<string> | undefined = process.env.TSI_FUZZ_COLLECT ? new Set() : undefined;
/** Exploration (TSI_FUZZ_COLLECT=FILE): unknown lines are written to FILE instead of failing the property. */
export function flushCollected(): void {
  if (COLLECT) writeFileSync(process.env.TSI_FUZZ_COLLECT!, [...COLLECT].sort().join('\n') + '\n');
}

/**
 * Whether the input can put a line break inside a message: a command-line word that holds one, or a dump line
 * with an unbalanced quote (iptables-restore keeps the line's newline in the quoted value). iptables prints
 * words back (`Bad argument \`X'`), so such a message spans two lines.
 */
export function newlineInWords(words: readonly string[], dumpText?: string): boolean {
  if (words.some((w) => w.includes('\n'))) return true;
  return (dumpText ?? '').split('\n').some((l) => (l.split('"').length - 1) % 2 === 1 || (l.split("'").length - 1) % 2 === 1);
}

/**
 * Why a result is not something iptables would print, or undefined when it is. `input`: the whole input (crash
 * marks it contains are not held against the output); `newlines`: from newlineInWords().
 */
export function problemWith(r: RunResult, input: string, newlines: boolean, statuses: readonly number[]): string | undefined {
  if (!statuses.includes(r.status)) return `exit status ${r.status}`;
  for (const mark of CRASH_MARKS) if (r.stderr.includes(mark) && !input.includes(mark)) return `stderr has "${mark}"`;
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(r.stderr)) return 'stderr has a stack trace';
  if (r.status !== 0 && r.stderr === '') return 'failed without a message';
  const known = seeds().known;
  for (const line of messageLines(r.stderr, newlines, known)) {
    if (isKnownLine(line, known)) continue;
    if (!COLLECT) return `stderr line not in iptables' messages: ${JSON.stringify(line.slice(0, 200))}`;
    COLLECT.add(JSON.stringify([line.replace(PROGRAM_PREFIX, '').slice(0, 120), input.slice(0, 300)]));
  }
  return undefined;
}

/** Whether a line ends inside a quoted part (`X', 'X' or "X"); apostrophes inside words (can't) do not count. */
function insideQuote(line: string): boolean {
  const count = (re: RegExp): number => line.match(re)?.length ?? 0;
  const back = count(/`/g);
  const apos = count(/'(?![A-Za-z])|(?<![A-Za-z])'/g);
  return back > apos || (back === 0 && apos % 2 === 1) || count(/"/g) % 2 === 1;
}

/**
 * stderr split into messages. Where the input can put a line break inside a message (see newlineInWords), a
 * line does not start a message when it ends the quoted word of the line before (or starts with a closing
 * quote), or when it is no message of its own but completes the one before.
 */
function messageLines(stderr: string, newlines: boolean, known: Known): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const last = out[out.length - 1];
    const joined = `${last}\n${line}`;
    const continues = last !== undefined && newlines && (insideQuote(last) || /^['"]/.test(line) || (!isKnownLine(line, known) && isKnownLine(joined, known)));
    if (continues) out[out.length - 1] = joined;
    else out.push(line);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Mutations.

const SPECIAL = [
  '', '!', '-', '--', '-w', '-A', '-I', '-D', '-N', '-X', '-E', '-P', '-j', '-g', '-m', '-p', '-s', '-d', '-i', '-o', '-t',
  '-c', '0', '-1', '1', '255', '256', '65535', '65536', '4294967295', '4294967296', '18446744073709551615',
  '18446744073709551616', '99999999999999999999999999', '0x', '0x7fffffff', '0xffffffffffffffff', '1e9', '0.5',
  '\0', 'a\0b', '\uFFFD', '\uD800', '\uDFFF', 'é', '\u{1F4A5}', ' ', '\t', '\n', '\r', '"', "'", '\\', '%s%n',
  ',', ':', '::', '1:2', '2:1', '/', '1.2.3.4', '1.2.3.4/33', '1.2.3.4/-1', '256.1.1.1', '::1', 'INPUT',
  'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING', 'DOCKER', 'KUBE-SERVICES', 'ACCEPT', 'DROP', 'RETURN',
  'filter', 'nat', 'mangle', 'raw', 'security', 'tcp', 'udp', 'icmp', 'all', 'comment', '--comment',
  'NaN', 'Infinity', 'undefined', 'null', 'true', '__proto__', 'constructor', 'prototype', 'toString',
  'hasOwnProperty', 'valueOf',
];

/** A word: from the recorded commands, the special list, or random (printable, any code unit, digits). */
function word(pool: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 3, arbitrary: fc.constantFrom(...SPECIAL) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
  );
}

type Edit =
  | { kind: 'replace' | 'insert'; at: number; w: string }
  | { kind: 'delete' | 'dup'; at: number }
  | { kind: 'swap'; at: number; to: number }
  | { kind: 'splice'; at: number; pos: number; w: string };

function edits(pool: readonly string[]): fc.Arbitrary<Edit[]> {
  const at = fc.nat(300);
  const w = word(pool);
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), at, w }),
      fc.record({ kind: fc.constantFrom('delete' as const, 'dup' as const), at }),
      fc.record({ kind: fc.constant('swap' as const), at, to: at }),
      fc.record({ kind: fc.constant('splice' as const), at, pos: fc.nat(40), w }),
    ),
    // Mostly one edit: inputs close to real ones get past the first check and reach the deeper code.
    { minLength: 1, maxLength: 3, size: 'xsmall' },
  );
}

function applyEdits(words: readonly string[], list: readonly Edit[]): string[] {
  const out = [...words];
  for (const e of list) {
    if (e.kind === 'insert') {
      out.splice(e.at % (out.length + 1), 0, e.w);
      continue;
    }
    if (out.length === 0) continue;
    const i = e.at % out.length;
    if (e.kind === 'replace') out[i] = e.w;
    else if (e.kind === 'delete') out.splice(i, 1);
    else if (e.kind === 'dup') out.splice(i, 0, out[i]!);
    else if (e.kind === 'swap') {
      const j = e.to % out.length;
      [out[i], out[j]] = [out[j]!, out[i]!];
    } else if (e.kind === 'splice') {
      const t = out[i]!;
      const p = e.pos % (t.length + 1);
      out[i] = t.slice(0, p) + e.w + t.slice(p);
    }
  }
  return out;
}

/** A mutated recorded command line. */
export function commandLine(): fc.Arbitrary<string[]> {
  const { commands, tokens } = seeds();
  return fc.tuple(fc.constantFrom(...commands), edits(tokens)).map(([argv, list]) => applyEdits(argv, list));
}

const DUMP_LINES = ['*filter', '*nat', '*mangle', '*raw', '*security', '*bogus', '*', 'COMMIT', 'COMMIT ', ':X - [0:0]', ':INPUT DROP [1:2]', ':INPUT BOGUS [0:0]', ':OUTPUT ACCEPT [x:y]', ':', ': X', '[1:2] -A INPUT -j ACCEPT', '[1:2', '[:] -A INPUT', '-A INPUT -j X', '-N X', '-X', '-F', '-A X -j X', '-A INPUT -g X', '-A INPUT -m comment --comment "a b', '#', '# comment', '', '\0', '-6 -A INPUT', '-4 -A INPUT -j DROP'];

/** A mutated real dump: whole lines edited, and words inside lines edited. */
export function dumpText(): fc.Arbitrary<string> {
  const { dumps, tokens } = seeds();
  const lineEdit = fc.oneof(
    { weight: 3, arbitrary: fc.record({ line: fc.nat(2000), words: edits(tokens) }) },
    { weight: 2, arbitrary: fc.record({ line: fc.nat(2000), edit: edits(DUMP_LINES) }) },
    { weight: 1, arbitrary: fc.record({ line: fc.nat(2000), garbage: fc.string({ unit: 'binary', maxLength: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ cut: fc.nat(200_000) }) },
  );
  return fc.tuple(fc.constantFrom(...dumps), fc.array(lineEdit, { minLength: 1, maxLength: 4, size: 'xsmall' })).map(([text, list]) => {
    let lines = text.split('\n');
    for (const e of list) {
      if ('cut' in e) {
        const all = lines.join('\n');
        lines = all.slice(0, e.cut % (all.length + 1)).split('\n');
      } else if ('words' in e) {
        const i = e.line % Math.max(lines.length, 1);
        lines[i] = applyEdits((lines[i] ?? '').split(' '), e.words).join(' ');
      } else if ('edit' in e) {
        lines = applyEdits(lines, e.edit);
      } else {
        lines.splice(e.line % (lines.length + 1), 0, e.garbage);
      }
    }
    return lines.join('\n');
  });
}

// ---------------------------------------------------------------------------------------------------------
// Running a case.

/** The state files a case may start from: none, and the real dumps' states. */
export async function baseStates(s: Scratch): Promise<Array<Buffer | undefined>> {
  const out: Array<Buffer | undefined> = [undefined];
  for (const n of ['docker-2net.save-c.txt', 'kube-proxy-20x3.save-c.txt', 'ufw-default.save-c.txt']) {
    rmSync(s.state, { force: true });
    const r = await runRestore('tsiptables-restore', ['-c', join(ROOT, 'fixtures', 'dumps', n)], () => '', s.state);
    if (r.status !== 0) throw new Error(`seed ${n}: ${r.stderr}`);
    out.push(readFileSync(s.state));
  }
  return out;
}

export function setState(path: string, bytes: Buffer | undefined): void {
  if (bytes === undefined) rmSync(path, { force: true });
  else writeFileSync(path, bytes);
}

export function readState(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

export function sameState(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

/** Runs `f` and fails the property with `why` if the result is not what iptables could print. */
export async function bounded<T>(boundMs: number, what: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const r = await f();
  const took = Date.now() - t0;
  if (took > boundMs) throw new Error(`${what}: took ${took} ms (hang bound ${boundMs} ms)`);
  return r;
}

/**
 * After a failed restore the state is the old one, or the old one with the tables COMMITted before the
 * failing line (the nft variant keeps them): the input cut after one of its COMMIT lines restores cleanly to
 * exactly that state.
 */
export async function committedPrefixState(args: readonly string[], text: string, base: Buffer | undefined, after: Buffer | undefined, scratch: string): Promise<boolean> {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i] !== 'COMMIT') continue;
    setState(scratch, base);
    const prefix = lines.slice(0, i + 1).join('\n') + '\n';
    const r = await runRestore('tsiptables-restore', args, () => prefix, scratch);
    if (r.status === 0 && sameState(readState(scratch), after)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// trace: packet lines and host files.

export interface TraceSeed {
  host: string;
  rules: string;
  packets: string[];
}

export function traceSeeds(): TraceSeed[] {
  const dir = join(ROOT, 'fixtures', 'traces', 'scenarios');
  const out: TraceSeed[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { scenarios: Array<{ host?: string; rules?: string; packets: Array<{ packet: string }> }> };
    for (const sc of rec.scenarios) out.push({ host: sc.host ?? '', rules: sc.rules ?? '', packets: sc.packets.map((p) => p.packet) });
  }
  const lab = join(ROOT, 'fixtures', 'examples', 'router-lab');
  out.push({
    host: readFileSync(join(lab, 'host.txt'), 'utf8'),
    rules: readFileSync(join(lab, 'rules.txt'), 'utf8'),
    // And ARP frames (`-p arp`), arriving and sent.
    packets: [
      ...readFileSync(join(lab, 'packets.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')),
      '-p arp -s 10.0.1.2 -d 10.0.1.1 -i eth0',
      '-p arp --arp-op reply -s 10.0.2.1 -d 10.0.2.2',
    ],
  });
  // A host-file bridge (ports p1, p2): bridged frames, frames for the host, ARP on a port.
  out.push({
    host: 'ip link add br0 type bridge\nip link set p1 master br0\nip link set p2 master br0\nip addr add 10.0.0.254/24 dev br0\nsysctl -w net.bridge.bridge-nf-call-iptables=1\n',
    rules: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m physdev --physdev-in p1 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j LOG\nCOMMIT\n',
    packets: ['-p icmp -s 10.0.0.1 -d 10.0.0.2 -i p1', '-p tcp -s 10.0.0.1 -d 10.0.0.254 --dport 22 -i p1', '-p udp -s 10.0.0.2 -d 10.0.0.1 -i p2 -o p1', '-p arp -s 10.0.0.1 -d 10.0.0.2 -i p1 -o p2'],
  });
  return out;
}

/** `arb` in `weight` of (weight + 4) cases, null in the others. */
function sometimes<T>(weight: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 40, arbitrary: fc.constant(null) }, { weight: Math.round(weight * 10), arbitrary: arb });
}

/** A scenario with one packet line and its host file mutated (or neither, now and then). */
export function traceCase(): fc.Arbitrary<{ host: string; rules: string; packet: string[] }> {
  const all = traceSeeds();
  const packetTokens = [...new Set(all.flatMap((t) => t.packets.flatMap((p) => p.split(/\s+/))))];
  const hostTokens = [...new Set(all.flatMap((t) => t.host.split(/\s+/)))].filter((w) => w !== '');
  const hostLines = [...new Set(all.flatMap((t) => t.host.split('\n')))];
  return fc
    .record({
      seed: fc.constantFrom(...all.filter((t) => t.packets.length > 0)),
      which: fc.nat(),
      packetEdits: sometimes(4, edits(packetTokens)),
      hostEdits: sometimes(1, fc.record({ line: fc.nat(50), words: edits(hostTokens) })),
      hostLineEdits: sometimes(1, edits(hostLines)),
      hostGarbage: sometimes(0.3, fc.string({ unit: 'binary', maxLength: 60 })),
    })
    .map(({ seed, which, packetEdits, hostEdits, hostLineEdits, hostGarbage }) => {
      const words = seed.packets[which % seed.packets.length]!.split(/\s+/).filter((w) => w !== '');
      let lines = seed.host.split('\n');
      if (hostLineEdits) lines = applyEdits(lines, hostLineEdits);
      if (hostEdits && lines.length > 0) {
        const i = hostEdits.line % lines.length;
        lines[i] = applyEdits(lines[i]!.split(' '), hostEdits.words).join(' ');
      }
      if (hostGarbage !== null) lines.push(hostGarbage);
      return { host: lines.join('\n'), rules: seed.rules, packet: packetEdits ? applyEdits(words, packetEdits) : words };
    });
}

/**
 * What a refused trace input must look like: `tsiptables trace: ` then a message naming what is wrong, a
 * packet field (`--dport: "x" is not a number ...`, `unknown packet option "--x"`) or a host file line
 * (`host file line 3: ...`), then the Try line. Undefined when it does.
 */
export function traceProblem(r: RunResult, input: string): string | undefined {
  if (![0, 1, 2].includes(r.status)) return `exit status ${r.status}`;
  for (const mark of CRASH_MARKS) if (r.stderr.includes(mark) && !input.includes(mark)) return `stderr has "${mark}"`;
  if (r.status !== 2) return r.stderr === '' ? undefined : `exit ${r.status} with stderr ${JSON.stringify(r.stderr.slice(0, 200))}`;
  const m = /^tsiptables trace: ([\s\S]*)\nTry `tsiptables trace --help' for more information\.\n$/.exec(r.stderr);
  if (!m) return `refusal not framed as trace's: ${JSON.stringify(r.stderr.slice(0, 300))}`;
  const msg = m[1]!.replace(/^[^:]*\/host\.txt: /, '');
  const namesField = /^(host file line \d+: |(-{1,2}[a-z][a-z-]*|-[a-z])[:/ ]|unknown packet option |no PACKET given|--[a-z-]+ and a PACKET)/.test(msg) || /^-[a-z] [A-Z]+ is required|^-[a-z] ADDR is required/.test(msg);
  return namesField ? undefined : `refusal names no field or line: ${JSON.stringify(msg.slice(0, 300))}`;
}

export { runIptables, runRestore, runTrace };
