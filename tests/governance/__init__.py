"""Tests of governance as code (perron.governance): requests, route, policies, drafts."""
