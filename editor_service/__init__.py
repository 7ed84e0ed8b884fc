"""Editor service: the customer's personalization pages, behind the link the merchant forwards (`personalize editor`)."""
