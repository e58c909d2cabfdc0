/** C string fields of target info structs (XTOPT_PUT into char[N]). */

/** strncpy into a char[N] field: at most N-1 bytes survive (`max` = N-1). */
export function truncateBytes(s: string, max: number): string {
  const b = Buffer.from(s);
  return b.length <= max ? s : b.subarray(0, max).toString();
}
