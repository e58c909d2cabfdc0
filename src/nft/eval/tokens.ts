/**
 * Splitting a rule's canonical text (as `nft list ruleset` prints it, src/nft/rule.ts) into tokens: words,
 * quoted strings, braces, and the commas that separate set elements. `established,related` (no blank after the
 * comma) stays one word: it is a bitmask value; `0x1, 0x2` inside braces are two elements.
 */

export type Tok = { k: 'w'; v: string } | { k: 's'; v: string } | { k: 'op'; v: '{' | '}' | ',' };

export function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      i++;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let s = '';
      while (j < n && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < n) j++;
        s += text[j];
        j++;
      }
      out.push({ k: 's', v: s });
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '}') {
      out.push({ k: 'op', v: ch });
      i++;
      continue;
    }
    if (ch === ',') {
      out.push({ k: 'op', v: ',' });
      i++;
      continue;
    }
    let j = i;
    while (j < n) {
      const c = text[j]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '{' || c === '}' || c === '"') break;
      // A comma ends the word when a blank, a brace or the end follows it (an element separator).
      if (c === ',' && (j + 1 >= n || text[j + 1] === ' ' || text[j + 1] === '}' || text[j + 1] === '\n')) break;
      j++;
    }
    out.push({ k: 'w', v: text.slice(i, j) });
    i = j;
  }
  return out;
}

/** The text of tokens, joined as nft prints them (for explanations). */
export function tokText(toks: readonly Tok[]): string {
  let s = '';
  for (const t of toks) {
    const piece = t.k === 's' ? `"${t.v}"` : t.v;
    if (t.k === 'op' && t.v === ',') s += ',';
    else s += (s === '' ? '' : ' ') + piece;
  }
  return s;
}
