"""Sandbox EPD: a small simulated EHR for the demo and the end-to-end tests. Never used in production."""
