import { describe, expect, it } from 'vitest'
import { readDocumentsBody, readJsonBody } from '../src/internal/request-body.ts'

function errorOf(fn: () => unknown): { code?: string; httpStatus?: number; message?: string } {
  try {
    fn()
  } catch (error) {
    return error as { code?: string; httpStatus?: number }
  }
  throw new Error('expected an error')
}

describe('request bodies', () => {
  it('reads documents as a JSON array, one JSON object, NDJSON or CSV with typed headers', () => {
    expect(readDocumentsBody(Buffer.from('[{"id":1}]'), 'application/json').documents).toEqual([{ id: 1 }])
    expect(readDocumentsBody(Buffer.from('{"id":1}'), 'application/json; charset=utf-8').documents).toEqual([
      { id: 1 },
    ])
    expect(
      readDocumentsBody(Buffer.from('{"id":1}\n\n{"id":2}\n'), 'application/x-ndjson').documents,
    ).toEqual([{ id: 1 }, { id: 2 }])
    const csv = 'id:number,title,free:boolean\n1,"Hello, world",true\n2,,false\n'
    expect(readDocumentsBody(Buffer.from(csv), 'text/csv').documents).toEqual([
      { id: 1, title: 'Hello, world', free: true },
      { id: 2, title: null, free: false },
    ])
  })

  it('answers bad documents with Meilisearch codes and statuses', () => {
    expect(errorOf(() => readDocumentsBody(Buffer.from('[{"id":1'), 'application/json'))).toMatchObject({
      code: 'malformed_payload',
      httpStatus: 400,
    })
    expect(errorOf(() => readDocumentsBody(Buffer.from('[1,2]'), 'application/json'))).toMatchObject({
      code: 'malformed_payload',
    })
    expect(
      errorOf(() => readDocumentsBody(Buffer.from('{"id":1}\n{oops'), 'application/x-ndjson')).message,
    ).toMatch(/line 2/)
    expect(errorOf(() => readDocumentsBody(Buffer.from('id:number\nabc'), 'text/csv')).message).toMatch(
      /line 2/,
    )
    expect(errorOf(() => readDocumentsBody(Buffer.from('[]'), 'text/plain'))).toMatchObject({
      code: 'invalid_content_type',
      httpStatus: 415,
    })
    expect(errorOf(() => readDocumentsBody(Buffer.from('[]'), undefined))).toMatchObject({
      code: 'missing_content_type',
    })
    expect(errorOf(() => readDocumentsBody(Buffer.alloc(0), 'application/json'))).toMatchObject({
      code: 'missing_payload',
    })
  })

  it('reads other bodies as JSON only', () => {
    expect(readJsonBody(Buffer.from('{"uid":"a"}'), 'application/json')).toEqual({ uid: 'a' })
    expect(readJsonBody(undefined, undefined)).toBeUndefined()
    expect(errorOf(() => readJsonBody(Buffer.from('{'), 'application/json'))).toMatchObject({
      code: 'bad_request',
      httpStatus: 400,
    })
    expect(errorOf(() => readJsonBody(Buffer.from('{}'), 'text/plain'))).toMatchObject({
      code: 'invalid_content_type',
    })
  })
})
