-- Pictures drawn per UTC day and style, from the GPU service's "job done" lines.
SELECT
  DATE(timestamp) AS day,
  jsonPayload.style AS style,
  COUNT(DISTINCT jsonPayload.job_id) AS images,
  APPROX_QUANTILES(CAST(jsonPayload.duration_ms AS INT64), 100)[OFFSET(50)] AS p50_generation_ms
FROM `${events}`
WHERE jsonPayload.outcome = 'generated'
GROUP BY day, style
ORDER BY day DESC, images DESC
