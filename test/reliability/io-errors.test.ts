/**
 * A state directory the CLI may not write (item 5 of issue 7): one clear line, exit 4, the old state intact,
 * readers unaffected. Run as real processes. As root (which chmod does not stop) the CLI runs as nobody
 * (uid 65534); the disk-full and read-only-mount cases need mounts and are in the live suite
 * (test/live/reliability-full.test.ts).
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, leftovers, requireDist, run, Scratch, type Program } from './lib/harness';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
let s: Scratch;
beforeAll(requireDist);
beforeEach(() => {
  s = new Scratch('tsi-ioerr-');
  chmodSync(s.dir, 0o755);
});
afterEach(() => s.cleanup());
afterAll(killAll);

/** Runs the CLI as someone the directory's permissions apply to: nobody when we are root, else ourselves. */
function runLimited(program: Program, args: string[], input?: string): ReturnType<typeof run> {
  return run(program, args, { env: s.env, input, timeoutMs: 60_000, ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}) });
}

async function seed(): Promise<Buffer> {
  const o = await run('tsiptables-restore', [], { env: s.env, input: '*filter\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\nCOMMIT\n' });
  expect(o.code).toBe(0);
  chmodSync(s.state, 0o644);
  return readFileSync(s.state);
}

const LISTED = '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\n';

test('an unwritable state directory: the lock file cannot be made, exit 4, the state intact, readers unaffected', async () => {
  const before = await seed();
  chmodSync(s.dir, 0o555);
  const expected = { code: 4, stdout: '', stderr: `Fatal: can't open lock file ${s.state}.lock: Permission denied\n` };
  for (const args of [['-A', 'INPUT', '-j', 'DROP'], ['-w', '1', '-D', 'INPUT', '1'], ['-N', 'NEW'], ['-X']]) {
    const o = await runLimited('tsiptables', args);
    expect({ args, code: o.code, stdout: o.stdout, stderr: o.stderr }).toEqual({ args, ...expected });
  }
  const r = await runLimited('tsiptables-restore', [], '*filter\n-A INPUT -j DROP\nCOMMIT\n');
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 4, stderr: expected.stderr });
  // `trace --update-counters` writes the state too: the same line and exit status.
  const t = await runLimited('tsiptables', ['trace', '--update-counters', '-p', 'icmp', '-s', '10.0.0.1', '-d', '192.168.1.10', '-i', 'eth0']);
  expect({ code: t.code, stderr: t.stderr }).toEqual({ code: 4, stderr: expected.stderr });
  expect(readFileSync(s.state)).toEqual(before);
  const listed = await runLimited('tsiptables', ['-S']);
  expect({ code: listed.code, stdout: listed.stdout, stderr: listed.stderr }).toEqual({ code: 0, stdout: LISTED, stderr: '' });
  expect((await runLimited('tsiptables-save', [])).code).toBe(0);
  expect(leftovers(s.state)).toEqual([]);
}, 60_000);

const rootOnly = isRoot ? test : test.skip;
rootOnly('a state file another user owns in a sticky directory: the write fails at the rename, exit 4, no temporary file left (root: runs the CLI as nobody)', async () => {
  // The lock and the temporary file can be made (the directory is world-writable), but a sticky directory
  // lets nobody replace root's file: rename(2) fails with EPERM after the new state was written.
  const before = await seed();
  chmodSync(s.dir, 0o1777);
  const o = await runLimited('tsiptables', ['-A', 'INPUT', '-j', 'DROP']);
  expect({ code: o.code, stdout: o.stdout, stderr: o.stderr }).toEqual({ code: 4, stdout: '', stderr: `Fatal: can't write state file ${s.state}: Operation not permitted\n` });
  const r = await runLimited('tsiptables-restore', [], '*filter\n-A INPUT -j DROP\nCOMMIT\n');
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 4, stderr: `Fatal: can't write state file ${s.state}: Operation not permitted\n` });
  expect(readFileSync(s.state)).toEqual(before);
  // The lock was released and the temporary file removed.
  expect(leftovers(s.state)).toEqual([]);
  // Given the file, nobody can write it.
  chownSync(s.state, NOBODY, NOBODY);
  const ok = await runLimited('tsiptables', ['-A', 'INPUT', '-j', 'DROP']);
  expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
  expect(readFileSync(s.state, 'utf8')).toContain('-A INPUT -j DROP');
}, 60_000);

test('a state path that is a directory, and a lock path taken by a file: one line each, exit 4', async () => {
  mkdirSync(s.state);
  for (const args of [['-S'], ['-A', 'INPUT', '-j', 'DROP']]) {
    const o = await run('tsiptables', args, { env: s.env });
    expect({ args, code: o.code, stderr: o.stderr }).toEqual({ args, code: 4, stderr: `Fatal: can't read state file ${s.state}: Is a directory\n` });
  }
  const other = join(s.dir, 'other.v4');
  writeFileSync(`${other}.lock`, 'not a lock\n');
  const o = await run('tsiptables', ['-A', 'INPUT', '-j', 'DROP'], { env: { ...s.env, TSIPTABLES_STATE: other } });
  expect({ code: o.code, stderr: o.stderr }).toEqual({ code: 4, stderr: `Fatal: can't open lock file ${other}.lock: Not a directory\n` });
}, 60_000);
