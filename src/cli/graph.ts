/**
 * `tsiptables graph [--rules DUMP] [-t TABLE] [--format dot|html] [-o FILE]`: the chain graph of a ruleset (the
 * state file's, or an iptables-save dump's): which chain jumps or goes to which, with rule counts and policies,
 * as Graphviz DOT or as a self-contained HTML page. Exit status 0, or 2 for bad input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { loadState, parseDump, statePath } from '../io/state';
import { RestoreError } from '../io/restore';
import { IptablesError } from '../messages';
import { isTableName, TABLES, type TableName } from '../model/tables';
import type { Ruleset } from '../model/ruleset';
import { buildChainGraph, chainGraphDot, chainGraphPage } from '../diagram/chain-graph';
import type { RunResult } from './main';

interface GraphFlags {
  rules?: string;
  table?: string;
  format: string;
  output?: string;
}

const bad = (msg: string): RunResult => ({ stdout: '', stderr: `tsiptables graph: ${msg}\nTry \`tsiptables graph --help' for more information.\n`, status: 2 });

export function runGraph(argv: readonly string[]): RunResult {
  const out = { text: '' };
  const cmd = new Command('tsiptables graph')
    .usage('[--rules DUMP] [-t TABLE] [--format dot|html] [-o FILE]')
    .description('The chain graph of the ruleset: which chain jumps (-j) or goes (-g) to which, with rule counts and policies.')
    .option('--rules <DUMP>', 'iptables-save file to draw (default: the state file, TSIPTABLES_STATE)')
    .option('-t, --table <TABLE>', `only this table (${Object.keys(TABLES).join(', ')})`)
    .option('--format <FORMAT>', 'dot (Graphviz) or html (a self-contained page)', 'dot')
    .option('-o, --output <FILE>', 'write to FILE instead of stdout (- for stdout)')
    .argument('[extra...]')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: (s) => (out.text += s) })
    .helpOption('-h, --help', 'this help');
  let flags: GraphFlags;
  try {
    cmd.parse(argv, { from: 'user' });
    flags = cmd.opts<GraphFlags>();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { stdout: out.text, stderr: '', status: 0 };
      return { stdout: '', stderr: out.text, status: 2 };
    }
    throw e;
  }
  if (cmd.args.length > 0) return bad(`unexpected argument "${cmd.args[0]!}"`);
  if (flags.format !== 'dot' && flags.format !== 'html') return bad(`--format ${flags.format}: expected dot or html`);
  let table: TableName | undefined;
  if (flags.table !== undefined) {
    if (!isTableName(flags.table)) return bad(`-t ${flags.table}: no such table (${Object.keys(TABLES).join(', ')})`);
    table = flags.table;
  }
  const statefile = statePath();
  const where = flags.rules !== undefined ? `--rules ${flags.rules}` : `state file ${statefile}`;
  let rs: Ruleset;
  try {
    rs = flags.rules !== undefined ? parseDump(readFileSync(flags.rules, 'utf8')) : loadState(statefile, table !== undefined ? new Set([table]) : undefined);
  } catch (e) {
    if (e instanceof RestoreError) return bad(`${where}: line ${e.line}: ${e.message.trim()}`);
    if (e instanceof IptablesError) return bad(e.message.trim());
    const code = (e as { code?: string }).code;
    return bad(`${where}: ${code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
  if (table !== undefined && !rs.tables.has(table)) rs.ensureTable(table);
  const title = `iptables chains${table !== undefined ? ` (${table})` : ''}`;
  const text = flags.format === 'dot' ? chainGraphDot(buildChainGraph(rs, { table }), title) : chainGraphPage(rs, { table, title, subtitle: `tsiptables graph: ${where}` });
  if (flags.output === undefined || flags.output === '-') return { stdout: text, stderr: '', status: 0 };
  try {
    writeFileSync(flags.output, text);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { stdout: '', stderr: `tsiptables graph: -o ${flags.output}: ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : (e as Error).message}\n`, status: 2 };
  }
  return { stdout: '', stderr: '', status: 0 };
}
