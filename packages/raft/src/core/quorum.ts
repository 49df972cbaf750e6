/**
 * Pure quorum arithmetic, checked against naive oracles in the tests.
 */

/** The size of a majority of `voters` members. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1
}

/**
 * The highest index that a majority of voters has matched: sort descending and
 * take the majority-th value. With no voters, nothing is committed.
 */
export function quorumIndex(matches: readonly number[]): number {
  if (matches.length === 0) return 0
  const sorted = [...matches].sort((a, b) => b - a)
  return sorted[majority(matches.length) - 1] as number
}

export type VoteOutcome = 'won' | 'lost' | 'pending'

/** The outcome of an election given granted and rejected counts among `voters`. */
export function voteOutcome(voters: number, granted: number, rejected: number): VoteOutcome {
  const need = majority(voters)
  if (granted >= need) return 'won'
  if (voters - rejected < need) return 'lost'
  return 'pending'
}
