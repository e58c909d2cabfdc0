/**
 * rule-line.ts - pick a rule from iptables-save output and turn it into argv, the way a shell would split it.
 */

/**
 * Splits one iptables-save rule line into words.  iptables-save puts an argument that contains blanks or
 * quotes in double quotes and escapes `"` and `\` inside it with a backslash (xtables_save_string).
 */
export function splitSaveLine(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quoted) throw new Error(`unterminated quote in: ${line}`);
  if (inWord) words.push(cur);
  return words;
}

/** The last `-A CHAIN ...` line of table `table` in iptables-save text, without counters. */
export function lastRuleOf(saveText: string, table: string, chain: string): string | null {
  let inTable = false;
  let last: string | null = null;
  const prefix = `-A ${chain} `;
  for (let line of saveText.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (line === 'COMMIT') inTable = false;
    else if (inTable) {
      if (line.startsWith('[')) line = line.slice(line.indexOf(']') + 2); // -c counters
      if (line.startsWith(prefix)) last = line;
    }
  }
  return last;
}
