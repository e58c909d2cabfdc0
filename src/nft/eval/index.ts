/**
 * The nft rule evaluator and `nft monitor trace` printer: runBaseChain() walks one base chain of a table for a
 * packet (src/nft/eval/walk.ts, rules compiled once from their text by compile.ts), monitorLines() prints the
 * trace lines nft 1.0.6 prints for its events (monitor.ts, formats described there).
 */
export type { NftHook, NftEnv, NftVerdict, NftTraceEvent, NftChainResult } from './types';
export { runBaseChain } from './walk';
export { monitorLines, packetLine, startMonitor, monitorText, type MonitorOptions, type L4Checksum } from './monitor';
export { compileRule } from './compile';
