import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// Bad input gets the status and code Meilisearch gives it, and changes nothing.

const MASTER = 'bad-input-master-key-0123456789'
const LIMIT_BYTES = 64 * 1024

describe('bad input against a shoal process', () => {
  let server: ServerProcess
  let removeDir: () => Promise<void>

  async function call(
    method: string,
    path: string,
    options: { body?: string | Buffer; contentType?: string; key?: string | null } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const headers: Record<string, string> = {}
    if (options.key !== null) headers.authorization = `Bearer ${options.key ?? MASTER}`
    if (options.contentType !== undefined) headers['content-type'] = options.contentType
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
    })
    const text = await response.text()
    return { status: response.status, body: text === '' ? {} : JSON.parse(text), headers: response.headers }
  }

  async function waitTask(uid: number): Promise<Record<string, unknown>> {
    for (;;) {
      const task = (await call('GET', `/tasks/${uid}`)).body
      if (task.status === 'succeeded' || task.status === 'failed') return task
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Everything a bad request must leave as it was. */
  async function state() {
    const tasks = (await call('GET', '/tasks?limit=1000')).body
    const documents = (await call('GET', '/indexes/movies/documents?limit=1000')).body
    const indexes = (await call('GET', '/indexes')).body
    return { tasks, documents, indexes }
  }

  async function expectError(
    request: Promise<{ status: number; body: Record<string, unknown> }>,
    status: number,
    code: string,
  ): Promise<void> {
    const before = await state()
    const { status: got, body } = await request
    expect({ status: got, code: body.code }).toEqual({ status, code })
    expect(Object.keys(body).sort()).toEqual(['code', 'link', 'message', 'type'])
    expect(body.message).toEqual(expect.any(String))
    expect(await state()).toEqual(before)
  }

  beforeAll(async () => {
    const tmp = await tempDir('shoal-bad-')
    removeDir = tmp.remove
    server = await startServerProcess(tmp.dir, [
      '--master-key',
      MASTER,
      '--payload-limit-bytes',
      String(LIMIT_BYTES),
    ])
    const created = await call('POST', '/indexes', {
      body: '{"uid":"movies","primaryKey":"id"}',
      contentType: 'application/json',
    })
    expect(created.status).toBe(202)
    await waitTask(created.body.taskUid as number)
    const settings = await call('PATCH', '/indexes/movies/settings', {
      body: JSON.stringify({ filterableAttributes: ['genre'] }),
      contentType: 'application/json',
    })
    await waitTask(settings.body.taskUid as number)
    const added = await call('POST', '/indexes/movies/documents', {
      body: JSON.stringify([
        { id: 1, title: 'Alien', genre: 'scifi' },
        { id: 2, title: 'Amélie', genre: 'romance' },
      ]),
      contentType: 'application/json',
    })
    expect((await waitTask(added.body.taskUid as number)).status).toBe('succeeded')
  })
  afterAll(async () => {
    await server.stop()
    await removeDir()
  })

  it('invalid JSON: 400 malformed_payload for documents, bad_request elsewhere', async () => {
    const body = '[{"id": 3, "title": '
    await expectError(
      call('POST', '/indexes/movies/documents', { body, contentType: 'application/json' }),
      400,
      'malformed_payload',
    )
    await expectError(
      call('POST', '/indexes', { body: '{"uid":', contentType: 'application/json' }),
      400,
      'bad_request',
    )
    await expectError(
      call('POST', '/indexes/movies/search', { body: '{q:1}', contentType: 'application/json' }),
      400,
      'bad_request',
    )
  })

  it('wrong or missing content type: 415', async () => {
    const body = JSON.stringify([{ id: 3 }])
    await expectError(
      call('POST', '/indexes/movies/documents', { body, contentType: 'text/plain' }),
      415,
      'invalid_content_type',
    )
    await expectError(
      call('POST', '/indexes/movies/documents', { body: Buffer.from(body) }),
      415,
      'missing_content_type',
    )
    await expectError(
      call('PATCH', '/indexes/movies/settings', { body: '{}', contentType: 'text/csv' }),
      415,
      'invalid_content_type',
    )
  })

  it('oversized body: 413 payload_too_large', async () => {
    const docs = Array.from({ length: 2000 }, (_, i) => ({ id: 100 + i, title: 'x'.repeat(40) }))
    await expectError(
      call('POST', '/indexes/movies/documents', {
        body: JSON.stringify(docs),
        contentType: 'application/json',
      }),
      413,
      'payload_too_large',
    )
  })

  it('unknown index: 404 index_not_found on reads', async () => {
    await expectError(call('GET', '/indexes/nope'), 404, 'index_not_found')
    await expectError(call('GET', '/indexes/nope/documents'), 404, 'index_not_found')
    await expectError(
      call('POST', '/indexes/nope/search', { body: '{"q":"a"}', contentType: 'application/json' }),
      404,
      'index_not_found',
    )
    await expectError(call('GET', '/indexes/nope/settings'), 404, 'index_not_found')
    await expectError(call('GET', '/indexes/bad%20uid'), 400, 'invalid_index_uid')
  })

  it('invalid filter: 400 with the filter error code, for search and for delete-by-filter', async () => {
    const search = (filter: unknown) =>
      call('POST', '/indexes/movies/search', {
        body: JSON.stringify({ q: '', filter }),
        contentType: 'application/json',
      })
    await expectError(search('genre = '), 400, 'invalid_search_filter')
    await expectError(search('title = Alien'), 400, 'invalid_search_filter')
    await expectError(search(42), 400, 'invalid_search_filter')
    await expectError(
      call('POST', '/indexes/movies/documents/delete', {
        body: '{"filter":"genre >"}',
        contentType: 'application/json',
      }),
      400,
      'invalid_document_filter',
    )
  })

  it('other invalid parameters: 400 with a specific code', async () => {
    const search = (body: unknown) =>
      call('POST', '/indexes/movies/search', { body: JSON.stringify(body), contentType: 'application/json' })
    await expectError(search({ limit: -1 }), 400, 'invalid_search_limit')
    await expectError(search({ facets: 'genre' }), 400, 'invalid_search_facets')
    await expectError(call('GET', '/indexes/movies/documents?limit=abc'), 400, 'invalid_document_limit')
    await expectError(
      call('PATCH', '/indexes/movies/settings', {
        body: '{"filterableAttributes":"genre"}',
        contentType: 'application/json',
      }),
      400,
      'invalid_settings_filterable_attributes',
    )
    await expectError(call('GET', '/tasks?statuses=done'), 400, 'invalid_task_statuses')
    await expectError(call('GET', '/tasks/999999'), 404, 'task_not_found')
  })

  it('missing primary key: the task fails with the engine code and no document is written', async () => {
    const before = (await call('GET', '/indexes/movies/documents?limit=1000')).body
    const missing = await call('POST', '/indexes/movies/documents', {
      body: JSON.stringify([{ id: 10, title: 'ok' }, { title: 'no id' }]),
      contentType: 'application/json',
    })
    expect(missing.status).toBe(202)
    const task = await waitTask(missing.body.taskUid as number)
    expect(task.status).toBe('failed')
    expect((task.error as { code: string }).code).toBe('missing_document_id')
    expect((await call('GET', '/indexes/movies/documents?limit=1000')).body).toEqual(before)

    const inferred = await call('POST', '/indexes/fresh/documents', {
      body: JSON.stringify([{ title: 'no id anywhere' }]),
      contentType: 'application/json',
    })
    const failed = await waitTask(inferred.body.taskUid as number)
    expect(failed.status).toBe('failed')
    expect((failed.error as { code: string }).code).toBe('primary_key_inference_failed')
    expect((await call('GET', '/indexes/fresh')).status).toBe(404)
  })

  it('invalid or missing API key: 403 invalid_api_key, 401 missing_authorization_header', async () => {
    await expectError(call('GET', '/indexes/movies/documents', { key: 'not-a-key' }), 403, 'invalid_api_key')
    await expectError(
      call('POST', '/indexes/movies/documents', {
        key: 'not-a-key',
        body: '[{"id":9}]',
        contentType: 'application/json',
      }),
      403,
      'invalid_api_key',
    )
    await expectError(call('GET', '/indexes', { key: null }), 401, 'missing_authorization_header')
    expect((await call('GET', '/health', { key: null })).status).toBe(200)
  })
})
