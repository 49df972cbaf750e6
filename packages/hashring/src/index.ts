// @shoal/hashring: consistent hashing, shard placement and minimal move plans.
export { HashRingError, type HashRingErrorCode } from './errors.ts'
export { hash64, shardOf } from './hash.ts'
export { planMoves } from './moves.ts'
export { type PlaceRequest, place } from './placement.ts'
export { DEFAULT_VNODES_PER_WEIGHT, HashRing, type HashRingOptions } from './ring.ts'
export type { LookupOptions, Move, NodeId, NodeSpec, Placement } from './types.ts'
