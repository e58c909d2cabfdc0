/**
 * The shape of a recorded fixture file (fixtures/recorded/*.json), shared by the recorder that writes it, the
 * differ that compares two recordings, and the tests that replay it.
 */

/** One command as the real binary ran it: what it printed and how it exited. */
export interface Step {
  cmd: string;
  argv: string[];
  stdin: string | null;
  stdout: string;
  stderr: string;
  exit: number;
  /** Set when the command was killed by a signal (e.g. the recorder's timeout). */
  signal?: string;
}

/** A corpus case: its steps ran in one fresh network namespace. */
export interface RecordedCase {
  name: string;
  /** Line of the `## name` header in the corpus file. */
  line: number;
  steps: Step[];
}

/** Where and how a file was recorded; a recorder may add keys of its own. */
export interface Provenance {
  [key: string]: string;
  recorder: string;
  corpus: string;
  iptables: string;
  kernel: string;
  recordedAt: string;
}

export interface RecordedFile {
  provenance: Provenance;
  cases: RecordedCase[];
}
