/** The contract between the grammar and the compiler: what one command line or one dump line says. */

/** 1-based line and column: for argv, line 1 and the argument's index; for a dump, the text position. */
export interface Loc {
  line: number;
  column: number;
}

/**
 * One argument as iptables' getopt loop will see it. Options keep their spelling ("-nvL", "--dport=22").
 * Line and column are flat fields (not a Loc object): a 150,000-line dump has millions of arguments.
 */
export interface ArgNode {
  kind: 'bang' | 'long' | 'short' | 'word';
  text: string;
  /** Whether a part of it was in double quotes (iptables-restore treats quoted words as plain values). */
  quoted: boolean;
  line: number;
  column: number;
}

export interface CountersNode {
  packets: bigint;
  bytes: bigint;
  loc: Loc;
}

export interface CommandLineAst {
  args: ArgNode[];
}

export type DumpLineAst =
  | { kind: 'empty'; loc: Loc }
  | { kind: 'comment'; text: string; loc: Loc }
  | { kind: 'table'; name: string; loc: Loc }
  | { kind: 'chain'; name: string; policy: string | undefined; counters: string | undefined; loc: Loc }
  | { kind: 'commit'; loc: Loc }
  | { kind: 'rule'; counters: CountersNode | undefined; args: ArgNode[]; loc: Loc };

/** A syntax problem, as data; the CLI edge turns it into iptables' wording. */
export interface SyntaxProblem {
  message: string;
  loc: Loc;
}
