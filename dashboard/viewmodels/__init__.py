"""Param view models: page state and the service calls behind it; no widgets, testable headless."""
