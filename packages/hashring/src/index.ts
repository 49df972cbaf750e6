// @shoal/hashring: consistent hashing, shard placement and minimal move plans.
export { HashRingError, type HashRingErrorCode } from './errors.ts'
export { hash64, shardOf } from './hash.ts'
