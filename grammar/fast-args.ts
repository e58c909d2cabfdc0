/**
 * The hot path of the grammar: a dump line that is a rule command (starts with '-', as 99% of a
 * kube-proxy dump does) split straight into ArgNodes, with the same word rules as tokens.ts
 * (add_param_to_argv) and the same classification the Chevrotain lexer gives. test/grammar.property.test.ts
 * proves it equal to the Chevrotain parse on generated lines; anything else goes through Chevrotain.
 */
import type { ArgNode } from '../src/ast';

const enum C {
  Space = 32,
  Tab = 9,
  Nl = 10,
  Cr = 13,
  Quote = 34,
  Backslash = 92,
  Dash = 45,
  Bang = 33,
}

function blank(c: number): boolean {
  return c === C.Space || c === C.Tab || c === C.Nl || c === C.Cr;
}

/** Splits `text` (one line, newline included or not) into arguments; line/column as the grammar reports them. */
export function fastArgs(text: string, line: number): ArgNode[] {
  const out: ArgNode[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && blank(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    let quoted = false;
    // An unquoted run, then at most one quoted run that ends the word (add_param_to_argv).
    while (i < n) {
      const c = text.charCodeAt(i);
      if (blank(c) || c === C.Quote) break;
      i++;
    }
    let value: string;
    if (i < n && text.charCodeAt(i) === C.Quote) {
      quoted = true;
      value = text.slice(start, i);
      i++;
      while (i < n && text.charCodeAt(i) !== C.Quote) {
        if (text.charCodeAt(i) === C.Backslash) {
          // An escaped character is taken as it is; a backslash at the very end is dropped.
          if (i + 1 < n) value += text[i + 1];
          i += 2;
          continue;
        }
        value += text[i];
        i++;
      }
      if (i < n) i++;
    } else {
      value = text.slice(start, i);
    }
    let kind: ArgNode['kind'] = 'word';
    if (!quoted) {
      const c0 = value.charCodeAt(0);
      if (c0 === C.Bang && value.length === 1) kind = 'bang';
      else if (c0 === C.Dash && value.length > 1) {
        const c1 = value.charCodeAt(1);
        if (c1 === C.Dash) kind = value.length > 2 ? 'long' : 'word';
        else kind = 'short';
      }
    }
    out.push({ kind, text: value, quoted, line, column: start + 1 });
  }
  return out;
}
