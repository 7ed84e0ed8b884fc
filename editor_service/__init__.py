"""Editor service: the customer's personalization page (editor issue)."""
