import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseJsonArrayInSlices, SLICE_BYTES } from '../src/internal/payload-file.ts'

const SEED = Number(process.env.SEED ?? Date.now() % 100_000)

describe(`task payload files parsed in slices (SEED=${SEED})`, () => {
  it('give exactly JSON.parse of the array, however its elements, whitespace and slice size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 30 }),
        fc.constantFrom('', ' ', '\n', '\r\n\t '),
        fc.integer({ min: 1, max: 64 }),
        async (elements, space, sliceBytes) => {
          // Strings with commas, brackets, quotes and escapes end no element.
          const text = `${space}[${space}${elements.map((e) => JSON.stringify(e, null, space.length > 0 ? 1 : 0)).join(`${space},${space}`)}${space}]${space}`
          const bytes = Buffer.from(text)
          expect(await parseJsonArrayInSlices(bytes, async () => {}, sliceBytes)).toEqual(JSON.parse(text))
        },
      ),
      { seed: SEED, numRuns: 200 },
    )
  })

  it('pause between slices of a large array, splitting only between elements', async () => {
    const docs = Array.from({ length: 20_000 }, (_, i) => ({
      id: i,
      title: `title, with "quotes" [and] {braces} ${'é'.repeat(i % 3)}`,
      tags: [`a${i % 7}`, { deep: [i, `\\${i}`] }],
    }))
    const bytes = Buffer.from(JSON.stringify(docs))
    let pauses = 0
    const parsed = await parseJsonArrayInSlices(bytes, async () => {
      pauses++
    })
    expect(parsed).toEqual(docs)
    expect(pauses).toBeGreaterThanOrEqual(Math.floor(bytes.length / SLICE_BYTES) - 1)
  })

  it('refuse what is not one well-formed array with the error JSON.parse gives', async () => {
    for (const text of ['{"id":1}', '[{"id":1},', '[1] 2', '']) {
      await expect(parseJsonArrayInSlices(Buffer.from(text), async () => {})).rejects.toThrow()
    }
  })
})
