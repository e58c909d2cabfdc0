/** The hostile-input properties (see lib/fuzz.ts), sized by the caller. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  baseStates,
  bounded,
  commandLine,
  committedPrefixState,
  dumpText,
  flushCollected,
  problemWith,
  readState,
  runIptables,
  runRestore,
  runTrace,
  sameState,
  traceCase,
  traceProblem,
  newlineInWords,
  setState,
  type FuzzSizes,
} from './fuzz';
import { BIN, killAll, requireDist, run, Scratch, seedFromEnv } from './harness';

export function fuzzSuite(size: FuzzSizes): void {
  let s: Scratch;
  let bases: Array<Buffer | undefined>;
  // A failure prints this seed with fast-check's path; TSI_SEED=<seed> runs the same cases again.
  const seed = seedFromEnv();
  beforeAll(async () => {
    s = new Scratch('tsi-fuzz-');
    bases = await baseStates(s);
  });
  afterAll(() => {
    flushCollected();
    s.cleanup();
  });

  test(`${size.commandRuns} mutated command lines: iptables' messages and exit codes, the state unchanged on failure`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(3), commandLine(), async (b, argv) => {
        const base = bases[b % bases.length];
        setState(s.state, base);
        const r = await bounded(size.caseBoundMs, 'tsiptables', () => runIptables('tsiptables', argv, s.state));
        const why = problemWith(r, argv.join(' '), newlineInWords(argv), [0, 1, 2, 3, 4]);
        if (why) throw new Error(`${why}\n${r.stderr}`);
        if (r.status !== 0 && !sameState(readState(s.state), base)) throw new Error(`exit ${r.status} but the state changed`);
      }),
      { numRuns: size.commandRuns, seed },
    );
  }, 900_000);

  test(`${size.dumpRuns} mutated real dumps through restore: iptables-restore's messages, the old state or the committed tables`, async () => {
    const scratch = s.file('prefix.v4');
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.constantFrom<string[]>([], ['-n'], ['-c'], ['-T', 'nat'], ['--test'], ['-c', '-n']), dumpText(), async (b, args, text) => {
        const base = bases[b % bases.length];
        setState(s.state, base);
        const r = await bounded(size.caseBoundMs, 'tsiptables-restore', () => runRestore('tsiptables-restore', args, () => text, s.state));
        const why = problemWith(r, text, newlineInWords([], text), [0, 1, 2, 3, 4]);
        if (why) throw new Error(`${why}\n${r.stderr}`);
        const after = readState(s.state);
        if (r.status !== 0 && !sameState(after, base) && !(await committedPrefixState(args, text, base, after, scratch))) {
          throw new Error(`exit ${r.status}: the state is neither the old one nor the tables committed before the failure`);
        }
        if (args.includes('--test') && !sameState(after, base)) throw new Error('--test changed the state');
      }),
      { numRuns: size.dumpRuns, seed },
    );
  }, 900_000);

  test(`${size.byteRuns} random byte strings as dumps (invalid UTF-8, NUL bytes) and as command lines`, async () => {
    const file = s.file('bytes.rules');
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      // Inside a table, so the bytes reach the rule parser.
      fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.concat([Buffer.from('*filter\n-A INPUT '), u, Buffer.from('\nCOMMIT\n')])),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(3), bytes, fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 12 }), async (b, dump, words) => {
        const base = bases[b % bases.length];
        setState(s.state, base);
        writeFileSync(file, dump);
        const input = Buffer.from(dump).toString('utf8');
        const r = await bounded(size.caseBoundMs, 'tsiptables-restore FILE', () => runRestore('tsiptables-restore', [file], () => '', s.state));
        const why = problemWith(r, input, newlineInWords([], input), [0, 1, 2, 3, 4]);
        if (why) throw new Error(`restore: ${why}\n${r.stderr}`);
        setState(s.state, base);
        // argv as the kernel hands it over: bytes up to the first NUL, decoded as UTF-8 by Node.
        const argv = words.map((w) => Buffer.from(w.subarray(0, w.indexOf(0) < 0 ? w.length : w.indexOf(0))).toString('utf8'));
        const c = await bounded(size.caseBoundMs, 'tsiptables', () => runIptables('tsiptables', argv, s.state));
        const why2 = problemWith(c, argv.join(' '), newlineInWords(argv), [0, 1, 2, 3, 4]);
        if (why2) throw new Error(`tsiptables: ${why2}\n${c.stderr}`);
        if (c.status !== 0 && !sameState(readState(s.state), base)) throw new Error(`exit ${c.status} but the state changed`);
      }),
      { numRuns: size.byteRuns, seed },
    );
  }, 900_000);

  test(`${size.traceRuns} mutated packet lines and host files: trace refuses them naming the field or the line`, async () => {
    const hostFile = s.file('host.txt');
    const rulesFile = s.file('trace.rules');
    const io = { stdin: () => '', isTTY: false, env: {} };
    await fc.assert(
      fc.asyncProperty(traceCase(), fc.constantFrom<string[]>([], ['--json'], ['--dmesg'], ['--monitor']), async (c, view) => {
        writeFileSync(hostFile, c.host);
        writeFileSync(rulesFile, c.rules);
        const argv = ['--rules', rulesFile, '--host', hostFile, '--now', '2026-01-01T00:00:00Z', ...view, ...c.packet];
        const r = await bounded(size.caseBoundMs, 'trace', () => runTrace(argv, io));
        const why = traceProblem(r, `${c.host}\n${c.packet.join(' ')}`);
        if (why) throw new Error(why);
      }),
      { numRuns: size.traceRuns, seed },
    );
  }, 900_000);

  describe('pathological inputs, in-process', () => {
    const one = async (what: string, bound: number, f: () => Promise<{ stdout: string; stderr: string; status: number }>): Promise<{ stdout: string; stderr: string; status: number }> => {
      const r = await bounded(bound, what, f);
      const why = problemWith(r, '', false, [0, 1, 2, 3, 4]);
      if (why) throw new Error(`${what}: ${why}\n${r.stderr.slice(0, 500)}`);
      return r;
    };

    test('a 1 MB comment, a 1 MB line, 100,000 words, NUL bytes and invalid UTF-8: refused with iptables\' messages', async () => {
      setState(s.state, bases[1]);
      const before = readState(s.state);
      const longLine = Array.from({ length: 60_000 }, (_, i) => `-s 10.0.${(i >> 8) & 255}.${i & 255}`).join(' ');
      const line = await one('1 MB rule line', 10_000, () => runRestore('tsiptables-restore', [], () => `*filter\n-A INPUT ${longLine}\nCOMMIT\n`, s.state));
      expect(line.status).toBe(2);
      const words = Array.from({ length: 100_000 }, (_, i) => (i % 2 ? '-s' : '1.2.3.4'));
      const many = await one('100,000 words', 10_000, () => runIptables('tsiptables', ['-A', 'INPUT', ...words], s.state));
      expect(many.status).toBe(2);
      const nul = await one('NUL bytes', 5000, () => runRestore('tsiptables-restore', [], () => '*filter\n-A INPUT -j ACC\0EPT\n-A INP\0UT -j DROP\nCOMMIT\n', s.state));
      expect(nul.status).not.toBe(0);
      expect((await one('NUL in a word', 5000, () => runIptables('tsiptables', ['-A', 'INPUT', '-s', '1.2.3.4\0', '-j', 'ACCEPT'], s.state))).status).toBe(2);
      const invalid = s.file('invalid.rules');
      writeFileSync(invalid, Buffer.concat([Buffer.from('*filter\n-A INPUT -m comment --comment "'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('" -j ACCEPT\n-A INPUT -j \xc3\n'), Buffer.from([0xc3]), Buffer.from('\nCOMMIT\n')]));
      expect((await one('invalid UTF-8', 5000, () => runRestore('tsiptables-restore', [invalid], () => '', s.state))).status).toBe(2);
      expect(readState(s.state)).toEqual(before);
      // A 1 MB comment on the command line is cut to 255 characters, as xtopt_parse_string() does; in a restore
      // the word does not fit restore's 1,024-byte word buffer (both checked against iptables 1.8.9; the
      // restore side is recorded in cli-restore at 12,000 characters).
      const mb = 'x'.repeat(1 << 20);
      const cut = `-A INPUT -m comment --comment ${'x'.repeat(255)} -j ACCEPT`;
      expect((await one('1 MB comment (argv)', 10_000, () => runIptables('tsiptables', ['-A', 'INPUT', '-m', 'comment', '--comment', mb, '-j', 'ACCEPT'], s.state))).status).toBe(0);
      expect(await one('1 MB comment (restore)', 10_000, () => runRestore('tsiptables-restore', ['-n'], () => `*filter\n-A INPUT -m comment --comment "${mb}" -j ACCEPT\nCOMMIT\n`, s.state))).toEqual({
        stdout: '',
        stderr: "tsiptables-restore v1.8.9 (nf_tables): Parameter too long!\nError occurred at line: 2\nTry `tsiptables-restore -h' or 'tsiptables-restore --help' for more information.\n",
        status: 2,
      });
      expect((await runIptables('tsiptables', ['-S', 'INPUT'], s.state)).stdout.split('\n').filter((l) => l.includes('--comment x'))).toEqual([cut]);
    }, 120_000);

    test('deep jump chains and 100,000 user chains: every command answers in bounded time', async () => {
      setState(s.state, undefined);
      const chains = ['*filter', ...Array.from({ length: 100_000 }, (_, i) => `:U${i} - [0:0]`), '-A INPUT -j U99999', '-A U99999 -j U0', 'COMMIT', ''].join('\n');
      expect((await one('restore 100,000 chains', 30_000, () => runRestore('tsiptables-restore', [], () => chains, s.state))).status).toBe(0);
      for (const argv of [['-N', 'ONE-MORE'], ['-E', 'U5', 'RENAMED'], ['-A', 'U0', '-j', 'U1'], ['-X', 'U7'], ['-S', 'U99999'], ['-L', 'INPUT', '-n'], ['-F'], ['-X']]) {
        const r = await one(`tsiptables ${argv.join(' ')} on 100,000 chains`, 30_000, () => runIptables('tsiptables', argv, s.state));
        expect({ argv, status: r.status, stderr: r.stderr }).toEqual({ argv, status: 0, stderr: '' });
      }
      expect((await runIptables('tsiptables', ['-S'], s.state)).stdout).toBe('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n');
      const deep = ['*filter', ...Array.from({ length: 10_000 }, (_, i) => `:C${i} - [0:0]`), ...Array.from({ length: 9999 }, (_, i) => `-A C${i} -j C${i + 1}`), '-A INPUT -j C0', 'COMMIT', ''].join('\n');
      // Reached from INPUT, the kernel refuses it from the 16th jump on (cli-kernel-limits fixtures).
      const r = await one('restore a 10,000-deep jump chain', 30_000, () => runRestore('tsiptables-restore', [], () => deep, s.state));
      expect(r.status).toBe(4);
      expect(r.stderr).toBe('tsiptables-restore v1.8.9 (nf_tables): \nline 20001: RULE_APPEND failed (Too many links): rule in chain INPUT\n');
      const unreached = await one('restore it unreached', 30_000, () => runRestore('tsiptables-restore', [], () => deep.replace('-A INPUT -j C0\n', ''), s.state));
      expect(unreached.status).toBe(0);
      for (const [argv, status] of [
        [['-A', 'INPUT', '-j', 'C0'], 4],
        [['-A', 'OUTPUT', '-j', 'C9990'], 0],
        [['-A', 'OUTPUT', '-j', 'C9980'], 4],
        // A loop reached from OUTPUT (through C9990); once that jump is gone, an unreached loop is allowed.
        [['-A', 'C9999', '-j', 'C0'], 4],
        [['-D', 'OUTPUT', '1'], 0],
        [['-A', 'C9999', '-j', 'C0'], 0],
        [['-I', 'C0', '-j', 'C9999'], 0],
        [['-L', '-n'], 0],
        [['-X', 'C9999'], 4],
        [['-F', 'C5000'], 0],
      ] as const) {
        const o = await one(`tsiptables ${argv.join(' ')} on a 10,000-deep chain`, 30_000, () => runIptables('tsiptables', argv, s.state));
        expect({ argv, status: o.status }).toEqual({ argv, status });
      }
    }, 300_000);
  });

  describe('pathological inputs through the real CLI: no hang, no stack trace', () => {
    beforeAll(requireDist);
    afterAll(killAll);
    const BOUND = 60_000;
    const clean = (o: { code: number | null; signal: string | null; stderr: string }): void => {
      expect(o.signal).toBeNull();
      expect(o.stderr).not.toMatch(/internal error|\n\s+at |Error:/);
    };

    test('random bytes and a 1 MB comment on stdin, invalid UTF-8 on the command line', async () => {
      const env = { ...process.env, TSIPTABLES_STATE: s.state };
      setState(s.state, bases[2]);
      const before = readState(s.state);
      const noise = Buffer.alloc(1 << 20);
      for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
      const a = await run('tsiptables-restore', [], { env, input: noise, timeoutMs: BOUND });
      clean(a);
      expect(a.code).not.toBe(0);
      const b = await run('tsiptables-restore', ['--test'], { env, input: `*filter\n-A INPUT -m comment --comment "${'y'.repeat(1 << 20)}" -j ACCEPT\nCOMMIT\n`, timeoutMs: BOUND });
      clean(b);
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(/^tsiptables-restore v1\.8\.9 \(nf_tables\): Parameter too long!\n/);
      // Bytes that are not UTF-8 reach argv through the shell (Node would not pass them).
      const c = spawnSync('/bin/sh', ['-c', 'exec "$TSI_BIN" -A "$(printf "IN\\377PUT")" -s "$(printf "1.2.3.\\303")" -j "$(printf "\\355\\240\\200")"'], {
        env: { ...env, TSI_BIN: join(BIN, 'tsiptables') },
        encoding: 'utf8',
        timeout: BOUND,
      });
      clean({ code: c.status, signal: c.signal, stderr: c.stderr });
      expect(c.status).toBe(2);
      expect(c.stderr).toMatch(/^tsiptables v1\.8\.9 \(nf_tables\): host\/network `1\.2\.3\.\uFFFD' not found\nTry /);
      expect(readFileSync(s.state)).toEqual(before);
    }, 300_000);
  });
}
