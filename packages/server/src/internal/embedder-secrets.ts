/**
 * What of a `rest` embedder leaves the server: its `apiKey` is stored (the engine keeps it to
 * call the embedder, and dumps and backups carry it so a restore works), but every answer of the
 * settings API and every task's `details` show it masked as Meilisearch does (`maskApiKey`), and
 * the logger redacts `apiKey` fields (server.ts). A cluster refuses `rest` embedders until its
 * nodes route embedding work to one another.
 */

import { maskApiKey } from '@shoal/engine'
import { badRequest } from './errors.ts'
import { isPlainObject } from './request-body.ts'

/** `settings` (whole settings, a patch, or a task's details) with every embedder `apiKey` masked. */
export function withMaskedKeys<T>(settings: T): T {
  if (!isPlainObject(settings) || !isPlainObject(settings.embedders)) return settings
  return { ...settings, embedders: maskedEmbedders(settings.embedders) }
}

/** The `embedders` setting with every `apiKey` masked. */
export function maskedEmbedders(embedders: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, embedder] of Object.entries(embedders)) {
    out[name] =
      isPlainObject(embedder) && typeof embedder.apiKey === 'string'
        ? { ...embedder, apiKey: maskApiKey(embedder.apiKey) }
        : embedder
  }
  return out
}

/** Refuses a settings patch that asks a cluster for a `rest` embedder. */
export function refuseRestOnCluster(settings: unknown): void {
  if (!isPlainObject(settings) || !isPlainObject(settings.embedders)) return
  for (const [name, embedder] of Object.entries(settings.embedders)) {
    if (isPlainObject(embedder) && embedder.source === 'rest') {
      throw badRequest(
        'invalid_settings_embedders',
        `Embedder \`${name}\`: \`rest\` embedders are not available on a cluster yet (only on a standalone node); use a \`userProvided\` embedder and send the vectors.`,
      )
    }
  }
}
