import type { ApiKeyRecord, ClusterNode } from '@shoal/cluster'
import type { SharedKeys, StoredKey } from '../api-keys.ts'
import { commitMetadata } from './metadata-commit.ts'

/**
 * The API keys of a cluster, kept in the metadata (`apiKey.put`, `apiKey.delete`): a key created,
 * renamed or deleted through any node is so on every node. Key values derive from the master key
 * and the key's uid, so nodes started with the same master key show and accept the same values.
 */
export function clusterKeys(node: ClusterNode): SharedKeys {
  return {
    async catchUp() {
      await node.readLinearizable({ timeoutMs: 10_000 })
    },
    records: () => Object.values(node.metadata.state.apiKeys),
    onChange(listener) {
      let last = node.metadata.state.apiKeys
      return node.metadata.onChange((state) => {
        if (state.apiKeys === last) return
        last = state.apiKeys
        listener()
      })
    },
    async put(record: StoredKey) {
      await commitMetadata(
        node,
        { type: 'apiKey.put', key: record as unknown as ApiKeyRecord },
        { refused: 'unavailable', what: 'the API key change' },
      )
    },
    async delete(uid: string) {
      await commitMetadata(
        node,
        { type: 'apiKey.delete', uid },
        { refused: 'unavailable', what: 'the API key deletion' },
      )
    },
  }
}
