-- Refused prompts and jobs per UTC day, stage and reason (validation, quota, pause, …).
SELECT
  DATE(timestamp) AS day,
  jsonPayload.stage AS stage,
  jsonPayload.reason AS reason,
  COUNT(DISTINCT jsonPayload.job_id) AS jobs
FROM `${events}`
WHERE jsonPayload.stage IN ('validate', 'admit')
  AND jsonPayload.reason IS NOT NULL
  AND (jsonPayload.message LIKE '%rejected%' OR jsonPayload.message LIKE '%refused%')
GROUP BY day, stage, reason
ORDER BY day DESC, jobs DESC
