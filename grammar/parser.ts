/**
 * The iptables grammar: one parser, built once, with two entry rules sharing the argument rule.
 *  - commandLine: the arguments of `iptables ...` (tokens made from argv elements);
 *  - dumpLine: one line of an iptables-save dump (`*table`, `:CHAIN POLICY [p:b]`, `COMMIT`, `[p:b] -A ...`).
 * The grammar knows nothing of extensions: an argument is a `!`, an option or a word. Which words are values
 * of which option is getopt's business and needs the option tables, so the compiler decides it (src/compile).
 * An embedded-actions parser builds the AST directly: no CST is allocated per line of a 150,000-line dump.
 */
import { EmbeddedActionsParser, type IToken } from 'chevrotain';
import type { ArgNode, CountersNode, DumpLineAst, Loc } from '../src/ast';
import {
  allTokens,
  Bang,
  ChainHeader,
  Commit,
  Counters,
  LongOption,
  ShortOption,
  TableHeader,
  Word,
  scanWord,
  type WordPayload,
} from './tokens';

function payloadOf(tok: IToken): WordPayload {
  const p = tok.payload as WordPayload | undefined;
  if (p) return p;
  // Only words with a double quote need the slow path that takes quotes and escapes out.
  if (tok.image.indexOf('"') < 0) return { value: tok.image, quoted: false };
  return scanWord(tok.image, 0)?.payload ?? { value: '', quoted: true };
}

/** The line being parsed: tokens carry only offsets (cheaper to lex), so the line comes from here. */
let currentLine = 1;
export function setCurrentLine(line: number): void {
  currentLine = line;
}

function locOf(tok: IToken): Loc {
  return { line: currentLine, column: tok.startOffset + 1 };
}

function toArg(tok: IToken): ArgNode {
  const p = payloadOf(tok);
  const t = tok.tokenType;
  const kind = t === Bang ? 'bang' : t === LongOption ? 'long' : t === ShortOption ? 'short' : 'word';
  return { kind, text: p.value, quoted: p.quoted, line: currentLine, column: tok.startOffset + 1 };
}

function toCounters(tok: IToken): CountersNode {
  const m = /^\[(\d+):(\d+)\]$/.exec(tok.image)!;
  return { packets: BigInt(m[1]!), bytes: BigInt(m[2]!), loc: locOf(tok) };
}

class IptablesParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { recoveryEnabled: false, skipValidations: true });
    this.performSelfAnalysis();
  }

  public readonly args = this.RULE('args', (): ArgNode[] => {
    const out: ArgNode[] = [];
    this.MANY(() => {
      const tok = this.CONSUME(Word);
      this.ACTION(() => out.push(toArg(tok)));
    });
    return out;
  });

  public readonly commandLine = this.RULE('commandLine', (): ArgNode[] => this.SUBRULE(this.args));

  public readonly dumpLine = this.RULE('dumpLine', (): DumpLineAst => {
    return this.OR([
      {
        ALT: () => {
          const t = this.CONSUME(TableHeader);
          this.MANY(() => this.CONSUME(Word));
          return { kind: 'table' as const, name: payloadOf(t).value.slice(1), loc: locOf(t) };
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(ChainHeader);
          let policy: string | undefined;
          let counters: string | undefined;
          this.OPTION(() => {
            policy = payloadOf(this.CONSUME2(Word)).value;
            this.OPTION2(() => {
              counters = payloadOf(this.CONSUME3(Word)).value;
            });
          });
          this.MANY2(() => this.CONSUME4(Word));
          return { kind: 'chain' as const, name: payloadOf(t).value.slice(1), policy, counters, loc: locOf(t) };
        },
      },
      {
        GATE: () => this.LA(2).tokenType.name === 'EOF',
        ALT: () => {
          const t = this.CONSUME(Commit);
          return { kind: 'commit' as const, loc: locOf(t) };
        },
      },
      {
        ALT: () => {
          let counters: CountersNode | undefined;
          const first = this.LA(1);
          this.OPTION3(() => {
            const c = this.CONSUME(Counters);
            this.ACTION(() => {
              counters = toCounters(c);
            });
          });
          const args = this.SUBRULE2(this.args);
          return { kind: 'rule' as const, counters, args, loc: locOf(first) };
        },
      },
    ]);
  });
}

let parser: IptablesParser | undefined;

/** The one parser instance, built on first use; Chevrotain parsers are reusable by resetting `input`. */
export function iptablesParser(): IptablesParser {
  parser ??= new IptablesParser();
  return parser;
}
