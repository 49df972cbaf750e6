import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, type Json, startInProcess } from './harness/in-process.ts'

// Property: whatever the body of a search, filter, settings or documents
// request, the server never answers 500, a task never fails with an internal
// error, and a request that is refused (or a task that fails) leaves the data
// as it was. Failures print their seed; `SEED=… pnpm test` replays one.

const SEED = process.env.SEED === undefined || process.env.SEED === '' ? 20_261_206 : Number(process.env.SEED)
const RUNS = 120

const MOVIES = [
  { id: 1, title: 'Star Wars', genre: 'scifi', year: 1977, tags: ['space'], _vectors: { e: [1, 0, 0] } },
  { id: 2, title: 'Amélie', genre: 'romance', year: 2001, tags: [], _vectors: { e: [0, 1, 0] } },
  { id: 3, title: 'Alien', genre: 'scifi', year: 1979, rating: null, _vectors: { e: [0.5, 0.5, 0] } },
  { id: 4, title: 'The Notebook', genre: 'romance', year: 2004, nested: { a: { b: 1 } } },
]

const ATTRIBUTES = ['title', 'genre', 'year', 'tags', 'rating', 'nested.a.b', 'id', '*', '_vectors', '']

/** Mostly plausible values, sometimes anything at all. */
function plausible<T>(...arbitraries: fc.Arbitrary<T>[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.oneof(...arbitraries) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(null, -1, 1.5, 2 ** 31, 2 ** 53, 1e308, '', [], {}, true) },
  )
}

const attribute = fc.constantFrom(...ATTRIBUTES)
const attributes = fc.array(attribute, { maxLength: 4 })

