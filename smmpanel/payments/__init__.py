"""Payments: gateways (one table of kinds), Payment rows, notifications; a paid payment = one ledger deposit."""
