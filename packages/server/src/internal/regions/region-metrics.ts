import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The region link's metrics (docs/multi-region.md, "Metrics"; docs/operations/metrics.md). */
export class RegionMetrics {
  readonly published: Counter
  readonly applied: Counter<'region'>
  readonly conflicts: Counter<'index'>
  readonly gapFills: Counter<'region'>
  readonly bytes: Counter<'direction'>
  readonly rejected: Counter<'reason'>
  readonly skipped: Counter<'reason'>
  readonly delay: Histogram<'region'>
  readonly snapshotCatchUps: Counter<'region'>
  readonly snapshotsServed: Counter
  readonly compactions: Counter

  constructor(registry: Registry, lag: () => Map<string, { seconds: number; entries: number }>) {
    const registers = [registry]
    this.published = new Counter({
      name: 'shoal_region_entries_published_total',
      help: 'Region feed: commands written here on replicated indexes and published to other regions',
      registers,
    })
    this.applied = new Counter({
      name: 'shoal_region_entries_applied_total',
      help: 'Region feed: remote commands applied here, by origin region',
      labelNames: ['region'],
      registers,
    })
    this.conflicts = new Counter({
      name: 'shoal_region_conflicts_total',
      help: 'Region feed: concurrent writes of one document in two regions (each lands in GET /admin/conflicts)',
      labelNames: ['index'],
      registers,
    })
    this.gapFills = new Counter({
      name: 'shoal_region_gap_fills_total',
      help: 'Region feed: direct fetches that filled a gap in a remote region’s sequence, by region',
      labelNames: ['region'],
      registers,
    })
    this.bytes = new Counter({
      name: 'shoal_region_feed_bytes_total',
      help: 'Region feed: bytes of feed entries sent (published or served to a gap fill) and received',
      labelNames: ['direction'],
      registers,
    })
    this.rejected = new Counter({
      name: 'shoal_region_feed_rejected_total',
      help: 'Region feed: messages refused, by reason (bad_mac, unknown_region, duplicate, …); the data is unchanged',
      labelNames: ['reason'],
      registers,
    })
    this.skipped = new Counter({
      name: 'shoal_region_publish_skipped_total',
      help: 'Region feed: commands on replicated indexes that could not be published, by reason',
      labelNames: ['reason'],
      registers,
    })
    this.snapshotCatchUps = new Counter({
      name: 'shoal_region_snapshot_catchups_total',
      help: 'Region feed: gaps past a remote region’s journal retention filled by its snapshot of the index, by region',
      labelNames: ['region'],
      registers,
    })
    this.snapshotsServed = new Counter({
      name: 'shoal_region_snapshots_served_total',
      help: 'Region feed: index snapshots sent to regions whose gap was compacted here',
      registers,
    })
    this.compactions = new Counter({
      name: 'shoal_region_journal_compactions_total',
      help: 'Region journal: checkpoints written and older records dropped (region_journal_retain_entries)',
      registers,
    })
    this.delay = new Histogram({
      name: 'shoal_region_replication_delay_seconds',
      help: 'Region feed: from a remote command being written (its clock) to it being applied here, by origin region',
      labelNames: ['region'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30],
      registers,
    })
    new Gauge({
      name: 'shoal_region_lag_seconds',
      help: 'Region feed: how long the oldest remote command not yet applied here has been known to exist (0 when caught up)',
      labelNames: ['region'],
      registers,
      collect() {
        for (const [region, l] of lag()) this.set({ region }, l.seconds)
      },
    })
    new Gauge({
      name: 'shoal_region_lag_entries',
      help: 'Region feed: commands a remote region published that this region has not applied yet',
      labelNames: ['region'],
      registers,
      collect() {
        for (const [region, l] of lag()) this.set({ region }, l.entries)
      },
    })
  }
}
