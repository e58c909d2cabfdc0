/**
 * `iptables-restore-translate -f FILE` (iptables 1.8.9, xtables-translate.c): an iptables-save dump as the nft
 * commands that would make it. A table line gives `add table ip T`; a chain line a base chain with its hook,
 * type, priority and policy (built-in) or a regular chain; a rule line `add rule ip T C ...` with the rule's
 * translation (tsiptables translate's), or the rule as a `#` comment where there is none; COMMIT and counters
 * are dropped. Between a header and a footer with the date. Recorded: fixtures/nft/corpus/translate.txt.
 */
import { parseDumpLine } from '../../grammar/index';
import type { ArgNode } from '../ast';
import { parseCommand } from '../compile/command';
import { buildRules } from '../compile/rule';
import { ctime } from '../format/save';
import { Exit, IptablesError, paramProblem } from '../messages';
import { isBuiltinChain, isTableName, type TableName } from '../model/tables';
import { ruleTranslation, UntranslatableYet } from './translate';

const HOOK: Readonly<Record<string, string>> = { PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting' };

/** The priority iptables-restore-translate gives a built-in chain (its own table definitions: security at 0). */
function priority(table: TableName, chain: string): number {
  if (table === 'nat') return chain === 'PREROUTING' || chain === 'OUTPUT' ? -100 : 100;
  return table === 'mangle' ? -150 : table === 'raw' ? -300 : 0;
}

function chainType(table: TableName, chain: string): string {
  if (table === 'nat') return 'nat';
  return table === 'mangle' && chain === 'OUTPUT' ? 'route' : 'filter';
}

/** A line iptables-restore-translate refuses: the error, its line, and what was printed before it. */
export class RestoreTranslateError extends Error {
  constructor(
    readonly error: IptablesError,
    readonly line: number,
    readonly printed: string,
  ) {
    super(error.message);
  }
}

/** The translation of a dump; throws RestoreTranslateError for a line iptables-restore-translate refuses. */
export function restoreTranslate(text: string, now: Date): string {
  const out: string[] = [`# Translated by iptables-restore-translate v1.8.9 on ${ctime(now)}`];
  let table: TableName | undefined;
  text.split('\n').forEach((raw, i) => {
    try {
      translateLine(raw, i + 1);
    } catch (e) {
      if (e instanceof IptablesError) throw new RestoreTranslateError(e, i + 1, out.join(''));
      throw e;
    }
  });
  out.push(`# Completed on ${ctime(now)}`);
  return out.join('');

  function translateLine(raw: string, lineNo: number): void {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') return;
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      if (!isTableName(name)) throw paramProblem(`iptables-translate-restore: line ${lineNo} table name '${name}' invalid`.replace(/^iptables/, 'tsiptables'));
      table = name;
      out.push(`add table ip ${name}\n`);
      return;
    }
    if (table === undefined) throw paramProblem(`line ${lineNo}: no table`);
    if (line.startsWith(':')) {
      const [name = '', policy] = line.slice(1).split(/[ \t]+/).filter((w) => w !== '');
      const fail = (what: string): never => {
        throw paramProblem(`tsiptables-translate-restore: line ${lineNo} ${what} invalid`);
      };
      if (name === '' || /^[ \t]/.test(line.slice(1))) fail('chain name');
      if (policy === undefined) fail('policy');
      if (policy !== '-' && isBuiltinChain(table, name)) {
        out.push(`add chain ip ${table} ${name} { type ${chainType(table, name)} hook ${HOOK[name]} priority ${priority(table, name)}; policy ${policy.toLowerCase()}; }\n`);
      } else out.push(`add chain ip ${table} ${name}\n`);
      return;
    }
    // A rule line: its counters (`[P:B]`) go.
    const body = line.startsWith('[') ? line.slice(line.indexOf(']') + 1).trimStart() : line;
    const parsed = parseDumpLine(body, lineNo);
    if (!parsed.ok) throw paramProblem(parsed.problems[0]!.message);
    if (parsed.value.kind !== 'rule') return;
    const args = parsed.value.args;
    const at = { quoted: false, line: lineNo, column: 1 };
    const prefix: ArgNode[] = [
      { kind: 'short', text: '-t', ...at },
      { kind: 'word', text: table, ...at },
    ];
    const cmd = parseCommand([...prefix, ...args], { table, restore: true, programName: 'iptables-restore-translate', warn: () => undefined });
    const verb = cmd.command === 'insert' ? 'insert' : cmd.command === 'append' ? 'add' : undefined;
    const comment = `# -t ${table} ${args.map((a) => `${a.text} `).join('')}\n`;
    if (cmd.command === 'new-chain') {
      out.push(`add chain ip ${table} ${cmd.chain}\n`);
      return;
    }
    if (cmd.command === 'flush') {
      out.push(cmd.chain ? `flush chain ip ${table} ${cmd.chain}\n` : `flush table ip ${table}\n`);
      return;
    }
    // Anything else (-P, -D, ...) it cannot translate: the line fails (recorded).
    if (verb === undefined) throw new IptablesError(`tsiptables-translate-restore: line ${lineNo} failed`, Exit.Other, 'plain');
    for (const rule of buildRules(cmd.rule)) {
      let t: string | undefined;
      try {
        t = ruleTranslation(rule);
      } catch (e) {
        if (!(e instanceof UntranslatableYet)) throw e;
      }
      out.push(t === undefined ? comment : `${verb} rule ip ${table} ${cmd.chain} ${t}\n`);
    }
  }
}


