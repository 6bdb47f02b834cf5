"""Acknowledge where the alert arrived: LINE and Telegram buttons on incident pushes, and
the webhooks (or Telegram long polling) that apply a technician's press to the incident."""
