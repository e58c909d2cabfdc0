/** nft's error records (src/erec.c): a message, the location it points at, and optionally a context span. */
import type { NftLoc } from './ast';

/** A text nft reads: its name as errors show it, and its lines. */
export interface NftSource {
  name: string | undefined;
  lines: readonly string[];
}

export class NftError extends Error {
  /** Set for an error in an included file: that file, and where the include statement is. */
  source?: NftSource;
  includedFrom?: { source: NftSource; loc: NftLoc };

  constructor(
    message: string,
    readonly loc: NftLoc | undefined,
    /** A wider span shown with `~` under the `^` of loc (nft's second location). */
    readonly context?: NftLoc,
  ) {
    super(message);
  }
}

/**
 * Every error of a batch, as nft reports them: all syntax errors if there are any (nothing is evaluated then),
 * else every evaluation error, else every error the kernel gave.
 */
export class NftErrors extends Error {
  constructor(readonly errors: NftError[]) {
    super(errors[0]?.message ?? '');
  }
}

export function isSyntaxError(e: NftError): boolean {
  return e.message.startsWith('syntax error');
}

/** The text nft prints for an error: `FILE:L:C-E: Error: MSG`, the line, and the carets. */
export function formatNftError(e: NftError, main: NftSource): string {
  const source = e.source ?? main;
  const from = e.includedFrom;
  const head0 = from ? `In file included from ${from.source.name ?? ''}:${from.loc.line}:${from.loc.column}-${from.loc.endColumn}:\n` : '';
  return head0 + formatAt(e, source);
}

function formatAt(e: NftError, source: NftSource): string {
  const loc = e.loc;
  if (!loc) return `Error: ${e.message}\n`;
  // Past the last line (the end of file), nft shows the last line it read.
  const past = loc.line === source.lines.length && source.lines[loc.line - 1] === '' && loc.line > 1;
  const line = (past ? source.lines[loc.line - 2] : source.lines[loc.line - 1]) ?? '';
  const head = source.name !== undefined ? `${source.name}:${loc.line}:${loc.column}-${loc.endColumn}: ` : '';
  const marks: string[] = [];
  const width = Math.max(loc.endColumn, e.context?.endColumn ?? 0);
  for (let c = 1; c <= width; c++) {
    const inLoc = c >= loc.column && c <= loc.endColumn;
    const inCtx = e.context !== undefined && c >= e.context.column && c <= e.context.endColumn;
    const ch = line[c - 1];
    marks.push(inLoc ? '^' : inCtx ? '~' : ch === '\t' ? '\t' : ' ');
  }
  return `${head}Error: ${e.message}\n${line}\n${marks.join('')}\n`;
}