/** `filterableAttributes` entries: names and Meilisearch's rule objects, patterns with `*`. */
const filterableRule = fc.record(
  {
    attributePatterns: plausible(
      fc.array(
        fc.oneof(
          attribute,
          attribute.map((a) => `${a}*`),
        ),
        { maxLength: 2 },
      ),
    ),
    features: plausible(
      fc.record(
        {
          facetSearch: plausible(fc.boolean()),
          filter: plausible(
            fc.record(
              { equality: plausible(fc.boolean()), comparison: plausible(fc.boolean()) },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
)
const filterables = fc.array(fc.oneof(attribute, filterableRule), { maxLength: 4 })

const filterString: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      attribute,
      fc.constantFrom(
        '=',
        '!=',
        '>',
        '>=',
        '<',
        '<=',
        ' TO ',
        ' IN ',
        ' EXISTS',
        ' IS NULL',
        ' IS EMPTY',
        ' NOT IN ',
      ),
      fc.oneof(
        fc.constantFrom('scifi', '1977', '[scifi, romance]', '"a b"', "'x'", '2000 TO 1', '[', ']'),
        fc.string(),
      ),
    )
    .map(([a, op, v]) => `${a}${op}${v}`),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => `${'('.repeat(n)}genre = scifi${')'.repeat(n)}`),
  fc.integer({ min: 1, max: 3000 }).map((n) => `${'NOT '.repeat(n)}genre = scifi`),
  fc.constantFrom(
    'genre = scifi AND year > 1978',
    'year 1970 TO 1980 OR genre = romance',
    'AND',
    'NOT',
    '(',
    '""',
  ),
)

const filter = plausible<unknown>(
  filterString,
  fc.array(fc.oneof(filterString, fc.array(filterString, { maxLength: 3 })), { maxLength: 3 }),
)

const vector = plausible<unknown>(
  fc.array(fc.double({ noNaN: true }), { minLength: 3, maxLength: 3 }),
  fc.array(fc.double(), { maxLength: 5 }),
)

/** A few keys of a record at a time, so that one bad field does not hide the others' paths. */
function someOf<T extends Record<string, unknown>>(
  full: fc.Arbitrary<T>,
  most: number,
): fc.Arbitrary<Partial<T>> {
  return full.chain((record) =>
    fc
      .subarray(Object.keys(record), { maxLength: most })
      .map((keys) => Object.fromEntries(keys.map((k) => [k, record[k]])) as Partial<T>),
  )
}

const searchBody = someOf(
  fc.record({
    q: plausible(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('star', 'alien war', '"star wars"', '-star', 'ámélie'),
    ),
    filter,
    facets: plausible(attributes),
    sort: plausible(
      attributes.map((a) => a.map((x, i) => `${x}:${i % 2 === 0 ? 'asc' : 'desc'}`)),
      attributes,
    ),
    offset: plausible(fc.nat(10), fc.integer()),
    limit: plausible(fc.nat(30), fc.integer({ min: 65_000, max: 200_000 })),
    page: plausible(fc.nat(5)),
    hitsPerPage: plausible(fc.nat(5)),
    attributesToRetrieve: plausible(attributes),
    attributesToHighlight: plausible(attributes),
    attributesToCrop: plausible(attributes),
    cropLength: plausible(fc.nat(20)),
    showRankingScore: plausible(fc.boolean()),
    vector,
    hybrid: plausible(
      fc.record({
        embedder: fc.constantFrom('e', 'missing', ''),
        semanticRatio: fc.double({ min: -1, max: 2 }),
      }),
    ),
    matchingStrategy: plausible(fc.constantFrom('last', 'all', 'frequency', 'none')),
    distinct: plausible(attribute),
    rankingScoreThreshold: plausible(fc.double({ min: -1, max: 2 })),
  }),
  4,
)

const similarBody = someOf(
  fc.record({
    id: plausible<unknown>(fc.constantFrom(1, 2, 3, 4, 99, '1', 'bad id!')),
    embedder: plausible(fc.constantFrom('e', 'missing', '')),
    offset: plausible(fc.nat(10), fc.integer()),
    limit: plausible(fc.nat(30), fc.integer({ min: 65_000, max: 200_000 })),
    filter,
    attributesToRetrieve: plausible(attributes),
    showRankingScore: plausible(fc.boolean()),
    showRankingScoreDetails: plausible(fc.boolean()),
    showPerformanceDetails: plausible(fc.boolean()),
    rankingScoreThreshold: plausible(fc.double({ min: -1, max: 2 })),
    retrieveVectors: plausible(fc.boolean()),
  }),
  5,
)

const federationBody = fc.record({
  federation: plausible(
    someOf(
      fc.record({
        offset: plausible(fc.nat(5), fc.integer()),
        limit: plausible(fc.nat(10), fc.integer({ min: 65_000, max: 200_000 })),
        facetsByIndex: plausible(fc.record({ movies: plausible(attributes) }, { requiredKeys: [] })),
        mergeFacets: plausible(fc.record({ maxValuesPerFacet: plausible(fc.nat(5)) }, { requiredKeys: [] })),
      }),
      3,
    ),
  ),
  weight: plausible(fc.double({ min: -1, max: 3 })),
})

const settingsBody = someOf(
  fc.record({
    searchableAttributes: plausible(attributes),
    filterableAttributes: plausible(attributes, filterables),
    sortableAttributes: plausible(attributes),
    displayedAttributes: plausible(attributes),
    stopWords: plausible(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 })),
    typoTolerance: plausible(
      fc.record(
        {
          enabled: plausible(fc.boolean()),
          minWordSizeForTypos: plausible(
            fc.record({ oneTypo: plausible(fc.nat(12)), twoTypos: plausible(fc.nat(12)) }),
          ),
          disableOnWords: plausible(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 })),
          disableOnAttributes: plausible(attributes),
          disableOnNumbers: plausible(fc.boolean()),
        },
        { requiredKeys: [] },
      ),
    ),
    embedders: plausible(
      fc.record({
        e: plausible(
          fc.record({
            source: plausible(fc.constant('userProvided')),
            dimensions: plausible(fc.integer({ min: 1, max: 4 })),
            distance: plausible(fc.constantFrom('cosine', 'l2', 'dot')),
          }),
        ),
      }),
    ),
    rankingRules: plausible(fc.array(fc.constantFrom('words', 'typo', 'sort', 'year:asc'), { maxLength: 3 })),
    dictionary: plausible(
      fc.array(fc.constantFrom('J. R. R.', 'C++', 'star wars', '', ' '), { maxLength: 3 }),
    ),
    separatorTokens: plausible(fc.array(fc.constantFrom('&', '|', 'ar', '', 'é'), { maxLength: 3 })),
    nonSeparatorTokens: plausible(fc.array(fc.constantFrom('#', '@', '-', '', ' '), { maxLength: 3 })),
    proximityPrecision: plausible(fc.constantFrom('byWord', 'byAttribute', 'byLine')),
    localizedAttributes: plausible(
      fc.array(
        fc.record({
          attributePatterns: plausible(attributes),
          locales: plausible(fc.array(fc.constantFrom('eng', 'fra', 'jpn', 'deu', 'xx'), { maxLength: 2 })),
        }),
        { maxLength: 2 },
      ),
    ),
  }),
  3,
)

