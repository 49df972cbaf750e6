/** Why the dashboard's assets cannot be served: they were not built (or were removed). */
export class DashboardAssetsMissingError extends Error {
  readonly code = 'DASHBOARD_ASSETS_MISSING'
  override readonly name = 'DashboardAssetsMissingError'
}
