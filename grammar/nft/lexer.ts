/** The nft lexer, built on first use and then reused. */
import { Lexer } from 'chevrotain';
import { allNftTokens } from './tokens';

let lexer: Lexer | undefined;

export function nftLexer(): Lexer {
  lexer ??= new Lexer(allNftTokens, { positionTracking: 'full', ensureOptimizations: false });
  return lexer;
}
