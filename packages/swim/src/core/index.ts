// The deterministic protocol core: no clocks, timers, sockets or unseeded randomness.
export { BroadcastQueue, estimateUpdateBytes } from './broadcast-queue.ts'
export { ConfigError, LAN, LOCAL, resolveConfig, type SwimConfig, WAN } from './config.ts'
export { type Random, randomInt, seededRandom, shuffleInPlace } from './random.ts'
export {
  Awareness,
  detectionBoundMs,
  expectedConfirmations,
  Suspicion,
  suspicionMinTimeoutMs,
  suspicionTimeoutMs,
} from './suspicion.ts'
export { SwimCore, type SwimCoreOptions } from './swim-core.ts'
export type {
  Member,
  MemberRecord,
  MemberState,
  Message,
  Metadata,
  Outgoing,
  Ready,
  SwimEvent,
  Update,
} from './types.ts'
