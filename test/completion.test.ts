/**
 * Shell completion (`tsiptables completion bash|zsh`): the candidates for the word being completed, and the bash
 * script driving the built CLI against a real state file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { complete } from '../src/cli/completion';

const chains = (t: string): string[] => (t === 'nat' ? ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'KUBE-SERVICES'] : ['INPUT', 'FORWARD', 'OUTPUT', 'DOCKER']);

test('tables, chains of the table in use, extensions and their options', () => {
  expect(complete(['-t', ''], chains)).toEqual(['filter', 'mangle', 'nat', 'raw', 'security']);
  expect(complete(['-A', 'D'], chains)).toEqual(['DOCKER']);
  expect(complete(['-t', 'nat', '-I', 'K'], chains)).toEqual(['KUBE-SERVICES']);
  expect(complete(['-A', 'INPUT', '-m', 'conn'], chains)).toEqual(['connbytes', 'connlabel', 'connlimit', 'connmark', 'conntrack']);
  expect(complete(['-A', 'INPUT', '-p', 'tcp', '-m', 'multiport', '--dp'], chains)).toEqual(['--dport', '--dports']);
  expect(complete(['-A', 'INPUT', '-m', 'conntrack', '--ctst'], chains)).toEqual(['--ctstate', '--ctstatus']);
  // After -j: targets and user chains, not built-in chains.
  const j = complete(['-A', 'INPUT', '-j', ''], chains);
  expect(j).toEqual(expect.arrayContaining(['ACCEPT', 'MASQUERADE', 'DOCKER']));
  expect(j).not.toContain('INPUT');
  expect(complete(['-P', 'INPUT', ''], chains)).toEqual(['ACCEPT', 'DROP']);
});

test('subcommands and their options', () => {
  expect(complete(['l'], chains)).toEqual(['lab']);
  expect(complete(['t'], chains)).toEqual(['trace', 'translate']);
  expect(complete(['re'], chains)).toEqual(['restore-translate']);
  expect(complete(['trace', '--la'], chains)).toEqual(['--lab']);
  expect(complete(['trace', '--lab', 'x.sh', '--fr'], chains)).toEqual(['--from']);
  expect(complete(['graph', '--format', ''], chains)).toEqual(['dot', 'html']);
  expect(complete(['completion', ''], chains)).toEqual(['bash', 'zsh']);
  expect(complete(['lab', 'fix'], chains)).toEqual([]);
  // The iptables command line is untouched: `-` still offers the short options.
  expect(complete(['-'], chains)).toContain('-A');
});

test('the bash script completes chains from the state file through the built CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-compl-'));
  try {
    const env = { ...process.env, TSIPTABLES_STATE: join(dir, 'rules.v4'), PATH: `${join(process.cwd(), 'bin')}:${process.env['PATH'] ?? ''}` };
    execFileSync(join(process.cwd(), 'bin', 'tsiptables'), ['-N', 'MYCHAIN'], { env });
    const out = execFileSync('bash', ['-c', 'eval "$(tsiptables completion bash)"; COMP_WORDS=(tsiptables -A MY); COMP_CWORD=2; _tsiptables; echo "${COMPREPLY[*]}"'], { env, encoding: 'utf8' });
    expect(out.trim()).toBe('MYCHAIN');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
