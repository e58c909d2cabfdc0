/**
 * The state file: the ruleset as `iptables-save -c` text (without date lines) under a version comment, so it
 * can be read, diffed and fed to the real iptables-restore. Written atomically (write-file-atomic: temp file +
 * rename), writers serialised on a lock beside it (proper-lockfile).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { Exit, IptablesError } from '../messages';
import { Ruleset } from '../model/ruleset';
import { saveTableBody } from '../format/save';
import { REGISTERED_MARK, restore } from './restore';

export const STATE_HEADER = '# tsiptables state v1: iptables-save -c format, readable by iptables-restore -c\n';

export function statePath(): string {
  const env = process.env.TSIPTABLES_STATE;
  if (env) return env;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'tsiptables', 'rules.v4');
}


export function serialize(rs: Ruleset): string {
  let out = STATE_HEADER;
  for (const t of rs.tables.values()) {
    const body = saveTableBody(t, true, true);
    const reg = [...t.chains.values()].filter((c) => c.hook && c.registered).map((c) => c.name);
    // Just before COMMIT, so that it overrides what the `:CHAIN` lines imply.
    const at = body.length - 'COMMIT\n'.length;
    out += body.slice(0, at) + `${REGISTERED_MARK}${reg.map((n) => ` ${n}`).join('')}\n` + body.slice(at);
  }
  return out;
}

export function loadState(path: string): Ruleset {
  if (!existsSync(path)) return new Ruleset();
  const text = readFileSync(path, 'utf8');
  try {
    return restore(text, new Ruleset(), {
      counters: true,
      noflush: false,
      test: false,
      onlyTable: undefined,
      verbose: false,
      programName: 'tsiptables-restore',
      warn: () => undefined,
      trusted: true,
    }).ruleset;
  } catch (e) {
    const line = (e as { line?: number }).line;
    throw new IptablesError(`state file ${path} is damaged${line ? ` at line ${line}` : ''}: ${(e as Error).message}`, Exit.Other, 'plain');
  }
}

export function writeState(path: string, rs: Ruleset): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic.sync(path, serialize(rs));
}

/**
 * Runs `fn` holding the writers' lock. `wait`: undefined or -1 waits for ever, N gives up after N seconds with
 * iptables-legacy's message and exit 4. A lock left by a killed process is taken over once stale.
 */
export async function withLock<T>(path: string, wait: number | undefined, fn: () => T): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const forever = wait === undefined || wait < 0;
  const started = Date.now();
  let release: (() => Promise<void>) | undefined;
  for (;;) {
    try {
      release = await lockfile.lock(path, { realpath: false, stale: 10000, update: 2000, lockfilePath: `${path}.lock` });
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ELOCKED') throw e;
      if (!forever && Date.now() - started >= wait * 1000) {
        throw new IptablesError(`Another app is currently holding the xtables lock. Stopped waiting after ${wait}s.`, Exit.Resource, 'plain');
      }
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
  try {
    return fn();
  } finally {
    await release().catch(() => undefined);
  }
}
