# The telemetry topic devices' messages reach (through MODAX's broker or an
# MQTT-compatible successor of IoT Core) and the ingest's subscription; ordering by
# device keeps each device's points in order.
resource "google_pubsub_topic" "telemetry" {
  name                       = "modax-telemetry"
  message_retention_duration = "604800s"
}

resource "google_pubsub_topic" "dead_letter" {
  name = "modax-telemetry-dead-letter"
}

resource "google_pubsub_subscription" "ingest" {
  name                       = "modax-ingest"
  topic                      = google_pubsub_topic.telemetry.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  enable_message_ordering    = true

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }
}
