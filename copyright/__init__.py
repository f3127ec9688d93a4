"""Copyright: rightsholder registry, works and aliases, policies, IP classifier, revenue ledger."""
