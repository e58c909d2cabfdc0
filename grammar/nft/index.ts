/** Public face of the nft grammar: text in, statements or the first syntax error out (never exceptions). */
import type { IToken } from 'chevrotain';
import type { NftLoc, NftStatement, NftSyntaxError } from '../../src/nft/ast';
import { nftLexer } from './lexer';
import { locOf, nftParser } from './parser';
import { LBrace, Newline, RBrace, Semi, Word } from './tokens';

/** On errors, `statements` is what parsed once the erroneous statements were dropped (nft evaluates those too). */
export type NftParsed = { ok: true; statements: NftStatement[] } | { ok: false; errors: NftSyntaxError[]; statements: NftStatement[] };

/** Words nft's scanner turns into keyword tokens (bison names them by their text, not as "string"). */
const KEYWORDS = new Set(
  ('table chain set map rule element define flush add create insert replace delete list reset rename ruleset ' +
    'type hook priority policy device devices accept drop reject jump goto return continue queue counter log ' +
    'ip ip6 inet arp bridge netdev ether meta ct tcp udp icmp th vlan elements flags timeout comment snat dnat ' +
    'masquerade redirect notrack to limit rate packets bytes with saddr daddr sport dport mark state iif oif ' +
    'iifname oifname protocol l4proto fwd dup filter nat route input output forward prerouting postrouting ingress egress').split(' '),
);

/** How bison names a token in "unexpected ...". */
export function describeToken(tok: IToken): string {
  const t = tok.tokenType;
  if (t.name === 'EOF') return 'end of file';
  if (t === Newline) return 'newline';
  if (t === Semi) return 'semicolon';
  if (t.name === 'Comma') return 'comma';
  if (t.name === 'QuotedString') return 'quoted string';
  if (t.name === 'LBrace' || t.name === 'RBrace' || t.name === 'LParen' || t.name === 'RParen') return `'${tok.image}'`;
  if (t.name === 'Op' || t.name === 'Punct') return `'${tok.image}'`;
  if (t === Word || t.CATEGORIES?.includes(Word)) {
    if (/^\d+$/.test(tok.image)) return 'number';
    if (KEYWORDS.has(tok.image)) return tok.image;
    return 'string';
  }
  return tok.image;
}

function endLoc(text: string): NftLoc {
  // bison reports the end of file on the line after the final newline (src/erec.c then shows the last line read).
  const line = text.split('\n').length;
  return { line, column: 1, endColumn: 1, offset: text.length, endOffset: text.length };
}

export function parseNft(text: string): NftParsed {
  const lexed = nftLexer().tokenize(text);
  if (lexed.errors.length > 0) {
    const e = lexed.errors[0]!;
    const loc = { line: e.line ?? 1, column: e.column ?? 1, endColumn: e.column ?? 1, offset: e.offset, endOffset: e.offset };
    return { ok: false, errors: [{ loc, message: `syntax error, unexpected junk` }], statements: [] };
  }
  const p = nftParser();
  let tokens = lexed.tokens;
  const errors: NftSyntaxError[] = [];
  let recovered: NftStatement[] = [];
  // bison's recovery in nft's blocks (`error stmt_separator`): the tokens from the error to the next newline or
  // semicolon are dropped and parsing goes on, so that later errors are reported too (at most 10, as a guard).
  for (let round = 0; round < 10; round++) {
    p.input = tokens;
    const statements = p.file();
    if (p.errors.length === 0) return errors.length === 0 ? { ok: true, statements } : { ok: false, errors, statements: statements ?? [] };
    recovered = statements ?? [];
    const e = p.errors[0]!;
    const tok = e.token;
    const atEnd = tok.tokenType.name === 'EOF';
    const loc = atEnd ? endLoc(text) : locOf(tok);
    let message = `syntax error, unexpected ${describeToken(tok)}`;
    // bison names what it expected only when few tokens would do: after a block's `}` or a rule, a separator.
    const wantsSeparator = tok.tokenType === RBrace && (/Newline.*Semi|Semi.*Newline|newline.*semicolon/s.test(e.message) || /--> Newline <--/.test(e.message));
    if (wantsSeparator) message += ', expecting newline or semicolon';
    errors.push({ loc, message });
    if (atEnd) break;
    // The statement the error is in goes, from its first token (after a separator or a brace).
    let at = tokens.indexOf(tok);
    while (at > 0 && ![Newline, Semi, LBrace, RBrace].includes(tokens[at - 1]!.tokenType)) at--;
    // A `}` where a separator should follow a block's `}`: bison pops back into that block (its `}` goes too), so
    // what comes next is read inside it (recorded: nft-errors, two closing braces on one line).
    if (wantsSeparator && at > 0 && tokens[at - 1]!.tokenType === RBrace) at--;
    let end = Math.max(at, tokens.indexOf(tok));
    while (end < tokens.length && tokens[end]!.tokenType !== Newline && tokens[end]!.tokenType !== Semi) end++;
    if (at < 0 || end >= tokens.length) {
      // No separator left: bison meets the end of file.
      if (at >= 0) errors.push({ loc: endLoc(text), message: 'syntax error, unexpected end of file' });
      break;
    }
    tokens = [...tokens.slice(0, at), ...tokens.slice(end + 1)];
  }
  return { ok: false, errors, statements: recovered };
}
