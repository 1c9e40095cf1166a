"""The aiohttp application: REST API, Twilio webhooks, outbound sender, scheduled jobs."""
