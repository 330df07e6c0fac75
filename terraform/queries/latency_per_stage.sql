-- p50 and p95 of the time each stage adds to a job: for every job, the first log line of each
-- stage, and the time since the stage before it. GPU lines have no stage: they are 'generate'.
WITH firsts AS (
  SELECT
    jsonPayload.job_id AS job_id,
    COALESCE(jsonPayload.stage, 'generate') AS stage,
    MIN(timestamp) AS at
  FROM `${events}`
  WHERE jsonPayload.job_id IS NOT NULL
    AND timestamp > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  GROUP BY job_id, stage
),
steps AS (
  SELECT
    stage,
    TIMESTAMP_DIFF(at, LAG(at) OVER (PARTITION BY job_id ORDER BY at), MILLISECOND) AS ms
  FROM firsts
)
SELECT
  stage,
  COUNT(*) AS jobs,
  APPROX_QUANTILES(ms, 100)[OFFSET(50)] AS p50_ms,
  APPROX_QUANTILES(ms, 100)[OFFSET(95)] AS p95_ms
FROM steps
WHERE ms IS NOT NULL
GROUP BY stage
ORDER BY p50_ms
