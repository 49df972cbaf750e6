import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// The dashboard's page and files, and the JSON it reads beside the API, over plain HTTP
// (docs/dashboard.md). The page is public; every data call needs a key.

const MASTER = 'dashboard-http-master-key-000000'
let node: InProcessServer

beforeAll(async () => {
  node = await startInProcess(MASTER)
})

afterAll(async () => {
  await node?.close()
})

describe('the dashboard page', () => {
  it('serves the page at /dashboard as HTML with a restrictive Content-Security-Policy, no key needed', async () => {
    const response = await fetch(`${node.server.url}/dashboard`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    const html = await response.text()
    expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>')
    expect(html).not.toMatch(/<script>|style="|https?:\/\//)
  })

  it('serves its modules and stylesheet with their content types', async () => {
    for (const [file, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['api.js', 'text/javascript; charset=utf-8'],
      ['dashboard.css', 'text/css; charset=utf-8'],
    ]) {
      const response = await fetch(`${node.server.url}/dashboard/${file}`)
      expect(response.status, file).toBe(200)
      expect(response.headers.get('content-type'), file).toBe(type)
      expect(response.headers.get('content-security-policy'), file).toContain("default-src 'none'")
      await response.arrayBuffer()
    }
  })

  it('answers 404 in the API error shape for any other name, path tricks included', async () => {
    for (const name of [
      'nope.js',
      '..%2Fpackage.json',
      '%2e%2e%2F%2e%2e%2Fpackage.json',
      'index.d.ts',
      'app.js.map',
    ]) {
      const response = await fetch(`${node.server.url}/dashboard/${name}`)
      expect(response.status, name).toBe(404)
      expect(await response.json(), name).toMatchObject({ code: 'not_found', type: 'invalid_request' })
    }
  })

  it('refuses a query string it would otherwise ignore', async () => {
    const response = await fetch(`${node.server.url}/dashboard?theme=dark`)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'bad_request' })
  })
})

describe('GET /_node/stats', () => {
  it('needs a key with stats.get', async () => {
    const response = await fetch(`${node.server.url}/_node/stats`)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ code: 'missing_authorization_header' })
    const wrong = await fetch(`${node.server.url}/_node/stats`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(403)
  })

  it('counts the searches and writes this node answered since it started', async () => {
    const before = (await node.call('GET', '/_node/stats')).body
    expect(before).toMatchObject({ mode: 'standalone', nodeId: null, tasks: { queueDepth: 0 } })
    expect(before.startedAtMs).toBeLessThanOrEqual(before.atMs)
    await node.write('POST', '/indexes/counted/documents', [{ id: 1, title: 'one' }])
    await node.write('PUT', '/indexes/counted/documents', [{ id: 2, title: 'two' }])
    for (let i = 0; i < 3; i++)
      expect((await node.call('POST', '/indexes/counted/search', { q: 'one' })).status).toBe(200)
    expect((await node.call('GET', '/indexes/counted/search?q=two')).status).toBe(200)
    // A refused search is not an answered one.
    expect((await node.call('POST', '/indexes/counted/search', { q: 1 })).status).toBe(400)
    const after = (await node.call('GET', '/_node/stats')).body
    expect(after.requests.searches - before.requests.searches).toBe(4)
    expect(after.requests.writes - before.requests.writes).toBe(2)
    expect(after.startedAtMs).toBe(before.startedAtMs)
    expect(after.process.rssBytes).toBeGreaterThan(0)
  })

  it('refuses unknown parameters', async () => {
    expect((await node.call('GET', '/_node/stats?verbose=1')).status).toBe(400)
  })
})

describe('GET /_cluster/diagnosis on a standalone node', () => {
  it('answers 404 cluster_not_enabled, as the other cluster routes do', async () => {
    const response = await node.call('GET', '/_cluster/diagnosis')
    expect(response.status).toBe(404)
    expect(response.body.code).toBe('cluster_not_enabled')
  })
})
