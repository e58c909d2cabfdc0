/**
 * Tokens of the iptables language: one restore/save line, or one argv element.
 *
 * Words are split exactly as iptables-restore's add_param_to_argv() splits a line: blanks separate words;
 * a double quote opens a quoted run in which a backslash escapes the next character, and the closing quote
 * ends the word at once ("a b"c is two words); a quoted empty string is a word of its own. Single quotes are
 * ordinary characters for iptables-restore.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** The value of a word once quotes and escapes are taken out, and whether any part of it was quoted. */
export interface WordPayload {
  value: string;
  quoted: boolean;
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Scans one word at `offset` the way add_param_to_argv() does; null when a blank is there. */
export function scanWord(text: string, offset: number): { end: number; payload: WordPayload } | null {
  if (offset >= text.length || isBlank(text[offset]!)) return null;
  let value = '';
  let quoted = false;
  let i = offset;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      quoted = true;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') {
          // An escaped character is taken as it is; a backslash at the very end is dropped.
          if (i + 1 < text.length) value += text[i + 1];
          i += 2;
          continue;
        }
        value += text[i];
        i++;
      }
      // The closing quote (or the end of the line) ends the word.
      if (i < text.length) i++;
      return { end: i, payload: { value, quoted } };
    }
    if (isBlank(c)) break;
    value += c;
    i++;
  }
  return { end: i, payload: { value, quoted } };
}

// Regex patterns (not custom matchers) so that Chevrotain can dispatch on the first character: lexing a
// 150,000-line dump is on the hot path. `(?![^\s])` makes a shape match only a whole word.
const END = '(?![^ \\t\\r\\n])';
const shape = (re: string): RegExp => new RegExp(re + END);

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
/** Any word; the categories below are words too, so a rule argument may look like one of them. */
export const Word = createToken({ name: 'Word', pattern: Lexer.NA });
/** A word with a double-quoted part: the closing quote ends it. Also catches words the shapes below miss. */
export const PlainWord = createToken({
  name: 'PlainWord',
  pattern: /[^ \t\r\n"]*"(?:[^"\\]|\\[\s\S])*(?:"|\\)?|[^ \t\r\n"]+/,
  categories: [Word],

});
export const Counters = createToken({ name: 'Counters', pattern: shape('\\[\\d+:\\d+\\]'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['['] });
export const Bang = createToken({ name: 'Bang', pattern: shape('!'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['!'] });
export const LongOption = createToken({ name: 'LongOption', pattern: shape('--[^ \\t\\r\\n"]+'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['-'] });
export const ShortOption = createToken({ name: 'ShortOption', pattern: shape('-[^ \\t\\r\\n"-][^ \\t\\r\\n"]*'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['-'] });
export const TableHeader = createToken({ name: 'TableHeader', pattern: shape('\\*[^ \\t\\r\\n"]*'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['*'] });
export const ChainHeader = createToken({ name: 'ChainHeader', pattern: shape(':[^ \\t\\r\\n"]+'), categories: [Word], longer_alt: PlainWord, start_chars_hint: [':'] });
export const Commit = createToken({ name: 'Commit', pattern: shape('COMMIT'), categories: [Word], longer_alt: PlainWord, start_chars_hint: ['C'] });

/** Order matters: the first matching shape wins, PlainWord takes whatever is left. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Counters,
  Bang,
  LongOption,
  ShortOption,
  TableHeader,
  ChainHeader,
  Commit,
  PlainWord,
  Word,
];

/** Classifies an argv element (already split by a shell) into the token type the lexer would give it. */
export function classifyArgvElement(value: string): TokenType {
  if (value === '!') return Bang;
  if (value.startsWith('--') && value.length > 2) return LongOption;
  if (value.startsWith('-') && value.length > 1) return ShortOption;
  return PlainWord;
}
