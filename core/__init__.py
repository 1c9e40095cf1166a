"""The shop: settings, models, orders, stock, history, tokens, outbox. Knows nothing of HTTP or Twilio."""
