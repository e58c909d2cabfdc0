/** C string fields of extension info structs (XTOPT_PUT into char[N]), and their spelling in the state file. */

/** strncpy into a char[N] field: at most N-1 bytes survive (`max` = N-1). */
export function truncateBytes(s: string, max: number): string {
  const b = Buffer.from(s);
  return b.length <= max ? s : b.subarray(0, max).toString();
}

/** A value iptables-save prints bare but that would not read back as one word (empty, blanks, quotes). */
export function needsQuotes(s: string): boolean {
  return s === '' || /[\s"\\]/.test(s);
}

/**
 * ` VALUE` as one word of a rule line for iptables-restore's splitter (add_param_to_argv): bare when it can
 * be, else in double quotes with `"` and `\` escaped. stateText() uses it where save() prints a name bare.
 */
export function restoreWord(s: string): string {
  return needsQuotes(s) ? ` "${s.replace(/(["\\])/g, '\\$1')}"` : ` ${s}`;
}
