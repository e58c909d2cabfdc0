/** Turning an IptablesError into the exact lines iptables prints, for a given program name. */
import { IptablesError, VERSION_STRING } from '../messages';

export function tryHelp(program: string): string {
  return `Try \`${program} -h' or '${program} --help' for more information.\n`;
}

/** `line` is set inside iptables-restore ("Error occurred at line: N"). */
export function formatError(e: IptablesError, program: string, line?: number): string {
  const at = line !== undefined ? `Error occurred at line: ${line}\n` : '';
  switch (e.framing) {
    case 'param':
      return `${program} ${VERSION_STRING}: ${e.message}\n${at}${tryHelp(program)}`;
    case 'bad-argument':
      return `${e.message ? `${e.message}\n` : ''}${at}${tryHelp(program)}`;
    case 'prefixed':
      return `${program} ${VERSION_STRING}: ${e.message}\n`;
    case 'nft':
      return `${program}: ${e.message}\n`;
    case 'plain':
      return `${e.message}\n`;
  }
}
