"""Sandbox stores: small HTTP servers that speak the subset of each platform's API the connectors use."""
