/**
 * Every failure is data until the CLI edge (src/cli), which prints it and exits.
 * Exit classes are iptables' own: OTHER_PROBLEM 1, PARAMETER_PROBLEM 2, VERSION_PROBLEM 3, RESOURCE_PROBLEM 4.
 */
export const enum Exit {
  Other = 1,
  Parameter = 2,
  Version = 3,
  Resource = 4,
}

/**
 * How the message is framed when printed:
 *  - 'param': `PROG v1.8.9 (nf_tables): MSG` then the "Try `PROG -h'" line (xtables_error PARAMETER_PROBLEM);
 *  - 'prefixed': `PROG v1.8.9 (nf_tables): MSG` alone (xtables_error with another status);
 *  - 'plain': MSG as it is (already a whole line, e.g. `iptables: No chain/target/match by that name.`);
 *  - 'bad-argument': the message line (if any) then the "Try" line (a stray word: "Bad argument `X'", exit 2);
 *  - 'nft': `PROG: MSG` (the nft variant's errno texts, exit 1).
 */
export type Framing = 'param' | 'prefixed' | 'plain' | 'bad-argument' | 'nft';

export class IptablesError extends Error {
  constructor(
    message: string,
    readonly status: Exit,
    readonly framing: Framing,
  ) {
    super(message);
    this.name = 'IptablesError';
  }
}

/** xtables_error(PARAMETER_PROBLEM, ...): exit 2 with the "Try" hint. */
export function paramProblem(message: string): IptablesError {
  return new IptablesError(message, Exit.Parameter, 'param');
}

/** xtables_error(OTHER_PROBLEM, ...): exit 1, prefixed, no hint. */
export function otherProblem(message: string): IptablesError {
  return new IptablesError(message, Exit.Other, 'prefixed');
}

/** A line printed as it is with the given exit status (e.g. the nft_strerror() family of messages). */
export function plainProblem(message: string, status: Exit): IptablesError {
  return new IptablesError(message, status, 'plain');
}

/** The kernel (here: our model of it) refused a change: `RULE_APPEND failed (Invalid argument): rule in chain X`. */
export function kernelRefused(op: string, reason: string, what: string): IptablesError {
  return new IptablesError(` ${op} failed (${reason}): ${what}`, Exit.Resource, 'prefixed');
}

/** The nft variant's nft_strerror() texts, printed as `PROG: TEXT` with exit 1. */
export const NFT_STRERROR = {
  noChain: 'No chain/target/match by that name.',
  badRule: 'Bad rule (does a matching rule exist in that chain?).',
  chainExists: 'Chain already exists.',
  fileExists: 'File exists.',
  insertTooBig: 'Index of insertion too big.',
  deleteTooBig: 'Index of deletion too big.',
  replaceTooBig: 'Index of replacement too big.',
  badPolicy: "Bad policy name. Run `dmesg' for more information.",
  badBuiltin: 'Bad built-in chain name.',
} as const;

/** `PROG: TEXT`, exit 1: how the CLI reports a failed nft operation. */
export function nftError(text: string): IptablesError {
  return new IptablesError(text, Exit.Other, 'nft');
}

export const VERSION = '1.8.9';
export const VARIANT = 'nf_tables';
export const VERSION_STRING = `v${VERSION} (${VARIANT})`;
