/** The lexer, built once. */
import { Lexer } from 'chevrotain';
import { allTokens } from './tokens';

export const iptablesLexer = new Lexer(allTokens, {
  positionTracking: 'onlyOffset',
  ensureOptimizations: false,
  skipValidations: true,
});
