/**
 * Named counters and quotas (the listing and commands are replayed from fixtures/nft/recorded/nft-objects.json by
 * test/nft-fixtures.test.ts): here, what a traced packet does to them. A rule's `counter name "http"` counts the
 * packet in the table's counter, and `--update-counters` writes it to the state, as `nft list counters` then
 * shows. A `quota name` is answered like a quota statement: under it by default, `--assume quota=no` for over.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNft } from '../src/cli/nft';
import { runTrace } from '../src/cli/trace';

const io = { stdin: (): string => '', isTTY: false, env: {} };
const RULESET = [
  'table ip t {',
  '\tcounter http { }',
  '\tquota q { over 1 mbytes }',
  '\tchain c {',
  '\t\ttype filter hook input priority 0;',
  '\t\ttcp dport 80 counter name http',
  '\t\tquota name q drop',
  '\t}',
  '}',
  '',
].join('\n');
const PACKET = ['-p', 'tcp', '-s', '192.168.1.5', '-d', '192.168.1.10', '--dport', '80', '-i', 'eth0'];

let dir: string;
let state: string;
let saved: string | undefined;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-nft-objects-'));
  state = join(dir, 'rules.v4');
  saved = process.env.TSIPTABLES_STATE;
  process.env.TSIPTABLES_STATE = state;
  writeFileSync(join(dir, 'r.nft'), RULESET);
  expect((await runNft(['-f', join(dir, 'r.nft')], () => '', state)).status).toBe(0);
});
afterEach(() => {
  if (saved === undefined) delete process.env.TSIPTABLES_STATE;
  else process.env.TSIPTABLES_STATE = saved;
  rmSync(dir, { recursive: true, force: true });
});

test('a traced packet counts in the named counter (written back with --update-counters)', async () => {
  for (let i = 0; i < 2; i++) expect((await runTrace(['--update-counters', ...PACKET], io)).status).toBe(0);
  expect((await runNft(['list', 'counters'], () => '', state)).stdout).toBe('table ip t {\n\tcounter http {\n\t\tpackets 2 bytes 80\n\t}\n}\n');
  // Without --update-counters nothing changes.
  await runTrace(PACKET, io);
  expect((await runNft(['list', 'counter', 'ip', 't', 'http'], () => '', state)).stdout).toContain('packets 2 bytes 80');
});

test('a named quota is under by default; over it, its drop rule decides', async () => {
  const under = await runTrace(PACKET, io);
  expect(under.stdout).toMatch(/^\s+c handle 5 skipped: quota name "q" \(quota left\)/m);
  expect(under.status).toBe(0);
  const over = await runTrace(['--assume', 'quota=no', ...PACKET], io);
  expect(over.status).toBe(1);
  expect(over.stdout).toMatch(/dropped: dropped by ip t c rule 2/);
});
