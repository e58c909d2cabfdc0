/** `tsiptables nft` beside the iptables side: one state file, each side keeping the other's part; completion. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { complete } from '../src/cli/completion';
import { runIptables, runSave } from '../src/cli/main';
import { runNft } from '../src/cli/nft';

let dir: string;
let state: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-nft-cli-'));
  state = join(dir, 'rules.v4');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const RULESET = 'table inet fw {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n';

test('the nft ruleset and the iptables tables share the state file', async () => {
  expect((await runNft(['-f', '-'], () => RULESET, state)).status).toBe(0);
  expect((await runIptables('tsiptables', ['-A', 'INPUT', '-j', 'ACCEPT'], state)).status).toBe(0);
  // nft lists the iptables-nft table too, after the older nft table (recorded with nft 1.0.6 and iptables 1.8.9).
  expect((await runNft(['list', 'ruleset'], () => '', state)).stdout).toBe(
    `${RULESET}table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tcounter packets 0 bytes 0 accept\n\t}\n}\n`,
  );
  expect((await runNft(['add', 'rule', 'inet', 'fw', 'input', 'udp', 'dport', '53', 'accept'], () => '', state)).status).toBe(0);
  expect(runSave('tsiptables-save', [], new Date(), state).stdout).toContain('-A INPUT -j ACCEPT');
  expect(readFileSync(state, 'utf8')).toContain('#|\t\tudp dport 53 accept');
  // `flush ruleset` deletes every table, the iptables-nft ones too (recorded: iptables-save prints nothing after it).
  expect((await runNft(['flush', 'ruleset'], () => '', state)).status).toBe(0);
  expect((await runNft(['list', 'ruleset'], () => '', state)).stdout).toBe('');
  expect(runSave('tsiptables-save', [], new Date(), state).stdout).toBe('');
});

test('a failing batch leaves the state as it was', async () => {
  await runNft(['-f', '-'], () => RULESET, state);
  const before = readFileSync(state, 'utf8');
  const r = await runNft(['-f', '-'], () => 'flush ruleset\ntable ip t {\n\tchain c {\n\t\tiif nope accept\n\t}\n}\n', state);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe('/dev/stdin:4:7-10: Error: Interface does not exist\n\t\tiif nope accept\n\t\t    ^^^^\n');
  expect(readFileSync(state, 'utf8')).toBe(before);
});

test('--host gives iif/oif the host file\'s interfaces, and the stored ruleset reads back without it', async () => {
  const host = join(dir, 'host.txt');
  writeFileSync(host, 'ip addr add 10.0.0.1/24 dev eth0\n');
  const file = 'table ip t {\n\tchain c {\n\t\tiif eth0 accept\n\t}\n}\n';
  expect((await runNft(['-f', '-'], () => file, state)).stderr).toBe('/dev/stdin:3:7-10: Error: Interface does not exist\n\t\tiif eth0 accept\n\t\t    ^^^^\n');
  expect((await runNft(['--host', host, '-f', '-'], () => file, state)).status).toBe(0);
  expect((await runNft(['list', 'ruleset'], () => '', state)).stdout).toBe('table ip t {\n\tchain c {\n\t\tiif "eth0" accept\n\t}\n}\n');
});

test('include reads absolute paths and globs into the same batch', async () => {
  writeFileSync(join(dir, 'a.nft'), 'table ip a {\n}\n');
  writeFileSync(join(dir, 'b.nft'), 'table ip b {\n}\n');
  const r = await runNft(['-f', '-'], () => `include "${dir}/*.nft"\ntable ip c {\n}\n`, state);
  expect(r.status).toBe(0);
  const listed = (await runNft(['list', 'tables'], () => '', state)).stdout;
  expect(listed).toBe('table ip a\ntable ip b\ntable ip c\n');
  const missing = await runNft(['-f', '-'], () => `include "${dir}/none.nft"\n`, state);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain(`Error: File not found: ${dir}/none.nft`);
});

test('completion knows the nft subcommand', () => {
  const none = (): string[] => [];
  expect(complete(['n'], none)).toEqual(['nft']);
  expect(complete(['nft', 'l'], none)).toEqual(['list']);
  expect(complete(['nft', 'list', 'r'], none)).toEqual(['ruleset']);
  expect(complete(['nft', 'add', 'rule', 'in'], none)).toEqual(['inet']);
});
