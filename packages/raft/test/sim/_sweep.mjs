const { SimCluster, defaultSimOptions } = await import('/work/wt-raft/packages/raft/test/sim/cluster.ts')
const { checkLinearizability, kvModel } = await import('@shoal/testkit/lin')
const variants = {
  noPrevote: { raft: { preVote: false, checkQuorum: false } },
  tight: { raft: { maxInflightMessages: 1, maxMessageBytes: 1 } },
  lease: { raft: { leaseReads: true } },
  five: { voters: 5 },
  long: { duration: 3000 },
}
for (const [name, o] of Object.entries(variants)) {
  let bad = 0
  const t = performance.now()
  for (let seed = 5000; seed < 6500; seed++) {
    const c = new SimCluster(defaultSimOptions(seed, { clients: 4, ...o }))
    try {
      c.run()
    } catch (e) {
      console.log(name, 'seed', seed, String(e).slice(0, 500))
      console.log(c.trace.slice(-12).join('\n'))
      bad++
      continue
    }
    const v = checkLinearizability(kvModel(), c.history.history(), { timeoutMs: 5000 }).verdict
    if (v === 'not-linearizable') {
      console.log(name, 'seed', seed, 'NOT LINEARIZABLE')
      bad++
    }
  }
  console.log(name, 'done, failures', bad, Math.round(performance.now() - t), 'ms')
}
