import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PacketSeal } from '../src/packet.ts'

// A cluster key rotation without a restart (docs/operations/rotate-keys.md): every member first
// accepts the new key, then seals with it, then drops the old one. At each step, every pair of
// members still understands each other.
describe('packet keys during a rotation', () => {
  const oldKey = randomBytes(32)
  const newKey = randomBytes(32)
  const payload = new Uint8Array([1, 2, 3])
  const now = 1_000_000

  for (const encrypt of [false, true]) {
    it(`a member accepting both keys opens packets sealed with either (encrypt: ${encrypt})`, () => {
      const onOld = new PacketSeal({ clusterKey: oldKey, encrypt })
      const onNew = new PacketSeal({ clusterKey: newKey, encrypt })
      const both = new PacketSeal({ clusterKey: oldKey, acceptedKeys: [newKey], encrypt })
      const fromOld = both.open(onOld.seal(payload, now), now, 1400)
      const fromNew = both.open(onNew.seal(payload, now), now, 1400)
      expect(fromOld).toMatchObject({ ok: true, keyIndex: 0 })
      expect(fromNew).toMatchObject({ ok: true, keyIndex: 1 })
      expect(fromNew.ok && [...fromNew.payload]).toEqual([...payload])
      // It still seals with the old key, so members that know only the old key read it.
      expect(onOld.open(both.seal(payload, now), now, 1400).ok).toBe(true)
      expect(onNew.open(both.seal(payload, now), now, 1400)).toEqual({ ok: false, reason: 'unauthenticated' })
    })
  }

  it('setKeys switches the sealing key and drops a key no longer accepted', () => {
    const member = new PacketSeal({ clusterKey: oldKey })
    const onOld = new PacketSeal({ clusterKey: oldKey })
    const onNew = new PacketSeal({ clusterKey: newKey })
    member.setKeys(newKey, [oldKey])
    expect(onNew.open(member.seal(payload, now), now, 1400).ok).toBe(true)
    expect(member.open(onOld.seal(payload, now), now, 1400)).toMatchObject({ ok: true, keyIndex: 1 })
    member.setKeys(newKey)
    expect(member.open(onOld.seal(payload, now), now, 1400)).toEqual({ ok: false, reason: 'unauthenticated' })
    expect(member.open(onNew.seal(payload, now), now, 1400)).toMatchObject({ ok: true, keyIndex: 0 })
  })

  it('refuses a key that is not 32 bytes', () => {
    const member = new PacketSeal({ clusterKey: oldKey })
    expect(() => member.setKeys(newKey, [randomBytes(16)])).toThrow(RangeError)
    expect(() => new PacketSeal({ clusterKey: oldKey, acceptedKeys: [randomBytes(31)] })).toThrow(RangeError)
  })
})
