/** Public face of the grammar: argv or dump text in, AST or syntax problems out (never exceptions). */
import { createTokenInstance, type IToken } from 'chevrotain';
import type { ArgNode, DumpLineAst, SyntaxProblem } from '../src/ast';
import { iptablesLexer } from './lexer';
import { iptablesParser as getParser, setCurrentLine } from './parser';
import { classifyArgvElement } from './tokens';
import { fastArgs } from './fast-args';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: SyntaxProblem[] };

const KINDS: Record<string, ArgNode['kind']> = { Bang: 'bang', LongOption: 'long', ShortOption: 'short' };

/**
 * Parses argv elements (as a shell split them): each element is one token, never re-split. The grammar's
 * commandLine rule accepts any sequence of words, so the arguments are classified directly (no parser to build
 * for a one-command process); parseCommandLineWith(argv, false) runs the Chevrotain rule, and a property test
 * checks that both agree.
 */
export function parseCommandLine(argv: readonly string[]): Parsed<ArgNode[]> {
  return parseCommandLineWith(argv, true);
}

export function parseCommandLineWith(argv: readonly string[], fast: boolean): Parsed<ArgNode[]> {
  if (fast) {
    return {
      ok: true,
      value: argv.map((text, i) => ({ kind: KINDS[classifyArgvElement(text).name] ?? 'word', text, quoted: false, line: 1, column: i + 1 })),
    };
  }
  const iptablesParser = getParser();
  const tokens: IToken[] = argv.map((value, i) => {
    const t = createTokenInstance(classifyArgvElement(value), value, i, i + value.length, 1, 1, i + 1, i + 1);
    t.payload = { value, quoted: false };
    return t;
  });
  setCurrentLine(1);
  iptablesParser.input = tokens;
  const args = iptablesParser.commandLine();
  if (iptablesParser.errors.length > 0) {
    return { ok: false, problems: iptablesParser.errors.map((e) => ({ message: e.message, loc: { line: 1, column: e.token.startOffset + 1 } })) };
  }
  return { ok: true, value: args };
}

/** Parses one line of a dump. `lineNo` is 1-based. Comment and blank lines are recognised before lexing. */
export function parseDumpLine(text: string, lineNo: number): Parsed<DumpLineAst> {
  return parseDumpLineWith(text, lineNo, true);
}

/** The same; `fast` false forces the Chevrotain lexer and parser (the property test compares both). */
export function parseDumpLineWith(text: string, lineNo: number, fast: boolean): Parsed<DumpLineAst> {
  const loc = { line: lineNo, column: 1 };
  if (text === '' || text === '\n') return { ok: true, value: { kind: 'empty', loc } };
  if (text.startsWith('#')) return { ok: true, value: { kind: 'comment', text, loc } };
  if (fast && text.charCodeAt(0) === 45 /* '-' */) {
    return { ok: true, value: { kind: 'rule', counters: undefined, args: fastArgs(text, lineNo), loc } };
  }
  const lexed = iptablesLexer().tokenize(text);
  if (lexed.errors.length > 0) {
    return { ok: false, problems: lexed.errors.map((e) => ({ message: e.message, loc: { line: lineNo, column: e.offset + 1 } })) };
  }
  setCurrentLine(lineNo);
  const iptablesParser = getParser();
  iptablesParser.input = lexed.tokens;
  const ast = iptablesParser.dumpLine();
  if (iptablesParser.errors.length > 0) {
    return { ok: false, problems: iptablesParser.errors.map((e) => ({ message: e.message, loc: { line: lineNo, column: e.token.startOffset + 1 } })) };
  }
  return { ok: true, value: ast };
}
