/**
 * iptables-restore's line loop (xtables-restore.c) over the grammar's dump lines: tables are staged and
 * committed at COMMIT, all or nothing per table; errors carry the line number and iptables-restore's wording.
 */
import { parseDumpLine } from '../../grammar/index';
import type { ArgNode } from '../ast';
import { parseCommand } from '../compile/command';
import { assertValidChainName } from '../compile/command';
import { execute } from '../exec/commands';
import { Exit, IptablesError, nftError, NFT_STRERROR, paramProblem } from '../messages';
import { Ruleset, zeroCounters } from '../model/ruleset';
import { isBuiltinChain, isTableName, type TableName } from '../model/tables';

export interface RestoreOptions {
  counters: boolean;
  noflush: boolean;
  test: boolean;
  /** -T: only this table is restored. */
  onlyTable: string | undefined;
  verbose: boolean;
  programName: string;
  warn(line: string): void;
}

/** An error with the line it belongs to; `atCommit` errors are reported as iptables-restore does at COMMIT. */
export class RestoreError extends Error {
  constructor(
    readonly error: IptablesError,
    readonly line: number,
  ) {
    super(error.message);
  }
}

export interface RestoreResult {
  ruleset: Ruleset;
  stdout: string;
}

/** Runs a dump against `base` (not modified) and returns the new ruleset. Throws RestoreError. */
export function restore(text: string, base: Ruleset, opts: RestoreOptions): RestoreResult {
  let committed = base.clone();
  let staged: Ruleset | undefined;
  let table: TableName | undefined;
  let skipping = false;
  let deferred: IptablesError | undefined;
  let stdout = '';
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let lineNo = 0;
  for (const raw of lines) {
    lineNo++;
    const fail = (e: IptablesError): never => {
      throw new RestoreError(e, lineNo);
    };
    if (raw === '') continue;
    if (raw.startsWith('#')) {
      if (opts.verbose) stdout += raw + '\n';
      continue;
    }
    if (table !== undefined && /^COMMIT$/.test(raw)) {
      if (deferred) fail(deferred);
      if (!skipping && !opts.test) committed = staged!;
      table = undefined;
      staged = undefined;
      continue;
    }
    if (raw.startsWith('*') && table === undefined) {
      const name = raw.slice(1).split(/[ \t]/).find((w) => w !== '');
      if (!name) fail(paramProblem(`${opts.programName}: line ${lineNo} table name invalid`));
      if (!isTableName(name!)) fail(paramProblem(`${opts.programName}: line ${lineNo} table name '${name}' invalid`));
      table = name as TableName;
      skipping = opts.onlyTable !== undefined && opts.onlyTable !== table;
      staged = committed.clone();
      if (!opts.noflush) {
        staged.tables.delete(table);
      }
      staged.ensureTable(table);
      continue;
    }
    if (table === undefined) fail(new IptablesError(`${opts.programName}: line ${lineNo} failed`, Exit.Other, 'plain'));
    const parsed = parseDumpLine(raw, lineNo);
    if (!parsed.ok) fail(paramProblem(parsed.problems[0]!.message));
    const ast = parsed.ok ? parsed.value : undefined;
    if (!ast || skipping) continue;
    const t = staged!.ensureTable(table!);
    if (ast.kind === 'chain') {
      const name = raw.slice(1).split(/[ \t]/)[0];
      if (!name) fail(paramProblem(`${opts.programName}: line ${lineNo} chain name invalid`));
      try {
        assertValidChainName(name!);
      } catch (e) {
        fail(e as IptablesError);
      }
      if (ast.policy === undefined) fail(paramProblem(`${opts.programName}: line ${lineNo} policy invalid`));
      if (isBuiltinChain(table!, name!)) {
        let counters = zeroCounters();
        const m = ast.counters !== undefined ? /^\[(\d+):(\d+)\]$/.exec(ast.counters) : null;
        if ((ast.counters === undefined && opts.counters) || (ast.counters !== undefined && !m)) {
          fail(paramProblem(`invalid policy counters for chain '${name}'`));
        }
        if (m) counters = { packets: BigInt(m[1]!), bytes: BigInt(m[2]!) };
        if (ast.policy !== 'ACCEPT' && ast.policy !== 'DROP') {
          fail(new IptablesError(`${opts.programName}: line ${lineNo} failed: ${NFT_STRERROR.badPolicy.replace(" Run `dmesg' for more information.", '')}`, Exit.Other, 'plain'));
        }
        const c = t.chains.get(name!)!;
        c.policy = ast.policy as 'ACCEPT' | 'DROP';
        if (opts.counters) c.counters = counters;
      } else {
        const existing = t.chains.get(name!);
        if (existing) existing.rules = [];
        else t.chains.set(name!, { name: name!, hook: undefined, policy: undefined, counters: zeroCounters(), rules: [] });
      }
      continue;
    }
    if (ast.kind === 'table' || ast.kind === 'commit' || ast.kind === 'rule') {
      const args: ArgNode[] = ast.kind === 'rule' ? ast.args : [{ kind: 'word', text: raw.trim(), quoted: false, loc: ast.loc }];
      const prefix: ArgNode[] = [
        { kind: 'short', text: '-t', quoted: false, loc: ast.loc },
        { kind: 'word', text: table!, quoted: false, loc: ast.loc },
      ];
      if (ast.kind === 'rule' && opts.counters && ast.counters) {
        prefix.push(
          { kind: 'long', text: '--set-counters', quoted: false, loc: ast.loc },
          { kind: 'word', text: String(ast.counters.packets), quoted: false, loc: ast.loc },
          { kind: 'word', text: String(ast.counters.bytes), quoted: false, loc: ast.loc },
        );
      }
      try {
        const cmd = parseCommand([...prefix, ...args], { table: table!, restore: true, programName: opts.programName, warn: opts.warn });
        execute(staged!, cmd);
      } catch (e) {
        if (!(e instanceof IptablesError)) throw e;
        // Kernel-side refusals surface at COMMIT in the nft variant; so does a jump to a missing chain.
        if (e.status === Exit.Resource) {
          deferred ??= new IptablesError(`\nline ${lineNo}:${e.message}`, Exit.Resource, 'prefixed');
          continue;
        }
        if (/^Chain '.*' does not exist$/.test(e.message)) {
          deferred ??= e;
          continue;
        }
        if (e.framing === 'nft') fail(new IptablesError(`${opts.programName}: line ${lineNo} failed: ${e.message}`, Exit.Other, 'plain'));
        fail(e);
      }
    }
  }
  if (table !== undefined) {
    throw new RestoreError(new IptablesError(`${opts.programName}: COMMIT expected at line ${lineNo + 1}`, Exit.Other, 'plain'), lineNo + 1);
  }
  return { ruleset: committed, stdout };
}

export { nftError };
