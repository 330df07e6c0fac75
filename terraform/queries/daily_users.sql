-- Users (distinct Telegram chats) and jobs per UTC day.
SELECT
  DATE(timestamp) AS day,
  COUNT(DISTINCT jsonPayload.chat_id) AS users,
  COUNT(DISTINCT jsonPayload.job_id) AS jobs
FROM `${events}`
WHERE jsonPayload.stage IS NOT NULL
GROUP BY day
ORDER BY day DESC
