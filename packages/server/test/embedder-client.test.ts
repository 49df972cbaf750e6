import type { RestEmbedderSettings } from '@shoal/engine'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EmbedderClient, EmbeddingError } from '../src/internal/embedder-client.ts'
import { type EmbeddingService, startEmbeddingService } from './harness/embedding-service.ts'

// The HTTP side of `rest` embedders against a real local service (harness/embedding-service.ts).

let service: EmbeddingService

beforeEach(async () => {
  service = await startEmbeddingService({ dimensions: 8 })
})
afterEach(() => service.close())

function single(url = service.url): RestEmbedderSettings {
  return {
    source: 'rest',
    url,
    apiKey: 'a-key-the-service-echoes-back',
    dimensions: 8,
    distance: 'cosine',
    documentTemplate: '{{doc.t}}',
    documentTemplateMaxBytes: 400,
    request: { text: '{{text}}' },
    response: { embedding: '{{embedding}}' },
    headers: {},
  }
}

describe('EmbedderClient', () => {
  it('keeps at most queryCacheEntries query vectors, least recently used dropped first', async () => {
    const client = new EmbedderClient({ queryCacheEntries: 2 })
    for (const q of ['a', 'b', 'a', 'c']) await client.embedQuery('e', single(), q)
    // `a` was used after `b`, so `c` pushed `b` out.
    expect(service.texts).toEqual(['a', 'b', 'c'])
    await client.embedQuery('e', single(), 'a')
    await client.embedQuery('e', single(), 'b')
    expect(service.texts).toEqual(['a', 'b', 'c', 'b'])
  })

  it('runs one-text requests concurrently and returns the vectors in order', async () => {
    const client = new EmbedderClient({ concurrency: 3 })
    const texts = Array.from({ length: 7 }, (_, i) => `text ${i}`)
    const vectors = await client.embed('e', single(), texts)
    expect(vectors).toHaveLength(7)
    const again = await client.embed('e', single(), ['text 4'])
    expect(vectors[4]).toEqual(again[0])
  })

  it('names the URL without its query string, and never the key', async () => {
    const client = new EmbedderClient({ retries: 0 })
    service.failNext(1, 400)
    const url = `${service.url}?token=hidden-in-url`
    const error = await client.embed('e', single(url), ['x']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EmbeddingError)
    expect((error as EmbeddingError).code).toBe('vector_embedding_error')
    expect((error as Error).message).toContain(service.url)
    expect((error as Error).message).not.toContain('hidden-in-url')
    expect((error as Error).message).not.toContain('a-key-the-service-echoes-back')
  })

  it('fails at once on an unreachable port after its retries, as a typed error', async () => {
    const client = new EmbedderClient({ retries: 1, backoffMs: 1 })
    const closed = service.url
    await service.close()
    const error = await client.embed('e', single(closed), ['x']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EmbeddingError)
    expect((error as Error).message).toMatch(/cannot connect .*after 2 attempts/)
    service = await startEmbeddingService()
  })
})
