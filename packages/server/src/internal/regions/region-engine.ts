import type { IndexPort } from '../engine-port.ts'
import type { LocalEngine } from '../metrics.ts'
import { regionUnsupportedOperation } from './region-errors.ts'
import type { RegionRuntime } from './region-runtime.ts'

const REPLAYED_WRITES = new Set([
  'addDocuments',
  'updateDocuments',
  'deleteDocument',
  'deleteDocuments',
  'updateSettings',
  'resetSettings',
])
const REFUSED_WRITES: Record<string, string> = {
  deleteDocumentsByFilter: 'a delete by filter (the documents it matches differ between regions)',
  deleteAllDocuments: 'a delete of all documents',
}

/**
 * The engine the HTTP routes and the task queue use on a node with a region link: writes on a
 * replicated index run in the region's lane (no remote command is settled while one commits)
 * and are published before they resolve (semi_sync: acknowledged by a remote region); a
 * single-writer index takes them only in its writer region (`checkWrite`); writes
 * other regions cannot replay are refused with `region_unsupported_operation`. Everything else
 * goes to the engine untouched.
 */
export function regionAwareEngine(inner: LocalEngine, regions: () => RegionRuntime | undefined): LocalEngine {
  const replicatedBy = (uid: string) => {
    const runtime = regions()
    return runtime?.replicated(uid) === undefined ? undefined : runtime
  }
  const inLane = async <T>(runtime: RegionRuntime, uid: string, write: () => Promise<T>): Promise<T> => {
    const result = await runtime.write(() => {
      runtime.checkWrite(uid)
      return write()
    })
    await runtime.afterLocalWrite()
    return result
  }
  const wrapIndex = (uid: string, index: IndexPort): IndexPort =>
    new Proxy(index, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (typeof prop !== 'string' || typeof value !== 'function') return value
        const method = value as (...args: unknown[]) => Promise<unknown>
        if (REPLAYED_WRITES.has(prop))
          return (...args: unknown[]) => {
            const runtime = replicatedBy(uid)
            return runtime === undefined
              ? method.apply(target, args)
              : inLane(runtime, uid, () => method.apply(target, args))
          }
        if (prop in REFUSED_WRITES)
          return (...args: unknown[]) => {
            if (replicatedBy(uid) !== undefined) throw regionUnsupportedOperation(uid, REFUSED_WRITES[prop]!)
            return method.apply(target, args)
          }
        return method.bind(target)
      },
    })
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      switch (prop) {
        case 'index':
          return (uid: string) => wrapIndex(uid, method.call(target, uid) as IndexPort)
        case 'createIndex':
          return (uid: string, ...rest: unknown[]) => {
            const runtime = replicatedBy(uid)
            const run = () => method.call(target, uid, ...rest) as Promise<unknown>
            return runtime === undefined ? run() : inLane(runtime, uid, run)
          }
        case 'deleteIndex':
        case 'updateIndex':
          return (uid: string, ...rest: unknown[]) => {
            if (replicatedBy(uid) !== undefined)
              throw regionUnsupportedOperation(
                uid,
                prop === 'deleteIndex' ? 'an index deletion' : 'a primary key change',
              )
            return method.call(target, uid, ...rest)
          }
        case 'swapIndexes':
          return (swaps: { indexes: [string, string] }[]) => {
            for (const uid of swaps.flatMap((s) => s.indexes))
              if (replicatedBy(uid) !== undefined)
                throw regionUnsupportedOperation(uid, 'an index swap or rename')
            return method.call(target, swaps)
          }
        default:
          return method.bind(target)
      }
    },
  })
}
