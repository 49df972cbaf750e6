import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_DOCUMENT_TEMPLATE,
  type Engine,
  maskApiKey,
  open,
  type RestEmbedderSettings,
  renderDocumentTemplate,
  restRequestBody,
  restResponseEmbeddings,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

let engine: Engine
let dir: string

const REST = {
  source: 'rest',
  url: 'http://127.0.0.1:9/embed',
  apiKey: 'sk-0123456789abcdef',
  dimensions: 2,
  documentTemplate: 'A {{ doc.kind }} named {{doc.title}}',
  request: { input: ['{{text}}', '{{..}}'], model: 'm' },
  response: { data: [{ embedding: '{{embedding}}' }, '{{..}}'] },
  headers: { 'X-Team': 'search' },
} as unknown as RestEmbedderSettings

beforeEach(async () => {
  dir = await tempDir()
  engine = await open(dir, { sync: 'none' })
  await engine.createIndex('things', { primaryKey: 'id' })
})

afterEach(async () => {
  await engine.close()
  await removeDir(dir)
})

const settingsError = expect.objectContaining({ code: 'invalid_settings_embedders' })

describe('rest embedder settings', () => {
  it('are stored with their defaults, headers lower-cased', async () => {
    const settings = await engine.index('things').updateSettings({ embedders: { e: REST } })
    expect(settings.embedders.e).toEqual({
      ...REST,
      distance: 'cosine',
      documentTemplateMaxBytes: 400,
      headers: { 'x-team': 'search' },
    })
  })
  it('patch the fields of a rest embedder of the same name; a null field returns to its default', async () => {
    const things = engine.index('things')
    await things.updateSettings({ embedders: { e: REST } })
    const next = await things.updateSettings({
      embedders: { e: { apiKey: 'another-key', documentTemplate: null } as never },
    })
    const e = next.embedders.e as RestEmbedderSettings
    expect(e.apiKey).toBe('another-key')
    expect(e.documentTemplate).toBe(DEFAULT_DOCUMENT_TEMPLATE)
    expect(e.url).toBe(REST.url)
  })
  it('keep the key when the masked key is sent back', async () => {
    const things = engine.index('things')
    await things.updateSettings({ embedders: { e: REST } })
    expect(maskApiKey(REST.apiKey!)).toBe('sk-01XXXXXX...')
    expect(maskApiKey('short')).toBe('XXXXXX...')
    const next = await things.updateSettings({ embedders: { e: { ...REST, apiKey: 'sk-01XXXXXX...' } } })
    expect((next.embedders.e as RestEmbedderSettings).apiKey).toBe(REST.apiKey)
  })
  it.each([
    ['no url', { ...REST, url: undefined }],
    ['a url that is not http', { ...REST, url: 'ftp://example.test/' }],
    ['no request', { ...REST, request: undefined }],
    ['a request without {{text}}', { ...REST, request: { input: 'x' } }],
    ['{{text}} twice', { ...REST, request: ['{{text}}', '{{text}}'] }],
    ['{{..}} not last', { ...REST, request: { input: ['{{..}}', '{{text}}'] } }],
    ['{{..}} in the request only', { ...REST, response: { data: '{{embedding}}' } }],
    ['a response without {{embedding}}', { ...REST, response: {} }],
    ['a Liquid tag', { ...REST, documentTemplate: '{% if doc.x %}x{% endif %}' }],
    ['a Liquid filter', { ...REST, documentTemplate: '{{ doc.title | upcase }}' }],
    ['another variable', { ...REST, documentTemplate: '{{ fields }}' }],
    ['an unclosed placeholder', { ...REST, documentTemplate: '{{ doc.title' }],
    ['documentTemplateMaxBytes 0', { ...REST, documentTemplateMaxBytes: 0 }],
    ['an Authorization header', { ...REST, headers: { Authorization: 'Bearer x' } }],
    ['a multi-line header', { ...REST, headers: { 'x-a': 'a\r\nb' } }],
    ['an unknown field', { ...REST, binaryQuantized: true }],
    ['no dimensions', { ...REST, dimensions: undefined }],
  ])('refuse %s', async (_why, embedder) => {
    await expect(
      engine.index('things').updateSettings({ embedders: { e: embedder as never } }),
    ).rejects.toThrow(settingsError)
    expect(engine.index('things').getSettings().embedders).toEqual({})
  })
  it('refuse a rest field on a userProvided embedder', async () => {
    await expect(
      engine.index('things').updateSettings({
        embedders: { e: { source: 'userProvided', dimensions: 2, url: 'http://x' } as never },
      }),
    ).rejects.toThrow(settingsError)
  })
})

