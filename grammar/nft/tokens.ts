/**
 * Tokens of the nft language as `nft -f` reads it (nftables 1.0.6, src/scanner.l), reduced to what the
 * structure needs: blocks, separators, strings, variables, set references and operators. Everything else is a
 * Word (keywords, numbers, addresses, prefixes, ranges such as 10.0.0.1-10.0.0.9, MAC addresses, `5/second`):
 * which words mean what is the rule interpreter's business (src/nft/rule.ts), as getopt's is the compiler's on
 * the iptables side.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Any token that can be an atom of a rule (one category: the parser's atom rule is one CONSUME, not ten). */
export const AtomToken = createToken({ name: 'AtomToken', pattern: Lexer.NA });

export const Blank = createToken({ name: 'Blank', pattern: /[ \t\r]+/, group: Lexer.SKIPPED });
/** A backslash before the end of a line joins the lines. */
export const Continuation = createToken({ name: 'Continuation', pattern: /\\\r?\n/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });
export const Newline = createToken({ name: 'Newline', pattern: /\n/, line_breaks: true, label: 'newline' });
export const Semi = createToken({ name: 'Semi', pattern: /;/, label: 'semicolon' });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('", categories: [AtomToken] });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'", categories: [AtomToken] });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: 'comma', categories: [AtomToken] });
export const QuotedString = createToken({ name: 'QuotedString', pattern: /"[^"\n]*"/, label: 'quoted string', categories: [AtomToken] });
export const Variable = createToken({ name: 'Variable', pattern: /\$[A-Za-z_][A-Za-z0-9_]*/, label: '$', categories: [AtomToken] });
export const SetRef = createToken({ name: 'SetRef', pattern: /@[A-Za-z_][A-Za-z0-9_.-]*/, label: "'@'", categories: [AtomToken] });
/** Relational, bitwise and assignment operators. */
export const Op = createToken({ name: 'Op', pattern: /==|!=|<=|>=|<<|>>|<|>|&|\||\^|!|=/, categories: [AtomToken] });
/** Punctuation that stands alone: concatenation `.`, priority offsets `+`/`-`, `:` of mappings and ports. */
export const Punct = createToken({ name: 'Punct', pattern: /[.+\-/:*]/, categories: [AtomToken] });

/** Any other word. Keyword tokens below are words too (category), so rules may use them as values. */
export const Word = createToken({ name: 'Word', pattern: /(?:[A-Za-z0-9_]|::)[A-Za-z0-9_.:\-/*]*/, label: 'string', categories: [AtomToken] });

function keyword(name: string): TokenType {
  return createToken({ name: `Kw_${name}`, pattern: new RegExp(`${name}(?![A-Za-z0-9_.:\\-/*])`), longer_alt: Word, categories: [Word, AtomToken], label: name });
}
export const KwTable = keyword('table');
export const KwChain = keyword('chain');
export const KwSet = keyword('set');
export const KwMap = keyword('map');
export const KwDefine = keyword('define');
export const KwFlowtable = keyword('flowtable');

export const allNftTokens: TokenType[] = [
  AtomToken,
  Continuation, Blank, Comment, Newline, Semi, LBrace, RBrace, LParen, RParen, Comma, QuotedString, Variable, SetRef,
  Op, KwTable, KwChain, KwSet, KwMap, KwDefine, KwFlowtable, Word, Punct,
];
