-- Telegram Stars per UTC day, from the ledger's log lines (stage "payment", one line a step that
-- changed the books: edges/store.PaymentStore): payments and the Stars they brought, refunds
-- and the Stars returned, and the credits bought, spent, given back by jobs that ended without
-- a picture, and taken out by refunds (started, less those Telegram refused for good).
SELECT
  DATE(timestamp) AS day,
  COUNTIF(jsonPayload.reason = 'paid') AS payments,
  COALESCE(SUM(IF(jsonPayload.reason = 'paid', CAST(jsonPayload.stars AS INT64), 0)), 0) AS stars_paid,
  COUNTIF(jsonPayload.reason = 'refunded') AS refunds,
  COALESCE(SUM(IF(jsonPayload.reason = 'refunded', CAST(jsonPayload.stars AS INT64), 0)), 0) AS stars_refunded,
  COALESCE(SUM(IF(jsonPayload.reason = 'paid', CAST(jsonPayload.credits AS INT64), 0)), 0) AS credits_bought,
  COALESCE(SUM(IF(jsonPayload.reason = 'credits spent', CAST(jsonPayload.credits AS INT64), 0)), 0) AS credits_spent,
  COALESCE(SUM(IF(jsonPayload.reason = 'credits returned', CAST(jsonPayload.credits AS INT64), 0)), 0) AS credits_returned,
  COALESCE(SUM(CASE jsonPayload.reason
    WHEN 'refund started' THEN CAST(jsonPayload.credits AS INT64)
    WHEN 'refund aborted' THEN -CAST(jsonPayload.credits AS INT64)
    ELSE 0
  END), 0) AS credits_refunded
FROM `${events}`
WHERE jsonPayload.stage = 'payment'
GROUP BY day
ORDER BY day DESC
