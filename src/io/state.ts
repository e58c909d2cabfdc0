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
import { chainsInSaveOrder, Ruleset } from '../model/ruleset';
import { isTableName, type TableName } from '../model/tables';
import { LazyRule } from './lazy-rule';
import { chainHeader } from '../format/save';
import { REGISTERED_MARK, restore } from './restore';

export const STATE_HEADER = '# tsiptables state v1: iptables-save -c format, readable by iptables-restore -c\n';

export function statePath(): string {
  const env = process.env.TSIPTABLES_STATE;
  if (env) return env;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'tsiptables', 'rules.v4');
}


/** Comment line before a rule whose state line is a state spelling (Rule.stateText), not its save line. */
export const STATE_SPELLING_MARK = '# tsiptables: state-spelling';

export function serialize(rs: Ruleset): string {
  const parts: string[] = [STATE_HEADER];
  for (const [name, text] of rs.untouched) if (!rs.tables.has(name)) parts.push(text);
  for (const t of rs.tables.values()) {
    const chains = chainsInSaveOrder(t);
    parts.push(`*${t.name}\n`);
    for (const c of chains) parts.push(chainHeader(c));
    for (const c of chains) {
      for (const r of c.rules) {
        const st = r.stateText;
        if (st !== undefined) parts.push(`${STATE_SPELLING_MARK}\n`);
        parts.push(`[${r.counters.packets}:${r.counters.bytes}] -A ${c.name}${st ?? r.line}\n`);
      }
    }
    // Just before COMMIT, so that it overrides what the `:CHAIN` lines imply.
    const reg = [...t.chains.values()].filter((c) => c.hook && c.registered).map((c) => ` ${c.name}`);
    parts.push(`${REGISTERED_MARK}${reg.join('')}\n`, 'COMMIT\n');
  }
  return parts.join('');
}

const RULE_LINE = /^\[(\d+):(\d+)\] -A (\S+)(.*)$/;
const CHAIN_LINE = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/;

/**
 * Reads a state file this program wrote, without parsing rules: they stay lazy (io/lazy-rule.ts) until a
 * command needs their parts. Returns undefined for any line it does not expect (a hand-made file), which then
 * goes through the full iptables-restore path.
 */
function loadOwnState(text: string, want: ReadonlySet<TableName> | undefined): Ruleset | undefined {
  if (!text.startsWith(STATE_HEADER)) return undefined;
  const rs = new Ruleset();
  // Sections from `*table` to `COMMIT`, found without splitting the whole file into lines.
  let pos = STATE_HEADER.length;
  while (pos < text.length) {
    const star = text.startsWith('*', pos) ? pos : text.indexOf('\n*', pos - 1) + 1;
    if (star <= 0) break;
    const commit = text.indexOf('\nCOMMIT\n', star);
    if (commit < 0) return undefined;
    const endOfSection = commit + '\nCOMMIT\n'.length;
    const nl = text.indexOf('\n', star);
    const name = text.slice(star + 1, nl);
    if (!isTableName(name)) return undefined;
    if (want && !want.has(name)) {
      // A table this command does not need: its text is kept and written back as it is.
      rs.untouched.set(name, text.slice(star, endOfSection));
    } else if (!loadTableSection(rs, name, text.slice(nl + 1, commit + 1))) return undefined;
    pos = endOfSection;
  }
  return rs;
}

/** The lines between `*table` and `COMMIT` of our own state file; false for anything unexpected. */
function loadTableSection(rs: Ruleset, name: TableName, body: string): boolean {
  const table = rs.ensureTable(name);
  let spelling = false;
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const c0 = line[0];
    if (c0 === '[') {
      const m = RULE_LINE.exec(line);
      const chain = m ? table.chains.get(m[3]!) : undefined;
      if (!m || !chain) return false;
      // `0n` is a constant; BigInt() of "0" would allocate for the common case of zero counters.
      const packets = m[1] === '0' ? 0n : BigInt(m[1]!);
      const bytes = m[2] === '0' ? 0n : BigInt(m[2]!);
      chain.rules.push(new LazyRule(table.name, chain.name, m[4]!, { packets, bytes }, spelling));
      spelling = false;
    } else if (c0 === ':') {
      const m = CHAIN_LINE.exec(line);
      if (!m) return false;
      const counters = { packets: BigInt(m[3]!), bytes: BigInt(m[4]!) };
      const existing = table.chains.get(m[1]!);
      if (existing?.hook) {
        if (m[2] !== 'ACCEPT' && m[2] !== 'DROP') return false;
        existing.policy = m[2];
        existing.counters = counters;
      } else if (!existing && m[2] === '-') {
        table.chains.set(m[1]!, { name: m[1]!, hook: undefined, registered: true, policy: undefined, counters, rules: [] });
      } else return false;
    } else if (line === STATE_SPELLING_MARK) {
      spelling = true;
    } else if (line.startsWith(REGISTERED_MARK)) {
      const names = new Set(line.slice(REGISTERED_MARK.length).split(' '));
      for (const c of table.chains.values()) if (c.hook) c.registered = names.has(c.name);
    } else if (!line.startsWith('#')) return false;
  }
  return true;
}

/**
 * An iptables-save -c text read through the full iptables-restore path, every rule parsed. `trusted`: our own
 * state file, whose lossless spellings (Rule.stateText) are accepted; a user's dump (`trace --rules`) is not.
 */
export function parseDump(text: string, trusted = false): Ruleset {
  return restore(text, new Ruleset(), {
    counters: true,
    noflush: false,
    test: false,
    onlyTable: undefined,
    verbose: false,
    programName: 'tsiptables-restore',
    warn: () => undefined,
    trusted,
  }).ruleset;
}

/** A state file's text, every rule parsed. */
export function parseStateText(text: string): Ruleset {
  return parseDump(text, true);
}

/** Loads the state; `want`, when given, names the only tables the caller will look at or change. */
export function loadState(path: string, want?: ReadonlySet<TableName>): Ruleset {
  if (!existsSync(path)) return new Ruleset();
  const text = readFileSync(path, 'utf8');
  const own = loadOwnState(text, want);
  if (own) return own;
  try {
    return parseStateText(text);
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
