# The production edge: an external HTTPS load balancer with a serverless NEG in front of the
# webhook, and a Cloud Armor policy that admits only Telegram's published webhook source ranges
# and throttles (never bans) them. The webhook still checks Telegram's secret-token header: the
# edge narrows who can knock, the secret proves who is knocking. Off in dev (edge_enabled).

locals {
  edge        = var.edge_enabled ? 1 : 0
  webhook_url = var.edge_enabled ? "https://${var.webhook_domain}/" : google_cloudfunctions2_function.telegram_webhook.service_config[0].uri
}

resource "google_compute_security_policy" "webhook" {
  count       = local.edge
  name        = "${local.name}-webhook"
  description = "Telegram's webhook ranges only, throttled."

  # Telegram, within a per-IP rate: requests above it are refused (429, which Telegram retries),
  # the rest still pass. A throttle, not a rate-based ban: a ban would lock Telegram itself out
  # for ban_duration_sec after one burst of updates
  # (https://cloud.google.com/armor/docs/rate-limiting-overview). Every other source is denied.
  # Priority 900, not the old ban rule's 1000: a rate-based ban rule cannot be changed into a
  # throttle (same page), so the provider removes the old rule and adds this one.
  rule {
    priority    = 900
    action      = "throttle"
    description = "Telegram webhook sources, rate limited"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = var.telegram_source_ranges
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.edge_rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  # Everyone else.
  rule {
    priority    = 2147483647
    action      = "deny(403)"
    description = "default: deny"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_compute_region_network_endpoint_group" "webhook" {
  count                 = local.edge
  name                  = "${local.name}-webhook"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    # A gen2 function is served by the Cloud Run service of the same name.
    service = google_cloudfunctions2_function.telegram_webhook.name
  }
}

resource "google_compute_backend_service" "webhook" {
  count                 = local.edge
  name                  = "${local.name}-webhook"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.webhook[0].id
  backend {
    group = google_compute_region_network_endpoint_group.webhook[0].id
  }
  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "webhook" {
  count           = local.edge
  name            = "${local.name}-webhook"
  default_service = google_compute_backend_service.webhook[0].id
}

resource "google_compute_managed_ssl_certificate" "webhook" {
  count = local.edge
  name  = "${local.name}-webhook"
  managed {
    domains = [var.webhook_domain]
  }
  lifecycle {
    precondition {
      condition     = var.webhook_domain != ""
      error_message = "edge_enabled needs webhook_domain (a DNS name pointing at edge_ip)."
    }
  }
}

resource "google_compute_ssl_policy" "webhook" {
  count           = local.edge
  name            = "${local.name}-webhook"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "webhook" {
  count            = local.edge
  name             = "${local.name}-webhook"
  url_map          = google_compute_url_map.webhook[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.webhook[0].id]
  ssl_policy       = google_compute_ssl_policy.webhook[0].id
}

resource "google_compute_global_address" "webhook" {
  count = local.edge
  name  = "${local.name}-webhook"
}

resource "google_compute_global_forwarding_rule" "webhook" {
  count                 = local.edge
  name                  = "${local.name}-webhook"
  target                = google_compute_target_https_proxy.webhook[0].id
  ip_address            = google_compute_global_address.webhook[0].id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}
