/**
 * The nftables side's text (Ruleset.nft, owned by src/nft) rides along in the state file: every iptables
 * command, restore and save keeps it as it was, and iptables-restore -c of the file ignores it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIptables, runRestore, runSave } from '../src/cli/main';
import { loadState, parseStateText, STATE_HEADER, writeState } from '../src/io/state';
import { Ruleset } from '../src/model/ruleset';

const NFT = 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 22 accept\n\t}\n}\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-state-nft-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('iptables commands, restore and save keep the nft text; the file stays iptables-restore input', async () => {
  const path = join(dir, 'rules.v4');
  const rs = new Ruleset();
  rs.nft = NFT;
  writeState(path, rs);
  expect(loadState(path).nft).toBe(NFT);
  expect((await runIptables('tsiptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '80', '-j', 'ACCEPT'], path)).status).toBe(0);
  expect((await runIptables('tsiptables', ['-t', 'nat', '-A', 'POSTROUTING', '-j', 'MASQUERADE'], path)).status).toBe(0);
  expect(loadState(path).nft).toBe(NFT);
  expect((await runRestore('tsiptables-restore', ['--noflush'], () => '*filter\n-A INPUT -j DROP\nCOMMIT\n', path)).status).toBe(0);
  expect((await runRestore('tsiptables-restore', [], () => '*mangle\nCOMMIT\n', path)).status).toBe(0);
  expect(loadState(path).nft).toBe(NFT);
  expect(loadState(path, new Set(['nat'])).nft).toBe(NFT);
  // What iptables-save prints does not show it; a full parse of the file (iptables-restore) skips it.
  expect(runSave('tsiptables-save', [], new Date(0), path).stdout).not.toContain('nft');
  const text = readFileSync(path, 'utf8');
  expect(parseStateText(text.slice(STATE_HEADER.length)).tables.get('filter')!.chains.get('INPUT')!.rules.map((r) => r.line)).toEqual([
    ' -p tcp -m tcp --dport 80 -j ACCEPT',
    ' -j DROP',
  ]);
  // Without the header (the iptables-restore path of a hand-made file) it is still found.
  const other = join(dir, 'other.v4');
  writeFileSync(other, text.slice(STATE_HEADER.length));
  expect(loadState(other).nft).toBe(NFT);
  expect(loadState(other).tables.get('filter')!.chains.get('INPUT')!.rules).toHaveLength(2);
});

test('no nft text: nothing is written for it', () => {
  const path = join(dir, 'rules.v4');
  writeState(path, new Ruleset());
  expect(readFileSync(path, 'utf8')).toBe(STATE_HEADER);
  expect(loadState(path).nft).toBeUndefined();
});
