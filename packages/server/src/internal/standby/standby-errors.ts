import { ApiError } from '../errors.ts'

// The typed HTTP errors of the hot standby (docs/standby.md), in Meilisearch's error shape.

/** 409: this node is a standby; writes go to the primary until it is promoted. */
export function standbyReadOnly(primary: string): ApiError {
  return new ApiError(
    409,
    'standby_read_only',
    `This node is a hot standby of ${primary}: it refuses writes until it is promoted (POST /admin/standby/promote).`,
    'system',
  )
}

/** 409: a standby was promoted past this primary's epoch; it never takes a write again. */
export function primaryFenced(epoch: number, newEpoch: number): ApiError {
  return new ApiError(
    409,
    'primary_fenced',
    `This node was the primary at epoch ${epoch}; its standby was promoted at epoch ${newEpoch}, so it refuses writes. Send writes to the new primary.`,
    'system',
  )
}

/** 503: semi_sync with `fail`, and the standby has not acknowledged writes in time. */
export function standbyUnavailable(timeoutMs: number): ApiError {
  return new ApiError(
    503,
    'standby_unavailable',
    `The hot standby has not acknowledged writes for over ${timeoutMs} ms; in semi_sync mode with semi_sync_on_timeout = fail, writes are refused until it catches up.`,
    'system',
  )
}

/** 503: a primary that restarted has not yet confirmed with its standby that it is still the primary. */
export function standbyEpochUnknown(): ApiError {
  return new ApiError(
    503,
    'standby_epoch_unknown',
    'This primary restarted and has not yet reached its hot standby to confirm that it was not promoted meanwhile; writes are refused until it has.',
    'system',
  )
}

/** 409: a search on a standby must accept stale results. */
export function staleReadRequired(): ApiError {
  return new ApiError(
    409,
    'stale_read_required',
    'This node is a hot standby (or a fenced primary): its answers may lag the primary. Search with `"consistency": "eventual"` to accept that, or search the primary.',
  )
}

/** 409: promotion asked of a node that is not a standby. */
export function notAStandby(role: string): ApiError {
  return new ApiError(409, 'not_a_standby', `This node is not a hot standby (it is ${role}).`)
}

/** 503: a primary with a witness holds no valid lease (it cannot reach the witness). */
export function witnessLeaseExpired(): ApiError {
  return new ApiError(
    503,
    'witness_lease_expired',
    'This primary cannot renew its lease at the witness: it takes no writes until it can, since its standby may be promoted meanwhile.',
    'system',
  )
}
