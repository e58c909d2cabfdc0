/**
 * `tsiptables lab SCRIPT|-`: runs a how-to's namespace lab script against simulated hosts (src/lab) and prints
 * what the real run prints, stdout and stderr merged in order. Exit status: the script's (its last command's),
 * 2 when the file cannot be read.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { runLab } from '../lab/run';
import type { RunResult } from './main';

const USAGE = `Usage: tsiptables lab SCRIPT|-

Runs a network-namespace lab script (ip netns/link/addr/route, sysctl, ip netns exec NS iptables ...,
ping, nc, curl, tcpdump, dmesg, conntrack -L) against simulated hosts, without root, and prints what the
real run would print. Commands it does not simulate are reported with their line number; the rest runs.
`;

export async function runLabCommand(argv: readonly string[], stdin: () => string): Promise<RunResult> {
  const file = argv[0];
  if (file === undefined || file === '-h' || file === '--help') return { stdout: file === undefined ? '' : USAGE, stderr: file === undefined ? USAGE : '', status: file === undefined ? 2 : 0 };
  if (argv.length > 1) return { stdout: '', stderr: `tsiptables lab: one script, got ${argv.length} arguments\n${USAGE}`, status: 2 };
  let text: string;
  try {
    text = file === '-' ? stdin() : readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { stdout: '', stderr: `tsiptables lab: ${file}: ${code === 'ENOENT' ? 'No such file or directory' : code === 'EISDIR' ? 'Is a directory' : code === 'EACCES' ? 'Permission denied' : String(code)}\n`, status: 2 };
  }
  const r = await runLab(text, { scriptName: file === '-' ? 'bash' : basename(file) });
  return { stdout: r.transcript, stderr: '', status: r.status };
}
