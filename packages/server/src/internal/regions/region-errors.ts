import { ApiError, badRequest } from '../errors.ts'

// The typed HTTP errors of multi-region replication (docs/multi-region.md), in Meilisearch's
// error shape.

/** 400: a `PATCH /admin/regions` body that is not one we take. */
export function invalidRegionLink(message: string): ApiError {
  return badRequest('invalid_region_link', message)
}

/** 409: the node runs no region link (start it with region_name, region_p2p_addr and the key). */
export function regionsNotConfigured(): ApiError {
  return new ApiError(
    409,
    'regions_not_configured',
    'This node has no region link: start it with region_name, region_p2p_addr and region_key_file (or SHOAL_REGION_KEY).',
    'system',
  )
}

/** 409: a write a replicated index cannot carry to other regions. */
export function regionUnsupportedOperation(index: string, what: string): ApiError {
  return new ApiError(
    409,
    'region_unsupported_operation',
    `Index \`${index}\` is replicated to other regions, which cannot replay ${what}: remove it from replication first (PATCH /admin/regions with \`"indexes": { "${index}": null }\`), or delete the documents by id.`,
    'invalid_request',
  )
}

/** 404: no conflict with this id in the conflict log. */
export function conflictNotFound(id: string): ApiError {
  return new ApiError(
    404,
    'conflict_not_found',
    `No conflict \`${id}\` in the conflict log.`,
    'invalid_request',
  )
}

/** 409: this conflict was already resolved. */
export function conflictResolved(id: string): ApiError {
  return new ApiError(
    409,
    'conflict_already_resolved',
    `Conflict \`${id}\` is already resolved.`,
    'invalid_request',
  )
}

/**
 * 503: semi_sync, and no remote region acknowledged the write within the timeout. The write is
 * durable in this region and is still replicated later; only its acknowledgement failed.
 */
export function regionAckTimeout(index: string, seq: number, timeoutMs: number): ApiError {
  return new ApiError(
    503,
    'region_ack_timeout',
    `No remote region acknowledged write ${seq} of index \`${index}\` within ${timeoutMs} ms (semi_sync). It is durable in this region and will still be replicated when a region is reachable; retry it, or check GET /admin/regions.`,
    'system',
  )
}

/** 409: a single-writer index is written by another region (or this one was replaced by a promotion). */
export function regionNotWriter(index: string, writer: string, epoch: number): ApiError {
  return new ApiError(
    409,
    'region_not_writer',
    `Index \`${index}\` is single-writer and its writer is region \`${writer}\` (epoch ${epoch}): send writes there, or promote this region if \`${writer}\` is lost (POST /admin/regions/{name}/promote).`,
    'system',
  )
}

/**
 * 503: this region is the configured writer of a single-writer index, but since it started it has
 * reached no other region to learn whether it was replaced by a promotion meanwhile.
 */
export function regionEpochUnknown(index: string): ApiError {
  return new ApiError(
    503,
    'region_epoch_unknown',
    `This region writes the single-writer index \`${index}\` but has not reached another region since it started, so it cannot tell whether it was replaced by a promotion; writes are refused until it has (or until it is promoted itself, POST /admin/regions/{name}/promote).`,
    'system',
  )
}

/** 400: a promotion this region cannot carry out. */
export function invalidRegionPromotion(message: string): ApiError {
  return badRequest('invalid_region_promotion', message)
}

/**
 * 409: a region link feature a cluster region does not have in this version (docs/multi-region.md,
 * "Regions made of clusters"): `what` names it.
 */
export function regionClusterUnsupported(what: string): ApiError {
  return new ApiError(
    409,
    'region_cluster_unsupported',
    `A region made of a cluster does not support ${what} in this version (docs/multi-region.md, "Limits").`,
    'invalid_request',
  )
}
