/** The lexer, built on first use (a command line never needs it) and then reused. */
import { Lexer } from 'chevrotain';
import { allTokens } from './tokens';

let lexer: Lexer | undefined;

export function iptablesLexer(): Lexer {
  lexer ??= new Lexer(allTokens, {
    positionTracking: 'onlyOffset',
    ensureOptimizations: false,
    skipValidations: true,
  });
  return lexer;
}
