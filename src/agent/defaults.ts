/** The agent's defaults, apart so that the CLI's flags load without the agent (this module imports nothing). */
export const AGENT_DEFAULTS = Object.freeze({
  /** Seconds per pushed interval, as the Grafana Alloy and Parca agents use. */
  intervalSeconds: 15,
  /** Series (services) per interval; the rest are merged into `other`. */
  maxSeries: 64,
  /** What the spool may hold before its oldest intervals are dropped: an hour or more of a busy host's intervals. */
  spoolSize: '256M',
  /** Finished intervals held in memory before they go to the spool. */
  memoryIntervals: 4,
});