const documentsBody = plausible<unknown>(
  fc.array(
    fc.record(
      {
        id: plausible<unknown>(fc.nat(6), fc.constantFrom('a-b', 'bad id!', '')),
        title: plausible(fc.string({ maxLength: 10 })),
        year: plausible(fc.integer()),
        _vectors: plausible(fc.record({ e: vector })),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 4 },
  ),
)

/** Uids the admin bodies name: never `movies`, so a swap that succeeds leaves the fixture alone. */
const spareUid = plausible<unknown>(fc.constantFrom('x', 'y', 'z', 'bad uid', '', '*'))

const swapBody = plausible<unknown>(
  fc.array(
    fc.record(
      {
        indexes: plausible<unknown>(fc.array(spareUid, { minLength: 0, maxLength: 3 })),
        rename: plausible(fc.boolean()),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
)

const indexUpdateBody = plausible<unknown>(
  fc.record(
    { uid: spareUid, primaryKey: plausible(fc.constantFrom('id', 'title', '')) },
    { requiredKeys: [] },
  ),
)

const fieldsBody = plausible<unknown>(
  fc.record(
    {
      offset: plausible(fc.nat(5)),
      limit: plausible(fc.nat(5)),
      filter: plausible<unknown>(
        fc.record(
          {
            attributePatterns: plausible(fc.array(fc.constantFrom('*', 't*', '*e', 'a*b*c', ''))),
            sortable: plausible(fc.boolean()),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
)

const webhookBody = plausible<unknown>(
  fc.record(
    {
      url: plausible<unknown>(fc.constantFrom('http://127.0.0.1:9/x', 'https://a.b', 'ftp://x', '', 'x')),
      headers: plausible<unknown>(
        fc.dictionary(fc.constantFrom('a', 'Authorization', 'bad name', ''), plausible(fc.string())),
      ),
    },
    { requiredKeys: [] },
  ),
)

const featuresBody = plausible<unknown>(
  fc.dictionary(
    fc.constantFrom('metrics', 'containsFilter', 'network', 'logsRoute', 'unknown'),
    plausible<unknown>(fc.boolean(), fc.constant(null)),
    { maxKeys: 3 },
  ),
)

describe(`no 500 and no damage from any body (SEED=${SEED})`, () => {
  let node: InProcessServer
  let baseline: Json

  async function inject(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
    const answer = await node.server.app.inject({
      method,
      url,
      headers: {
        authorization: 'Bearer in-process-master-key-0123456789',
        'content-type': 'application/json',
      },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    })
    return { status: answer.statusCode, body: answer.body === '' ? {} : JSON.parse(answer.body) }
  }

  async function state(): Promise<Json> {
    return {
      documents: (await inject('GET', '/indexes/movies/documents?limit=1000')).body,
      settings: (await inject('GET', '/indexes/movies/settings')).body,
    }
  }

  /** Reads answers: 500 never; a refusal or failed task changes nothing; success may. */
  async function check(answer: { status: number; body: Json }, request: string): Promise<void> {
    expect(answer.status, `${request} → ${JSON.stringify(answer.body)}`).toBeLessThan(500)
    if (answer.status === 202) {
      const task = await node.waitTask(answer.body.taskUid)
      expect(task.error?.code, `${request} → ${JSON.stringify(task)}`).not.toBe('internal')
      if (task.status === 'succeeded') {
        baseline = await state()
        return
      }
    }
    expect(await state(), request).toEqual(baseline)
  }

  beforeAll(async () => {
    node = await startInProcess()
    await node.write('PATCH', '/indexes/movies/settings', {
      filterableAttributes: ['genre', 'year', 'tags'],
      sortableAttributes: ['year', 'title'],
      embedders: { e: { source: 'userProvided', dimensions: 3 } },
    })
    await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
    baseline = await state()
  })
  afterAll(() => node.close())

  it('search bodies (POST, GET, multi-search)', async () => {
    await fc.assert(
      fc.asyncProperty(searchBody, async (body) => {
        await check(
          await inject('POST', '/indexes/movies/search', body),
          `POST search ${JSON.stringify(body)}`,
        )
        const query = new URLSearchParams(
          Object.entries(body).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        )
        await check(await inject('GET', `/indexes/movies/search?${query}`), `getsearch ?${query}`)
        await check(
          await inject('POST', '/multi-search', { queries: [{ indexUid: 'movies', ...body }] }),
          `multisearch ${JSON.stringify(body)}`,
        )
      }),
      { seed: SEED, numRuns: 2 * RUNS },
    )
  }, 120_000)

  it('similar bodies (POST and GET)', async () => {
    await fc.assert(
      fc.asyncProperty(similarBody, async (body) => {
        await check(await inject('POST', '/indexes/movies/similar', body), `similar ${JSON.stringify(body)}`)
        const query = new URLSearchParams(
          Object.entries(body).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        )
        await check(await inject('GET', `/indexes/movies/similar?${query}`), `GET similar ?${query}`)
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('federated multi-search bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        federationBody,
        searchBody,
        fc.boolean(),
        async ({ federation, weight }, body, paged) => {
          const { offset, limit, page, hitsPerPage, facets, ...rest } = body
          const sent = {
            federation,
            queries: [
              { indexUid: 'movies', ...rest, federationOptions: { weight } },
              {
                indexUid: 'movies',
                q: 'star',
                ...(paged ? { offset, limit, page, hitsPerPage, facets } : {}),
              },
            ],
          }
          await check(await inject('POST', '/multi-search', sent), `federated ${JSON.stringify(sent)}`)
        },
      ),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('filters on documents fetch, delete by filter and GET documents', async () => {
    await fc.assert(
      fc.asyncProperty(filter, async (f) => {
        await check(
          await inject('POST', '/indexes/movies/documents/fetch', { filter: f }),
          `fetch ${JSON.stringify(f)}`,
        )
        const withIds = { filter: f, ids: [1, '3', 99], sort: ['year:desc'] }
        await check(
          await inject('POST', '/indexes/movies/documents/fetch', withIds),
          `fetch ${JSON.stringify(withIds)}`,
        )
        const param = encodeURIComponent(typeof f === 'string' ? f : JSON.stringify(f))
        await check(
          await inject('GET', `/indexes/movies/documents?filter=${param}`),
          `GET documents ${param}`,
        )
        // A filter that matches nothing, ANDed, keeps the documents: only validation is exercised.
        const guarded = Array.isArray(f) ? [...f, 'genre = none'] : [f as string, 'genre = none']
        await check(
          await inject('POST', '/indexes/movies/documents/delete', { filter: guarded }),
          `delete ${JSON.stringify(guarded)}`,
        )
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('settings bodies', async () => {
    await fc.assert(
      fc.asyncProperty(settingsBody, async (body) => {
        await check(
          await inject('PATCH', '/indexes/movies/settings', body),
          `settings ${JSON.stringify(body)}`,
        )
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('documents bodies', async () => {
    await fc.assert(
      fc.asyncProperty(documentsBody, fc.constantFrom('POST', 'PUT'), async (body, method) => {
        await check(
          await inject(method as 'POST' | 'PUT', '/indexes/movies/documents', body),
          `${method} documents ${JSON.stringify(body)}`,
        )
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('index admin bodies (swap-indexes, index update, experimental features)', async () => {
    await node.write('POST', '/indexes/x/documents?primaryKey=id', [{ id: 1 }])
    await node.write('POST', '/indexes/y/documents?primaryKey=id', [{ id: 2 }])
    await fc.assert(
      fc.asyncProperty(
        swapBody,
        indexUpdateBody,
        featuresBody,
        fieldsBody,
        webhookBody,
        async (swap, update, features, fields, hook) => {
          const created = await inject('POST', '/webhooks', hook)
          expect(created.status, JSON.stringify(hook)).toBeLessThan(500)
          if (created.status === 201) {
            expect((await inject('PATCH', `/webhooks/${created.body.uuid}`, hook)).status).toBeLessThan(500)
            expect((await inject('DELETE', `/webhooks/${created.body.uuid}`)).status).toBe(204)
          }
          await check(
            await inject('POST', '/indexes/movies/fields', fields),
            `fields ${JSON.stringify(fields)}`,
          )
          await check(await inject('POST', '/swap-indexes', swap), `swap ${JSON.stringify(swap)}`)
          for (const uid of ['x', 'y', 'z']) {
            await check(
              await inject('PATCH', `/indexes/${uid}`, update),
              `PATCH ${uid} ${JSON.stringify(update)}`,
            )
          }
          await check(
            await inject('PATCH', '/experimental-features', features),
            `features ${JSON.stringify(features)}`,
          )
          await check(await inject('GET', '/batches?limit=3&reverse=true'), 'batches')
          await check(await inject('POST', '/dumps', features), `dumps ${JSON.stringify(features)}`)
        },
      ),
      { seed: SEED, numRuns: RUNS / 2 },
    )
  }, 120_000)

  it('bearer tokens shaped like tenant tokens', async () => {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const token = fc.oneof(
      fc
        .tuple(
          plausible<unknown>(
            fc.record({ alg: plausible(fc.constantFrom('HS256', 'HS384', 'none')), typ: fc.constant('JWT') }),
          ),
          plausible<unknown>(
            fc.record(
              {
                apiKeyUid: plausible(fc.uuid()),
                exp: plausible(fc.integer()),
                searchRules: plausible<unknown>(
                  fc.array(fc.constantFrom('*', 'movies', 'mov*')),
                  fc.dictionary(
                    fc.constantFrom('*', 'movies'),
                    plausible<unknown>(fc.record({ filter: filter })),
                  ),
                ),
              },
              { requiredKeys: [] },
            ),
          ),
          fc.base64String({ maxLength: 44 }),
        )
        .map(([h, p, sig]) => `${part(h)}.${part(p)}.${sig.replace(/[+/=]/g, '')}`),
      fc.string({ maxLength: 60 }),
    )
    await fc.assert(
      fc.asyncProperty(token, async (bearer) => {
        const answer = await node.server.app.inject({
          method: 'POST',
          url: '/indexes/movies/search',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          payload: '{}',
        })
        expect(answer.statusCode, `${bearer} → ${answer.body}`).toBeLessThan(500)
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)

  it('searches through validly signed tenant tokens with any search rules', async () => {
    const key = (await inject('POST', '/keys', { actions: ['search'], indexes: ['*'], expiresAt: null })).body
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const rules = plausible<unknown>(
      fc.array(fc.constantFrom('*', 'movies', 'mov*')),
      fc.dictionary(fc.constantFrom('*', 'movies', 'mov*'), plausible<unknown>(fc.record({ filter }))),
    )
    await fc.assert(
      fc.asyncProperty(rules, searchBody, async (searchRules, body) => {
        const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ apiKeyUid: key.uid, searchRules })}`
        const signature = createHmac('sha256', key.key).update(signed).digest('base64url')
        const answer = await node.server.app.inject({
          method: 'POST',
          url: '/indexes/movies/search',
          headers: { authorization: `Bearer ${signed}.${signature}`, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        })
        expect(
          answer.statusCode,
          `${JSON.stringify(searchRules)} ${JSON.stringify(body)} → ${answer.body}`,
        ).toBeLessThan(500)
      }),
      { seed: SEED, numRuns: RUNS },
    )
  }, 120_000)
})
