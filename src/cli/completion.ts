/**
 * Shell completion: `tsiptables completion bash|zsh` prints a script for the shell; the script asks
 * `tsiptables completion --complete WORDS...` (the words of the command line, the last one being completed) for
 * candidates, so chains come from the current state file: commands and options, tables, chains of the table in
 * use, extension names after -m/-j, and the options of the extensions already on the line.
 */
import { CORE_LONG } from '../compile/command';
import { allMatches, allTargets, findMatch, findTarget } from '../extensions/registry';
import { loadState, statePath } from '../io/state';
import { isTableName, TABLES } from '../model/tables';
import type { RunResult } from './main';
import { OWN_OPTIONS as TRACE_OPTIONS } from './trace';

/** The subcommands besides iptables' own command line. */
const SUBCOMMANDS = ['completion', 'graph', 'lab', 'nft', 'restore-translate', 'trace', 'translate'];
const GRAPH_OPTIONS = ['--rules', '--table', '--format', '--output', '-t', '-o', '-h', '--help'];

const CHAIN_OPTIONS = new Set(['-A', '-C', '-D', '-I', '-R', '-L', '-S', '-F', '-Z', '-N', '-X', '-P', '-E', '--append', '--check', '--delete', '--insert', '--replace', '--list', '--list-rules', '--flush', '--zero', '--new-chain', '--delete-chain', '--policy', '--rename-chain']);
const SHORT = ['-A', '-C', '-D', '-I', '-R', '-L', '-S', '-F', '-Z', '-N', '-X', '-P', '-E', '-t', '-s', '-d', '-p', '-i', '-o', '-j', '-g', '-m', '-n', '-v', '-x', '-w', '-h', '-V', '-f', '-c'];

/** `tsiptables nft`: its options, verbs, objects and families, by position (the shell completes -f's file). */
function nftCandidates(before: readonly string[]): string[] {
  const words = before.filter((w) => w !== '-a' && w !== '--handle');
  if (words.length === 0) return ['-f', '-a', 'list', 'flush', 'add', 'create', 'insert', 'delete'];
  if (words[0] === '-f' || words[0] === '--file') return words.length === 1 ? ['-'] : [];
  const objects = words[0] === 'list' || words[0] === 'flush' ? ['ruleset', 'table', 'chain', 'set'] : ['table', 'chain', 'rule', 'set', 'map', 'element'];
  if (words.length === 1) return objects;
  if (words.length === 2 && words[1] !== 'ruleset') return ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];
  return [];
}

/** Candidates for the last word of `words` (the command line after the program name). */
export function complete(words: readonly string[], chainsOf: (table: string) => string[]): string[] {
  const cur = words[words.length - 1] ?? '';
  const prev = words[words.length - 2] ?? '';
  const ti = Math.max(words.lastIndexOf('-t'), words.lastIndexOf('--table'));
  const table = ti >= 0 && isTableName(words[ti + 1] ?? '') ? words[ti + 1]! : 'filter';
  const pick = (xs: Iterable<string>): string[] => [...new Set(xs)].filter((x) => x.startsWith(cur)).sort();
  if (words.length === 1 && cur !== '' && !cur.startsWith('-')) return pick(SUBCOMMANDS);
  // lab SCRIPT, and the files the trace and graph options name: the shell's own file completion (-o default).
  if (words[0] === 'lab' || words[0] === 'completion') return words[0] === 'completion' && words.length === 2 ? pick(['bash', 'zsh']) : [];
  if (words[0] === 'nft') return pick(nftCandidates(words.slice(1, -1)));
  if (words[0] === 'trace' || words[0] === 'graph') {
    if (prev === '--format') return pick(['dot', 'html']);
    if (cur.startsWith('-')) return pick(words[0] === 'trace' ? TRACE_OPTIONS.keys() : GRAPH_OPTIONS);
    return [];
  }
  if (prev === '-t' || prev === '--table') return pick(Object.keys(TABLES));
  if (CHAIN_OPTIONS.has(prev)) return pick(chainsOf(table));
  if (prev === '-m' || prev === '--match') return pick(allMatches().flatMap((m) => [m.name, ...(m.aliases ?? [])]));
  if (prev === '-j' || prev === '--jump') return pick([...allTargets().flatMap((t) => [t.name, ...(t.aliases ?? [])]), ...chainsOf(table).filter((c) => !(TABLES[table as keyof typeof TABLES].chains as readonly string[]).includes(c))]);
  if (prev === '-g' || prev === '--goto') return pick(chainsOf(table));
  if (prev === '-p' || prev === '--protocol') return pick(['tcp', 'udp', 'udplite', 'icmp', 'esp', 'ah', 'sctp', 'all']);
  const prev2 = words[words.length - 3] ?? '';
  if (prev2 === '-P' || prev2 === '--policy') return pick(['ACCEPT', 'DROP']);
  if (cur.startsWith('--')) {
    const ext: string[] = [];
    words.forEach((w, i) => {
      const name = words[i + 1] ?? '';
      const def = w === '-m' || w === '--match' ? findMatch(name) : w === '-j' || w === '--jump' ? findTarget(name) : w === '-p' || w === '--protocol' ? findMatch(name) : undefined;
      if (def) for (const o of def.options) ext.push(`--${o.name}`);
    });
    return pick([...CORE_LONG.map(([n]) => `--${n}`), ...ext]);
  }
  if (cur.startsWith('-') || cur === '') return pick(SHORT);
  return [];
}

const BASH = `# tsiptables bash completion: eval "$(tsiptables completion bash)"
_tsiptables() {
  local IFS=$'\\n'
  COMPREPLY=($(tsiptables completion --complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _tsiptables tsiptables
`;

const ZSH = `# tsiptables zsh completion: eval "$(tsiptables completion zsh)"
_tsiptables() {
  local -a candidates
  candidates=("\${(@f)$(tsiptables completion --complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- $candidates
}
compdef _tsiptables tsiptables
`;

export function runCompletion(argv: readonly string[]): RunResult {
  if (argv[0] === 'bash') return { stdout: BASH, stderr: '', status: 0 };
  if (argv[0] === 'zsh') return { stdout: ZSH, stderr: '', status: 0 };
  if (argv[0] === '--complete') {
    const chainsOf = (table: string): string[] => {
      try {
        const t = loadState(statePath(), isTableName(table) ? new Set([table]) : undefined).table(table as never);
        return t ? [...t.chains.keys()] : [...(TABLES[table as keyof typeof TABLES]?.chains ?? [])];
      } catch {
        return [];
      }
    };
    const out = complete(argv.slice(1), chainsOf);
    return { stdout: out.map((c) => c + '\n').join(''), stderr: '', status: 0 };
  }
  return { stdout: '', stderr: 'usage: tsiptables completion bash|zsh\n', status: 2 };
}
