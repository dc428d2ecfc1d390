"""The ledger: every change of a balance is a row saying why; the only code that moves money."""