describe('rest embedder vectors in the engine', () => {
  it('refuses a document without its vector, applying nothing', async () => {
    const things = engine.index('things')
    await things.updateSettings({ embedders: { e: REST } })
    await expect(
      things.addDocuments([
        { id: 1, title: 'a', _vectors: { e: [1, 0] } },
        { id: 2, title: 'b' },
      ]),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_document_fields' }))
    expect(things.getDocuments().total).toBe(0)
  })
  it('keeps a vector the document brings and searches it', async () => {
    const things = engine.index('things')
    await things.updateSettings({ embedders: { e: REST } })
    await things.addDocuments([
      { id: 1, title: 'a', _vectors: { e: [1, 0] } },
      { id: 2, title: 'b', _vectors: { e: [0, 1] } },
    ])
    // A partial update keeps the stored vector (the merged document still holds it).
    await things.updateDocuments([{ id: 2, title: 'c' }])
    const result = things.search({ vector: [0.1, 1], hybrid: { embedder: 'e', semanticRatio: 1 } })
    expect(result.hits.map((h) => h.id)).toEqual([2, 1])
  })
  it('refuses a query without a vector, naming the server', async () => {
    const things = engine.index('things')
    await things.updateSettings({ embedders: { e: REST } })
    expect(() => things.search({ q: 'x', hybrid: { embedder: 'e' } })).toThrow(/server embeds/)
  })
  it('refuses a rest embedder while a stored document has no vector for it', async () => {
    const things = engine.index('things')
    await things.addDocuments([{ id: 1, title: 'a' }])
    await expect(things.updateSettings({ embedders: { e: REST } })).rejects.toThrow(settingsError)
    // With the vectors stored first (as the server does), the embedder is accepted and searched.
    await things.updateDocuments([{ id: 1, _vectors: { e: [1, 1] } }])
    await things.updateSettings({ embedders: { e: REST } })
    expect(things.search({ vector: [1, 1], hybrid: { embedder: 'e', semanticRatio: 1 } }).hits).toHaveLength(
      1,
    )
  })
})

describe('rest embedder templates', () => {
  it('render doc placeholders, nested paths and missing values', () => {
    const doc = { id: 1, title: 'Dune', author: { name: 'Herbert' }, tags: ['sf', 'classic'], n: null }
    expect(
      renderDocumentTemplate(
        '{{doc.title}} by {{ doc.author.name }} [{{doc.tags}}]{{doc.n}}{{doc.x}}',
        doc,
        400,
        ['*'],
      ),
    ).toBe('Dune by Herbert [sf, classic]')
  })
  it('render the default template from the searchable attributes', () => {
    const doc = { id: 1, title: 'Dune', year: 1965, note: null, _vectors: { e: [1] } }
    expect(renderDocumentTemplate(DEFAULT_DOCUMENT_TEMPLATE, doc, 400, ['*'])).toBe(
      'id: 1\ntitle: Dune\nyear: 1965\n',
    )
    expect(renderDocumentTemplate(DEFAULT_DOCUMENT_TEMPLATE, doc, 400, ['title'])).toBe('title: Dune\n')
  })
  it('cut the text to documentTemplateMaxBytes on a character boundary', () => {
    expect(renderDocumentTemplate('{{doc.t}}', { t: 'ééé' }, 5, ['*'])).toBe('éé')
    expect(renderDocumentTemplate('{{doc.t}}', { t: 'abc' }, 2, ['*'])).toBe('ab')
  })
  it('build batched requests and read batched responses', () => {
    expect(restRequestBody(REST.request, ['a', 'b'])).toEqual({ input: ['a', 'b'], model: 'm' })
    expect(restRequestBody({ text: '{{text}}' }, ['a'])).toEqual({ text: 'a' })
    const body = { data: [{ embedding: [1, 2] }, { embedding: [3, 4] }] }
    expect(restResponseEmbeddings(REST.response, body, 2)).toEqual([
      [1, 2],
      [3, 4],
    ])
    expect(restResponseEmbeddings(REST.response, body, 3)).toMatch(/expected 3 embeddings/)
    expect(restResponseEmbeddings(REST.response, { data: [{ embedding: 'x' }] }, 1)).toMatch(
      /array of numbers/,
    )
    expect(restResponseEmbeddings('{{embedding}}', [0.5, 1], 1)).toEqual([[0.5, 1]])
  })
})
