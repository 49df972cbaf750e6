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
